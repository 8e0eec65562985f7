//! Validation: the parsed, substituted document against Keycloak 26.2's schema ([`schema`]:
//! every field's name and type, nested objects included), then the rules the schema cannot
//! express (required and unique names, masked secrets, public clients, the realm name's
//! characters, the password credential), giving the model with its defaults filled in
//! (keycloak-behaviour §12). One entry point, [`validate`]: a document in, a [`RealmFile`] or the
//! first problem out, at a path that [`Source`] turns into file:line.

use serde_json::{Map, Value};

use super::field_checks::{key_path, normalise_attributes, required_string};
use super::model::{ClientSpec, Password, RealmFile, UserSpec};
use super::position::{Seg, Source};
use super::schema;
use super::RealmFileError;

/// Characters Keycloak refuses in a realm name (`ReservedCharValidator`).
const RESERVED_REALM_CHARS: &[char] = &[
    ':', '/', '?', '#', '@', '!', '$', '&', '(', ')', '*', '+', ',', ';', '=', '[', ']', '\\',
];

/// Flow flags: always sent explicitly, with these defaults when the file omits them.
pub const CLIENT_FLOW_DEFAULTS: &[(&str, bool)] = &[
    ("standardFlowEnabled", true),
    ("implicitFlowEnabled", false),
    ("directAccessGrantsEnabled", false),
    ("serviceAccountsEnabled", false),
];
/// Validate one realm document (the root of the file) into the model.
pub fn validate(mut root: Value, src: &Source) -> Result<RealmFile, RealmFileError> {
    if root.is_object() {
        schema::check(&mut root, src)?;
    }
    let Value::Object(mut fields) = root else {
        return Err(src.error(
            &[],
            "expected a mapping with a `realm` name (a Keycloak RealmRepresentation)",
        ));
    };
    let name = required_string(&fields, "realm", &[], src)?;
    if let Some(c) = name.chars().find(|c| RESERVED_REALM_CHARS.contains(c)) {
        return Err(src.error(
            &key_path(&[], "realm"),
            format!("character `{c}` is not allowed in a realm name"),
        ));
    }
    fields.entry("enabled").or_insert(Value::Bool(true));

    let clients = list_of(
        &mut fields,
        "clients",
        src,
        |item, path, earlier: &[ClientSpec]| {
            let client = validate_client(item, path, src)?;
            if earlier.iter().any(|c| c.client_id == client.client_id) {
                return Err(src.error(
                    &key_path(path, "clientId"),
                    format!("client `{}` is declared twice", client.client_id),
                ));
            }
            Ok(client)
        },
    )?;
    let users = list_of(
        &mut fields,
        "users",
        src,
        |item, path, earlier: &[UserSpec]| {
            let user = validate_user(item, path, src)?;
            if earlier
                .iter()
                .any(|u| u.username.eq_ignore_ascii_case(&user.username))
            {
                return Err(src.error(
                    &key_path(path, "username"),
                    format!(
                        "user `{}` is declared twice (usernames are case-insensitive)",
                        user.username
                    ),
                ));
            }
            Ok(user)
        },
    )?;
    Ok(RealmFile {
        origin: src.origin.to_string(),
        name,
        fields,
        clients,
        users,
    })
}

/// Take the list `key` out of `fields` (absent or null: empty), each item validated by `one`
/// at its path, with the items before it (to refuse duplicates).
fn list_of<T>(
    fields: &mut Map<String, Value>,
    key: &str,
    src: &Source,
    mut one: impl FnMut(Value, &[Seg], &[T]) -> Result<T, RealmFileError>,
) -> Result<Vec<T>, RealmFileError> {
    match fields.remove(key) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => {
            let mut out = Vec::with_capacity(items.len());
            for (i, item) in items.into_iter().enumerate() {
                let path = [Seg::Key(key.to_string()), Seg::Index(i)];
                let validated = one(item, &path, &out)?;
                out.push(validated);
            }
            Ok(out)
        }
        Some(_) => Err(src.error(&key_path(&[], key), format!("expected a list of {key}"))),
    }
}

