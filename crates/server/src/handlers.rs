//! One function per TAXII endpoint. Visibility rule: a collection the
//! caller holds no grant on answers exactly like a missing one (404); a
//! collection it can see but not use in this way answers 403.

use axum::body::Body;
use axum::extract::{Extension, Path, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use store::{
    Account, AddOutcome, Collection, DeleteRequest, Grant, JoinedPage, Micros, ObjectQuery, Page,
    StatusDetail, StatusRecord, VersionFilter,
};

use crate::error::ApiError;
use crate::filters::{Endpoint, Filters};
use crate::ingest::{self, EnvelopeError};
use crate::media::{self, STIX_MEDIA_TYPE, TAXII_MEDIA_TYPE};
use crate::{AppState, timestamp};

/// The authenticated account, put in place by the auth middleware.
#[derive(Debug, Clone)]
pub struct Caller(pub Account);

const DATE_ADDED_FIRST: HeaderName = HeaderName::from_static("x-taxii-date-added-first");
const DATE_ADDED_LAST: HeaderName = HeaderName::from_static("x-taxii-date-added-last");

fn taxii(status: StatusCode, body: String) -> Response {
    let mut response = (status, body).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(TAXII_MEDIA_TYPE),
    );
    response
}

fn taxii_ok(body: &Value) -> Response {
    taxii(StatusCode::OK, body.to_string())
}

/// A paged answer with the X-TAXII-Date-Added headers (omitted when the
/// page is empty: there is no date to give, and a non-timestamp would break
/// clients).
fn paged(page: &Page, body: String) -> Response {
    let first = page.items.first().map(|item| item.date_added);
    let last = page.items.last().map(|item| item.date_added);
    dated(first, last, body)
}

fn dated(first: Option<Micros>, last: Option<Micros>, body: String) -> Response {
    let mut response = taxii(StatusCode::OK, body);
    if let (Some(first), Some(last)) = (first, last) {
        for (name, micros) in [(DATE_ADDED_FIRST, first), (DATE_ADDED_LAST, last)] {
            if let Ok(value) = HeaderValue::from_str(&timestamp::format_taxii(micros)) {
                response.headers_mut().insert(name, value);
            }
        }
    }
    response
}

/// `{"more": .., "next": ..}` plus `key` when the page is not empty.
fn page_document(page: &Page, key: &str, entries: Vec<Value>) -> Value {
    let mut document = serde_json::Map::new();
    document.insert("more".to_owned(), Value::Bool(page.more));
    if let Some(next) = page.next.filter(|_| page.more) {
        document.insert("next".to_owned(), Value::String(next.encode()));
    }
    if !entries.is_empty() {
        document.insert(key.to_owned(), Value::Array(entries));
    }
    Value::Object(document)
}

async fn require_api_root(state: &AppState, api_root: &str) -> Result<(), ApiError> {
    match state.store.api_root(api_root).await? {
        Some(_) => Ok(()),
        None => Err(ApiError::NotFound),
    }
}

/// The collection and the caller's grant on it, or 404 when it is missing
/// or the caller may not know it exists.
async fn visible_collection(
    state: &AppState,
    caller: &Account,
    api_root: &str,
    collection_id: &str,
) -> Result<(Collection, Grant), ApiError> {
    let (collection, grant) = state
        .store
        .collection_with_grant(api_root, collection_id, caller.id)
        .await?
        .ok_or(ApiError::NotFound)?;
    if !grant.any() {
        return Err(ApiError::NotFound);
    }
    Ok((collection, grant))
}

async fn readable_collection(
    state: &AppState,
    caller: &Account,
    api_root: &str,
    collection_id: &str,
) -> Result<Collection, ApiError> {
    let (collection, grant) = visible_collection(state, caller, api_root, collection_id).await?;
    if !grant.can_read {
        return Err(ApiError::Forbidden(
            "This account may not read this collection.",
        ));
    }
    Ok(collection)
}

fn page_size(state: &AppState, limit: Option<usize>) -> usize {
    let max = state.settings.limits.max_page_size.max(1);
    limit
        .unwrap_or(state.settings.default_page_size)
        .clamp(1, max)
}

fn object_query(state: &AppState, collection_id: &str, filters: Filters) -> ObjectQuery {
    ObjectQuery {
        collection_id: collection_id.to_owned(),
        added_after: filters.added_after,
        cursor: filters.next,
        ids: filters.ids,
        types: filters.types,
        versions: filters.versions.unwrap_or_else(VersionFilter::last),
        spec_versions: filters.spec_versions,
        limit: page_size(state, filters.limit),
        with_raw: true,
    }
}

