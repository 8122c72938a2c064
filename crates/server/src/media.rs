//! Content negotiation (TAXII 2.1 §1.6.8, §3.1; RFC 7231 §5.3.2).
//!
//! Accept is parsed as media ranges with parameters and q-values: the TAXII
//! type with `version=2.1` or without a version, `application/*` and `*/*`
//! are served; 406 only when no acceptable range remains. A missing Accept
//! is served too (the client gets the only thing we have). POST bodies must
//! be the TAXII type, with `version=2.1` or no version.

pub const TAXII_MEDIA_TYPE: &str = "application/taxii+json;version=2.1";
pub const STIX_MEDIA_TYPE: &str = "application/stix+json;version=2.1";

struct MediaRange<'a> {
    essence: String,
    params: Vec<(String, &'a str)>,
}

fn parse_range(text: &str) -> Option<MediaRange<'_>> {
    let mut parts = text.split(';');
    let essence = parts.next()?.trim().to_ascii_lowercase();
    let (kind, subtype) = essence.split_once('/')?;
    if kind.is_empty() || subtype.is_empty() {
        return None;
    }
    let mut params = Vec::new();
    for part in parts {
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        let (name, value) = part.split_once('=')?;
        params.push((
            name.trim().to_ascii_lowercase(),
            value.trim().trim_matches('"'),
        ));
    }
    Some(MediaRange { essence, params })
}

fn param<'a>(range: &MediaRange<'a>, name: &str) -> Option<&'a str> {
    range
        .params
        .iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| *value)
}

fn is_taxii_21(range: &MediaRange<'_>) -> bool {
    range.essence == "application/taxii+json"
        && param(range, "version").is_none_or(|version| version == "2.1")
}

/// Whether an Accept header (absent = `None`) lets us answer with TAXII 2.1.
pub fn accepts_taxii(accept: Option<&str>) -> bool {
    let Some(accept) = accept else {
        return true;
    };
    accept.split(',').filter_map(parse_range).any(|range| {
        let q = param(&range, "q").map_or(Some(1.0), |q| q.parse::<f32>().ok());
        let wanted = q.is_some_and(|q| q > 0.0);
        let matches =
            is_taxii_21(&range) || range.essence == "*/*" || range.essence == "application/*";
        wanted && matches
    })
}

/// Whether a request Content-Type names TAXII 2.1.
pub fn is_taxii_content_type(content_type: Option<&str>) -> bool {
    content_type
        .and_then(parse_range)
        .is_some_and(|range| is_taxii_21(&range))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_forms() {
        for ok in [
            None,
            Some("application/taxii+json;version=2.1"),
            Some("application/taxii+json"),
            Some("Application/TAXII+JSON; version=2.1"),
            Some("application/taxii+json;version=2.1;q=0.9"),
            Some("application/json, application/taxii+json;version=2.1"),
            Some("application/taxii+json;version=2.1,application/stix+json;version=2.1"),
            Some("*/*"),
            Some("application/json, text/plain, */*"),
            Some("application/*"),
        ] {
            assert!(accepts_taxii(ok), "{ok:?}");
        }
        for refused in [
            Some("application/taxii+json;version=2.0"),
            Some("application/json"),
            Some("application/stix+json;version=2.1"),
            Some("application/taxii+json;q=0"),
            Some("text/html, */*;q=0"),
            Some(""),
            Some("garbage"),
        ] {
            assert!(!accepts_taxii(refused), "{refused:?}");
        }
    }

    #[test]
    fn content_type_forms() {
        assert!(is_taxii_content_type(Some(
            "application/taxii+json;version=2.1"
        )));
        assert!(is_taxii_content_type(Some("application/taxii+json")));
        assert!(is_taxii_content_type(Some(
            "application/taxii+json ; version=\"2.1\""
        )));
        assert!(!is_taxii_content_type(Some(
            "application/taxii+json;version=2.0"
        )));
        assert!(!is_taxii_content_type(Some(
            "application/stix+json;version=2.1"
        )));
        assert!(!is_taxii_content_type(Some("application/json")));
        assert!(!is_taxii_content_type(None));
    }
}
