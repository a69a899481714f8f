-- The tag of the stored assignment, so that an unchanged one is not downloaded again.
ALTER TABLE assignment ADD COLUMN etag TEXT;
