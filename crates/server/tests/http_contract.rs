//! The HTTP contract, checked through the router without sockets: every
//! endpoint, filter, header, error and status code.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use base64::Engine;
use serde_json::{Value, json};
use server::{AppState, Settings, auth};
use stix::Limits;
use store::sqlite::SqliteStore;
use store::{ApiRoot, NewAccount, NewCollection, Role, Store};
use tower::ServiceExt;

const TAXII: &str = "application/taxii+json;version=2.1";
const ROOT: &str = "api1";

struct Fixture {
    app: Router,
    /// Read and write.
    rw: String,
    /// Read only.
    ro: String,
    /// Write only.
    wo: String,
    /// No grant for the main account.
    hidden: String,
    /// Bearer header of the main account.
    main: String,
    /// Bearer header of an account with no grants.
    stranger: String,
    _dir: tempfile::TempDir,
}

async fn fixture_with(limits: Limits) -> Fixture {
    let dir = tempfile::tempdir().unwrap_or_else(|err| panic!("{err}"));
    let store = SqliteStore::open(&dir.path().join("t.db"), true)
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    store
        .create_api_root(
            &ApiRoot {
                name: ROOT.to_owned(),
                title: "Test root".to_owned(),
                description: Some("for tests".to_owned()),
            },
            0,
        )
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    let mut ids = Vec::new();
    for title in ["rw", "ro", "wo", "hidden"] {
        let collection = store
            .create_collection(
                &NewCollection {
                    api_root: ROOT.to_owned(),
                    title: title.to_owned(),
                    description: None,
                    alias: None,
                },
                0,
            )
            .await
            .unwrap_or_else(|err| panic!("{err}"));
        ids.push(collection.id);
    }
    let [rw, ro, wo, hidden] = <[String; 4]>::try_from(ids).unwrap_or_else(|_| panic!("four"));
    let password_hash = auth::hash_password("s3cret").ok();
    let mut bearer = Vec::new();
    for (name, read, write) in [
        (
            "main",
            vec![rw.clone(), ro.clone()],
            vec![rw.clone(), wo.clone()],
        ),
        ("stranger", vec![], vec![]),
    ] {
        store
            .create_account(
                &NewAccount {
                    name: name.to_owned(),
                    password_hash: password_hash.clone(),
                    role: Role::Analyst,
                    party: None,
                    read,
                    write,
                },
                0,
            )
            .await
            .unwrap_or_else(|err| panic!("{err}"));
        let (token, digest) = auth::new_token();
        store
            .add_token(name, &digest, None, 0)
            .await
            .unwrap_or_else(|err| panic!("{err}"));
        bearer.push(format!("Bearer {token}"));
    }
    let [main, stranger] = <[String; 2]>::try_from(bearer).unwrap_or_else(|_| panic!("two"));
    let settings = Settings {
        limits,
        default_page_size: 100,
        ..Settings::default()
    };
    let state = AppState::new(Arc::new(store), settings);
    Fixture {
        app: server::router(state),
        rw,
        ro,
        wo,
        hidden,
        main,
        stranger,
        _dir: dir,
    }
}

async fn fixture() -> Fixture {
    fixture_with(Limits::default()).await
}

struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    text: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|err| panic!("{err}: {}", self.text))
    }
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
    /// Asserts a TAXII error with this status.
    fn assert_error(&self, status: StatusCode) {
        assert_eq!(self.status, status, "{}", self.text);
        assert_eq!(self.header("content-type"), Some(TAXII));
        let body = self.json();
        assert!(
            body.get("title").and_then(Value::as_str).is_some(),
            "{body}"
        );
        assert_eq!(body["http_status"], json!(status.as_u16().to_string()));
    }
}

