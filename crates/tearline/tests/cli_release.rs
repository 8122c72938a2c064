//! The release commands through the binary: party, account, marking,
//! policy and release request/approve/show/explain, with their JSON shapes
//! and exit codes; and `tearline demo`.

use std::process::{Command, Output};

use serde_json::Value;

fn tearline(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tearline"))
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("running tearline: {e}"))
}

fn ok_json(args: &[&str]) -> Value {
    let out = tearline(args);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{args:?}: {e}: {}", String::from_utf8_lossy(&out.stdout)))
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

const INDICATOR: &str = r#"{"type":"indicator","spec_version":"2.1","id":"indicator--6a8b4f4e-7a1e-4b0b-9d49-0cfc9f3c1f1f","created":"2026-11-01T00:00:00.000Z","modified":"2026-11-01T00:00:00.000Z","pattern":"[ipv4-addr:value = '198.51.100.7']","pattern_type":"stix","valid_from":"2026-11-01T00:00:00Z","object_marking_refs":["marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da"]}"#;

#[test]
fn release_commands_end_to_end() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let data = dir.path().join("data");
    let data = data.to_str().unwrap_or_else(|| panic!("path"));
    ok(&["init", "--data", data]);
    let internal = ok(&[
        "collection",
        "create",
        "--data",
        data,
        "--title",
        "internal",
    ]);
    let internal = internal.trim().lines().last().unwrap_or("").to_owned();
    let party = ok_json(&[
        "party",
        "create",
        "--data",
        data,
        "--name",
        "city",
        "--designation",
        "terrorist-list@2019-01-01",
        "--country",
        "rv",
        "--group",
        "cities",
    ]);
    assert_eq!(party["party"], "city");
    let outbound = party["outbound"]
        .as_str()
        .unwrap_or_else(|| panic!("{party}"))
        .to_owned();
    assert!(party["inbound"].is_string());
    ok(&[
        "account", "create", "--data", data, "--name", "bot", "--role", "partner", "--party",
        "city",
    ]);
    assert!(
        !tearline(&[
            "account", "create", "--data", data, "--name", "x", "--role", "partner"
        ])
        .status
        .success()
    );
    ok(&[
        "account",
        "create",
        "--data",
        data,
        "--name",
        "anna",
        "--role",
        "releasing-officer",
    ]);
    ok(&[
        "account",
        "create",
        "--data",
        data,
        "--name",
        "olaf",
        "--role",
        "releasing-officer",
    ]);

    let file = dir.path().join("indicator.json");
    std::fs::write(&file, INDICATOR).unwrap_or_else(|e| panic!("{e}"));
    ok(&[
        "import",
        "--data",
        data,
        "--collection",
        &internal,
        file.to_str().unwrap_or(""),
    ]);
    ok_json(&[
        "marking",
        "set",
        "--data",
        data,
        "marking-definition--7d1c6a3e-5b0f-4c39-9a51-2f4e8b6c0d11",
        "--withhold",
    ]);

    let policy = dir.path().join("p.cedar");
    std::fs::write(&policy, release::policy::DEFAULT_POLICY).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        ok_json(&["policy", "check", policy.to_str().unwrap_or("")])["valid"],
        true
    );
    let bad = dir.path().join("bad.cedar");
    std::fs::write(&bad, "permit (").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        tearline(&["policy", "check", bad.to_str().unwrap_or("")])
            .status
            .code(),
        Some(1)
    );
    ok_json(&[
        "policy",
        "load",
        "--data",
        data,
        policy.to_str().unwrap_or(""),
    ]);
    assert!(
        ok_json(&["policy", "show", "--data", data])["version"]
            .as_str()
            .unwrap_or("")
            .starts_with("sha256:")
    );

    let requested = ok_json(&[
        "release",
        "request",
        "--data",
        data,
        "--as",
        "anna",
        "--to",
        "city",
        "--object",
        "indicator--6a8b4f4e-7a1e-4b0b-9d49-0cfc9f3c1f1f",
        "--justification",
        "warn",
    ]);
    for key in ["release", "state", "objects", "reasons"] {
        assert!(requested.get(key).is_some(), "{key} in {requested}");
    }
    assert_eq!(
        requested["state"], "pending-approval",
        "the partner is designated"
    );
    let id = requested["release"].as_str().unwrap_or("").to_owned();

    let own = tearline(&["release", "approve", "--data", data, "--as", "anna", &id]);
    assert_eq!(own.status.code(), Some(1), "self-approval is refused");
    let partner = tearline(&["release", "approve", "--data", data, "--as", "bot", &id]);
    assert_eq!(
        partner.status.code(),
        Some(1),
        "partner approval is refused"
    );
    assert_eq!(
        ok_json(&["release", "show", "--data", data, &id])["state"],
        "pending-approval"
    );

    let approved = ok_json(&["release", "approve", "--data", data, "--as", "olaf", &id]);
    assert_eq!(approved["state"], "released");
    let shown = ok_json(&["release", "show", "--data", data, &id]);
    for key in ["release", "state", "objects", "reasons", "approvals"] {
        assert!(shown.get(key).is_some(), "{key} in {shown}");
    }
    assert_eq!(shown["approvals"][0]["account"], "olaf");
    let explained = ok_json(&["release", "explain", "--data", data, &id]);
    assert!(
        explained["policy_version"]
            .as_str()
            .unwrap_or("")
            .starts_with("sha256:")
    );
    assert!(!outbound.is_empty());
}

#[test]
fn demo_runs_and_checks_itself() {
    let out = tearline(&["demo"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("pending-approval"));
    assert!(stdout.contains("state: released"));
    assert!(stdout.contains("riverton / riverton-demo-password"));
    assert!(stdout.contains("checked: no informant"));
}
