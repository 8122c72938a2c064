//! One object from top to bottom: type, spec_version, id, the property
//! table, then the rules specific to each type.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::ident::{self, is_type_name};
use super::props::{self, Scope};
use super::timestamp::Timestamp;
use super::types::{self, Family};
use super::{Ctx, Path};
use super::{custom, extension, marking, pattern, sco, tables};

/// A bundle (checked with every object in it) or a single object.
pub(crate) fn check_top(ctx: &mut Ctx<'_>, value: &Value, path: &Path<'_>) {
    let Some(map) = value.as_object() else {
        ctx.error(
            "not-an-object",
            path,
            "a STIX object must be a JSON object".to_owned(),
        );
        return;
    };
    if map.get("type").and_then(Value::as_str) == Some("bundle") {
        bundle(ctx, map, path);
    } else {
        object(ctx, map, path);
    }
}

/// A bundle (§8): `type`, `id`, optional `objects`; no `spec_version` in 2.1.
fn bundle(ctx: &mut Ctx<'_>, map: &Map<String, Value>, path: &Path<'_>) {
    match map.get("id") {
        None => ctx.error(
            "required-property",
            &path.key("id"),
            "the bundle is missing its required property 'id'".to_owned(),
        ),
        Some(id) => {
            let id_path = path.key("id");
            identifier(ctx, id, "bundle", Family::Meta, map, &id_path);
        }
    }
    for key in map.keys() {
        match key.as_str() {
            "type" | "id" | "objects" => {}
            "spec_version" => ctx.warn(
                "bundle-spec-version",
                &path.key(key),
                "a STIX 2.1 bundle has no spec_version (it is a STIX 2.0 property); each object carries its own".to_owned(),
            ),
            _ => custom::top_property(ctx, key, &map[key.as_str()], &path.key(key), "bundle", false, false),
        }
    }
    let Some(objects) = map.get("objects") else {
        return;
    };
    let objects_path = path.key("objects");
    let Some(items) = props::list(ctx, objects, &objects_path, "objects", "a list of objects")
    else {
        return;
    };
    let mut seen: BTreeMap<(&str, &str), usize> = BTreeMap::new();
    for (i, item) in items.iter().enumerate() {
        let item_path = objects_path.index(i);
        match item.as_object() {
            Some(inner) if inner.get("type").and_then(Value::as_str) == Some("bundle") => {
                ctx.error(
                    "bundle-in-bundle",
                    &item_path,
                    "a bundle must not contain another bundle".to_owned(),
                );
            }
            Some(inner) => {
                object(ctx, inner, &item_path);
                let id = inner.get("id").and_then(Value::as_str);
                let modified = inner.get("modified").and_then(Value::as_str);
                if let (Some(id), Some(modified)) = (id, modified)
                    && let Some(first) = seen.insert((id, modified), i)
                {
                    ctx.warn(
                            "duplicate-id",
                            &item_path,
                            format!("'{id}' with modified {modified} also appears at objects[{first}]; versions of one object should differ in modified"),
                        );
                }
            }
            None => ctx.error(
                "not-an-object",
                &item_path,
                "a STIX object must be a JSON object".to_owned(),
            ),
        }
    }
}

/// The `extension_type` values of the object's extensions.
fn extension_types(map: &Map<String, Value>) -> impl Iterator<Item = &str> {
    map.get("extensions")
        .and_then(Value::as_object)
        .into_iter()
        .flat_map(|exts| exts.values())
        .filter_map(|ext| ext.get("extension_type").and_then(Value::as_str))
}

