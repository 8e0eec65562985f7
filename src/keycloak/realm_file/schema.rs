//! The realm file schema: Keycloak 26.2's `RealmRepresentation` and everything a realm export
//! nests, as JSON Schema (`realm/realm.schema.json`, generated from Keycloak's representation
//! classes by `realm/schema/generate.py`; see `realm/schema/README.md`). Every object Keycloak
//! binds strictly has `additionalProperties: false`, so an unknown field is caught here, before
//! any request, with the nearest known name; a wrong type likewise.
//!
//! Before checking, values are brought to what Keycloak's Jackson mapper accepts as well: a
//! string that spells the expected boolean or number (what a `${VAR}` substitution leaves, e.g.
//! `${PORT}`) becomes that scalar, and a boolean or number in a string-valued map (`attributes`,
//! a protocol mapper's `config`) becomes its string.

use std::sync::LazyLock;

use jsonschema::error::ValidationErrorKind;
use jsonschema::paths::LocationSegment;
use serde_json::Value;

use super::position::{Seg, Source};
use super::RealmFileError;

/// The schema's text, as `iamstack schema` prints it.
pub const REALM_SCHEMA: &str = include_str!("../../../realm/realm.schema.json");

/// The Keycloak version the schema was generated from (its `x-keycloak.version`).
pub const SCHEMA_KEYCLOAK_VERSION: &str = "26.2";

/// A warning when `image` (`--keycloak-image`) is not the Keycloak version the schema describes:
/// its tag is not `26.2`, `26.2.x` or `26.2-...` (no tag means `latest`).
pub fn schema_version_warning(image: &str) -> Option<String> {
    let name = image.split('@').next().unwrap_or(image);
    let last = name.rsplit('/').next().unwrap_or(name);
    let tag = last.split_once(':').map_or("latest", |(_, tag)| tag);
    let same = tag
        .strip_prefix(SCHEMA_KEYCLOAK_VERSION)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with(['.', '-']));
    (!same).then(|| {
        format!(
            "realm files are checked against Keycloak {SCHEMA_KEYCLOAK_VERSION}'s schema, and \
             --keycloak-image `{image}` may be another version: a field it added is refused \
             before any request, one it dropped is refused by Keycloak (`iamstack schema` prints \
             the schema)"
        )
    })
}

static SCHEMA: LazyLock<Value> =
    LazyLock::new(|| serde_json::from_str(REALM_SCHEMA).expect("realm.schema.json is JSON"));

static VALIDATOR: LazyLock<jsonschema::Validator> = LazyLock::new(|| {
    jsonschema::validator_for(&SCHEMA).expect("realm.schema.json is a valid JSON Schema")
});

/// Coerce `root` as described above, then check it against the schema: the problem that comes
/// first in the file, at its path.
pub fn check(root: &mut Value, src: &Source) -> Result<(), RealmFileError> {
    coerce(root, &SCHEMA, false);
    let mut problems: Vec<(Option<usize>, Vec<Seg>, String)> = Vec::new();
    for error in VALIDATOR.iter_errors(root) {
        let path = to_path(error.instance_path().segments());
        match error.kind() {
            ValidationErrorKind::AdditionalProperties { unexpected } => {
                for name in unexpected {
                    let mut at = path.clone();
                    at.push(Seg::Key(name.clone()));
                    problems.push((src.line_of(&at), at, unknown_field(&path, name)));
                }
            }
            _ => {
                let message = wrong_value(&path, root).unwrap_or_else(|| error.to_string());
                problems.push((src.line_of(&path), path, message));
            }
        }
    }
    // The first in the file; a problem whose line cannot be told comes last.
    problems.sort_by_key(|(line, _, _)| line.unwrap_or(usize::MAX));
    match problems.into_iter().next() {
        None => Ok(()),
        Some((line, path, message)) => Err(src.error_on_line(&path, line, message)),
    }
}

/// Remove from `root` every field Keycloak 26.2's schema does not know (a newer Keycloak's,
/// met by `export`), so the document loads; their paths (`clients[0].newField`), sorted.
pub fn drop_unknown_fields(root: &mut Value) -> Vec<String> {
    let mut unknown: Vec<(Vec<Seg>, String)> = Vec::new();
    for error in VALIDATOR.iter_errors(root) {
        if let ValidationErrorKind::AdditionalProperties { unexpected } = error.kind() {
            let path = to_path(error.instance_path().segments());
            unknown.extend(unexpected.iter().map(|name| (path.clone(), name.clone())));
        }
    }
    let mut dropped = Vec::new();
    for (path, name) in unknown {
        let mut at = &mut *root;
        for seg in &path {
            at = match seg {
                Seg::Key(k) => &mut at[k.as_str()],
                Seg::Index(i) => &mut at[*i],
            };
        }
        if let Some(map) = at.as_object_mut() {
            map.remove(&name);
        }
        let mut full = path;
        full.push(Seg::Key(name));
        dropped.push(super::position::path_string(&full));
    }
    dropped.sort();
    dropped
}

/// The schema describing the value at `path`, `$ref`s followed; `None` where the schema says
/// nothing (any value).
pub fn schema_at(path: &[Seg]) -> Option<&'static Value> {
    let mut schema = resolve(&SCHEMA);
    for seg in path {
        schema = resolve(match seg {
            Seg::Key(key) => schema
                .get("properties")
                .and_then(|p| p.get(key))
                .or_else(|| schema.get("additionalProperties").filter(|a| a.is_object()))?,
            Seg::Index(_) => schema.get("items")?,
        });
    }
    Some(schema)
}

