//! Storage for tearline behind one async trait, [`Store`].
//!
//! The trait speaks in TAXII terms (API roots, collections, object versions,
//! statuses, accounts and grants) and knows nothing about HTTP or STIX
//! parsing: callers hand in already-extracted keys (id, type, version) next
//! to the original JSON text, and get the original text back. Time is a
//! value the caller passes in (microseconds since the Unix epoch), so the
//! store never reads a clock.
//!
//! Backends: [`sqlite::SqliteStore`] (the embedded default) and
//! [`postgres::PgStore`] (shared by several nodes); both pass the same
//! [`testing`] conformance suite. [`open`] picks one from a [`Location`].
//! This crate is the only one with SQL in it.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

mod collection_keys;
pub mod cursor;
pub mod ledger_rows;
pub mod pg_cluster;
pub mod postgres;
mod postgres_ledger;
mod postgres_release;
pub mod release;
pub mod sqlite;
mod sqlite_checkpoint;
mod sqlite_ledger;
mod sqlite_readers;
mod sqlite_release;
pub mod testing;

pub use cursor::Cursor;
pub use ledger_rows::{Cosignature, LedgerAppend, LedgerInternal, LedgerLeaf};
pub use release::{
    Approval, Derivation, Designation, DispositionKind, MarkingDisposition, NewParty, Party,
    PolicyVersion, ReleaseCommit, ReleaseListQuery, ReleaseListing, ReleaseRecord, ReleaseState,
};

/// Where a store lives: `postgres://` or `postgresql://` URLs name a
/// PostgreSQL database, anything else a SQLite file.
#[derive(Clone, PartialEq, Eq)]
pub enum Location {
    Sqlite(PathBuf),
    Postgres(String),
}

impl Location {
    pub fn parse(text: &str) -> Location {
        if text.starts_with("postgres://") || text.starts_with("postgresql://") {
            Location::Postgres(text.to_owned())
        } else {
            Location::Sqlite(PathBuf::from(text))
        }
    }
}

/// Shows a URL without its password, so a location can be logged.
impl fmt::Debug for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Sqlite(path) => write!(f, "sqlite:{}", path.display()),
            Location::Postgres(url) => f.write_str(&postgres::redact_password(url)),
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// Opens the store at `location` and applies pending migrations. `create`
/// creates a missing SQLite file; a PostgreSQL database must exist already.
pub async fn open(
    location: &Location,
    create: bool,
    settings: &postgres::PgSettings,
) -> Result<Arc<dyn Store>> {
    Ok(match location {
        Location::Sqlite(file) => Arc::new(sqlite::SqliteStore::open(file, create).await?),
        Location::Postgres(url) => Arc::new(postgres::PgStore::open(url, settings).await?),
    })
}

/// Opens an initialised store for work. SQLite (one machine, one binary)
/// applies pending migrations; PostgreSQL only checks that the schema is
/// current, since older nodes may still run on it (`tearline migrate`
/// upgrades it, [`open`] with `create` prepares it).
pub async fn open_existing(
    location: &Location,
    settings: &postgres::PgSettings,
) -> Result<Arc<dyn Store>> {
    Ok(match location {
        Location::Sqlite(file) => Arc::new(sqlite::SqliteStore::open(file, false).await?),
        Location::Postgres(url) => {
            let store = postgres::PgStore::connect(url, settings).await?;
            store.check_schema().await?;
            Arc::new(store)
        }
    })
}

/// Microseconds since 1970-01-01T00:00:00Z.
pub type Micros = i64;

/// What can go wrong in a store. Database driver errors are mapped here and
/// carry their detail as text for the log, never for a client.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the database is unavailable or failed: {0}")]
    Database(String),
    #[error("the database schema could not be brought up to date: {0}")]
    Migration(String),
    #[error("{what} already exists")]
    AlreadyExists { what: String },
    #[error("{what} does not exist")]
    NotFound { what: String },
    #[error("stored data is inconsistent: {0}")]
    Corrupt(String),
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// The write lost a race or would break an invariant; nothing was
    /// written.
    #[error("conflict: {0}")]
    Conflict(String),
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// A TAXII API root, addressed by its URL path segment `name`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiRoot {
    pub name: String,
    pub title: String,
    pub description: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCollection {
    pub api_root: String,
    pub title: String,
    pub description: Option<String>,
    pub alias: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Collection {
    /// UUIDv4, as TAXII requires.
    pub id: String,
    pub api_root: String,
    pub title: String,
    pub description: Option<String>,
    pub alias: Option<String>,
}

/// Roles are data for now; what each may do beyond collection grants is
/// decided by the release layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    Analyst,
    ReleasingOfficer,
    Auditor,
    Admin,
    Partner,
}