pub(crate) fn object(ctx: &mut Ctx<'_>, map: &Map<String, Value>, path: &Path<'_>) {
    let type_path = path.key("type");
    let type_name = match map.get("type") {
        Some(Value::String(name)) => name.as_str(),
        Some(_) => {
            props::type_error(ctx, &type_path, "type", "a string");
            return;
        }
        None => {
            ctx.error(
                "required-property",
                &type_path,
                "the required property 'type' is missing".to_owned(),
            );
            return;
        }
    };
    if !is_type_name(type_name) {
        ctx.error(
            "type-format",
            &type_path,
            format!("type '{type_name}' must be 3 to 250 characters of a-z, 0-9 and single hyphens, starting with a letter"),
        );
        return;
    }
    if type_name == "action" {
        ctx.error(
            "reserved-type",
            &type_path,
            "the type 'action' is reserved by the specification".to_owned(),
        );
        return;
    }
    let spec = types::lookup(type_name);
    let family = match spec {
        Some(spec) => spec.family,
        None => {
            let mut family = Family::Sdo;
            let mut defined = false;
            for kind in extension_types(map) {
                match kind {
                    "new-sco" => (family, defined) = (Family::Sco, true),
                    "new-sro" => (family, defined) = (Family::Sro, true),
                    "new-sdo" => defined = true,
                    _ => {}
                }
            }
            custom::object_type(ctx, type_name, &type_path, defined);
            family
        }
    };
    spec_version(ctx, map, family, path);

    let common = types::common_props(family, type_name);
    let own = spec.map_or(&[][..], |spec| spec.props);
    for prop in common.iter().chain(own) {
        if prop.required && prop.name != "spec_version" && !map.contains_key(prop.name) {
            ctx.error(
                "required-property",
                &path.key(prop.name),
                format!(
                    "'{type_name}' objects must have the property '{}'",
                    prop.name
                ),
            );
        }
    }
    let uses_toplevel_extension = extension_types(map).any(|t| t == "toplevel-property-extension");
    let scope = Scope {
        name: type_name,
        in_sco: family == Family::Sco,
    };
    for (key, value) in map {
        let child = path.key(key);
        match key.as_str() {
            "type" | "spec_version" => {}
            "id" => identifier(ctx, value, type_name, family, map, &child),
            _ => match types::find_prop(own, key).or_else(|| types::find_prop(common, key)) {
                Some(prop) => props::check_value(ctx, prop, value, &child, scope),
                None => custom::top_property(
                    ctx,
                    key,
                    value,
                    &child,
                    type_name,
                    spec.is_none(),
                    uses_toplevel_extension,
                ),
            },
        }
    }

    if family != Family::Sco {
        order(ctx, map, path, "created", "modified", false);
    }
    extension::check(ctx, map, spec, path);
    marking::check_selectors(ctx, map, path);
    match type_name {
        "marking-definition" => marking::definition(ctx, map, path),
        "extension-definition" => extension::definition(ctx, map, path),
        "language-content" => language_content(ctx, map, path),
        "indicator" => indicator(ctx, map, path),
        "malware" => malware(ctx, map, path),
        "malware-analysis" => malware_analysis(ctx, map, path),
        "location" => location(ctx, map, path),
        "observed-data" => observed_data(ctx, map, path),
        "relationship" => relationship(ctx, map, path),
        "campaign" | "infrastructure" | "intrusion-set" | "threat-actor" | "sighting" => {
            order(ctx, map, path, "first_seen", "last_seen", false);
        }
        _ if family == Family::Sco => sco::check(ctx, map, type_name, spec.is_some(), path),
        _ => {}
    }
}

/// `spec_version` (§3.2): "2.1" on every 2.1 object; optional on SCOs.
/// Without it an SDO/SRO is STIX 2.0 content, which is reported as such.
fn spec_version(ctx: &mut Ctx<'_>, map: &Map<String, Value>, family: Family, path: &Path<'_>) {
    let version_path = path.key("spec_version");
    match map.get("spec_version") {
        None if family == Family::Sco => {}
        None => ctx.error(
            "stix-2.0-object",
            &version_path,
            "no spec_version: this is STIX 2.0 content; STIX 2.1 objects must carry spec_version \"2.1\"".to_owned(),
        ),
        Some(Value::String(version)) if version == "2.1" => {}
        Some(Value::String(version)) if version == "2.0" => ctx.error(
            "stix-2.0-object",
            &version_path,
            "spec_version \"2.0\": this is STIX 2.0 content, not STIX 2.1".to_owned(),
        ),
        Some(Value::String(version)) => ctx.error(
            "spec-version",
            &version_path,
            format!("spec_version must be \"2.1\", not \"{version}\""),
        ),
        Some(_) => props::type_error(ctx, &version_path, "spec_version", "the string \"2.1\""),
    }
}

