//! The release ledger through the binary: every decision leaves one record;
//! `ledger checkpoint`, `records` and `verify` agree; tampering with the
//! records (a changed byte, a deletion, a swap, a truncation, a change in
//! the database itself) makes `ledger verify` exit 1 naming the leaf;
//! proofs by object; witness cosigning; and a crash (kill -9) in the middle
//! of a stream of releases leaves a log that verifies with exactly one
//! record per decided release.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn tearline(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tearline"))
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("running tearline: {e}"))
}

fn ok(args: &[&str]) -> String {
    let out = tearline(args);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn ok_json(args: &[&str]) -> Value {
    let out = ok(args);
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{args:?}: {e}: {out}"))
}

const GREEN: &str = "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb";
const RED: &str = "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed";

fn indicator_id(i: usize) -> String {
    format!("indicator--6a8b4f4e-7a1e-4b0b-9d49-{i:012x}")
}

fn indicator(i: usize, marking: &str) -> String {
    format!(
        r#"{{"type":"indicator","spec_version":"2.1","id":"{}","created":"2026-11-01T00:00:00.000Z","modified":"2026-11-01T00:00:00.000Z","pattern":"[ipv4-addr:value = '198.51.100.{}']","pattern_type":"stix","valid_from":"2026-11-01T00:00:00Z","object_marking_refs":["{marking}"]}}"#,
        indicator_id(i),
        i % 250
    )
}

struct World {
    _dir: tempfile::TempDir,
    root: PathBuf,
    data: String,
}

impl World {
    fn path(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }

    fn write(&self, name: &str, contents: &[u8]) -> String {
        let path = self.path(name);
        std::fs::write(&path, contents).unwrap_or_else(|e| panic!("{e}"));
        path.to_string_lossy().into_owned()
    }
}

/// A data directory with partner `city`, an analyst, `count` GREEN
/// indicators and one RED one (index `count`).
fn world(count: usize) -> World {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let root = dir.path().to_path_buf();
    let data = root.join("data").to_string_lossy().into_owned();
    ok(&[
        "init",
        "--data",
        &data,
        "--ledger-name",
        "ledger.example.org/tl",
    ]);
    let internal = ok(&[
        "collection",
        "create",
        "--data",
        &data,
        "--title",
        "internal",
    ]);
    let internal = internal.trim().lines().last().unwrap_or("").to_owned();
    ok_json(&["party", "create", "--data", &data, "--name", "city"]);
    ok(&[
        "account", "create", "--data", &data, "--name", "anna", "--role", "analyst",
    ]);
    let mut lines = String::new();
    for i in 0..count {
        lines.push_str(&indicator(i, GREEN));
        lines.push('\n');
    }
    lines.push_str(&indicator(count, RED));
    lines.push('\n');
    let world = World {
        _dir: dir,
        root,
        data,
    };
    let file = world.write("objects.jsonl", lines.as_bytes());
    ok(&[
        "import",
        "--data",
        &world.data,
        "--collection",
        &internal,
        &file,
    ]);
    world
}

fn request(world: &World, i: usize) -> Value {
    ok_json(&[
        "release",
        "request",
        "--data",
        &world.data,
        "--as",
        "anna",
        "--to",
        "city",
        "--object",
        &indicator_id(i),
        "--justification",
        "warn the city",
    ])
}

fn verify(key: &str, checkpoint: &str, records: &str) -> Output {
    tearline(&[
        "ledger",
        "verify",
        "--key",
        key,
        "--checkpoint",
        checkpoint,
        "--records",
        records,
    ])
}

fn assert_bad_leaf(out: &Output, leaf: u64) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("leaf {leaf} ")),
        "should name leaf {leaf}: {stderr}"
    );
}

