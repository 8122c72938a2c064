//! The ledger over HTTP: partners see their own log and nothing else; a
//! partner turns an object it received over TAXII into an inclusion proof
//! against a signed checkpoint; consistency proofs; witness cosignatures
//! stored and served; internal records for auditors only.

#[path = "support/release_world.rs"]
mod support;

use axum::http::StatusCode;
use ledger::{Hash, SignatureType, SignerKey, VerifierKey};
use serde_json::{Value, json};
use server::releases;
use store::{ReleaseState, Store};
use support::{NOW, REPORT, World, call, partner_objects, world};

const P: &str = "/api/v1/ledger";

async fn release_to(world: &World, party: &str) -> String {
    let store: &dyn Store = world.store.as_ref();
    let summary = releases::request(store, "anna", party, &[REPORT.to_owned()], "warn", NOW)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    if summary.state == ReleaseState::PendingApproval {
        releases::approve(store, &summary.release, "olaf", NOW + 1)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    }
    summary.release
}

async fn get(world: &World, path: &str, account: &str) -> support::Answer {
    call(&world.app, "GET", path, Some(world.bearer(account)), None).await
}

async fn log_key(world: &World) -> VerifierKey {
    let answer = get(world, &format!("{P}/key"), "city-bot").await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    VerifierKey::parse(answer.text.trim()).unwrap_or_else(|e| panic!("{e}"))
}

fn hashes(value: &Value) -> Vec<Hash> {
    value
        .as_array()
        .unwrap_or_else(|| panic!("{value}"))
        .iter()
        .map(|h| Hash::from_hex(h.as_str().unwrap_or_default()).unwrap_or_else(|e| panic!("{e}")))
        .collect()
}

#[tokio::test]
async fn a_partner_proves_what_it_received() {
    let world = world().await;
    let release = release_to(&world, "city").await;
    release_to(&world, "other").await;
    let key = log_key(&world).await;

    let answer = get(&world, &format!("{P}/logs/city/checkpoint"), "city-bot").await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    assert_eq!(
        answer.header("content-type"),
        Some("text/plain; charset=utf-8")
    );
    let note = answer.text;
    let checkpoint = ledger::verify_checkpoint(&note, &key, &[])
        .unwrap_or_else(|e| panic!("{e}"))
        .checkpoint;
    assert_eq!(
        checkpoint.origin(),
        format!("{}/city", support::LEDGER_NAME)
    );
    assert_eq!(checkpoint.size(), 1);

    let records = get(&world, &format!("{P}/logs/city/records"), "city-bot").await;
    assert_eq!(records.status, StatusCode::OK, "{}", records.text);
    let records = records.json();
    assert_eq!(records["size"], 1);
    assert_eq!(
        records["records"][0]["record"]["release_id"],
        release.as_str()
    );
    assert!(
        !records.to_string().contains("warn"),
        "no justification in partner-visible records"
    );

    // Every object the partner reads over TAXII is listed and provable.
    let objects = partner_objects(&world, "city-bot").await;
    assert!(!objects.is_empty());
    for object in &objects {
        let canonical =
            stix::canonical::to_canonical_bytes(object).unwrap_or_else(|e| panic!("{e}"));
        let sha = ledger::object_sha256(&canonical).to_hex();
        let proof = get(
            &world,
            &format!("{P}/logs/city/proof/inclusion?object_sha256={sha}"),
            "city-bot",
        )
        .await;
        assert_eq!(
            proof.status,
            StatusCode::OK,
            "{}: {}",
            object["id"],
            proof.text
        );
        let proof = proof.json();
        let leaf = Hash::from_hex(proof["leaf_hash"].as_str().unwrap_or_default())
            .unwrap_or_else(|e| panic!("{e}"));
        let index = proof["index"].as_u64().unwrap_or(u64::MAX);
        ledger::verify_inclusion(
            &leaf,
            index,
            checkpoint.size(),
            &hashes(&proof["proof"]),
            checkpoint.root(),
        )
        .unwrap_or_else(|e| panic!("{}: {e}", object["id"]));
        // The leaf bytes served raw hash to that leaf.
        let raw = get(
            &world,
            &format!("{P}/logs/city/records/{index}"),
            "city-bot",
        )
        .await;
        assert_eq!(ledger::leaf_hash(raw.text.as_bytes()), leaf);
        assert_eq!(raw.header("x-leaf-hash"), Some(leaf.to_hex().as_str()));
    }

    // The other partner's log, and things that do not exist, look the same.
    let hidden = get(&world, &format!("{P}/logs/other/checkpoint"), "city-bot").await;
    let missing = get(&world, &format!("{P}/logs/nobody/checkpoint"), "city-bot").await;
    assert_eq!(hidden.status, StatusCode::NOT_FOUND);
    assert_eq!(hidden.text, missing.text);
    let logs = get(&world, &format!("{P}/logs"), "city-bot").await.json();
    assert_eq!(logs["logs"].as_array().map(Vec::len), Some(1), "{logs}");
    assert_eq!(logs["logs"][0]["party"], "city");
    // Staff see every log.
    let logs = get(&world, &format!("{P}/logs"), "aude").await.json();
    assert_eq!(logs["logs"].as_array().map(Vec::len), Some(2), "{logs}");
    // An account tied to a partner but not a partner role sees nothing either.
    let mole = get(&world, &format!("{P}/logs/city/checkpoint"), "mole").await;
    assert_eq!(mole.status, StatusCode::NOT_FOUND);
    // No credentials: 401 with a challenge.
    let anonymous = call(&world.app, "GET", &format!("{P}/key"), None, None).await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    assert!(anonymous.header("www-authenticate").is_some());
}

