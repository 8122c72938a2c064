//! Two `tearline serve` nodes on one PostgreSQL (a throwaway cluster this
//! test starts): objects written through one are read through the other;
//! paging across nodes never skips or repeats; releases through both nodes
//! at once give one ledger per partner that verifies and holds every
//! record; a release requested on one node is approved on the other; and a
//! database restart under load loses no acknowledged write while the nodes
//! answer 503 TAXII errors and then recover.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use store::pg_cluster::TestCluster;

const TAXII: &str = "application/taxii+json;version=2.1";
const GREEN: &str = "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb";

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

fn last_line(text: &str) -> String {
    text.trim().lines().last().unwrap_or("").trim().to_owned()
}

struct Node {
    child: Child,
    address: String,
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn node(database: &str, key: &Path) -> Node {
    let mut child = Command::new(env!("CARGO_BIN_EXE_tearline"))
        .args(["serve", "--database", database, "--listen", "127.0.0.1:0"])
        .arg("--ledger-key")
        .arg(key)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn serve: {e}"));
    let stdout = child.stdout.take().unwrap_or_else(|| panic!("no stdout"));
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .unwrap_or_else(|e| panic!("reading the listening line: {e}"));
    let address = line
        .trim()
        .strip_prefix("listening on http://")
        .and_then(|rest| rest.strip_suffix("/taxii2/"))
        .unwrap_or_else(|| panic!("unexpected first line: {line:?}"))
        .to_owned();
    Node { child, address }
}

struct Answer {
    status: u16,
    headers: String,
    body: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
}

/// One request per connection; `content_type` names the body's media type.
fn http(address: &str, method: &str, path: &str, auth: &str, body: Option<(&str, &str)>) -> Answer {
    let Ok(mut stream) = TcpStream::connect(address) else {
        return Answer {
            status: 0,
            headers: String::new(),
            body: String::new(),
        };
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(60)));
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {address}\r\nAccept: {TAXII}, application/json\r\n\
         Connection: close\r\nAuthorization: {auth}\r\n"
    );
    if let Some((content_type, body)) = body {
        request.push_str(&format!(
            "Content-Type: {content_type}\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    request.push_str("\r\n");
    request.push_str(body.map_or("", |(_, b)| b));
    if stream.write_all(request.as_bytes()).is_err() {
        return Answer {
            status: 0,
            headers: String::new(),
            body: String::new(),
        };
    }
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0);
    Answer {
        status,
        headers: head.to_ascii_lowercase(),
        body: body.to_owned(),
    }
}

fn indicator(i: usize) -> Value {
    json!({
        "type": "indicator", "spec_version": "2.1",
        "id": format!("indicator--6a8b4f4e-7a1e-4b0b-9d49-{i:012x}"),
        "created": "2026-11-01T00:00:00.000Z", "modified": "2026-11-01T00:00:00.000Z",
        "pattern": format!("[ipv4-addr:value = '198.51.100.{}']", i % 250),
        "pattern_type": "stix", "valid_from": "2026-11-01T00:00:00Z",
        "object_marking_refs": [GREEN],
    })
}

struct Setup {
    _dir: tempfile::TempDir,
    database: String,
    key: std::path::PathBuf,
    internal: String,
    anna: String,
    olaf: String,
    writer: String,
}

fn token(database: &str, account: &str) -> String {
    format!(
        "Bearer {}",
        last_line(&ok(&[
            "token",
            "create",
            "--database",
            database,
            "--account",
            account,
        ]))
    )
}

fn setup(database: String) -> Setup {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let key = dir.path().join("ledger.key");
    let key_arg = key.to_string_lossy().into_owned();
    let db = database.as_str();
    ok(&["init", "--database", db, "--ledger-key", &key_arg]);
    assert!(
        !tearline(&[
            "init",
            "--database",
            db,
            "--ledger-key",
            &format!("{key_arg}2")
        ])
        .status
        .success(),
        "a second init refuses"
    );
    ok(&["migrate", "--database", db]);
    let internal = last_line(&ok(&[
        "collection",
        "create",
        "--database",
        db,
        "--title",
        "internal",
    ]));
    ok(&["party", "create", "--database", db, "--name", "city"]);
    ok(&[
        "party",
        "create",
        "--database",
        db,
        "--name",
        "town",
        "--designation",
        "watch-list",
    ]);
    for (name, role) in [
        ("anna", "analyst"),
        ("olaf", "releasing-officer"),
        ("writer", "analyst"),
    ] {
        ok(&[
            "account",
            "create",
            "--database",
            db,
            "--name",
            name,
            "--role",
            role,
            "--read",
            &internal,
            "--write",
            &internal,
        ]);
    }
    let objects: Vec<String> = (0..41).map(|i| indicator(i).to_string()).collect();
    let file = dir.path().join("objects.jsonl");
    std::fs::write(&file, objects.join("\n")).unwrap_or_else(|e| panic!("{e}"));
    ok(&[
        "import",
        "--database",
        db,
        "--collection",
        &internal,
        &file.to_string_lossy(),
    ]);
    Setup {
        anna: token(db, "anna"),
        olaf: token(db, "olaf"),
        writer: token(db, "writer"),
        _dir: dir,
        database,
        key,
        internal,
    }
}

fn cluster_and_database() -> Option<(TestCluster, String)> {
    let cluster = TestCluster::start_or_skip().unwrap_or_else(|e| panic!("{e}"))?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let url = runtime
        .block_on(cluster.create_database())
        .unwrap_or_else(|e| panic!("{e}"));
    Some((cluster, url))
}

#[test]
fn two_nodes_share_objects_pages_releases_and_one_ledger() {
    let Some((cluster, url)) = cluster_and_database() else {
        return;
    };
    let s = setup(url);
    let a = node(&s.database, &s.key);
    let b = node(&s.database, &s.key);
    let objects = format!("/api1/collections/{}/objects/", s.internal);

    // Written through A, read through B.
    let envelope = json!({"objects": [indicator(100)]}).to_string();
    let posted = http(
        &a.address,
        "POST",
        &objects,
        &s.writer,
        Some((TAXII, &envelope)),
    );
    assert_eq!(posted.status, 202, "{}", posted.body);
    let id = indicator(100)["id"].as_str().unwrap_or_default().to_owned();
    let read = http(
        &b.address,
        "GET",
        &format!("{objects}{id}/"),
        &s.writer,
        None,
    );
    assert_eq!(read.status, 200, "{}", read.body);
    // The status resource is shared too.
    let status_id = posted.json()["id"].as_str().unwrap_or_default().to_owned();
    let status = http(
        &b.address,
        "GET",
        &format!("/api1/status/{status_id}/"),
        &s.writer,
        None,
    );
    assert_eq!(status.status, 200, "{}", status.body);

    // Paging alternately through A and B: every object once.
    let mut seen = Vec::new();
    let mut next: Option<String> = None;
    for page in 0.. {
        let node = if page % 2 == 0 { &a } else { &b };
        let path = match &next {
            None => format!("{objects}?limit=7"),
            Some(cursor) => format!("{objects}?limit=7&next={cursor}"),
        };
        let answer = http(&node.address, "GET", &path, &s.writer, None);
        assert_eq!(answer.status, 200, "{}", answer.body);
        let body = answer.json();
        for object in body["objects"].as_array().into_iter().flatten() {
            seen.push(object["id"].as_str().unwrap_or_default().to_owned());
        }
        next = body["next"].as_str().map(str::to_owned);
        if body["more"] != true {
            break;
        }
        assert!(page < 100, "paging does not end");
    }
    let unique: BTreeSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "no repeats");
    assert_eq!(seen.len(), 42, "41 imported + 1 posted, none skipped");

    // 20 releases through each node at the same time.
    let handles: Vec<_> = (0..8)
        .map(|worker| {
            let address = if worker % 2 == 0 {
                a.address.clone()
            } else {
                b.address.clone()
            };
            let anna = s.anna.clone();
            std::thread::spawn(move || {
                let mut released = Vec::new();
                for n in 0..5 {
                    let i = worker * 5 + n;
                    let body = json!({
                        "objects": [indicator(i)["id"]],
                        "to": "city",
                        "justification": "stream",
                    })
                    .to_string();
                    let answer = http(
                        &address,
                        "POST",
                        "/api/v1/releases",
                        &anna,
                        Some(("application/json", &body)),
                    );
                    assert_eq!(answer.status, 201, "{}", answer.body);
                    assert_eq!(answer.json()["state"], "released", "{}", answer.body);
                    released.push(
                        answer.json()["release"]
                            .as_str()
                            .unwrap_or_default()
                            .to_owned(),
                    );
                }
                released
            })
        })
        .collect();
    let mut released = BTreeSet::new();
    for handle in handles {
        released.extend(handle.join().unwrap_or_else(|_| panic!("worker panicked")));
    }
    assert_eq!(released.len(), 40);
    let db = s.database.as_str();
    let key_arg = s.key.to_string_lossy().into_owned();
    let checkpoint = ok(&[
        "ledger",
        "checkpoint",
        "--database",
        db,
        "--ledger-key",
        &key_arg,
        "--party",
        "city",
    ]);
    assert_eq!(checkpoint.lines().nth(1), Some("40"), "{checkpoint}");
    let records = ok(&["ledger", "records", "--database", db, "--party", "city"]);
    let recorded: BTreeSet<String> = records
        .lines()
        .map(|line| {
            let record: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}"));
            record["release_id"].as_str().unwrap_or_default().to_owned()
        })
        .collect();
    assert_eq!(recorded, released, "one record per release, all 40");
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let cp = dir.path().join("cp");
    let rec = dir.path().join("rec");
    std::fs::write(&cp, &checkpoint).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(&rec, &records).unwrap_or_else(|e| panic!("{e}"));
    let vkey = ok(&["ledger", "key", "--database", db, "--ledger-key", &key_arg]);
    let verified = tearline(&[
        "ledger",
        "verify",
        "--key",
        vkey.trim(),
        "--checkpoint",
        &cp.to_string_lossy(),
        "--records",
        &rec.to_string_lossy(),
    ]);
    assert!(
        verified.status.success(),
        "{}",
        String::from_utf8_lossy(&verified.stderr)
    );
    // Both nodes sign the same checkpoint.
    let from_a = http(
        &a.address,
        "GET",
        "/api/v1/ledger/logs/city/checkpoint",
        &s.olaf,
        None,
    );
    let from_b = http(
        &b.address,
        "GET",
        "/api/v1/ledger/logs/city/checkpoint",
        &s.olaf,
        None,
    );
    assert_eq!(from_a.status, 200, "{}", from_a.body);
    assert_eq!(from_a.body, from_b.body);
    assert_eq!(from_a.body, checkpoint);

    // Requested on A, approved on B.
    let body =
        json!({"objects": [indicator(40)["id"]], "to": "town", "justification": "x"}).to_string();
    let asked = http(
        &a.address,
        "POST",
        "/api/v1/releases",
        &s.anna,
        Some(("application/json", &body)),
    );
    assert_eq!(asked.status, 201, "{}", asked.body);
    assert_eq!(asked.json()["state"], "pending-approval");
    let release = asked.json()["release"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let approved = http(
        &b.address,
        "POST",
        &format!("/api/v1/releases/{release}/approve"),
        &s.olaf,
        None,
    );
    assert_eq!(approved.status, 200, "{}", approved.body);
    assert_eq!(approved.json()["state"], "released");
    drop(cluster);
}