/// The `id` property (§2.9): `type--UUID`, the type matching, UUIDv4 for
/// SDOs/SROs/meta objects, UUIDv5 for SCOs (except as §2.9 says otherwise).
fn identifier(
    ctx: &mut Ctx<'_>,
    value: &Value,
    type_name: &str,
    family: Family,
    map: &Map<String, Value>,
    path: &Path<'_>,
) {
    let Some(text) = value.as_str() else {
        props::type_error(ctx, path, "id", "a string identifier");
        return;
    };
    let Some(id) = ident::parse_id(text) else {
        ctx.error(
            "identifier-format",
            path,
            format!("id must be of the form {type_name}--UUID (an RFC 4122 UUID), not '{text}'"),
        );
        return;
    };
    if id.type_name != type_name {
        ctx.error(
            "id-type-mismatch",
            path,
            format!("id '{text}' must start with '{type_name}--'"),
        );
        return;
    }
    if family == Family::Sco && types::lookup(type_name).is_some() {
        sco::id_version(ctx, map, type_name, id, path);
    } else if id.version != 4 && family != Family::Sco {
        ctx.warn(
            "uuid-version",
            path,
            format!(
                "id '{text}' should use a UUIDv4 (it is version {})",
                id.version
            ),
        );
    }
}

/// Parses a timestamp property that was already type-checked (no findings).
pub(crate) fn timestamp_of(map: &Map<String, Value>, key: &str) -> Option<Timestamp> {
    map.get(key)
        .and_then(Value::as_str)
        .and_then(|text| super::timestamp::parse(text).ok())
}

/// `later` must not be before `earlier` (or strictly after when `strict`).
pub(crate) fn order(
    ctx: &mut Ctx<'_>,
    map: &Map<String, Value>,
    path: &Path<'_>,
    earlier: &str,
    later: &str,
    strict: bool,
) {
    let (Some(first), Some(second)) = (timestamp_of(map, earlier), timestamp_of(map, later)) else {
        return;
    };
    if second < first || (strict && second == first) {
        let relation = if strict {
            "later than"
        } else {
            "equal to or later than"
        };
        ctx.error(
            "timestamp-order",
            &path.key(later),
            format!("'{later}' must be {relation} '{earlier}'"),
        );
    }
}

fn indicator(ctx: &mut Ctx<'_>, map: &Map<String, Value>, path: &Path<'_>) {
    order(ctx, map, path, "valid_from", "valid_until", true);
    if !map.contains_key("name") || !map.contains_key("description") {
        ctx.warn(
            "indicator-name-description",
            path,
            "an indicator should have both a name and a description".to_owned(),
        );
    }
    let is_stix = map.get("pattern_type").and_then(Value::as_str) == Some("stix");
    if let (true, Some(text)) = (is_stix, map.get("pattern").and_then(Value::as_str)) {
        let version = map
            .get("pattern_version")
            .and_then(Value::as_str)
            .unwrap_or("2.1");
        let pattern_path = path.key("pattern");
        let mut found = Vec::new();
        pattern::check_pattern(text, version, &pattern_path.render(), &mut found);
        for finding in found {
            ctx.emit(finding);
        }
    }
}

fn malware(ctx: &mut Ctx<'_>, map: &Map<String, Value>, path: &Path<'_>) {
    order(ctx, map, path, "first_seen", "last_seen", false);
    if map.get("is_family") == Some(&Value::Bool(true)) && !map.contains_key("name") {
        ctx.error(
            "malware-family-name",
            &path.key("name"),
            "a malware family (is_family true) must have a name".to_owned(),
        );
    }
}

fn malware_analysis(ctx: &mut Ctx<'_>, map: &Map<String, Value>, path: &Path<'_>) {
    if !map.contains_key("result") && !map.contains_key("analysis_sco_refs") {
        ctx.error(
            "malware-analysis-result",
            path,
            "a malware-analysis must have result or analysis_sco_refs (or both)".to_owned(),
        );
    }
    if let Some(product) = map.get("product").and_then(Value::as_str)
        && !product
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        ctx.warn(
            "malware-analysis-product",
            &path.key("product"),
            format!("product '{product}' should be lowercase words separated by hyphens"),
        );
    }
}

