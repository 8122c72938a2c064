//! Request bodies: `application/json`, at most `max_content_length` bytes,
//! checked for syntax, duplicate keys and depth (the TAXII ingest checks)
//! before they are deserialised into a typed request.

use axum::body::Body;
use axum::http::{HeaderMap, header};
use serde::de::DeserializeOwned;
use stix::Limits;

use super::error::Error;
use crate::ingest;

/// `application/json`, with any parameters (`charset=utf-8`).
pub fn is_json_content_type(content_type: Option<&str>) -> bool {
    content_type
        .and_then(|value| value.split(';').next())
        .is_some_and(|essence| essence.trim().eq_ignore_ascii_case("application/json"))
}

/// Reads and parses a JSON request body into `T`.
pub async fn json_body<T: DeserializeOwned>(
    headers: &HeaderMap,
    body: Body,
    limits: &Limits,
) -> Result<T, Error> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok());
    if !is_json_content_type(content_type) {
        return Err(Error::UnsupportedMediaType);
    }
    let max = limits.max_content_length;
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    if declared.is_some_and(|length| length > max as u64) {
        return Err(Error::PayloadTooLarge(max));
    }
    let bytes = axum::body::to_bytes(body, max).await.map_err(|err| {
        let over_limit = std::error::Error::source(&err)
            .is_some_and(|source| source.is::<http_body_util::LengthLimitError>());
        if over_limit {
            Error::PayloadTooLarge(max)
        } else {
            Error::BadRequest("the request body could not be read".to_owned())
        }
    })?;
    let text = std::str::from_utf8(&bytes)
        .map_err(|_| Error::BadRequest("the request body is not UTF-8".to_owned()))?;
    ingest::check_json(text, limits.max_json_depth)
        .map_err(|err| Error::BadRequest(err.to_string()))?;
    serde_json::from_str(text).map_err(|err| Error::BadRequest(format!("the request body: {err}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_content_types() {
        for ok in [
            "application/json",
            "application/json; charset=utf-8",
            "Application/JSON",
        ] {
            assert!(is_json_content_type(Some(ok)), "{ok}");
        }
        for refused in [
            "application/taxii+json;version=2.1",
            "text/plain",
            "application/jsonx",
            "",
        ] {
            assert!(!is_json_content_type(Some(refused)), "{refused}");
        }
        assert!(!is_json_content_type(None));
    }
}
