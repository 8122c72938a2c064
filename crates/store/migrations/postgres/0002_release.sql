-- Need-to-know release: parties, marking dispositions, policy versions,
-- releases with their approvals, and the internal derivation map.
-- JSON is kept as TEXT, not JSONB: it is read back exactly as written.

-- Small named values the release layer keeps (the derivative-id secret,
-- the release identity object); shared by every node.
CREATE TABLE release_settings (
    key   TEXT COLLATE "C" PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE parties (
    seq         BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE,
    name        TEXT COLLATE "C" PRIMARY KEY,
    identity_id TEXT NOT NULL,
    -- ISO 3166-1 alpha-2 or ''.
    country     TEXT NOT NULL,
    -- JSON list of group names.
    groups      TEXT NOT NULL,
    -- JSON list of {"name": ..., "since": "YYYY-MM-DD" | null}.
    designations TEXT NOT NULL,
    is_home     BOOLEAN NOT NULL,
    -- NULL for the home party.
    outbound    TEXT COLLATE "C" REFERENCES collections(id),
    inbound     TEXT COLLATE "C" REFERENCES collections(id),
    created_at  BIGINT NOT NULL
);

-- At most one home party.
CREATE UNIQUE INDEX parties_one_home ON parties(is_home) WHERE is_home;

CREATE TABLE marking_dispositions (
    marking_id  TEXT COLLATE "C" PRIMARY KEY,
    -- 'withhold' or 'release-to'
    disposition TEXT NOT NULL,
    -- JSON list of party or group names (for 'release-to').
    release_to  TEXT NOT NULL,
    updated_at  BIGINT NOT NULL
);

CREATE TABLE policy_versions (
    seq        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    version    TEXT COLLATE "C" NOT NULL UNIQUE,
    text       TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE releases (
    id             TEXT COLLATE "C" PRIMARY KEY,
    party          TEXT COLLATE "C" NOT NULL REFERENCES parties(name),
    requester      TEXT NOT NULL,
    justification  TEXT NOT NULL,
    -- 'pending-approval', 'released' or 'denied'
    state          TEXT COLLATE "C" NOT NULL,
    policy_version TEXT NOT NULL,
    -- JSON: the requested object ids.
    requested      TEXT NOT NULL,
    -- JSON: decisions, reasons and what goes out (internal only).
    decisions      TEXT NOT NULL,
    -- JSON list of the exact objects to write when released.
    outgoing       TEXT NOT NULL,
    created_at     BIGINT NOT NULL,
    decided_at     BIGINT
);

CREATE TABLE approvals (
    release_id  TEXT COLLATE "C" NOT NULL REFERENCES releases(id),
    account     TEXT COLLATE "C" NOT NULL,
    approved_at BIGINT NOT NULL,
    PRIMARY KEY (release_id, account)
);

-- Source object → the derivative id one partner sees. Never served.
CREATE TABLE derivations (
    source_id     TEXT COLLATE "C" NOT NULL,
    party         TEXT COLLATE "C" NOT NULL REFERENCES parties(name),
    derivative_id TEXT NOT NULL,
    release_id    TEXT COLLATE "C" NOT NULL REFERENCES releases(id),
    PRIMARY KEY (source_id, party)
);
