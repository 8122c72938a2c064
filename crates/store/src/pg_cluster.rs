//! A throwaway PostgreSQL cluster for tests: `initdb` into a fresh
//! temporary directory, a server that listens only on a unix socket in that
//! directory (so there is no port to race for and nothing reachable from
//! the network), and `pg_ctl stop -m immediate` plus removal of the
//! directory on drop.
//!
//! Test support only; production code never starts a database.
//!
//! PostgreSQL refuses to run as root. When the tests run as root (as CI
//! does) the server's commands run through `runuser` as an unprivileged
//! user: `TEARLINE_PG_USER` if set, else `postgres`, else `nobody`.
//!
//! Environment:
//! - `TEARLINE_SKIP_POSTGRES=1`: [`TestCluster::start_or_skip`] and
//!   [`TestCluster::shared`] print that they skip and return `None`.
//! - `TEARLINE_PG_BIN`: the directory holding `initdb` and `pg_ctl`
//!   (default: `initdb` on `PATH`, else the newest
//!   `/usr/lib/postgresql/*/bin`).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, Mutex, Weak};

use sqlx::Connection;

/// The server's superuser inside the cluster (trust authentication).
const SUPERUSER: &str = "postgres";
/// Only names the socket file; nothing listens on TCP.
const PORT: u16 = 5432;
/// Where Debian and Ubuntu install the server binaries.
const DEBIAN_PREFIX: &str = "/usr/lib/postgresql";

#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error(
        "PostgreSQL's initdb was not found on PATH, in TEARLINE_PG_BIN or under \
         /usr/lib/postgresql/*/bin; install the PostgreSQL server, or set \
         TEARLINE_SKIP_POSTGRES=1 to skip the tests that need it"
    )]
    NotInstalled,
    #[error("{what}: {detail}")]
    Setup { what: String, detail: String },
    #[error("{command} failed ({status}): {output}")]
    Command {
        command: String,
        status: String,
        output: String,
    },
    #[error("creating a test database: {0}")]
    Database(String),
}

fn setup(what: &str) -> impl FnOnce(std::io::Error) -> ClusterError + '_ {
    move |err| ClusterError::Setup {
        what: what.to_owned(),
        detail: err.to_string(),
    }
}

/// Whether the caller asked to skip tests that need PostgreSQL.
pub fn skip_requested() -> bool {
    std::env::var("TEARLINE_SKIP_POSTGRES").is_ok_and(|value| value == "1")
}

#[derive(Debug)]
pub struct TestCluster {
    /// Holds `data/`, the socket and `server.log`.
    root: PathBuf,
    bin: PathBuf,
    /// The unprivileged user that runs the server when we are root.
    run_as: Option<String>,
    /// Whether the server syncs its WAL to disk (off for tests: a crash of
    /// the server process loses nothing either way).
    fsync: bool,
}

/// The cluster [`TestCluster::shared`] hands out while anyone holds it.
static SHARED: Mutex<Weak<TestCluster>> = Mutex::new(Weak::new());

impl TestCluster {
    /// Creates and starts a new cluster, without fsync.
    pub fn start() -> Result<TestCluster, ClusterError> {
        Self::start_with(false)
    }

    /// A cluster that syncs commits to disk as a production server does,
    /// for benchmarks that compare it with SQLite's `synchronous=FULL`.
    pub fn start_durable() -> Result<TestCluster, ClusterError> {
        Self::start_with(true)
    }