#[test]
fn records_checkpoints_verification_and_tampering() {
    let world = world(4);
    let key = ok(&["ledger", "key", "--data", &world.data]);
    let key = key.trim().to_owned();
    assert!(key.starts_with("ledger.example.org/tl+"), "{key}");
    let key_file = world.write("log.vkey", format!("{key}\n").as_bytes());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(Path::new(&world.data).join("ledger.key"))
            .unwrap_or_else(|e| panic!("{e}"))
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "the signing key is owner-only");
    }

    // An empty log has a valid checkpoint too.
    let empty = ok(&[
        "ledger",
        "checkpoint",
        "--data",
        &world.data,
        "--party",
        "city",
    ]);
    assert!(
        empty.starts_with("ledger.example.org/tl/city\n0\n"),
        "{empty}"
    );
    let empty_file = world.write("empty.note", empty.as_bytes());

    for i in 0..3 {
        assert_eq!(request(&world, i)["state"], "released");
    }
    let early = ok(&[
        "ledger",
        "checkpoint",
        "--data",
        &world.data,
        "--party",
        "city",
    ]);
    let early_file = world.write("early.note", early.as_bytes());
    assert_eq!(
        request(&world, 4)["state"],
        "denied",
        "TLP:RED never leaves"
    );
    assert_eq!(request(&world, 3)["state"], "released");

    let note = ok(&[
        "ledger",
        "checkpoint",
        "--data",
        &world.data,
        "--party",
        "city",
    ]);
    let lines: Vec<&str> = note.lines().collect();
    assert_eq!(lines[0], "ledger.example.org/tl/city");
    assert_eq!(lines[1], "5", "one record per decision, refusals included");
    let note_file = world.write("cp.note", note.as_bytes());
    let records = ok(&[
        "ledger",
        "records",
        "--data",
        &world.data,
        "--party",
        "city",
    ]);
    let records_file = world.write("records.jsonl", records.as_bytes());
    let out = verify(&key, &note_file, &records_file);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The key may also be given as a file, and a kept checkpoint as --previous.
    for previous in [&empty_file, &early_file] {
        let out = tearline(&[
            "ledger",
            "verify",
            "--key",
            &key_file,
            "--checkpoint",
            &note_file,
            "--records",
            &records_file,
            "--previous",
            previous,
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // A newer checkpoint is not "previous" to an older one.
    let out = tearline(&[
        "ledger",
        "verify",
        "--key",
        &key,
        "--checkpoint",
        &early_file,
        "--records",
        &records_file,
        "--previous",
        &note_file,
    ]);
    assert_eq!(out.status.code(), Some(1));

    // What a partner sees of each record: no justification, no source ids.
    let lines: Vec<&str> = records.lines().collect();
    assert_eq!(lines.len(), 5);
    for (i, line) in lines.iter().enumerate() {
        let record: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(record["sequence"], i);
        assert_eq!(record["partner"], "city");
        assert!(
            !line.contains("warn the city"),
            "justification leaked: {line}"
        );
        assert!(!line.contains("anna"), "requester leaked: {line}");
    }
    let refused: Value = serde_json::from_str(lines[3]).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(refused["outcome"], "refused");
    assert_eq!(refused["objects"], serde_json::json!([]));
    let released: Value = serde_json::from_str(lines[0]).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(released["outcome"], "released");
    let listed: Vec<&str> = released["objects"]
        .as_array()
        .unwrap_or_else(|| panic!("objects"))
        .iter()
        .filter_map(|o| o["id"].as_str())
        .collect();
    assert!(listed.contains(&indicator_id(0).as_str()), "{listed:?}");
    assert!(
        listed
            .iter()
            .any(|id| id.starts_with("marking-definition--")),
        "carried marking definitions are listed: {listed:?}"
    );

    // The JSON form verifies too.
    let json = ok(&[
        "ledger",
        "records",
        "--data",
        &world.data,
        "--party",
        "city",
        "--format",
        "json",
    ]);
    let array: Value = serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(array[2]["index"], 2);
    assert_eq!(
        array[2]["leaf_hash"].as_str().map(str::len),
        Some(64),
        "{}",
        array[2]
    );
    let json_file = world.write("records.json", json.as_bytes());
    assert!(verify(&key, &note_file, &json_file).status.success());

    // Tampering, each named at the first bad leaf.
    let changed = records.replacen("\"outcome\":\"refused\"", "\"outcome\":\"released\"", 1);
    let file = world.write("t1", changed.as_bytes());
    assert_bad_leaf(&verify(&key, &note_file, &file), 3);

    let mut one_byte = records.clone().into_bytes();
    let at = lines[..1].iter().map(|l| l.len() + 1).sum::<usize>() + lines[1].len() - 3;
    one_byte[at] = if one_byte[at] == b'0' { b'1' } else { b'0' };
    let file = world.write("t2", &one_byte);
    let out = verify(&key, &note_file, &file);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("leaf 1"));

    let deleted: Vec<&str> = lines
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != 2)
        .map(|(_, l)| *l)
        .collect();
    let file = world.write("t3", (deleted.join("\n") + "\n").as_bytes());
    assert_bad_leaf(&verify(&key, &note_file, &file), 2);

    let mut swapped = lines.clone();
    swapped.swap(1, 3);
    let file = world.write("t4", (swapped.join("\n") + "\n").as_bytes());
    assert_bad_leaf(&verify(&key, &note_file, &file), 1);

    let file = world.write("t5", (lines[..4].join("\n") + "\n").as_bytes());
    assert_bad_leaf(&verify(&key, &note_file, &file), 4);

    // A wrong key, or a checkpoint of another size, fails without a leaf.
    let other = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let other_data = other.path().join("d").to_string_lossy().into_owned();
    ok(&[
        "init",
        "--data",
        &other_data,
        "--ledger-name",
        "ledger.example.org/tl",
    ]);
    let other_key = ok(&["ledger", "key", "--data", &other_data]);
    let out = verify(other_key.trim(), &note_file, &records_file);
    assert_eq!(out.status.code(), Some(1));

    // Tampering inside the database: the served records no longer match
    // the checkpoint signed before.
    let changed = sql(
        &world,
        "UPDATE ledger_leaves SET record = CAST(replace(CAST(record AS TEXT), '\"refused\"', \
         '\"released\"') AS BLOB) WHERE idx = 3",
    );
    assert_eq!(changed, 1);
    let records = ok(&[
        "ledger",
        "records",
        "--data",
        &world.data,
        "--party",
        "city",
    ]);
    let file = world.write("t6", records.as_bytes());
    assert_bad_leaf(&verify(&key, &note_file, &file), 3);
}

