//! Cyber-observable objects (§6): the rules of each SCO type and the
//! deterministic identifiers of §2.9.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::LazyLock;

use regex::Regex;
use serde_json::{Map, Value};
use uuid::Uuid;

use super::ident::Id;
use super::objects::order;
use super::tables;
use super::{Ctx, Path};

/// The namespace of deterministic SCO ids (§2.9).
const SCO_NAMESPACE: Uuid = Uuid::from_u128(0x00ab_edb4_aa42_466c_9c01_fed2_3315_a9b7);

/// The ID contributing properties of each SCO type (§6, per type).
fn contributing(type_name: &str) -> &'static [&'static str] {
    match type_name {
        "artifact" => &["hashes", "payload_bin"],
        "autonomous-system" => &["number"],
        "directory" => &["path"],
        "domain-name" | "email-addr" | "ipv4-addr" | "ipv6-addr" | "mac-addr" | "url" => &["value"],
        "email-message" => &["from_ref", "subject", "body"],
        "file" => &["hashes", "name", "extensions", "parent_directory_ref"],
        "mutex" => &["name"],
        "network-traffic" => &[
            "start",
            "end",
            "src_ref",
            "dst_ref",
            "src_port",
            "dst_port",
            "protocols",
            "extensions",
        ],
        "software" => &["name", "cpe", "swid", "vendor", "version"],
        "user-account" => &["account_type", "user_id", "account_login"],
        "windows-registry-key" => &["key", "values"],
        "x509-certificate" => &["hashes", "serial_number"],
        _ => &[],
    }
}

/// Hash algorithms in the order §2.9 prefers when one hash stands for all.
const HASH_PREFERENCE: &[&str] = &["MD5", "SHA-1", "SHA-256", "SHA-512"];

/// The deterministic id §2.9 prescribes for this SCO, if it has any ID
/// contributing property.
pub fn deterministic_id(type_name: &str, map: &Map<String, Value>) -> Option<String> {
    let mut basis = Map::new();
    for key in contributing(type_name) {
        let Some(value) = map.get(*key) else {
            continue;
        };
        let value = match (key, value) {
            (&"hashes", Value::Object(hashes)) => {
                let chosen = HASH_PREFERENCE
                    .iter()
                    .find_map(|algo| hashes.get_key_value(*algo))
                    .or_else(|| hashes.iter().next());
                let (algo, hash) = chosen?;
                let mut one = Map::new();
                one.insert(algo.clone(), hash.clone());
                Value::Object(one)
            }
            _ => value.clone(),
        };
        basis.insert((*key).to_owned(), value);
    }
    if basis.is_empty() {
        return None;
    }
    let canonical = serde_json_canonicalizer::to_string(&Value::Object(basis)).ok()?;
    let uuid = Uuid::new_v5(&SCO_NAMESPACE, canonical.as_bytes());
    Some(format!("{type_name}--{uuid}"))
}

/// UUID version rules for SCO ids (§2.9) and the deterministic id check.
pub(crate) fn id_version(
    ctx: &mut Ctx<'_>,
    map: &Map<String, Value>,
    type_name: &str,
    id: Id<'_>,
    path: &Path<'_>,
) {
    let has_contributing = contributing(type_name).iter().any(|k| map.contains_key(*k));
    if type_name == "process" || !has_contributing {
        if id.version != 4 {
            ctx.error(
                "sco-id-version",
                path,
                format!("a {type_name} without ID contributing properties must use a UUIDv4 id"),
            );
        }
        return;
    }
    if id.version != 5 {
        ctx.warn(
            "uuid-version",
            path,
            format!(
                "a {type_name} id should be a deterministic UUIDv5 (it is version {})",
                id.version
            ),
        );
        return;
    }
    if !ctx.wants("sco-deterministic-id") {
        return;
    }
    if let Some(expected) = deterministic_id(type_name, map) {
        let actual = format!("{}--{}", id.type_name, id.uuid.to_ascii_lowercase());
        if expected != actual {
            ctx.warn(
                "sco-deterministic-id",
                path,
                format!("the deterministic id of this {type_name} is {expected} (§2.9)"),
            );
        }
    }
}

fn regex(pattern: &str) -> Regex {
    match Regex::new(pattern) {
        Ok(re) => re,
        Err(error) => unreachable!("literal regex {pattern}: {error}"),
    }
}

