-- TAXII resources, accounts and stored STIX objects (PostgreSQL).
-- Times are BIGINT: microseconds since the Unix epoch (UTC).
-- Text compares byte-wise (COLLATE "C") whatever the database's default
-- collation: versions must sort chronologically as text, exactly as on
-- SQLite, and a locale-aware order would not.

CREATE TABLE api_roots (
    -- Creation order for listings.
    seq         BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE,
    name        TEXT COLLATE "C" PRIMARY KEY,
    title       TEXT NOT NULL,
    description TEXT,
    created_at  BIGINT NOT NULL
);

CREATE TABLE collections (
    -- Internal key: objects refer to it so their indexes stay narrow.
    seq         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id          TEXT COLLATE "C" NOT NULL UNIQUE,
    api_root    TEXT COLLATE "C" NOT NULL REFERENCES api_roots(name),
    title       TEXT NOT NULL,
    description TEXT,
    alias       TEXT COLLATE "C",
    created_at  BIGINT NOT NULL,
    -- The next free date_added. Every write to the collection advances it
    -- with an UPDATE inside its transaction; the row lock that UPDATE takes
    -- is held until commit, so writers to one collection are serialised
    -- across connections and nodes and date_added is unique and strictly
    -- increasing in commit order.
    next_date_added BIGINT NOT NULL DEFAULT 0
);

CREATE UNIQUE INDEX collections_alias ON collections(api_root, alias) WHERE alias IS NOT NULL;

CREATE TABLE objects (
    row_id        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    collection    BIGINT NOT NULL REFERENCES collections(seq),
    object_id     TEXT COLLATE "C" NOT NULL,
    object_type   TEXT COLLATE "C" NOT NULL,
    spec_version  TEXT COLLATE "C" NOT NULL,
    version       TEXT COLLATE "C" NOT NULL,
    date_added    BIGINT NOT NULL,
    raw           TEXT NOT NULL
);

CREATE UNIQUE INDEX objects_by_date_added ON objects(collection, date_added);
CREATE UNIQUE INDEX objects_by_id_version ON objects(collection, object_id, version);
CREATE INDEX objects_by_type ON objects(collection, object_type, date_added);

CREATE TABLE accounts (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name          TEXT COLLATE "C" NOT NULL UNIQUE,
    password_hash TEXT,
    role          TEXT NOT NULL,
    party         TEXT,
    created_at    BIGINT NOT NULL
);

CREATE TABLE grants (
    account_id    BIGINT NOT NULL REFERENCES accounts(id),
    collection_id TEXT COLLATE "C" NOT NULL REFERENCES collections(id),
    can_read      BOOLEAN NOT NULL,
    can_write     BOOLEAN NOT NULL,
    PRIMARY KEY (account_id, collection_id)
);

CREATE TABLE tokens (
    token_hash  TEXT COLLATE "C" PRIMARY KEY,
    account_id  BIGINT NOT NULL REFERENCES accounts(id),
    label       TEXT,
    created_at  BIGINT NOT NULL
);

CREATE TABLE statuses (
    id                TEXT COLLATE "C" PRIMARY KEY,
    api_root          TEXT COLLATE "C" NOT NULL,
    collection_id     TEXT COLLATE "C" NOT NULL,
    account_id        BIGINT NOT NULL,
    request_timestamp BIGINT NOT NULL,
    total_count       BIGINT NOT NULL,
    success_count     BIGINT NOT NULL,
    failure_count     BIGINT NOT NULL,
    pending_count     BIGINT NOT NULL,
    -- JSON text: {"successes": [...], "failures": [...], "pendings": [...]}
    details           TEXT NOT NULL
);
