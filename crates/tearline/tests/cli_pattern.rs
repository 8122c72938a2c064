//! `tearline pattern` through the real binary.

use std::io::Write;
use std::process::{Command, Output, Stdio};

fn tearline(args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_tearline"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting tearline");
    if let Some(mut pipe) = child.stdin.take() {
        pipe.write_all(stdin.unwrap_or("").as_bytes())
            .expect("writing stdin");
    }
    child.wait_with_output().expect("running tearline")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn check_valid_pattern_exits_zero() {
    let out = tearline(&["pattern", "check", "[file:name = 'a.exe']"], None);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(stdout(&out).contains("valid"));
}

#[test]
fn check_invalid_pattern_exits_one_with_position() {
    let out = tearline(&["pattern", "check", "[file:size = ]"], None);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert!(text.contains("line 1, column 14"), "{text}");
    assert!(text.contains('^'), "{text}");
}

#[test]
fn check_respects_the_stix_version() {
    assert_eq!(
        tearline(&["pattern", "check", "[EXISTS file:name]"], None)
            .status
            .code(),
        Some(0)
    );
    let v20 = tearline(
        &[
            "pattern",
            "check",
            "--stix-version",
            "2.0",
            "[EXISTS file:name]",
        ],
        None,
    );
    assert_eq!(v20.status.code(), Some(1));
}

#[test]
fn usage_errors_exit_two() {
    assert_eq!(tearline(&["pattern", "check"], None).status.code(), Some(2));
    let bad_version = tearline(
        &["pattern", "check", "--stix-version", "3.0", "[a:b = 1]"],
        None,
    );
    assert_eq!(bad_version.status.code(), Some(2));
}

#[test]
fn check_lines_from_stdin_writes_json_lines() {
    let out = tearline(
        &["pattern", "check", "-"],
        Some("[file:name = 'a']\n[file:name = ]\n"),
    );
    let lines: Vec<serde_json::Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0], serde_json::json!({"valid": true, "error": null}));
    assert_eq!(lines[1]["valid"], false);
    assert!(
        lines[1]["error"]
            .as_str()
            .is_some_and(|e| e.contains("column 14"))
    );
    assert_eq!(out.status.code(), Some(1));
}

fn observed_file() -> tempfile::NamedTempFile {
    let bundle = serde_json::json!({"type": "bundle", "id": "bundle--1", "objects": [
        {"type": "observed-data", "id": "observed-data--1", "first_observed": "2020-01-01T00:00:00Z",
         "last_observed": "2020-01-01T00:00:00Z", "number_observed": 1, "object_refs": ["file--1"]},
        {"type": "file", "id": "file--1", "name": "a.exe"}
    ]});
    let mut file = tempfile::NamedTempFile::new().expect("temp file");
    file.write_all(bundle.to_string().as_bytes())
        .expect("writing bundle");
    file
}

#[test]
fn match_prints_bindings_and_exit_codes() {
    let file = observed_file();
    let path = file.path().to_str().expect("utf-8 path");
    let hit = tearline(
        &[
            "pattern",
            "match",
            "[file:name = 'a.exe']",
            "--observed",
            path,
        ],
        None,
    );
    assert_eq!(hit.status.code(), Some(0), "{hit:?}");
    let body: serde_json::Value = serde_json::from_str(stdout(&hit).trim()).expect("JSON output");
    assert_eq!(body, serde_json::json!({"matched": [["observed-data--1"]]}));

    let miss = tearline(
        &[
            "pattern",
            "match",
            "[file:name = 'b.exe']",
            "--observed",
            path,
        ],
        None,
    );
    assert_eq!(miss.status.code(), Some(1));
    assert!(stdout(&miss).is_empty());

    let broken = tearline(
        &["pattern", "match", "[file:name = ", "--observed", path],
        None,
    );
    assert_eq!(broken.status.code(), Some(2));
    let missing = tearline(
        &[
            "pattern",
            "match",
            "[file:name = 'a']",
            "--observed",
            "/nonexistent/x.json",
        ],
        None,
    );
    assert_eq!(missing.status.code(), Some(2));
}

#[test]
fn match_reads_json_lines_from_stdin() {
    let lines = concat!(
        r#"{"type": "observed-data", "id": "observed-data--2", "first_observed": "2020-01-01T00:00:00Z", "last_observed": "2020-01-01T00:00:00Z", "number_observed": 1, "object_refs": ["ipv4-addr--1"]}"#,
        "\n",
        r#"{"type": "ipv4-addr", "id": "ipv4-addr--1", "value": "10.0.0.1"}"#,
        "\n"
    );
    let out = tearline(
        &[
            "pattern",
            "match",
            "[ipv4-addr:value ISSUBSET '10.0.0.0/8']",
            "--observed",
            "-",
        ],
        Some(lines),
    );
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(stdout(&out).contains("observed-data--2"));
}
