-- Vendor resolution (spector.resolve). Written by `spector resolve` and by the analyst's
-- `resolve confirm|reject|split`; read by the actor packages, economics and the scorer.
-- No key constraints (as in 0009): a run replaces resolve_links and actor_accounts in
-- one transaction; decisions are only ever added.

-- Every candidate pair of the last run: its score, whether its link was drawn, the
-- evidence (JSON list of sentences), the features (JSON object) and the analyst's
-- decision on it, if any.
CREATE TABLE resolve_links (
    a VARCHAR NOT NULL,
    b VARCHAR NOT NULL,
    score DOUBLE NOT NULL,
    linked BOOLEAN NOT NULL,
    evidence VARCHAR NOT NULL,
    features VARCHAR NOT NULL,
    decided VARCHAR,                 -- 'confirm' | 'reject' | NULL
    run_at TIMESTAMP NOT NULL
);

-- The analyst's decisions, applied by every run: 'confirm' (a and b are one actor),
-- 'reject' (never one actor), 'split' (one row per account a of actor_id as it was:
-- those accounts join nothing automatically). The latest decision on a pair wins.
CREATE TABLE resolve_decisions (
    kind VARCHAR NOT NULL,
    a VARCHAR,
    b VARCHAR,
    actor_id VARCHAR,
    who VARCHAR NOT NULL,
    "at" TIMESTAMP NOT NULL,
    why VARCHAR
);

-- Every account with its actor (singletons have their own). Actor ids are "actor-" +
-- 12 hex of the SHA-256 of the smallest account id in the actor.
CREATE TABLE actor_accounts (
    actor_id VARCHAR NOT NULL,
    account_id VARCHAR NOT NULL,
    kind VARCHAR NOT NULL,           -- 'vendor' | 'member'
    market_id VARCHAR,
    handle VARCHAR
);

-- The settings of the last run (model file, threshold, counts), as JSON values.
CREATE TABLE resolve_runs (
    run_at TIMESTAMP NOT NULL,
    model VARCHAR NOT NULL,
    threshold DOUBLE NOT NULL,
    summary VARCHAR NOT NULL
);

-- What the last run knew of each account (JSON: keys, selectors, pay-to addresses, chain
-- clusters, ships-from, listings, categories, first/last seen), so that a target package
-- is read without loading every account again.
CREATE TABLE resolve_accounts (
    account_id VARCHAR NOT NULL,
    facts VARCHAR NOT NULL
);