/// Runs one statement on the data directory's database, as an intruder
/// with file access would; returns rows affected (or the count selected).
fn sql(world: &World, statement: &str) -> u64 {
    use sqlx::{Connection, Row};
    let db = Path::new(&world.data).join("tearline.db");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    runtime.block_on(async {
        let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}", db.display()))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        if statement.trim_start().starts_with("SELECT") {
            let row = sqlx::query(sqlx::AssertSqlSafe(statement.to_owned()))
                .fetch_one(&mut conn)
                .await
                .unwrap_or_else(|e| panic!("{e}"));
            let count: i64 = row.try_get(0).unwrap_or_else(|e| panic!("{e}"));
            u64::try_from(count).unwrap_or(u64::MAX)
        } else {
            sqlx::query(sqlx::AssertSqlSafe(statement.to_owned()))
                .execute(&mut conn)
                .await
                .unwrap_or_else(|e| panic!("{e}"))
                .rows_affected()
        }
    })
}

#[test]
fn proof_by_object_and_cosigning() {
    let world = world(2);
    let key = ok(&["ledger", "key", "--data", &world.data])
        .trim()
        .to_owned();
    for i in 0..2 {
        assert_eq!(request(&world, i)["state"], "released");
    }
    // What the partner received: the object as stored in its collection.
    let object = indicator(1, GREEN);
    let object_file = world.write("received.json", object.as_bytes());
    let proof = ok_json(&[
        "ledger",
        "proof",
        "--data",
        &world.data,
        "--party",
        "city",
        "--object",
        &object_file,
    ]);
    assert_eq!(proof["index"], 1, "{proof}");
    assert_eq!(proof["size"], 2);
    let note = ok(&[
        "ledger",
        "checkpoint",
        "--data",
        &world.data,
        "--party",
        "city",
    ]);
    let root_b64 = note.lines().nth(2).unwrap_or_default().to_owned();
    let leaf = ledger::Hash::from_hex(proof["leaf_hash"].as_str().unwrap_or_default())
        .unwrap_or_else(|e| panic!("{e}"));
    let path: Vec<ledger::Hash> = proof["proof"]
        .as_array()
        .unwrap_or_else(|| panic!("proof"))
        .iter()
        .map(|h| {
            ledger::Hash::from_hex(h.as_str().unwrap_or_default()).unwrap_or_else(|e| panic!("{e}"))
        })
        .collect();
    let root = ledger::Hash::from_base64(&root_b64).unwrap_or_else(|e| panic!("{e}"));
    ledger::verify_inclusion(&leaf, 1, 2, &path, &root).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        !tearline(&[
            "ledger",
            "proof",
            "--data",
            &world.data,
            "--party",
            "city",
            "--object-sha256",
            &"0".repeat(64),
        ])
        .status
        .success(),
        "an object no record lists has no proof"
    );

    // A witness cosigns the checkpoint it verified.
    let witness_file = world.path("witness.key");
    let witness_vkey = ok(&[
        "ledger",
        "keygen",
        "--name",
        "city.example/witness",
        "--out",
        &witness_file.to_string_lossy(),
    ]);
    let note_file = world.write("cp.note", note.as_bytes());
    let cosigned = ok(&[
        "ledger",
        "cosign",
        "--signer-key",
        &witness_file.to_string_lossy(),
        "--key",
        &key,
        "--checkpoint",
        &note_file,
    ]);
    let witness = ledger::VerifierKey::parse(witness_vkey.trim()).unwrap_or_else(|e| panic!("{e}"));
    let log_key = ledger::VerifierKey::parse(&key).unwrap_or_else(|e| panic!("{e}"));
    let verified = ledger::verify_checkpoint(&cosigned, &log_key, &[witness])
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        verified.signatures.len(),
        2,
        "log signature and cosignature"
    );
    assert!(verified.signatures[1].timestamp.is_some());
}

