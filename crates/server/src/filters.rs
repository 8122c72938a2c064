//! TAXII query parameters (§3.4): parsed strictly, every malformed or
//! repeated parameter is a 400. Unknown parameters and `match[...]` fields
//! an endpoint does not support are ignored, as §3.4.1 allows.

use std::collections::HashSet;

use store::{Cursor, Micros, VersionFilter};

use crate::error::ApiError;
use crate::timestamp;

/// Most values one comma list may hold.
pub const MAX_FILTER_VALUES: usize = 1_000;

/// Which filters an endpoint takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// Get Objects and Get Manifest.
    Objects,
    /// Get an Object.
    Object,
    Versions,
    Delete,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filters {
    pub added_after: Option<Micros>,
    pub limit: Option<usize>,
    pub next: Option<Cursor>,
    pub ids: Vec<String>,
    pub types: Vec<String>,
    /// `None` when absent, so each endpoint applies its own default.
    pub versions: Option<VersionFilter>,
    pub spec_versions: Vec<String>,
}

impl Filters {
    pub fn parse(query: Option<&str>, endpoint: Endpoint) -> Result<Self, ApiError> {
        let mut filters = Filters {
            added_after: None,
            limit: None,
            next: None,
            ids: Vec::new(),
            types: Vec::new(),
            versions: None,
            spec_versions: Vec::new(),
        };
        let paged = endpoint != Endpoint::Delete;
        let mut seen = HashSet::new();
        for (name, value) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
            let known = match name.as_ref() {
                "added_after" | "limit" | "next" if paged => true,
                "match[id]" | "match[type]" => endpoint == Endpoint::Objects,
                "match[version]" => endpoint != Endpoint::Versions,
                "match[spec_version]" => true,
                _ => false,
            };
            if !known {
                continue;
            }
            if !seen.insert(name.clone().into_owned()) {
                return Err(bad(format!("'{name}' may appear only once")));
            }
            match name.as_ref() {
                "added_after" => {
                    filters.added_after =
                        Some(timestamp::parse_taxii(&value).ok_or_else(|| {
                            bad("'added_after' must be an RFC 3339 timestamp".to_owned())
                        })?);
                }
                "limit" => filters.limit = Some(parse_limit(&value)?),
                "next" => {
                    filters.next =
                        Some(Cursor::decode(&value).ok_or_else(|| {
                            bad("'next' is not a value this server gave".to_owned())
                        })?);
                }
                "match[id]" => filters.ids = list(&name, &value, is_stix_id)?,
                "match[type]" => filters.types = list(&name, &value, is_stix_type)?,
                "match[spec_version]" => {
                    filters.spec_versions = list(&name, &value, is_spec_version)?;
                }
                "match[version]" => filters.versions = Some(parse_versions(&value)?),
                _ => {}
            }
        }
        Ok(filters)
    }
}

fn bad(message: String) -> ApiError {
    ApiError::BadRequest(message)
}

fn parse_limit(value: &str) -> Result<usize, ApiError> {
    let ok = !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit());
    match value.parse::<usize>() {
        Ok(limit) if ok && limit > 0 => Ok(limit),
        // Absurdly long digit strings still mean "as many as you can".
        Err(_) if ok && !value.trim_start_matches('0').is_empty() => Ok(usize::MAX),
        _ => Err(bad("'limit' must be a positive integer".to_owned())),
    }
}

fn list(name: &str, value: &str, valid: fn(&str) -> bool) -> Result<Vec<String>, ApiError> {
    let values: Vec<String> = value.split(',').map(str::to_owned).collect();
    if values.len() > MAX_FILTER_VALUES {
        return Err(bad(format!(
            "'{name}' holds more than {MAX_FILTER_VALUES} values"
        )));
    }
    if let Some(wrong) = values.iter().find(|v| !valid(v)) {
        let shown: String = wrong.chars().take(80).collect();
        return Err(bad(format!("'{name}' has an invalid value '{shown}'")));
    }
    Ok(values)
}