fn location(ctx: &mut Ctx<'_>, map: &Map<String, Value>, path: &Path<'_>) {
    let has = |key: &str| map.contains_key(key);
    if !(has("region") || has("country") || (has("latitude") && has("longitude"))) {
        ctx.error(
            "location-content",
            path,
            "a location must have region, country, or latitude and longitude".to_owned(),
        );
    }
    if has("latitude") != has("longitude") {
        ctx.error(
            "location-coordinates",
            path,
            "latitude and longitude must be given together".to_owned(),
        );
    }
    if has("precision") && !(has("latitude") && has("longitude")) {
        ctx.error(
            "location-coordinates",
            &path.key("precision"),
            "precision requires latitude and longitude".to_owned(),
        );
    }
    if let Some(country) = map.get("country").and_then(Value::as_str) {
        let upper = country.to_ascii_uppercase();
        if tables::COUNTRY_CODES
            .binary_search(&upper.as_str())
            .is_err()
        {
            ctx.warn(
                "country-code",
                &path.key("country"),
                format!("country '{country}' should be an ISO 3166-1 alpha-2 code"),
            );
        }
    }
}

fn observed_data(ctx: &mut Ctx<'_>, map: &Map<String, Value>, path: &Path<'_>) {
    order(ctx, map, path, "first_observed", "last_observed", false);
    match (map.get("objects"), map.contains_key("object_refs")) {
        (Some(_), true) | (None, false) => ctx.error(
            "observed-data-content",
            path,
            "observed-data must have exactly one of object_refs and objects".to_owned(),
        ),
        _ => {}
    }
    if let Some(objects) = map.get("objects") {
        let objects_path = path.key("objects");
        ctx.warn(
            "deprecated-property",
            &objects_path,
            "'objects' is deprecated in STIX 2.1; use object_refs".to_owned(),
        );
        match objects.as_object() {
            None => props::type_error(
                ctx,
                &objects_path,
                "objects",
                "a dictionary of cyber-observable objects",
            ),
            Some(embedded) => {
                for (key, value) in embedded {
                    if !key.bytes().all(|b| b.is_ascii_digit()) || key.is_empty() {
                        ctx.warn(
                            "observable-object-key",
                            &objects_path.key(key),
                            format!("key '{key}' of objects should be a non-negative integer"),
                        );
                    }
                    if !value.is_object() {
                        props::type_error(
                            ctx,
                            &objects_path.key(key),
                            key,
                            "a cyber-observable object",
                        );
                    }
                }
            }
        }
    }
}

fn relationship(ctx: &mut Ctx<'_>, map: &Map<String, Value>, path: &Path<'_>) {
    order(ctx, map, path, "start_time", "stop_time", true);
    let Some(kind) = map.get("relationship_type").and_then(Value::as_str) else {
        return;
    };
    let kind_path = path.key("relationship_type");
    if kind.is_empty()
        || !kind
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        ctx.error(
            "relationship-type-format",
            &kind_path,
            format!(
                "relationship_type '{kind}' must be lowercase ASCII letters, digits and hyphens"
            ),
        );
        return;
    }
    let end_type = |key: &str| {
        map.get(key)
            .and_then(Value::as_str)
            .and_then(ident::parse_id)
            .map(|id| id.type_name)
    };
    let (Some(source), Some(target)) = (end_type("source_ref"), end_type("target_ref")) else {
        return;
    };
    let meta = |t: &str| matches!(types::family_of(t), Some(Family::Meta | Family::Sro));
    if tables::COMMON_RELATIONSHIPS.contains(&kind) || meta(source) || meta(target) {
        return;
    }
    let rows: Vec<_> = tables::RELATIONSHIPS
        .iter()
        .filter(|(from, _, _)| *from == source)
        .collect();
    let message = if rows.is_empty() {
        format!("'{source}' is not a suggested source of '{kind}' relationships")
    } else {
        match rows.iter().find(|(_, name, _)| *name == kind) {
            None => format!("'{kind}' is not a suggested relationship type for '{source}' objects"),
            Some((_, _, targets)) if !targets.contains(&target) => {
                format!("'{target}' is not a suggested target of '{source}' '{kind}' relationships")
            }
            Some(_) => return,
        }
    };
    ctx.warn("relationship-type-suggested", &kind_path, message);
}

