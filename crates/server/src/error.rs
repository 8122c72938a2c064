//! The one place where failures become HTTP answers: every non-2xx answer
//! is a TAXII `error` resource with the TAXII media type. Internal detail is
//! logged, never sent.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use store::StoreError;

use crate::media::TAXII_MEDIA_TYPE;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("no acceptable credentials")]
    Unauthorized,
    #[error("forbidden: {0}")]
    Forbidden(&'static str),
    /// Missing and hidden look the same: one body for every 404.
    #[error("not found")]
    NotFound,
    #[error("bad request: {0}")]
    BadRequest(String),
    #[error("no acceptable media type in Accept")]
    NotAcceptable,
    #[error("unsupported Content-Type")]
    UnsupportedMediaType,
    #[error("payload too large: {0}")]
    PayloadTooLarge(String),
    #[error("unprocessable: {0}")]
    Unprocessable(String),
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("internal error: {0}")]
    Internal(String),
    /// The database is unreachable or overloaded; the node itself is up
    /// and recovers when the database does.
    #[error("service unavailable: {0}")]
    Unavailable(String),
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::InvalidArgument(message) => ApiError::BadRequest(message),
            StoreError::Database(detail) => ApiError::Unavailable(detail),
            other => ApiError::Internal(other.to_string()),
        }
    }
}

/// `WWW-Authenticate` for every 401: both schemes we take.
pub const CHALLENGE: &str = "Basic realm=\"tearline\", Bearer realm=\"tearline\"";

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound => StatusCode::NOT_FOUND,
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::NotAcceptable => StatusCode::NOT_ACCEPTABLE,
            ApiError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    fn title_and_description(&self) -> (&'static str, String) {
        match self {
            ApiError::Unauthorized => (
                "Authentication required",
                "Send HTTP Basic credentials or a bearer token.".to_owned(),
            ),
            ApiError::Forbidden(why) => ("Forbidden", (*why).to_owned()),
            ApiError::NotFound => (
                "Not found",
                "The requested resource does not exist.".to_owned(),
            ),
            ApiError::BadRequest(why) => ("Bad request", why.clone()),
            ApiError::NotAcceptable => (
                "Not acceptable",
                format!("This server answers with {TAXII_MEDIA_TYPE}; list it in Accept."),
            ),
            ApiError::UnsupportedMediaType => (
                "Unsupported media type",
                format!("Send the request body as {TAXII_MEDIA_TYPE}."),
            ),
            ApiError::PayloadTooLarge(why) => ("Payload too large", why.clone()),
            ApiError::Unprocessable(why) => ("Unprocessable content", why.clone()),
            ApiError::MethodNotAllowed => (
                "Method not allowed",
                "This endpoint does not support this HTTP method.".to_owned(),
            ),
            ApiError::Internal(_) => (
                "Internal server error",
                "The server could not complete the request; it has been logged.".to_owned(),
            ),
            ApiError::Unavailable(_) => (
                "Service unavailable",
                "The server cannot reach its database; nothing was changed. Retry shortly."
                    .to_owned(),
            ),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() {
            tracing::error!(error = %self, "request failed");
        } else {
            tracing::info!(error = %self, status = status.as_u16(), "request refused");
        }
        let (title, description) = self.title_and_description();
        let body = json!({
            "title": title,
            "description": description,
            "http_status": status.as_u16().to_string(),
        });
        let mut response = (status, body.to_string()).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(TAXII_MEDIA_TYPE),
        );
        if matches!(self, ApiError::Unauthorized) {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(CHALLENGE),
            );
        }
        if matches!(self, ApiError::Unavailable(_)) {
            headers.insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
        }
        response
    }
}
