-- The Bitcoin chain (spector.chain). The rows themselves are Parquet files under
-- chain/<table>/range=<height // 100,000>/; these two tables say which files make up
-- each table (a file not listed here is not part of the store) and which blocks the
-- store holds, with what each adds to the chain's work. The views blocks, txs, inputs,
-- outputs and addresses read the listed files. (No key constraints: a reorg deletes
-- and re-adds rows in one transaction, which DuckDB's constraint checks reject; the
-- ingest keeps hash and height unique itself.)
CREATE TABLE chain_index (
    hash VARCHAR NOT NULL,           -- display-order hex; one row per hash, one per height
    height BIGINT NOT NULL,
    prev_hash VARCHAR NOT NULL,
    bits BIGINT NOT NULL,            -- the header's compact target (the block's work)
    chainwork VARCHAR NOT NULL,      -- 64 hex digits: cumulative work (from the first block known)
    network VARCHAR NOT NULL,
    anchored VARCHAR NOT NULL,       -- 'genesis', 'parent', or 'bip34' (detached: parents unknown)
    source VARCHAR NOT NULL,
    ingested_at TIMESTAMP NOT NULL
);

CREATE TABLE chain_files (
    tbl VARCHAR NOT NULL,            -- blocks, txs, inputs, outputs
    path VARCHAR NOT NULL,           -- relative to the workspace
    min_height BIGINT NOT NULL,
    max_height BIGINT NOT NULL,
    rows BIGINT NOT NULL
);

-- The outputs not yet spent, for resolving inputs as blocks arrive (kept in the same
-- transactions as chain_files; a reorg puts back what the stale blocks spent).
CREATE TABLE chain_utxo (
    txid VARCHAR NOT NULL,
    vout BIGINT NOT NULL,
    height BIGINT NOT NULL,
    value BIGINT NOT NULL,
    address VARCHAR,
    script_type VARCHAR NOT NULL
);
