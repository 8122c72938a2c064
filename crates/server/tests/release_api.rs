//! The JSON release API under /api/v1, through the router without sockets:
//! every endpoint for every role (allowed and refused), the two-person
//! rule, bad bodies, and nothing for partners.

#[path = "support/release_world.rs"]
mod support;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::{Value, json};
use server::Settings;
use store::{NewAccount, ReleaseState, Role, Store};
use support::{
    Answer, CANARIES, MARKET, ORIGINALS, REPORT, SOURCES, World, call, partner_objects, send,
    world, world_with,
};

const JSON: &str = "application/json";

/// Asserts the JSON error shape with this status and code.
fn assert_error(answer: &Answer, status: StatusCode, code: &str) {
    assert_eq!(answer.status, status, "{}", answer.text);
    assert_eq!(answer.header("content-type"), Some(JSON), "{}", answer.text);
    let body = answer.json();
    assert_eq!(body["error"]["status"], status.as_u16(), "{body}");
    assert_eq!(body["error"]["code"], code, "{body}");
    assert!(body["error"]["message"].is_string(), "{body}");
}

fn sorted_keys(value: &Value) -> Vec<&str> {
    let mut keys: Vec<&str> = value
        .as_object()
        .map(|m| m.keys().map(String::as_str).collect())
        .unwrap_or_default();
    keys.sort_unstable();
    keys
}

async fn request_release(w: &World, account: &str, objects: &[&str], to: &str) -> Answer {
    let body = json!({"objects": objects, "to": to, "justification": "duty to warn"});
    call(
        &w.app,
        "POST",
        "/api/v1/releases",
        Some(w.bearer(account)),
        Some(&body),
    )
    .await
}

/// A release of the report to the designated partner, pending approval.
async fn pending_release(w: &World, requester: &str) -> String {
    let answer = request_release(w, requester, &[REPORT], "city").await;
    assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.text);
    let body = answer.json();
    assert_eq!(body["state"], "pending-approval", "{body}");
    body["release"]
        .as_str()
        .unwrap_or_else(|| panic!("{body}"))
        .to_owned()
}

async fn state_of(w: &World, release: &str) -> Option<ReleaseState> {
    w.store
        .release(release)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .map(|r| r.state)
}

/// One endpoint call: method, path, body, and the accounts allowed to make
/// it (with the status they get). Written out here, not derived from the
/// server's role table, so that a change to that table shows up.
struct Case {
    method: &'static str,
    path: String,
    body: Option<Value>,
    allowed: &'static [&'static str],
    success: StatusCode,
}

fn cases(release: &str) -> Vec<Case> {
    let default_policy = release::policy::Policy::default_policy()
        .unwrap_or_else(|e| panic!("{e}"))
        .text()
        .to_owned();
    let all = &["anna", "olaf", "aude", "adam"];
    let case = |method, path: String, body, allowed, success| Case {
        method,
        path,
        body,
        allowed,
        success,
    };
    vec![
        case("GET", "/api/v1/me".into(), None, all, StatusCode::OK),
        case(
            "POST",
            "/api/v1/releases".into(),
            Some(json!({"objects": [MARKET], "to": "other", "justification": "j"})),
            &["anna", "olaf"],
            StatusCode::CREATED,
        ),
        case(
            "GET",
            format!("/api/v1/releases/{release}"),
            None,
            &["anna", "olaf", "aude"],
            StatusCode::OK,
        ),
        case(
            "GET",
            format!("/api/v1/releases/{release}/explanation"),
            None,
            &["anna", "olaf", "aude"],
            StatusCode::OK,
        ),
        case("GET", "/api/v1/policy".into(), None, all, StatusCode::OK),
        case(
            "PUT",
            "/api/v1/policy".into(),
            Some(json!({"text": default_policy})),
            &["adam"],
            StatusCode::OK,
        ),
        case(
            "POST",
            "/api/v1/policy/check".into(),
            Some(json!({"text": default_policy})),
            &["adam"],
            StatusCode::OK,
        ),
        case(
            "GET",
            "/api/v1/parties".into(),
            None,
            &["anna", "olaf", "adam"],
            StatusCode::OK,
        ),
        case(
            "GET",
            "/api/v1/parties/city".into(),
            None,
            &["anna", "olaf", "adam"],
            StatusCode::OK,
        ),
        case(
            "POST",
            "/api/v1/parties".into(),
            Some(json!({"name": "harbour", "country": "NL"})),
            &["adam"],
            StatusCode::CREATED,
        ),
        case(
            "GET",
            "/api/v1/markings".into(),
            None,
            &["anna", "olaf", "adam"],
            StatusCode::OK,
        ),
        case(
            "PUT",
            format!("/api/v1/markings/{SOURCES}"),
            Some(json!({"disposition": "withhold"})),
            &["adam"],
            StatusCode::OK,
        ),
        // Last: it moves the release on. Only a releasing officer who did
        // not ask for it.
        case(
            "POST",
            format!("/api/v1/releases/{release}/approve"),
            None,
            &["olaf"],
            StatusCode::OK,
        ),
    ]
}