fn resolve(schema: &Value) -> &Value {
    match schema.get("$ref").and_then(Value::as_str) {
        Some(reference) => reference
            .strip_prefix("#/$defs/")
            .and_then(|name| SCHEMA["$defs"].get(name))
            .map_or(schema, resolve),
        None => schema,
    }
}

fn types(schema: &Value) -> Vec<&str> {
    match schema.get("type") {
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

/// Coerce scalars where the schema expects another scalar (see the module's doc).
/// `in_map`: `value` is a value of a map (not a named field).
fn coerce(value: &mut Value, schema: &Value, in_map: bool) {
    let schema = resolve(schema);
    let expected = types(schema);
    let wants = |t: &str| expected.contains(&t);
    match value {
        Value::String(s) if !wants("string") => {
            let coerced = if wants("boolean") && (s == "true" || s == "false") {
                Some(Value::Bool(s == "true"))
            } else if wants("integer") || wants("number") {
                s.parse::<i64>().ok().map(Value::from).or_else(|| {
                    wants("number")
                        .then(|| s.parse::<f64>().ok())
                        .flatten()
                        .and_then(serde_json::Number::from_f64)
                        .map(Value::Number)
                })
            } else {
                None
            };
            if let Some(v) = coerced {
                *value = v;
            }
        }
        Value::Bool(_) | Value::Number(_) if in_map && wants("string") && !wants("boolean") => {
            *value = Value::String(value.to_string());
        }
        Value::Array(items) => {
            if let Some(item) = schema.get("items") {
                for v in items {
                    coerce(v, item, false);
                }
            }
        }
        Value::Object(map) => {
            let named = schema.get("properties");
            let others = schema.get("additionalProperties").filter(|a| a.is_object());
            for (key, v) in map.iter_mut() {
                if let Some(s) = named.and_then(|p| p.get(key)) {
                    coerce(v, s, false);
                } else if let Some(s) = others {
                    coerce(v, s, true);
                }
            }
        }
        _ => {}
    }
}

fn to_path<'a>(segments: impl Iterator<Item = LocationSegment<'a>>) -> Vec<Seg> {
    segments
        .map(|s| match s {
            LocationSegment::Property(p) => Seg::Key(p.into_owned()),
            LocationSegment::Index(i) => Seg::Index(i),
        })
        .collect()
}

/// "unknown field `redirectUri` (not in Keycloak 26.2's ClientRepresentation); did you mean
/// `redirectUris`?"
fn unknown_field(parent: &[Seg], name: &str) -> String {
    let schema = schema_at(parent);
    let class = schema
        .and_then(|s| s.get("title"))
        .and_then(Value::as_str)
        .unwrap_or("representation");
    let known = schema
        .and_then(|s| s.get("properties"))
        .and_then(Value::as_object);
    let mut message = format!(
        "unknown field `{name}`: Keycloak {SCHEMA_KEYCLOAK_VERSION}'s {class} has no such field"
    );
    if let Some(nearest) = known.and_then(|k| nearest_name(name, k.keys().map(String::as_str))) {
        message.push_str(&format!("; did you mean `{nearest}`?"));
    }
    message
}

/// The known name closest to `name` (case-insensitive Jaro-Winkler), when it is close enough to
/// be the one meant.
pub fn nearest_name<'a>(name: &str, known: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    let lower = name.to_lowercase();
    known
        .map(|k| (strsim::jaro_winkler(&lower, &k.to_lowercase()), k))
        .filter(|(score, _)| *score >= 0.85)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, k)| k)
}

/// "expected true or false, found a string" for a value of the wrong type; `None` when the
/// value's type is right (another keyword failed, e.g. an enum).
fn wrong_value(path: &[Seg], root: &Value) -> Option<String> {
    let schema = schema_at(path)?;
    let value = value_at(root, path)?;
    if let Some(allowed) = schema.get("enum").and_then(Value::as_array) {
        let names: Vec<String> = allowed
            .iter()
            .filter_map(Value::as_str)
            .map(|s| format!("`{s}`"))
            .collect();
        let found = match value {
            Value::String(s) => format!("`{s}`"),
            other => kind_of(other).to_string(),
        };
        return Some(format!(
            "expected one of {}, found {found}",
            names.join(", ")
        ));
    }
    Some(format!(
        "expected {}, found {}",
        expected(schema),
        kind_of(value)
    ))
}

fn value_at<'a>(root: &'a Value, path: &[Seg]) -> Option<&'a Value> {
    path.iter().try_fold(root, |v, seg| match seg {
        Seg::Key(k) => v.get(k),
        Seg::Index(i) => v.get(*i),
    })
}

/// What a schema expects, in words.
fn expected(schema: &Value) -> String {
    let ts: Vec<&str> = types(schema).into_iter().filter(|t| *t != "null").collect();
    let item = schema.get("items").map(resolve);
    let list = || match item.map(types).unwrap_or_default().first() {
        Some(&"string") => "a list of strings".to_string(),
        Some(&"object") => "a list of mappings".to_string(),
        _ => "a list".to_string(),
    };
    match ts.as_slice() {
        ["array", "string"] | ["string", "array"] => "a string or a list of strings".into(),
        ["string"] => "a string".into(),
        ["boolean"] => "true or false".into(),
        ["integer"] => "a whole number".into(),
        ["number"] => "a number".into(),
        ["array"] => list(),
        ["object"] if schema.get("properties").is_some() => format!(
            "a mapping (a Keycloak {})",
            schema["title"].as_str().unwrap_or("representation")
        ),
        ["object"] => "a mapping".into(),
        _ => format!("a value of type {}", ts.join(" or ")),
    }
}

/// A value's kind, in words ("a list").
pub(super) fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "nothing",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

#[cfg(test)]
mod tests;
