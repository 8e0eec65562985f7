//! The checks of single fields that validation is made of: a field's scalar type (coercing
//! what a `${VAR}` substitution spelled), a required string, a list of strings, attributes
//! brought to the shape Keycloak keeps; each error at the field's path.

use serde_json::{Map, Value};

use super::position::{Seg, Source};
use super::RealmFileError;

/// The scalar types iamstack checks. A `${VAR}` substitution leaves a string, so a string
/// that spells a boolean or a whole number counts as one.
#[derive(Debug, Clone, Copy)]
pub enum Scalar {
    Str,
    Bool,
    Int,
}
use Scalar::{Bool, Int, Str};

/// `path` + `key`.
pub fn key_path(path: &[Seg], key: &str) -> Vec<Seg> {
    let mut p = path.to_vec();
    p.push(Seg::Key(key.to_string()));
    p
}

/// "expected `expected`, found a list" at `path` + `key`.
fn wrong_type(
    path: &[Seg],
    key: &str,
    expected: &str,
    found: &Value,
    src: &Source,
) -> RealmFileError {
    src.error(
        &key_path(path, key),
        format!("expected {expected}, found {}", kind_of(found)),
    )
}

/// The non-empty string `key`, which must be there.
pub fn required_string(
    fields: &Map<String, Value>,
    key: &str,
    path: &[Seg],
    src: &Source,
) -> Result<String, RealmFileError> {
    match fields.get(key) {
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(s.clone()),
        Some(Value::String(_)) => Err(src.error(&key_path(path, key), "must not be empty")),
        None | Some(Value::Null) => Err(src.error(&key_path(path, key), "is required")),
        Some(other) => Err(wrong_type(path, key, "a string", other, src)),
    }
}

/// Check the typed fields, coercing what a substitution spelled (`"true"`, `"300"`).
pub fn check_types(
    fields: &mut Map<String, Value>,
    path: &[Seg],
    typed: &[(&str, Scalar)],
    src: &Source,
) -> Result<(), RealmFileError> {
    for (key, scalar) in typed {
        let coerced = match (scalar, fields.get(*key)) {
            (_, None | Some(Value::Null))
            | (Str, Some(Value::String(_)))
            | (Bool, Some(Value::Bool(_))) => None,
            (Int, Some(Value::Number(n))) if n.is_i64() => None,
            (Bool, Some(Value::String(s))) if s == "true" || s == "false" => {
                Some(Value::Bool(s == "true"))
            }
            (Int, Some(Value::String(s))) if s.parse::<i64>().is_ok() => {
                s.parse::<i64>().ok().map(Value::from)
            }
            (_, Some(other)) => {
                let expected = match scalar {
                    Str => "a string",
                    Bool => "true or false",
                    Int => "a whole number",
                };
                return Err(wrong_type(path, key, expected, other, src));
            }
        };
        if let Some(v) = coerced {
            fields.insert((*key).to_string(), v);
        }
    }
    Ok(())
}

/// `key`, when set, is a list of strings.
pub fn check_string_list(
    fields: &Map<String, Value>,
    key: &str,
    path: &[Seg],
    src: &Source,
) -> Result<(), RealmFileError> {
    match fields.get(key) {
        None | Some(Value::Null) => Ok(()),
        Some(Value::Array(items)) => match items.iter().position(|item| !item.is_string()) {
            Some(i) => {
                let mut p = key_path(path, key);
                p.push(Seg::Index(i));
                Err(src.error(
                    &p,
                    format!("expected a string, found {}", kind_of(&items[i])),
                ))
            }
            None => Ok(()),
        },
        Some(other) => Err(wrong_type(path, key, "a list of strings", other, src)),
    }
}

/// Bring every value of `attributes` to the shape Keycloak keeps (`normalise` gives `None`
/// for a value that cannot be brought there); `values` and `value` name that shape.
pub fn normalise_attributes(
    fields: &mut Map<String, Value>,
    path: &[Seg],
    src: &Source,
    values: &str,
    value: &str,
    normalise: impl Fn(&Value) -> Option<Value>,
) -> Result<(), RealmFileError> {
    let Some(attrs) = fields.get_mut("attributes") else {
        return Ok(());
    };
    let apath = key_path(path, "attributes");
    let Value::Object(map) = attrs else {
        return Err(src.error(
            &apath,
            format!("expected a mapping of attribute names to {values}"),
        ));
    };
    for (k, v) in map.iter_mut() {
        *v = normalise(v).ok_or_else(|| wrong_type(&apath, k, value, v, src))?;
    }
    Ok(())
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "nothing",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}