    fn start_with(fsync: bool) -> Result<TestCluster, ClusterError> {
        let bin = find_bin_dir().ok_or(ClusterError::NotInstalled)?;
        let run_as = if running_as_root()? {
            Some(unprivileged_user()?)
        } else {
            None
        };
        let root =
            std::env::temp_dir().join(format!("tearline-pg-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir(&root).map_err(setup("creating the cluster directory"))?;
        let cluster = TestCluster {
            root,
            bin,
            run_as,
            fsync,
        };
        // From here on, Drop cleans up whatever was made.
        if let Some(user) = &cluster.run_as {
            let (uid, gid) = (user_id(user, "-u")?, user_id(user, "-g")?);
            std::os::unix::fs::chown(&cluster.root, Some(uid), Some(gid))
                .map_err(setup("handing the cluster directory to the server's user"))?;
        }
        let data = cluster.data_dir();
        cluster.run(
            "initdb",
            &[
                "-D".as_ref(),
                data.as_os_str(),
                "-A".as_ref(),
                "trust".as_ref(),
                "-U".as_ref(),
                SUPERUSER.as_ref(),
                "-E".as_ref(),
                "UTF8".as_ref(),
                "--locale=C".as_ref(),
                // A test cluster needs no crash safety against power loss.
                "--no-sync".as_ref(),
            ],
        )?;
        cluster.start_server()?;
        Ok(cluster)
    }

    /// [`TestCluster::start`], or `None` (after saying so on stderr) when
    /// `TEARLINE_SKIP_POSTGRES=1`.
    pub fn start_or_skip() -> Result<Option<TestCluster>, ClusterError> {
        if skip_requested() {
            eprintln!("skipped: TEARLINE_SKIP_POSTGRES=1");
            return Ok(None);
        }
        Self::start().map(Some)
    }

    /// One cluster for every test of the process that runs at the same
    /// time; it stops when the last holder drops it. Use
    /// [`TestCluster::create_database`] to keep tests apart. `None` when
    /// skipping, as [`TestCluster::start_or_skip`].
    pub fn shared() -> Result<Option<Arc<TestCluster>>, ClusterError> {
        if skip_requested() {
            eprintln!("skipped: TEARLINE_SKIP_POSTGRES=1");
            return Ok(None);
        }
        // A test that panicked while holding the lock left nothing broken.
        let mut shared = SHARED
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(cluster) = shared.upgrade() {
            return Ok(Some(cluster));
        }
        let cluster = Arc::new(Self::start()?);
        *shared = Arc::downgrade(&cluster);
        Ok(Some(cluster))
    }

    /// A sqlx URL for `database` on this cluster.
    pub fn url_for(&self, database: &str) -> String {
        format!(
            "postgres://{SUPERUSER}@localhost:{PORT}/{database}?host={}",
            self.root.display()
        )
    }

    /// A sqlx URL for the default `postgres` database.
    pub fn url(&self) -> String {
        self.url_for("postgres")
    }

    /// Creates an empty database with a fresh name; returns its URL.
    pub async fn create_database(&self) -> Result<String, ClusterError> {
        let name = format!("t_{}", uuid::Uuid::new_v4().simple());
        let mut conn = sqlx::PgConnection::connect(&self.url())
            .await
            .map_err(|err| ClusterError::Database(err.to_string()))?;
        // The name is ours (letters, digits, underscore), not input.
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut conn)
            .await
            .map_err(|err| ClusterError::Database(err.to_string()))?;
        let _ = conn.close().await;
        Ok(self.url_for(&name))
    }

    /// Stops the server the way a crash would (`-m immediate`): no
    /// checkpoint, clients cut off; the next start replays the WAL.
    pub fn stop(&self) -> Result<(), ClusterError> {
        let data = self.data_dir();
        self.run(
            "pg_ctl",
            &[
                "-D".as_ref(),
                data.as_os_str(),
                "-m".as_ref(),
                "immediate".as_ref(),
                "-w".as_ref(),
                "stop".as_ref(),
            ],
        )
        .map(drop)
    }

    /// Starts the server again after [`TestCluster::stop`].
    pub fn start_again(&self) -> Result<(), ClusterError> {
        self.start_server()
    }

    /// The server's log, for a failing test's message.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_file()).unwrap_or_default()
    }

    fn data_dir(&self) -> PathBuf {
        self.root.join("data")
    }

    fn log_file(&self) -> PathBuf {
        self.root.join("server.log")
    }

