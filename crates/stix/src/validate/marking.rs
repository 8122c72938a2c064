//! marking-definition objects (§7.2.1) and granular-marking selectors
//! (§7.2.3).

use serde_json::{Map, Value};

use super::props;
use super::vocab;
use super::{Ctx, Path, custom};
use crate::markings;
use crate::selector::Selector;

/// Every selector of every granular marking must resolve in the object.
pub(crate) fn check_selectors(ctx: &mut Ctx<'_>, map: &Map<String, Value>, path: &Path<'_>) {
    let Some(markings) = map.get("granular_markings").and_then(Value::as_array) else {
        return;
    };
    let markings_path = path.key("granular_markings");
    let own_id = map.get("id").and_then(Value::as_str);
    let is_definition = map.get("type").and_then(Value::as_str) == Some("marking-definition");
    for (i, marking) in markings.iter().enumerate() {
        let marking_path = markings_path.index(i);
        if is_definition
            && own_id.is_some()
            && marking.get("marking_ref").and_then(Value::as_str) == own_id
        {
            ctx.error(
                "marking-self-reference",
                &marking_path.key("marking_ref"),
                "a marking-definition must not mark itself".to_owned(),
            );
        }
        let Some(selectors) = marking.get("selectors").and_then(Value::as_array) else {
            continue;
        };
        let selectors_path = marking_path.key("selectors");
        for (j, selector) in selectors.iter().enumerate() {
            let Some(text) = selector.as_str() else {
                continue;
            };
            if let Err(error) = Selector::parse(text).and_then(|s| s.resolve(map).map(|_| ())) {
                ctx.error(
                    "selector-unresolved",
                    &selectors_path.index(j),
                    format!("selector '{text}' does not select anything in this object: {error}"),
                );
            }
        }
    }
}

pub(crate) fn definition(ctx: &mut Ctx<'_>, map: &Map<String, Value>, path: &Path<'_>) {
    let id = map.get("id").and_then(Value::as_str);
    if let (Some(id), Some(refs)) = (id, map.get("object_marking_refs").and_then(Value::as_array))
        && refs.iter().any(|r| r.as_str() == Some(id))
    {
        ctx.error(
            "marking-self-reference",
            &path.key("object_marking_refs"),
            "a marking-definition must not mark itself".to_owned(),
        );
    }
    let extensions = map.get("extensions").and_then(Value::as_object);
    let definition_type = map.get("definition_type");
    let definition = map.get("definition");
    if let Some(extensions) = extensions {
        if let Some(tlp2) = extensions.get(markings::TLP2_EXTENSION_ID) {
            tlp2_definition(ctx, map, tlp2, path);
        }
        if definition_type.is_none() && definition.is_none() {
            return;
        }
    }
    let (Some(definition_type), Some(definition)) = (definition_type, definition) else {
        ctx.error(
            "marking-definition-content",
            path,
            "a marking-definition without extensions must have definition_type and definition"
                .to_owned(),
        );
        return;
    };
    let Some(definition_type) = definition_type.as_str() else {
        return;
    };
    let definition_path = path.key("definition");
    let Some(body) = definition.as_object() else {
        props::type_error(ctx, &definition_path, "definition", "an object");
        return;
    };
    match definition_type {
        "tlp" => {
            let level = body.get("tlp").and_then(Value::as_str);
            let official = id.and_then(markings::tlp1_by_id);
            let matches = official.is_some_and(|tlp| {
                Some(tlp.level) == level
                    && map.get("created").and_then(Value::as_str) == Some(tlp.created)
                    && map
                        .get("name")
                        .and_then(Value::as_str)
                        .is_none_or(|n| n == tlp.name)
                    && body.len() == 1
            });
            if !matches {
                ctx.error(
                    "tlp-marking",
                    path,
                    "TLP 1.0 marking-definitions must be exactly one of the four defined in the specification (§7.2.1.4)".to_owned(),
                );
            }
        }
        "statement" => {
            if !body.get("statement").is_some_and(Value::is_string) {
                ctx.error(
                    "marking-definition-content",
                    &definition_path,
                    "a statement marking's definition must have a string 'statement'".to_owned(),
                );
            }
        }
        other => {
            ctx.warn(
                vocab::MARKING_DEFINITION_TYPE.rule,
                &path.key("definition_type"),
                format!("definition_type '{other}' is not one of statement, tlp"),
            );
            if extensions.is_none() {
                custom::marking_without_extension(ctx, path);
            }
        }
    }
}

