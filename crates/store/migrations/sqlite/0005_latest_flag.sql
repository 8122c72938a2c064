-- `latest` marks the version TAXII serves by default: the newest version
-- within the object's newest spec version, i.e. the greatest
-- (spec_version, version). Kept by every insert and delete, so the default
-- page is a range scan instead of two correlated subqueries per row.
ALTER TABLE objects ADD COLUMN latest INTEGER NOT NULL DEFAULT 1;

UPDATE objects SET latest = 0
WHERE EXISTS (
    SELECT 1 FROM objects s
    WHERE s.collection = objects.collection AND s.object_id = objects.object_id
      AND (s.spec_version, s.version) > (objects.spec_version, objects.version)
);
