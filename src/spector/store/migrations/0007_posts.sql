-- Forum posts (spector.model.Post), with the provenance every record table carries (see
-- 0001_core.sql for the merge rules). media holds link URLs as shown, never the files.
CREATE TABLE posts (
    id VARCHAR PRIMARY KEY,
    market_id VARCHAR NOT NULL,
    thread_ref VARCHAR NOT NULL,
    post_ref VARCHAR NOT NULL,
    thread_title VARCHAR,
    board VARCHAR,
    author VARCHAR,
    author_id VARCHAR,
    posted_after TIMESTAMP,
    posted_before TIMESTAMP,
    text VARCHAR,
    media VARCHAR[],
    source VARCHAR NOT NULL,
    first_seen TIMESTAMP NOT NULL,
    last_seen TIMESTAMP NOT NULL
);