async fn send(app: &Router, request: Request<Body>) -> Answer {
    let response = app
        .clone()
        .oneshot(request)
        .await
        .unwrap_or_else(|err| match err {});
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    Answer {
        status,
        headers,
        text: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

fn request(method: Method, path: &str, auth: Option<&str>) -> axum::http::request::Builder {
    let mut builder = Request::builder()
        .method(method)
        .uri(path)
        .header("accept", TAXII);
    if let Some(auth) = auth {
        builder = builder.header("authorization", auth);
    }
    builder
}

async fn get(app: &Router, path: &str, auth: &str) -> Answer {
    send(
        app,
        request(Method::GET, path, Some(auth))
            .body(Body::empty())
            .unwrap_or_else(|err| panic!("{err}")),
    )
    .await
}

async fn post(app: &Router, path: &str, auth: &str, body: String) -> Answer {
    send(
        app,
        request(Method::POST, path, Some(auth))
            .header("content-type", TAXII)
            .body(Body::from(body))
            .unwrap_or_else(|err| panic!("{err}")),
    )
    .await
}

fn objects_path(collection: &str) -> String {
    format!("/{ROOT}/collections/{collection}/objects/")
}

fn indicator(n: u32, modified: &str) -> Value {
    json!({
        "type": "indicator",
        "spec_version": "2.1",
        "id": format!("indicator--00000000-0000-4000-8000-{n:012}"),
        // Before every version's `modified`, as STIX requires.
        "created": "2018-01-01T00:00:00.000Z",
        "modified": modified,
        "pattern": "[ipv4-addr:value = '198.51.100.1']",
        "pattern_type": "stix",
        "valid_from": "2020-01-01T00:00:00Z"
    })
}

fn envelope(objects: &[Value]) -> String {
    json!({ "objects": objects }).to_string()
}

async fn add(fx: &Fixture, objects: &[Value]) -> Value {
    let answer = post(&fx.app, &objects_path(&fx.rw), &fx.main, envelope(objects)).await;
    assert_eq!(answer.status, StatusCode::ACCEPTED, "{}", answer.text);
    answer.json()
}

fn ids(body: &Value) -> Vec<String> {
    body["objects"]
        .as_array()
        .map(|list| {
            list.iter()
                .filter_map(|o| o["id"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn every_endpoint_needs_credentials() {
    let fx = fixture().await;
    let paths = [
        "/taxii2/".to_owned(),
        format!("/{ROOT}/"),
        format!("/{ROOT}/collections/"),
        format!("/{ROOT}/collections/{}/", fx.rw),
        objects_path(&fx.rw),
        format!("/{ROOT}/status/00000000-0000-4000-8000-000000000000"),
        "/no/such/path/".to_owned(),
    ];
    let basic = |user: &str, password: &str| {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
        )
    };
    let wrong = [
        None,
        Some(basic("main", "wrong")),
        Some(basic("nobody", "s3cret")),
        Some("Basic !!!".to_owned()),
        Some("Bearer tl_not-a-token".to_owned()),
        Some("Digest abc".to_owned()),
        Some("Bearer".to_owned()),
    ];
    for path in &paths {
        for auth in &wrong {
            let answer = send(
                &fx.app,
                request(Method::GET, path, auth.as_deref())
                    .body(Body::empty())
                    .unwrap_or_else(|err| panic!("{err}")),
            )
            .await;
            answer.assert_error(StatusCode::UNAUTHORIZED);
            let challenge = answer.header("www-authenticate").unwrap_or_default();
            assert!(challenge.contains("Basic") && challenge.contains("Bearer"));
        }
    }
    let answer = get(&fx.app, "/taxii2/", &basic("main", "s3cret")).await;
    assert_eq!(answer.status, StatusCode::OK);
    // Token scheme as taxii2-client's TokenAuth sends it.
    let token = fx.main.replace("Bearer ", "Token ");
    assert_eq!(
        get(&fx.app, "/taxii2/", &token).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn discovery_and_api_root() {
    let fx = fixture_with(Limits {
        max_content_length: 12_345,
        ..Limits::default()
    })
    .await;
    for path in ["/taxii2/", "/taxii2"] {
        let answer = get(&fx.app, path, &fx.main).await;
        assert_eq!(answer.status, StatusCode::OK);
        assert_eq!(answer.header("content-type"), Some(TAXII));
        assert!(
            answer
                .header("x-request-id")
                .is_some_and(|id| !id.is_empty())
        );
        let body = answer.json();
        assert_eq!(body["default"], json!("/api1/"));
        assert_eq!(body["api_roots"], json!(["/api1/"]));
        assert!(body["title"].is_string());
    }
    let body = get(&fx.app, "/api1/", &fx.main).await.json();
    assert_eq!(body["versions"], json!([TAXII]));
    assert_eq!(body["max_content_length"], json!(12_345));
    assert_eq!(body["title"], json!("Test root"));
    get(&fx.app, "/api2/", &fx.main)
        .await
        .assert_error(StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn collections_are_per_account() {
    let fx = fixture().await;
    let body = get(&fx.app, "/api1/collections/", &fx.main).await.json();
    let listed: Vec<(String, bool, bool)> = body["collections"]
        .as_array()
        .map(|list| {
            list.iter()
                .map(|c| {
                    (
                        c["id"].as_str().unwrap_or_default().to_owned(),
                        c["can_read"] == json!(true),
                        c["can_write"] == json!(true),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(
        listed,
        vec![
            (fx.rw.clone(), true, true),
            (fx.ro.clone(), true, false),
            (fx.wo.clone(), false, true)
        ]
    );
    assert_eq!(
        body["collections"][0]["media_types"],
        json!(["application/stix+json;version=2.1"])
    );
    let empty = get(&fx.app, "/api1/collections/", &fx.stranger).await;
    assert_eq!(empty.status, StatusCode::OK);
    assert_eq!(empty.json(), json!({}), "no empty lists");

    let visible = get(&fx.app, &format!("/api1/collections/{}/", fx.ro), &fx.main).await;
    assert_eq!(visible.json()["can_write"], json!(false));
    // Hidden and missing answer the same, byte for byte.
    let hidden = get(
        &fx.app,
        &format!("/api1/collections/{}/", fx.hidden),
        &fx.main,
    )
    .await;
    let missing = get(
        &fx.app,
        "/api1/collections/00000000-0000-4000-8000-000000000000/",
        &fx.main,
    )
    .await;
    hidden.assert_error(StatusCode::NOT_FOUND);
    assert_eq!(
        (hidden.status, &hidden.text),
        (missing.status, &missing.text)
    );
    for suffix in [
        "objects/",
        "manifest/",
        "objects/indicator--x/",
        "objects/indicator--x/versions/",
    ] {
        let hidden = get(
            &fx.app,
            &format!("/api1/collections/{}/{suffix}", fx.hidden),
            &fx.main,
        )
        .await;
        hidden.assert_error(StatusCode::NOT_FOUND);
        assert_eq!(hidden.text, missing.text);
    }
}

#[tokio::test]
async fn content_negotiation() {
    let fx = fixture().await;
    for (accept, expected) in [
        ("application/taxii+json;version=2.1", StatusCode::OK),
        ("application/taxii+json", StatusCode::OK),
        ("application/taxii+json;version=2.1;q=0.9", StatusCode::OK),
        ("application/json, text/plain, */*", StatusCode::OK),
        (
            "application/taxii+json;version=2.0",
            StatusCode::NOT_ACCEPTABLE,
        ),
        ("application/json", StatusCode::NOT_ACCEPTABLE),
        (
            "application/stix+json;version=2.1",
            StatusCode::NOT_ACCEPTABLE,
        ),
    ] {
        let answer = send(
            &fx.app,
            Request::builder()
                .uri("/taxii2/")
                .header("accept", accept)
                .header("authorization", &fx.main)
                .body(Body::empty())
                .unwrap_or_else(|err| panic!("{err}")),
        )
        .await;
        assert_eq!(answer.status, expected, "{accept}");
        assert_eq!(answer.header("content-type"), Some(TAXII), "{accept}");
    }
    for content_type in [
        Some("application/json"),
        Some("application/stix+json;version=2.1"),
        Some("application/taxii+json;version=2.0"),
        None,
    ] {
        let mut builder = request(Method::POST, &objects_path(&fx.rw), Some(&fx.main));
        if let Some(content_type) = content_type {
            builder = builder.header("content-type", content_type);
        }
        let answer = send(
            &fx.app,
            builder
                .body(Body::from(envelope(&[indicator(
                    1,
                    "2020-01-01T00:00:00.000Z",
                )])))
                .unwrap_or_else(|err| panic!("{err}")),
        )
        .await;
        answer.assert_error(StatusCode::UNSUPPORTED_MEDIA_TYPE);
    }
    let bare = send(
        &fx.app,
        request(Method::POST, &objects_path(&fx.rw), Some(&fx.main))
            .header("content-type", "application/taxii+json")
            .body(Body::from(envelope(&[indicator(
                1,
                "2020-01-01T00:00:00.000Z",
            )])))
            .unwrap_or_else(|err| panic!("{err}")),
    )
    .await;
    assert_eq!(bare.status, StatusCode::ACCEPTED);
    let put = send(
        &fx.app,
        request(Method::PUT, &objects_path(&fx.rw), Some(&fx.main))
            .body(Body::empty())
            .unwrap_or_else(|err| panic!("{err}")),
    )
    .await;
    put.assert_error(StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn add_objects_reports_status_and_keeps_bytes() {
    let fx = fixture().await;
    let odd = "{ \"type\" : \"indicator\",\"spec_version\":\"2.1\", \"id\":\"indicator--00000000-0000-4000-8000-000000000777\",\n\"created\":\"2020-01-01T00:00:00.000Z\",\"modified\":\"2020-01-01T00:00:00.000Z\", \"name\":\"caf\\u00e9\",\"pattern\":\"[ipv4-addr:value = '198.51.100.1']\",\"pattern_type\":\"stix\",\"valid_from\":\"2020-01-01T00:00:00Z\"}";
    let body = format!(
        "{{\"objects\":[{odd},{},{{\"type\":\"note\"}}]}}",
        indicator(1, "2020-01-01T00:00:00.000Z")
    );
    let answer = post(&fx.app, &objects_path(&fx.rw), &fx.main, body).await;
    assert_eq!(answer.status, StatusCode::ACCEPTED);
    assert_eq!(answer.header("content-type"), Some(TAXII));
    let status = answer.json();
    assert_eq!(status["status"], json!("complete"));
    assert_eq!(status["total_count"], json!(3));
    assert_eq!(status["success_count"], json!(2));
    assert_eq!(status["failure_count"], json!(1));
    assert_eq!(status["pending_count"], json!(0));
    assert!(status.get("pendings").is_none(), "no empty lists");
    assert_eq!(
        status["successes"][0]["version"],
        json!("2020-01-01T00:00:00.000Z")
    );
    assert!(
        status["failures"][0]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty())
    );
    let request_timestamp = status["request_timestamp"].as_str().unwrap_or_default();
    assert_eq!(
        request_timestamp.len(),
        27,
        "microsecond timestamp: {request_timestamp}"
    );

    let stored = get(
        &fx.app,
        &format!(
            "{}indicator--00000000-0000-4000-8000-000000000777/",
            objects_path(&fx.rw)
        ),
        &fx.main,
    )
    .await;
    assert_eq!(
        stored.text,
        format!("{{\"more\":false,\"objects\":[{odd}]}}")
    );

    // Re-posting is not an error and stores nothing new.
    let again = post(
        &fx.app,
        &objects_path(&fx.rw),
        &fx.main,
        envelope(&[indicator(1, "2020-01-01T00:00:00.000Z")]),
    )
    .await
    .json();
    assert_eq!(again["success_count"], json!(1));
    assert!(again["successes"][0]["message"].is_string());
    let all = get(
        &fx.app,
        &format!("{}?match[version]=all", objects_path(&fx.rw)),
        &fx.main,
    )
    .await;
    assert_eq!(ids(&all.json()).len(), 2);

    // The status, with and without the slash; only for the poster.
    let status_id = status["id"].as_str().unwrap_or_default();
    for path in [
        format!("/api1/status/{status_id}/"),
        format!("/api1/status/{status_id}"),
    ] {
        let fetched = get(&fx.app, &path, &fx.main).await;
        assert_eq!(fetched.status, StatusCode::OK);
        assert_eq!(fetched.json(), status);
    }
    get(&fx.app, &format!("/api1/status/{status_id}/"), &fx.stranger)
        .await
        .assert_error(StatusCode::NOT_FOUND);
    get(&fx.app, "/api1/status/nope/", &fx.main)
        .await
        .assert_error(StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn bad_posts_get_taxii_errors_and_store_nothing() {
    let fx = fixture_with(Limits {
        max_content_length: 4_096,
        max_objects_per_envelope: 3,
        max_json_depth: 10,
        ..Limits::default()
    })
    .await;
    let one = indicator(1, "2020-01-01T00:00:00.000Z");
    let deep = format!(
        "{{\"objects\":[{{\"type\":\"x\",\"x_deep\":{}{}}}]}}",
        "[".repeat(20),
        "]".repeat(20)
    );
    let cases: Vec<(String, StatusCode)> = vec![
        ("{\"objects\": [".to_owned(), StatusCode::BAD_REQUEST),
        ("not json".to_owned(), StatusCode::BAD_REQUEST),
        (
            format!("{{\"objects\":[{one}], \"objects\":[]}}"),
            StatusCode::BAD_REQUEST,
        ),
        (
            "{\"objects\":[{\"type\":\"indicator\",\"type\":\"malware\"}]}".to_owned(),
            StatusCode::BAD_REQUEST,
        ),
        (deep, StatusCode::BAD_REQUEST),
        ("[]".to_owned(), StatusCode::UNPROCESSABLE_ENTITY),
        (
            "{\"objects\": 3}".to_owned(),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        ("{}".to_owned(), StatusCode::UNPROCESSABLE_ENTITY),
        (
            envelope(&[one.clone(), one.clone(), one.clone(), one.clone()]),
            StatusCode::PAYLOAD_TOO_LARGE,
        ),
        (
            format!("{{\"objects\":[{one}], \"x\":\"{}\"}}", "a".repeat(5_000)),
            StatusCode::PAYLOAD_TOO_LARGE,
        ),
        ("\u{feff}\u{0}".to_owned(), StatusCode::BAD_REQUEST),
    ];
    for (body, expected) in cases {
        let answer = post(&fx.app, &objects_path(&fx.rw), &fx.main, body.clone()).await;
        answer.assert_error(expected);
    }
    // Chunked upload without Content-Length, over the limit.
    let stream = futures_stream(vec![vec![b' '; 3_000], vec![b' '; 3_000]]);
    let answer = send(
        &fx.app,
        request(Method::POST, &objects_path(&fx.rw), Some(&fx.main))
            .header("content-type", TAXII)
            .body(stream)
            .unwrap_or_else(|err| panic!("{err}")),
    )
    .await;
    answer.assert_error(StatusCode::PAYLOAD_TOO_LARGE);
    // Not a byte of it stored.
    let listed = get(
        &fx.app,
        &format!("{}?match[version]=all", objects_path(&fx.rw)),
        &fx.main,
    )
    .await;
    assert_eq!(listed.json(), json!({"more": false}));

    // Permissions: read-only → 403, hidden → 404.
    post(
        &fx.app,
        &objects_path(&fx.ro),
        &fx.main,
        envelope(std::slice::from_ref(&one)),
    )
    .await
    .assert_error(StatusCode::FORBIDDEN);
    post(
        &fx.app,
        &objects_path(&fx.hidden),
        &fx.main,
        envelope(std::slice::from_ref(&one)),
    )
    .await
    .assert_error(StatusCode::NOT_FOUND);
    let write_only = post(&fx.app, &objects_path(&fx.wo), &fx.main, envelope(&[one])).await;
    assert_eq!(write_only.status, StatusCode::ACCEPTED);
    get(&fx.app, &objects_path(&fx.wo), &fx.main)
        .await
        .assert_error(StatusCode::FORBIDDEN);
}

fn futures_stream(chunks: Vec<Vec<u8>>) -> Body {
    let stream = futures_util::stream::iter(
        chunks
            .into_iter()
            .map(|chunk| Ok::<_, std::io::Error>(axum::body::Bytes::from(chunk))),
    );
    Body::from_stream(stream)
}

#[tokio::test]
async fn get_objects_filters_and_headers() {
    let fx = fixture().await;
    let mut malware = indicator(9, "2020-01-01T00:00:00.000Z");
    malware["type"] = json!("malware");
    malware["id"] = json!("malware--00000000-0000-4000-8000-000000000009");
    malware["is_family"] = json!(false);
    add(&fx, &[indicator(1, "2020-01-01T00:00:00.000Z"), malware]).await;
    add(&fx, &[indicator(1, "2021-01-01T00:00:00.000Z")]).await;
    add(
        &fx,
        &[
            indicator(1, "2019-01-01T00:00:00.000Z"),
            indicator(2, "2020-01-01T00:00:00.000Z"),
        ],
    )
    .await;
    let path = objects_path(&fx.rw);

    let all = get(&fx.app, &path, &fx.main).await;
    assert_eq!(all.status, StatusCode::OK);
    let first = all
        .header("x-taxii-date-added-first")
        .unwrap_or_default()
        .to_owned();
    let last = all
        .header("x-taxii-date-added-last")
        .unwrap_or_default()
        .to_owned();
    assert_eq!(first.len(), 27);
    assert!(first < last);
    let body = all.json();
    assert_eq!(body["more"], json!(false));
    assert!(body.get("next").is_none());
    // Default is the last version of each object, in date_added order.
    assert_eq!(
        ids(&body),
        vec![
            "malware--00000000-0000-4000-8000-000000000009",
            "indicator--00000000-0000-4000-8000-000000000001",
            "indicator--00000000-0000-4000-8000-000000000002"
        ]
    );
    assert_eq!(
        body["objects"][1]["modified"],
        json!("2021-01-01T00:00:00.000Z")
    );

    let versions_of = |query: &str| {
        let app = fx.app.clone();
        let auth = fx.main.clone();
        let url =
            format!("{path}?match[id]=indicator--00000000-0000-4000-8000-000000000001&{query}");
        async move {
            let body = get(&app, &url, &auth).await.json();
            body["objects"]
                .as_array()
                .map(|list| {
                    list.iter()
                        .filter_map(|o| o["modified"].as_str().map(str::to_owned))
                        .collect::<Vec<_>>()
                })
                .unwrap_or_default()
        }
    };
    assert_eq!(
        versions_of("match[version]=first").await,
        vec!["2019-01-01T00:00:00.000Z"]
    );
    assert_eq!(
        versions_of("match[version]=last").await,
        vec!["2021-01-01T00:00:00.000Z"]
    );
    assert_eq!(versions_of("match[version]=all").await.len(), 3);
    assert_eq!(
        versions_of("match[version]=2020-01-01T00:00:00Z").await,
        vec!["2020-01-01T00:00:00.000Z"]
    );
    assert_eq!(versions_of("match[version]=first,last").await.len(), 2);
    assert_eq!(versions_of("match[spec_version]=2.0").await.len(), 0);

    let typed = get(
        &fx.app,
        &format!("{path}?match[type]=malware,tool"),
        &fx.main,
    )
    .await
    .json();
    assert_eq!(
        ids(&typed),
        vec!["malware--00000000-0000-4000-8000-000000000009"]
    );
    let none = get(&fx.app, &format!("{path}?match[type]=grouping"), &fx.main).await;
    assert_eq!(none.status, StatusCode::OK);
    assert_eq!(none.json(), json!({"more": false}));
    assert!(none.header("x-taxii-date-added-first").is_none());

    let every = get(&fx.app, &format!("{path}?match[version]=all"), &fx.main).await;
    let oldest = every
        .header("x-taxii-date-added-first")
        .unwrap_or_default()
        .to_owned();
    assert_eq!(ids(&every.json()).len(), 5);
    let after = get(
        &fx.app,
        &format!("{path}?match[version]=all&added_after={oldest}"),
        &fx.main,
    )
    .await
    .json();
    assert_eq!(
        ids(&after).len(),
        4,
        "added_after is strict: the oldest version is excluded"
    );

    // Paging with limit and next walks every version exactly once.
    let mut seen = Vec::new();
    let mut url = format!("{path}?match[version]=all&limit=2");
    loop {
        let page = get(&fx.app, &url, &fx.main).await.json();
        let count = page["objects"].as_array().map_or(0, Vec::len);
        assert!(count <= 2);
        seen.extend(page["objects"].as_array().cloned().unwrap_or_default());
        if page["more"] != json!(true) {
            break;
        }
        let next = page["next"].as_str().unwrap_or_default();
        url = format!("{path}?match[version]=all&limit=2&next={next}");
    }
    assert_eq!(seen.len(), 5);

    for bad in [
        "limit=0",
        "limit=x",
        "added_after=yesterday",
        "next=bogus",
        "match[version]=all,first",
        "match[type]=BAD%20TYPE",
        "limit=1&limit=2",
    ] {
        get(&fx.app, &format!("{path}?{bad}"), &fx.main)
            .await
            .assert_error(StatusCode::BAD_REQUEST);
    }
}

#[tokio::test]
async fn object_versions_manifest_and_delete() {
    let fx = fixture().await;
    add(
        &fx,
        &[
            indicator(1, "2020-01-01T00:00:00.000Z"),
            indicator(1, "2021-01-01T00:00:00.000Z"),
            indicator(2, "2020-01-01T00:00:00.000Z"),
        ],
    )
    .await;
    let id = "indicator--00000000-0000-4000-8000-000000000001";
    let object_path = format!("{}{id}/", objects_path(&fx.rw));

    let object = get(&fx.app, &object_path, &fx.main).await;
    assert_eq!(object.status, StatusCode::OK);
    assert!(object.header("x-taxii-date-added-last").is_some());
    assert_eq!(
        object.json()["objects"][0]["modified"],
        json!("2021-01-01T00:00:00.000Z")
    );
    let both = get(
        &fx.app,
        &format!("{object_path}?match[version]=all"),
        &fx.main,
    )
    .await
    .json();
    assert_eq!(both["objects"].as_array().map(Vec::len), Some(2));
    get(
        &fx.app,
        &format!(
            "{}indicator--00000000-0000-4000-8000-999999999999/",
            objects_path(&fx.rw)
        ),
        &fx.main,
    )
    .await
    .assert_error(StatusCode::NOT_FOUND);

    let versions = get(&fx.app, &format!("{object_path}versions/"), &fx.main).await;
    assert_eq!(versions.status, StatusCode::OK);
    assert!(versions.header("x-taxii-date-added-first").is_some());
    assert_eq!(
        versions.json(),
        json!({"more": false, "versions": ["2020-01-01T00:00:00.000Z", "2021-01-01T00:00:00.000Z"]})
    );
    let paged = get(
        &fx.app,
        &format!("{object_path}versions/?limit=1"),
        &fx.main,
    )
    .await
    .json();
    assert_eq!(paged["more"], json!(true));
    assert!(paged["next"].is_string());

    let manifest = get(
        &fx.app,
        &format!("/api1/collections/{}/manifest/?match[version]=all", fx.rw),
        &fx.main,
    )
    .await;
    assert_eq!(manifest.status, StatusCode::OK);
    let records = manifest.json();
    let records = records["objects"].as_array().cloned().unwrap_or_default();
    assert_eq!(records.len(), 3);
    assert_eq!(records[0]["id"], json!(id));
    assert_eq!(records[0]["version"], json!("2020-01-01T00:00:00.000Z"));
    assert_eq!(
        records[0]["media_type"],
        json!("application/stix+json;version=2.1")
    );
    assert_eq!(records[0]["date_added"].as_str().map(str::len), Some(27));
    let typed = get(
        &fx.app,
        &format!("/api1/collections/{}/manifest/?match[type]=malware", fx.rw),
        &fx.main,
    )
    .await;
    assert_eq!(typed.json(), json!({"more": false}));

    // Read-only and write-only may not delete; read+write may.
    for collection in [&fx.ro, &fx.wo] {
        let answer = send(
            &fx.app,
            request(
                Method::DELETE,
                &format!("{}{id}/", objects_path(collection)),
                Some(&fx.main),
            )
            .body(Body::empty())
            .unwrap_or_else(|err| panic!("{err}")),
        )
        .await;
        answer.assert_error(StatusCode::FORBIDDEN);
    }
    let delete = |query: &str| {
        request(
            Method::DELETE,
            &format!("{object_path}{query}"),
            Some(&fx.main),
        )
        .body(Body::empty())
        .unwrap_or_else(|err| panic!("{err}"))
    };
    let deleted = send(&fx.app, delete("?match[version]=first")).await;
    assert_eq!(deleted.status, StatusCode::OK);
    assert_eq!(deleted.header("content-type"), Some(TAXII));
    let left = get(&fx.app, &format!("{object_path}versions/"), &fx.main)
        .await
        .json();
    assert_eq!(left["versions"], json!(["2021-01-01T00:00:00.000Z"]));
    assert_eq!(send(&fx.app, delete("")).await.status, StatusCode::OK);
    get(&fx.app, &object_path, &fx.main)
        .await
        .assert_error(StatusCode::NOT_FOUND);
    send(&fx.app, delete(""))
        .await
        .assert_error(StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn metrics_count_requests() {
    let dir = tempfile::tempdir().unwrap_or_else(|err| panic!("{err}"));
    let store = SqliteStore::open(&dir.path().join("m.db"), true)
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    let state = AppState::new(Arc::new(store), Settings::default());
    let app = server::router(state.clone());
    let answer = send(
        &app,
        request(Method::GET, "/taxii2/", None)
            .body(Body::empty())
            .unwrap_or_else(|err| panic!("{err}")),
    )
    .await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    let metrics = send(
        &server::metrics_router(state),
        Request::builder()
            .uri("/metrics")
            .body(Body::empty())
            .unwrap_or_else(|err| panic!("{err}")),
    )
    .await;
    assert_eq!(metrics.status, StatusCode::OK);
    assert!(
        metrics.text.contains(
            "tearline_http_requests_total{method=\"GET\",endpoint=\"/taxii2\",status=\"401\"} 1"
        ),
        "{}",
        metrics.text
    );
}
