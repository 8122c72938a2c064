//! `tearline demo`: the whole need-to-know exchange on one machine.
//!
//! A home intelligence service learns of a planned bombing in a city now
//! governed by a group its own state designates as a terrorist
//! organisation. The warning must reach the city's authorities; the source
//! behind it must not. The demo builds that world in a temporary data
//! directory, asks for the release, shows it waiting for a second person,
//! lets a second officer approve it, then reads the partner's view over
//! TAXII with the partner's own credentials.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use base64::Engine;
use serde_json::{Value, json};
use server::{AppState, Settings};
use stix::markings::{TLP2_AMBER, TLP2_GREEN};
use store::sqlite::SqliteStore;
use store::{
    ApiRoot, Designation, DispositionKind, MarkingDisposition, NewAccount, NewCollection, NewParty,
    Role, Store,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::admin_cmds::DEFAULT_API_ROOT;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Keep serving after the demo until Ctrl-C (the data directory is kept).
    #[arg(long)]
    pub serve: bool,
    /// Use this (new) directory instead of a temporary one; it is kept.
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,
    /// Run the demo on this empty PostgreSQL database instead of the
    /// embedded store (the ledger key still goes in the data directory).
    #[arg(long, env = "TEARLINE_DATABASE", value_name = "URL")]
    pub database: Option<String>,
}

const HOME: &str = "Northland Intelligence Service";
const PARTNER: &str = "riverton-city-authority";
const ANALYST: (&str, &str) = ("anna", "anna-demo-password");
const OFFICER: (&str, &str) = ("olaf", "olaf-demo-password");
const PARTNER_ACCOUNT: (&str, &str) = ("riverton", "riverton-demo-password");

const SOURCES_MARKING: &str = "marking-definition--7d1c6a3e-5b0f-4c39-9a51-2f4e8b6c0d11";
const HOME_IDENTITY: &str = "identity--0b5e2d8c-1f7a-4e3b-8c6d-9a2f4b1e7c30";
const INFORMANT: &str = "identity--c3a9e1f2-6d4b-4a8e-b7c5-1e0f9d2a3b64";
const CELL: &str = "threat-actor--5f8e2a1c-9b3d-4c7e-a6f0-2d1b8e4c9a75";
const MARKET: &str = "location--a2c4e6f8-1b3d-4f5a-8c7e-9d0b2a4c6e86";
const TARGETS: &str = "relationship--e1d2c3b4-a5f6-4e7d-8c9b-0a1f2e3d4c97";
const REPORT: &str = "report--9f8e7d6c-5b4a-4392-8170-6f5e4d3c2ba8";
const CREATED: &str = "2026-11-20T08:00:00.000Z";

fn home_objects() -> Vec<Value> {
    vec![
        json!({
            "type": "identity", "spec_version": "2.1", "id": HOME_IDENTITY,
            "created": CREATED, "modified": CREATED,
            "name": HOME, "identity_class": "organization",
        }),
        json!({
            "type": "marking-definition", "spec_version": "2.1", "id": SOURCES_MARKING,
            "created": CREATED, "name": "NORTHLAND SOURCES AND METHODS",
            "definition_type": "statement",
            "definition": {"statement": "Northland sources and methods. Never releasable."},
        }),
        json!({
            "type": "identity", "spec_version": "2.1", "id": INFORMANT,
            "created": CREATED, "modified": CREATED, "created_by_ref": HOME_IDENTITY,
            "name": "LANTERN",
            "description": "Informant LANTERN: cousin of the cell's driver; meets handler at safe house 14.",
            "identity_class": "individual",
            "object_marking_refs": [SOURCES_MARKING],
        }),
        json!({
            "type": "threat-actor", "spec_version": "2.1", "id": CELL,
            "created": CREATED, "modified": CREATED, "created_by_ref": HOME_IDENTITY,
            "name": "Black Kite cell",
            "description": "Four-person cell; vehicle-borne explosive device prepared in a garage in the east quarter.",
            "threat_actor_types": ["terrorist"],
            "object_marking_refs": [TLP2_AMBER.id],
        }),
        json!({
            "type": "location", "spec_version": "2.1", "id": MARKET,
            "created": CREATED, "modified": CREATED, "created_by_ref": HOME_IDENTITY,
            "name": "Riverton central market",
            "latitude": 41.7151, "longitude": 44.8271,
            "object_marking_refs": [TLP2_GREEN.id],
        }),
        json!({
            "type": "relationship", "spec_version": "2.1", "id": TARGETS,
            "created": CREATED, "modified": CREATED, "created_by_ref": HOME_IDENTITY,
            "relationship_type": "targets", "source_ref": CELL, "target_ref": MARKET,
            "object_marking_refs": [TLP2_AMBER.id],
        }),
        json!({
            "type": "report", "spec_version": "2.1", "id": REPORT,
            "created": CREATED, "modified": CREATED, "created_by_ref": HOME_IDENTITY,
            "name": "Planned bombing of Riverton central market",
            "description": "The Black Kite cell plans to detonate a vehicle-borne device at Riverton central market on 5 December between 10:00 and 12:00 local time.",
            "report_types": ["threat-report"],
            "published": CREATED,
            "labels": ["terrorism", "humint-lantern-safe-house-14"],
            "external_references": [{
                "source_name": "LANTERN debrief",
                "description": "Handler notes of the 19 November meeting with LANTERN at safe house 14.",
            }],
            "object_refs": [CELL, MARKET, TARGETS, INFORMANT],
            "object_marking_refs": [TLP2_AMBER.id],
            "granular_markings": [{
                "marking_ref": SOURCES_MARKING,
                "selectors": ["labels.[1]", "external_references"],
            }],
        }),
    ]
}

