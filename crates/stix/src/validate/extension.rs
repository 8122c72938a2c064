//! The `extensions` property (§3.2, §7.3) and extension-definition objects
//! (§7.3).

use serde_json::{Map, Value};

use super::custom;
use super::ident;
use super::props::{self, Scope};
use super::types::TypeSpec;
use super::vocab;
use super::{Ctx, Path};

/// Checks each entry of `extensions`: an extension-definition id with an
/// `extension_type`, a predefined extension of the type, or a custom
/// `*-ext` name (deprecated style).
pub(crate) fn check(
    ctx: &mut Ctx<'_>,
    map: &Map<String, Value>,
    spec: Option<&TypeSpec>,
    path: &Path<'_>,
) {
    let Some(value) = map.get("extensions") else {
        return;
    };
    let ext_path = path.key("extensions");
    let Some(extensions) = value.as_object() else {
        props::type_error(ctx, &ext_path, "extensions", "a dictionary of extensions");
        return;
    };
    if extensions.is_empty() {
        ctx.error(
            "empty-dictionary",
            &ext_path,
            "'extensions' must not be an empty dictionary".to_owned(),
        );
    }
    let predefined = spec.map_or(&[][..], |spec| spec.extensions);
    let uses_property_extension = extensions
        .values()
        .any(|ext| ext.get("extension_type").and_then(Value::as_str) == Some("property-extension"));
    for (key, ext) in extensions {
        let key_path = ext_path.key(key);
        let Some(body) = ext.as_object() else {
            props::type_error(ctx, &key_path, key, "an object");
            continue;
        };
        if key.starts_with("extension-definition--") {
            if ident::parse_id(key).is_none() {
                ctx.error(
                    "identifier-format",
                    &key_path,
                    format!(
                        "extension key '{key}' must be a valid extension-definition identifier"
                    ),
                );
            }
            match body.get("extension_type") {
                None => ctx.error(
                    "required-property",
                    &key_path.key("extension_type"),
                    "an extension must have an extension_type".to_owned(),
                ),
                Some(Value::String(kind)) if vocab::EXTENSION_TYPE.contains(&kind.as_str()) => {}
                Some(_) => ctx.error(
                    "closed-vocabulary",
                    &key_path.key("extension_type"),
                    format!(
                        "extension_type must be one of {}",
                        vocab::EXTENSION_TYPE.join(", ")
                    ),
                ),
            }
            // A predefined SCO may be extended only by property extensions.
            if !predefined.is_empty() && !uses_property_extension {
                custom::extension_name_without_property_type(ctx, key, &key_path);
            }
            continue;
        }
        if let Some((_, members)) = predefined.iter().find(|(name, _)| name == key) {
            if body.is_empty() {
                ctx.error(
                    "extension-empty",
                    &key_path,
                    format!("the {key} extension must have at least one of its properties"),
                );
            }
            props::check_members(
                ctx,
                members,
                body,
                &key_path,
                Scope {
                    name: key,
                    in_sco: true,
                },
            );
            if key == "ntfs-ext"
                && !body.contains_key("sid")
                && !body.contains_key("alternate_data_streams")
            {
                ctx.error(
                    "extension-empty",
                    &key_path,
                    "ntfs-ext must have sid or alternate_data_streams".to_owned(),
                );
            }
            continue;
        }
        let is_ext_name = key
            .strip_suffix("-ext")
            .is_some_and(|stem| !stem.is_empty() && ident::is_type_name(&format!("{stem}-ext")));
        if is_ext_name {
            if !uses_property_extension {
                custom::extension_name(ctx, key, &key_path);
            }
        } else {
            ctx.error(
                "extension-key",
                &key_path,
                format!("extension key '{key}' must be an extension-definition id or a predefined extension name"),
            );
        }
    }
}

/// extension-definition (§7.3): best practices on description and
/// extension_properties.
pub(crate) fn definition(ctx: &mut Ctx<'_>, map: &Map<String, Value>, path: &Path<'_>) {
    if !map.contains_key("description") {
        ctx.warn(
            "extension-definition-description",
            &path.key("description"),
            "an extension-definition should have a description".to_owned(),
        );
    }
    let toplevel = map
        .get("extension_types")
        .and_then(Value::as_array)
        .is_some_and(|kinds| {
            kinds
                .iter()
                .any(|k| k.as_str() == Some("toplevel-property-extension"))
        });
    if !toplevel && map.contains_key("extension_properties") {
        ctx.error(
            "extension-properties-misuse",
            &path.key("extension_properties"),
            "extension_properties may only be used when extension_types has toplevel-property-extension".to_owned(),
        );
    }
    if toplevel && !map.contains_key("extension_properties") {
        ctx.warn(
            "toplevel-extension-properties",
            &path.key("extension_properties"),
            "a toplevel-property-extension should list its properties in extension_properties"
                .to_owned(),
        );
    }
}

#[cfg(test)]
mod tests {
    use crate::validate::test_support::check;

    #[test]
    fn extension_definitions() {
        let def = |extra: &str| {
            format!(
                r#"{{"type": "extension-definition", "spec_version": "2.1",
                   "id": "extension-definition--d83fce45-ef58-4c6c-a3f4-1fbc32e98c6e",
                   "created_by_ref": "identity--11b76a96-5d2b-45e0-8a5a-f6994f370731",
                   "created": "2014-02-20T09:16:08.000Z", "modified": "2014-02-20T09:16:08.000Z",
                   "name": "x", "schema": "https://example.com/s.json", "version": "1.0"{extra}}}"#
            )
        };
        check(
            &def(r#", "description": "d", "extension_types": ["property-extension"]"#),
            &[],
        );
        check(
            &def(r#", "extension_types": ["something"]"#),
            &["closed-vocabulary", "extension-definition-description"],
        );
        check(
            &def(r#", "description": "d", "extension_types": ["toplevel-property-extension"]"#),
            &["toplevel-extension-properties"],
        );
    }

    #[test]
    fn extension_instances() {
        let sdo = |extensions: &str| {
            format!(
                r#"{{"type": "campaign", "spec_version": "2.1",
                   "id": "campaign--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
                   "created": "2016-04-06T20:03:00.000Z", "modified": "2016-04-06T20:03:00.000Z",
                   "name": "n", "extensions": {extensions}}}"#
            )
        };
        check(
            &sdo(
                r#"{"extension-definition--d83fce45-ef58-4c6c-a3f4-1fbc32e98c6e": {"extension_type": "property-extension", "rank": 5}}"#,
            ),
            &[],
        );
        check(
            &sdo(r#"{"extension-definition--d83fce45-ef58-4c6c-a3f4-1fbc32e98c6e": {"rank": 5}}"#),
            &["required-property"],
        );
        check(&sdo(r#"{"example:Object": {"a": 1}}"#), &["extension-key"]);
        check(&sdo("{}"), &["empty-dictionary"]);
    }
}