/// kill -9 in the middle of a stream of releases: the database keeps every
/// release together with its record or neither.
#[test]
fn crash_during_a_stream_of_releases_leaves_a_verifiable_log() {
    let world = world(24);
    let key = ok(&["ledger", "key", "--data", &world.data])
        .trim()
        .to_owned();
    let mut killed = 0;
    let mut running: Vec<std::process::Child> = Vec::new();
    for i in 0..24 {
        let id = indicator_id(i);
        let child = Command::new(env!("CARGO_BIN_EXE_tearline"))
            .args([
                "release",
                "request",
                "--data",
                &world.data,
                "--as",
                "anna",
                "--to",
                "city",
                "--object",
                &id,
                "--justification",
                "stream",
            ])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{e}"));
        running.push(child);
        // Staggered pauses, so kills land before, during and after commits.
        std::thread::sleep(std::time::Duration::from_millis(15 * (i as u64 % 5)));
        if i % 3 == 2 {
            let victim = running.len() - 2;
            if matches!(running[victim].try_wait(), Ok(None)) && running[victim].kill().is_ok() {
                // SIGKILL: no destructor, no rollback by the process itself.
                killed += 1;
            }
        }
    }
    for mut child in running {
        let _ = child.wait();
    }
    eprintln!("killed {killed} release processes mid-flight");

    let note = ok(&[
        "ledger",
        "checkpoint",
        "--data",
        &world.data,
        "--party",
        "city",
    ]);
    let size: u64 = note
        .lines()
        .nth(1)
        .unwrap_or("x")
        .parse()
        .unwrap_or_else(|e| panic!("{e}"));
    let records = ok(&[
        "ledger",
        "records",
        "--data",
        &world.data,
        "--party",
        "city",
    ]);
    let note_file = world.write("crash.note", note.as_bytes());
    let records_file = world.write("crash.jsonl", records.as_bytes());
    let out = verify(&key, &note_file, &records_file);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Exactly one record per decided release, and no record of anything else.
    let mut recorded = std::collections::BTreeSet::new();
    for line in records.lines() {
        let record: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}"));
        let id = record["release_id"].as_str().unwrap_or_default().to_owned();
        assert!(recorded.insert(id.clone()), "release {id} recorded twice");
        let shown = ok_json(&["release", "show", "--data", &world.data, &id]);
        assert_eq!(shown["state"], "released", "{shown}");
        assert_eq!(shown["ledger"]["index"], record["sequence"]);
    }
    assert_eq!(recorded.len() as u64, size);
    let decided = sql(
        &world,
        "SELECT count(*) FROM releases WHERE state != 'pending-approval'",
    );
    assert_eq!(decided, size, "every decided release has its record");
}

