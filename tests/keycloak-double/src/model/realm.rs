//! A realm: its settings (representation fields), clients, users, keys, sessions, codes and
//! logins in progress, with Keycloak's defaults.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::{
    default_client_fields, uuid, AuthCode, Client, Group, RealmKeys, Role, User, UserSession,
    ADMIN_CLI, MASTER,
};

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Realm {
    pub id: String,
    pub name: String,
    /// Realm-level representation fields (everything but `id`, `realm` and nested collections).
    pub settings: Map<String, Value>,
    pub clients: Vec<Client>,
    pub users: Vec<User>,
    /// Realm roles and client roles (see `role`).
    #[serde(default)]
    pub roles: Vec<Role>,
    /// Every group, flat (see `group`).
    #[serde(default)]
    pub groups: Vec<Group>,
    /// Generated on first use and then kept (and persisted) for the realm's lifetime.
    #[serde(default)]
    pub keys: Option<RealmKeys>,
    #[serde(default)]
    pub sessions: BTreeMap<String, UserSession>,
    /// Authorization codes (for the OIDC module), by code.
    #[serde(default)]
    pub codes: BTreeMap<String, AuthCode>,
    /// Browser login in progress (root authentication sessions, by id): see [`crate::login`].
    #[serde(default)]
    pub auth_sessions: BTreeMap<String, crate::login::RootAuthSession>,
    /// Revoked access tokens: `jti` -> `exp` (kept until they expire anyway).
    #[serde(default)]
    pub revoked_tokens: BTreeMap<String, u64>,
    /// The declarative user profile (`UPConfig`), `None` for Keycloak's default.
    #[serde(default)]
    pub user_profile: Option<Value>,
}

