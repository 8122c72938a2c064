//! Configuration: command-line flags, then environment variables (clap's
//! `env`), then a TOML file (`--config`), then defaults. Every setting is
//! documented in docs/configuration.md.

use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::Deserialize;

/// The SQLite database inside a data directory.
pub const DATABASE_FILE: &str = "tearline.db";

/// Default plain-HTTP listener: loopback only.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:7272";

/// Keys of the TOML file; all optional.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub data: Option<PathBuf>,
    pub database: Option<String>,
    pub database_max_connections: Option<u32>,
    pub database_statement_timeout_secs: Option<u64>,
    pub database_acquire_timeout_secs: Option<u64>,
    pub listen: Option<String>,
    pub metrics_listen: Option<String>,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    pub allow_plain_http: Option<bool>,
    pub max_content_length: Option<usize>,
    pub max_objects_per_envelope: Option<usize>,
    pub max_page_size: Option<usize>,
    pub default_page_size: Option<usize>,
    pub title: Option<String>,
    pub description: Option<String>,
    pub contact: Option<String>,
    pub log_format: Option<String>,
    /// The ledger signing key file (default: `ledger.key` in the data directory).
    pub ledger_key: Option<PathBuf>,
}

impl FileConfig {
    pub fn load(path: Option<&Path>) -> anyhow::Result<Self> {
        let Some(path) = path else {
            return Ok(FileConfig::default());
        };
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading the configuration file {}", path.display()))?;
        toml::from_str(&text)
            .with_context(|| format!("parsing the configuration file {}", path.display()))
    }
}

/// Flags every command that touches a data directory takes.
#[derive(Debug, Clone, clap::Args)]
pub struct DataArgs {
    /// Data directory (holds the SQLite database and the ledger key).
    /// Config key: `data`.
    #[arg(long, env = "TEARLINE_DATA", value_name = "DIR")]
    pub data: Option<PathBuf>,
    /// PostgreSQL database URL (`postgres://user:password@host/db`) instead
    /// of the embedded SQLite store; several nodes may share one. Config
    /// key: `database`.
    #[arg(long, env = "TEARLINE_DATABASE", value_name = "URL")]
    pub database: Option<String>,
    /// TOML configuration file; flags and environment variables win over it.
    #[arg(long, env = "TEARLINE_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
}

/// Where a command's store lives: a data directory (SQLite) or a
/// PostgreSQL database, with the pool settings for the latter.
#[derive(Debug, Clone)]
pub struct Target {
    pub data: Option<PathBuf>,
    pub database: Option<String>,
    pub postgres: store::postgres::PgSettings,
}

impl Target {
    pub fn location(&self) -> anyhow::Result<store::Location> {
        match (&self.database, &self.data) {
            (Some(url), _) => match store::Location::parse(url) {
                store::Location::Postgres(url) => Ok(store::Location::Postgres(url)),
                store::Location::Sqlite(_) => anyhow::bail!(
                    "--database must be a postgres:// or postgresql:// URL (use --data DIR for SQLite)"
                ),
            },
            (None, Some(data)) => Ok(store::Location::Sqlite(data.join(DATABASE_FILE))),
            (None, None) => anyhow::bail!(
                "no store: pass --data DIR or --database URL (or TEARLINE_DATA / TEARLINE_DATABASE, \
                 or `data` / `database` in the config file)"
            ),
        }
    }

    /// For messages: the data directory, or the database URL without its
    /// password.
    pub fn describe(&self) -> String {
        match (&self.database, &self.data) {
            (Some(url), _) => store::postgres::redact_password(url),
            (None, Some(data)) => data.display().to_string(),
            (None, None) => "(no store)".to_owned(),
        }
    }
}

impl DataArgs {
    /// The file config and where the store is (flag, env, then file).
    pub fn resolve(&self) -> anyhow::Result<(FileConfig, Target)> {
        let file = FileConfig::load(self.config.as_deref())?;
        let data = self.data.clone().or_else(|| file.data.clone());
        let database = self.database.clone().or_else(|| file.database.clone());
        if data.is_none() && database.is_none() {
            anyhow::bail!(
                "no data directory: pass --data DIR (or TEARLINE_DATA, or `data` in the config \
                 file), or --database URL for PostgreSQL"
            );
        }
        let mut postgres = store::postgres::PgSettings::default();
        if let Some(max) = file.database_max_connections {
            anyhow::ensure!(max > 0, "database_max_connections must be positive");
            postgres.max_connections = max;
        }
        if let Some(secs) = file.database_statement_timeout_secs {
            postgres.statement_timeout = std::time::Duration::from_secs(secs);
        }
        if let Some(secs) = file.database_acquire_timeout_secs {
            postgres.acquire_timeout = std::time::Duration::from_secs(secs);
        }
        Ok((
            file,
            Target {
                data,
                database,
                postgres,
            },
        ))
    }
}

