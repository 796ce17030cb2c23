-- Orders, as a seized market database records them: who bought which listing from whom,
-- for how much, paid to which address. The pay-to address links an order to the chain.
CREATE TABLE orders (
    id VARCHAR PRIMARY KEY,
    market_id VARCHAR NOT NULL,
    order_ref VARCHAR NOT NULL,
    listing_id VARCHAR,
    vendor_id VARCHAR,
    buyer VARCHAR,
    amount DECIMAL(24, 8),
    currency VARCHAR,
    amount_usd DECIMAL(24, 8),
    payto_address VARCHAR,
    created_at TIMESTAMP,
    status VARCHAR,
    source VARCHAR NOT NULL,
    first_seen TIMESTAMP NOT NULL,
    last_seen TIMESTAMP NOT NULL
);
