//! The realm file: one Keycloak `RealmRepresentation` in YAML (or JSON, e.g. a realm export),
//! with its `clients` and `users` embedded, using Keycloak's own field names.
//!
//! Loading is parse -> substitute `${VAR}` -> validate the fields iamstack knows -> model.
//! Known fields are typed and checked (errors name the file, the line and the field); unknown
//! fields are kept as they are and sent to Keycloak, which judges them (a 400 "Unrecognized
//! field" is shown as Keycloak's own message). The loaded model fills in the defaults iamstack
//! always sends explicitly (keycloak-behaviour §12): `enabled: true`, `protocol`, `publicClient: false` and
//! every flow flag.

use std::fmt;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use super::subst::{substitute, SubstError};
use crate::error::{Failure, Kind};

/// The built-in realm file (`realm/testing.yaml`), compiled into the binary so `up` works
/// from any directory.
pub const BUILTIN_REALM: &str = include_str!("../../realm/testing.yaml");
/// How the built-in file is named in messages.
pub const BUILTIN_ORIGIN: &str = "realm/testing.yaml (built in)";

/// Realm-level keys that are collections imported with a new realm but not reconciled on an
/// existing one (Keycloak's realm GET does not return them, and they have their own APIs).
pub const IMPORT_ONLY_REALM_KEYS: &[&str] = &[
    "roles",
    "groups",
    "defaultGroups",
    "clientScopes",
    "components",
    "identityProviders",
    "identityProviderMappers",
    "authenticationFlows",
    "authenticatorConfig",
    "requiredActions",
    "scopeMappings",
    "clientScopeMappings",
    "federatedUsers",
    "userFederationProviders",
    "userFederationMappers",
    "protocolMappers",
    "organizations",
];

/// Client fields compared as sets (Keycloak does not keep their order).
pub const CLIENT_SET_FIELDS: &[&str] = &[
    "redirectUris",
    "webOrigins",
    "defaultClientScopes",
    "optionalClientScopes",
];
/// User fields compared as sets.
pub const USER_SET_FIELDS: &[&str] = &["requiredActions", "groups"];

/// Characters Keycloak refuses in a realm name (`ReservedCharValidator`).
const RESERVED_REALM_CHARS: &[char] = &[
    ':', '/', '?', '#', '@', '!', '$', '&', '(', ')', '*', '+', ',', ';', '=', '[', ']', '\\',
];

/// One loaded, validated realm file.
#[derive(Debug, Clone, PartialEq)]
pub struct RealmFile {
    origin: String,
    name: String,
    /// Realm-level fields as they will be sent (without `clients` and `users`).
    fields: Map<String, Value>,
    clients: Vec<ClientSpec>,
    users: Vec<UserSpec>,
}

/// A client as the file declares it, defaults filled in.
#[derive(Debug, Clone, PartialEq)]
pub struct ClientSpec {
    client_id: String,
    /// The `ClientRepresentation` fields to send, including `secret` when set.
    fields: Map<String, Value>,
}

/// A user as the file declares it.
#[derive(Debug, Clone, PartialEq)]
pub struct UserSpec {
    username: String,
    /// The `UserRepresentation` fields to send, without `credentials`.
    fields: Map<String, Value>,
    password: Option<Password>,
    /// Credentials other than a plain password (sent only when the user is created).
    other_credentials: Vec<Value>,
}

/// A plain-text password credential (`{type: password, value: .., temporary: false}`).
#[derive(Clone, PartialEq, Eq)]
pub struct Password {
    pub value: String,
    pub temporary: bool,
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Password")
            .field("value", &"<redacted>")
            .field("temporary", &self.temporary)
            .finish()
    }
}

impl RealmFile {
    /// Where the file came from (a path, or the built-in marker).
    pub fn origin(&self) -> &str {
        &self.origin
    }
    /// The realm name (`realm`).
    pub fn name(&self) -> &str {
        &self.name
    }
    pub fn display_name(&self) -> Option<&str> {
        self.fields.get("displayName").and_then(Value::as_str)
    }
    /// Realm-level fields (without `clients` and `users`), defaults filled in.
    pub fn fields(&self) -> &Map<String, Value> {
        &self.fields
    }
    pub fn clients(&self) -> &[ClientSpec] {
        &self.clients
    }
    pub fn users(&self) -> &[UserSpec] {
        &self.users
    }
    pub fn client(&self, client_id: &str) -> Option<&ClientSpec> {
        self.clients.iter().find(|c| c.client_id == client_id)
    }
    pub fn user(&self, username: &str) -> Option<&UserSpec> {
        self.users
            .iter()
            .find(|u| u.username.eq_ignore_ascii_case(username))
    }
    /// The client `env`, `up` and `verify` use by default: the first confidential client,
    /// else the first client.
    pub fn primary_client(&self) -> Option<&ClientSpec> {
        self.clients
            .iter()
            .find(|c| c.is_confidential())
            .or_else(|| self.clients.first())
    }
    /// The user `env`, `up` and `verify` use by default: the first user with a password.
    pub fn primary_user(&self) -> Option<&UserSpec> {
        self.users
            .iter()
            .find(|u| u.password.is_some())
            .or_else(|| self.users.first())
    }

    /// The full `RealmRepresentation` for a one-request creation: realm fields with the
    /// clients and users (with their credentials) embedded.
    pub fn creation_body(&self) -> Value {
        let mut body = self.fields.clone();
        if !self.clients.is_empty() {
            body.insert(
                "clients".into(),
                Value::Array(
                    self.clients
                        .iter()
                        .map(|c| Value::Object(c.fields.clone()))
                        .collect(),
                ),
            );
        }
        if !self.users.is_empty() {
            body.insert(
                "users".into(),
                Value::Array(self.users.iter().map(UserSpec::creation_body).collect()),
            );
        }
        Value::Object(body)
    }