fn validate_client(item: Value, path: &[Seg], src: &Source) -> Result<ClientSpec, RealmFileError> {
    let Value::Object(mut fields) = item else {
        return Err(src.error(path, "expected a mapping (a Keycloak ClientRepresentation)"));
    };
    let client_id = required_string(&fields, "clientId", path, src)?;

    if let Some(root) = fields.get("rootUrl").and_then(Value::as_str) {
        if !root.is_empty() {
            url::Url::parse(root).map_err(|e| {
                src.error(
                    &key_path(path, "rootUrl"),
                    format!("`{root}` is not a valid URL ({e})"),
                )
            })?;
        }
    }
    if let Some(uris) = fields.get("redirectUris").and_then(Value::as_array) {
        if let Some(i) = uris
            .iter()
            .position(|uri| uri.as_str().is_some_and(|u| u.contains('#')))
        {
            let mut p = key_path(path, "redirectUris");
            p.push(Seg::Index(i));
            return Err(src.error(&p, "redirect URIs must not contain a `#` fragment"));
        }
    }
    if let Some(secret) = fields.get("secret").and_then(Value::as_str) {
        if !secret.is_empty() && secret.chars().all(|c| c == '*') {
            return Err(src.error(
                &key_path(path, "secret"),
                "the secret is masked (`**********`, as in a realm export): write the real \
                 secret, e.g. `${MY_CLIENT_SECRET}`, or remove the field to let Keycloak generate one",
            ));
        }
    }

    // Defaults always sent explicitly (keycloak-behaviour §4, §12): without `publicClient`, a client
    // created with a `protocol` becomes public and gets direct grants.
    fields
        .entry("protocol")
        .or_insert_with(|| Value::from("openid-connect"));
    fields.entry("publicClient").or_insert(Value::Bool(false));
    fields.entry("enabled").or_insert(Value::Bool(true));
    for (flag, default) in CLIENT_FLOW_DEFAULTS {
        fields.entry(*flag).or_insert(Value::Bool(*default));
    }
    if fields.get("publicClient") == Some(&Value::Bool(true)) {
        if fields.get("serviceAccountsEnabled") == Some(&Value::Bool(true)) {
            return Err(src.error(
                &key_path(path, "serviceAccountsEnabled"),
                "a public client (`publicClient: true`) cannot use service accounts: set \
                 `publicClient: false` or turn service accounts off",
            ));
        }
        if fields.contains_key("secret") {
            return Err(src.error(
                &key_path(path, "secret"),
                "a public client (`publicClient: true`) has no secret: remove `secret` or set \
                 `publicClient: false`",
            ));
        }
    }
    Ok(ClientSpec { client_id, fields })
}

fn validate_user(item: Value, path: &[Seg], src: &Source) -> Result<UserSpec, RealmFileError> {
    let Value::Object(mut fields) = item else {
        return Err(src.error(path, "expected a mapping (a Keycloak UserRepresentation)"));
    };
    let username = required_string(&fields, "username", path, src)?;
    if username.chars().count() < 3 || username.chars().count() > 255 {
        return Err(src.error(
            &key_path(path, "username"),
            "a username has 3 to 255 characters (Keycloak's user profile)",
        ));
    }
    if let Some(email) = fields.get("email").and_then(Value::as_str) {
        if !email.is_empty() && !email.contains('@') {
            return Err(src.error(
                &key_path(path, "email"),
                format!("`{email}` is not an email address"),
            ));
        }
    }
    // User attributes are `Map<String, List<String>>`: a single string becomes a one-item list.
    normalise_attributes(
        &mut fields,
        path,
        src,
        "lists of strings",
        "a string or a list of strings",
        |v| match v {
            Value::String(_) => Some(Value::Array(vec![v.clone()])),
            Value::Array(items) if items.iter().all(Value::is_string) => Some(v.clone()),
            _ => None,
        },
    )?;
    fields.entry("enabled").or_insert(Value::Bool(true));
    let (password, other_credentials) = credentials(
        fields.remove("credentials"),
        &key_path(path, "credentials"),
        src,
    )?;
    Ok(UserSpec {
        username,
        fields,
        password,
        other_credentials,
    })
}

/// A user's `credentials`: the one plain password, and the others as they are (sent only when
/// the user is created).
fn credentials(
    list: Option<Value>,
    path: &[Seg],
    src: &Source,
) -> Result<(Option<Password>, Vec<Value>), RealmFileError> {
    let mut password = None;
    let mut others = Vec::new();
    let creds = match list {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(creds)) => creds,
        Some(_) => {
            return Err(src.error(
                path,
                "expected a list like `[{type: password, value: ..., temporary: false}]`",
            ))
        }
    };
    for (i, cred) in creds.into_iter().enumerate() {
        let mut cpath = path.to_vec();
        cpath.push(Seg::Index(i));
        let Value::Object(cred) = cred else {
            return Err(src.error(
                &cpath,
                "expected a mapping like `{type: password, value: ..., temporary: false}`",
            ));
        };
        let kind = cred
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or("password");
        match (kind, cred.get("value").and_then(Value::as_str)) {
            ("password", Some(value)) => {
                if password.is_some() {
                    return Err(src.error(&cpath, "only one password credential per user"));
                }
                if value.is_empty() {
                    return Err(src.error(
                        &key_path(&cpath, "value"),
                        "the password is empty (Keycloak refuses empty passwords)",
                    ));
                }
                password = Some(Password {
                    value: value.to_string(),
                    temporary: cred
                        .get("temporary")
                        .and_then(Value::as_bool)
                        .unwrap_or(false),
                });
            }
            _ => others.push(Value::Object(cred)),
        }
    }
    Ok((password, others))
}
