-- `latest` marks the version TAXII serves by default: the newest version
-- within the object's newest spec version, i.e. the greatest
-- (spec_version, version). Kept by every insert and delete, so the default
-- page is a range scan instead of two correlated subqueries per row.
ALTER TABLE objects ADD COLUMN latest BOOLEAN NOT NULL DEFAULT TRUE;

UPDATE objects o SET latest = FALSE
WHERE EXISTS (
    SELECT 1 FROM objects s
    WHERE s.collection = o.collection AND s.object_id = o.object_id
      AND (s.spec_version, s.version) > (o.spec_version, o.version)
);
