-- Need-to-know release: parties, marking dispositions, policy versions,
-- releases with their approvals, and the internal derivation map.
-- Times are integers: microseconds since the Unix epoch (UTC).

-- Small named values the release layer keeps per data directory (the
-- derivative-id secret, the release identity object).
CREATE TABLE release_settings (
    key   TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
) STRICT;

CREATE TABLE parties (
    name        TEXT PRIMARY KEY NOT NULL,
    identity_id TEXT NOT NULL,
    -- ISO 3166-1 alpha-2 or ''.
    country     TEXT NOT NULL,
    -- JSON list of group names.
    groups      TEXT NOT NULL,
    -- JSON list of {"name": ..., "since": "YYYY-MM-DD" | null}.
    designations TEXT NOT NULL,
    is_home     INTEGER NOT NULL,
    -- NULL for the home party.
    outbound    TEXT REFERENCES collections(id),
    inbound     TEXT REFERENCES collections(id),
    created_at  INTEGER NOT NULL
) STRICT;

-- At most one home party.
CREATE UNIQUE INDEX parties_one_home ON parties(is_home) WHERE is_home = 1;

CREATE TABLE marking_dispositions (
    marking_id  TEXT PRIMARY KEY NOT NULL,
    -- 'withhold' or 'release-to'
    disposition TEXT NOT NULL,
    -- JSON list of party or group names (for 'release-to').
    release_to  TEXT NOT NULL,
    updated_at  INTEGER NOT NULL
) STRICT;

CREATE TABLE policy_versions (
    seq        INTEGER PRIMARY KEY,
    version    TEXT NOT NULL UNIQUE,
    text       TEXT NOT NULL,
    created_at INTEGER NOT NULL
) STRICT;

CREATE TABLE releases (
    id             TEXT PRIMARY KEY NOT NULL,
    party          TEXT NOT NULL REFERENCES parties(name),
    requester      TEXT NOT NULL,
    justification  TEXT NOT NULL,
    -- 'pending-approval', 'released' or 'denied'
    state          TEXT NOT NULL,
    policy_version TEXT NOT NULL,
    -- JSON: the requested object ids.
    requested      TEXT NOT NULL,
    -- JSON: decisions, reasons and what goes out (internal only).
    decisions      TEXT NOT NULL,
    -- JSON list of the exact objects to write when released.
    outgoing       TEXT NOT NULL,
    created_at     INTEGER NOT NULL,
    decided_at     INTEGER
) STRICT;

CREATE TABLE approvals (
    release_id TEXT NOT NULL REFERENCES releases(id),
    account    TEXT NOT NULL,
    approved_at INTEGER NOT NULL,
    PRIMARY KEY (release_id, account)
) STRICT;

-- Source object → the derivative id one partner sees. Never served.
CREATE TABLE derivations (
    source_id     TEXT NOT NULL,
    party         TEXT NOT NULL REFERENCES parties(name),
    derivative_id TEXT NOT NULL,
    release_id    TEXT NOT NULL REFERENCES releases(id),
    PRIMARY KEY (source_id, party)
) STRICT;