static MAC: LazyLock<Regex> = LazyLock::new(|| regex(r"^([0-9a-f]{2}:){5}[0-9a-f]{2}$"));
static CHARSET: LazyLock<Regex> = LazyLock::new(|| regex(r"^[a-zA-Z0-9_()-]+$"));
static MIME: LazyLock<Regex> = LazyLock::new(|| {
    regex(r"^(application|audio|font|image|message|model|multipart|text|video)/[a-zA-Z0-9.+_-]+")
});
static PROTOCOL: LazyLock<Regex> = LazyLock::new(|| regex(r"^[a-zA-Z0-9-]{1,15}$"));
static CPE23: LazyLock<Regex> = LazyLock::new(|| {
    // CPE 2.3 formatted string binding: cpe:2.3:part:vendor:product:version:
    // update:edition:language:sw_edition:target_sw:target_hw:other.
    regex(
        r##"^cpe:2\.3:[aho*\-](:(((\?*|\*?)([a-zA-Z0-9\-._]|(\\[\\*?!"#$%&'()+,/:;<=>@\[\]\^`{|}~]))+(\?*|\*?))|[*\-])){5}(:(([a-zA-Z]{2,3}(-([a-zA-Z]{2}|[0-9]{3}))?)|[*\-]))(:(((\?*|\*?)([a-zA-Z0-9\-._]|(\\[\\*?!"#$%&'()+,/:;<=>@\[\]\^`{|}~]))+(\?*|\*?))|[*\-])){4}$"##,
    )
});

fn is_ipv4(text: &str) -> bool {
    let (addr, prefix) = match text.split_once('/') {
        Some((addr, prefix)) => (addr, Some(prefix)),
        None => (text, None),
    };
    addr.parse::<Ipv4Addr>().is_ok()
        && prefix.is_none_or(|p| !p.starts_with('0') || p == "0")
        && prefix.is_none_or(|p| p.parse::<u8>().is_ok_and(|n| n <= 32))
}

fn is_ipv6(text: &str) -> bool {
    let (addr, prefix) = match text.split_once('/') {
        Some((addr, prefix)) => (addr, Some(prefix)),
        None => (text, None),
    };
    addr.parse::<Ipv6Addr>().is_ok()
        && prefix.is_none_or(|p| p.parse::<u8>().is_ok_and(|n| n <= 128))
}

/// Properties every SCO may carry that do not count as content.
const SCO_FRAME: &[&str] = &[
    "type",
    "id",
    "spec_version",
    "object_marking_refs",
    "granular_markings",
    "defanged",
];