#[tokio::test]
async fn every_endpoint_for_every_staff_role() {
    let w = world().await;
    let release = pending_release(&w, "anna").await;
    for case in cases(&release) {
        for account in ["anna", "aude", "adam", "olaf"] {
            let answer = call(
                &w.app,
                case.method,
                &case.path,
                Some(w.bearer(account)),
                case.body.as_ref(),
            )
            .await;
            let what = format!("{account}: {} {}", case.method, case.path);
            if case.allowed.contains(&account) {
                assert_eq!(answer.status, case.success, "{what}: {}", answer.text);
                assert_eq!(answer.header("content-type"), Some(JSON), "{what}");
                assert!(answer.json().is_object(), "{what}");
            } else {
                assert_error(&answer, StatusCode::FORBIDDEN, "forbidden");
            }
        }
    }
    assert_eq!(state_of(&w, &release).await, Some(ReleaseState::Released));
}

#[tokio::test]
async fn me_names_the_caller_and_its_permissions() {
    let w = world().await;
    let answer = call(&w.app, "GET", "/api/v1/me", Some(w.bearer("aude")), None).await;
    assert_eq!(
        answer.json(),
        json!({"account": "aude", "role": "auditor", "permissions": ["read-releases", "read-policy"]})
    );
    let answer = call(&w.app, "GET", "/api/v1/me", Some(w.bearer("olaf")), None).await;
    let permissions = answer.json()["permissions"].clone();
    assert!(
        permissions
            .as_array()
            .is_some_and(|p| p.contains(&json!("approve-releases"))),
        "{permissions}"
    );
}

