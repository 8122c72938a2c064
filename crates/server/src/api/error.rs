//! How the release API fails: every non-2xx answer under `/api/v1/` is
//! `{"error": {"status", "code", "message"}}` with `application/json`.
//! Internal detail is logged, never sent.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use store::{Role, StoreError};

use super::Permission;
use crate::error::{ApiError, CHALLENGE};
use crate::releases::ReleaseError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("no acceptable credentials")]
    Unauthorized,
    #[error("role {role} may not {}", permission.describe())]
    Forbidden { role: Role, permission: Permission },
    /// A refusal outside the [`Permission`] table (the ledger's own rules).
    #[error("{0}")]
    ForbiddenAction(&'static str),
    /// Unknown paths, hidden resources, and everything a partner asks
    /// for: one body, so that none can be told from another.
    #[error("not found")]
    NotFound,
    /// Something a staff caller named (a release id, a party, an object)
    /// does not exist.
    #[error("{0} does not exist")]
    Unknown(String),
    #[error("bad request: {0}")]
    BadRequest(String),
    #[error("the policy does not load: {0}")]
    InvalidPolicy(String),
    /// The request is refused as it stands (two-person rule, a release not
    /// pending, a name taken); nothing was changed.
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("unprocessable: {0}")]
    Unprocessable(String),
    #[error("the body is larger than {0} bytes")]
    PayloadTooLarge(usize),
    #[error("unsupported Content-Type")]
    UnsupportedMediaType,
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("internal error: {0}")]
    Internal(String),
    /// The database is unreachable; nothing was changed.
    #[error("service unavailable: {0}")]
    Unavailable(String),
}

impl Error {
    pub fn status(&self) -> StatusCode {
        match self {
            Error::Unauthorized => StatusCode::UNAUTHORIZED,
            Error::Forbidden { .. } | Error::ForbiddenAction(_) => StatusCode::FORBIDDEN,
            Error::NotFound | Error::Unknown(_) => StatusCode::NOT_FOUND,
            Error::BadRequest(_) | Error::InvalidPolicy(_) => StatusCode::BAD_REQUEST,
            Error::Conflict(_) => StatusCode::CONFLICT,
            Error::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Error::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Error::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Error::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Error::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            Error::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// A stable machine-readable name for clients to branch on.
    pub fn code(&self) -> &'static str {
        match self {
            Error::Unauthorized => "unauthorized",
            Error::Forbidden { .. } | Error::ForbiddenAction(_) => "forbidden",
            Error::NotFound | Error::Unknown(_) => "not_found",
            Error::BadRequest(_) => "bad_request",
            Error::InvalidPolicy(_) => "invalid_policy",
            Error::Conflict(_) => "conflict",
            Error::Unprocessable(_) => "unprocessable",
            Error::PayloadTooLarge(_) => "payload_too_large",
            Error::UnsupportedMediaType => "unsupported_media_type",
            Error::MethodNotAllowed => "method_not_allowed",
            Error::Internal(_) => "internal",
            Error::Unavailable(_) => "unavailable",
        }
    }

    fn message(&self) -> String {
        match self {
            Error::Unauthorized => "Send HTTP Basic credentials or a bearer token.".to_owned(),
            Error::NotFound => "No such resource.".to_owned(),
            Error::UnsupportedMediaType => "Send the request body as application/json.".to_owned(),
            Error::MethodNotAllowed => "This path does not support this method.".to_owned(),
            Error::Internal(_) => {
                "The server could not complete the request; it has been logged.".to_owned()
            }
            Error::Unavailable(_) => {
                "The server cannot reach its database; nothing was changed. Retry shortly."
                    .to_owned()
            }
            other => {
                let mut text = other.to_string();
                if let Some(first) = text.get(..1) {
                    let upper = first.to_ascii_uppercase();
                    text.replace_range(..1, &upper);
                }
                text
            }
        }
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() {
            tracing::error!(error = %self, "api request failed");
        } else {
            tracing::info!(error = %self, status = status.as_u16(), "api request refused");
        }
        let body = json!({"error": {
            "status": status.as_u16(),
            "code": self.code(),
            "message": self.message(),
        }});
        let mut response = (status, body.to_string()).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(super::JSON_MEDIA_TYPE),
        );
        if matches!(self, Error::Unauthorized) {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(CHALLENGE),
            );
        }
        response
    }
}

impl From<StoreError> for Error {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::NotFound { what } => Error::Unknown(what),
            StoreError::AlreadyExists { what } => Error::Conflict(format!("{what} already exists")),
            StoreError::Conflict(why) => Error::Conflict(why),
            StoreError::InvalidArgument(why) => Error::BadRequest(why),
            StoreError::Database(detail) => Error::Unavailable(detail),
            other => Error::Internal(other.to_string()),
        }
    }
}

impl From<ReleaseError> for Error {
    fn from(err: ReleaseError) -> Self {
        match err {
            ReleaseError::Store(store) => store.into(),
            // The stored policy failing to load is the server's problem,
            // not the caller's.
            ReleaseError::Policy(policy) => Error::Internal(policy.to_string()),
            ReleaseError::NotFound(what) => Error::Unknown(what),
            ReleaseError::Refused(why) => Error::Conflict(why),
            ReleaseError::Invalid(why) => Error::Unprocessable(why),
            ReleaseError::Ledger(ledger) => ledger.into(),
        }
    }
}

/// From the shared authenticator, whose failures are TAXII-shaped.
impl From<ApiError> for Error {
    fn from(err: ApiError) -> Self {
        match err {
            ApiError::Unauthorized => Error::Unauthorized,
            ApiError::Unavailable(detail) => Error::Unavailable(detail),
            other => Error::Internal(other.to_string()),
        }
    }
}