pub(crate) fn check(
    ctx: &mut Ctx<'_>,
    map: &Map<String, Value>,
    type_name: &str,
    known: bool,
    path: &Path<'_>,
) {
    if !known {
        return;
    }
    let has = |key: &str| map.contains_key(key);
    let text = |key: &str| map.get(key).and_then(Value::as_str);
    match type_name {
        "artifact" => {
            if has("payload_bin") == has("url") {
                ctx.error(
                    "artifact-content",
                    path,
                    "an artifact must have exactly one of payload_bin and url".to_owned(),
                );
            }
            if has("url") && !has("hashes") {
                ctx.error(
                    "artifact-content",
                    &path.key("hashes"),
                    "an artifact with a url must have hashes".to_owned(),
                );
            }
            if has("decryption_key") && !has("encryption_algorithm") {
                ctx.error(
                    "artifact-content",
                    &path.key("decryption_key"),
                    "decryption_key must not be present without encryption_algorithm".to_owned(),
                );
            }
            mime_type(ctx, text("mime_type"), path);
        }
        "directory" => charset(ctx, text("path_enc"), "path_enc", path),
        "email-message" => {
            let multipart = map.get("is_multipart").and_then(Value::as_bool);
            if multipart == Some(false) && has("body_multipart") {
                ctx.error(
                    "email-message-body",
                    &path.key("body_multipart"),
                    "body_multipart must not be present when is_multipart is false".to_owned(),
                );
            }
            if multipart == Some(true) && has("body") {
                ctx.error(
                    "email-message-body",
                    &path.key("body"),
                    "body must not be present when is_multipart is true".to_owned(),
                );
            }
        }
        "file" => {
            if !has("hashes") && !has("name") {
                ctx.error(
                    "file-content",
                    path,
                    "a file must have hashes or name (or both)".to_owned(),
                );
            }
            charset(ctx, text("name_enc"), "name_enc", path);
            mime_type(ctx, text("mime_type"), path);
            file_extensions(ctx, map, path);
        }
        "ipv4-addr" => {
            if let Some(value) = text("value")
                && !is_ipv4(value)
            {
                ctx.error(
                    "ip-address",
                    &path.key("value"),
                    format!("'{value}' is not an IPv4 address or CIDR block"),
                );
            }
        }
        "ipv6-addr" => {
            if let Some(value) = text("value")
                && !is_ipv6(value)
            {
                ctx.error(
                    "ip-address",
                    &path.key("value"),
                    format!("'{value}' is not an IPv6 address or CIDR block"),
                );
            }
        }
        "mac-addr" => {
            if let Some(value) = text("value")
                && !MAC.is_match(value)
            {
                ctx.error(
                    "mac-address",
                    &path.key("value"),
                    format!(
                        "'{value}' must be a MAC-48 address in lowercase, colon-delimited form"
                    ),
                );
            }
        }
        "network-traffic" => network_traffic(ctx, map, path),
        "process" => {
            if map.keys().all(|k| SCO_FRAME.contains(&k.as_str())) {
                ctx.error(
                    "sco-content",
                    path,
                    "a process must have at least one property besides the common ones".to_owned(),
                );
            }
            let priority = map
                .get("extensions")
                .and_then(|e| e.get("windows-process-ext"))
                .and_then(|e| e.get("priority"))
                .and_then(Value::as_str);
            if let Some(priority) = priority
                && (!priority.ends_with("_CLASS") || priority.len() <= "_CLASS".len())
            {
                ctx.warn(
                    "windows-process-priority",
                    &path.key("extensions"),
                    format!("windows-process-ext priority '{priority}' should end in _CLASS"),
                );
            }
        }
        "software" => {
            if let Some(cpe) = text("cpe")
                && !CPE23.is_match(cpe)
            {
                ctx.error(
                    "cpe-format",
                    &path.key("cpe"),
                    format!("'{cpe}' is not a CPE 2.3 formatted string"),
                );
            }
            if let Some(languages) = map.get("languages").and_then(Value::as_array) {
                let languages_path = path.key("languages");
                for (i, language) in languages.iter().enumerate() {
                    let Some(language) = language.as_str() else {
                        continue;
                    };
                    let known = super::props::is_language_tag(language)
                        || tables::ISO_639_2_CODES.binary_search(&language).is_ok();
                    if !known {
                        ctx.error(
                            "language-tag",
                            &languages_path.index(i),
                            format!("'{language}' is not an RFC 5646 (or ISO 639-2) language code"),
                        );
                    }
                }
            }
        }
        "windows-registry-key" | "user-account" | "x509-certificate"
            if map.keys().all(|k| SCO_FRAME.contains(&k.as_str())) =>
        {
            ctx.error(
                "sco-content",
                path,
                format!("a {type_name} must have at least one property besides the common ones"),
            );
        }
        _ => {}
    }
}

fn mime_type(ctx: &mut Ctx<'_>, value: Option<&str>, path: &Path<'_>) {
    if let Some(value) = value
        && !MIME.is_match(value)
    {
        ctx.warn(
            "mime-type",
            &path.key("mime_type"),
            format!("mime_type '{value}' should be an IANA media type of the form type/subtype"),
        );
    }
}

fn charset(ctx: &mut Ctx<'_>, value: Option<&str>, key: &str, path: &Path<'_>) {
    if let Some(value) = value
        && !CHARSET.is_match(value)
    {
        ctx.error(
            "charset-name",
            &path.key(key),
            format!("{key} '{value}' must be an IANA character set name"),
        );
    }
}

fn file_extensions(ctx: &mut Ctx<'_>, map: &Map<String, Value>, path: &Path<'_>) {
    let Some(pdf) = map
        .get("extensions")
        .and_then(|e| e.get("pdf-ext"))
        .and_then(|e| e.get("document_info_dict"))
        .and_then(Value::as_object)
    else {
        return;
    };
    for key in pdf.keys() {
        if !tables::PDF_DOCUMENT_INFO_KEYS.contains(&key.as_str()) {
            ctx.warn(
                "pdf-doc-info",
                &path.key("extensions"),
                format!("document_info_dict key '{key}' is not a PDF document information key"),
            );
        }
    }
}