/// Release commands work while `tearline serve` runs on the same data
/// directory, and the server's checkpoint covers a release as soon as the
/// command returns.
#[test]
fn releases_from_the_cli_while_the_server_runs() {
    use std::io::{BufRead, BufReader, Read, Write};

    let world = world(2);
    let mut child = Command::new(env!("CARGO_BIN_EXE_tearline"))
        .args([
            "account",
            "create",
            "--data",
            &world.data,
            "--name",
            "city-bot",
        ])
        .args(["--role", "partner", "--party", "city", "--password-stdin"])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{e}"));
    child
        .stdin
        .take()
        .unwrap_or_else(|| panic!("stdin"))
        .write_all(b"city-password\n")
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(child.wait().unwrap_or_else(|e| panic!("{e}")).success());

    /// Stops the server however the test ends.
    struct Running(std::process::Child);
    impl Drop for Running {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let mut server = Running(
        Command::new(env!("CARGO_BIN_EXE_tearline"))
            .args(["serve", "--data", &world.data, "--listen", "127.0.0.1:0"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{e}")),
    );
    let mut line = String::new();
    BufReader::new(server.0.stdout.take().unwrap_or_else(|| panic!("stdout")))
        .read_line(&mut line)
        .unwrap_or_else(|e| panic!("{e}"));
    let address = line
        .trim()
        .strip_prefix("listening on http://")
        .and_then(|rest| rest.strip_suffix("/taxii2/"))
        .unwrap_or_else(|| panic!("unexpected first line: {line:?}"))
        .to_owned();
    let checkpoint = |expected: &str| {
        let mut stream = std::net::TcpStream::connect(&address).unwrap_or_else(|e| panic!("{e}"));
        // "city-bot:city-password" in base64.
        let request = format!(
            "GET /api/v1/ledger/logs/city/checkpoint HTTP/1.1\r\nHost: {address}\r\n\
             Authorization: Basic Y2l0eS1ib3Q6Y2l0eS1wYXNzd29yZA==\r\nConnection: close\r\n\r\n"
        );
        stream
            .write_all(request.as_bytes())
            .unwrap_or_else(|e| panic!("{e}"));
        let mut response = String::new();
        stream
            .read_to_string(&mut response)
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(response.starts_with("HTTP/1.1 200"), "{response}");
        let body = response.split_once("\r\n\r\n").map_or("", |(_, b)| b);
        assert_eq!(body.lines().nth(1), Some(expected), "{body}");
        body.to_owned()
    };
    checkpoint("0");
    assert_eq!(request(&world, 0)["state"], "released");
    let served = checkpoint("1");
    assert_eq!(request(&world, 1)["state"], "released");
    checkpoint("2");
    // The server signs exactly what the command line signs.
    let local = ok(&[
        "ledger",
        "checkpoint",
        "--data",
        &world.data,
        "--party",
        "city",
    ]);
    assert_eq!(local.lines().nth(1), Some("2"));
    assert_ne!(served, local);
}
