//! End to end through the binary over a real socket: init, collection,
//! account, token, serve on a free port, POST, GET, and an admin command
//! while the server runs.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};

use base64::Engine;
use serde_json::{Value, json};

const TAXII: &str = "application/taxii+json;version=2.1";

fn tearline(args: &[&str], stdin: Option<&str>) -> (bool, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_tearline"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|err| panic!("spawn: {err}"));
    if let Some(mut pipe) = child.stdin.take() {
        pipe.write_all(stdin.unwrap_or("").as_bytes())
            .unwrap_or_else(|err| panic!("stdin: {err}"));
    }
    let output = child
        .wait_with_output()
        .unwrap_or_else(|err| panic!("wait: {err}"));
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn last_line(text: &str) -> String {
    text.lines().last().unwrap_or_default().trim().to_owned()
}

/// Kills the server when the test ends, however it ends.
struct Server {
    child: Child,
    address: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(data: &Path) -> Server {
    let mut child = Command::new(env!("CARGO_BIN_EXE_tearline"))
        .args(["serve", "--data"])
        .arg(data)
        .args(["--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|err| panic!("spawn serve: {err}"));
    let stdout = child.stdout.take().unwrap_or_else(|| panic!("no stdout"));
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .unwrap_or_else(|err| panic!("reading the listening line: {err}"));
    let address = line
        .trim()
        .strip_prefix("listening on http://")
        .and_then(|rest| rest.strip_suffix("/taxii2/"))
        .unwrap_or_else(|| panic!("unexpected first line: {line:?}"))
        .to_owned();
    Server { child, address }
}

struct Answer {
    status: u16,
    headers: String,
    body: String,
}

/// A minimal HTTP/1.1 client: one request per connection.
fn http(address: &str, method: &str, path: &str, auth: Option<&str>, body: Option<&str>) -> Answer {
    let mut stream = TcpStream::connect(address).unwrap_or_else(|err| panic!("connect: {err}"));
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {address}\r\nAccept: {TAXII}\r\nConnection: close\r\n"
    );
    if let Some(auth) = auth {
        request.push_str(&format!("Authorization: {auth}\r\n"));
    }
    if let Some(body) = body {
        request.push_str(&format!(
            "Content-Type: {TAXII}\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    request.push_str("\r\n");
    request.push_str(body.unwrap_or(""));
    stream
        .write_all(request.as_bytes())
        .unwrap_or_else(|err| panic!("write: {err}"));
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .unwrap_or_else(|err| panic!("read: {err}"));
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

fn json_of(answer: &Answer) -> Value {
    serde_json::from_str(&answer.body).unwrap_or_else(|err| panic!("{err}: {}", answer.body))
}

#[test]
fn init_create_serve_post_get() {
    let dir = tempfile::tempdir().unwrap_or_else(|err| panic!("{err}"));
    let data = dir.path().join("data");
    let data_arg = data.to_string_lossy().into_owned();

    let (ok, _, err) = tearline(&["init", "--data", &data_arg], None);
    assert!(ok, "init: {err}");
    let (ok, _, _) = tearline(&["init", "--data", &data_arg], None);
    assert!(!ok, "a second init refuses");

    let (ok, out, err) = tearline(
        &[
            "collection",
            "create",
            "--data",
            &data_arg,
            "--title",
            "Intel",
            "--description",
            "e2e",
        ],
        None,
    );
    assert!(ok, "collection create: {err}");
    let collection = last_line(&out);
    assert_eq!(collection.len(), 36, "a UUID: {out}");

    let (ok, _, err) = tearline(
        &[
            "account",
            "create",
            "--data",
            &data_arg,
            "--name",
            "alice",
            "--password-stdin",
            "--read",
            &collection,
            "--write",
            &collection,
            "--role",
            "analyst",
            "--party",
            "Home",
        ],
        Some("pa ss\n"),
    );
    assert!(ok, "account create: {err}");
    let (ok, _, _) = tearline(
        &[
            "account", "create", "--data", &data_arg, "--name", "bob", "--role", "wizard",
        ],
        None,
    );
    assert!(!ok, "unknown roles are refused");
    let (ok, out, err) = tearline(
        &["token", "create", "--data", &data_arg, "--account", "alice"],
        None,
    );
    assert!(ok, "token create: {err}");
    let token = last_line(&out);

    let server = serve(&data);
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode("alice:pa ss")
    );
    let anonymous = http(&server.address, "GET", "/taxii2/", None, None);
    assert_eq!(anonymous.status, 401);
    assert!(anonymous.headers.contains("www-authenticate"));
    let wrong = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode("alice:pa ss\n")
    );
    assert_eq!(
        http(&server.address, "GET", "/taxii2/", Some(&wrong), None).status,
        401
    );

    let discovery = http(&server.address, "GET", "/taxii2/", Some(&basic), None);
    assert_eq!(discovery.status, 200);
    assert!(discovery.headers.contains(TAXII));
    assert_eq!(json_of(&discovery)["api_roots"], json!(["/api1/"]));

    let object = json!({
        "type": "identity", "spec_version": "2.1",
        "id": "identity--00000000-0000-4000-8000-000000000001",
        "created": "2020-01-01T00:00:00.000Z", "modified": "2020-01-01T00:00:00.000Z",
        "name": "ACME", "identity_class": "organization"
    });
    let objects = format!("/api1/collections/{collection}/objects/");
    let posted = http(
        &server.address,
        "POST",
        &objects,
        Some(&format!("Bearer {token}")),
        Some(&json!({ "objects": [object] }).to_string()),
    );
    assert_eq!(posted.status, 202, "{}", posted.body);
    let status = json_of(&posted);
    assert_eq!(status["success_count"], json!(1));
    let status_path = format!("/api1/status/{}", status["id"].as_str().unwrap_or_default());
    assert_eq!(
        http(&server.address, "GET", &status_path, Some(&basic), None).status,
        200
    );

    let fetched = http(&server.address, "GET", &objects, Some(&basic), None);
    assert_eq!(fetched.status, 200);
    assert!(fetched.headers.contains("x-taxii-date-added-first"));
    assert_eq!(json_of(&fetched)["objects"], json!([object]));

    // Admin commands work while the server holds the database.
    let (ok, out, err) = tearline(
        &[
            "collection",
            "create",
            "--data",
            &data_arg,
            "--title",
            "Second",
        ],
        None,
    );
    assert!(ok, "collection create while serving: {err}");
    let second = last_line(&out);
    let (ok, _, err) = tearline(
        &[
            "account",
            "create",
            "--data",
            &data_arg,
            "--name",
            "carol",
            "--password-stdin",
            "--read",
            &second,
        ],
        Some("pw"),
    );
    assert!(ok, "account create while serving: {err}");
    let carol = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode("carol:pw")
    );
    let listed = json_of(&http(
        &server.address,
        "GET",
        "/api1/collections/",
        Some(&carol),
        None,
    ));
    assert_eq!(listed["collections"][0]["id"], json!(second));
    assert_eq!(listed["collections"].as_array().map(Vec::len), Some(1));
    // carol cannot see alice's collection: same 404 as a missing one.
    let hidden = http(&server.address, "GET", &objects, Some(&carol), None);
    assert_eq!(hidden.status, 404);

    // Import through the CLI while serving, then read it over HTTP.
    let bundle = dir.path().join("bundle.json");
    let note = json!({
        "type": "note", "spec_version": "2.1", "id": "note--00000000-0000-4000-8000-000000000002",
        "created": "2020-01-01T00:00:00.000Z", "modified": "2020-01-01T00:00:00.000Z",
        "content": "imported", "object_refs": ["identity--00000000-0000-4000-8000-000000000001"]
    });
    std::fs::write(
        &bundle,
        json!({"type": "bundle", "id": "bundle--00000000-0000-4000-8000-000000000003", "objects": [note, {"type": "note"}]}).to_string(),
    )
    .unwrap_or_else(|err| panic!("{err}"));
    let (ok, out, _) = tearline(
        &[
            "import",
            "--data",
            &data_arg,
            "--collection",
            &collection,
            &bundle.to_string_lossy(),
        ],
        None,
    );
    assert!(!ok, "a rejected object makes import exit non-zero");
    assert!(
        out.contains("1 stored") && out.contains("1 invalid"),
        "{out}"
    );
    let note_path = format!("{objects}note--00000000-0000-4000-8000-000000000002/");
    assert_eq!(
        json_of(&http(
            &server.address,
            "GET",
            &note_path,
            Some(&basic),
            None
        ))["objects"],
        json!([note])
    );
}

#[test]
fn commands_explain_a_missing_data_directory() {
    let dir = tempfile::tempdir().unwrap_or_else(|err| panic!("{err}"));
    let missing = dir.path().join("nothing").to_string_lossy().into_owned();
    let (ok, _, err) = tearline(
        &["collection", "create", "--data", &missing, "--title", "x"],
        None,
    );
    assert!(!ok);
    assert!(err.contains("tearline init"), "{err}");
    let (ok, out, _) = tearline(&["serve", "--help"], None);
    assert!(ok);
    for flag in [
        "--listen",
        "--metrics-listen",
        "--tls-cert",
        "--max-content-length",
        "TEARLINE_LISTEN",
    ] {
        assert!(out.contains(flag), "--help mentions {flag}");
    }
}
