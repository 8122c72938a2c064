-- `latest` marks the version TAXII serves by default: the newest version
-- within the object's newest spec version, i.e. the greatest
-- (spec_version, version). Triggers keep it on every insert and delete, so
-- the default page is a range scan instead of two correlated subqueries per
-- row, and no write path can forget it.
ALTER TABLE objects ADD COLUMN latest INTEGER NOT NULL DEFAULT 1;

UPDATE objects SET latest = 0
WHERE EXISTS (
    SELECT 1 FROM objects s
    WHERE s.collection = objects.collection AND s.object_id = objects.object_id
      AND (s.spec_version, s.version) > (objects.spec_version, objects.version)
);

-- A new row arrives marked. Only when the object has other versions (one
-- probe of the (collection, object_id, version) index, which holds row ids)
-- does either the new row or the previous latest lose the mark.
CREATE TRIGGER objects_latest_on_insert AFTER INSERT ON objects
WHEN EXISTS (
    SELECT 1 FROM objects s
    WHERE s.collection = NEW.collection AND s.object_id = NEW.object_id
      AND s.row_id <> NEW.row_id
)
BEGIN
    UPDATE objects SET latest = 0
    WHERE collection = NEW.collection AND object_id = NEW.object_id AND latest = 1
      AND row_id <> NEW.row_id
      AND (spec_version, version) < (NEW.spec_version, NEW.version);
    UPDATE objects SET latest = 0
    WHERE row_id = NEW.row_id AND EXISTS (
        SELECT 1 FROM objects s
        WHERE s.collection = NEW.collection AND s.object_id = NEW.object_id
          AND (s.spec_version, s.version) > (NEW.spec_version, NEW.version)
    );
END;

-- Deleting the latest version hands the mark to the greatest one left.
CREATE TRIGGER objects_latest_on_delete AFTER DELETE ON objects
WHEN OLD.latest = 1
BEGIN
    UPDATE objects SET latest = 1
    WHERE collection = OLD.collection AND object_id = OLD.object_id
      AND NOT EXISTS (
        SELECT 1 FROM objects s
        WHERE s.collection = OLD.collection AND s.object_id = OLD.object_id
          AND (s.spec_version, s.version) > (objects.spec_version, objects.version)
    );
END;
