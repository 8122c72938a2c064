-- Release gathering looks objects up by id across every home collection
-- (`internal_object`); without this index each lookup scans the table.
CREATE INDEX objects_by_object_id ON objects(object_id, version);
