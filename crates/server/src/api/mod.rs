//! The JSON HTTP release API under [`PREFIX`] (`/api/v1`): the release
//! workflow of [`crate::releases`], policy, parties and markings, for the
//! web UI and scripts. Documented in `docs/release-api.md`.
//!
//! Same authentication as TAXII (Basic or bearer), but plain
//! `application/json` both ways and errors as
//! `{"error": {"status", "code", "message"}}` (see [`error`]). Only
//! accounts of the home party ([`Staff`]) see anything here: a partner
//! account, or any account tied to a partner party, gets the same 404 for
//! every path, existing or not, so the API cannot tell a partner even that
//! it exists. What each staff role may do is [`Permission::roles`];
//! refusals of a known role are 403.
//!
//! A further route set under the prefix gets the same rules by going
//! through [`protect`]. (The ledger's, which admits partners to their own
//! log, authenticates on its own and shares only [`Error`] and
//! [`json_body`].)

use axum::Router;
use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post, put};
use store::{Account, Role};

use crate::AppState;

mod body;
pub mod error;
mod handlers;

pub use body::{is_json_content_type, json_body};
pub use error::Error;

/// Where the API lives.
pub const PREFIX: &str = "/api/v1";
/// What it answers with and takes.
pub const JSON_MEDIA_TYPE: &str = "application/json";

/// An authenticated account of the home party, put in place by the API's
/// authentication layer for every handler under [`PREFIX`].
#[derive(Debug, Clone)]
pub struct Staff(pub Account);

/// What a staff role may do through the API. Partners may do none of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Permission {
    RequestReleases,
    ReadReleases,
    ApproveReleases,
    ReadPolicy,
    ManagePolicy,
    ReadParties,
    ManageParties,
    ReadMarkings,
    ManageMarkings,
}

impl Permission {
    pub const ALL: [Permission; 9] = [
        Permission::RequestReleases,
        Permission::ReadReleases,
        Permission::ApproveReleases,
        Permission::ReadPolicy,
        Permission::ManagePolicy,
        Permission::ReadParties,
        Permission::ManageParties,
        Permission::ReadMarkings,
        Permission::ManageMarkings,
    ];

    /// The roles that hold this permission. Admins run the system (parties,
    /// markings, policy) but take no part in releases, so that no single
    /// account both sets the rules and moves data under them; auditors
    /// read releases and policy, nothing else.
    pub fn roles(self) -> &'static [Role] {
        use Role::{Admin, Analyst, Auditor, ReleasingOfficer};
        match self {
            Permission::RequestReleases => &[Analyst, ReleasingOfficer],
            Permission::ReadReleases => &[Analyst, ReleasingOfficer, Auditor],
            Permission::ApproveReleases => &[ReleasingOfficer],
            Permission::ReadPolicy => &[Analyst, ReleasingOfficer, Auditor, Admin],
            Permission::ManagePolicy => &[Admin],
            Permission::ReadParties | Permission::ReadMarkings => {
                &[Analyst, ReleasingOfficer, Admin]
            }
            Permission::ManageParties | Permission::ManageMarkings => &[Admin],
        }
    }

    pub fn granted_to(self, role: Role) -> bool {
        self.roles().contains(&role)
    }

    fn describe(self) -> &'static str {
        match self {
            Permission::RequestReleases => "request releases",
            Permission::ReadReleases => "read releases",
            Permission::ApproveReleases => "approve releases",
            Permission::ReadPolicy => "read the policy",
            Permission::ManagePolicy => "check or load policies",
            Permission::ReadParties => "read parties",
            Permission::ManageParties => "create parties",
            Permission::ReadMarkings => "read marking dispositions",
            Permission::ManageMarkings => "set marking dispositions",
        }
    }
}

impl Staff {
    /// 403 unless the caller's role holds `permission`.
    pub fn require(&self, permission: Permission) -> Result<(), Error> {
        if permission.granted_to(self.0.role) {
            Ok(())
        } else {
            Err(Error::Forbidden {
                role: self.0.role,
                permission,
            })
        }
    }
}

