-- The vocabulary's tables (spector.model records), and the provenance every value carries.
-- Merge rules (store._merge): list columns grow by union; other columns take the value of
-- the latest observation; first_seen/last_seen widen; source keeps the first source.

CREATE TABLE markets (
    id VARCHAR PRIMARY KEY,
    name VARCHAR NOT NULL,
    family VARCHAR,
    onions VARCHAR[],
    status VARCHAR,
    source VARCHAR NOT NULL,
    first_seen TIMESTAMP NOT NULL,
    last_seen TIMESTAMP NOT NULL
);

CREATE TABLE vendor_accounts (
    id VARCHAR PRIMARY KEY,
    market_id VARCHAR NOT NULL,
    handle VARCHAR NOT NULL,
    profile_text VARCHAR,
    pgp_fingerprints VARCHAR[],
    contacts VARCHAR[],
    joined TIMESTAMP,
    rating DOUBLE,
    sales_count BIGINT,
    feedback_count BIGINT,
    ships_from VARCHAR,
    source VARCHAR NOT NULL,
    first_seen TIMESTAMP NOT NULL,
    last_seen TIMESTAMP NOT NULL
);

CREATE TABLE listings (
    id VARCHAR PRIMARY KEY,
    market_id VARCHAR NOT NULL,
    listing_ref VARCHAR NOT NULL,
    vendor_id VARCHAR,
    title VARCHAR,
    category VARCHAR,
    price DECIMAL(24, 8),
    currency VARCHAR,
    price_usd DECIMAL(24, 8),
    quantity DECIMAL(24, 8),
    unit VARCHAR,
    ships_from VARCHAR,
    ships_to VARCHAR[],
    url VARCHAR,
    source VARCHAR NOT NULL,
    first_seen TIMESTAMP NOT NULL,
    last_seen TIMESTAMP NOT NULL
);

CREATE TABLE feedback (
    id VARCHAR PRIMARY KEY,
    market_id VARCHAR NOT NULL,
    vendor_id VARCHAR,
    listing_id VARCHAR,
    feedback_ref VARCHAR,
    rating DOUBLE,
    text VARCHAR,
    buyer VARCHAR,
    left_after TIMESTAMP,
    left_before TIMESTAMP,
    source VARCHAR NOT NULL,
    first_seen TIMESTAMP NOT NULL,
    last_seen TIMESTAMP NOT NULL
);

CREATE TABLE selectors (
    id VARCHAR PRIMARY KEY,
    kind VARCHAR NOT NULL,
    value VARCHAR NOT NULL,
    source VARCHAR NOT NULL,
    first_seen TIMESTAMP NOT NULL,
    last_seen TIMESTAMP NOT NULL
);

CREATE TABLE selector_sightings (
    id VARCHAR PRIMARY KEY,
    selector_id VARCHAR NOT NULL,
    kind VARCHAR NOT NULL,
    value VARCHAR NOT NULL,
    entity_id VARCHAR,
    capture_id VARCHAR,
    char_start BIGINT,
    char_end BIGINT,
    source VARCHAR NOT NULL,
    first_seen TIMESTAMP NOT NULL,
    last_seen TIMESTAMP NOT NULL
);

CREATE TABLE actors (
    id VARCHAR PRIMARY KEY,
    actor_ref VARCHAR NOT NULL,
    label VARCHAR,
    notes VARCHAR,
    source VARCHAR NOT NULL,
    first_seen TIMESTAMP NOT NULL,
    last_seen TIMESTAMP NOT NULL
);

CREATE TABLE captures (
    id VARCHAR PRIMARY KEY,
    url VARCHAR NOT NULL,
    host VARCHAR NOT NULL,
    site VARCHAR,
    fetched_at TIMESTAMP NOT NULL,
    status INTEGER,
    content_type VARCHAR,
    sha256 VARCHAR,
    warc_file VARCHAR,
    warc_offset BIGINT,
    record_type VARCHAR NOT NULL,
    reason VARCHAR,
    source VARCHAR NOT NULL,
    first_seen TIMESTAMP NOT NULL,
    last_seen TIMESTAMP NOT NULL
);

-- Which source saw which record, when (every record type).
CREATE TABLE observations (
    entity_id VARCHAR NOT NULL,
    entity_table VARCHAR NOT NULL,
    source VARCHAR NOT NULL,
    first_seen TIMESTAMP NOT NULL,
    last_seen TIMESTAMP NOT NULL,
    PRIMARY KEY (entity_id, source)
);

-- Every value a versioned record ever had, per source (FollowTheMoney's statements):
-- the record tables show the latest; nothing observed is ever lost.
CREATE TABLE statements (
    entity_id VARCHAR NOT NULL,
    entity_table VARCHAR NOT NULL,
    prop VARCHAR NOT NULL,
    value VARCHAR NOT NULL,  -- JSON
    source VARCHAR NOT NULL,
    first_seen TIMESTAMP NOT NULL,
    last_seen TIMESTAMP NOT NULL,
    PRIMARY KEY (entity_id, prop, value, source)
);