/// The TLP 2.0 extension: the level must be one of the five and match the
/// published marking-definition when the id is one of them.
fn tlp2_definition(
    ctx: &mut Ctx<'_>,
    map: &Map<String, Value>,
    extension: &Value,
    path: &Path<'_>,
) {
    let ext_path = path.key("extensions");
    let value_path = ext_path.key(markings::TLP2_EXTENSION_ID);
    let level = extension
        .get(markings::TLP2_PROPERTY)
        .and_then(Value::as_str);
    let id = map.get("id").and_then(Value::as_str);
    let known_level = level.and_then(|l| markings::TLP2.iter().find(|t| t.level == l));
    match (known_level, id.and_then(markings::tlp2_by_id)) {
        (None, _) => ctx.error(
            "tlp-marking",
            &value_path,
            "a TLP 2.0 marking must set tlp_2_0 to clear, green, amber, amber+strict or red"
                .to_owned(),
        ),
        (Some(level), Some(official)) if level.id != official.id => ctx.error(
            "tlp-marking",
            &value_path,
            format!(
                "this is the TLP 2.0 id of {} but tlp_2_0 says '{}'",
                official.name, level.level
            ),
        ),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use crate::validate::test_support::check;

    #[test]
    fn tlp1_must_be_the_official_objects() {
        check(
            r#"{"type": "marking-definition", "spec_version": "2.1",
               "id": "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da",
               "created": "2017-01-20T00:00:00.000Z", "definition_type": "tlp",
               "name": "TLP:GREEN", "definition": {"tlp": "green"}}"#,
            &[],
        );
        check(
            r#"{"type": "marking-definition", "spec_version": "2.1",
               "id": "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da",
               "created": "2017-01-20T00:00:00.000Z", "definition_type": "tlp",
               "definition": {"tlp": "red"}}"#,
            &["tlp-marking"],
        );
    }

    #[test]
    fn tlp2_extension_marking() {
        check(
            r#"{"type": "marking-definition", "spec_version": "2.1",
               "id": "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003",
               "created": "2022-10-01T00:00:00.000Z", "name": "TLP:AMBER+STRICT",
               "extensions": {"extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d":
                   {"extension_type": "property-extension", "tlp_2_0": "amber+strict"}}}"#,
            &[],
        );
        check(
            r#"{"type": "marking-definition", "spec_version": "2.1",
               "id": "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003",
               "created": "2022-10-01T00:00:00.000Z", "name": "TLP:AMBER+STRICT",
               "extensions": {"extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d":
                   {"extension_type": "property-extension", "tlp_2_0": "amber"}}}"#,
            &["tlp-marking"],
        );
    }

    #[test]
    fn statements_and_self_reference() {
        check(
            r#"{"type": "marking-definition", "spec_version": "2.1",
               "id": "marking-definition--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
               "created": "2017-01-20T00:00:00.000Z", "definition_type": "statement",
               "definition": {"statement": "Copyright 2019"},
               "object_marking_refs": ["marking-definition--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"]}"#,
            &["marking-self-reference"],
        );
        check(
            r#"{"type": "marking-definition", "spec_version": "2.1",
               "id": "marking-definition--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
               "created": "2017-01-20T00:00:00.000Z"}"#,
            &["marking-definition-content"],
        );
    }

    const CAMPAIGN: &str = r#""type": "campaign", "spec_version": "2.1",
        "id": "campaign--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
        "created": "2016-04-06T20:03:00.000Z", "modified": "2016-04-06T20:03:00.000Z",
        "name": "Green Group Attacks", "description": "", "revoked": false,
        "aliases": ["a", "a"]"#;

    fn marked(selectors: &str) -> String {
        format!(
            r#"{{{CAMPAIGN}, "granular_markings": [{{"selectors": [{selectors}],
               "marking_ref": "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da"}}]}}"#
        )
    }

    #[test]
    fn selectors_resolve_exactly() {
        check(
            &marked(r#""description", "revoked", "aliases.[1]", "aliases""#),
            &[],
        );
        check(&marked(r#""aliases.[2]""#), &["selector-unresolved"]);
        check(&marked(r#""name.[0]""#), &["selector-unresolved"]);
        check(&marked(r#""pattern""#), &["selector-unresolved"]);
        check(&marked(r#""granular_markings.[0].selectors.[0]""#), &[]);
    }
}