/// Everything under [`PREFIX`], with authentication and JSON errors, ready
/// to merge into the TAXII router. A path under the prefix that matches
/// nothing is a JSON 404 (after authentication).
pub fn router(state: AppState) -> Router<AppState> {
    let p = PREFIX;
    let release_routes = Router::new()
        .route(&format!("{p}/me"), get(handlers::me))
        .route(
            &format!("{p}/releases"),
            post(handlers::request_release).get(handlers::list_releases),
        )
        .route(&format!("{p}/releases/{{id}}"), get(handlers::show_release))
        .route(
            &format!("{p}/releases/{{id}}/explanation"),
            get(handlers::explain_release),
        )
        .route(
            &format!("{p}/releases/{{id}}/approve"),
            post(handlers::approve_release),
        )
        .route(
            &format!("{p}/releases/{{id}}/recall"),
            post(handlers::recall_release),
        )
        .route(
            &format!("{p}/policy"),
            get(handlers::show_policy).put(handlers::load_policy),
        )
        .route(&format!("{p}/policy/check"), post(handlers::check_policy))
        .route(
            &format!("{p}/parties"),
            get(handlers::list_parties).post(handlers::create_party),
        )
        .route(&format!("{p}/parties/{{name}}"), get(handlers::show_party))
        .route(&format!("{p}/markings"), get(handlers::list_markings))
        .route(
            &format!("{p}/markings/{{marking_id}}"),
            put(handlers::set_marking),
        );
    let unknown = Router::new()
        .route(p, any(not_found))
        .route(&format!("{p}/"), any(not_found))
        .route(&format!("{p}/{{*rest}}"), any(not_found));
    protect(release_routes.merge(unknown), state)
}

/// Puts API authentication, partner hiding and JSON 405s on `routes` (all
/// of which must lie under [`PREFIX`]). For route sets merged into
/// [`router`]'s result.
pub fn protect(routes: Router<AppState>, state: AppState) -> Router<AppState> {
    routes
        .method_not_allowed_fallback(|| async { Error::MethodNotAllowed })
        .route_layer(middleware::from_fn_with_state(state, authenticate))
}

async fn not_found() -> Error {
    Error::NotFound
}

/// Whether the account belongs to the home party: not a partner, and tied
/// to no party or to the home party.
async fn is_staff(state: &AppState, account: &Account) -> Result<bool, Error> {
    if account.role == Role::Partner {
        return Ok(false);
    }
    match &account.party {
        None => Ok(true),
        Some(name) => Ok(state.store.party(name).await?.is_some_and(|p| p.home)),
    }
}

async fn authenticate(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let authorization = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok());
    let account = match state
        .authenticator
        .authenticate(state.store.as_ref(), authorization)
        .await
    {
        Ok(account) => account,
        Err(err) => return Error::from(err).into_response(),
    };
    tracing::Span::current().record("account", account.name.as_str());
    match is_staff(&state, &account).await {
        Ok(true) => {}
        Ok(false) => return Error::NotFound.into_response(),
        Err(err) => return err.into_response(),
    }
    request.extensions_mut().insert(Staff(account));
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partners_hold_no_permission_and_admins_no_release_permission() {
        for permission in Permission::ALL {
            assert!(!permission.granted_to(Role::Partner), "{permission:?}");
        }
        for permission in [
            Permission::RequestReleases,
            Permission::ReadReleases,
            Permission::ApproveReleases,
        ] {
            assert!(!permission.granted_to(Role::Admin), "{permission:?}");
        }
        let auditor: Vec<Permission> = Permission::ALL
            .into_iter()
            .filter(|p| p.granted_to(Role::Auditor))
            .collect();
        assert_eq!(
            auditor,
            [Permission::ReadReleases, Permission::ReadPolicy],
            "auditors read releases and policy, nothing else"
        );
        assert_eq!(
            Permission::ApproveReleases.roles(),
            &[Role::ReleasingOfficer]
        );
    }
}
