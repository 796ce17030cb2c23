-- [F] real data: a market's identity (ref), the counters real markets show, imported
-- pages' provenance, cut bodies. New columns are NULL for what was stored before.
ALTER TABLE markets ADD COLUMN ref VARCHAR;
ALTER TABLE vendor_accounts ADD COLUMN level VARCHAR;
ALTER TABLE vendor_accounts ADD COLUMN feedback_score DOUBLE;
ALTER TABLE vendor_accounts ADD COLUMN feedback_positive BIGINT;
ALTER TABLE vendor_accounts ADD COLUMN feedback_negative BIGINT;
ALTER TABLE vendor_accounts ADD COLUMN transactions_count BIGINT;
ALTER TABLE listings ADD COLUMN sold_count BIGINT;
ALTER TABLE listings ADD COLUMN sold_since TIMESTAMP;
ALTER TABLE listings ADD COLUMN stock BIGINT;
ALTER TABLE feedback ADD COLUMN nth BIGINT;
ALTER TABLE captures ADD COLUMN truncated BOOLEAN;
ALTER TABLE captures ADD COLUMN source_file VARCHAR;
ALTER TABLE captures ADD COLUMN source_sha256 VARCHAR;
ALTER TABLE captures ADD COLUMN time_basis VARCHAR;