    /// The realm alone, for the one-by-one fallback.
    pub fn realm_only_body(&self) -> Value {
        Value::Object(self.fields.clone())
    }
}

impl ClientSpec {
    pub fn client_id(&self) -> &str {
        &self.client_id
    }
    pub fn fields(&self) -> &Map<String, Value> {
        &self.fields
    }
    pub fn name(&self) -> Option<&str> {
        self.str_field("name")
    }
    pub fn secret(&self) -> Option<&str> {
        self.str_field("secret")
    }
    pub fn root_url(&self) -> Option<&str> {
        self.str_field("rootUrl")
    }
    pub fn is_confidential(&self) -> bool {
        self.bool_field("publicClient") == Some(false)
            && self.bool_field("bearerOnly") != Some(true)
    }
    pub fn standard_flow_enabled(&self) -> bool {
        self.bool_field("standardFlowEnabled").unwrap_or(false)
    }
    pub fn direct_access_grants_enabled(&self) -> bool {
        self.bool_field("directAccessGrantsEnabled")
            .unwrap_or(false)
    }
    pub fn service_accounts_enabled(&self) -> bool {
        self.bool_field("serviceAccountsEnabled").unwrap_or(false)
    }
    pub fn redirect_uris(&self) -> Vec<&str> {
        self.str_list("redirectUris")
    }
    pub fn web_origins(&self) -> Vec<&str> {
        self.str_list("webOrigins")
    }
    /// The `post.logout.redirect.uris` attribute split on `##`.
    pub fn post_logout_redirect_uris(&self) -> Vec<&str> {
        self.fields
            .get("attributes")
            .and_then(|a| a.get("post.logout.redirect.uris"))
            .and_then(Value::as_str)
            .map(|s| s.split("##").filter(|u| !u.is_empty()).collect())
            .unwrap_or_default()
    }
    /// The body for `POST /clients`.
    pub fn creation_body(&self) -> Value {
        Value::Object(self.fields.clone())
    }

    fn str_field(&self, key: &str) -> Option<&str> {
        self.fields.get(key).and_then(Value::as_str)
    }
    fn bool_field(&self, key: &str) -> Option<bool> {
        self.fields.get(key).and_then(Value::as_bool)
    }
    fn str_list(&self, key: &str) -> Vec<&str> {
        self.fields
            .get(key)
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default()
    }
}

impl UserSpec {
    /// The username as written in the file (Keycloak stores it lower-cased).
    pub fn username(&self) -> &str {
        &self.username
    }
    pub fn fields(&self) -> &Map<String, Value> {
        &self.fields
    }
    pub fn password(&self) -> Option<&Password> {
        self.password.as_ref()
    }
    pub fn email(&self) -> Option<&str> {
        self.fields.get("email").and_then(Value::as_str)
    }
    pub fn first_name(&self) -> Option<&str> {
        self.fields.get("firstName").and_then(Value::as_str)
    }
    pub fn last_name(&self) -> Option<&str> {
        self.fields.get("lastName").and_then(Value::as_str)
    }
    /// The password credential as Keycloak's `CredentialRepresentation`.
    pub fn password_credential(&self) -> Option<Value> {
        self.password.as_ref().map(
            |p| serde_json::json!({"type": "password", "value": p.value, "temporary": p.temporary}),
        )
    }
    /// The body for `POST /users`: fields plus every credential.
    pub fn creation_body(&self) -> Value {
        let mut body = self.fields.clone();
        let mut creds: Vec<Value> = self.password_credential().into_iter().collect();
        creds.extend(self.other_credentials.iter().cloned());
        if !creds.is_empty() {
            body.insert("credentials".into(), Value::Array(creds));
        }
        Value::Object(body)
    }
}

// ---------------------------------------------------------------------------------------
// Errors

/// A realm file that cannot be used; exit 7. Displays as `file:line: field `x`: message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RealmFileError {
    pub origin: String,
    pub line: Option<usize>,
    pub field: Option<String>,
    pub message: String,
}

impl fmt::Display for RealmFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid realm file {}", self.origin)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if let Some(field) = &self.field {
            write!(f, ": field `{field}`")?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for RealmFileError {}

impl From<RealmFileError> for Failure {
    fn from(e: RealmFileError) -> Failure {
        Failure::new(Kind::InvalidConfig, e.to_string())
    }
}

fn invalid(message: impl Into<String>) -> anyhow::Error {
    Failure::new(Kind::InvalidConfig, message).into()
}

// ---------------------------------------------------------------------------------------
// Loading

/// Load realm files: each path is a file or a directory (its `*.yaml`, `*.yml`, `*.json`,
/// sorted by name). No paths: the built-in `realm/testing.yaml`. Variables come from the
/// process environment.
pub fn load_realm_files(paths: &[PathBuf]) -> anyhow::Result<Vec<RealmFile>> {
    // The realm file's `${VAR}` references are, by definition, read from the environment.
    let lookup = |name: &str| std::env::var(name).ok();
    load_realm_files_with(paths, &lookup)
}