fn now() -> store::Micros {
    server::timestamp::now_micros()
}

fn step(text: &str) {
    println!("\n== {text}");
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let (data, temporary) = match &args.data {
        Some(dir) => (dir.clone(), false),
        None => (
            std::env::temp_dir().join(format!("tearline-demo-{}", uuid::Uuid::new_v4().simple())),
            !args.serve,
        ),
    };
    std::fs::create_dir_all(&data)
        .with_context(|| format!("creating the demo directory {}", data.display()))?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let result = runtime.block_on(demo(
        data.clone(),
        args.database.clone(),
        args.serve,
        !temporary,
    ));
    if temporary {
        let _ = std::fs::remove_dir_all(&data);
    }
    result?;
    Ok(ExitCode::SUCCESS)
}

async fn demo(
    data: PathBuf,
    database_url: Option<String>,
    serve: bool,
    kept: bool,
) -> anyhow::Result<()> {
    let store: Arc<dyn Store> = match &database_url {
        Some(url) => {
            let location = match store::Location::parse(url) {
                store::Location::Postgres(url) => store::Location::Postgres(url),
                store::Location::Sqlite(_) => {
                    anyhow::bail!("--database must be a postgres:// or postgresql:// URL")
                }
            };
            let store = store::open(&location, true, &store::postgres::PgSettings::default())
                .await
                .with_context(|| format!("opening {location}"))?;
            anyhow::ensure!(
                store.api_roots().await?.is_empty(),
                "{location} is not empty; the demo needs an empty database"
            );
            store
        }
        None => {
            let database = data.join(crate::config::DATABASE_FILE);
            anyhow::ensure!(
                !database.exists(),
                "{} already holds a tearline database",
                data.display()
            );
            Arc::new(SqliteStore::open(&database, true).await?)
        }
    };
    let store_ref: &dyn Store = store.as_ref();
    println!("tearline demo: need-to-know release across a trust boundary");
    println!("data directory: {}", data.display());
    if let Some(url) = &database_url {
        println!("database: {}", store::postgres::redact_password(url));
    }

    step("1. The home service, its partner and their accounts");
    store_ref
        .create_api_root(
            &ApiRoot {
                name: DEFAULT_API_ROOT.to_owned(),
                title: "tearline demo".to_owned(),
                description: None,
            },
            now(),
        )
        .await?;
    let internal = store_ref
        .create_collection(
            &NewCollection {
                api_root: DEFAULT_API_ROOT.to_owned(),
                title: "Northland holdings (internal)".to_owned(),
                description: None,
                alias: Some("internal".to_owned()),
            },
            now(),
        )
        .await?;
    store_ref
        .create_party(
            &NewParty {
                name: HOME.to_owned(),
                identity_id: HOME_IDENTITY.to_owned(),
                country: "NL".to_owned(),
                groups: Vec::new(),
                designations: Vec::new(),
                home: true,
                api_root: DEFAULT_API_ROOT.to_owned(),
            },
            now(),
        )
        .await?;
    let partner = store_ref
        .create_party(
            &NewParty {
                name: PARTNER.to_owned(),
                identity_id: format!("identity--{}", uuid::Uuid::new_v4()),
                country: "RV".to_owned(),
                groups: vec!["city-authorities".to_owned()],
                designations: vec![Designation {
                    name: "northland-terrorist-organisations".to_owned(),
                    since: Some("2019-05-01".to_owned()),
                }],
                home: false,
                api_root: DEFAULT_API_ROOT.to_owned(),
            },
            now(),
        )
        .await?;
    let (Some(outbound), Some(inbound)) = (partner.outbound.clone(), partner.inbound.clone())
    else {
        anyhow::bail!("the partner has no collections");
    };
    println!("home party:    {HOME}");
    println!(
        "partner:       {PARTNER} (governs Riverton; designated: northland-terrorist-organisations since 2019-05-01)"
    );
    for (name, password, role, party, read, write) in [
        (
            ANALYST.0,
            ANALYST.1,
            Role::Analyst,
            None,
            vec![internal.id.clone()],
            vec![internal.id.clone()],
        ),
        (
            OFFICER.0,
            OFFICER.1,
            Role::ReleasingOfficer,
            None,
            vec![internal.id.clone()],
            vec![],
        ),
        (
            PARTNER_ACCOUNT.0,
            PARTNER_ACCOUNT.1,
            Role::Partner,
            Some(PARTNER.to_owned()),
            vec![outbound.clone()],
            vec![inbound.clone()],
        ),
    ] {
        store_ref
            .create_account(
                &NewAccount {
                    name: name.to_owned(),
                    password_hash: Some(server::auth::hash_password(password)?),
                    role,
                    party,
                    read,
                    write,
                },
                now(),
            )
            .await?;
        println!("account:       {name:<9} role {role}");
    }

    step("2. The threat report, with its source under \"sources and methods\"");
    let validator = stix::validate::Validator::default();
    let limits = stix::Limits::default();
    let mut objects = Vec::new();
    for object in home_objects() {
        let prepared = server::ingest::prepare(&object.to_string(), &validator, &limits)
            .map_err(|r| anyhow::anyhow!("demo object {}: {}", r.id, r.message))?;
        objects.push(prepared);
    }
    store_ref.add_objects(&internal.id, &objects, now()).await?;
    store_ref
        .set_marking_disposition(
            &MarkingDisposition {
                marking_id: SOURCES_MARKING.to_owned(),
                kind: DispositionKind::Withhold,
                release_to: Vec::new(),
            },
            now(),
        )
        .await?;
    println!(
        "stored {} objects; marking \"NORTHLAND SOURCES AND METHODS\" set to withhold",
        objects.len()
    );
    println!("  the informant identity is under it as a whole (object marking);");
    println!(
        "  in the report, labels.[1] and external_references are under it (granular marking)."
    );

    step("3. Analyst anna asks to release the report to the partner");
    let requested = server::releases::request(
        store_ref,
        ANALYST.0,
        PARTNER,
        &[REPORT.to_owned()],
        "Duty to warn: specific, credible threat to life in Riverton on 5 December.",
        now(),
    )
    .await?;
    println!(
        "{}",
        serde_json::to_string_pretty(&json!({
            "release": requested.release,
            "state": requested.state,
            "reasons": requested.reasons,
        }))?
    );
    let visible = store_ref
        .query_objects(&store::ObjectQuery::new(outbound.clone(), 10))
        .await?;
    println!(
        "objects in the partner's collection while pending: {}",
        visible.items.len()
    );

    step("4. anna tries to approve her own request");
    match server::releases::approve(store_ref, &requested.release, ANALYST.0, now()).await {
        Err(err) => println!("{err}"),
        Ok(_) => anyhow::bail!("self-approval must be refused"),
    }

    step("5. Releasing officer olaf approves");
    let approved =
        server::releases::approve(store_ref, &requested.release, OFFICER.0, now()).await?;
    println!("state: {}", approved.state);
    for object in &approved.objects {
        println!(
            "  {:<62} {:<10} {}",
            object["source"].as_str().unwrap_or(""),
            object["outcome"].as_str().unwrap_or(""),
            if object["outcome"] == "derivative" {
                "(new id for this partner)"
            } else {
                ""
            }
        );
    }

    step("6. The partner's view, read over TAXII with its own credentials");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    let key_path = data.join(crate::config::LEDGER_KEY_FILE);
    let verifier_key =
        crate::config::create_ledger_key(&key_path, "demo.northland.example/ledger")?;
    let signer = crate::config::load_ledger_signer(Some(&data), None)?;
    let state = AppState::new(store.clone(), Settings::default()).with_ledger_signer(signer);
    let app = server::router(state);
    let server_task = tokio::spawn(async move { axum::serve(listener, app).await });
    let base = format!("http://{address}");
    let objects_path = format!("/{DEFAULT_API_ROOT}/collections/{outbound}/objects/");
    let envelope = get(address, &objects_path, PARTNER_ACCOUNT).await?;
    let received: Vec<Value> = envelope
        .get("objects")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    println!(
        "GET {base}{objects_path} as {} → {} objects",
        PARTNER_ACCOUNT.0,
        received.len()
    );
    let report_home = home_objects()
        .into_iter()
        .find(|o| o["id"] == REPORT)
        .unwrap_or(Value::Null);
    let report_partner = received
        .iter()
        .find(|o| o["type"] == "report")
        .cloned()
        .unwrap_or(Value::Null);
    side_by_side(
        "WHAT STAYED HOME (the report)",
        &report_home,
        "WHAT THE PARTNER GOT",
        &report_partner,
    )?;
    let types: Vec<String> = received
        .iter()
        .map(|o| {
            format!(
                "{} {}",
                o["type"].as_str().unwrap_or("?"),
                o["name"].as_str().unwrap_or("")
            )
        })
        .collect();
    println!("\nthe partner received: {}", types.join("; "));
    let leaked = serde_json::to_string(&received)?;
    for secret in ["LANTERN", "safe house", INFORMANT, REPORT, HOME_IDENTITY] {
        anyhow::ensure!(
            !leaked.contains(secret),
            "demo check failed: '{secret}' reached the partner"
        );
    }
    println!(
        "checked: no informant, no source detail, no home ids in anything the partner can read"
    );

    step("7. The ledger: what the partner can prove it was given");
    let log_path = format!("/api/v1/ledger/logs/{PARTNER}");
    let checkpoint = get_text(address, &format!("{log_path}/checkpoint"), PARTNER_ACCOUNT).await?;
    println!("GET {base}{log_path}/checkpoint as {}:", PARTNER_ACCOUNT.0);
    for line in checkpoint.lines() {
        println!("  {line}");
    }
    let records: Value = serde_json::from_str(
        &get_text(address, &format!("{log_path}/records"), PARTNER_ACCOUNT).await?,
    )
    .context("the records answer is not JSON")?;
    let leaves: Vec<Vec<u8>> = records["records"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|entry| ledger::canonical_json(&entry["record"]))
        .collect::<Result<_, _>>()?;
    let verified = ledger::verify_log(&leaves, &checkpoint, &verifier_key, None)
        .map_err(|err| anyhow::anyhow!("demo check failed: the ledger does not verify: {err}"))?;
    println!(
        "verified offline with the key {verifier_key}: {} record(s) produce the signed root",
        verified.checkpoint.size()
    );
    if let Some(report) = received.iter().find(|o| o["type"] == "report") {
        let sha = ledger::object_sha256(&stix::canonical::to_canonical_bytes(report)?).to_hex();
        let path = format!("{log_path}/proof/inclusion?object_sha256={sha}");
        let proof: Value = serde_json::from_str(&get_text(address, &path, PARTNER_ACCOUNT).await?)?;
        let leaf = ledger::Hash::from_hex(proof["leaf_hash"].as_str().unwrap_or_default())?;
        let path_hashes = proof["proof"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|h| ledger::Hash::from_hex(h.as_str().unwrap_or_default()))
            .collect::<Result<Vec<_>, _>>()?;
        ledger::verify_inclusion(
            &leaf,
            proof["index"].as_u64().unwrap_or(u64::MAX),
            verified.checkpoint.size(),
            &path_hashes,
            verified.checkpoint.root(),
        )?;
        println!(
            "the report it received (sha256 {}…) is in leaf {}, proven against that checkpoint",
            sha.get(..16).unwrap_or(&sha),
            proof["index"]
        );
    }

    step("Explore");
    println!("TAXII discovery: {base}/taxii2/");
    println!("partner objects: {base}{objects_path}");
    println!("partner inbound: {base}/{DEFAULT_API_ROOT}/collections/{inbound}/objects/");
    println!("partner ledger:  {base}/api/v1/ledger/logs/{PARTNER}/checkpoint (and /records)");
    println!(
        "release API:     {base}/api/v1/releases/{}",
        requested.release
    );
    println!("credentials (HTTP Basic):");
    for (name, password) in [PARTNER_ACCOUNT, ANALYST, OFFICER] {
        println!("  {name} / {password}");
    }
    if kept {
        println!(
            "release: tearline release explain --data {} {}",
            data.display(),
            requested.release
        );
    } else {
        println!("(the temporary data directory is removed on exit; use --data DIR to keep it)");
    }
    println!(
        "try: curl -u {}:{} -H 'Accept: application/taxii+json;version=2.1' {base}{objects_path}",
        PARTNER_ACCOUNT.0, PARTNER_ACCOUNT.1
    );
    if serve {
        println!("\nserving until Ctrl-C (data kept in {})", data.display());
        let _ = tokio::signal::ctrl_c().await;
    } else {
        println!("\n(run `tearline demo --serve` to keep the server running)");
    }
    server_task.abort();
    store.close().await;
    Ok(())
}