fn is_stix_type(value: &str) -> bool {
    (1..=250).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

fn is_stix_id(value: &str) -> bool {
    value.len() <= 300
        && value
            .split_once("--")
            .is_some_and(|(kind, rest)| is_stix_type(kind) && !rest.is_empty())
        && value.bytes().all(|b| b.is_ascii_graphic())
}

fn is_spec_version(value: &str) -> bool {
    value.split_once('.').is_some_and(|(major, minor)| {
        !major.is_empty()
            && !minor.is_empty()
            && major.len() <= 3
            && minor.len() <= 3
            && major.bytes().all(|b| b.is_ascii_digit())
            && minor.bytes().all(|b| b.is_ascii_digit())
    })
}

fn parse_versions(value: &str) -> Result<VersionFilter, ApiError> {
    let parts: Vec<&str> = value.split(',').collect();
    if parts.len() > MAX_FILTER_VALUES {
        return Err(bad(format!(
            "'match[version]' holds more than {MAX_FILTER_VALUES} values"
        )));
    }
    let mut unique = HashSet::new();
    if parts.iter().any(|part| !unique.insert(*part)) {
        return Err(bad("'match[version]' repeats a value".to_owned()));
    }
    if parts.contains(&"all") {
        return if parts.len() == 1 {
            Ok(VersionFilter::All)
        } else {
            Err(bad("'match[version]=all' cannot be combined".to_owned()))
        };
    }
    let (mut first, mut last, mut exact) = (false, false, Vec::new());
    for part in parts {
        match part {
            "first" => first = true,
            "last" => last = true,
            timestamp => exact.push(timestamp::version_key(timestamp).ok_or_else(|| {
                bad("'match[version]' takes first, last, all or timestamps".to_owned())
            })?),
        }
    }
    Ok(VersionFilter::Select { first, last, exact })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(query: &str) -> Result<Filters, ApiError> {
        Filters::parse(Some(query), Endpoint::Objects)
    }

    #[test]
    fn reads_every_filter() {
        let filters = parse(
            "added_after=2021-01-01T00:00:00.000001Z&limit=5&match%5Bid%5D=indicator--1,malware--2\
             &match[type]=indicator&match[version]=first,2020-01-01T00:00:00Z&match[spec_version]=2.1",
        );
        let Ok(filters) = filters else {
            panic!("{filters:?}");
        };
        assert_eq!(filters.added_after, Some(1_609_459_200_000_001));
        assert_eq!(filters.limit, Some(5));
        assert_eq!(filters.ids, vec!["indicator--1", "malware--2"]);
        assert_eq!(filters.types, vec!["indicator"]);
        assert_eq!(filters.spec_versions, vec!["2.1"]);
        assert_eq!(
            filters.versions,
            Some(VersionFilter::Select {
                first: true,
                last: false,
                exact: vec!["2020-01-01T00:00:00.000000000Z".to_owned()]
            })
        );
    }

    #[test]
    fn refuses_malformed_values() {
        for query in [
            "limit=0",
            "limit=-1",
            "limit=abc",
            "limit=",
            "limit=1&limit=2",
            "added_after=yesterday",
            "added_after=2021-01-01T00:00:00Z&added_after=2021-01-01T00:00:00Z",
            "next=bogus",
            "match[type]=Indicator",
            "match[type]=a,,b",
            "match[id]=nodashes",
            "match[version]=all,last",
            "match[version]=last,last",
            "match[version]=newest",
            "match[spec_version]=two",
        ] {
            assert!(
                matches!(parse(query), Err(ApiError::BadRequest(_))),
                "{query}"
            );
        }
    }

    #[test]
    fn ignores_unknown_and_unsupported_parameters() {
        assert!(parse("foo=bar&match[color]=red").is_ok());
        let object = Filters::parse(Some("match[type]=Not Valid"), Endpoint::Object);
        assert!(object.is_ok(), "match[type] is not an Object filter");
        assert_eq!(
            parse("limit=99999999999999999999999")
                .ok()
                .and_then(|f| f.limit),
            Some(usize::MAX)
        );
    }
}
