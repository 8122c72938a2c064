//! One function per release API endpoint. Each checks the caller's
//! permission first (403), then its input (400), then does the work
//! through [`crate::releases`] or the store.

use axum::Json;
use axum::body::Body;
use axum::extract::{Extension, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use release::policy::Policy;
use serde::Deserialize;
use serde_json::{Value, json};
use store::{Designation, DispositionKind, MarkingDisposition, NewParty, Party};

use super::error::Error;
use super::{PREFIX, Permission, Staff, json_body};
use crate::{AppState, releases, timestamp};

/// Longest name (party, group, designation, API root) a body may give.
const MAX_NAME_BYTES: usize = 200;
/// Longest justification of a release request.
const MAX_JUSTIFICATION_BYTES: usize = 16 * 1024;
/// Most names in one list of a body (groups, designations, release-to).
const MAX_LIST_ITEMS: usize = 1_000;

fn json_ok(value: &Value) -> Response {
    (StatusCode::OK, Json(value)).into_response()
}

fn created(location: &str, value: &Value) -> Response {
    let mut response = (StatusCode::CREATED, Json(value)).into_response();
    if let Ok(location) = HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    response
}

/// A release summary as the JSON body every release endpoint answers with.
fn summary_json(summary: &releases::Summary) -> Result<Value, Error> {
    serde_json::to_value(summary).map_err(|err| Error::Internal(err.to_string()))
}

fn check_name(what: &str, name: &str) -> Result<(), Error> {
    if name.trim().is_empty() || name.trim() != name {
        return Err(Error::BadRequest(format!(
            "{what} must be non-empty without surrounding spaces"
        )));
    }
    if name.len() > MAX_NAME_BYTES || name.chars().any(char::is_control) {
        return Err(Error::BadRequest(format!(
            "{what} must be at most {MAX_NAME_BYTES} bytes without control characters"
        )));
    }
    Ok(())
}

fn check_list(what: &str, items: &[String]) -> Result<(), Error> {
    if items.len() > MAX_LIST_ITEMS {
        return Err(Error::BadRequest(format!(
            "{what} holds more than {MAX_LIST_ITEMS} items"
        )));
    }
    items.iter().try_for_each(|item| check_name(what, item))
}

/// `TYPE--UUID`, as STIX identifiers are.
fn is_stix_id(id: &str) -> bool {
    id.split_once("--").is_some_and(|(object_type, uuid)| {
        (3..=250).contains(&object_type.len())
            && object_type
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && uuid.len() == 36
            && uuid::Uuid::try_parse(uuid).is_ok()
    })
}

/// A release id from a path: anything but a UUID cannot exist.
fn release_id(id: &str) -> Result<String, Error> {
    uuid::Uuid::try_parse(id)
        .map(|uuid| uuid.hyphenated().to_string())
        .map_err(|_| Error::Unknown(format!("release {id}")))
}

/// `text` percent-encoded for one URL path segment (RFC 3986: all but the
/// unreserved characters).
fn path_segment(text: &str) -> String {
    let mut encoded = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

/// `GET /me`: who the caller is and what it may do (for the web UI).
pub async fn me(Extension(Staff(account)): Extension<Staff>) -> Response {
    let permissions: Vec<Permission> = Permission::ALL
        .into_iter()
        .filter(|p| p.granted_to(account.role))
        .collect();
    json_ok(&json!({
        "account": account.name,
        "role": account.role.as_str(),
        "permissions": permissions,
    }))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReleaseRequest {
    pub objects: Vec<String>,
    pub to: String,
    pub justification: String,
}

/// `POST /releases`: the caller asks for a release.
pub async fn request_release(
    State(state): State<AppState>,
    Extension(staff): Extension<Staff>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, Error> {
    staff.require(Permission::RequestReleases)?;
    let asked: ReleaseRequest = json_body(&headers, body, &state.settings.limits).await?;
    let max_objects = state.settings.limits.max_objects_per_envelope;
    if asked.objects.is_empty() || asked.objects.len() > max_objects {
        return Err(Error::BadRequest(format!(
            "objects must list 1 to {max_objects} STIX ids"
        )));
    }
    if let Some(bad) = asked.objects.iter().find(|id| !is_stix_id(id)) {
        return Err(Error::BadRequest(format!("'{bad}' is not a STIX id")));
    }
    check_name("to", &asked.to)?;
    if asked.justification.trim().is_empty() || asked.justification.len() > MAX_JUSTIFICATION_BYTES
    {
        return Err(Error::BadRequest(format!(
            "justification must be non-empty and at most {MAX_JUSTIFICATION_BYTES} bytes"
        )));
    }
    let summary = releases::request(
        state.store.as_ref(),
        &staff.0.name,
        &asked.to,
        &asked.objects,
        &asked.justification,
        timestamp::now_micros(),
    )
    .await?;
    let location = format!("{PREFIX}/releases/{}", summary.release);
    let value = summary_json(&summary)?;
    Ok(created(&location, &value))
}

/// `GET /releases/{id}`.
pub async fn show_release(
    State(state): State<AppState>,
    Extension(staff): Extension<Staff>,
    Path(id): Path<String>,
) -> Result<Response, Error> {
    staff.require(Permission::ReadReleases)?;
    let id = release_id(&id)?;
    Ok(json_ok(&releases::show(state.store.as_ref(), &id).await?))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    pub state: Option<String>,
    pub party: Option<String>,
    pub limit: Option<usize>,
    pub next: Option<String>,
}

/// `GET /releases`: newest first, `?state=&party=&limit=&next=`.
pub async fn list_releases(
    State(state): State<AppState>,
    Extension(staff): Extension<Staff>,
    query: Result<axum::extract::Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, Error> {
    staff.require(Permission::ReadReleases)?;
    let axum::extract::Query(query) = query.map_err(|err| Error::BadRequest(err.body_text()))?;
    let listing = releases::list(
        state.store.as_ref(),
        query.state.as_deref(),
        query.party.as_deref(),
        query.limit.unwrap_or(100),
        query.next.as_deref(),
    )
    .await
    .map_err(|err| match err {
        releases::ReleaseError::Invalid(why) => Error::BadRequest(why),
        other => other.into(),
    })?;
    Ok(json_ok(&listing))
}

/// `GET /releases/{id}/explanation`.
pub async fn explain_release(
    State(state): State<AppState>,
    Extension(staff): Extension<Staff>,
    Path(id): Path<String>,
) -> Result<Response, Error> {
    staff.require(Permission::ReadReleases)?;
    let id = release_id(&id)?;
    Ok(json_ok(
        &releases::explain(state.store.as_ref(), &id).await?,
    ))
}

/// `POST /releases/{id}/approve`: the caller approves. The two-person rule
/// and the state check are the release workflow's; their refusals are 409
/// and change nothing. No body is needed; one sent is ignored.
pub async fn approve_release(
    State(state): State<AppState>,
    Extension(staff): Extension<Staff>,
    Path(id): Path<String>,
) -> Result<Response, Error> {
    staff.require(Permission::ApproveReleases)?;
    let id = release_id(&id)?;
    let summary = releases::approve(
        state.store.as_ref(),
        &id,
        &staff.0.name,
        timestamp::now_micros(),
    )
    .await?;
    let value = summary_json(&summary)?;
    Ok(json_ok(&value))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecallBody {
    pub justification: String,
}

/// `POST /releases/{id}/recall`: revoke what a release sent (a releasing
/// officer); answers the recall, itself a release.
pub async fn recall_release(
    State(state): State<AppState>,
    Extension(staff): Extension<Staff>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, Error> {
    staff.require(Permission::ApproveReleases)?;
    let id = release_id(&id)?;
    let body: RecallBody = json_body(&headers, body, &state.settings.limits).await?;
    if body.justification.len() > MAX_JUSTIFICATION_BYTES {
        return Err(Error::BadRequest(format!(
            "the justification is longer than {MAX_JUSTIFICATION_BYTES} bytes"
        )));
    }
    let summary = releases::recall(
        state.store.as_ref(),
        &id,
        &staff.0.name,
        &body.justification,
        timestamp::now_micros(),
    )
    .await?;
    let value = summary_json(&summary)?;
    Ok(created(
        &format!("{PREFIX}/releases/{}", summary.release),
        &value,
    ))
}

/// `GET /policy`: the current version and its text.
pub async fn show_policy(
    State(state): State<AppState>,
    Extension(staff): Extension<Staff>,
) -> Result<Response, Error> {
    staff.require(Permission::ReadPolicy)?;
    let store = state.store.as_ref();
    let policy = releases::current_policy(store, timestamp::now_micros()).await?;
    let current = store.current_policy().await?;
    Ok(json_ok(&json!({
        "version": policy.version(),
        "loaded": current.as_ref().map(|c| timestamp::format_taxii(c.created_at)),
        "text": policy.text(),
    })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyText {
    pub text: String,
}

/// `PUT /policy`: validate and make current; 400 `invalid_policy` if it
/// does not load.
pub async fn load_policy(
    State(state): State<AppState>,
    Extension(staff): Extension<Staff>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, Error> {
    staff.require(Permission::ManagePolicy)?;
    let PolicyText { text } = json_body(&headers, body, &state.settings.limits).await?;
    // Validate before touching the store so a bad text is the caller's
    // error, not a server failure.
    Policy::load(&text).map_err(|err| Error::InvalidPolicy(err.to_string()))?;
    let version =
        releases::load_policy(state.store.as_ref(), &text, timestamp::now_micros()).await?;
    Ok(json_ok(&json!({"loaded": true, "version": version})))
}

/// `POST /policy/check`: validate without loading. The verdict is the
/// answer (200 either way).
pub async fn check_policy(
    State(state): State<AppState>,
    Extension(staff): Extension<Staff>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, Error> {
    staff.require(Permission::ManagePolicy)?;
    let PolicyText { text } = json_body(&headers, body, &state.settings.limits).await?;
    let verdict = match Policy::load(&text) {
        Ok(policy) => json!({"valid": true, "version": policy.version()}),
        Err(err) => json!({"valid": false, "error": err.to_string()}),
    };
    Ok(json_ok(&verdict))
}

fn party_json(party: &Party) -> Value {
    json!({
        "name": party.name,
        "identity": party.identity_id,
        "country": party.country,
        "groups": party.groups,
        "designations": party.designations,
        "home": party.home,
        "outbound": party.outbound,
        "inbound": party.inbound,
    })
}

/// `GET /parties`.
pub async fn list_parties(
    State(state): State<AppState>,
    Extension(staff): Extension<Staff>,
) -> Result<Response, Error> {
    staff.require(Permission::ReadParties)?;
    let parties = state.store.parties().await?;
    Ok(json_ok(&json!({
        "parties": parties.iter().map(party_json).collect::<Vec<_>>(),
    })))
}

/// `GET /parties/{name}`.
pub async fn show_party(
    State(state): State<AppState>,
    Extension(staff): Extension<Staff>,
    Path(name): Path<String>,
) -> Result<Response, Error> {
    staff.require(Permission::ReadParties)?;
    let party = state
        .store
        .party(&name)
        .await?
        .ok_or_else(|| Error::Unknown(format!("party {name}")))?;
    Ok(json_ok(&party_json(&party)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartyDesignation {
    pub name: String,
    /// `YYYY-MM-DD`; absent: since an unknown date.
    #[serde(default)]
    pub since: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewPartyRequest {
    pub name: String,
    #[serde(default)]
    pub designations: Vec<PartyDesignation>,
    /// ISO 3166-1 alpha-2, or empty.
    #[serde(default)]
    pub country: String,
    #[serde(default)]
    pub groups: Vec<String>,
    #[serde(default)]
    pub home: bool,
    /// Where a partner's collections go; may be left out when the server
    /// has one API root.
    #[serde(default)]
    pub api_root: Option<String>,
}

fn is_date(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.len() == 10
        && bytes.iter().enumerate().all(|(index, byte)| match index {
            4 | 7 => *byte == b'-',
            _ => byte.is_ascii_digit(),
        })
}

/// `POST /parties`: creates a party; a partner gets its outbound and
/// inbound collections. 201 `{"party","outbound","inbound"}`.
pub async fn create_party(
    State(state): State<AppState>,
    Extension(staff): Extension<Staff>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, Error> {
    staff.require(Permission::ManageParties)?;
    let asked: NewPartyRequest = json_body(&headers, body, &state.settings.limits).await?;
    check_name("name", &asked.name)?;
    check_list("groups", &asked.groups)?;
    if asked.designations.len() > MAX_LIST_ITEMS {
        return Err(Error::BadRequest(format!(
            "designations holds more than {MAX_LIST_ITEMS} items"
        )));
    }
    let mut designations = Vec::with_capacity(asked.designations.len());
    for designation in asked.designations {
        check_name("a designation name", &designation.name)?;
        if let Some(since) = &designation.since
            && !is_date(since)
        {
            return Err(Error::BadRequest(format!(
                "designation date '{since}' must be YYYY-MM-DD"
            )));
        }
        designations.push(Designation {
            name: designation.name,
            since: designation.since,
        });
    }
    let country = asked.country.trim().to_ascii_uppercase();
    if !(country.is_empty()
        || (country.len() == 2 && country.bytes().all(|b| b.is_ascii_uppercase())))
    {
        return Err(Error::BadRequest(
            "country must be a two-letter ISO 3166-1 code".to_owned(),
        ));
    }
    let api_root = match asked.api_root {
        Some(root) => {
            check_name("api_root", &root)?;
            root
        }
        None => {
            let mut roots = state.store.api_roots().await?;
            match (roots.pop(), roots.is_empty()) {
                (Some(only), true) => only.name,
                _ => {
                    return Err(Error::BadRequest(
                        "api_root is required: the server has no single API root".to_owned(),
                    ));
                }
            }
        }
    };
    if !asked.home {
        crate::ledger_ops::check_partner_name(&asked.name)
            .map_err(|err| Error::BadRequest(err.to_string()))?;
    }
    let new = NewParty {
        name: asked.name,
        identity_id: format!("identity--{}", uuid::Uuid::new_v4()),
        country,
        groups: asked.groups,
        designations,
        home: asked.home,
        api_root,
    };
    let party = state
        .store
        .create_party(&new, timestamp::now_micros())
        .await?;
    let location = format!("{PREFIX}/parties/{}", path_segment(&party.name));
    Ok(created(
        &location,
        &json!({"party": party.name, "outbound": party.outbound, "inbound": party.inbound}),
    ))
}

/// `GET /markings`: every disposition an admin has set.
pub async fn list_markings(
    State(state): State<AppState>,
    Extension(staff): Extension<Staff>,
) -> Result<Response, Error> {
    staff.require(Permission::ReadMarkings)?;
    let dispositions = state.store.marking_dispositions().await?;
    Ok(json_ok(&json!({
        "markings": dispositions.iter().map(disposition_json).collect::<Vec<_>>(),
    })))
}

fn disposition_json(disposition: &MarkingDisposition) -> Value {
    json!({
        "marking": disposition.marking_id,
        "disposition": disposition.kind.as_str(),
        "release_to": disposition.release_to,
    })
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MarkingRequest {
    /// `withhold` or `release-to`.
    pub disposition: String,
    /// Party or group names, for `release-to` (and only for it).
    #[serde(default)]
    pub release_to: Vec<String>,
}

/// `PUT /markings/{marking_id}`: what may happen to content under a
/// marking-definition.
pub async fn set_marking(
    State(state): State<AppState>,
    Extension(staff): Extension<Staff>,
    Path(marking_id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, Error> {
    staff.require(Permission::ManageMarkings)?;
    if !(marking_id.starts_with("marking-definition--") && is_stix_id(&marking_id)) {
        return Err(Error::BadRequest(format!(
            "'{marking_id}' is not a marking-definition id"
        )));
    }
    let asked: MarkingRequest = json_body(&headers, body, &state.settings.limits).await?;
    let kind = DispositionKind::parse(&asked.disposition).ok_or_else(|| {
        Error::BadRequest("disposition must be \"withhold\" or \"release-to\"".to_owned())
    })?;
    check_list("release_to", &asked.release_to)?;
    match kind {
        DispositionKind::Withhold if !asked.release_to.is_empty() => {
            return Err(Error::BadRequest(
                "release_to goes only with \"release-to\"".to_owned(),
            ));
        }
        DispositionKind::ReleaseTo if asked.release_to.is_empty() => {
            return Err(Error::BadRequest(
                "\"release-to\" needs at least one party or group in release_to".to_owned(),
            ));
        }
        _ => {}
    }
    let disposition = MarkingDisposition {
        marking_id,
        kind,
        release_to: asked.release_to,
    };
    state
        .store
        .set_marking_disposition(&disposition, timestamp::now_micros())
        .await?;
    Ok(json_ok(&disposition_json(&disposition)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stix_ids() {
        assert!(is_stix_id("report--9f8e7d6c-5b4a-4392-8170-6f5e4d3c2ba8"));
        assert!(is_stix_id(
            "x-custom-thing--9f8e7d6c-5b4a-4392-8170-6f5e4d3c2ba8"
        ));
        for bad in [
            "report",
            "report--",
            "Report--9f8e7d6c-5b4a-4392-8170-6f5e4d3c2ba8",
            "report--9f8e7d6c5b4a439281706f5e4d3c2ba8",
            "rt--9f8e7d6c-5b4a-4392-8170-6f5e4d3c2ba8",
            "report--9f8e7d6c-5b4a-4392-8170-6f5e4d3c2ba8x",
        ] {
            assert!(!is_stix_id(bad), "{bad}");
        }
    }

    #[test]
    fn dates_and_names() {
        assert!(is_date("2024-03-01"));
        assert!(!is_date("2024-3-01"));
        assert!(!is_date("2024/03/01"));
        assert!(check_name("n", "city council").is_ok());
        assert!(check_name("n", " city").is_err());
        assert!(check_name("n", "").is_err());
        assert!(check_name("n", "a\nb").is_err());
        assert!(check_name("n", &"x".repeat(MAX_NAME_BYTES + 1)).is_err());
    }

    #[test]
    fn path_segments_are_percent_encoded() {
        assert_eq!(path_segment("city-1.a_b~"), "city-1.a_b~");
        assert_eq!(
            path_segment("harbour authority/x+é"),
            "harbour%20authority%2Fx%2B%C3%A9"
        );
    }

    #[test]
    fn release_ids_must_be_uuids() {
        assert!(release_id("not-a-uuid").is_err());
        assert_eq!(
            release_id("9F8E7D6C-5B4A-4392-8170-6F5E4D3C2BA8").ok(),
            Some("9f8e7d6c-5b4a-4392-8170-6f5e4d3c2ba8".to_owned())
        );
    }
}
