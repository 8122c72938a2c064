//! `tearline import` through the binary: a corpus bundle, a re-import
//! (duplicates), gzip JSON lines on stdin with invalid objects, and a
//! truncated input that keeps what was read before the break.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

fn tearline(args: &[&str], stdin: &[u8]) -> Run {
    let mut child = Command::new(env!("CARGO_BIN_EXE_tearline"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|err| panic!("spawn: {err}"));
    if let Some(mut pipe) = child.stdin.take() {
        pipe.write_all(stdin)
            .unwrap_or_else(|err| panic!("stdin: {err}"));
    }
    let output = child
        .wait_with_output()
        .unwrap_or_else(|err| panic!("wait: {err}"));
    Run {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

fn shared_dir() -> PathBuf {
    match std::env::var_os("TEARLINE_SHARED") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared")).to_path_buf(),
    }
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder
        .write_all(bytes)
        .unwrap_or_else(|err| panic!("gzip: {err}"));
    encoder.finish().unwrap_or_else(|err| panic!("gzip: {err}"))
}

/// (read, stored, duplicates, invalid) from the summary line.
fn counts(run: &Run) -> (u64, u64, u64, u64) {
    let line = run
        .stdout
        .lines()
        .find(|line| line.starts_with("imported into "))
        .unwrap_or_else(|| panic!("no summary in {:?} / {:?}", run.stdout, run.stderr));
    let numbers: Vec<u64> = line
        .split_once(": ")
        .map(|(_, rest)| rest)
        .unwrap_or_default()
        .split(", ")
        .map(|part| {
            part.split_whitespace()
                .next()
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| panic!("bad summary {line:?}"))
        })
        .collect();
    match numbers[..] {
        [read, stored, duplicates, invalid] => (read, stored, duplicates, invalid),
        _ => panic!("bad summary {line:?}"),
    }
}

/// A fresh data directory with one collection; returns (dir, collection id).
fn setup() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap_or_else(|err| panic!("tempdir: {err}"));
    let data = dir.path().join("data");
    let data = data.to_str().unwrap_or_else(|| panic!("path"));
    let init = tearline(&["init", "--data", data], b"");
    assert_eq!(init.code, Some(0), "{}", init.stderr);
    let created = tearline(
        &["collection", "create", "--data", data, "--title", "import"],
        b"",
    );
    assert_eq!(created.code, Some(0), "{}", created.stderr);
    let id = created.stdout.lines().last().unwrap_or_default().trim();
    (dir, id.to_owned())
}

fn data_of(dir: &tempfile::TempDir) -> String {
    dir.path().join("data").to_string_lossy().into_owned()
}

const NOTE: &str = r#"{"type":"note","spec_version":"2.1","id":"note--0b5b6e0c-4f3b-4c55-9d0b-3e3a9c1f2a01","created":"2024-01-01T00:00:00.000Z","modified":"2024-01-01T00:00:00.000Z","content":"kept","object_refs":["note--0b5b6e0c-4f3b-4c55-9d0b-3e3a9c1f2a02"]}"#;
const SECOND_NOTE: &str = r#"{"type":"note","spec_version":"2.1","id":"note--0b5b6e0c-4f3b-4c55-9d0b-3e3a9c1f2a02","created":"2024-01-01T00:00:00.000Z","modified":"2024-01-01T00:00:00.000Z","content":"kept too","object_refs":["note--0b5b6e0c-4f3b-4c55-9d0b-3e3a9c1f2a01"]}"#;
/// A note without its required `object_refs`.
const INVALID_NOTE: &str = r#"{"type":"note","spec_version":"2.1","id":"note--0b5b6e0c-4f3b-4c55-9d0b-3e3a9c1f2a03","created":"2024-01-01T00:00:00.000Z","modified":"2024-01-01T00:00:00.000Z","content":"no refs"}"#;
const REPEATED_KEY: &str =
    r#"{"type":"note","type":"note","id":"note--0b5b6e0c-4f3b-4c55-9d0b-3e3a9c1f2a04"}"#;

