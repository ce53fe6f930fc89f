-- 003: daily digests. Subscriptions and their followed topics, the exactly-once claims, the
-- delivery rounds for /stats, and each story's region topics (filled lazily, see
-- knowledge/store/story_topics.py). Portable SQL: the claim is a plain unique key, so several
-- bot processes sharing one PostgreSQL database claim a chat's digest exactly once too.

CREATE TABLE subscriptions (
    chat_id         INTEGER PRIMARY KEY,
    thread_id       INTEGER,                 -- forum topic (message_thread_id), or NULL
    at              TEXT NOT NULL,           -- local time of day, HH:MM
    timezone        TEXT NOT NULL,           -- IANA name
    silent          INTEGER NOT NULL DEFAULT 0,
    notify_empty    INTEGER NOT NULL DEFAULT 0,
    last_sent_at    TEXT,                    -- when the last digest was composed (UTC)
    sent_through_id INTEGER,                 -- newest story id it could hold: the watermark
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    active          INTEGER NOT NULL DEFAULT 1,
    ended_at        TEXT,
    end_reason      TEXT                     -- "unsubscribed", "blocked", ...
);
CREATE INDEX subscriptions_active ON subscriptions(active);

CREATE TABLE subscription_topics (
    chat_id   INTEGER NOT NULL REFERENCES subscriptions(chat_id)
                  ON UPDATE CASCADE ON DELETE CASCADE,
    topic_key TEXT NOT NULL,                 -- case-folded, whitespace collapsed
    topic     TEXT NOT NULL,                 -- as the chat typed it
    position  INTEGER NOT NULL,              -- the order they were followed in
    PRIMARY KEY (chat_id, topic_key)
);

-- At most one digest per chat and local date: whoever inserts the row sends. A failed send
-- (definitely not delivered) may be claimed again; every other status is final.
CREATE TABLE digest_claims (
    chat_id     INTEGER NOT NULL,
    local_date  TEXT NOT NULL,               -- YYYY-MM-DD in the chat's timezone
    status      TEXT NOT NULL CHECK (status IN ('claimed', 'sent', 'uncertain', 'failed')),
    claimed_at  TEXT NOT NULL,
    finished_at TEXT,
    attempts    INTEGER NOT NULL DEFAULT 1,
    through_id  INTEGER,                     -- newest article id when claimed (a fallback
                                             -- watermark when the sent digest is not known)
    stories     INTEGER,                     -- stories in the digest that was sent
    PRIMARY KEY (chat_id, local_date)
);
CREATE INDEX digest_claims_status ON digest_claims(status);

CREATE TABLE digest_runs (
    id          INTEGER PRIMARY KEY,
    started_at  TEXT NOT NULL,
    finished_at TEXT,
    sent        INTEGER NOT NULL DEFAULT 0,
    failed      INTEGER NOT NULL DEFAULT 0,
    skipped     INTEGER NOT NULL DEFAULT 0,
    uncertain   INTEGER NOT NULL DEFAULT 0
);

-- Each story's region topics (settings.topics), decided by search relevance. story_id is the
-- story's first article. topic_state records how far each topic has been classified and with
-- which query and decision, so a changed query or model re-classifies that topic.
CREATE TABLE story_topics (
    story_id INTEGER NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
    topic    TEXT NOT NULL,
    score    REAL NOT NULL,
    PRIMARY KEY (story_id, topic)
);
CREATE INDEX story_topics_topic ON story_topics(topic);
CREATE TABLE topic_state (
    topic    TEXT PRIMARY KEY,
    query    TEXT NOT NULL,
    decision TEXT NOT NULL,                  -- a signature of the relevance decision used
    upto_id  INTEGER NOT NULL                -- articles up to this id are classified
);

-- "New since the last digest" is read by article id and stored time.
CREATE INDEX articles_fetched ON articles(fetched);
