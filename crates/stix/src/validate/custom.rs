//! Custom content (STIX 2.1 §11): custom properties and object types are
//! accepted; their names must follow §3.1, and the best practices (the
//! extension mechanism of §7.3 instead of ad-hoc content, `x_`/`x-` prefixes
//! with a source identifier) are warnings.

use serde_json::Value;

use super::ident::is_property_name;
use super::props::Scope;
use super::{Ctx, Path};

/// Property names the specification reserves for future use (§3.1, §4).
const RESERVED_PROPERTIES: &[&str] = &["severity", "action", "username", "phone_numbers"];

/// An unknown property at the top level of an object.
pub(crate) fn top_property(
    ctx: &mut Ctx<'_>,
    name: &str,
    value: &Value,
    path: &Path<'_>,
    type_name: &str,
    custom_type: bool,
    uses_toplevel_extension: bool,
) {
    if RESERVED_PROPERTIES.contains(&name) {
        ctx.error(
            "reserved-property",
            path,
            format!("'{name}' is reserved by the specification and must not be used"),
        );
        return;
    }
    if !is_property_name(name) {
        ctx.error(
            "property-name",
            path,
            format!("property name '{name}' must be 3 to 250 characters of a-z, 0-9 and _, starting with a letter"),
        );
        return;
    }
    // §2.6 forbids empty lists whatever property holds them.
    if value.as_array().is_some_and(Vec::is_empty) {
        ctx.error(
            "empty-list",
            path,
            format!("'{name}' must not be an empty list"),
        );
    }
    // A custom object type defines its own properties (in its
    // extension-definition or by its producer): no convention applies.
    if custom_type {
        return;
    }
    if ctx.options().strict_properties {
        ctx.error(
            "custom-property-forbidden",
            path,
            format!("'{name}' is not a property of '{type_name}' objects and custom properties are not allowed"),
        );
        return;
    }
    // Properties of a toplevel-property-extension are defined by its
    // extension-definition.
    if uses_toplevel_extension {
        return;
    }
    ctx.warn(
        "custom-property-without-extension",
        path,
        format!("custom property '{name}' should be defined by an extension-definition (property-extension or toplevel-property-extension)"),
    );
    property_prefix(ctx, name, path);
}

/// An unknown property inside a nested structure (an SCO extension, an
/// embedded type such as a registry value or a MIME part).
pub(crate) fn nested_property(
    ctx: &mut Ctx<'_>,
    name: &str,
    _value: &Value,
    path: &Path<'_>,
    scope: Scope<'_>,
) {
    if !scope.in_sco {
        return;
    }
    if ctx.options().strict_properties {
        ctx.error(
            "custom-property-forbidden",
            path,
            format!(
                "'{name}' is not a property of {} and custom properties are not allowed",
                scope.name
            ),
        );
        return;
    }
    ctx.warn(
        "custom-property-without-extension",
        path,
        format!(
            "custom property '{name}' in {} should be defined by an extension-definition",
            scope.name
        ),
    );
    property_prefix(ctx, name, path);
}

fn property_prefix(ctx: &mut Ctx<'_>, name: &str, path: &Path<'_>) {
    match name.strip_prefix("x_") {
        None => {
            ctx.warn(
                "custom-name-prefix",
                path,
                format!("custom property '{name}' should start with 'x_'"),
            );
            ctx.warn(
                "custom-name-source",
                path,
                format!("custom property '{name}' should be named x_<source>_<name>"),
            );
        }
        Some(rest) => {
            if !has_inner_separator(rest, '_') {
                ctx.warn(
                    "custom-name-source",
                    path,
                    format!("custom property '{name}' should be named x_<source>_<name>"),
                );
            }
        }
    }
}

/// A custom object type (not defined by the specification).
pub(crate) fn object_type(
    ctx: &mut Ctx<'_>,
    type_name: &str,
    path: &Path<'_>,
    defined_by_extension: bool,
) {
    if ctx.options().strict_types {
        ctx.error(
            "custom-type-forbidden",
            path,
            format!("'{type_name}' is not a type defined by the specification and custom types are not allowed"),
        );
        return;
    }
    if defined_by_extension {
        // The reference validator checks naming conventions only when the
        // extension-use check is off; an extension-defined type needs none.
        if !ctx.wants("custom-object-without-extension") {
            type_prefix(ctx, type_name, "custom object type", path);
        }
        return;
    }
    ctx.warn(
        "custom-object-without-extension",
        path,
        format!("custom object type '{type_name}' should be defined by an extension-definition (new-sdo, new-sco or new-sro)"),
    );
    type_prefix(ctx, type_name, "custom object type", path);
}