#[tokio::test]
async fn consistency_proofs_bad_queries_and_internal_records() {
    let world = world().await;
    let key = log_key(&world).await;
    let first = get(&world, &format!("{P}/logs/city/checkpoint"), "city-bot")
        .await
        .text;
    for _ in 0..3 {
        release_to(&world, "city").await;
    }
    let after = get(&world, &format!("{P}/logs/city/checkpoint"), "city-bot")
        .await
        .text;
    let old = ledger::verify_checkpoint(&first, &key, &[]).unwrap_or_else(|e| panic!("{e}"));
    let new = ledger::verify_checkpoint(&after, &key, &[]).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(new.checkpoint.size(), 3);
    for old_size in [0u64, 1, 2] {
        let proof = get(
            &world,
            &format!("{P}/logs/city/proof/consistency?old={old_size}"),
            "city-bot",
        )
        .await;
        assert_eq!(proof.status, StatusCode::OK, "{}", proof.text);
        let proof = proof.json();
        assert_eq!(proof["new"], 3);
        if old_size == 0 {
            ledger::verify_checkpoint_consistency(&first, &after, &hashes(&proof["proof"]), &key)
                .unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(old.checkpoint.size(), 0);
        }
    }
    for bad in [
        "proof/consistency?old=9",
        "proof/consistency",
        "proof/consistency?old=x",
        "proof/inclusion?index=3",
        "proof/inclusion",
        "proof/inclusion?index=0&object_sha256=00",
        "proof/inclusion?object_sha256=zz",
        "proof/inclusion?index=0&size=99",
        "records?start=-1",
        "records?bogus=1",
    ] {
        let answer = get(&world, &format!("{P}/logs/city/{bad}"), "city-bot").await;
        assert_eq!(
            answer.status,
            StatusCode::BAD_REQUEST,
            "{bad}: {}",
            answer.text
        );
        assert_eq!(answer.json()["error"]["code"], "bad_request", "{bad}");
    }

    // The internal record behind leaf 1 matches its commitment; auditors only.
    let internal = get(&world, &format!("{P}/logs/city/internal/1"), "aude").await;
    assert_eq!(internal.status, StatusCode::OK, "{}", internal.text);
    let internal = internal.json();
    assert_eq!(internal["matches"], true);
    assert_eq!(internal["internal"]["justification"], "warn");
    assert_eq!(internal["internal"]["requester"], "anna");
    let analyst = get(&world, &format!("{P}/logs/city/internal/1"), "anna").await;
    assert_eq!(analyst.status, StatusCode::FORBIDDEN);
    let partner = get(&world, &format!("{P}/logs/city/internal/1"), "city-bot").await;
    assert_eq!(partner.status, StatusCode::NOT_FOUND);
    assert!(!partner.text.contains("warn"));
}