/// Opens the store of an initialised data directory (applying pending
/// migrations) or database (whose schema must be current).
pub async fn open_store(target: &Target) -> anyhow::Result<std::sync::Arc<dyn store::Store>> {
    let location = target.location()?;
    if let store::Location::Sqlite(database) = &location
        && !database.is_file()
    {
        let data = target.describe();
        anyhow::bail!(
            "{data} is not an initialised data directory (run `tearline init --data {data}`)"
        );
    }
    store::open_existing(&location, &target.postgres)
        .await
        .with_context(|| format!("opening the store at {}", target.describe()))
}

/// Opens a store and applies pending migrations (`tearline migrate`).
pub async fn migrate_store(target: &Target) -> anyhow::Result<std::sync::Arc<dyn store::Store>> {
    let location = target.location()?;
    if let store::Location::Sqlite(database) = &location
        && !database.is_file()
    {
        let data = target.describe();
        anyhow::bail!(
            "{data} is not an initialised data directory (run `tearline init --data {data}`)"
        );
    }
    store::open(&location, false, &target.postgres)
        .await
        .with_context(|| format!("migrating the store at {}", target.describe()))
}

/// A single-threaded runtime for the short admin commands.
pub fn block_on<F: std::future::Future>(future: F) -> anyhow::Result<F::Output> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    Ok(runtime.block_on(future))
}

pub fn now_micros() -> store::Micros {
    server::timestamp::now_micros()
}

/// The ledger's signing key inside a data directory (owner-only).
pub const LEDGER_KEY_FILE: &str = "ledger.key";

/// Default key name of the ledger; each partner's log is `<name>/<party>`.
/// Operators set their own domain with `tearline init --ledger-name`.
pub const DEFAULT_LEDGER_NAME: &str = "tearline.local/ledger";

/// Creates the ledger signing key in `path` with owner-only permissions;
/// refuses to overwrite one. Returns the verifier key text.
pub fn create_ledger_key(path: &Path, name: &str) -> anyhow::Result<String> {
    use std::io::Write;
    let (signer, secret) = server::ledger_ops::LogSigner::generate(name)
        .with_context(|| format!("creating a ledger key named {name:?}"))?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .with_context(|| format!("creating the ledger key {}", path.display()))?;
    file.write_all(format!("{secret}\n").as_bytes())
        .and_then(|()| file.sync_all())
        .with_context(|| format!("writing the ledger key {}", path.display()))?;
    Ok(signer.verifier().to_string())
}

/// Loads the ledger signing key: `explicit` (a shared file for several
/// nodes) or the data directory's. A key file others can read is refused.
pub fn load_ledger_signer(
    data: Option<&Path>,
    explicit: Option<&Path>,
) -> anyhow::Result<server::ledger_ops::LogSigner> {
    let path = match (explicit, data) {
        (Some(path), _) => path.to_path_buf(),
        (None, Some(data)) => data.join(LEDGER_KEY_FILE),
        (None, None) => anyhow::bail!(
            "no ledger key: pass --ledger-key FILE (or TEARLINE_LEDGER_KEY, or `ledger_key` in the config file)"
        ),
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let metadata = std::fs::metadata(&path).with_context(|| {
            format!(
                "reading the ledger key {} (`tearline init` creates it)",
                path.display()
            )
        })?;
        if metadata.permissions().mode() & 0o077 != 0 {
            anyhow::bail!(
                "the ledger key {} is readable by others; run `chmod 600 {}`",
                path.display(),
                path.display()
            );
        }
    }
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("reading the ledger key {}", path.display()))?;
    server::ledger_ops::LogSigner::from_secret_text(&text).with_context(|| {
        format!(
            "the ledger key {} is not a valid signer key",
            path.display()
        )
    })
}