/// [`load_realm_files`] with an explicit variable lookup (tests, callers with their own env).
pub fn load_realm_files_with(
    paths: &[PathBuf],
    lookup: &dyn Fn(&str) -> Option<String>,
) -> anyhow::Result<Vec<RealmFile>> {
    if paths.is_empty() {
        return Ok(vec![parse_realm_file(
            BUILTIN_REALM,
            BUILTIN_ORIGIN,
            false,
            lookup,
        )
        .map_err(Failure::from)?]);
    }
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            let entries = std::fs::read_dir(path).map_err(|e| {
                invalid(format!(
                    "cannot read realm directory `{}`: {e}",
                    path.display()
                ))
            })?;
            let mut found: Vec<PathBuf> = entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_file() && format_of(p).is_some())
                .collect();
            found.sort();
            if found.is_empty() {
                return Err(invalid(format!(
                    "realm directory `{}` holds no *.yaml, *.yml or *.json file",
                    path.display()
                )));
            }
            files.extend(found);
        } else {
            files.push(path.clone());
        }
    }
    let mut realms: Vec<RealmFile> = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file)
            .map_err(|e| invalid(format!("cannot read realm file `{}`: {e}", file.display())))?;
        let json = format_of(&file) == Some(Format::Json);
        let realm = parse_realm_file(&text, &file.display().to_string(), json, lookup)
            .map_err(Failure::from)?;
        if let Some(other) = realms.iter().find(|r| r.name == realm.name) {
            return Err(invalid(format!(
                "realm `{}` is defined twice: in {} and in {}; keep one",
                realm.name,
                other.origin,
                realm.origin()
            )));
        }
        realms.push(realm);
    }
    Ok(realms)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Yaml,
    Json,
}

fn format_of(path: &Path) -> Option<Format> {
    match path.extension().and_then(|e| e.to_str()) {
        Some("yaml" | "yml") => Some(Format::Yaml),
        Some("json") => Some(Format::Json),
        _ => None,
    }
}

/// Parse, substitute and validate one realm file's text.
pub fn parse_realm_file(
    text: &str,
    origin: &str,
    json: bool,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<RealmFile, RealmFileError> {
    let ctx = Ctx { text, origin, json };
    let mut root = if json {
        serde_json::from_str::<Value>(text).map_err(|e| RealmFileError {
            origin: origin.to_string(),
            line: Some(e.line()),
            field: None,
            message: format!("not valid JSON: {e}"),
        })?
    } else {
        let mut yaml: serde_yaml::Value =
            serde_yaml::from_str(text).map_err(|e| RealmFileError {
                origin: origin.to_string(),
                line: e.location().map(|l| l.line()),
                field: None,
                message: format!("not valid YAML: {e}"),
            })?;
        yaml.apply_merge()
            .map_err(|e| ctx.error(&[], format!("{e}")))?;
        yaml_to_json(&yaml, &mut Vec::new(), &ctx)?
    };
    substitute_all(&mut root, &mut Vec::new(), &ctx, lookup)?;
    validate(root, &ctx)
}

struct Ctx<'a> {
    text: &'a str,
    origin: &'a str,
    json: bool,
}

impl Ctx<'_> {
    fn error(&self, path: &[Seg], message: impl Into<String>) -> RealmFileError {
        RealmFileError {
            origin: self.origin.to_string(),
            line: locate(self.text, path, self.json),
            field: (!path.is_empty()).then(|| path_string(path)),
            message: message.into(),
        }
    }
}

/// One step of a path into the document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seg {
    Key(String),
    Index(usize),
}

fn path_string(path: &[Seg]) -> String {
    let mut s = String::new();
    for seg in path {
        match seg {
            Seg::Key(k) => {
                if !s.is_empty() {
                    s.push('.');
                }
                s.push_str(k);
            }
            Seg::Index(i) => s.push_str(&format!("[{i}]")),
        }
    }
    s
}

fn yaml_to_json(
    v: &serde_yaml::Value,
    path: &mut Vec<Seg>,
    ctx: &Ctx,
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
                        ctx.error(path, format!("number `{n}` cannot be sent as JSON"))
                    })?
            }
        }
        Y::String(s) => Value::String(s.clone()),
        Y::Sequence(items) => {
            let mut out = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                path.push(Seg::Index(i));
                out.push(yaml_to_json(item, path, ctx)?);
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
                        return Err(ctx.error(
                            path,
                            format!("mapping keys must be strings, found {other:?}"),
                        ))
                    }
                };
                path.push(Seg::Key(key.clone()));
                let value = yaml_to_json(item, path, ctx)?;
                path.pop();
                out.insert(key, value);
            }
            Value::Object(out)
        }
        Y::Tagged(t) => {
            return Err(ctx.error(
                path,
                format!("YAML tags are not supported (found `{}`)", t.tag),
            ))
        }
    })
}