#[tokio::test]
async fn two_person_rule_over_http_then_the_partner_reads_it_over_taxii() {
    let w = world().await;
    let release = pending_release(&w, "olaf").await;
    assert!(
        partner_objects(&w, "city-bot").await.is_empty(),
        "nothing visible before approval"
    );
    let approve = format!("/api/v1/releases/{release}/approve");

    // The requester may not approve their own release.
    let own = call(&w.app, "POST", &approve, Some(w.bearer("olaf")), None).await;
    assert_error(&own, StatusCode::CONFLICT, "conflict");
    assert!(own.text.contains("two-person"), "{}", own.text);
    assert_eq!(
        state_of(&w, &release).await,
        Some(ReleaseState::PendingApproval)
    );
    // Partners never: they get the 404 everyone gets for a missing path.
    let partner = call(&w.app, "POST", &approve, Some(w.bearer("city-bot")), None).await;
    assert_error(&partner, StatusCode::NOT_FOUND, "not_found");
    for refused in ["anna", "aude", "adam"] {
        let answer = call(&w.app, "POST", &approve, Some(w.bearer(refused)), None).await;
        assert_error(&answer, StatusCode::FORBIDDEN, "forbidden");
    }
    assert_eq!(
        state_of(&w, &release).await,
        Some(ReleaseState::PendingApproval)
    );
    assert!(partner_objects(&w, "city-bot").await.is_empty());
    let shown = call(
        &w.app,
        "GET",
        &format!("/api/v1/releases/{release}"),
        Some(w.bearer("aude")),
        None,
    )
    .await
    .json();
    assert_eq!(shown["state"], "pending-approval");
    assert_eq!(shown["approvals"], json!([]));

    // A second officer approves.
    let approved = call(&w.app, "POST", &approve, Some(w.bearer("rita")), None).await;
    assert_eq!(approved.status, StatusCode::OK, "{}", approved.text);
    assert_eq!(approved.json()["state"], "released");
    assert_eq!(approved.json()["release"], release.as_str());
    let received = partner_objects(&w, "city-bot").await;
    let types: Vec<&str> = received.iter().filter_map(|o| o["type"].as_str()).collect();
    assert!(
        types.contains(&"report") && types.contains(&"location"),
        "{types:?}"
    );
    let text = serde_json::to_string(&received).unwrap_or_default();
    for secret in CANARIES.iter().chain(ORIGINALS.iter()) {
        assert!(!text.contains(secret), "{secret} reached the partner");
    }
    assert!(partner_objects(&w, "other-bot").await.is_empty());

    // Approving twice is a state conflict and changes nothing.
    let again = call(&w.app, "POST", &approve, Some(w.bearer("rita")), None).await;
    assert_error(&again, StatusCode::CONFLICT, "conflict");
    let shown = call(
        &w.app,
        "GET",
        &format!("/api/v1/releases/{release}"),
        Some(w.bearer("anna")),
        None,
    )
    .await
    .json();
    let keys = sorted_keys(&shown);
    for documented in [
        "approvals",
        "created",
        "decided",
        "justification",
        "objects",
        "party",
        "policy_version",
        "reasons",
        "release",
        "requested",
        "requester",
        "state",
        "written",
    ] {
        assert!(keys.contains(&documented), "{documented} missing: {keys:?}");
    }
    assert_eq!(shown["state"], "released");
    assert_eq!(shown["requester"], "olaf");
    assert_eq!(shown["approvals"][0]["account"], "rita");
    assert_eq!(shown["approvals"].as_array().map(Vec::len), Some(1));

    let explained = call(
        &w.app,
        "GET",
        &format!("/api/v1/releases/{release}/explanation"),
        Some(w.bearer("aude")),
        None,
    )
    .await;
    assert_eq!(explained.status, StatusCode::OK);
    let explained = explained.json();
    assert_eq!(explained["release"], release.as_str());
    assert!(explained["policy_version"].is_string(), "{explained}");
    assert!(explained["objects"].is_array(), "{explained}");
}

#[tokio::test]
async fn request_answers_created_with_location_and_reasons() {
    let w = world().await;
    let answer = request_release(&w, "anna", &[REPORT], "city").await;
    assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.text);
    let body = answer.json();
    let keys = sorted_keys(&body);
    assert_eq!(keys, ["objects", "reasons", "release", "state"], "{body}");
    let release = body["release"].as_str().unwrap_or_default();
    assert_eq!(
        answer.header("location"),
        Some(format!("/api/v1/releases/{release}").as_str())
    );
    let reasons = body["reasons"].to_string();
    assert!(
        reasons.contains("withheld"),
        "withheld parts are named: {reasons}"
    );
    // An undesignated partner and green content: released at once.
    let answer = request_release(&w, "olaf", &[MARKET], "other").await;
    assert_eq!(answer.json()["state"], "released", "{}", answer.text);
    assert!(!partner_objects(&w, "other-bot").await.is_empty());
}

