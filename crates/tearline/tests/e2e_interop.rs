//! Interop with the OASIS Python tools: starts the binary and runs
//! tests/interop/taxii_interop.py (taxii2-client and stix2) against it, on
//! objects from the shared corpora.

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

fn shared_dir() -> PathBuf {
    std::env::var_os("TEARLINE_SHARED").map_or_else(
        || PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared")),
        PathBuf::from,
    )
}

fn run(args: &[&str], stdin: &str) -> String {
    let mut child = Command::new(env!("CARGO_BIN_EXE_tearline"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|err| panic!("spawn: {err}"));
    if let Some(mut pipe) = child.stdin.take() {
        pipe.write_all(stdin.as_bytes())
            .unwrap_or_else(|err| panic!("stdin: {err}"));
    }
    let output = child
        .wait_with_output()
        .unwrap_or_else(|err| panic!("wait: {err}"));
    assert!(
        output.status.success(),
        "tearline {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
#[ignore = "needs the peer Python tools; run by scripts/test"]
fn taxii2_client_and_stix2_against_tearline() {
    let python = std::env::var("TEARLINE_PYTHON")
        .unwrap_or_else(|_| panic!("TEARLINE_PYTHON must name the Python with taxii2-client"));
    let dir = tempfile::tempdir().unwrap_or_else(|err| panic!("{err}"));
    let data = dir.path().join("data").to_string_lossy().into_owned();
    run(&["init", "--data", &data], "");
    let out = run(
        &[
            "collection",
            "create",
            "--data",
            &data,
            "--title",
            "interop",
        ],
        "",
    );
    let collection = out.lines().last().unwrap_or_default().trim().to_owned();
    run(
        &[
            "account",
            "create",
            "--data",
            &data,
            "--name",
            "interop",
            "--password-stdin",
            "--read",
            &collection,
            "--write",
            &collection,
        ],
        "interop-pw\n",
    );
    let mut child = Command::new(env!("CARGO_BIN_EXE_tearline"))
        .args(["serve", "--data", &data, "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|err| panic!("spawn serve: {err}"));
    let stdout = child.stdout.take().unwrap_or_else(|| panic!("no stdout"));
    let server = Server(child);
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .unwrap_or_else(|err| panic!("{err}"));
    let url = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected: {line:?}"))
        .to_owned();

    let corpora = shared_dir().join("corpora");
    let bundles = [
        corpora.join("cti-documentation/apt1.json"),
        corpora.join("cti-documentation/poisonivy.json"),
        corpora.join("mitre-atlas/stix-atlas.json"),
    ];
    let script = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/interop/taxii_interop.py"
    ));
    let output = Command::new(&python)
        .arg(&script)
        .args([url.as_str(), "interop", "interop-pw"])
        .args(&bundles)
        .output()
        .unwrap_or_else(|err| panic!("running {python}: {err}"));
    drop(server);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "interop failed:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("interop ok"), "{stdout}\n{stderr}");
}