fn substitute_all(
    v: &mut Value,
    path: &mut Vec<Seg>,
    ctx: &Ctx,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<(), RealmFileError> {
    match v {
        Value::String(s) if s.contains('$') => {
            *s = substitute(s, lookup).map_err(|e| {
                let mut err = ctx.error(path, e.to_string());
                // The parser can tell the line of the reference itself when the path
                // locator cannot (flow style, JSON).
                if err.line.is_none() {
                    let needle = match &e {
                        SubstError::Undefined { name } => format!("${{{name}"),
                        SubstError::Malformed { reference } => reference.clone(),
                    };
                    err.line = ctx
                        .text
                        .lines()
                        .position(|l| l.contains(&needle))
                        .map(|i| i + 1);
                }
                err
            })?;
        }
        Value::Array(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                path.push(Seg::Index(i));
                substitute_all(item, path, ctx, lookup)?;
                path.pop();
            }
        }
        Value::Object(map) => {
            for (k, item) in map.iter_mut() {
                path.push(Seg::Key(k.clone()));
                substitute_all(item, path, ctx, lookup)?;
                path.pop();
            }
        }
        _ => {}
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Validation

const REALM_STRINGS: &[&str] = &[
    "displayName",
    "displayNameHtml",
    "sslRequired",
    "loginTheme",
];
const REALM_BOOLS: &[&str] = &[
    "enabled",
    "registrationAllowed",
    "resetPasswordAllowed",
    "rememberMe",
    "verifyEmail",
    "loginWithEmailAllowed",
    "duplicateEmailsAllowed",
    "bruteForceProtected",
];
const REALM_INTS: &[&str] = &[
    "accessTokenLifespan",
    "ssoSessionIdleTimeout",
    "ssoSessionMaxLifespan",
    "accessCodeLifespan",
];
const CLIENT_STRINGS: &[&str] = &[
    "name",
    "description",
    "rootUrl",
    "baseUrl",
    "adminUrl",
    "protocol",
    "secret",
    "clientAuthenticatorType",
];
/// Flow flags: always sent explicitly, with these defaults when the file omits them.
pub const CLIENT_FLOW_DEFAULTS: &[(&str, bool)] = &[
    ("standardFlowEnabled", true),
    ("implicitFlowEnabled", false),
    ("directAccessGrantsEnabled", false),
    ("serviceAccountsEnabled", false),
];
const CLIENT_BOOLS: &[&str] = &[
    "enabled",
    "publicClient",
    "bearerOnly",
    "consentRequired",
    "fullScopeAllowed",
    "frontchannelLogout",
    "authorizationServicesEnabled",
    "standardFlowEnabled",
    "implicitFlowEnabled",
    "directAccessGrantsEnabled",
    "serviceAccountsEnabled",
];
const USER_STRINGS: &[&str] = &["email", "firstName", "lastName"];
const USER_BOOLS: &[&str] = &["enabled", "emailVerified"];

fn validate(root: Value, ctx: &Ctx) -> Result<RealmFile, RealmFileError> {
    let Value::Object(mut fields) = root else {
        return Err(ctx.error(
            &[],
            "expected a mapping with a `realm` name (a Keycloak RealmRepresentation)",
        ));
    };
    let name = required_string(&fields, "realm", &[], ctx)?;
    if let Some(c) = name.chars().find(|c| RESERVED_REALM_CHARS.contains(c)) {
        return Err(ctx.error(
            &key_path(&[], "realm"),
            format!("character `{c}` is not allowed in a realm name"),
        ));
    }
    check_types(
        &mut fields,
        &[],
        REALM_STRINGS,
        REALM_BOOLS,
        REALM_INTS,
        ctx,
    )?;
    fields.entry("enabled").or_insert(Value::Bool(true));

    let clients = match fields.remove("clients") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => {
            let mut out: Vec<ClientSpec> = Vec::new();
            for (i, item) in items.into_iter().enumerate() {
                let path = vec![Seg::Key("clients".into()), Seg::Index(i)];
                let client = validate_client(item, &path, ctx)?;
                if out.iter().any(|c| c.client_id == client.client_id) {
                    return Err(ctx.error(
                        &key_path(&path, "clientId"),
                        format!("client `{}` is declared twice", client.client_id),
                    ));
                }
                out.push(client);
            }
            out
        }
        Some(_) => {
            return Err(ctx.error(&key_path(&[], "clients"), "expected a list of clients"));
        }
    };
    let users = match fields.remove("users") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => {
            let mut out: Vec<UserSpec> = Vec::new();
            for (i, item) in items.into_iter().enumerate() {
                let path = vec![Seg::Key("users".into()), Seg::Index(i)];
                let user = validate_user(item, &path, ctx)?;
                if out
                    .iter()
                    .any(|u| u.username.eq_ignore_ascii_case(&user.username))
                {
                    return Err(ctx.error(
                        &key_path(&path, "username"),
                        format!(
                            "user `{}` is declared twice (usernames are case-insensitive)",
                            user.username
                        ),
                    ));
                }
                out.push(user);
            }
            out
        }
        Some(_) => return Err(ctx.error(&key_path(&[], "users"), "expected a list of users")),
    };
    Ok(RealmFile {
        origin: ctx.origin.to_string(),
        name,
        fields,
        clients,
        users,
    })
}

