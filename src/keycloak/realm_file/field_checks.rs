//! The checks of single fields that the schema cannot express: a required, non-empty string,
//! attributes brought to the shape Keycloak keeps; each error at the field's path.

use serde_json::{Map, Value};

use super::position::{Seg, Source};
use super::schema::kind_of;
use super::RealmFileError;

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
