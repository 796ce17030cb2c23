-- [G] Attribution tags (spector.chain._tags): GraphSense TagPacks and ActorPacks as
-- imported, and tags Spector derives from its own data (vendors' pay-to addresses shown on
-- crawled pages, markets' deposit addresses in seized orders). No key constraints: a
-- re-import deletes a pack's rows and adds them again in one transaction, which DuckDB's
-- constraint checks reject; the import keeps `pack` unique itself.

-- One row per imported file (TagPack or ActorPack), keyed by `pack`: its path below a
-- `packs/` folder when it lies in one (as GraphSense names packs), else its file name.
CREATE TABLE chain_tag_packs (
    pack VARCHAR NOT NULL,
    kind VARCHAR NOT NULL,           -- tagpack | actorpack
    file VARCHAR NOT NULL,           -- the path it was last imported from
    sha256 VARCHAR NOT NULL,         -- of the file's bytes
    title VARCHAR NOT NULL,
    creator VARCHAR NOT NULL,
    description VARCHAR,
    lastmod TIMESTAMP,
    header VARCHAR NOT NULL,         -- JSON: every header field as written (tags/actors left out)
    entries BIGINT NOT NULL,         -- tags (or actors) stored
    duplicates BIGINT NOT NULL,      -- entries GraphSense counts as duplicates: not stored twice
    imported_at TIMESTAMP NOT NULL
);

-- One row per tag. `confidence` is an id of GraphSense's confidence taxonomy or of
-- Spector's extension (docs/tags.md); `confidence_level` its level (0-100).
-- origin: tagpack | web_crawl | seized_data | analyst; origin_ref: the pack, the capture id,
-- the seized import's source. subject_table/subject_id: the record of ours the tag is about
-- (vendor_accounts / markets) for derived tags.
CREATE TABLE chain_tags (
    tag_id VARCHAR NOT NULL,
    address VARCHAR,                 -- canonical form (bech32 lower case); NULL for a tx tag
    tx_hash VARCHAR,
    currency VARCHAR NOT NULL,
    network VARCHAR NOT NULL,
    label VARCHAR NOT NULL,
    category VARCHAR,                -- a GraphSense concept id (exchange, mixing_service, market...)
    abuse VARCHAR,
    concepts VARCHAR[],
    confidence VARCHAR NOT NULL,
    confidence_level INTEGER NOT NULL,
    source VARCHAR NOT NULL,
    actor VARCHAR,
    is_cluster_definer BOOLEAN NOT NULL,
    tag_type VARCHAR,
    context VARCHAR,                 -- JSON text, as GraphSense keeps it
    lastmod TIMESTAMP,
    origin VARCHAR NOT NULL,
    origin_ref VARCHAR NOT NULL,
    pack VARCHAR,                    -- chain_tag_packs.pack; NULL for derived tags
    pack_title VARCHAR,
    pack_creator VARCHAR,
    line BIGINT,                     -- the tag's line in its pack's file
    subject_table VARCHAR,
    subject_id VARCHAR,
    created_at TIMESTAMP NOT NULL
);

-- One row per actor of an imported ActorPack.
CREATE TABLE chain_tag_actors (
    actor VARCHAR NOT NULL,
    pack VARCHAR NOT NULL,
    label VARCHAR NOT NULL,
    uri VARCHAR NOT NULL,
    categories VARCHAR[] NOT NULL,
    jurisdictions VARCHAR[],
    aliases VARCHAR[],
    context VARCHAR,
    lastmod TIMESTAMP,
    line BIGINT
);
