-- The release ledger: one Merkle log per partner. A leaf is the canonical
-- JSON of a partner-visible release record; its internal counterpart and
-- salt stay here for auditors. Written in the same transaction as the
-- release it records.

-- The head of each log. An append locks this row (SELECT ... FOR UPDATE)
-- for the rest of the release transaction, so appends to one partner's
-- log take turns across every node and the chain cannot fork.
CREATE TABLE ledger_logs (
    party TEXT COLLATE "C" PRIMARY KEY REFERENCES parties(name),
    size  BIGINT NOT NULL
);

CREATE TABLE ledger_leaves (
    party      TEXT COLLATE "C" NOT NULL REFERENCES parties(name),
    idx        BIGINT NOT NULL,
    release_id TEXT COLLATE "C" NOT NULL REFERENCES releases(id),
    -- Exactly the bytes that were hashed into the leaf.
    record     BYTEA NOT NULL,
    leaf_hash  BYTEA NOT NULL,
    -- RFC 8785 internal record and the salt of its commitment.
    internal   BYTEA NOT NULL,
    salt       BYTEA NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (party, idx)
);

-- One record per release decision (a release is decided once).
CREATE UNIQUE INDEX ledger_leaves_release ON ledger_leaves(release_id);

-- Perfect-subtree hashes: (level, idx) covers leaves [idx << level, (idx + 1) << level).
CREATE TABLE ledger_nodes (
    party TEXT COLLATE "C" NOT NULL,
    level INTEGER NOT NULL,
    idx   BIGINT NOT NULL,
    hash  BYTEA NOT NULL,
    PRIMARY KEY (party, level, idx)
);

-- SHA-256 of each released object's canonical form → the leaf listing it,
-- so a partner can turn an object it received into an inclusion proof.
CREATE TABLE ledger_objects (
    party  TEXT COLLATE "C" NOT NULL,
    sha256 BYTEA NOT NULL,
    idx    BIGINT NOT NULL,
    PRIMARY KEY (party, sha256, idx)
);

CREATE TABLE ledger_cosignatures (
    party       TEXT COLLATE "C" NOT NULL REFERENCES parties(name),
    size        BIGINT NOT NULL,
    -- The account that posted it: one cosignature per account and size,
    -- so every cosignature is attributable and their number is bounded.
    account     TEXT COLLATE "C" NOT NULL,
    -- The witness's verifier key text.
    key         TEXT COLLATE "C" NOT NULL,
    line        TEXT NOT NULL,
    received_at BIGINT NOT NULL,
    PRIMARY KEY (party, size, account)
);