#[tokio::test]
async fn witnesses_cosign_checkpoints() {
    let world = world().await;
    release_to(&world, "city").await;
    let key = log_key(&world).await;
    let note = get(&world, &format!("{P}/logs/city/checkpoint"), "city-bot")
        .await
        .text;
    let witness = SignerKey::generate(
        "city.example/witness",
        SignatureType::CosignatureV1,
        &mut rand::rngs::OsRng,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let body = ledger::verify_checkpoint(&note, &key, &[])
        .unwrap_or_else(|e| panic!("{e}"))
        .checkpoint
        .to_body();
    let mut cosigned = ledger::Note::parse(&note).unwrap_or_else(|e| panic!("{e}"));
    cosigned
        .add_signature(
            witness
                .cosign(&body, 1_795_000_000)
                .unwrap_or_else(|e| panic!("{e}")),
        )
        .unwrap_or_else(|e| panic!("{e}"));
    let cosigned = cosigned.to_text().unwrap_or_else(|e| panic!("{e}"));
    let post = |account: &'static str, checkpoint: String| {
        let world = &world;
        let witness_key = witness.verifier().to_string();
        async move {
            call(
                &world.app,
                "POST",
                &format!("{P}/logs/city/cosignatures"),
                Some(world.bearer(account)),
                Some(&json!({"key": witness_key, "checkpoint": checkpoint})),
            )
            .await
        }
    };
    // Not the partner or an auditor: refused.
    assert_eq!(
        post("anna", cosigned.clone()).await.status,
        StatusCode::FORBIDDEN
    );
    // A checkpoint without the witness's line, or a forged one: refused.
    assert_eq!(
        post("city-bot", note.clone()).await.status,
        StatusCode::BAD_REQUEST
    );
    let forged = cosigned.replacen("\n1\n", "\n2\n", 1);
    assert_eq!(
        post("city-bot", forged).await.status,
        StatusCode::BAD_REQUEST
    );
    let accepted = post("city-bot", cosigned.clone()).await;
    assert_eq!(accepted.status, StatusCode::CREATED, "{}", accepted.text);
    assert_eq!(accepted.json()["size"], 1);

    // The served checkpoint now carries the cosignature.
    let served = get(&world, &format!("{P}/logs/city/checkpoint"), "aude")
        .await
        .text;
    let verified = ledger::verify_checkpoint(&served, &key, &[witness.verifier()])
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(verified.signatures.len(), 2);
    assert_eq!(verified.signatures[1].timestamp, Some(1_795_000_000));
    // A new release moves the log on; the old cosignature stays with its
    // size, which can still be fetched.
    release_to(&world, "city").await;
    let next = get(&world, &format!("{P}/logs/city/checkpoint"), "city-bot")
        .await
        .text;
    let verified = ledger::verify_checkpoint(&next, &key, &[witness.verifier()])
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(verified.signatures.len(), 1);
    let old = get(
        &world,
        &format!("{P}/logs/city/checkpoint?size=1"),
        "city-bot",
    )
    .await
    .text;
    assert_eq!(old, served, "an earlier checkpoint, with its cosignature");
    let future = get(
        &world,
        &format!("{P}/logs/city/checkpoint?size=9"),
        "city-bot",
    )
    .await;
    assert_eq!(future.status, StatusCode::BAD_REQUEST);

    // One cosignature per account and size: posting again with another key
    // replaces the account's own, so many keys cannot crowd the checkpoint.
    let next_body = ledger::verify_checkpoint(&next, &key, &[])
        .unwrap_or_else(|e| panic!("{e}"))
        .checkpoint
        .to_body();
    for n in 0..3 {
        let other = SignerKey::generate(
            &format!("city.example/witness-{n}"),
            SignatureType::CosignatureV1,
            &mut rand::rngs::OsRng,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let mut note = ledger::Note::parse(&next).unwrap_or_else(|e| panic!("{e}"));
        note.add_signature(
            other
                .cosign(&next_body, 1_795_000_100)
                .unwrap_or_else(|e| panic!("{e}")),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let body = json!({
            "key": other.verifier().to_string(),
            "checkpoint": note.to_text().unwrap_or_default(),
        });
        let answer = call(
            &world.app,
            "POST",
            &format!("{P}/logs/city/cosignatures"),
            Some(world.bearer("city-bot")),
            Some(&body),
        )
        .await;
        assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.text);
    }
    let crowded = get(&world, &format!("{P}/logs/city/checkpoint"), "city-bot")
        .await
        .text;
    let lines = crowded
        .lines()
        .filter(|l| l.starts_with('\u{2014}'))
        .count();
    assert_eq!(
        lines, 2,
        "the log's signature and city-bot's latest cosignature: {crowded}"
    );
}

#[tokio::test]
async fn approval_is_refused_when_the_rules_changed_since_the_request() {
    let world = world().await;
    let store: &dyn Store = world.store.as_ref();
    let summary = releases::request(store, "anna", "city", &[REPORT.to_owned()], "warn", NOW)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(summary.state, ReleaseState::PendingApproval);
    store
        .set_marking_disposition(
            &store::MarkingDisposition {
                marking_id: stix::markings::TLP2_AMBER.id.to_owned(),
                kind: store::DispositionKind::Withhold,
                release_to: Vec::new(),
            },
            NOW + 1,
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let refused = releases::approve(store, &summary.release, "olaf", NOW + 2).await;
    assert!(
        matches!(&refused, Err(releases::ReleaseError::Refused(why)) if why.contains("request it again")),
        "{:?}",
        refused.err()
    );
    let still = store
        .release(&summary.release)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|| panic!("release"));
    assert_eq!(still.state, ReleaseState::PendingApproval);
    assert_eq!(
        store
            .ledger_size("city")
            .await
            .unwrap_or_else(|e| panic!("{e}")),
        0
    );
    assert!(partner_objects(&world, "city-bot").await.is_empty());
}

#[tokio::test]
async fn partner_names_must_fit_a_log_origin() {
    let world = world().await;
    for (name, status) in [
        ("City Council", StatusCode::BAD_REQUEST),
        ("a+b", StatusCode::BAD_REQUEST),
        ("grid.de_north-1", StatusCode::CREATED),
    ] {
        let answer = call(
            &world.app,
            "POST",
            "/api/v1/parties",
            Some(world.bearer("adam")),
            Some(&json!({"name": name})),
        )
        .await;
        assert_eq!(answer.status, status, "{name}: {}", answer.text);
    }
    let created = get(
        &world,
        &format!("{P}/logs/grid.de_north-1/checkpoint"),
        "aude",
    )
    .await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.text);
}

