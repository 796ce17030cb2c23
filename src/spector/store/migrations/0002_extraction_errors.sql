-- What extraction could not read: a capture or an imported row, and why. Nothing of a
-- failed row or page is stored elsewhere; `spector extract errors` lists these.
CREATE TABLE extraction_errors (
    id VARCHAR PRIMARY KEY,
    source VARCHAR NOT NULL,        -- capture:<id> or import:<file>
    ref VARCHAR NOT NULL,           -- the URL, or the row number in the file
    stage VARCHAR NOT NULL,         -- which step failed (template, mapping, parse)
    reason VARCHAR NOT NULL,
    first_seen TIMESTAMP NOT NULL,
    last_seen TIMESTAMP NOT NULL
);
