-- 005: a log of articles removed or changed after they were stored, so every process's
-- in-memory index (knowledge/index.py) follows them: new rows are found by id, these by `seq`.
-- Float32 embeddings that an older build may have written are read as they are and re-stored
-- as float16 (knowledge/embedder.py reads both widths); this migration converts nothing.

CREATE TABLE article_changes (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,  -- the change cursor
    article_id INTEGER NOT NULL,
    kind       TEXT NOT NULL                        -- "delete" or "update"
);

CREATE TRIGGER articles_changes_ad AFTER DELETE ON articles BEGIN
    INSERT INTO article_changes(article_id, kind) VALUES (old.id, 'delete');
END;

CREATE TRIGGER articles_changes_au AFTER UPDATE OF embedding, story_id, published, fetched
ON articles BEGIN
    INSERT INTO article_changes(article_id, kind) VALUES (new.id, 'update');
END;