/// A marking-definition of a custom type that does not use `extensions`.
pub(crate) fn marking_without_extension(ctx: &mut Ctx<'_>, path: &Path<'_>) {
    ctx.warn(
        "custom-marking-without-extension",
        path,
        "custom marking-definitions should be expressed with extensions".to_owned(),
    );
}

/// An extension-definition entry on a predefined SCO while no entry is a
/// property-extension (the reference validator's `extensions-use`).
pub(crate) fn extension_name_without_property_type(ctx: &mut Ctx<'_>, name: &str, path: &Path<'_>) {
    ctx.warn(
        "custom-extension-without-definition",
        path,
        format!(
            "extension '{name}' on a predefined cyber-observable should be a property-extension"
        ),
    );
}

/// A custom `*-ext` key in `extensions` (the deprecated STIX 2.0 style).
pub(crate) fn extension_name(ctx: &mut Ctx<'_>, name: &str, path: &Path<'_>) {
    ctx.warn(
        "custom-extension-without-definition",
        path,
        format!("custom extension '{name}' should be an extension-definition (property-extension) instead"),
    );
    let stem = name.strip_suffix("-ext").unwrap_or(name);
    type_prefix(ctx, stem, "custom extension", path);
}

fn type_prefix(ctx: &mut Ctx<'_>, name: &str, what: &str, path: &Path<'_>) {
    match name.strip_prefix("x-") {
        None => {
            ctx.warn(
                "custom-name-prefix",
                path,
                format!("{what} '{name}' should start with 'x-'"),
            );
            ctx.warn(
                "custom-name-source",
                path,
                format!("{what} '{name}' should be named x-<source>-<name>"),
            );
        }
        Some(rest) => {
            if !has_inner_separator(rest, '-') {
                ctx.warn(
                    "custom-name-source",
                    path,
                    format!("{what} '{name}' should be named x-<source>-<name>"),
                );
            }
        }
    }
}

/// `rest` has the form `<something><sep><something>`.
fn has_inner_separator(rest: &str, separator: char) -> bool {
    rest.char_indices()
        .any(|(i, c)| c == separator && i > 0 && i + c.len_utf8() < rest.len())
}

#[cfg(test)]
mod tests {
    use crate::validate::Options;
    use crate::validate::test_support::{check, check_with};

    const BASE: &str = r#""type": "campaign", "spec_version": "2.1",
        "id": "campaign--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
        "created": "2016-04-06T20:03:00.000Z", "modified": "2016-04-06T20:03:00.000Z",
        "name": "Green Group Attacks""#;

    #[test]
    fn custom_properties() {
        check(&format!("{{{BASE}}}"), &[]);
        check(
            &format!(r#"{{{BASE}, "x_example_com_rank": 3}}"#),
            &["custom-property-without-extension"],
        );
        check(
            &format!(r#"{{{BASE}, "x_rank": 3}}"#),
            &["custom-property-without-extension", "custom-name-source"],
        );
        check(
            &format!(r#"{{{BASE}, "rank": 3}}"#),
            &[
                "custom-property-without-extension",
                "custom-name-prefix",
                "custom-name-source",
            ],
        );
        check(&format!(r#"{{{BASE}, "x-rank": 3}}"#), &["property-name"]);
        check(
            &format!(r#"{{{BASE}, "severity": 3}}"#),
            &["reserved-property"],
        );
        let strict = Options {
            strict_properties: true,
            ..Options::default()
        };
        check_with(
            strict,
            &format!(r#"{{{BASE}, "x_a_b": 3}}"#),
            &["custom-property-forbidden"],
        );
    }

    #[test]
    fn custom_object_types() {
        let object = r#"{"type": "x-example-com-thing", "spec_version": "2.1",
            "id": "x-example-com-thing--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
            "created": "2016-04-06T20:03:00.000Z", "modified": "2016-04-06T20:03:00.000Z"}"#;
        check(object, &["custom-object-without-extension"]);
        let strict = Options {
            strict_types: true,
            ..Options::default()
        };
        check_with(strict, object, &["custom-type-forbidden"]);
    }
}
