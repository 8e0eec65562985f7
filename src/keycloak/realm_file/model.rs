//! The realm file's model: one realm with its clients and users, as validated and with the
//! defaults filled in, ready to be sent to Keycloak or compared with what it has.

use std::fmt;

use serde_json::{Map, Value};

/// The built-in realm file (`realm/testing.yaml`), compiled into the binary so `up` works
/// from any directory.
pub const BUILTIN_REALM: &str = include_str!("../../../realm/testing.yaml");
/// How the built-in file is named in messages.
pub const BUILTIN_ORIGIN: &str = "realm/testing.yaml (built in)";

/// Realm-level keys that are collections imported with a new realm but not reconciled on an
/// existing one (Keycloak's realm GET does not return them, and they have their own APIs).
pub const IMPORT_ONLY_REALM_KEYS: &[&str] = &[
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

/// The required action a temporary password stands for.
pub const UPDATE_PASSWORD: &str = "UPDATE_PASSWORD";

/// Client fields compared as sets (Keycloak does not keep their order).
pub const CLIENT_SET_FIELDS: &[&str] = &[
    "redirectUris",
    "webOrigins",
    "defaultClientScopes",
    "optionalClientScopes",
];
/// User fields compared as sets.
pub const USER_SET_FIELDS: &[&str] = &["requiredActions"];

/// One loaded, validated realm file.
#[derive(Debug, Clone, PartialEq)]
pub struct RealmFile {
    pub(super) origin: String,
    pub(super) name: String,
    /// Realm-level fields as they will be sent (without `clients` and `users`).
    pub(super) fields: Map<String, Value>,
    pub(super) clients: Vec<ClientSpec>,
    pub(super) users: Vec<UserSpec>,
}

/// A client as the file declares it, defaults filled in.
#[derive(Debug, Clone, PartialEq)]
pub struct ClientSpec {
    pub(super) client_id: String,
    /// The `ClientRepresentation` fields to send, including `secret` when set.
    pub(super) fields: Map<String, Value>,
}

/// A user as the file declares it.
#[derive(Debug, Clone, PartialEq)]
pub struct UserSpec {
    pub(super) username: String,
    /// The `UserRepresentation` fields to send, without `credentials`.
    pub(super) fields: Map<String, Value>,
    pub(super) password: Option<Password>,
    /// Credentials other than a plain password (sent only when the user is created).
    pub(super) other_credentials: Vec<Value>,
}

/// A plain-text password credential (`{type: password, value: .., temporary: false}`).
#[derive(Clone, PartialEq, Eq)]
pub struct Password {
    pub value: String,
    pub temporary: bool,
}

impl Password {
    /// As Keycloak's `CredentialRepresentation` (user creation, `reset-password`).
    pub fn credential(&self) -> Value {
        serde_json::json!({"type": "password", "value": self.value, "temporary": self.temporary})
    }
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
    /// How many users carry a password (each one a password hash in Keycloak).
    pub fn users_with_password(&self) -> usize {
        self.users.iter().filter(|u| u.password.is_some()).count()
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
        self.password.as_ref().map(Password::credential)
    }
    /// The body for `POST /users` and the realm import: fields plus every credential. A
    /// temporary password also asks for UPDATE_PASSWORD, since Keycloak reads `temporary` only
    /// in `reset-password`, not when it creates a user (keycloak-behaviour §5); so a created
    /// user ends as an updated one does.
    pub fn creation_body(&self) -> Value {
        let mut body = self.fields.clone();
        if self.password.as_ref().is_some_and(|p| p.temporary) {
            let actions = body
                .entry("requiredActions")
                .or_insert_with(|| Value::Array(Vec::new()));
            if let Value::Array(list) = actions {
                if !list.iter().any(|a| a == UPDATE_PASSWORD) {
                    list.push(Value::from(UPDATE_PASSWORD));
                }
            }
        }
        let mut creds: Vec<Value> = self.password_credential().into_iter().collect();
        creds.extend(self.other_credentials.iter().cloned());
        if !creds.is_empty() {
            body.insert("credentials".into(), Value::Array(creds));
        }
        Value::Object(body)
    }
}