fn side_by_side(
    left_title: &str,
    left: &Value,
    right_title: &str,
    right: &Value,
) -> anyhow::Result<()> {
    const WIDTH: usize = 64;
    let left = serde_json::to_string_pretty(left)?;
    let right = serde_json::to_string_pretty(right)?;
    let left: Vec<&str> = left.lines().collect();
    let right: Vec<&str> = right.lines().collect();
    println!("\n{left_title:<WIDTH$} | {right_title}");
    println!("{:-<WIDTH$}-+-{:-<WIDTH$}", "", "");
    for index in 0..left.len().max(right.len()) {
        let l: String = left
            .get(index)
            .copied()
            .unwrap_or("")
            .chars()
            .take(WIDTH)
            .collect();
        let r: String = right
            .get(index)
            .copied()
            .unwrap_or("")
            .chars()
            .take(WIDTH)
            .collect();
        println!("{l:<WIDTH$} | {r}");
    }
    Ok(())
}

/// A minimal HTTP/1.1 GET over the loopback socket; the demo needs no more
/// than that and no client library.
async fn get(address: SocketAddr, path: &str, account: (&str, &str)) -> anyhow::Result<Value> {
    let body = get_text(address, path, account).await?;
    serde_json::from_str(&body).context("the response is not JSON")
}

async fn get_text(
    address: SocketAddr,
    path: &str,
    (user, password): (&str, &str),
) -> anyhow::Result<String> {
    let mut stream = tokio::net::TcpStream::connect(address).await?;
    let credentials =
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {address}\r\nAuthorization: Basic {credentials}\r\n\
         Accept: application/taxii+json;version=2.1\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await?;
    let text = String::from_utf8(response).context("the response is not UTF-8")?;
    let (head, body) = text.split_once("\r\n\r\n").context("no HTTP header end")?;
    anyhow::ensure!(
        head.starts_with("HTTP/1.1 200"),
        "GET {path}: {}",
        head.lines().next().unwrap_or("")
    );
    if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(body)
    } else {
        Ok(body.to_owned())
    }
}

fn dechunk(mut body: &str) -> anyhow::Result<String> {
    let mut out = String::new();
    loop {
        let (size, rest) = body.split_once("\r\n").context("bad chunk")?;
        let size = usize::from_str_radix(size.trim(), 16).context("bad chunk size")?;
        if size == 0 {
            return Ok(out);
        }
        out.push_str(rest.get(..size).context("short chunk")?);
        body = rest.get(size + 2..).context("short chunk")?;
    }
}
