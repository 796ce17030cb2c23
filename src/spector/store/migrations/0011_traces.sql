-- [G] Saved traces and path searches (spector.chain._trace_store): one row per saved
-- result with its whole JSON, and its graph as rows (nodes: addresses or outputs with
-- their clusters and tags; edges: amount, time, txid, rule) for queries and exports.
-- No key constraints: a replaced trace is deleted and written again in one transaction,
-- which DuckDB's constraint checks reject; the store keeps `name` unique itself.
CREATE TABLE chain_traces (
    name VARCHAR NOT NULL,
    kind VARCHAR NOT NULL,            -- trace | path
    source VARCHAR NOT NULL,          -- as given (several joined with ", ")
    target VARCHAR,                   -- path searches: the target set
    policy VARCHAR,                   -- haircut | fifo | poison (traces)
    direction VARCHAR,                -- forward | backward
    hops BIGINT NOT NULL,
    to_tags VARCHAR[],
    total_sat BIGINT,
    traced_share DOUBLE,
    node_count BIGINT NOT NULL,
    edge_count BIGINT NOT NULL,
    result VARCHAR NOT NULL,          -- JSON: the result as `--json` prints it
    created_at TIMESTAMP NOT NULL
);

CREATE TABLE chain_trace_nodes (
    trace VARCHAR NOT NULL,           -- chain_traces.name
    node VARCHAR NOT NULL,            -- an address, or txid:vout for an output without one
    type VARCHAR NOT NULL,            -- address | output
    cluster_id BIGINT,
    roles VARCHAR[],                  -- source, service, mixer, unspent, hop_limit, ...
    service VARCHAR,                  -- the label of the service it counts for
    category VARCHAR,
    tags VARCHAR,                     -- JSON list of {label, category, confidence, source, via}
    amount_in_sat BIGINT
);

CREATE TABLE chain_trace_edges (
    trace VARCHAR NOT NULL,
    src VARCHAR NOT NULL,
    dst VARCHAR NOT NULL,
    txid VARCHAR NOT NULL,
    amount_sat BIGINT NOT NULL,
    time TIMESTAMP,
    rule VARCHAR NOT NULL,            -- haircut | fifo | poison | peel | coinjoin | mixer | path
    hop BIGINT,
    weight DOUBLE                     -- 1 but for probabilistic (mixer) hops
);