#[test]
fn a_database_restart_under_load_loses_no_acknowledged_write() {
    let Some((cluster, url)) = cluster_and_database() else {
        return;
    };
    let s = setup(url);
    let a = node(&s.database, &s.key);
    let b = node(&s.database, &s.key);
    let objects = format!("/api1/collections/{}/objects/", s.internal);

    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let stop = stop.clone();
        let address = a.address.clone();
        let auth = s.writer.clone();
        let objects = objects.clone();
        std::thread::spawn(move || {
            let mut acknowledged = Vec::new();
            let mut refused = 0;
            let mut i = 1000;
            while !stop.load(Ordering::SeqCst) {
                let object = indicator(i);
                let envelope = json!({"objects": [object]}).to_string();
                let answer = http(&address, "POST", &objects, &auth, Some((TAXII, &envelope)));
                if answer.status == 202 && answer.json()["success_count"] == 1 {
                    acknowledged.push(object["id"].as_str().unwrap_or_default().to_owned());
                } else {
                    assert!(
                        answer.status == 503 || answer.status == 0,
                        "only 503 while the database is down: {} {}",
                        answer.status,
                        answer.body
                    );
                    if answer.status == 503 {
                        assert!(
                            answer.headers.contains(TAXII),
                            "a TAXII error: {}",
                            answer.headers
                        );
                    }
                    refused += 1;
                    std::thread::sleep(Duration::from_millis(50));
                }
                i += 1;
            }
            (acknowledged, refused)
        })
    };
    std::thread::sleep(Duration::from_millis(700));
    cluster.stop().unwrap_or_else(|e| panic!("{e}"));
    let down = http(&b.address, "GET", &objects, &s.writer, None);
    assert_eq!(down.status, 503, "{}", down.body);
    assert!(down.headers.contains(TAXII));
    assert_eq!(down.json()["http_status"], "503");
    std::thread::sleep(Duration::from_millis(700));
    cluster.start_again().unwrap_or_else(|e| panic!("{e}"));
    let started = Instant::now();
    loop {
        let answer = http(
            &b.address,
            "GET",
            &format!("{objects}?limit=1"),
            &s.writer,
            None,
        );
        if answer.status == 200 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "node B did not recover: {} {}",
            answer.status,
            answer.body
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    std::thread::sleep(Duration::from_millis(700));
    stop.store(true, Ordering::SeqCst);
    let (acknowledged, refused) = writer.join().unwrap_or_else(|_| panic!("writer panicked"));
    eprintln!(
        "{} writes acknowledged, {refused} refused during the outage",
        acknowledged.len()
    );
    assert!(refused > 0, "the outage was seen");
    assert!(acknowledged.len() > 2);
    for id in &acknowledged {
        let answer = http(
            &b.address,
            "GET",
            &format!("{objects}{id}/"),
            &s.writer,
            None,
        );
        assert_eq!(
            answer.status, 200,
            "acknowledged {id} lost: {}",
            answer.body
        );
    }
}

/// The demo runs on PostgreSQL too, and refuses a database that is in use.
#[test]
fn the_demo_runs_on_postgres() {
    let Some((_cluster, url)) = cluster_and_database() else {
        return;
    };
    let out = tearline(&["demo", "--database", &url]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("produce the signed root"), "{stdout}");
    assert!(
        stdout.contains("proven against that checkpoint"),
        "{stdout}"
    );
    let again = tearline(&["demo", "--database", &url]);
    assert!(!again.status.success(), "a used database is refused");
    assert!(String::from_utf8_lossy(&again.stderr).contains("not empty"));
}