#[tokio::test]
async fn unknown_releases_parties_and_objects_are_404() {
    let w = world().await;
    let anna = Some(w.bearer("anna"));
    for path in [
        format!("/api/v1/releases/{}", uuid::Uuid::new_v4()),
        format!("/api/v1/releases/{}/explanation", uuid::Uuid::new_v4()),
        "/api/v1/releases/not-a-uuid".to_owned(),
        "/api/v1/parties/nobody".to_owned(),
        "/api/v1/nothing-here".to_owned(),
        "/api/v1/releases/a/b/c".to_owned(),
        "/api/v1".to_owned(),
        "/api/v1/".to_owned(),
    ] {
        let answer = call(&w.app, "GET", &path, anna, None).await;
        assert_error(&answer, StatusCode::NOT_FOUND, "not_found");
    }
    let approve = format!("/api/v1/releases/{}/approve", uuid::Uuid::new_v4());
    let answer = call(&w.app, "POST", &approve, Some(w.bearer("olaf")), None).await;
    assert_error(&answer, StatusCode::NOT_FOUND, "not_found");
    let answer = request_release(&w, "anna", &[REPORT], "nobody").await;
    assert_error(&answer, StatusCode::NOT_FOUND, "not_found");
    let answer = request_release(
        &w,
        "anna",
        &["report--00000000-0000-4000-8000-000000000000"],
        "city",
    )
    .await;
    assert_error(&answer, StatusCode::NOT_FOUND, "not_found");
    // The home party is not a recipient.
    let answer = request_release(&w, "anna", &[REPORT], "home").await;
    assert_error(&answer, StatusCode::NOT_FOUND, "not_found");
}

async fn raw(
    w: &World,
    account: &str,
    path: &str,
    content_type: Option<&str>,
    body: &str,
) -> Answer {
    let mut request = Request::post(path).header("authorization", w.bearer(account));
    if let Some(content_type) = content_type {
        request = request.header("content-type", content_type);
    }
    send(
        &w.app,
        request
            .body(Body::from(body.to_owned()))
            .unwrap_or_else(|e| panic!("{e}")),
    )
    .await
}

