-- The item a feedback names (Feedback.item): the title of what was bought, as the
-- feedback row shows it; economics prices a feedback whose listing was never seen by it.
ALTER TABLE feedback ADD COLUMN item VARCHAR;
