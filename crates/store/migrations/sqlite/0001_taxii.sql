-- TAXII resources, accounts and stored STIX objects.
-- Times are integers: microseconds since the Unix epoch (UTC).

CREATE TABLE api_roots (
    name        TEXT PRIMARY KEY NOT NULL,
    title       TEXT NOT NULL,
    description TEXT,
    created_at  INTEGER NOT NULL
) STRICT;

CREATE TABLE collections (
    -- Internal key: objects refer to it so their indexes stay narrow.
    seq         INTEGER PRIMARY KEY,
    id          TEXT NOT NULL UNIQUE,
    api_root    TEXT NOT NULL REFERENCES api_roots(name),
    title       TEXT NOT NULL,
    description TEXT,
    alias       TEXT,
    created_at  INTEGER NOT NULL,
    -- The next free date_added (exclusive lower bound for the next write);
    -- advanced inside each write transaction so date_added is unique and
    -- strictly increasing per collection, in commit order.
    next_date_added INTEGER NOT NULL DEFAULT 0
) STRICT;

CREATE UNIQUE INDEX collections_alias ON collections(api_root, alias) WHERE alias IS NOT NULL;

CREATE TABLE objects (
    row_id        INTEGER PRIMARY KEY,
    collection    INTEGER NOT NULL REFERENCES collections(seq),
    object_id     TEXT NOT NULL,
    object_type   TEXT NOT NULL,
    spec_version  TEXT NOT NULL,
    version       TEXT NOT NULL,
    date_added    INTEGER NOT NULL,
    raw           TEXT NOT NULL
) STRICT;

CREATE UNIQUE INDEX objects_by_date_added ON objects(collection, date_added);
CREATE UNIQUE INDEX objects_by_id_version ON objects(collection, object_id, version);
CREATE INDEX objects_by_type ON objects(collection, object_type, date_added);

CREATE TABLE accounts (
    id            INTEGER PRIMARY KEY,
    name          TEXT NOT NULL UNIQUE,
    password_hash TEXT,
    role          TEXT NOT NULL,
    party         TEXT,
    created_at    INTEGER NOT NULL
) STRICT;

CREATE TABLE grants (
    account_id    INTEGER NOT NULL REFERENCES accounts(id),
    collection_id TEXT NOT NULL REFERENCES collections(id),
    can_read      INTEGER NOT NULL,
    can_write     INTEGER NOT NULL,
    PRIMARY KEY (account_id, collection_id)
) STRICT;

CREATE TABLE tokens (
    token_hash  TEXT PRIMARY KEY NOT NULL,
    account_id  INTEGER NOT NULL REFERENCES accounts(id),
    label       TEXT,
    created_at  INTEGER NOT NULL
) STRICT;

CREATE TABLE statuses (
    id                TEXT PRIMARY KEY NOT NULL,
    api_root          TEXT NOT NULL,
    collection_id     TEXT NOT NULL,
    account_id        INTEGER NOT NULL,
    request_timestamp INTEGER NOT NULL,
    total_count       INTEGER NOT NULL,
    success_count     INTEGER NOT NULL,
    failure_count     INTEGER NOT NULL,
    pending_count     INTEGER NOT NULL,
    -- JSON: {"successes": [...], "failures": [...], "pendings": [...]}
    details           TEXT NOT NULL
) STRICT;
