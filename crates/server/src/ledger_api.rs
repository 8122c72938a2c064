//! The release ledger over HTTP, under `/api/v1/ledger` (documented in
//! docs/ledger-api.md). Unlike the rest of the release API, partners are
//! admitted here, but only to their own log: every other log, and every
//! unknown path, answers the same 404. Staff accounts read every log; the
//! internal records behind the commitments are for auditors only.

use axum::Router;
use axum::body::Body;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Extension, Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;
use serde_json::json;
use store::{Account, Role};

use crate::AppState;
use crate::api::{Error, PREFIX, json_body};
use crate::ledger_ops::{self, LedgerError, LogSigner};

/// Whoever called, once authenticated.
#[derive(Debug, Clone)]
struct Reader(Account);

impl Reader {
    /// 404 unless the caller may read `party`'s log: partners only their
    /// own, home staff every log.
    async fn may_read(&self, state: &AppState, party: &str) -> Result<(), Error> {
        let allowed = match (self.0.role, self.0.party.as_deref()) {
            (Role::Partner, own) => own == Some(party),
            (_, None) => true,
            (_, Some(own)) => state.store.party(own).await?.is_some_and(|p| p.home),
        };
        if allowed {
            Ok(())
        } else {
            Err(Error::NotFound)
        }
    }
}

impl From<LedgerError> for Error {
    fn from(err: LedgerError) -> Self {
        match err {
            LedgerError::Store(store) => store.into(),
            LedgerError::NotFound(_) => Error::NotFound,
            LedgerError::Invalid(why) => Error::BadRequest(why),
            LedgerError::Ledger(ledger::Error::IndexOutOfRange { index, size }) => {
                Error::BadRequest(format!("leaf {index} is outside a tree of {size} leaves"))
            }
            LedgerError::Ledger(other) => Error::Internal(other.to_string()),
        }
    }
}

/// A query string that does not parse is a JSON 400, like every other
/// error under the prefix.
fn parsed<T>(query: Result<Query<T>, QueryRejection>) -> Result<T, Error> {
    query
        .map(|Query(query)| query)
        .map_err(|e| Error::BadRequest(e.body_text()))
}

fn signer(state: &AppState) -> Result<&LogSigner, Error> {
    state
        .ledger_signer
        .as_ref()
        .ok_or_else(|| Error::Internal("no ledger signing key is configured".to_owned()))
}

fn text(body: String) -> Response {
    let mut response = (StatusCode::OK, body).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

/// Every ledger route, with its own authentication layer.
pub fn router(state: AppState) -> Router<AppState> {
    let p = format!("{PREFIX}/ledger");
    Router::new()
        .route(&format!("{p}/key"), get(key))
        .route(&format!("{p}/logs"), get(logs))
        .route(&format!("{p}/logs/{{party}}/checkpoint"), get(checkpoint))
        .route(&format!("{p}/logs/{{party}}/records"), get(records))
        .route(
            &format!("{p}/logs/{{party}}/records/{{index}}"),
            get(record),
        )
        .route(
            &format!("{p}/logs/{{party}}/proof/inclusion"),
            get(inclusion),
        )
        .route(
            &format!("{p}/logs/{{party}}/proof/consistency"),
            get(consistency),
        )
        .route(
            &format!("{p}/logs/{{party}}/cosignatures"),
            axum::routing::post(cosign),
        )
        .route(
            &format!("{p}/logs/{{party}}/internal/{{index}}"),
            get(internal),
        )
        .method_not_allowed_fallback(|| async { Error::MethodNotAllowed })
        .route_layer(middleware::from_fn_with_state(state, authenticate))
}

async fn authenticate(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let authorization = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok());
    match state
        .authenticator
        .authenticate(state.store.as_ref(), authorization)
        .await
    {
        Ok(account) => {
            tracing::Span::current().record("account", account.name.as_str());
            request.extensions_mut().insert(Reader(account));
            next.run(request).await
        }
        Err(err) => Error::from(err).into_response(),
    }
}

async fn key(State(state): State<AppState>) -> Result<Response, Error> {
    Ok(text(format!("{}\n", signer(&state)?.verifier())))
}

