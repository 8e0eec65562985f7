//! Parsing one file's text: YAML (anchors and merges resolved) or JSON to one JSON document,
//! `${VAR}` substituted in its string values, then validated into the model.

use serde_json::{Map, Value};

use super::limits::{json_from_str, yaml_from_str, Refusal};
use super::model::RealmFile;
use super::position::{Seg, Source};
use super::subst::{substitute, SubstError};
use super::validate::validate;
use super::RealmFileError;

/// Parse, substitute and validate one realm file's text.
pub fn parse_realm_file(
    text: &str,
    origin: &str,
    json: bool,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<RealmFile, RealmFileError> {
    // A UTF-8 byte-order mark (Windows editors write one) is not content; serde_json refuses it.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let src = Source { text, origin, json };
    // Within the limits: nesting, duplicate keys, alias expansion, tags (`limits`).
    let refused = |r: Refusal| src.error_on_line(&[], r.line, r.message);
    let mut root = if json {
        json_from_str(text).map_err(refused)?
    } else {
        let mut yaml = yaml_from_str(text).map_err(refused)?;
        yaml.apply_merge()
            .map_err(|e| src.error(&[], format!("{e}")))?;
        yaml_to_json(&yaml, &mut Vec::new(), &src)?
    };
    substitute_all(&mut root, &mut Vec::new(), &src, lookup)?;
    validate(root, &src)
}

fn yaml_to_json(
    v: &serde_yaml::Value,
    path: &mut Vec<Seg>,
    src: &Source,
) -> Result<Value, RealmFileError> {
    use serde_yaml::Value as Y;
    Ok(match v {
        Y::Null => Value::Null,
        Y::Bool(b) => Value::Bool(*b),
        Y::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::from(i)
            } else if let Some(u) = n.as_u64() {
                Value::from(u)
            } else {
                n.as_f64()
                    .and_then(serde_json::Number::from_f64)
                    .map(Value::Number)
                    .ok_or_else(|| {
                        src.error(path, format!("number `{n}` cannot be sent as JSON"))
                    })?
            }
        }
        Y::String(s) => Value::String(s.clone()),
        Y::Sequence(items) => {
            let mut out = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                path.push(Seg::Index(i));
                out.push(yaml_to_json(item, path, src)?);
                path.pop();
            }
            Value::Array(out)
        }
        Y::Mapping(m) => {
            let mut out = Map::new();
            for (k, item) in m {
                let key = match k {
                    Y::String(s) => s.clone(),
                    Y::Bool(b) => b.to_string(),
                    Y::Number(n) => n.to_string(),
                    other => {
                        let found = match other {
                            Y::Null => "null",
                            Y::Sequence(_) => "a list",
                            Y::Mapping(_) => "a mapping",
                            _ => "a tagged value",
                        };
                        return Err(
                            src.error(path, format!("mapping keys must be strings, found {found}"))
                        );
                    }
                };
                path.push(Seg::Key(key.clone()));
                let value = yaml_to_json(item, path, src)?;
                path.pop();
                out.insert(key, value);
            }
            Value::Object(out)
        }
        Y::Tagged(t) => {
            return Err(src.error(
                path,
                format!("YAML tags are not supported (found `{}`)", t.tag),
            ))
        }
    })
}

fn substitute_all(
    v: &mut Value,
    path: &mut Vec<Seg>,
    src: &Source,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<(), RealmFileError> {
    match v {
        Value::String(s) if s.contains('$') => {
            *s = substitute(s, lookup).map_err(|e| {
                // The reference's own text tells its line when the path locator cannot
                // (flow style, JSON).
                let line = src.line_of(path).or_else(|| {
                    let needle = match &e {
                        SubstError::Undefined { name } => format!("${{{name}"),
                        SubstError::Malformed { reference } => reference.clone(),
                    };
                    src.text
                        .lines()
                        .position(|l| l.contains(&needle))
                        .map(|i| i + 1)
                });
                src.error_on_line(path, line, e.to_string())
            })?;
        }
        Value::Array(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                path.push(Seg::Index(i));
                substitute_all(item, path, src, lookup)?;
                path.pop();
            }
        }
        Value::Object(map) => {
            for (k, item) in map.iter_mut() {
                path.push(Seg::Key(k.clone()));
                substitute_all(item, path, src, lookup)?;
                path.pop();
            }
        }
        _ => {}
    }
    Ok(())
}
