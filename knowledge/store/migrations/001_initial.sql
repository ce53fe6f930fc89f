-- 1: articles, sources, chats and the full-text index
CREATE TABLE sources (
    id          INTEGER PRIMARY KEY,
    url         TEXT NOT NULL UNIQUE,
    kind        TEXT NOT NULL CHECK (kind IN ('feed', 'page')),
    title       TEXT NOT NULL DEFAULT '',
    added_at    TEXT NOT NULL,
    added_by    INTEGER,
    last_polled TEXT,
    last_error  TEXT,
    active      INTEGER NOT NULL DEFAULT 1
);
CREATE TABLE articles (
    id           INTEGER PRIMARY KEY,
    url          TEXT UNIQUE,
    title        TEXT NOT NULL,
    source       TEXT NOT NULL,
    source_id    INTEGER REFERENCES sources(id) ON DELETE SET NULL,
    published    TEXT,
    fetched      TEXT NOT NULL,
    text         TEXT NOT NULL,
    summary      TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    embedding    BLOB NOT NULL,
    story_id     INTEGER REFERENCES articles(id)
);
-- Without a link, an article is the same one when its outlet and its text are the same.
CREATE UNIQUE INDEX articles_unlinked ON articles(source, content_hash) WHERE url IS NULL;
CREATE INDEX articles_hash ON articles(content_hash);
CREATE INDEX articles_story ON articles(story_id);
CREATE INDEX articles_newest ON articles(coalesce(published, fetched));
CREATE VIRTUAL TABLE articles_fts USING fts5(
    title, summary, text,
    content = 'articles', content_rowid = 'id',
    tokenize = 'porter unicode61 remove_diacritics 2'
);
CREATE TRIGGER articles_ai AFTER INSERT ON articles BEGIN
    INSERT INTO articles_fts(rowid, title, summary, text)
    VALUES (new.id, new.title, new.summary, new.text);
END;
CREATE TRIGGER articles_ad AFTER DELETE ON articles BEGIN
    INSERT INTO articles_fts(articles_fts, rowid, title, summary, text)
    VALUES ('delete', old.id, old.title, old.summary, old.text);
END;
CREATE TRIGGER articles_au AFTER UPDATE OF title, summary, text ON articles BEGIN
    INSERT INTO articles_fts(articles_fts, rowid, title, summary, text)
    VALUES ('delete', old.id, old.title, old.summary, old.text);
    INSERT INTO articles_fts(rowid, title, summary, text)
    VALUES (new.id, new.title, new.summary, new.text);
END;
CREATE TABLE chats (
    chat_id         INTEGER PRIMARY KEY,
    kind            TEXT NOT NULL,
    title           TEXT NOT NULL DEFAULT '',
    first_seen      TEXT NOT NULL,
    last_seen       TEXT NOT NULL,
    active          INTEGER NOT NULL DEFAULT 1,
    inactive_reason TEXT
);