fn language_content(ctx: &mut Ctx<'_>, map: &Map<String, Value>, path: &Path<'_>) {
    let Some(contents) = map.get("contents").and_then(Value::as_object) else {
        return;
    };
    let contents_path = path.key("contents");
    for (language, translations) in contents {
        let language_path = contents_path.key(language);
        if !props::is_language_tag(language) {
            ctx.error(
                "language-tag",
                &language_path,
                format!("contents key '{language}' must be an RFC 5646 language tag"),
            );
        }
        match translations.as_object() {
            None => props::type_error(
                ctx,
                &language_path,
                language,
                "a dictionary of translated properties",
            ),
            Some(fields) => {
                for field in fields.keys() {
                    if !ident::is_property_name(field) {
                        ctx.error(
                            "property-name",
                            &language_path.key(field),
                            format!("'{field}' in contents must be a property name"),
                        );
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::validate::test_support::check;

    #[test]
    fn stix_20_objects_are_recognised() {
        check(
            r#"{"type": "campaign", "id": "campaign--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
               "created": "2016-04-06T20:03:00.000Z", "modified": "2016-04-06T20:03:00.000Z",
               "name": "Green Group Attacks"}"#,
            &["stix-2.0-object"],
        );
    }

    #[test]
    fn timestamps_and_ids() {
        check(
            r#"{"type": "campaign", "spec_version": "2.1",
               "id": "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
               "created": "2016-04-06T20:03:00Z", "modified": "2016-04-06T20:02:00.000Z",
               "name": "x", "first_seen": "2016-04-31T00:00:00Z"}"#,
            &[
                "id-type-mismatch",
                "timestamp-precision",
                "timestamp-order",
                "timestamp-range",
            ],
        );
    }

    #[test]
    fn relationships() {
        let rel = |kind: &str, source: &str, target: &str| {
            format!(
                r#"{{"type": "relationship", "spec_version": "2.1",
                   "id": "relationship--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
                   "created": "2016-04-06T20:03:00.000Z", "modified": "2016-04-06T20:03:00.000Z",
                   "relationship_type": "{kind}",
                   "source_ref": "{source}--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
                   "target_ref": "{target}--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"}}"#
            )
        };
        check(&rel("indicates", "indicator", "malware"), &[]);
        check(
            &rel("mitigates", "malware", "tool"),
            &["relationship-type-suggested"],
        );
        check(
            &rel("SOMETHING", "indicator", "malware"),
            &["relationship-type-format"],
        );
        check(
            &rel("related-to", "indicator", "sighting"),
            &["reference-type"],
        );
    }

    #[test]
    fn bundles_check_every_object_and_duplicates() {
        check(
            r#"{"type": "bundle", "id": "bundle--44af6c39-c09b-49c5-9de2-394224b04982",
               "objects": [
                 {"type": "identity", "spec_version": "2.1", "id": "identity--8ae20dde-83d4-4218-88fd-41ef0dabf9d1",
                  "created": "2016-04-06T20:03:00.000Z", "modified": "2016-04-06T20:03:00.000Z", "name": "a"},
                 {"type": "identity", "spec_version": "2.1", "id": "identity--8ae20dde-83d4-4218-88fd-41ef0dabf9d1",
                  "created": "2016-04-06T20:03:00.000Z", "modified": "2016-04-06T20:03:00.000Z", "name": "b"},
                 {"type": "identity", "spec_version": "2.1", "id": "identity--8ae20dde-83d4-4218-88fd-41ef0dabf9d2",
                  "created": "2016-04-06T20:03:00.000Z", "modified": "2016-04-06T20:03:00.000Z"}
               ]}"#,
            &["duplicate-id", "required-property"],
        );
    }
}
