//! `tearline validate` run as a process: exit codes, output formats, and
//! bad input of every kind (a clear message, never a panic).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn tearline(args: &[&str], stdin: Option<&[u8]>) -> Run {
    let mut command = Command::new(env!("CARGO_BIN_EXE_tearline"));
    command
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = match command.spawn() {
        Ok(child) => child,
        Err(err) => panic!("cannot start tearline: {err}"),
    };
    if let (Some(bytes), Some(mut pipe)) = (stdin, child.stdin.take()) {
        // The child may stop reading early (a bad input); that is fine.
        let _ = pipe.write_all(bytes);
    }
    let output = match child.wait_with_output() {
        Ok(output) => output,
        Err(err) => panic!("tearline did not finish: {err}"),
    };
    let run = Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    };
    assert!(
        !run.stderr.contains("panicked"),
        "tearline panicked: {}",
        run.stderr
    );
    run
}

struct Files {
    dir: tempfile::TempDir,
}

impl Files {
    fn new() -> Self {
        match tempfile::tempdir() {
            Ok(dir) => Files { dir },
            Err(err) => panic!("no temp dir: {err}"),
        }
    }

    fn write(&self, name: &str, bytes: &[u8]) -> String {
        let path = self.dir.path().join(name);
        if let Err(err) = std::fs::write(&path, bytes) {
            panic!("cannot write {name}: {err}");
        }
        path.display().to_string()
    }
}

fn validate_file(bytes: &[u8], extra: &[&str]) -> Run {
    let files = Files::new();
    let path = files.write("input", bytes);
    let mut args = vec!["validate"];
    args.extend_from_slice(extra);
    args.push(&path);
    tearline(&args, None)
}

fn json_lines(stdout: &str) -> Vec<Value> {
    stdout
        .lines()
        .map(|line| match serde_json::from_str(line) {
            Ok(value) => value,
            Err(err) => panic!("not a JSON line ({err}): {line}"),
        })
        .collect()
}

