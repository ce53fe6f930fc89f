-- 004: what readers choose. Each chat's mute words and the kinds of outlet it hides
-- (knowledge/mutes.py, knowledge/provenance.py), and each source's kind of outlet as an admin
-- set it (NULL: from the shipped table config/outlets.toml, decided when read).

ALTER TABLE sources ADD COLUMN provenance TEXT;

CREATE TABLE chat_mutes (
    chat_id    INTEGER NOT NULL,
    mute_key   TEXT NOT NULL,                -- NFKC, whitespace collapsed, case-folded
    mute       TEXT NOT NULL,                -- as the chat typed it (cleaned)
    created_at TEXT NOT NULL,
    PRIMARY KEY (chat_id, mute_key)
);

CREATE TABLE chat_hidden_kinds (
    chat_id INTEGER NOT NULL,
    kind    TEXT NOT NULL,                   -- one of knowledge.provenance.KINDS
    PRIMARY KEY (chat_id, kind)
);