async fn logs(
    State(state): State<AppState>,
    Extension(reader): Extension<Reader>,
) -> Result<Response, Error> {
    let signer = signer(&state)?;
    let mut out = Vec::new();
    for party in state.store.parties().await? {
        if party.home || reader.may_read(&state, &party.name).await.is_err() {
            continue;
        }
        out.push(json!({
            "party": party.name,
            "origin": signer.origin(&party.name),
            "size": state.store.ledger_size(&party.name).await?,
        }));
    }
    Ok(axum::Json(json!({ "logs": out })).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CheckpointQuery {
    size: Option<u64>,
}

async fn checkpoint(
    State(state): State<AppState>,
    Extension(reader): Extension<Reader>,
    Path(party): Path<String>,
    query: Result<Query<CheckpointQuery>, QueryRejection>,
) -> Result<Response, Error> {
    reader.may_read(&state, &party).await?;
    let query = parsed(query)?;
    let note =
        ledger_ops::checkpoint(state.store.as_ref(), signer(&state)?, &party, query.size).await?;
    Ok(text(note))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RecordsQuery {
    start: Option<u64>,
    limit: Option<usize>,
}

async fn records(
    State(state): State<AppState>,
    Extension(reader): Extension<Reader>,
    Path(party): Path<String>,
    query: Result<Query<RecordsQuery>, QueryRejection>,
) -> Result<Response, Error> {
    reader.may_read(&state, &party).await?;
    let query = parsed(query)?;
    let start = query.start.unwrap_or(0);
    let limit = query.limit.unwrap_or(ledger_ops::MAX_LEAVES_PER_PAGE);
    let leaves = ledger_ops::leaves(state.store.as_ref(), &party, start, limit).await?;
    let size = state.store.ledger_size(&party).await?;
    let next = leaves.last().map(|l| l.index + 1).filter(|n| *n < size);
    Ok(axum::Json(json!({
        "size": size,
        "records": leaves.iter().map(ledger_ops::leaf_json).collect::<Vec<_>>(),
        "next": next,
    }))
    .into_response())
}

/// One leaf's exact bytes, as hashed.
async fn record(
    State(state): State<AppState>,
    Extension(reader): Extension<Reader>,
    path: Result<Path<(String, u64)>, PathRejection>,
) -> Result<Response, Error> {
    let Path((party, index)) = path.map_err(|e| Error::BadRequest(e.body_text()))?;
    reader.may_read(&state, &party).await?;
    let leaf = ledger_ops::leaves(state.store.as_ref(), &party, index, 1)
        .await?
        .into_iter()
        .find(|l| l.index == index)
        .ok_or(Error::NotFound)?;
    let mut response = (StatusCode::OK, Body::from(leaf.bytes)).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(crate::api::JSON_MEDIA_TYPE),
    );
    if let Ok(value) = HeaderValue::from_str(&leaf.leaf_hash.to_hex()) {
        response.headers_mut().insert("x-leaf-hash", value);
    }
    Ok(response)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct InclusionQuery {
    index: Option<u64>,
    object_sha256: Option<String>,
    size: Option<u64>,
}

async fn inclusion(
    State(state): State<AppState>,
    Extension(reader): Extension<Reader>,
    Path(party): Path<String>,
    query: Result<Query<InclusionQuery>, QueryRejection>,
) -> Result<Response, Error> {
    reader.may_read(&state, &party).await?;
    let query = parsed(query)?;
    let store = state.store.as_ref();
    let proof = match (query.index, query.object_sha256) {
        (Some(index), None) => ledger_ops::inclusion(store, &party, index, query.size).await?,
        (None, Some(sha)) => {
            ledger_ops::inclusion_by_object(store, &party, &sha, query.size).await?
        }
        _ => {
            return Err(Error::BadRequest(
                "give exactly one of `index` and `object_sha256`".to_owned(),
            ));
        }
    };
    Ok(axum::Json(proof).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConsistencyQuery {
    old: u64,
    new: Option<u64>,
}

async fn consistency(
    State(state): State<AppState>,
    Extension(reader): Extension<Reader>,
    Path(party): Path<String>,
    query: Result<Query<ConsistencyQuery>, QueryRejection>,
) -> Result<Response, Error> {
    reader.may_read(&state, &party).await?;
    let query = parsed(query)?;
    let proof = ledger_ops::consistency(state.store.as_ref(), &party, query.old, query.new).await?;
    Ok(axum::Json(proof).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CosignBody {
    /// The witness's verifier key (`name+id+base64`, type 0x04).
    key: String,
    /// The checkpoint as served, with the witness's cosignature line added.
    checkpoint: String,
}

/// A partner (for its own log) or an auditor posts a cosigned checkpoint.
async fn cosign(
    State(state): State<AppState>,
    Extension(reader): Extension<Reader>,
    Path(party): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, Error> {
    reader.may_read(&state, &party).await?;
    if !matches!(reader.0.role, Role::Partner | Role::Auditor) {
        return Err(Error::ForbiddenAction(
            "only the partner itself or an auditor may cosign a log",
        ));
    }
    let body: CosignBody = json_body(&headers, body, &state.settings.limits).await?;
    let size = ledger_ops::add_cosignature(
        state.store.as_ref(),
        signer(&state)?,
        &party,
        &reader.0.name,
        &body.key,
        &body.checkpoint,
        crate::timestamp::now_micros(),
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(json!({"party": party, "size": size})),
    )
        .into_response())
}

async fn internal(
    State(state): State<AppState>,
    Extension(reader): Extension<Reader>,
    path: Result<Path<(String, u64)>, PathRejection>,
) -> Result<Response, Error> {
    let Path((party, index)) = path.map_err(|e| Error::BadRequest(e.body_text()))?;
    reader.may_read(&state, &party).await?;
    if reader.0.role != Role::Auditor {
        // Partners must not learn that this path exists.
        if reader.0.role == Role::Partner {
            return Err(Error::NotFound);
        }
        return Err(Error::ForbiddenAction(
            "only auditors may read internal records",
        ));
    }
    let value = ledger_ops::internal(state.store.as_ref(), &party, index).await?;
    Ok(axum::Json(value).into_response())
}
