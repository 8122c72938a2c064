-- The release ledger: one Merkle log per partner. A leaf is the canonical
-- JSON of a partner-visible release record; its internal counterpart and
-- salt stay here for auditors. Written in the same transaction as the
-- release it records.

-- The head of each log; the appender holds it under the write lock.
CREATE TABLE ledger_logs (
    party TEXT PRIMARY KEY NOT NULL REFERENCES parties(name),
    size  INTEGER NOT NULL
) STRICT;

CREATE TABLE ledger_leaves (
    party      TEXT NOT NULL REFERENCES parties(name),
    idx        INTEGER NOT NULL,
    release_id TEXT NOT NULL REFERENCES releases(id),
    -- Exactly the bytes that were hashed into the leaf.
    record     BLOB NOT NULL,
    leaf_hash  BLOB NOT NULL,
    -- RFC 8785 internal record and the salt of its commitment.
    internal   BLOB NOT NULL,
    salt       BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (party, idx)
) STRICT;

-- One record per release decision (a release is decided once).
CREATE UNIQUE INDEX ledger_leaves_release ON ledger_leaves(release_id);

-- Perfect-subtree hashes: (level, idx) covers leaves [idx << level, (idx + 1) << level).
CREATE TABLE ledger_nodes (
    party TEXT NOT NULL,
    level INTEGER NOT NULL,
    idx   INTEGER NOT NULL,
    hash  BLOB NOT NULL,
    PRIMARY KEY (party, level, idx)
) STRICT, WITHOUT ROWID;

-- SHA-256 of each released object's canonical form → the leaf listing it,
-- so a partner can turn an object it received into an inclusion proof.
CREATE TABLE ledger_objects (
    party  TEXT NOT NULL,
    sha256 BLOB NOT NULL,
    idx    INTEGER NOT NULL,
    PRIMARY KEY (party, sha256, idx)
) STRICT, WITHOUT ROWID;

CREATE TABLE ledger_cosignatures (
    party       TEXT NOT NULL REFERENCES parties(name),
    size        INTEGER NOT NULL,
    -- The account that posted it: one cosignature per account and size,
    -- so every cosignature is attributable and their number is bounded.
    account     TEXT NOT NULL,
    -- The witness's verifier key text.
    key         TEXT NOT NULL,
    line        TEXT NOT NULL,
    received_at INTEGER NOT NULL,
    PRIMARY KEY (party, size, account)
) STRICT;