fn collection_document(collection: &Collection, grant: Grant) -> Value {
    let mut document = json!({
        "id": collection.id,
        "title": collection.title,
        "can_read": grant.can_read,
        "can_write": grant.can_write,
        "media_types": [STIX_MEDIA_TYPE],
    });
    if let Some(map) = document.as_object_mut() {
        if let Some(description) = &collection.description {
            map.insert("description".to_owned(), json!(description));
        }
        if let Some(alias) = &collection.alias {
            map.insert("alias".to_owned(), json!(alias));
        }
    }
    document
}

pub async fn discovery(State(state): State<AppState>) -> Result<Response, ApiError> {
    let roots: Vec<String> = state
        .store
        .api_roots()
        .await?
        .into_iter()
        .map(|root| format!("/{}/", root.name))
        .collect();
    let settings = &state.settings;
    let mut document = serde_json::Map::new();
    document.insert("title".to_owned(), json!(settings.title));
    if let Some(description) = &settings.description {
        document.insert("description".to_owned(), json!(description));
    }
    if let Some(contact) = &settings.contact {
        document.insert("contact".to_owned(), json!(contact));
    }
    if let Some(first) = roots.first() {
        document.insert("default".to_owned(), json!(first));
        document.insert("api_roots".to_owned(), json!(roots));
    }
    Ok(taxii_ok(&Value::Object(document)))
}

pub async fn api_root(
    State(state): State<AppState>,
    Path(api_root): Path<String>,
) -> Result<Response, ApiError> {
    let root = state
        .store
        .api_root(&api_root)
        .await?
        .ok_or(ApiError::NotFound)?;
    let mut document = json!({
        "title": root.title,
        "versions": [TAXII_MEDIA_TYPE],
        "max_content_length": state.settings.limits.max_content_length,
    });
    if let (Some(description), Some(map)) = (&root.description, document.as_object_mut()) {
        map.insert("description".to_owned(), json!(description));
    }
    Ok(taxii_ok(&document))
}

