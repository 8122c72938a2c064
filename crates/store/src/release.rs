//! What the store keeps for need-to-know release: parties, marking
//! dispositions, policy versions, releases with approvals, and the internal
//! derivation map. The meaning of all of it belongs to the release crate;
//! here it is only rows.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::{Micros, NewObject};

/// A designation (a listing of the party, e.g. on a state's terrorist list)
/// in force from `since` (`YYYY-MM-DD`; `None`: since an unknown date).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Designation {
    pub name: String,
    #[serde(default)]
    pub since: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewParty {
    pub name: String,
    /// The STIX identity id of the party.
    pub identity_id: String,
    pub country: String,
    pub groups: Vec<String>,
    pub designations: Vec<Designation>,
    /// The home party (at most one) gets no collections.
    pub home: bool,
    /// API root where a partner's outbound and inbound collections go.
    pub api_root: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Party {
    pub name: String,
    pub identity_id: String,
    pub country: String,
    pub groups: Vec<String>,
    pub designations: Vec<Designation>,
    pub home: bool,
    /// Collection id: what was released to the partner (read-only for it).
    pub outbound: Option<String>,
    /// Collection id: what the partner sends us.
    pub inbound: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DispositionKind {
    Withhold,
    ReleaseTo,
}

impl DispositionKind {
    pub fn as_str(self) -> &'static str {
        match self {
            DispositionKind::Withhold => "withhold",
            DispositionKind::ReleaseTo => "release-to",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "withhold" => Some(DispositionKind::Withhold),
            "release-to" => Some(DispositionKind::ReleaseTo),
            _ => None,
        }
    }
}

/// What an administrator said about one marking-definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MarkingDisposition {
    pub marking_id: String,
    pub kind: DispositionKind,
    /// Party or group names, for `ReleaseTo`.
    pub release_to: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyVersion {
    pub version: String,
    pub text: String,
    pub created_at: Micros,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ReleaseState {
    PendingApproval,
    Released,
    Denied,
}

impl ReleaseState {
    pub fn as_str(self) -> &'static str {
        match self {
            ReleaseState::PendingApproval => "pending-approval",
            ReleaseState::Released => "released",
            ReleaseState::Denied => "denied",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [
            ReleaseState::PendingApproval,
            ReleaseState::Released,
            ReleaseState::Denied,
        ]
        .into_iter()
        .find(|state| state.as_str() == text)
    }
}

impl fmt::Display for ReleaseState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Approval {
    pub account: String,
    pub approved_at: Micros,
}

/// One release: the request, the decision, and what goes out.
#[derive(Debug, Clone, PartialEq)]
pub struct ReleaseRecord {
    pub id: String,
    pub party: String,
    pub requester: String,
    pub justification: String,
    pub state: ReleaseState,
    pub policy_version: String,
    pub requested: Vec<String>,
    /// Decisions and reasons (internal; never served to a partner).
    pub decisions: serde_json::Value,
    /// The exact object versions written to the partner's outbound
    /// collection when the release is (or becomes) `Released`.
    pub outgoing: Vec<NewObject>,
    pub created_at: Micros,
    pub decided_at: Option<Micros>,
    /// Filled in when read back; ignored when written.
    pub approvals: Vec<Approval>,
}

/// Source object → the id one partner sees of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Derivation {
    pub source_id: String,
    pub derivative_id: String,
}

/// A release's final (or pending) state and everything that goes with it,
/// written in one transaction by [`crate::Store::commit_release`].
#[derive(Debug, Clone, PartialEq)]
pub struct ReleaseCommit {
    pub record: ReleaseRecord,
    /// `None`: a new release row. `Some(state)`: update the existing row,
    /// which must still be in `state` (else nothing is written).
    pub expected_state: Option<ReleaseState>,
    pub approval: Option<Approval>,
    /// Outbound collection to write `record.outgoing` into; only when the
    /// new state is `Released`.
    pub collection_id: Option<String>,
    pub derivations: Vec<Derivation>,
    /// The ledger record of this decision, appended to the partner's log in
    /// the same transaction (a final decision always has one).
    pub ledger: Option<crate::LedgerAppend>,
    /// Every object written must be newer than any version of it already in
    /// the collection, else nothing is written (a recall must not lose a
    /// race with a release that wrote a newer version meanwhile).
    pub only_newer: bool,
}

impl ReleaseCommit {
    /// What every backend checks before writing: a decided release carries
    /// exactly one ledger record of its own, a pending one none, and a
    /// release whose objects are to go out names where they go.
    pub(crate) fn check(&self) -> crate::Result<()> {
        let record = &self.record;
        let decided = record.state != ReleaseState::PendingApproval;
        match &self.ledger {
            Some(_) if !decided => Err(crate::StoreError::InvalidArgument(
                "a pending release has no ledger record yet".to_owned(),
            )),
            None if decided => Err(crate::StoreError::InvalidArgument(format!(
                "a {} release needs its ledger record",
                record.state
            ))),
            Some(append)
                if append.party != record.party || append.record.release_id != record.id =>
            {
                Err(crate::StoreError::InvalidArgument(
                    "the ledger record belongs to another release".to_owned(),
                ))
            }
            _ if record.state == ReleaseState::Released
                && !record.outgoing.is_empty()
                && self.collection_id.is_none() =>
            {
                Err(crate::StoreError::InvalidArgument(
                    "released objects need the partner's outbound collection".to_owned(),
                ))
            }
            _ => Ok(()),
        }
    }
}

#[derive(Serialize, Deserialize)]
pub(crate) struct StoredOutgoing {
    pub object_id: String,
    pub object_type: String,
    pub spec_version: String,
    pub version: String,
    pub raw: String,
}

impl From<&NewObject> for StoredOutgoing {
    fn from(object: &NewObject) -> Self {
        StoredOutgoing {
            object_id: object.object_id.clone(),
            object_type: object.object_type.clone(),
            spec_version: object.spec_version.clone(),
            version: object.version.clone(),
            raw: object.raw.clone(),
        }
    }
}

impl From<StoredOutgoing> for NewObject {
    fn from(object: StoredOutgoing) -> Self {
        NewObject {
            object_id: object.object_id,
            object_type: object.object_type,
            spec_version: object.spec_version,
            version: object.version,
            raw: object.raw,
        }
    }
}

/// Which releases to list, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ReleaseListQuery {
    pub state: Option<ReleaseState>,
    pub party: Option<String>,
    /// Continue after this release (`created_at`, `id`) of an earlier page.
    pub before: Option<(Micros, String)>,
    /// At least 1.
    pub limit: usize,
}

/// One line of a release listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleaseListing {
    pub id: String,
    pub party: String,
    pub requester: String,
    pub state: ReleaseState,
    pub created_at: Micros,
    pub decided_at: Option<Micros>,
}
