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
    /// Data directory (holds the SQLite database). Config key: `data`.
    #[arg(long, env = "TEARLINE_DATA", value_name = "DIR")]
    pub data: Option<PathBuf>,
    /// TOML configuration file; flags and environment variables win over it.
    #[arg(long, env = "TEARLINE_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
}

impl DataArgs {
    /// The file config and the data directory (flag, env, then file).
    pub fn resolve(&self) -> anyhow::Result<(FileConfig, PathBuf)> {
        let file = FileConfig::load(self.config.as_deref())?;
        let data = self.data.clone().or_else(|| file.data.clone()).context(
            "no data directory: pass --data DIR (or TEARLINE_DATA, or `data` in the config file)",
        )?;
        Ok((file, data))
    }
}

/// Opens the store of an initialised data directory.
pub async fn open_store(data: &Path) -> anyhow::Result<store::sqlite::SqliteStore> {
    let database = data.join(DATABASE_FILE);
    if !database.is_file() {
        anyhow::bail!(
            "{} is not an initialised data directory (run `tearline init --data {}`)",
            data.display(),
            data.display()
        );
    }
    store::sqlite::SqliteStore::open(&database, false)
        .await
        .with_context(|| format!("opening {}", database.display()))
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
