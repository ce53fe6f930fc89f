-- 2: polling state per source, and the feed items each source has already handed over.

-- Conditional GET: what the server said last time.
ALTER TABLE sources ADD COLUMN etag TEXT;
ALTER TABLE sources ADD COLUMN last_modified TEXT;
-- Schedule: the source's own interval (NULL: BRIEF_POLL_INTERVAL_MINUTES), the feed's <ttl>,
-- and when it is next due (NULL: now).
ALTER TABLE sources ADD COLUMN interval_minutes INTEGER;
ALTER TABLE sources ADD COLUMN ttl_minutes INTEGER;
ALTER TABLE sources ADD COLUMN next_poll_at TEXT;
-- Health.
ALTER TABLE sources ADD COLUMN last_success TEXT;
ALTER TABLE sources ADD COLUMN last_new_item TEXT;
ALTER TABLE sources ADD COLUMN error_streak INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sources ADD COLUMN paused INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sources ADD COLUMN paused_reason TEXT;
ALTER TABLE sources ADD COLUMN paused_at TEXT;
-- 1 once the admins were told that the source is paused (told once per pause).
ALTER TABLE sources ADD COLUMN admins_notified INTEGER NOT NULL DEFAULT 0;

CREATE INDEX sources_due ON sources(next_poll_at) WHERE active = 1 AND paused = 0;
CREATE INDEX articles_source ON articles(source_id);

-- A feed item is known by its guid (or, without one, its link) within its source: an item
-- seen once is not fetched, summarised or embedded again. Items whose guid changes on every
-- fetch are still caught by the article checks (canonical URL, content hash).
CREATE TABLE source_items (
    source_id  INTEGER NOT NULL REFERENCES sources(id) ON DELETE CASCADE,
    guid       TEXT NOT NULL,
    article_id INTEGER REFERENCES articles(id) ON DELETE SET NULL,
    seen_at    TEXT NOT NULL,
    PRIMARY KEY (source_id, guid)
) WITHOUT ROWID;
CREATE INDEX source_items_age ON source_items(source_id, seen_at);