fn validate_client(item: Value, path: &[Seg], ctx: &Ctx) -> Result<ClientSpec, RealmFileError> {
    let Value::Object(mut fields) = item else {
        return Err(ctx.error(path, "expected a mapping (a Keycloak ClientRepresentation)"));
    };
    let client_id = required_string(&fields, "clientId", path, ctx)?;
    check_types(&mut fields, path, CLIENT_STRINGS, CLIENT_BOOLS, &[], ctx)?;
    for key in CLIENT_SET_FIELDS {
        check_string_list(&fields, key, path, ctx)?;
    }
    normalise_client_attributes(&mut fields, path, ctx)?;

    if let Some(root) = fields.get("rootUrl").and_then(Value::as_str) {
        if !root.is_empty() {
            url::Url::parse(root).map_err(|e| {
                ctx.error(
                    &key_path(path, "rootUrl"),
                    format!("`{root}` is not a valid URL ({e})"),
                )
            })?;
        }
    }
    if let Some(uris) = fields.get("redirectUris").and_then(Value::as_array) {
        for (i, uri) in uris.iter().enumerate() {
            if uri.as_str().is_some_and(|u| u.contains('#')) {
                let mut p = key_path(path, "redirectUris");
                p.push(Seg::Index(i));
                return Err(ctx.error(&p, "redirect URIs must not contain a `#` fragment"));
            }
        }
    }
    if let Some(secret) = fields.get("secret").and_then(Value::as_str) {
        if !secret.is_empty() && secret.chars().all(|c| c == '*') {
            return Err(ctx.error(
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
            return Err(ctx.error(
                &key_path(path, "serviceAccountsEnabled"),
                "a public client (`publicClient: true`) cannot use service accounts: set \
                 `publicClient: false` or turn service accounts off",
            ));
        }
        if fields.contains_key("secret") {
            return Err(ctx.error(
                &key_path(path, "secret"),
                "a public client (`publicClient: true`) has no secret: remove `secret` or set \
                 `publicClient: false`",
            ));
        }
    }
    Ok(ClientSpec { client_id, fields })
}

fn validate_user(item: Value, path: &[Seg], ctx: &Ctx) -> Result<UserSpec, RealmFileError> {
    let Value::Object(mut fields) = item else {
        return Err(ctx.error(path, "expected a mapping (a Keycloak UserRepresentation)"));
    };
    let username = required_string(&fields, "username", path, ctx)?;
    if username.chars().count() < 3 || username.chars().count() > 255 {
        return Err(ctx.error(
            &key_path(path, "username"),
            "a username has 3 to 255 characters (Keycloak's user profile)",
        ));
    }
    check_types(&mut fields, path, USER_STRINGS, USER_BOOLS, &[], ctx)?;
    for key in USER_SET_FIELDS {
        check_string_list(&fields, key, path, ctx)?;
    }
    if let Some(email) = fields.get("email").and_then(Value::as_str) {
        if !email.is_empty() && !email.contains('@') {
            return Err(ctx.error(
                &key_path(path, "email"),
                format!("`{email}` is not an email address"),
            ));
        }
    }
    normalise_user_attributes(&mut fields, path, ctx)?;
    fields.entry("enabled").or_insert(Value::Bool(true));

    let mut password = None;
    let mut other_credentials = Vec::new();
    match fields.remove("credentials") {
        None | Some(Value::Null) => {}
        Some(Value::Array(creds)) => {
            for (i, cred) in creds.into_iter().enumerate() {
                let mut cpath = key_path(path, "credentials");
                cpath.push(Seg::Index(i));
                let Value::Object(mut cred) = cred else {
                    return Err(ctx.error(
                        &cpath,
                        "expected a mapping like `{type: password, value: ..., temporary: false}`",
                    ));
                };
                check_types(
                    &mut cred,
                    &cpath,
                    &["type", "value"],
                    &["temporary"],
                    &[],
                    ctx,
                )?;
                let kind = cred
                    .get("type")
                    .and_then(Value::as_str)
                    .unwrap_or("password");
                match (kind, cred.get("value").and_then(Value::as_str)) {
                    ("password", Some(value)) => {
                        if password.is_some() {
                            return Err(ctx.error(&cpath, "only one password credential per user"));
                        }
                        if value.is_empty() {
                            return Err(ctx.error(
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
                    _ => other_credentials.push(Value::Object(cred)),
                }
            }
        }
        Some(_) => {
            return Err(ctx.error(
                &key_path(path, "credentials"),
                "expected a list like `[{type: password, value: ..., temporary: false}]`",
            ))
        }
    }
    Ok(UserSpec {
        username,
        fields,
        password,
        other_credentials,
    })
}

fn key_path(path: &[Seg], key: &str) -> Vec<Seg> {
    let mut p = path.to_vec();
    p.push(Seg::Key(key.to_string()));
    p
}

fn required_string(
    fields: &Map<String, Value>,
    key: &str,
    path: &[Seg],
    ctx: &Ctx,
) -> Result<String, RealmFileError> {
    match fields.get(key) {
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(s.clone()),
        Some(Value::String(_)) => Err(ctx.error(&key_path(path, key), "must not be empty")),
        None | Some(Value::Null) => Err(ctx.error(&key_path(path, key), "is required")),
        Some(other) => Err(ctx.error(
            &key_path(path, key),
            format!("expected a string, found {}", kind_of(other)),
        )),
    }
}

/// Check (and coerce `"true"`/`"false"`, `"300"` from substitution) the typed fields.
fn check_types(
    fields: &mut Map<String, Value>,
    path: &[Seg],
    strings: &[&str],
    bools: &[&str],
    ints: &[&str],
    ctx: &Ctx,
) -> Result<(), RealmFileError> {
    for key in strings {
        match fields.get(*key) {
            None | Some(Value::String(_)) | Some(Value::Null) => {}
            Some(other) => {
                return Err(ctx.error(
                    &key_path(path, key),
                    format!("expected a string, found {}", kind_of(other)),
                ))
            }
        }
    }
    for key in bools {
        let coerced = match fields.get(*key) {
            None | Some(Value::Bool(_)) | Some(Value::Null) => None,
            Some(Value::String(s)) if s == "true" || s == "false" => Some(Value::Bool(s == "true")),
            Some(other) => {
                return Err(ctx.error(
                    &key_path(path, key),
                    format!("expected true or false, found {}", kind_of(other)),
                ))
            }
        };
        if let Some(v) = coerced {
            fields.insert((*key).to_string(), v);
        }
    }
    for key in ints {
        let coerced = match fields.get(*key) {
            None | Some(Value::Null) => None,
            Some(Value::Number(n)) if n.is_i64() => None,
            Some(Value::String(s)) if s.parse::<i64>().is_ok() => {
                s.parse::<i64>().ok().map(Value::from)
            }
            Some(other) => {
                return Err(ctx.error(
                    &key_path(path, key),
                    format!("expected a whole number, found {}", kind_of(other)),
                ))
            }
        };
        if let Some(v) = coerced {
            fields.insert((*key).to_string(), v);
        }
    }
    Ok(())
}

fn check_string_list(
    fields: &Map<String, Value>,
    key: &str,
    path: &[Seg],
    ctx: &Ctx,
) -> Result<(), RealmFileError> {
    match fields.get(key) {
        None | Some(Value::Null) => Ok(()),
        Some(Value::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                if !item.is_string() {
                    let mut p = key_path(path, key);
                    p.push(Seg::Index(i));
                    return Err(
                        ctx.error(&p, format!("expected a string, found {}", kind_of(item)))
                    );
                }
            }
            Ok(())
        }
        Some(other) => Err(ctx.error(
            &key_path(path, key),
            format!("expected a list of strings, found {}", kind_of(other)),
        )),
    }
}

/// Client attributes are `Map<String, String>` in Keycloak: scalars become strings.
fn normalise_client_attributes(
    fields: &mut Map<String, Value>,
    path: &[Seg],
    ctx: &Ctx,
) -> Result<(), RealmFileError> {
    let Some(attrs) = fields.get_mut("attributes") else {
        return Ok(());
    };
    let apath = key_path(path, "attributes");
    let Value::Object(map) = attrs else {
        return Err(ctx.error(&apath, "expected a mapping of attribute names to strings"));
    };
    for (k, v) in map.iter_mut() {
        let s = match v {
            Value::String(_) => continue,
            Value::Bool(b) => b.to_string(),
            Value::Number(n) => n.to_string(),
            other => {
                return Err(ctx.error(
                    &key_path(&apath, k),
                    format!("expected a string, found {}", kind_of(other)),
                ))
            }
        };
        *v = Value::String(s);
    }
    Ok(())
}

/// User attributes are `Map<String, List<String>>`: a single string becomes a one-item list.
fn normalise_user_attributes(
    fields: &mut Map<String, Value>,
    path: &[Seg],
    ctx: &Ctx,
) -> Result<(), RealmFileError> {
    let Some(attrs) = fields.get_mut("attributes") else {
        return Ok(());
    };
    let apath = key_path(path, "attributes");
    let Value::Object(map) = attrs else {
        return Err(ctx.error(
            &apath,
            "expected a mapping of attribute names to lists of strings",
        ));
    };
    for (k, v) in map.iter_mut() {
        let list = match v {
            Value::String(s) => vec![Value::String(s.clone())],
            Value::Array(items) if items.iter().all(Value::is_string) => continue,
            other => {
                return Err(ctx.error(
                    &key_path(&apath, k),
                    format!(
                        "expected a string or a list of strings, found {}",
                        kind_of(other)
                    ),
                ))
            }
        };
        *v = Value::Array(list);
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

// ---------------------------------------------------------------------------------------
// Line location

/// The 1-based line of `path` in a block-style YAML document (or pretty-printed JSON, by a
/// looser search), if it can be told.
pub fn locate(text: &str, path: &[Seg], json: bool) -> Option<usize> {
    if path.is_empty() {
        return None;
    }
    if json {
        return locate_json(text, path);
    }
    struct Line<'a> {
        no: usize,
        indent: usize,
        content: &'a str,
    }
    let lines: Vec<Line> = text
        .lines()
        .enumerate()
        .filter_map(|(i, l)| {
            let content = l.trim_start();
            (!content.is_empty() && !content.starts_with('#') && content != "---").then(|| Line {
                no: i + 1,
                indent: l.len() - content.len(),
                content,
            })
        })
        .collect();
    // Strip leading `- ` markers: returns (effective indent, rest).
    fn strip_dashes(indent: usize, content: &str) -> (usize, &str) {
        let mut indent = indent;
        let mut rest = content;
        while let Some(r) = rest
            .strip_prefix("- ")
            .or_else(|| (rest == "-").then_some(""))
        {
            let trimmed = r.trim_start();
            indent += 1 + (r.len() - trimmed.len()) + 1;
            rest = trimmed;
        }
        (indent, rest)
    }
    fn key_of(content: &str) -> Option<&str> {
        let (k, _) = content.split_once(':')?;
        let k = k.trim();
        Some(
            k.strip_prefix('"')
                .and_then(|k| k.strip_suffix('"'))
                .or_else(|| k.strip_prefix('\'').and_then(|k| k.strip_suffix('\'')))
                .unwrap_or(k),
        )
    }

    // The block being searched: lines[start..], with children indented more than `parent`
    // (the first line of a list item is included even though its dash sits at `parent`).
    let mut start = 0usize;
    let mut parent: Option<usize> = None;
    let mut first_included = false;
    let mut found = None;
    for seg in path {
        let in_block = |idx: usize, l: &Line| -> bool {
            (first_included && idx == start) || parent.is_none_or(|p| l.indent > p)
        };
        match seg {
            Seg::Key(key) => {
                let mut hit = None;
                for (idx, l) in lines.iter().enumerate().skip(start) {
                    if !in_block(idx, l) {
                        break;
                    }
                    let (eff, rest) = strip_dashes(l.indent, l.content);
                    if key_of(rest) == Some(key.as_str()) {
                        hit = Some((idx, eff));
                        break;
                    }
                }
                let (idx, eff) = hit?;
                found = Some(lines[idx].no);
                start = idx + 1;
                parent = Some(eff);
                first_included = false;
            }
            Seg::Index(n) => {
                let mut count = 0usize;
                let mut item_indent = None;
                let mut hit = None;
                for (idx, l) in lines.iter().enumerate().skip(start) {
                    let is_item = l.content.starts_with("- ") || l.content == "-";
                    // A sequence may sit at its key's own indentation (`users:\n- name: x`).
                    let compact = is_item && parent.is_some_and(|p| l.indent == p);
                    if !in_block(idx, l) && !compact {
                        break;
                    }
                    if is_item {
                        let ii = *item_indent.get_or_insert(l.indent);
                        if l.indent == ii {
                            if count == *n {
                                hit = Some(idx);
                                break;
                            }
                            count += 1;
                        }
                    }
                }
                match hit {
                    Some(idx) => {
                        found = Some(lines[idx].no);
                        parent = Some(lines[idx].indent);
                        start = idx;
                        first_included = true;
                    }
                    // Flow style (`[a, b]`): the parent key's line is the best we can tell.
                    None => return found,
                }
            }
        }
    }
    found
}

/// JSON: follow the keys in order of appearance (good enough for pretty-printed files).
fn locate_json(text: &str, path: &[Seg]) -> Option<usize> {
    let lines: Vec<&str> = text.lines().collect();
    let mut from = 0usize;
    let mut found = None;
    for seg in path {
        if let Seg::Key(key) = seg {
            let needle = format!("\"{key}\"");
            let idx = lines
                .iter()
                .enumerate()
                .skip(from)
                .find(|(_, l)| l.contains(&needle))
                .map(|(i, _)| i)?;
            found = Some(idx + 1);
            from = idx + 1;
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        (name == "SET").then(|| "from-env".to_string())
    }

    fn parse(text: &str) -> Result<RealmFile, RealmFileError> {
        parse_realm_file(text, "t.yaml", false, &env)
    }

    #[test]
    fn builtin_realm_is_the_reference_setup() {
        let realm = parse_realm_file(BUILTIN_REALM, BUILTIN_ORIGIN, false, &|_| None).unwrap();
        assert_eq!(realm.name(), "testing");
        assert!(realm.display_name().is_some());
        assert_eq!(realm.fields()["enabled"], Value::Bool(true));
        let client = realm.client("test-client").unwrap();
        assert_eq!(client.secret(), Some("g9YAmxsqegIvI1c4Bxsn3z949vcGsIf6"));
        assert!(client.is_confidential());
        assert!(client.standard_flow_enabled());
        assert!(client.direct_access_grants_enabled());
        assert!(client.service_accounts_enabled());
        assert_eq!(client.root_url(), Some("http://localhost:5000/"));
        assert_eq!(client.redirect_uris(), vec!["http://localhost:5000/*"]);
        assert_eq!(client.web_origins(), vec!["http://localhost:5000"]);
        assert_eq!(
            client.post_logout_redirect_uris(),
            vec!["http://localhost:5000/*"]
        );
        assert_eq!(client.fields()["protocol"], "openid-connect");
        assert_eq!(client.fields()["implicitFlowEnabled"], false);
        let user = realm.user("test-user").unwrap();
        assert_eq!(user.email(), Some("test-user@localhost"));
        assert_eq!(user.first_name(), Some("Test"));
        assert_eq!(user.last_name(), Some("User"));
        assert_eq!(user.fields()["emailVerified"], true);
        assert_eq!(user.fields()["enabled"], true);
        let pw = user.password().unwrap();
        assert_eq!(pw.value, "test-user$123");
        assert!(!pw.temporary);
        assert_eq!(realm.primary_client().unwrap().client_id(), "test-client");
        assert_eq!(realm.primary_user().unwrap().username(), "test-user");
    }

    #[test]
    fn builtin_secret_comes_from_the_environment_when_set() {
        let lookup = |n: &str| (n == "TEST_CLIENT_SECRET").then(|| "other".to_string());
        let realm = parse_realm_file(BUILTIN_REALM, BUILTIN_ORIGIN, false, &lookup).unwrap();
        assert_eq!(realm.client("test-client").unwrap().secret(), Some("other"));
    }

    #[test]
    fn unknown_fields_pass_through_to_the_request() {
        let realm = parse(
            "realm: r\nfrobnicate: 3\nclients:\n  - clientId: c\n    wibble: true\nusers:\n  - username: bob\n    zork: [1]\n",
        )
        .unwrap();
        let body = realm.creation_body();
        assert_eq!(body["frobnicate"], 3);
        assert_eq!(body["clients"][0]["wibble"], true);
        assert_eq!(body["users"][0]["zork"][0], 1);
    }

    #[test]
    fn defaults_are_sent_explicitly() {
        let realm =
            parse("realm: r\nclients:\n  - clientId: c\nusers:\n  - username: bob\n").unwrap();
        let body = realm.creation_body();
        assert_eq!(body["enabled"], true);
        let c = &body["clients"][0];
        assert_eq!(c["protocol"], "openid-connect");
        assert_eq!(c["publicClient"], false);
        assert_eq!(c["enabled"], true);
        for (flag, default) in CLIENT_FLOW_DEFAULTS {
            assert_eq!(c[*flag], *default, "{flag}");
        }
        assert_eq!(body["users"][0]["enabled"], true);
    }

    #[test]
    fn type_errors_name_file_line_and_field() {
        let text = "realm: r\nclients:\n  - clientId: a\n  - clientId: b\n    name: B\n    publicClient: maybe\n";
        let err = parse(text).unwrap_err();
        assert_eq!(err.line, Some(6), "{err}");
        assert_eq!(err.field.as_deref(), Some("clients[1].publicClient"));
        assert_eq!(
            err.to_string(),
            "invalid realm file t.yaml:6: field `clients[1].publicClient`: expected true or false, found a string"
        );
    }

    #[test]
    fn missing_required_fields_are_reported() {
        let err = parse("displayName: x\n").unwrap_err();
        assert_eq!(err.field.as_deref(), Some("realm"));
        assert!(err.message.contains("required"));
        let err = parse("realm: r\nusers:\n  - email: a@b\n").unwrap_err();
        assert_eq!(err.field.as_deref(), Some("users[0].username"));
        let err = parse("realm: r\nclients:\n  - clientId: 7\n").unwrap_err();
        assert_eq!(err.field.as_deref(), Some("clients[0].clientId"));
        assert_eq!(err.line, Some(3));
    }

    #[test]
    fn syntax_errors_carry_the_parser_line() {
        let err = parse("realm: r\nclients:\n  - clientId: a\n   bad: [\n").unwrap_err();
        assert!(err.line.is_some(), "{err}");
        assert!(err.message.starts_with("not valid YAML"), "{err}");
        let err = parse_realm_file("{\n \"realm\": \"r\",\n}", "x.json", true, &env).unwrap_err();
        assert_eq!(err.line, Some(3), "{err}");
    }

    #[test]
    fn undefined_variables_name_the_line() {
        let text = "realm: r\nclients:\n  - clientId: c\n    secret: ${UNSET_VAR}\n";
        let err = parse(text).unwrap_err();
        assert_eq!(err.line, Some(4));
        assert_eq!(err.field.as_deref(), Some("clients[0].secret"));
        assert!(err.message.contains("UNSET_VAR"));
        let realm = parse("realm: r\ndisplayName: ${SET} ${NOPE:-d} $${SET} a$1\n").unwrap();
        assert_eq!(realm.display_name(), Some("from-env d ${SET} a$1"));
    }

    #[test]
    fn semantic_checks() {
        let err = parse("realm: a/b\n").unwrap_err();
        assert!(err.message.contains("`/`"), "{err}");
        let err = parse("realm: r\nclients:\n  - clientId: c\n    publicClient: true\n    serviceAccountsEnabled: true\n").unwrap_err();
        assert_eq!(
            err.field.as_deref(),
            Some("clients[0].serviceAccountsEnabled")
        );
        assert_eq!(err.line, Some(5));
        let err = parse("realm: r\nclients:\n  - clientId: c\n  - clientId: c\n").unwrap_err();
        assert!(err.message.contains("twice"));
        assert_eq!(err.line, Some(4));
        let err =
            parse("realm: r\nclients:\n  - clientId: c\n    secret: '**********'\n").unwrap_err();
        assert!(err.message.contains("masked"));
        let err =
            parse("realm: r\nclients:\n  - clientId: c\n    redirectUris: [\"http://x/#a\"]\n")
                .unwrap_err();
        assert_eq!(err.field.as_deref(), Some("clients[0].redirectUris[0]"));
        assert_eq!(err.line, Some(4));
        let err = parse("realm: r\nusers:\n  - username: Bob\n  - username: bob\n").unwrap_err();
        assert!(err.message.contains("twice"));
    }

    #[test]
    fn substituted_booleans_are_coerced() {
        let lookup = |n: &str| (n == "SA").then(|| "false".to_string());
        let realm = parse_realm_file(
            "realm: r\nclients:\n  - clientId: c\n    serviceAccountsEnabled: ${SA}\n",
            "t.yaml",
            false,
            &lookup,
        )
        .unwrap();
        assert!(!realm.clients()[0].service_accounts_enabled());
    }

    #[test]
    fn attributes_are_normalised() {
        let realm = parse(
            "realm: r\nclients:\n  - clientId: c\n    attributes:\n      pkce.code.challenge.method: S256\n      x: true\nusers:\n  - username: bob\n    attributes:\n      team: blue\n",
        )
        .unwrap();
        assert_eq!(realm.clients()[0].fields()["attributes"]["x"], "true");
        assert_eq!(
            realm.users()[0].fields()["attributes"]["team"],
            serde_json::json!(["blue"])
        );
    }

    #[test]
    fn json_realm_exports_load() {
        let text = "{\n  \"realm\": \"exp\",\n  \"enabled\": true,\n  \"clients\": [\n    {\n      \"clientId\": \"c\",\n      \"publicClient\": \"nope\"\n    }\n  ]\n}\n";
        let err = parse_realm_file(text, "exp.json", true, &env).unwrap_err();
        assert_eq!(err.line, Some(7), "{err}");
        let ok = text.replace("\"nope\"", "true");
        let realm = parse_realm_file(&ok, "exp.json", true, &env).unwrap();
        assert_eq!(realm.name(), "exp");
    }

    #[test]
    fn locate_follows_nested_lists() {
        let text = "realm: r\n# comment\nclients:\n  - clientId: a\n    redirectUris:\n      - x\n      - y\n  - clientId: b\n    attributes:\n      k: v\nusers:\n- username: u\n  email: e@x\n";
        let p = |segs: &[Seg]| locate(text, segs, false);
        use Seg::{Index as I, Key as K};
        assert_eq!(p(&[K("realm".into())]), Some(1));
        assert_eq!(
            p(&[K("clients".into()), I(0), K("clientId".into())]),
            Some(4)
        );
        assert_eq!(
            p(&[K("clients".into()), I(0), K("redirectUris".into()), I(1)]),
            Some(7)
        );
        assert_eq!(
            p(&[K("clients".into()), I(1), K("clientId".into())]),
            Some(8)
        );
        assert_eq!(
            p(&[
                K("clients".into()),
                I(1),
                K("attributes".into()),
                K("k".into())
            ]),
            Some(10)
        );
        assert_eq!(
            p(&[K("clients".into()), I(1), K("redirectUris".into())]),
            None
        );
        assert_eq!(p(&[K("users".into()), I(0), K("email".into())]), Some(13));
    }

    #[test]
    fn directories_load_sorted_and_duplicates_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("b.yaml"), "realm: b\n").unwrap();
        std::fs::write(dir.path().join("a.yml"), "realm: a\n").unwrap();
        std::fs::write(dir.path().join("notes.txt"), "ignored").unwrap();
        let realms = load_realm_files_with(&[dir.path().to_path_buf()], &env).unwrap();
        let names: Vec<&str> = realms.iter().map(RealmFile::name).collect();
        assert_eq!(names, ["a", "b"]);
        std::fs::write(dir.path().join("c.json"), "{\"realm\": \"a\"}").unwrap();
        let err = load_realm_files_with(&[dir.path().to_path_buf()], &env).unwrap_err();
        assert_eq!(crate::error::exit_code(&err), 7);
        assert!(err.to_string().contains("defined twice"), "{err}");
        let err = load_realm_files_with(&[dir.path().join("missing.yaml")], &env).unwrap_err();
        assert_eq!(crate::error::exit_code(&err), 7);
    }

    #[test]
    fn no_paths_means_the_builtin_realm() {
        let realms = load_realm_files_with(&[], &|_| None).unwrap();
        assert_eq!(realms.len(), 1);
        assert_eq!(realms[0].origin(), BUILTIN_ORIGIN);
    }
}
