-- Address clustering (spector.chain._cluster). Written by `spector chain cluster`,
-- `chain merge` and `chain unmerge`, and by the ingest's reorg hook; read by tags,
-- tracing and the scorer. No key constraints (as in 0006): runs delete and re-add rows
-- in one transaction.

-- Every address the chain holds, P2PK pseudo-addresses included, with its cluster: the
-- smallest address_id in the cluster (ids in first-seen order, so it stays as the
-- cluster grows).
CREATE TABLE chain_clusters (
    address VARCHAR NOT NULL,
    cluster_id BIGINT NOT NULL
);

-- The P2PKH address of the public key of each P2PK output (what block explorers show).
CREATE TABLE chain_pseudo_addresses (
    txid VARCHAR NOT NULL,
    vout BIGINT NOT NULL,
    address VARCHAR NOT NULL
);

-- Address ids: 0, 1, ... in the order the clustering first saw each address (height,
-- position of the transaction in its block, output index).
CREATE TABLE cluster_addresses (
    address_id BIGINT NOT NULL,
    address VARCHAR NOT NULL,
    first_height BIGINT NOT NULL
);

-- Why addresses are one wallet: each merge that joined two clusters (a spanning forest
-- of every cluster), with the heuristic and the transaction that caused it. Analyst
-- merges have heuristic 'analyst', no txid or height, and their reason in `why`.
CREATE TABLE cluster_merges (
    height BIGINT,
    txid VARCHAR,
    heuristic VARCHAR NOT NULL,      -- multi_input, one_time_change, ..., analyst
    address_a VARCHAR NOT NULL,
    address_b VARCHAR NOT NULL,
    id_a BIGINT NOT NULL,
    id_b BIGINT NOT NULL,
    why VARCHAR
);

-- Transactions the super-cluster guard held back: none of their merges were made.
CREATE TABLE cluster_held (
    height BIGINT NOT NULL,
    txid VARCHAR NOT NULL,
    merged_size BIGINT NOT NULL,     -- addresses the merge would have made one cluster
    largest_part BIGINT NOT NULL,    -- the largest cluster among them
    parts BIGINT NOT NULL,           -- clusters it would have joined
    guard_factor DOUBLE NOT NULL,
    guard_min_size BIGINT NOT NULL
);

-- Transactions not clustered because they mix several owners' coins.
CREATE TABLE cluster_skipped (
    height BIGINT NOT NULL,
    txid VARCHAR NOT NULL,
    kind VARCHAR NOT NULL            -- whirlpool, wasabi1, wasabi2, joinmarket, coinjoin, chip
);

-- The blocks the clustering has taken in (a block's hash changes on a reorg).
CREATE TABLE cluster_blocks (
    height BIGINT NOT NULL,
    hash VARCHAR NOT NULL
);

-- Analyst decisions, applied by every run: 'unmerge' (txid: not a common owner) and
-- 'merge' (address_a and address_b are one owner, for the reason in `why`).
CREATE TABLE cluster_decisions (
    seq BIGINT NOT NULL,
    kind VARCHAR NOT NULL,
    txid VARCHAR,
    address_a VARCHAR,
    address_b VARCHAR,
    why VARCHAR,
    decided_at TIMESTAMP NOT NULL
);

-- The settings of the clustering held (heuristics, guard) and the generation of the
-- union-find arrays saved under chain/clusters/.
CREATE TABLE cluster_state (
    key VARCHAR NOT NULL,
    value VARCHAR NOT NULL
);
