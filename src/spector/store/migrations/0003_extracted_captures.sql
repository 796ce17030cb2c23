-- Which capture was extracted with which template version: `spector extract` skips these
-- and re-extracts a capture when its template's version changes.
CREATE TABLE extracted_captures (
    capture_id VARCHAR NOT NULL,
    template VARCHAR NOT NULL,
    version INTEGER NOT NULL,
    records INTEGER NOT NULL,
    extracted_at TIMESTAMP NOT NULL,
    PRIMARY KEY (capture_id, template, version)
);