#[tokio::test]
async fn a_recall_revokes_what_was_sent_and_is_recorded() {
    let world = world().await;
    let release = release_to(&world, "city").await;
    let before = partner_objects(&world, "city-bot").await;
    let recall_path = format!("/api/v1/releases/{release}/recall");
    let body = json!({"justification": "source burned"});
    for (account, status) in [
        ("anna", StatusCode::FORBIDDEN),
        ("city-bot", StatusCode::NOT_FOUND),
        ("aude", StatusCode::FORBIDDEN),
    ] {
        let answer = call(
            &world.app,
            "POST",
            &recall_path,
            Some(world.bearer(account)),
            Some(&body),
        )
        .await;
        assert_eq!(answer.status, status, "{account}: {}", answer.text);
    }
    let answer = call(
        &world.app,
        "POST",
        &recall_path,
        Some(world.bearer("olaf")),
        Some(&body),
    )
    .await;
    assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.text);
    let recall = answer.json();
    assert_eq!(recall["state"], "released");

    // The partner's client sees new versions with revoked: true for every
    // SDO/SRO it was sent; the shared release identity and markings stay.
    let after = partner_objects(&world, "city-bot").await;
    let mut revoked = 0;
    for object in &before {
        let id = object["id"].as_str().unwrap_or_default();
        let latest = after
            .iter()
            .filter(|o| o["id"] == id)
            .max_by_key(|o| o["modified"].as_str().unwrap_or_default().to_owned())
            .unwrap_or_else(|| panic!("{id} vanished"));
        let findings = stix::validate::Validator::default().validate(latest);
        assert!(
            findings.iter().all(|f| f.severity != stix::Severity::Error),
            "{id}: {findings:?}"
        );
        match object["type"].as_str() {
            Some("marking-definition") => assert!(latest.get("revoked").is_none()),
            Some("identity")
                if object["name"]
                    .as_str()
                    .unwrap_or("")
                    .contains("release authority") =>
            {
                assert!(
                    latest.get("revoked").is_none(),
                    "the release identity is shared"
                );
            }
            _ => {
                assert_eq!(latest["revoked"], true, "{id}");
                assert!(
                    latest["modified"].as_str() > object["modified"].as_str(),
                    "{id}"
                );
                revoked += 1;
            }
        }
    }
    assert!(revoked >= 3, "{revoked}");

    // The recall has its own record, outcome recalled, listing the revoked versions.
    let records = get(&world, &format!("{P}/logs/city/records"), "city-bot")
        .await
        .json();
    assert_eq!(records["size"], 2);
    let record = &records["records"][1]["record"];
    assert_eq!(record["outcome"], "recalled");
    assert_eq!(record["release_id"], recall["release"]);
    assert_eq!(record["objects"].as_array().map(Vec::len), Some(revoked));

    // Nothing left to revoke; a recall cannot be recalled.
    let again = call(
        &world.app,
        "POST",
        &recall_path,
        Some(world.bearer("olaf")),
        Some(&body),
    )
    .await;
    assert_eq!(again.status, StatusCode::CONFLICT, "{}", again.text);
    let store: &dyn Store = world.store.as_ref();
    let recall_id = recall["release"].as_str().unwrap_or_default();
    assert!(matches!(
        releases::recall(store, recall_id, "olaf", "x", NOW + 5).await,
        Err(releases::ReleaseError::Refused(_))
    ));
}

#[tokio::test]
async fn concurrent_recalls_record_once() {
    let world = world().await;
    let release = release_to(&world, "city").await;
    let store: &dyn Store = world.store.as_ref();
    let (a, b) = tokio::join!(
        releases::recall(store, &release, "olaf", "burned", NOW + 10),
        releases::recall(store, &release, "rita", "burned", NOW + 10),
    );
    assert_eq!(
        [&a, &b].iter().filter(|r| r.is_ok()).count(),
        1,
        "{:?} / {:?}",
        a.as_ref().err(),
        b.as_ref().err()
    );
    // The original release's record and one recall record.
    assert_eq!(
        store
            .ledger_size("city")
            .await
            .unwrap_or_else(|e| panic!("{e}")),
        2
    );
}