fn rules(report: &Value) -> Vec<String> {
    report["findings"]
        .as_array()
        .map(|findings| {
            findings
                .iter()
                .filter_map(|f| f["rule"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let written = encoder.write_all(bytes).and_then(|()| encoder.finish());
    written.unwrap_or_default()
}

fn shared_dir() -> PathBuf {
    match std::env::var_os("TEARLINE_SHARED") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared")).to_path_buf(),
    }
}

const IDENTITY: &str = r#"{"type":"identity","spec_version":"2.1","id":"identity--311b2d2d-f010-4473-83ec-1edf84858f4c","created":"2015-12-21T19:59:11.000Z","modified":"2015-12-21T19:59:11.000Z","name":"Cole Powers","identity_class":"individual"}"#;

fn bundle_of(objects: &[&str]) -> String {
    format!(
        "{{\"type\":\"bundle\",\"id\":\"bundle--44af6c39-c09b-49c5-9de2-394224b04982\",\"objects\":[{}]}}",
        objects.join(",\n")
    )
}

#[test]
fn valid_bundle_exits_zero_with_a_summary() {
    let run = validate_file(bundle_of(&[IDENTITY, IDENTITY]).as_bytes(), &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("checked 2 objects in 1 file: 2 valid, 0 invalid"),
        "{}",
        run.stderr
    );
}

#[test]
fn every_layout_is_read() {
    let layouts: [(&str, String); 4] = [
        ("bundle", bundle_of(&[IDENTITY, IDENTITY])),
        ("object", IDENTITY.to_string()),
        ("array", format!("[{IDENTITY},\n{IDENTITY}]")),
        (
            "json lines",
            format!("{IDENTITY}\n{IDENTITY}\n{IDENTITY}\n"),
        ),
    ];
    for (layout, text) in layouts {
        let expected = match layout {
            "object" => 1,
            "json lines" => 3,
            _ => 2,
        };
        let run = validate_file(text.as_bytes(), &["--format", "json"]);
        assert_eq!(run.code, 0, "{layout}: {}", run.stderr);
        let reports = json_lines(&run.stdout);
        assert_eq!(reports.len(), expected, "{layout}");
        for report in &reports {
            assert_eq!(report["valid"], Value::Bool(true), "{layout}: {report}");
            assert_eq!(
                report["id"].as_str(),
                Some("identity--311b2d2d-f010-4473-83ec-1edf84858f4c")
            );
        }
        // The same through gzip.
        let run = validate_file(&gzip(text.as_bytes()), &["--format", "json"]);
        assert_eq!(run.code, 0, "{layout} gz: {}", run.stderr);
        assert_eq!(json_lines(&run.stdout).len(), expected, "{layout} gz");
    }
}

#[test]
fn stdin_plain_and_gzip() {
    let text = bundle_of(&[IDENTITY]);
    for input in [text.as_bytes().to_vec(), gzip(text.as_bytes())] {
        let run = tearline(&["validate", "--format", "json", "-"], Some(&input));
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert_eq!(json_lines(&run.stdout).len(), 1);
    }
}

#[test]
fn json_format_has_the_promised_keys() {
    let broken = IDENTITY.replace("\"name\"", "\"type\":\"identity\",\"name\"");
    let run = validate_file(
        bundle_of(&[IDENTITY, &broken]).as_bytes(),
        &["--format", "json"],
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    let reports = json_lines(&run.stdout);
    assert_eq!(reports.len(), 2);
    for report in &reports {
        for key in ["id", "valid", "findings"] {
            assert!(report.get(key).is_some(), "{key} missing: {report}");
        }
        for finding in report["findings"].as_array().into_iter().flatten() {
            for key in ["severity", "rule", "path", "message"] {
                assert!(finding[key].is_string(), "{key}: {finding}");
            }
        }
    }
    assert_eq!(reports[1]["valid"], Value::Bool(false));
    assert_eq!(rules(&reports[1]), ["json-duplicate-key"]);
    // A lenient reading still finds the id of the broken object.
    assert_eq!(reports[1]["id"], reports[0]["id"]);
    // Nothing but JSON lines on stdout; no summary in this format.
    assert!(!run.stderr.contains("checked"), "{}", run.stderr);
}

#[test]
fn human_format_groups_findings_per_object() {
    let broken = IDENTITY.replace("\"name\"", "\"type\":\"identity\",\"name\"");
    let run = validate_file(bundle_of(&[IDENTITY, &broken]).as_bytes(), &[]);
    assert_eq!(run.code, 1);
    let mut lines = run.stdout.lines();
    let header = lines.next().unwrap_or_default();
    assert!(
        header.ends_with(": object 1 (line 2) identity--311b2d2d-f010-4473-83ec-1edf84858f4c"),
        "{header}"
    );
    let finding = lines.next().unwrap_or_default();
    assert!(
        finding.starts_with("  error   [json-duplicate-key] $: "),
        "{finding}"
    );
    assert!(
        run.stderr
            .contains("2 objects in 1 file: 1 valid, 1 invalid"),
        "{}",
        run.stderr
    );
}

#[test]
fn object_without_id_is_invalid_and_id_is_null() {
    let no_id = r#"{"type":"identity","spec_version":"2.1","name":"x"}"#;
    let run = validate_file(no_id.as_bytes(), &["--format", "json"]);
    assert_eq!(run.code, 1);
    let reports = json_lines(&run.stdout);
    assert_eq!(reports.len(), 1);
    assert_eq!(reports[0]["id"], Value::Null);
    assert_eq!(reports[0]["valid"], Value::Bool(false));
}

#[test]
fn strict_makes_every_finding_an_error() {
    // A corpus file with many findings (ATT&CK carries custom properties).
    let path = shared_dir().join("corpora/attack-stix-data/ics-attack-18.1.json");
    let path = path.display().to_string();
    let lenient = tearline(&["validate", "--format", "json", &path], None);
    let strict = tearline(&["validate", "--strict", "--format", "json", &path], None);
    assert!(lenient.code == 0 || lenient.code == 1, "{}", lenient.stderr);
    let lenient = json_lines(&lenient.stdout);
    let strict_reports = json_lines(&strict.stdout);
    assert_eq!(lenient.len(), 1826);
    assert_eq!(strict_reports.len(), 1826);
    let mut any_finding = false;
    for (loose, tight) in lenient.iter().zip(&strict_reports) {
        let findings = tight["findings"].as_array().cloned().unwrap_or_default();
        any_finding |= !findings.is_empty();
        assert_eq!(tight["valid"], Value::Bool(findings.is_empty()), "{tight}");
        assert!(findings.iter().all(|f| f["severity"] == "error"), "{tight}");
        assert_eq!(rules(loose), rules(tight));
        let loose_errors = loose["findings"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|f| f["severity"] == "error");
        assert_eq!(loose["valid"], Value::Bool(!loose_errors));
    }
    assert_eq!(strict.code, if any_finding { 1 } else { 0 });
}

#[test]
fn unreadable_inputs_exit_two_with_a_reason() {
    let cases: [(&str, Vec<u8>, &str); 6] = [
        ("empty", Vec::new(), "empty"),
        ("blank", b"  \n\n".to_vec(), "empty"),
        (
            "binary",
            b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec(),
            "not text",
        ),
        (
            "truncated",
            bundle_of(&[IDENTITY, IDENTITY]).as_bytes()[..300].to_vec(),
            "truncated",
        ),
        (
            "not json",
            b"type: bundle\n".to_vec(),
            "does not look like STIX JSON",
        ),
        (
            "truncated gzip",
            {
                let whole = gzip(bundle_of(&[IDENTITY; 20]).as_bytes());
                whole[..whole.len() / 2].to_vec()
            },
            "gzip",
        ),
    ];
    for (name, bytes, reason) in cases {
        let run = validate_file(&bytes, &[]);
        assert_eq!(run.code, 2, "{name}: {}", run.stderr);
        assert!(run.stderr.contains("error: "), "{name}: {}", run.stderr);
        assert!(run.stderr.contains(reason), "{name}: {}", run.stderr);
    }
}

#[test]
fn missing_file_exits_two_but_others_are_checked() {
    let files = Files::new();
    let good = files.write("good.json", IDENTITY.as_bytes());
    let run = tearline(&["validate", "/nonexistent/stix.json", &good], None);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("/nonexistent/stix.json: cannot open"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("checked 1 object in 2 files"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("1 file could not be read"),
        "{}",
        run.stderr
    );
}

#[test]
fn bad_objects_are_findings_and_exit_one() {
    let deep = format!("{}{}", "[".repeat(20_000), "]".repeat(20_000));
    let cases: [(&str, String, &str); 8] = [
        (
            "duplicate key",
            r#"{"type":"x","type":"y"}"#.into(),
            "json-duplicate-key",
        ),
        (
            "nesting",
            format!(r#"{{"type":"x","deep":{deep}}}"#),
            "json-too-deep",
        ),
        (
            "huge float",
            r#"{"type":"x","n":1e400}"#.into(),
            "json-number-out-of-range",
        ),
        (
            "huge integer",
            r#"{"type":"x","n":123456789012345678901234567890}"#.into(),
            "json-number-out-of-range",
        ),
        ("NaN", r#"{"type":"x","n":NaN}"#.into(), "json-not-a-number"),
        ("not an object", "7".into(), "json-not-an-object"),
        ("grammar", r#"{"type":"x" "id":"y"}"#.into(), "json-syntax"),
        ("wrong type", "[]".into(), ""),
    ];
    for (name, element, rule) in cases {
        // As an element of a bundle, followed by a good object that must
        // still be checked.
        let text = format!("{{\"type\":\"bundle\",\"objects\":[{element},\n{IDENTITY}]}}");
        let run = validate_file(text.as_bytes(), &["--format", "json"]);
        assert_eq!(run.code, 1, "{name}: {}", run.stderr);
        let reports = json_lines(&run.stdout);
        assert_eq!(reports.len(), 2, "{name}");
        assert_eq!(reports[0]["valid"], Value::Bool(false), "{name}");
        if !rule.is_empty() {
            assert_eq!(rules(&reports[0]), [rule], "{name}");
        }
        assert_eq!(reports[1]["valid"], Value::Bool(true), "{name}");
    }
}

#[test]
fn invalid_utf8_is_a_finding() {
    let mut text = b"[{\"type\":\"x\",\"name\":\"".to_vec();
    text.extend_from_slice(b"\xff\xfe");
    text.extend_from_slice(format!("\"}},{IDENTITY}]").as_bytes());
    let run = validate_file(&text, &["--format", "json"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let reports = json_lines(&run.stdout);
    assert_eq!(rules(&reports[0]), ["json-invalid-utf8"]);
    assert_eq!(reports[1]["valid"], Value::Bool(true));
}

#[test]
fn fifty_megabyte_string_is_a_finding() {
    let big = "A".repeat(50 * 1024 * 1024);
    let text = format!(
        "{{\"type\":\"bundle\",\"objects\":[{{\"type\":\"x\",\"s\":\"{big}\"}},{IDENTITY}]}}"
    );
    drop(big);
    let run = validate_file(text.as_bytes(), &["--format", "json"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let reports = json_lines(&run.stdout);
    assert_eq!(rules(&reports[0]), ["json-object-too-large"]);
    assert_eq!(reports[1]["valid"], Value::Bool(true));
}

#[test]
fn stix20_bundle_is_noted() {
    let text = "{\"type\":\"bundle\",\"spec_version\":\"2.0\",\"objects\":[]}";
    let run = validate_file(text.as_bytes(), &[]);
    assert_eq!(run.code, 0);
    assert!(
        run.stderr.contains("\"spec_version\": \"2.0\""),
        "{}",
        run.stderr
    );
}

#[test]
fn help_explains_inputs_and_exit_codes() {
    let run = tearline(&["validate", "--help"], None);
    assert_eq!(run.code, 0);
    for needle in [
        "--strict",
        "--format",
        "JSON lines",
        "gzip",
        "Exit status",
        "2  an input",
    ] {
        assert!(run.stdout.contains(needle), "{needle}: {}", run.stdout);
    }
}