#[test]
fn imports_a_corpus_bundle_then_finds_every_object_a_duplicate() {
    let (dir, collection) = setup();
    let data = data_of(&dir);
    let bundle = shared_dir().join("corpora/mitre-atlas/stix-atlas.json");
    let text = std::fs::read_to_string(&bundle)
        .unwrap_or_else(|err| panic!("{}: {err}", bundle.display()));
    let expected: serde_json::Value =
        serde_json::from_str(&text).unwrap_or_else(|err| panic!("corpus JSON: {err}"));
    let objects = expected["objects"].as_array().map_or(0, Vec::len) as u64;
    assert!(objects > 500, "the corpus bundle holds {objects} objects");
    let bundle = bundle.to_string_lossy().into_owned();

    // Small batches: many transactions, the last one partial.
    let first = tearline(
        &[
            "import",
            "--data",
            &data,
            "--collection",
            &collection,
            "--batch",
            "100",
            &bundle,
        ],
        b"",
    );
    let (read, stored, duplicates, invalid) = counts(&first);
    assert_eq!(read, objects, "{}", first.stderr);
    // The corpus repeats some (id, modified) versions within the bundle.
    assert_eq!(stored + duplicates + invalid, read, "{}", first.stdout);
    assert!(stored > 0);
    assert_eq!(first.code, Some(if invalid == 0 { 0 } else { 1 }));

    let again = tearline(
        &[
            "import",
            "--data",
            &data,
            "--collection",
            &collection,
            &bundle,
        ],
        b"",
    );
    assert_eq!(
        counts(&again),
        (objects, 0, stored + duplicates, invalid),
        "{}",
        again.stdout
    );
}

#[test]
fn reads_gzip_json_lines_from_stdin_and_explains_invalid_objects() {
    let (dir, collection) = setup();
    let data = data_of(&dir);
    let lines = [NOTE, INVALID_NOTE, REPEATED_KEY, SECOND_NOTE].join("\n");
    let run = tearline(
        &["import", "--data", &data, "--collection", &collection, "-"],
        &gzip(lines.as_bytes()),
    );
    assert_eq!(
        counts(&run),
        (4, 2, 0, 2),
        "{} / {}",
        run.stdout,
        run.stderr
    );
    assert_eq!(run.code, Some(1));
    // Each refused object is named with its place and reason, and the tally
    // counts reasons.
    assert!(
        run.stderr
            .contains("note--0b5b6e0c-4f3b-4c55-9d0b-3e3a9c1f2a03"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("stdin object 2 (line 3)"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("'type'"), "{}", run.stderr);
    let tally: Vec<&str> = run
        .stdout
        .lines()
        .filter(|line| line.trim_start().starts_with("invalid: 1 ×"))
        .collect();
    assert_eq!(tally.len(), 2, "{}", run.stdout);
}

#[test]
fn a_truncated_input_keeps_what_came_before_and_exits_2() {
    let (dir, collection) = setup();
    let data = data_of(&dir);
    let bundle = format!(
        r#"{{"type":"bundle","id":"bundle--5d0092c5-5f74-4287-9642-33f4c354e56d","objects":[{NOTE},{SECOND_NOTE},{{"type":"no"#
    );
    let path = dir.path().join("cut.json");
    std::fs::write(&path, bundle).unwrap_or_else(|err| panic!("write: {err}"));
    let run = tearline(
        &[
            "import",
            "--data",
            &data,
            "--collection",
            &collection,
            &path.to_string_lossy(),
        ],
        b"",
    );
    assert_eq!(run.code, Some(2), "{}", run.stderr);
    assert_eq!(counts(&run), (2, 2, 0, 0), "{}", run.stdout);
    assert!(run.stderr.contains("truncated"), "{}", run.stderr);
}

#[test]
fn an_unknown_collection_is_an_error() {
    let (dir, _) = setup();
    let run = tearline(
        &[
            "import",
            "--data",
            &data_of(&dir),
            "--collection",
            "no-such-collection",
            "-",
        ],
        b"{}",
    );
    assert_ne!(run.code, Some(0));
    assert!(run.stderr.contains("no-such-collection"), "{}", run.stderr);
}
