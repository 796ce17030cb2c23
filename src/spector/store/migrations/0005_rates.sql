-- Exchange rates the workspace holds: USD per unit of a currency on a day. Extraction
-- prices listings in USD with the rate of the day the page was seen (or the last before).
CREATE TABLE rates (
    currency VARCHAR NOT NULL,
    day DATE NOT NULL,
    usd_per_unit DECIMAL(24, 8) NOT NULL,
    source VARCHAR NOT NULL,
    PRIMARY KEY (currency, day)
);