impl Role {
    pub const ALL: [Role; 5] = [
        Role::Analyst,
        Role::ReleasingOfficer,
        Role::Auditor,
        Role::Admin,
        Role::Partner,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Analyst => "analyst",
            Role::ReleasingOfficer => "releasing-officer",
            Role::Auditor => "auditor",
            Role::Admin => "admin",
            Role::Partner => "partner",
        }
    }

    pub fn parse(text: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|role| role.as_str() == text)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAccount {
    pub name: String,
    /// A PHC string (Argon2id); `None` for an account that only uses tokens.
    pub password_hash: Option<String>,
    pub role: Role,
    pub party: Option<String>,
    /// Collection ids this account may read.
    pub read: Vec<String>,
    /// Collection ids this account may write; independent of `read`.
    pub write: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub id: i64,
    pub name: String,
    pub role: Role,
    pub party: Option<String>,
}

/// What one account may do with one collection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Grant {
    pub can_read: bool,
    pub can_write: bool,
}

impl Grant {
    pub fn any(self) -> bool {
        self.can_read || self.can_write
    }
}

/// One object version to store. `version` must sort chronologically as text
/// (the server normalises STIX timestamps to a fixed width).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewObject {
    pub object_id: String,
    pub object_type: String,
    pub spec_version: String,
    pub version: String,
    /// The object's original JSON text, served back byte for byte.
    pub raw: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddOutcome {
    Stored {
        date_added: Micros,
    },
    /// The same (id, version) is already in the collection; nothing written.
    Duplicate,
}

/// Makes an envelope's status resource from the outcomes of its valid
/// objects (in order).
pub type StatusBuilder<'a> = dyn Fn(&[AddOutcome]) -> StatusRecord + Send + Sync + 'a;

/// Which versions of each object a query selects (TAXII `match[version]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VersionFilter {
    All,
    /// Any of: the first version, the last version, or exact versions.
    Select {
        first: bool,
        last: bool,
        exact: Vec<String>,
    },
}

impl VersionFilter {
    /// TAXII's default: only the newest version of each object.
    pub fn last() -> Self {
        VersionFilter::Select {
            first: false,
            last: true,
            exact: Vec::new(),
        }
    }

    /// Exactly TAXII's default: the last version and nothing else.
    pub fn is_last(&self) -> bool {
        matches!(self, VersionFilter::Select { first: false, last: true, exact } if exact.is_empty())
    }
}

/// A page request over one collection, in ascending `date_added` order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectQuery {
    pub collection_id: String,
    /// Only versions added strictly after this instant.
    pub added_after: Option<Micros>,
    /// Resume after this position (from a previous page's `next`).
    pub cursor: Option<Cursor>,
    /// Empty means any id.
    pub ids: Vec<String>,
    /// Empty means any type.
    pub types: Vec<String>,
    pub versions: VersionFilter,
    /// Empty means TAXII's default: for each object only its latest spec
    /// version.
    pub spec_versions: Vec<String>,
    /// At least 1.
    pub limit: usize,
    /// Whether to load the JSON text (manifests and version lists do not
    /// need it).
    pub with_raw: bool,
}