pub async fn status(
    State(state): State<AppState>,
    Extension(Caller(caller)): Extension<Caller>,
    Path((api_root, status_id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let record = state
        .store
        .status(&api_root, &status_id)
        .await?
        .filter(|record| record.account_id == caller.id)
        .ok_or(ApiError::NotFound)?;
    Ok(taxii_ok(&status_document(&record)))
}

fn details(list: &[StatusDetail]) -> Value {
    Value::Array(
        list.iter()
            .map(|detail| {
                let mut entry = json!({"id": detail.id, "version": detail.version});
                if let (Some(message), Some(map)) = (&detail.message, entry.as_object_mut()) {
                    map.insert("message".to_owned(), json!(message));
                }
                entry
            })
            .collect(),
    )
}

fn status_document(record: &StatusRecord) -> Value {
    let mut document = json!({
        "id": record.id,
        "status": if record.pending_count == 0 { "complete" } else { "pending" },
        "request_timestamp": timestamp::format_taxii(record.request_timestamp),
        "total_count": record.total_count,
        "success_count": record.success_count,
        "failure_count": record.failure_count,
        "pending_count": record.pending_count,
    });
    if let Some(map) = document.as_object_mut() {
        for (key, list) in [
            ("successes", &record.successes),
            ("failures", &record.failures),
            ("pendings", &record.pendings),
        ] {
            if !list.is_empty() {
                map.insert(key.to_owned(), details(list));
            }
        }
    }
    document
}

pub async fn collections(
    State(state): State<AppState>,
    Extension(Caller(caller)): Extension<Caller>,
    Path(api_root): Path<String>,
) -> Result<Response, ApiError> {
    require_api_root(&state, &api_root).await?;
    let mut listed = Vec::new();
    for collection in state.store.collections(&api_root).await? {
        let grant = state.store.grant(caller.id, &collection.id).await?;
        if grant.any() {
            listed.push(collection_document(&collection, grant));
        }
    }
    let document = if listed.is_empty() {
        json!({})
    } else {
        json!({ "collections": listed })
    };
    Ok(taxii_ok(&document))
}

pub async fn collection(
    State(state): State<AppState>,
    Extension(Caller(caller)): Extension<Caller>,
    Path((api_root, collection_id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let (collection, grant) =
        visible_collection(&state, &caller, &api_root, &collection_id).await?;
    Ok(taxii_ok(&collection_document(&collection, grant)))
}

pub async fn manifest(
    State(state): State<AppState>,
    Extension(Caller(caller)): Extension<Caller>,
    Path((api_root, collection_id)): Path<(String, String)>,
    uri: Uri,
) -> Result<Response, ApiError> {
    let filters = Filters::parse(uri.query(), Endpoint::Objects)?;
    let collection = readable_collection(&state, &caller, &api_root, &collection_id).await?;
    let mut query = object_query(&state, &collection.id, filters);
    query.with_raw = false;
    let page = state.store.query_objects(&query).await?;
    let records = page
        .items
        .iter()
        .map(|item| {
            json!({
                "id": item.object_id,
                "date_added": timestamp::format_taxii(item.date_added),
                "version": timestamp::display_version(&item.version),
                "media_type": format!("application/stix+json;version={}", item.spec_version),
            })
        })
        .collect();
    let document = page_document(&page, "objects", records);
    Ok(paged(&page, document.to_string()))
}

/// The envelope text, with each object's stored bytes pasted in as they
/// are.
fn envelope(page: &JoinedPage) -> String {
    let mut body = String::with_capacity(page.objects.len() + 64);
    body.push_str("{\"more\":");
    body.push_str(if page.more { "true" } else { "false" });
    if let Some(next) = page.next.filter(|_| page.more) {
        // base64url: nothing to escape.
        body.push_str(",\"next\":\"");
        body.push_str(&next.encode());
        body.push('"');
    }
    if page.count > 0 {
        body.push_str(",\"objects\":[");
        body.push_str(&page.objects);
        body.push(']');
    }
    body.push('}');
    body
}

fn envelope_response(page: &JoinedPage) -> Response {
    dated(page.first_added, page.last_added, envelope(page))
}

pub async fn get_objects(
    State(state): State<AppState>,
    Extension(Caller(caller)): Extension<Caller>,
    Path((api_root, collection_id)): Path<(String, String)>,
    uri: Uri,
) -> Result<Response, ApiError> {
    let filters = Filters::parse(uri.query(), Endpoint::Objects)?;
    let collection = readable_collection(&state, &caller, &api_root, &collection_id).await?;
    let page = state
        .store
        .query_objects_joined(&object_query(&state, &collection.id, filters))
        .await?;
    Ok(envelope_response(&page))
}

pub async fn get_object(
    State(state): State<AppState>,
    Extension(Caller(caller)): Extension<Caller>,
    Path((api_root, collection_id, object_id)): Path<(String, String, String)>,
    uri: Uri,
) -> Result<Response, ApiError> {
    let filters = Filters::parse(uri.query(), Endpoint::Object)?;
    let collection = readable_collection(&state, &caller, &api_root, &collection_id).await?;
    let mut query = object_query(&state, &collection.id, filters);
    query.ids = vec![object_id.clone()];
    let page = state.store.query_objects_joined(&query).await?;
    if page.count == 0
        && !state
            .store
            .object_exists(&collection.id, &object_id)
            .await?
    {
        return Err(ApiError::NotFound);
    }
    Ok(envelope_response(&page))
}

pub async fn versions(
    State(state): State<AppState>,
    Extension(Caller(caller)): Extension<Caller>,
    Path((api_root, collection_id, object_id)): Path<(String, String, String)>,
    uri: Uri,
) -> Result<Response, ApiError> {
    let filters = Filters::parse(uri.query(), Endpoint::Versions)?;
    let collection = readable_collection(&state, &caller, &api_root, &collection_id).await?;
    let mut query = object_query(&state, &collection.id, filters);
    query.ids = vec![object_id.clone()];
    query.versions = VersionFilter::All;
    query.with_raw = false;
    let page = state.store.query_objects(&query).await?;
    if page.items.is_empty()
        && !state
            .store
            .object_exists(&collection.id, &object_id)
            .await?
    {
        return Err(ApiError::NotFound);
    }
    let versions = page
        .items
        .iter()
        .map(|item| json!(timestamp::display_version(&item.version)))
        .collect();
    let document = page_document(&page, "versions", versions);
    Ok(paged(&page, document.to_string()))
}

pub async fn delete_object(
    State(state): State<AppState>,
    Extension(Caller(caller)): Extension<Caller>,
    Path((api_root, collection_id, object_id)): Path<(String, String, String)>,
    uri: Uri,
) -> Result<Response, ApiError> {
    let filters = Filters::parse(uri.query(), Endpoint::Delete)?;
    let (collection, grant) =
        visible_collection(&state, &caller, &api_root, &collection_id).await?;
    // §5.7: only accounts that may both read and write may delete.
    if !(grant.can_read && grant.can_write) {
        return Err(ApiError::Forbidden(
            "Deleting needs both read and write access to this collection.",
        ));
    }
    let deleted = state
        .store
        .delete_object(&DeleteRequest {
            collection_id: collection.id.clone(),
            object_id,
            versions: filters.versions.unwrap_or(VersionFilter::All),
            spec_versions: filters.spec_versions,
        })
        .await?;
    if deleted == 0 {
        return Err(ApiError::NotFound);
    }
    tracing::info!(collection = %collection.id, deleted, "object versions deleted");
    Ok(taxii(StatusCode::OK, String::new()))
}

fn envelope_error(err: EnvelopeError) -> ApiError {
    match err {
        EnvelopeError::Syntax(_) | EnvelopeError::DuplicateKey(_) | EnvelopeError::TooDeep(_) => {
            ApiError::BadRequest(err.to_string())
        }
        EnvelopeError::NotAnEnvelope(_) => ApiError::Unprocessable(err.to_string()),
        EnvelopeError::TooManyObjects { .. } => ApiError::PayloadTooLarge(err.to_string()),
    }
}

async fn read_body(body: Body, max: usize, headers: &HeaderMap) -> Result<String, ApiError> {
    let too_large = || {
        ApiError::PayloadTooLarge(format!(
            "The request body is larger than max_content_length ({max} bytes)."
        ))
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    if declared.is_some_and(|length| length > max as u64) {
        return Err(too_large());
    }
    let bytes = axum::body::to_bytes(body, max).await.map_err(|err| {
        let over_limit = std::error::Error::source(&err)
            .is_some_and(|source| source.is::<http_body_util::LengthLimitError>());
        if over_limit {
            too_large()
        } else {
            ApiError::BadRequest("The request body could not be read.".to_owned())
        }
    })?;
    String::from_utf8(bytes.to_vec())
        .map_err(|_| ApiError::BadRequest("The request body is not UTF-8.".to_owned()))
}

pub async fn add_objects(
    State(state): State<AppState>,
    Extension(Caller(caller)): Extension<Caller>,
    Path((api_root, collection_id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let (collection, grant) =
        visible_collection(&state, &caller, &api_root, &collection_id).await?;
    if !grant.can_write {
        return Err(ApiError::Forbidden(
            "This account may not write to this collection.",
        ));
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok());
    if !media::is_taxii_content_type(content_type) {
        return Err(ApiError::UnsupportedMediaType);
    }
    let request_timestamp = timestamp::now_micros();
    let text = read_body(body, state.settings.limits.max_content_length, &headers).await?;
    let validator = state.validator.clone();
    let settings = state.settings.clone();
    // Parsing and validating a large envelope is CPU work: keep it off the
    // async workers.
    let prepared = tokio::task::spawn_blocking(move || {
        ingest::prepare_envelope(&text, &validator, &settings.limits).map_err(envelope_error)
    })
    .await
    .map_err(|err| ApiError::Internal(format!("validation task: {err}")))??;
    if prepared.is_empty() {
        return Err(ApiError::Unprocessable(
            "The envelope holds no objects.".to_owned(),
        ));
    }
    // What the status says of each object, in envelope order; the valid
    // objects themselves move on to the store.
    let mut valid = Vec::with_capacity(prepared.len());
    let mut entries = Vec::with_capacity(prepared.len());
    for item in prepared {
        match item {
            Ok(object) => {
                entries.push(Ok((
                    object.object_id.clone(),
                    timestamp::display_version(&object.version),
                )));
                valid.push(object);
            }
            Err(rejection) => entries.push(Err(rejection)),
        }
    }
    let status_id = uuid::Uuid::new_v4().to_string();
    let build_status = |outcomes: &[AddOutcome]| {
        let mut successes = Vec::with_capacity(outcomes.len());
        let mut failures = Vec::new();
        let mut outcomes = outcomes.iter();
        for entry in &entries {
            match entry {
                Ok((id, version)) => successes.push(StatusDetail {
                    id: id.clone(),
                    version: version.clone(),
                    message: matches!(outcomes.next(), Some(AddOutcome::Duplicate))
                        .then(|| "This version was already in the collection.".to_owned()),
                }),
                Err(rejection) => failures.push(StatusDetail {
                    id: rejection.id.clone(),
                    version: rejection.version.clone(),
                    message: Some(rejection.message.clone()),
                }),
            }
        }
        StatusRecord {
            id: status_id.clone(),
            api_root: collection.api_root.clone(),
            collection_id: collection.id.clone(),
            account_id: caller.id,
            request_timestamp,
            total_count: entries.len() as u64,
            success_count: successes.len() as u64,
            failure_count: failures.len() as u64,
            pending_count: 0,
            successes,
            failures,
            pendings: Vec::new(),
        }
    };
    let (outcomes, record) = state
        .store
        .add_objects_with_status(
            &collection.id,
            &valid,
            timestamp::now_micros(),
            &build_status,
        )
        .await?;
    let duplicates = outcomes
        .iter()
        .filter(|outcome| matches!(outcome, AddOutcome::Duplicate))
        .count();
    state.metrics.objects_duplicate.inc_by(duplicates as u64);
    state
        .metrics
        .objects_stored
        .inc_by((outcomes.len() - duplicates) as u64);
    state.metrics.objects_rejected.inc_by(record.failure_count);
    tracing::info!(
        collection = %collection.id,
        total = record.total_count,
        failed = record.failure_count,
        "envelope processed"
    );
    Ok(taxii(
        StatusCode::ACCEPTED,
        status_document(&record).to_string(),
    ))
}
