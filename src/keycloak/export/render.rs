//! A pruned realm document as a realm file: YAML with the names first (`realm`, `clientId`,
//! `username`, `name`) and the rest in alphabetical order, every `${` Keycloak stored escaped
//! so loading gives the same text back, and each password as a `${VAR}` placeholder with a
//! comment saying what to set.

use serde_json::Value;
use serde_yaml::{Mapping, Value as Yaml};

/// Keys written first in each mapping, in this order: names, then a user's profile.
const LEADING_KEYS: &[&str] = &[
    "realm",
    "clientId",
    "username",
    "name",
    "type",
    "value",
    "displayName",
    "email",
    "firstName",
    "lastName",
];
/// Collections, written last in this order (the realm's; a user's memberships and password;
/// a group's subgroups).
const TRAILING_KEYS: &[&str] = &[
    "roles",
    "groups",
    "realmRoles",
    "clientRoles",
    "clients",
    "users",
    "subGroups",
    "credentials",
];

/// A rendered export: the file's text and the variables its passwords need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub text: String,
    /// `(username, variable)` for each user with a password.
    pub password_variables: Vec<(String, String)>,
}

/// The environment variable a user's password placeholder names: `<USERNAME>_PASSWORD`,
/// the username upper-cased with every other character than a letter or digit as `_`.
pub fn password_variable(username: &str) -> String {
    let mut name: String = username
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect();
    if name.starts_with(|c: char| c.is_ascii_digit()) {
        name.insert(0, '_');
    }
    format!("{name}_PASSWORD")
}

/// Render a pruned document (see [`super::prune`]) as a realm file.
pub fn render(doc: &Value, origin: &str) -> Rendered {
    let mut doc = escape_references(doc);
    let mut variables = Vec::new();
    if let Some(users) = doc.get_mut("users").and_then(Value::as_array_mut) {
        for u in users {
            let username = u["username"].as_str().unwrap_or_default().to_string();
            let Some(cred) = u
                .get_mut("credentials")
                .and_then(Value::as_array_mut)
                .and_then(|c| c.first_mut())
            else {
                continue;
            };
            let mut var = password_variable(&username);
            while variables.iter().any(|(_, v)| v == &var) {
                var.insert(0, '_');
            }
            cred["value"] = Value::from(format!("${{{var}}}"));
            variables.push((username, var));
        }
    }
    let yaml = serde_yaml::to_string(&ordered(&doc)).unwrap_or_default();
    let mut text = format!(
        "# Realm `{}` exported by iamstack from {origin}.\n\
         # Only what differs from Keycloak's own defaults is written; built-in clients and roles\n\
         # are left out. Apply it with `iamstack apply --realm <this file>`.\n",
        doc["realm"].as_str().unwrap_or_default()
    );
    if !variables.is_empty() {
        text.push_str(
            "# Keycloak never gives a password back: set these variables before applying it\n",
        );
        for (user, var) in &variables {
            text.push_str(&format!("#   {var} (user `{user}`)\n"));
        }
    }
    for line in yaml.lines() {
        if let Some((user, var)) = variables
            .iter()
            .find(|(_, var)| line.trim_end().ends_with(&format!("${{{var}}}")))
        {
            let indent = line.len() - line.trim_start().len();
            text.push_str(&format!(
                "{:indent$}# the password of `{user}` is not readable from Keycloak: set {var}\n",
                ""
            ));
        }
        text.push_str(line);
        text.push('\n');
    }
    Rendered {
        text,
        password_variables: variables,
    }
}

/// Every string with each `${` doubled to `$${`, so the loader's substitution gives back
/// exactly what Keycloak stored (`${role_x}` message keys, a literal `${HOME}` in a value).
/// Keycloak's own lower-case references would load unchanged anyway; they are escaped too,
/// since one rule is easier to trust than two.
fn escape_references(v: &Value) -> Value {
    match v {
        Value::String(s) => Value::String(s.replace("${", "$${")),
        Value::Array(items) => Value::Array(items.iter().map(escape_references).collect()),
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, v)| (k.clone(), escape_references(v)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// JSON to YAML with [`LEADING_KEYS`] first and [`TRAILING_KEYS`] last.
fn ordered(v: &Value) -> Yaml {
    match v {
        Value::Object(m) => {
            let rank = |k: &str| -> (u8, usize) {
                if let Some(i) = LEADING_KEYS.iter().position(|l| *l == k) {
                    (0, i)
                } else if let Some(i) = TRAILING_KEYS.iter().position(|t| *t == k) {
                    (2, i)
                } else {
                    (1, 0)
                }
            };
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort_by(|a, b| rank(a).cmp(&rank(b)).then(a.cmp(b)));
            let mut out = Mapping::new();
            for k in keys {
                out.insert(Yaml::String(k.clone()), ordered(&m[k]));
            }
            Yaml::Mapping(out)
        }
        Value::Array(items) => Yaml::Sequence(items.iter().map(ordered).collect()),
        Value::String(s) => Yaml::String(s.clone()),
        Value::Bool(b) => Yaml::Bool(*b),
        Value::Number(n) => serde_yaml::to_value(n).unwrap_or(Yaml::Null),
        Value::Null => Yaml::Null,
    }
}