    fn start_server(&self) -> Result<(), ClusterError> {
        let root = self.root.display().to_string();
        // pg_ctl hands `-o` to a shell; our directory name has no
        // characters a shell would interpret, but check rather than assume.
        if !root
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-".contains(c))
        {
            return Err(ClusterError::Setup {
                what: "the temporary directory".to_owned(),
                detail: format!("{root} has characters pg_ctl cannot pass on"),
            });
        }
        let fsync = if self.fsync { "on" } else { "off" };
        let server_options = format!(
            "-k {root} -p {PORT} -c listen_addresses='' -c fsync={fsync} -c max_connections=200"
        );
        let data = self.data_dir();
        let log = self.log_file();
        let started = self.run(
            "pg_ctl",
            &[
                "-D".as_ref(),
                data.as_os_str(),
                "-l".as_ref(),
                log.as_os_str(),
                "-w".as_ref(),
                "-t".as_ref(),
                "60".as_ref(),
                "-o".as_ref(),
                server_options.as_ref(),
                "start".as_ref(),
            ],
        );
        started.map(drop).map_err(|err| match err {
            ClusterError::Command {
                command,
                status,
                output,
            } => ClusterError::Command {
                command,
                status,
                output: format!("{output}\nserver log:\n{}", self.log()),
            },
            other => other,
        })
    }

    fn run(&self, program: &str, args: &[&std::ffi::OsStr]) -> Result<Output, ClusterError> {
        let path = self.bin.join(program);
        let mut command = match &self.run_as {
            Some(user) => {
                let mut command = Command::new("runuser");
                command.arg("-u").arg(user).arg("--").arg(&path);
                command
            }
            None => Command::new(&path),
        };
        command.args(args).current_dir(&self.root);
        let output = command
            .output()
            .map_err(setup(&format!("running {}", path.display())))?;
        if output.status.success() {
            return Ok(output);
        }
        Err(ClusterError::Command {
            command: format!("{program} {}", join_args(args)),
            status: output.status.to_string(),
            output: format!(
                "{}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            ),
        })
    }
}

impl Drop for TestCluster {
    fn drop(&mut self) {
        if self.data_dir().join("postmaster.pid").exists() {
            // Nothing to do about a failure here; the directory goes anyway.
            let _ = self.stop();
        }
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

fn join_args(args: &[&std::ffi::OsStr]) -> String {
    args.iter()
        .map(|arg| arg.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

fn find_bin_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("TEARLINE_PG_BIN") {
        let dir = PathBuf::from(dir);
        return dir.join("initdb").is_file().then_some(dir);
    }
    let on_path = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|dir| dir.join("initdb"))
            .find(|candidate| candidate.is_file())
    });
    if let Some(initdb) = on_path {
        // Follow a symlink (Debian's /usr/bin wrappers, /usr/local/bin
        // links) to the directory that also holds pg_ctl and postgres.
        let real = std::fs::canonicalize(&initdb).unwrap_or(initdb);
        let dir = real.parent().map(Path::to_path_buf)?;
        if dir.join("pg_ctl").is_file() {
            return Some(dir);
        }
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir(DEBIAN_PREFIX)
        .ok()?
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let version: u32 = entry.file_name().to_str()?.parse().ok()?;
            let bin = entry.path().join("bin");
            bin.join("initdb").is_file().then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin)
}

fn id_command(args: &[&str]) -> Result<String, ClusterError> {
    let output = Command::new("id")
        .args(args)
        .output()
        .map_err(setup("running id"))?;
    if !output.status.success() {
        return Err(ClusterError::Command {
            command: format!("id {}", args.join(" ")),
            status: output.status.to_string(),
            output: String::from_utf8_lossy(&output.stderr).into_owned(),
        });
    }
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

fn running_as_root() -> Result<bool, ClusterError> {
    Ok(id_command(&["-u"])? == "0")
}

fn unprivileged_user() -> Result<String, ClusterError> {
    if let Ok(user) = std::env::var("TEARLINE_PG_USER") {
        return Ok(user);
    }
    for user in ["postgres", "nobody"] {
        if id_command(&["-u", user]).is_ok() {
            return Ok(user.to_owned());
        }
    }
    Err(ClusterError::Setup {
        what: "finding a user to run PostgreSQL as (it refuses root)".to_owned(),
        detail: "no user postgres or nobody; set TEARLINE_PG_USER".to_owned(),
    })
}

fn user_id(user: &str, which: &str) -> Result<u32, ClusterError> {
    let text = id_command(&[which, user])?;
    text.parse().map_err(|_| ClusterError::Setup {
        what: format!("the id of user {user}"),
        detail: format!("id printed {text:?}"),
    })
}