/// Settings of a new realm (RealmManager#setupRealmDefaults and the import defaults).
fn default_realm_settings(name: &str) -> Map<String, Value> {
    let v = json!({
        "notBefore": 0,
        "defaultSignatureAlgorithm": "RS256",
        "revokeRefreshToken": false,
        "refreshTokenMaxReuse": 0,
        "accessTokenLifespan": 300,
        "accessTokenLifespanForImplicitFlow": 900,
        "ssoSessionIdleTimeout": 1800,
        "ssoSessionMaxLifespan": 36000,
        "ssoSessionIdleTimeoutRememberMe": 0,
        "ssoSessionMaxLifespanRememberMe": 0,
        "offlineSessionIdleTimeout": 2592000,
        "offlineSessionMaxLifespanEnabled": false,
        "offlineSessionMaxLifespan": 5184000,
        "clientSessionIdleTimeout": 0,
        "clientSessionMaxLifespan": 0,
        "clientOfflineSessionIdleTimeout": 0,
        "clientOfflineSessionMaxLifespan": 0,
        "accessCodeLifespan": 60,
        "accessCodeLifespanUserAction": 300,
        "accessCodeLifespanLogin": 1800,
        "actionTokenGeneratedByAdminLifespan": 43200,
        "actionTokenGeneratedByUserLifespan": 300,
        "oauth2DeviceCodeLifespan": 600,
        "oauth2DevicePollingInterval": 5,
        "enabled": false,
        "sslRequired": "external",
        "registrationAllowed": false,
        "registrationEmailAsUsername": false,
        "rememberMe": false,
        "verifyEmail": false,
        "loginWithEmailAllowed": true,
        "duplicateEmailsAllowed": false,
        "resetPasswordAllowed": false,
        "editUsernameAllowed": false,
        "bruteForceProtected": false,
        "permanentLockout": false,
        "maxTemporaryLockouts": 0,
        "bruteForceStrategy": "MULTIPLE",
        "maxFailureWaitSeconds": 900,
        "minimumQuickLoginWaitSeconds": 60,
        "waitIncrementSeconds": 60,
        "quickLoginCheckMilliSeconds": 1000,
        "maxDeltaTimeSeconds": 43200,
        "failureFactor": 30,
        "defaultRole": {
            "name": format!("default-roles-{}", name.to_lowercase()),
            "description": "${role_default-roles}",
            "composite": true,
            "clientRole": false
        },
        "requiredCredentials": ["password"],
        "otpPolicyType": "totp",
        "otpPolicyAlgorithm": "HmacSHA1",
        "otpPolicyInitialCounter": 0,
        "otpPolicyDigits": 6,
        "otpPolicyLookAheadWindow": 1,
        "otpPolicyPeriod": 30,
        "otpPolicyCodeReusable": false,
        "browserSecurityHeaders": {
            "contentSecurityPolicyReportOnly": "",
            "xContentTypeOptions": "nosniff",
            "referrerPolicy": "no-referrer",
            "xRobotsTag": "none",
            "xFrameOptions": "SAMEORIGIN",
            "contentSecurityPolicy": "frame-src 'self'; frame-ancestors 'self'; object-src 'none';",
            "strictTransportSecurity": "max-age=31536000; includeSubDomains"
        },
        "smtpServer": {},
        "eventsEnabled": false,
        "eventsListeners": ["jboss-logging"],
        "enabledEventTypes": [],
        "adminEventsEnabled": false,
        "adminEventsDetailsEnabled": false,
        "internationalizationEnabled": false,
        "supportedLocales": [],
        "browserFlow": "browser",
        "registrationFlow": "registration",
        "directGrantFlow": "direct grant",
        "resetCredentialsFlow": "reset credentials",
        "clientAuthenticationFlow": "clients",
        "dockerAuthenticationFlow": "docker auth",
        "firstBrokerLoginFlow": "first broker login",
        "attributes": {},
        "userManagedAccessAllowed": false,
        "organizationsEnabled": false,
        "adminPermissionsEnabled": false
    });
    match v {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

impl Realm {
    /// A new realm with Keycloak's defaults and built-in clients (disabled until told otherwise).
    pub fn new(name: &str, id: Option<String>, _now_ms: u64) -> Self {
        let mut realm = Realm {
            id: id.unwrap_or_else(uuid),
            name: name.to_owned(),
            settings: default_realm_settings(name),
            clients: Vec::new(),
            users: Vec::new(),
            roles: Vec::new(),
            groups: Vec::new(),
            keys: None,
            sessions: BTreeMap::new(),
            codes: BTreeMap::new(),
            auth_sessions: BTreeMap::new(),
            revoked_tokens: BTreeMap::new(),
            user_profile: None,
        };
        realm.add_builtin_clients();
        realm.add_builtin_roles();
        realm
    }

    fn add_builtin_clients(&mut self) {
        let n = self.name.clone();
        let builtins = [
            json!({"clientId": "account", "name": "${client_account}", "rootUrl": "${authBaseUrl}",
                   "baseUrl": format!("/realms/{n}/account/"), "publicClient": true,
                   "redirectUris": [format!("/realms/{n}/account/*")]}),
            json!({"clientId": "account-console", "name": "${client_account-console}",
                   "rootUrl": "${authBaseUrl}", "baseUrl": format!("/realms/{n}/account/"),
                   "publicClient": true, "redirectUris": [format!("/realms/{n}/account/*")],
                   "attributes": {"pkce.code.challenge.method": "S256",
                                  "post.logout.redirect.uris": "+"}}),
            json!({"clientId": ADMIN_CLI, "name": "${client_admin-cli}", "publicClient": true,
                   "standardFlowEnabled": false, "directAccessGrantsEnabled": true,
                   "attributes": {"client.use.lightweight.access.token.enabled": "true"}}),
            json!({"clientId": "broker", "name": "${client_broker}", "bearerOnly": true}),
            json!({"clientId": "realm-management", "name": "${client_realm-management}",
                   "bearerOnly": true}),
            json!({"clientId": "security-admin-console", "name": "${client_security-admin-console}",
                   "rootUrl": "${authAdminUrl}", "baseUrl": format!("/admin/{n}/console/"),
                   "publicClient": true, "redirectUris": [format!("/admin/{n}/console/*")],
                   "webOrigins": ["+"],
                   "attributes": {"pkce.code.challenge.method": "S256",
                                  "post.logout.redirect.uris": "+",
                                  "client.use.lightweight.access.token.enabled": "true"}}),
        ];
        for b in builtins {
            let mut fields = default_client_fields();
            if let Value::Object(extra) = b {
                fields.extend(extra);
            }
            self.clients.push(Client { id: uuid(), fields });
        }
    }

    /// The realm's user profile (Keycloak's default unless one was set or imported).
    pub fn user_profile(&self) -> Value {
        self.user_profile
            .clone()
            .unwrap_or_else(super::user_profile::default_config)
    }

    pub fn setting(&self, key: &str) -> Option<&Value> {
        self.settings.get(key)
    }
    pub fn bool_setting(&self, key: &str) -> bool {
        self.settings
            .get(key)
            .and_then(Value::as_bool)
            .unwrap_or(false)
    }
    pub fn int_setting(&self, key: &str, default: u64) -> u64 {
        self.settings
            .get(key)
            .and_then(Value::as_u64)
            .unwrap_or(default)
    }
    pub fn enabled(&self) -> bool {
        self.bool_setting("enabled")
    }
    pub fn access_token_lifespan(&self) -> u64 {
        self.int_setting("accessTokenLifespan", 300)
    }
    pub fn sso_idle_timeout(&self) -> u64 {
        self.int_setting("ssoSessionIdleTimeout", 1800)
    }
    pub fn sso_max_lifespan(&self) -> u64 {
        self.int_setting("ssoSessionMaxLifespan", 36000)
    }

    pub fn client_by_client_id(&self, client_id: &str) -> Option<&Client> {
        self.clients.iter().find(|c| c.client_id() == client_id)
    }
    pub fn client_by_id(&self, id: &str) -> Option<&Client> {
        self.clients.iter().find(|c| c.id == id)
    }
    pub fn client_by_id_mut(&mut self, id: &str) -> Option<&mut Client> {
        self.clients.iter_mut().find(|c| c.id == id)
    }
    pub fn user_by_id(&self, id: &str) -> Option<&User> {
        self.users.iter().find(|u| u.id == id)
    }
    pub fn user_by_id_mut(&mut self, id: &str) -> Option<&mut User> {
        self.users.iter_mut().find(|u| u.id == id)
    }
    pub fn user_by_username(&self, username: &str) -> Option<&User> {
        let wanted = username.to_lowercase();
        self.users.iter().find(|u| u.username == wanted)
    }
    pub fn user_by_email(&self, email: &str) -> Option<&User> {
        let wanted = email.to_lowercase();
        self.users
            .iter()
            .find(|u| u.email.as_deref() == Some(wanted.as_str()))
    }
    pub fn service_account_of(&self, client_internal_id: &str) -> Option<&User> {
        self.users
            .iter()
            .find(|u| u.service_account_client.as_deref() == Some(client_internal_id))
    }

    /// Creates the service-account user of a client if it is missing (ClientManager#enableServiceAccount).
    pub fn ensure_service_account(&mut self, client_internal_id: &str, now_ms: u64) {
        if self.service_account_of(client_internal_id).is_some() {
            return;
        }
        let Some(client) = self.client_by_id(client_internal_id) else {
            return;
        };
        let username = format!("service-account-{}", client.client_id()).to_lowercase();
        let id = uuid();
        self.users.push(User {
            id: id.clone(),
            username,
            enabled: true,
            created_timestamp: now_ms,
            service_account_client: Some(client_internal_id.to_owned()),
            ..User::default()
        });
        // ClientManager#enableServiceAccount creates the user with `addUser(realm, username)`,
        // which grants the default role.
        self.grant_default_role(&id);
    }

    pub fn remove_service_account(&mut self, client_internal_id: &str) {
        let removed: Vec<String> = self
            .users
            .iter()
            .filter(|u| u.service_account_client.as_deref() == Some(client_internal_id))
            .map(|u| u.id.clone())
            .collect();
        self.users
            .retain(|u| u.service_account_client.as_deref() != Some(client_internal_id));
        self.sessions.retain(|_, s| !removed.contains(&s.user_id));
    }

    /// Removes a user and their sessions.
    pub fn remove_user(&mut self, user_id: &str) {
        self.users.retain(|u| u.id != user_id);
        self.sessions.retain(|_, s| s.user_id != user_id);
    }

    /// The realm's representation (`GET /admin/realms/{realm}`).
    pub fn to_representation(&self) -> Value {
        let mut rep = Map::new();
        rep.insert("id".into(), json!(self.id));
        rep.insert("realm".into(), json!(self.name));
        for (k, v) in &self.settings {
            rep.insert(k.clone(), v.clone());
        }
        // `defaultRole` is the default role's brief representation (ExportUtils /
        // ModelToRepresentation#toRepresentation(realm): `toBriefRepresentation(getDefaultRole())`).
        if let Some(role) = self.realm_role(&self.default_role_name()) {
            rep.insert("defaultRole".into(), self.role_representation(role, false));
        }
        Value::Object(rep)
    }

    /// A user's representation in this realm.
    pub fn user_representation(&self, user: &User) -> Value {
        let mut rep = json!({
            "id": user.id,
            "username": user.username,
            "emailVerified": user.email_verified,
            "createdTimestamp": user.created_timestamp,
            "enabled": user.enabled,
            "totp": false,
            "disableableCredentialTypes": [],
            "requiredActions": user.required_actions,
            "notBefore": 0,
            "access": {"manageGroupMembership": true, "view": true, "mapRoles": true,
                       "impersonate": true, "manage": true}
        });
        if let Value::Object(map) = &mut rep {
            if let Some(v) = &user.first_name {
                map.insert("firstName".into(), json!(v));
            }
            if let Some(v) = &user.last_name {
                map.insert("lastName".into(), json!(v));
            }
            if let Some(v) = &user.email {
                map.insert("email".into(), json!(v));
            }
            // Attributes the user profile lets admins read (ModelToRepresentation, then the
            // profile's readable attributes): declared ones, and the rest when a policy is set.
            let profile = self.user_profile();
            let readable: Map<String, Value> = user
                .attributes
                .iter()
                .filter(|(name, _)| {
                    super::user_profile::is_declared(&profile, name)
                        || super::user_profile::admin_may_read_unmanaged(&profile)
                })
                .map(|(name, values)| (name.clone(), json!(values)))
                .collect();
            if !readable.is_empty() {
                map.insert("attributes".into(), Value::Object(readable));
            }
            if let Some(client) = user
                .service_account_client
                .as_deref()
                .and_then(|id| self.client_by_id(id))
            {
                map.insert("serviceAccountClientId".into(), json!(client.client_id()));
            }
        }
        rep
    }

    /// A client's representation (ModelToRepresentation#toRepresentation: the secret is shown
    /// to admins for confidential clients, null for public and bearer-only ones).
    pub fn client_representation(&self, client: &Client) -> Value {
        let mut rep = Map::new();
        rep.insert("id".into(), json!(client.id));
        for (k, v) in &client.fields {
            if k == "secret" {
                continue;
            }
            rep.insert(k.clone(), v.clone());
        }
        if client.is_confidential() {
            if let Some(secret) = client.secret() {
                rep.insert("secret".into(), json!(secret));
            }
        }
        let realm_client = client.client_id() == "broker"
            || if self.name == MASTER {
                client.client_id().ends_with("-realm")
            } else {
                client.client_id() == "realm-management"
            };
        let attrs = rep
            .entry("attributes")
            .or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(attrs) = attrs {
            attrs.insert("realm_client".into(), json!(realm_client.to_string()));
        }
        Value::Object(rep)
    }
}