#[tokio::test]
async fn bad_bodies_are_400_json_errors() {
    let w = world().await;
    let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
    let bad: Vec<String> = vec![
        "{".to_owned(),
        "".to_owned(),
        "[]".to_owned(),
        format!(r#"{{"objects": ["{REPORT}"], "to": "city"}}"#),
        format!(r#"{{"objects": ["{REPORT}"], "to": "city", "justification": "j", "extra": 1}}"#),
        r#"{"objects": "all", "to": "city", "justification": "j"}"#.to_owned(),
        format!(
            r#"{{"objects": ["{REPORT}"], "to": "city", "to": "other", "justification": "j"}}"#
        ),
        format!(r#"{{"objects": {deep}, "to": "city", "justification": "j"}}"#),
        r#"{"objects": [], "to": "city", "justification": "j"}"#.to_owned(),
        r#"{"objects": ["report"], "to": "city", "justification": "j"}"#.to_owned(),
        format!(r#"{{"objects": ["{REPORT}"], "to": "city", "justification": "   "}}"#),
        format!(r#"{{"objects": ["{REPORT}"], "to": "", "justification": "j"}}"#),
        format!(
            r#"{{"objects": ["{REPORT}"], "to": "city", "justification": "{}"}}"#,
            "j".repeat(20_000)
        ),
    ];
    for body in &bad {
        let answer = raw(&w, "anna", "/api/v1/releases", Some(JSON), body).await;
        assert_error(&answer, StatusCode::BAD_REQUEST, "bad_request");
    }
    let good = format!(r#"{{"objects": ["{REPORT}"], "to": "city", "justification": "j"}}"#);
    for content_type in [
        None,
        Some("text/plain"),
        Some("application/taxii+json;version=2.1"),
    ] {
        let answer = raw(&w, "anna", "/api/v1/releases", content_type, &good).await;
        assert_error(
            &answer,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        );
    }
    let answer = raw(
        &w,
        "anna",
        "/api/v1/releases",
        Some("application/json; charset=utf-8"),
        &good,
    )
    .await;
    assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.text);

    let marking = format!("/api/v1/markings/{SOURCES}");
    for (path, body) in [
        (marking.as_str(), json!({"disposition": "maybe"})),
        (marking.as_str(), json!({"disposition": "release-to"})),
        (
            marking.as_str(),
            json!({"disposition": "release-to", "release_to": []}),
        ),
        (
            marking.as_str(),
            json!({"disposition": "withhold", "release_to": ["city"]}),
        ),
        (
            "/api/v1/markings/marking-definition--nope",
            json!({"disposition": "withhold"}),
        ),
        (
            "/api/v1/markings/report--9f8e7d6c-5b4a-4392-8170-6f5e4d3c2ba8",
            json!({"disposition": "withhold"}),
        ),
    ] {
        let answer = call(&w.app, "PUT", path, Some(w.bearer("adam")), Some(&body)).await;
        assert_error(&answer, StatusCode::BAD_REQUEST, "bad_request");
    }
    for body in [
        json!({"name": ""}),
        json!({"name": "x", "country": "Netherlands"}),
        json!({"name": "x", "designations": [{"name": "list", "since": "2020"}]}),
        json!({"name": "x", "designations": ["list"]}),
        json!({"name": "x", "groups": [" padded"]}),
        json!({"name": "x", "colour": "blue"}),
    ] {
        let answer = call(
            &w.app,
            "POST",
            "/api/v1/parties",
            Some(w.bearer("adam")),
            Some(&body),
        )
        .await;
        assert_error(&answer, StatusCode::BAD_REQUEST, "bad_request");
    }
    for body in [json!({}), json!({"text": 1}), json!({"policy": "x"})] {
        let answer = call(
            &w.app,
            "PUT",
            "/api/v1/policy",
            Some(w.bearer("adam")),
            Some(&body),
        )
        .await;
        assert_error(&answer, StatusCode::BAD_REQUEST, "bad_request");
    }
}

#[tokio::test]
async fn oversized_bodies_are_413() {
    let settings = Settings {
        limits: stix::Limits {
            max_content_length: 256,
            ..stix::Limits::default()
        },
        ..Settings::default()
    };
    let w = world_with(settings).await;
    let body = json!({"objects": [REPORT], "to": "city", "justification": "j".repeat(300)});
    let answer = call(
        &w.app,
        "POST",
        "/api/v1/releases",
        Some(w.bearer("anna")),
        Some(&body),
    )
    .await;
    assert_error(&answer, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large");
    // Without a Content-Length the limit holds while reading.
    let request = Request::post("/api/v1/releases")
        .header("authorization", w.bearer("anna"))
        .header("content-type", JSON)
        .body(Body::from_stream(futures_util::stream::iter(vec![Ok::<
            _,
            std::io::Error,
        >(
            body.to_string(),
        )])))
        .unwrap_or_else(|e| panic!("{e}"));
    let answer = send(&w.app, request).await;
    assert_error(&answer, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large");
}

#[tokio::test]
async fn policy_show_check_and_load() {
    let w = world().await;
    let adam = Some(w.bearer("adam"));
    let shown = call(
        &w.app,
        "GET",
        "/api/v1/policy",
        Some(w.bearer("aude")),
        None,
    )
    .await
    .json();
    let first = shown["version"].as_str().unwrap_or_default().to_owned();
    let text = shown["text"].as_str().unwrap_or_default().to_owned();
    assert!(!first.is_empty() && text.contains("@id"), "{shown}");

    let checked = call(
        &w.app,
        "POST",
        "/api/v1/policy/check",
        adam,
        Some(&json!({"text": text})),
    )
    .await
    .json();
    assert_eq!(checked, json!({"valid": true, "version": first}));
    let checked = call(
        &w.app,
        "POST",
        "/api/v1/policy/check",
        adam,
        Some(&json!({"text": "permit(principal, action, resource"})),
    )
    .await;
    assert_eq!(checked.status, StatusCode::OK);
    assert_eq!(checked.json()["valid"], false);
    assert!(checked.json()["error"].is_string());

    let refused = call(
        &w.app,
        "PUT",
        "/api/v1/policy",
        adam,
        Some(&json!({"text": "permit(principal, action, resource);"})),
    )
    .await;
    assert_error(&refused, StatusCode::BAD_REQUEST, "invalid_policy");
    let unchanged = call(&w.app, "GET", "/api/v1/policy", adam, None)
        .await
        .json();
    assert_eq!(unchanged["version"], first.as_str());

    let changed = format!("{text}\n// reviewed\n");
    let loaded = call(
        &w.app,
        "PUT",
        "/api/v1/policy",
        adam,
        Some(&json!({"text": changed})),
    )
    .await;
    assert_eq!(loaded.status, StatusCode::OK, "{}", loaded.text);
    let second = loaded.json()["version"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert_ne!(second, first, "a changed text is a new version");
    let shown = call(&w.app, "GET", "/api/v1/policy", adam, None)
        .await
        .json();
    assert_eq!(shown["version"], second.as_str());
    assert_eq!(shown["text"], changed.as_str());
}

#[tokio::test]
async fn parties_and_markings() {
    let w = world().await;
    let adam = Some(w.bearer("adam"));
    let body = json!({"name": "harbour-authority", "country": "nl", "groups": ["ports"],
                      "designations": [{"name": "watch-list", "since": "2020-01-01"}, {"name": "other-list"}]});
    let created = call(&w.app, "POST", "/api/v1/parties", adam, Some(&body)).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    assert_eq!(
        created.header("location"),
        Some("/api/v1/parties/harbour-authority")
    );
    let created = created.json();
    assert_eq!(created["party"], "harbour-authority");
    let outbound = created["outbound"].as_str().unwrap_or_default();
    assert!(uuid::Uuid::try_parse(outbound).is_ok(), "{created}");
    assert!(created["inbound"].is_string(), "{created}");

    let again = call(&w.app, "POST", "/api/v1/parties", adam, Some(&body)).await;
    assert_error(&again, StatusCode::CONFLICT, "conflict");

    let shown = call(
        &w.app,
        "GET",
        "/api/v1/parties/harbour-authority",
        Some(w.bearer("anna")),
        None,
    )
    .await
    .json();
    assert_eq!(shown["country"], "NL");
    assert_eq!(shown["groups"], json!(["ports"]));
    assert_eq!(shown["designations"][0]["since"], "2020-01-01");
    assert_eq!(shown["designations"][1]["since"], Value::Null);
    assert_eq!(shown["outbound"], outbound);
    let listed = call(&w.app, "GET", "/api/v1/parties", adam, None)
        .await
        .json();
    let names: Vec<&str> = listed["parties"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| p["name"].as_str())
        .collect();
    assert_eq!(names.len(), 4, "{names:?}");
    assert!(names.contains(&"harbour-authority") && names.contains(&"city"));

    let marking = format!("/api/v1/markings/{SOURCES}");
    let set = call(
        &w.app,
        "PUT",
        &marking,
        adam,
        Some(&json!({"disposition": "release-to", "release_to": ["city", "ports"]})),
    )
    .await;
    assert_eq!(set.status, StatusCode::OK, "{}", set.text);
    assert_eq!(
        set.json(),
        json!({"marking": SOURCES, "disposition": "release-to", "release_to": ["city", "ports"]})
    );
    let listed = call(
        &w.app,
        "GET",
        "/api/v1/markings",
        Some(w.bearer("olaf")),
        None,
    )
    .await
    .json();
    assert_eq!(
        listed["markings"],
        json!([{"marking": SOURCES, "disposition": "release-to", "release_to": ["city", "ports"]}])
    );
    let dispositions = w
        .store
        .marking_dispositions()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(dispositions.len(), 1);
    assert_eq!(dispositions[0].release_to, ["city", "ports"]);
}

#[tokio::test]
async fn credentials_are_checked_before_anything_else() {
    let w = world().await;
    for auth in [
        None,
        Some("Bearer tl_not-a-token"),
        Some("Basic bm9ib2R5Om5vcGU="),
        Some("Digest x"),
    ] {
        for (method, path) in [
            ("GET", "/api/v1/me"),
            ("GET", "/api/v1/policy"),
            ("POST", "/api/v1/releases"),
            ("GET", "/api/v1/nothing-here"),
        ] {
            let answer = call(&w.app, method, path, auth, None).await;
            assert_error(&answer, StatusCode::UNAUTHORIZED, "unauthorized");
            assert_eq!(
                answer.header("www-authenticate"),
                Some(server::error::CHALLENGE)
            );
        }
    }
    // Basic works as for TAXII.
    let hash = server::auth::hash_password("s3cret").ok();
    w.store
        .create_account(
            &NewAccount {
                name: "bea".to_owned(),
                password_hash: hash,
                role: Role::Auditor,
                party: None,
                read: Vec::new(),
                write: Vec::new(),
            },
            0,
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let basic = format!(
        "Basic {}",
        base64::Engine::encode(&base64::engine::general_purpose::STANDARD, "bea:s3cret")
    );
    let answer = call(&w.app, "GET", "/api/v1/me", Some(&basic), None).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    assert_eq!(answer.json()["account"], "bea");
}

#[tokio::test]
async fn json_not_taxii_media_types_and_methods() {
    let w = world().await;
    // The TAXII Accept check does not apply under /api/v1 ...
    let request = Request::get("/api/v1/me")
        .header("authorization", w.bearer("anna"))
        .header("accept", JSON)
        .body(Body::empty())
        .unwrap_or_else(|e| panic!("{e}"));
    let answer = send(&w.app, request).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    assert_eq!(answer.header("content-type"), Some(JSON));
    // ... and still does for TAXII.
    let request = Request::get("/taxii2/")
        .header("authorization", w.bearer("anna"))
        .header("accept", JSON)
        .body(Body::empty())
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        send(&w.app, request).await.status,
        StatusCode::NOT_ACCEPTABLE
    );

    for (method, path) in [
        ("DELETE", "/api/v1/releases"),
        ("DELETE", "/api/v1/policy"),
        ("GET", "/api/v1/policy/check"),
        ("DELETE", "/api/v1/parties"),
        ("POST", "/api/v1/markings"),
    ] {
        let answer = call(&w.app, method, path, Some(w.bearer("adam")), None).await;
        assert_error(
            &answer,
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
        );
    }
}

#[tokio::test]
async fn partners_get_the_same_404_for_everything() {
    let w = world().await;
    let release = pending_release(&w, "anna").await;
    let released = request_release(&w, "anna", &[MARKET], "other").await.json();
    let released = released["release"].as_str().unwrap_or_default().to_owned();
    let missing = call(
        &w.app,
        "GET",
        "/api/v1/nothing-here",
        Some(w.bearer("anna")),
        None,
    )
    .await;
    assert_error(&missing, StatusCode::NOT_FOUND, "not_found");
    let mut calls: Vec<(String, String, Option<Value>)> = cases(&release)
        .into_iter()
        .map(|c| (c.method.to_owned(), c.path, c.body))
        .collect();
    for extra in [
        format!("/api/v1/releases/{released}"),
        format!("/api/v1/releases/{released}/explanation"),
        "/api/v1/parties/other".to_owned(),
        "/api/v1/nothing-here".to_owned(),
        "/api/v1".to_owned(),
    ] {
        calls.push(("GET".to_owned(), extra, None));
    }
    // Wrong method and wrong body: still the same 404, not 405 or 400.
    calls.push(("DELETE".to_owned(), "/api/v1/policy".to_owned(), None));
    calls.push((
        "POST".to_owned(),
        "/api/v1/releases".to_owned(),
        Some(json!({"nonsense": true})),
    ));
    for partner in ["city-bot", "other-bot", "mole"] {
        for (method, path, body) in &calls {
            let answer = call(&w.app, method, path, Some(w.bearer(partner)), body.as_ref()).await;
            assert_eq!(
                answer.status,
                StatusCode::NOT_FOUND,
                "{partner} {method} {path}"
            );
            assert_eq!(answer.text, missing.text, "{partner} {method} {path}");
            assert_eq!(answer.header("content-type"), Some(JSON));
            for secret in [release.as_str(), released.as_str(), SOURCES, REPORT]
                .iter()
                .chain(CANARIES.iter())
            {
                assert!(!answer.text.contains(secret), "{secret} at {path}");
            }
        }
    }
    // Nothing they sent changed anything.
    assert_eq!(
        state_of(&w, &release).await,
        Some(ReleaseState::PendingApproval)
    );
    assert!(partner_objects(&w, "city-bot").await.is_empty());
    let parties = w.store.parties().await.unwrap_or_else(|e| panic!("{e}"));
    assert!(parties.iter().all(|p| p.name != "harbour"));
    let policies = call(
        &w.app,
        "GET",
        "/api/v1/markings",
        Some(w.bearer("adam")),
        None,
    )
    .await
    .json();
    assert_eq!(
        policies["markings"][0]["disposition"], "withhold",
        "{policies}"
    );
}

#[tokio::test]
async fn releases_are_listed_newest_first_with_filters_and_pages() {
    let world = world().await;
    let mut made = Vec::new();
    for (to, object) in [("city", REPORT), ("other", MARKET), ("city", MARKET)] {
        let answer = call(
            &world.app,
            "POST",
            "/api/v1/releases",
            Some(world.bearer("anna")),
            Some(&json!({"objects": [object], "to": to, "justification": "list"})),
        )
        .await;
        assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.text);
        made.push((
            to,
            answer.json()["release"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        ));
        // Distinct creation instants keep the expected order obvious.
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
    let all = call(
        &world.app,
        "GET",
        "/api/v1/releases",
        Some(world.bearer("aude")),
        None,
    )
    .await;
    assert_eq!(all.status, StatusCode::OK, "{}", all.text);
    let listed: Vec<String> = all.json()["releases"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| r["release"].as_str().unwrap_or_default().to_owned())
        .collect();
    let newest_first: Vec<String> = made.iter().rev().map(|(_, id)| id.clone()).collect();
    assert_eq!(listed, newest_first);
    assert_eq!(all.json()["next"], Value::Null);

    // One per page, following `next`.
    let mut paged = Vec::new();
    let mut path = "/api/v1/releases?party=city&limit=1".to_owned();
    loop {
        let page = call(&world.app, "GET", &path, Some(world.bearer("olaf")), None).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.text);
        let body = page.json();
        for r in body["releases"].as_array().into_iter().flatten() {
            assert_eq!(r["party"], "city");
            paged.push(r["release"].as_str().unwrap_or_default().to_owned());
        }
        match body["next"].as_str() {
            Some(next) => path = format!("/api/v1/releases?party=city&limit=1&next={next}"),
            None => break,
        }
        assert!(paged.len() <= 2, "paging repeats");
    }
    let city: Vec<String> = made
        .iter()
        .rev()
        .filter(|(to, _)| *to == "city")
        .map(|(_, id)| id.clone())
        .collect();
    assert_eq!(paged, city);

    let pending = call(
        &world.app,
        "GET",
        "/api/v1/releases?state=pending-approval",
        Some(world.bearer("olaf")),
        None,
    )
    .await
    .json();
    for r in pending["releases"].as_array().into_iter().flatten() {
        assert_eq!(r["state"], "pending-approval");
    }
    for (path, account, status) in [
        (
            "/api/v1/releases?state=maybe",
            "olaf",
            StatusCode::BAD_REQUEST,
        ),
        (
            "/api/v1/releases?next=garbage",
            "olaf",
            StatusCode::BAD_REQUEST,
        ),
        ("/api/v1/releases?bogus=1", "olaf", StatusCode::BAD_REQUEST),
        ("/api/v1/releases", "adam", StatusCode::FORBIDDEN),
        ("/api/v1/releases", "city-bot", StatusCode::NOT_FOUND),
    ] {
        let answer = call(&world.app, "GET", path, Some(world.bearer(account)), None).await;
        assert_eq!(
            answer.status, status,
            "{path} as {account}: {}",
            answer.text
        );
    }
}
