-- 006: each article's region labels (knowledge/regions.py), computed once at ingest. NULL
-- region_model: not labelled yet (rows stored before this migration; the service labels them
-- at start, `brief reclassify` re-labels every row).
ALTER TABLE articles ADD COLUMN sections TEXT;      -- labelled section keys, strongest first, space-separated
ALTER TABLE articles ADD COLUMN section TEXT;       -- the strongest section, labelled or not
ALTER TABLE articles ADD COLUMN regional REAL;      -- probability of a regional development
ALTER TABLE articles ADD COLUMN for_brief INTEGER;  -- 1: a regional development; 0: not for a brief
ALTER TABLE articles ADD COLUMN region_model TEXT;  -- signature of the model that labelled it
CREATE INDEX articles_unlabelled ON articles(id) WHERE region_model IS NULL;
-- Sections now come from these labels: the query-based region topics of 003 are gone.
DROP TABLE story_topics;
DROP TABLE topic_state;