fn network_traffic(ctx: &mut Ctx<'_>, map: &Map<String, Value>, path: &Path<'_>) {
    let has = |key: &str| map.contains_key(key);
    if !has("src_ref") && !has("dst_ref") {
        ctx.error(
            "network-traffic-endpoints",
            path,
            "network-traffic must have src_ref or dst_ref (or both)".to_owned(),
        );
    }
    order(ctx, map, path, "start", "end", false);
    if map.get("is_active") == Some(&Value::Bool(true)) && has("end") {
        ctx.error(
            "network-traffic-active",
            &path.key("end"),
            "end must not be present while is_active is true".to_owned(),
        );
    }
    if !has("src_port") || !has("dst_port") {
        ctx.warn(
            "network-traffic-ports",
            path,
            "network-traffic should have both src_port and dst_port".to_owned(),
        );
    }
    if let Some(protocols) = map.get("protocols").and_then(Value::as_array) {
        let protocols_path = path.key("protocols");
        for (i, protocol) in protocols.iter().enumerate() {
            if let Some(protocol) = protocol.as_str()
                && (!PROTOCOL.is_match(protocol)
                    || protocol.bytes().any(|b| b.is_ascii_uppercase()))
            {
                ctx.warn(
                    "protocol-name",
                    &protocols_path.index(i),
                    format!("protocol '{protocol}' should be a lowercase IANA service name"),
                );
            }
        }
    }
    let extensions = map.get("extensions");
    let ext_path = path.key("extensions");
    if let Some(headers) = extensions
        .and_then(|e| e.get("http-request-ext"))
        .and_then(|e| e.get("request_header"))
        .and_then(Value::as_object)
    {
        for key in headers.keys() {
            if tables::HTTP_REQUEST_HEADERS
                .binary_search(&key.as_str())
                .is_err()
            {
                ctx.warn(
                    "http-request-header",
                    &ext_path,
                    format!("request_header '{key}' is not an HTTP request header name"),
                );
            }
        }
    }
    if let Some(options) = extensions
        .and_then(|e| e.get("socket-ext"))
        .and_then(|e| e.get("options"))
        .and_then(Value::as_object)
    {
        for key in options.keys() {
            if tables::SOCKET_OPTIONS.binary_search(&key.as_str()).is_err() {
                ctx.warn(
                    "socket-option",
                    &ext_path,
                    format!("socket option '{key}' is not a known socket option name"),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validate::test_support::check;

    #[test]
    fn deterministic_ids_follow_section_2_9() {
        // python-stix2 computes this id for URL "https://example.com/".
        let mut map = Map::new();
        map.insert("value".into(), Value::String("8.8.8.8".into()));
        let id = deterministic_id("ipv4-addr", &map);
        assert!(
            id.as_deref()
                .is_some_and(|id| id.starts_with("ipv4-addr--") && id.len() == 47)
        );
        let mut file = Map::new();
        let mut hashes = Map::new();
        hashes.insert("SHA-256".into(), Value::String("a".repeat(64)));
        hashes.insert("MD5".into(), Value::String("b".repeat(32)));
        file.insert("hashes".into(), Value::Object(hashes));
        let mut md5_only = Map::new();
        let mut one = Map::new();
        one.insert("MD5".into(), Value::String("b".repeat(32)));
        md5_only.insert("hashes".into(), Value::Object(one));
        assert_eq!(
            deterministic_id("file", &file),
            deterministic_id("file", &md5_only)
        );
        assert_eq!(deterministic_id("process", &file), None);
        // Ids computed by python-stix2 3.0 for the same properties.
        let python_stix2 = |type_name: &str, key: &str, value: Value| {
            let mut map = Map::new();
            map.insert(key.to_owned(), value);
            deterministic_id(type_name, &map)
        };
        assert_eq!(
            python_stix2("ipv4-addr", "value", Value::String("8.8.8.8".into())).as_deref(),
            Some("ipv4-addr--2f689bf9-0ff2-545f-aa61-e495eb8cecc7")
        );
        assert_eq!(
            python_stix2("autonomous-system", "number", Value::from(15139)).as_deref(),
            Some("autonomous-system--3aa27478-50b5-5ab8-9da9-cdc12b657fff")
        );
    }

    #[test]
    fn sco_rules() {
        check(
            r#"{"type": "ipv4-addr", "spec_version": "2.1",
               "id": "ipv4-addr--ff1e0780-358c-5808-a8c7-d0fca4ef6ef4", "value": "999.1.1.1"}"#,
            &["ip-address", "sco-deterministic-id"],
        );
        check(
            r#"{"type": "process", "spec_version": "2.1",
               "id": "process--ff1e0780-358c-5808-a8c7-d0fca4ef6ef4", "pid": 1}"#,
            &["sco-id-version"],
        );
        check(
            r#"{"type": "network-traffic", "id": "network-traffic--ff1e0780-358c-4808-a8c7-d0fca4ef6ef4",
               "protocols": ["tcp"], "src_port": 1, "dst_port": 2}"#,
            &["network-traffic-endpoints", "uuid-version"],
        );
    }
}