impl ObjectQuery {
    pub fn new(collection_id: impl Into<String>, limit: usize) -> Self {
        ObjectQuery {
            collection_id: collection_id.into(),
            added_after: None,
            cursor: None,
            ids: Vec::new(),
            types: Vec::new(),
            versions: VersionFilter::last(),
            spec_versions: Vec::new(),
            limit,
            with_raw: true,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredObject {
    pub object_id: String,
    pub object_type: String,
    pub spec_version: String,
    pub version: String,
    pub date_added: Micros,
    /// Empty unless the query asked for it.
    pub raw: String,
}

/// A page of objects as one JSON text: the stored bytes of each object,
/// joined by commas, ready to be pasted into an envelope's `objects` array.
/// Serving a page this way lets a backend hand over one value instead of a
/// row per object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinedPage {
    pub count: usize,
    /// `date_added` of the first and last object on the page.
    pub first_added: Option<Micros>,
    pub last_added: Option<Micros>,
    pub more: bool,
    /// Where the next page starts; present when `more`.
    pub next: Option<Cursor>,
    /// `{..},{..}`; empty when the page is.
    pub objects: String,
}

impl JoinedPage {
    /// The joined form of a page read with its JSON text.
    pub fn from_page(page: Page) -> Self {
        let mut objects = String::with_capacity(page.items.iter().map(|i| i.raw.len() + 1).sum());
        for (index, item) in page.items.iter().enumerate() {
            if index > 0 {
                objects.push(',');
            }
            objects.push_str(&item.raw);
        }
        JoinedPage {
            count: page.items.len(),
            first_added: page.items.first().map(|item| item.date_added),
            last_added: page.items.last().map(|item| item.date_added),
            more: page.more,
            next: page.next,
            objects,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    pub items: Vec<StoredObject>,
    /// Whether more matching versions follow this page.
    pub more: bool,
    /// Where the next page starts; present when `more`.
    pub next: Option<Cursor>,
}

/// Which versions of one object to delete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeleteRequest {
    pub collection_id: String,
    pub object_id: String,
    pub versions: VersionFilter,
    pub spec_versions: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusDetail {
    pub id: String,
    pub version: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// A TAXII status resource for one Add Objects request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusRecord {
    pub id: String,
    pub api_root: String,
    pub collection_id: String,
    /// Only this account may read the status.
    pub account_id: i64,
    pub request_timestamp: Micros,
    pub total_count: u64,
    pub success_count: u64,
    pub failure_count: u64,
    pub pending_count: u64,
    pub successes: Vec<StatusDetail>,
    pub failures: Vec<StatusDetail>,
    pub pendings: Vec<StatusDetail>,
}

/// Everything tearline keeps, behind one interface. Implementations must be
/// safe to share between tasks and between processes on the same data
/// (admin commands run while the server does).
#[async_trait]
pub trait Store: Send + Sync + fmt::Debug {
    /// Closes the connections cleanly (a SQLite writer checkpoints its
    /// WAL). Later calls fail; dropping the store without it is safe.
    async fn close(&self) {}

    async fn create_api_root(&self, root: &ApiRoot, now: Micros) -> Result<()>;
    /// In a stable order (creation order).
    async fn api_roots(&self) -> Result<Vec<ApiRoot>>;
    async fn api_root(&self, name: &str) -> Result<Option<ApiRoot>>;

    async fn create_collection(&self, new: &NewCollection, now: Micros) -> Result<Collection>;
    /// The collections of one API root, in creation order.
    async fn collections(&self, api_root: &str) -> Result<Vec<Collection>>;
    /// By id or alias, inside one API root.
    async fn collection(&self, api_root: &str, id_or_alias: &str) -> Result<Option<Collection>>;

    /// Creates the account and its grants in one transaction; the grants'
    /// collections must exist.
    async fn create_account(&self, new: &NewAccount, now: Micros) -> Result<Account>;
    /// The account and its password hash (if it has one).
    async fn account_by_name(&self, name: &str) -> Result<Option<(Account, Option<String>)>>;
    /// `token_hash` is what [`Store::add_token`] was given.
    async fn account_by_token(&self, token_hash: &str) -> Result<Option<Account>>;
    async fn add_token(
        &self,
        account_name: &str,
        token_hash: &str,
        label: Option<&str>,
        now: Micros,
    ) -> Result<()>;
    /// What `account_id` may do with `collection_id` (nothing if no grant).
    async fn grant(&self, account_id: i64, collection_id: &str) -> Result<Grant>;
    /// [`Store::collection`] and the account's [`Store::grant`] on it, which
    /// every collection request needs, in one question to the database.
    async fn collection_with_grant(
        &self,
        api_root: &str,
        id_or_alias: &str,
        account_id: i64,
    ) -> Result<Option<(Collection, Grant)>> {
        let Some(collection) = self.collection(api_root, id_or_alias).await? else {
            return Ok(None);
        };
        let grant = self.grant(account_id, &collection.id).await?;
        Ok(Some((collection, grant)))
    }

    /// Stores one envelope's objects in one transaction, each with a fresh
    /// `date_added` no smaller than `now`, strictly increasing within the
    /// collection. Outcomes are in input order. Durable when it returns.
    async fn add_objects(
        &self,
        collection_id: &str,
        objects: &[NewObject],
        now: Micros,
    ) -> Result<Vec<AddOutcome>>;
    /// [`Store::add_objects`] plus the status resource that `status` makes
    /// of the outcomes, in one transaction: one commit (one sync) per
    /// envelope, and no stored object without its status. `objects` may be
    /// empty (an envelope whose objects were all rejected).
    async fn add_objects_with_status(
        &self,
        collection_id: &str,
        objects: &[NewObject],
        now: Micros,
        status: &StatusBuilder<'_>,
    ) -> Result<(Vec<AddOutcome>, StatusRecord)>;
    async fn query_objects(&self, query: &ObjectQuery) -> Result<Page>;
    /// The same page as [`Store::query_objects`] (with the JSON text,
    /// whatever `query.with_raw` says), joined into one text.
    async fn query_objects_joined(&self, query: &ObjectQuery) -> Result<JoinedPage> {
        let mut query = query.clone();
        query.with_raw = true;
        Ok(JoinedPage::from_page(self.query_objects(&query).await?))
    }
    /// Whether any version of the object is in the collection.
    async fn object_exists(&self, collection_id: &str, object_id: &str) -> Result<bool>;
    /// Number of versions deleted.
    async fn delete_object(&self, request: &DeleteRequest) -> Result<u64>;

    async fn put_status(&self, status: &StatusRecord) -> Result<()>;
    async fn status(&self, api_root: &str, id: &str) -> Result<Option<StatusRecord>>;

    // --- Need-to-know release -------------------------------------------

    /// Creates a party; a partner also gets its outbound and inbound
    /// collections in `new.api_root`, all in one transaction.
    async fn create_party(&self, new: &NewParty, now: Micros) -> Result<Party>;
    async fn party(&self, name: &str) -> Result<Option<Party>>;
    /// All parties, in creation order.
    async fn parties(&self) -> Result<Vec<Party>>;
    /// Sets (replaces) what an administrator said about a marking.
    async fn set_marking_disposition(
        &self,
        disposition: &MarkingDisposition,
        now: Micros,
    ) -> Result<()>;
    async fn marking_dispositions(&self) -> Result<Vec<MarkingDisposition>>;
    /// Records a policy version and makes it current. Loading the text of
    /// an older version again makes it current again.
    async fn add_policy_version(&self, version: &str, text: &str, now: Micros) -> Result<()>;
    async fn current_policy(&self) -> Result<Option<PolicyVersion>>;
    /// The value under `key`, setting it to `initial` first if absent (so
    /// concurrent first uses agree on one value).
    async fn release_setting(&self, key: &str, initial: &str) -> Result<String>;
    /// The newest version of an object in the home party's own collections
    /// (every collection that is not a partner's outbound or inbound one).
    async fn internal_object(&self, object_id: &str) -> Result<Option<StoredObject>>;
    /// [`Store::internal_object`] for many ids at once: the newest version
    /// of each that exists, in no particular order.
    async fn internal_objects(&self, object_ids: &[String]) -> Result<Vec<StoredObject>>;
    /// Writes a release's state, its approval, its derivation map and (when
    /// released) its objects into the outbound collection through the same
    /// insert path as TAXII, all or nothing. An object version already in
    /// the collection with identical text is skipped; with different text
    /// the whole commit fails (one (id, version) is one content).
    async fn commit_release(&self, commit: &ReleaseCommit, now: Micros) -> Result<Vec<AddOutcome>>;
    async fn release(&self, id: &str) -> Result<Option<ReleaseRecord>>;
    /// The derivation map of one partner (internal).
    async fn derivations(&self, party: &str) -> Result<Vec<Derivation>>;
    /// Releases, newest first (`created_at`, then id, descending).
    async fn releases(&self, query: &ReleaseListQuery) -> Result<Vec<ReleaseListing>>;

    // --- Release ledger ---------------------------------------------------
    // Appends happen only inside `commit_release` (`ReleaseCommit::ledger`).

    /// Number of leaves in a partner's log (0 if it has none yet).
    async fn ledger_size(&self, party: &str) -> Result<u64>;
    /// Stored tree nodes of a partner's log, in the order asked; a missing
    /// node is [`StoreError::Corrupt`].
    async fn ledger_nodes(&self, party: &str, ids: &[ledger::NodeId]) -> Result<Vec<ledger::Hash>>;
    /// Up to `limit` leaves from index `start`, in log order.
    async fn ledger_leaves(&self, party: &str, start: u64, limit: usize)
    -> Result<Vec<LedgerLeaf>>;
    /// Indexes of the leaves that list an object with this SHA-256, ascending.
    async fn ledger_leaves_with_object(
        &self,
        party: &str,
        sha256: &ledger::Hash,
    ) -> Result<Vec<u64>>;
    /// The leaf that records a release, with its party.
    async fn ledger_leaf_of_release(&self, release_id: &str) -> Result<Option<(String, u64)>>;
    async fn ledger_internal(&self, party: &str, index: u64) -> Result<Option<LedgerInternal>>;
    /// Stores (or replaces) a witness's cosignature of one checkpoint.
    async fn add_cosignature(&self, cosignature: &Cosignature) -> Result<()>;
    /// Cosignatures of the checkpoint of `size` leaves, by key.
    async fn cosignatures(&self, party: &str, size: u64) -> Result<Vec<Cosignature>>;
}
