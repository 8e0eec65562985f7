//! The double's whole state: realms holding clients, users (with password hashes), the realm's
//! signing keys, and user sessions / authorization codes. Everything here is plain data
//! (serde), so the container form can persist it as one JSON document and reload it.
//!
//! Clients keep their model as a JSON map in Keycloak's representation field names: Keycloak's
//! update semantics ("a field absent from the request keeps the current model value") are then a
//! merge. Users are typed.

use std::collections::BTreeMap;

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use rand::distr::Alphanumeric;
use rand::Rng;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

/// The administration realm.
pub const MASTER: &str = "master";
/// The public client every realm has for password grants (used by admin tools).
pub const ADMIN_CLI: &str = "admin-cli";
/// The version the double claims to be (`/admin/serverinfo`).
pub const KEYCLOAK_VERSION: &str = "26.2.5";
/// Required action names.
pub const UPDATE_PASSWORD: &str = "UPDATE_PASSWORD";
pub const VERIFY_PROFILE: &str = "VERIFY_PROFILE";
pub const VERIFY_EMAIL: &str = "VERIFY_EMAIL";

/// Every realm, master first.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct State {
    pub realms: Vec<Realm>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Realm {
    pub id: String,
    pub name: String,
    /// Realm-level representation fields (everything but `id`, `realm` and nested collections).
    pub settings: Map<String, Value>,
    pub clients: Vec<Client>,
    pub users: Vec<User>,
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
}

/// A realm's key material: an RSA 2048 key for RS256 and an HMAC secret for HS512 refresh tokens.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RealmKeys {
    pub rsa_kid: String,
    /// PKCS#1 PEM private key.
    pub rsa_private_pem: String,
    /// PKCS#1 PEM public key.
    pub rsa_public_pem: String,
    /// JWK `n` and `e` (base64url, no padding).
    pub rsa_n: String,
    pub rsa_e: String,
    pub hmac_kid: String,
    /// Raw HMAC secret, base64 (standard).
    pub hmac_secret: String,
    /// The realm's second RSA key, for encryption (`rsa-enc-generated`, alg RSA-OAEP): only its
    /// public part is published in the JWKS, as Keycloak does.
    #[serde(default)]
    pub rsa_enc: Option<RsaPublicJwk>,
}

/// The public half of an RSA key, as JWK parameters.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RsaPublicJwk {
    pub kid: String,
    pub n: String,
    pub e: String,
}

impl RealmKeys {
    /// Generates fresh keys (slow: an RSA 2048 key; call it off the async runtime's hot path).
    pub fn generate() -> anyhow::Result<Self> {
        use rsa::pkcs1::{EncodeRsaPrivateKey, EncodeRsaPublicKey, LineEnding};
        use rsa::traits::PublicKeyParts;
        let mut rng = rand08_compat::rng();
        let private = rsa::RsaPrivateKey::new(&mut rng, 2048)?;
        let public = private.to_public_key();
        let mut secret = [0u8; 64];
        rand::rng().fill(&mut secret[..]);
        let enc = rsa::RsaPrivateKey::new(&mut rng, 2048)?.to_public_key();
        Ok(Self {
            rsa_enc: Some(RsaPublicJwk {
                kid: random_token(43),
                n: URL_SAFE_NO_PAD.encode(enc.n().to_bytes_be()),
                e: URL_SAFE_NO_PAD.encode(enc.e().to_bytes_be()),
            }),
            rsa_kid: random_token(43),
            rsa_private_pem: private.to_pkcs1_pem(LineEnding::LF)?.to_string(),
            rsa_public_pem: public.to_pkcs1_pem(LineEnding::LF)?,
            rsa_n: URL_SAFE_NO_PAD.encode(public.n().to_bytes_be()),
            rsa_e: URL_SAFE_NO_PAD.encode(public.e().to_bytes_be()),
            hmac_kid: uuid(),
            hmac_secret: STANDARD.encode(secret),
        })
    }

    /// The public key as base64 DER (SubjectPublicKeyInfo), as `GET /realms/{realm}` shows it.
    pub fn public_key_spki_b64(&self) -> String {
        use rsa::pkcs1::DecodeRsaPublicKey;
        use rsa::pkcs8::EncodePublicKey;
        rsa::RsaPublicKey::from_pkcs1_pem(&self.rsa_public_pem)
            .ok()
            .and_then(|k| k.to_public_key_der().ok())
            .map(|der| STANDARD.encode(der.as_bytes()))
            .unwrap_or_default()
    }

    pub fn hmac_secret_bytes(&self) -> Vec<u8> {
        STANDARD.decode(&self.hmac_secret).unwrap_or_default()
    }
}

/// rsa 0.9 wants a rand_core 0.6 RNG; rand 0.9's is rand_core 0.9. Bridge with OS randomness.
mod rand08_compat {
    pub struct OsRng06;
    impl rsa::rand_core::RngCore for OsRng06 {
        fn next_u32(&mut self) -> u32 {
            rand::random()
        }
        fn next_u64(&mut self) -> u64 {
            rand::random()
        }
        fn fill_bytes(&mut self, dest: &mut [u8]) {
            rand::Rng::fill(&mut rand::rng(), dest)
        }
        fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rsa::rand_core::Error> {
            self.fill_bytes(dest);
            Ok(())
        }
    }
    impl rsa::rand_core::CryptoRng for OsRng06 {}
    pub fn rng() -> OsRng06 {
        OsRng06
    }
}

/// A client: its internal id and its model in representation field names.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Client {
    pub id: String,
    pub fields: Map<String, Value>,
}

impl Client {
    pub fn client_id(&self) -> &str {
        self.str_field("clientId").unwrap_or_default()
    }
    pub fn str_field(&self, key: &str) -> Option<&str> {
        self.fields.get(key).and_then(Value::as_str)
    }
    pub fn bool_field(&self, key: &str) -> bool {
        self.fields
            .get(key)
            .and_then(Value::as_bool)
            .unwrap_or(false)
    }
    pub fn enabled(&self) -> bool {
        self.bool_field("enabled")
    }
    pub fn is_public(&self) -> bool {
        self.bool_field("publicClient")
    }
    pub fn is_bearer_only(&self) -> bool {
        self.bool_field("bearerOnly")
    }
    pub fn is_confidential(&self) -> bool {
        !self.is_public() && !self.is_bearer_only()
    }
    pub fn secret(&self) -> Option<&str> {
        self.str_field("secret")
    }
    pub fn standard_flow_enabled(&self) -> bool {
        self.bool_field("standardFlowEnabled")
    }
    pub fn direct_access_grants_enabled(&self) -> bool {
        self.bool_field("directAccessGrantsEnabled")
    }
    pub fn service_accounts_enabled(&self) -> bool {
        self.bool_field("serviceAccountsEnabled")
    }
    pub fn consent_required(&self) -> bool {
        self.bool_field("consentRequired")
    }
    pub fn string_list(&self, key: &str) -> Vec<String> {
        string_list(self.fields.get(key))
    }
    pub fn redirect_uris(&self) -> Vec<String> {
        self.string_list("redirectUris")
    }
    pub fn web_origins(&self) -> Vec<String> {
        self.string_list("webOrigins")
    }
    pub fn attribute(&self, key: &str) -> Option<&str> {
        self.fields
            .get("attributes")
            .and_then(|a| a.get(key))
            .and_then(Value::as_str)
    }
    /// Whether the client issues slim access tokens (admin-cli does).
    pub fn lightweight_access_token(&self) -> bool {
        self.attribute("client.use.lightweight.access.token.enabled") == Some("true")
    }
}

pub fn string_list(value: Option<&Value>) -> Vec<String> {
    value
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// A stored password: salted SHA-256 (the double's own scheme; Keycloak uses argon2/pbkdf2).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PasswordCredential {
    pub id: String,
    pub created_date: u64,
    pub salt: String,
    pub hash: String,
}

impl PasswordCredential {
    pub fn new(password: &str, now_ms: u64) -> Self {
        let salt = random_token(16);
        Self {
            id: uuid(),
            created_date: now_ms,
            hash: hash_password(&salt, password),
            salt,
        }
    }
    pub fn verify(&self, password: &str) -> bool {
        hash_password(&self.salt, password) == self.hash
    }
}

fn hash_password(salt: &str, password: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(salt.as_bytes());
    hasher.update([0u8]);
    hasher.update(password.as_bytes());
    STANDARD.encode(hasher.finalize())
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct User {
    pub id: String,
    /// Always lower-case.
    pub username: String,
    /// Always lower-case.
    pub email: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub email_verified: bool,
    pub enabled: bool,
    pub created_timestamp: u64,
    /// Internal attributes (e.g. `is_temporary_admin`); unmanaged attributes from requests are
    /// dropped, as with Keycloak's default user profile.
    pub attributes: BTreeMap<String, Vec<String>>,
    pub required_actions: Vec<String>,
    pub password: Option<PasswordCredential>,
    /// Internal id of the client whose service account this is.
    pub service_account_client: Option<String>,
    /// Realm roles beyond the default roles (the bootstrap admin has `admin`).
    pub realm_roles: Vec<String>,
}

impl User {
    /// Pending required actions at login, including those Keycloak derives (VERIFY_PROFILE when
    /// the default user profile's user-context requirements are unmet outside master, and
    /// VERIFY_EMAIL when the realm verifies emails).
    pub fn pending_actions(&self, realm: &Realm) -> Vec<String> {
        let mut actions = self.required_actions.clone();
        let incomplete =
            self.email.is_none() || self.first_name.is_none() || self.last_name.is_none();
        if realm.name != MASTER && incomplete && !actions.iter().any(|a| a == VERIFY_PROFILE) {
            actions.push(VERIFY_PROFILE.to_owned());
        }
        if realm.bool_setting("verifyEmail")
            && !self.email_verified
            && !actions.iter().any(|a| a == VERIFY_EMAIL)
        {
            actions.push(VERIFY_EMAIL.to_owned());
        }
        actions
    }

    pub fn is_admin(&self) -> bool {
        self.realm_roles.iter().any(|r| r == "admin")
    }
}

/// A login session (SSO session) of a user.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct UserSession {
    pub id: String,
    pub user_id: String,
    /// Client ids (not internal ids) that used this session.
    pub clients: Vec<String>,
    pub started: u64,
    pub last_refresh: u64,
}

impl UserSession {
    /// A session starting now for `user_id`, used by `client_id`.
    pub fn new(user_id: &str, client_id: &str, now: u64) -> UserSession {
        UserSession {
            id: uuid(),
            user_id: user_id.to_owned(),
            clients: vec![client_id.to_owned()],
            started: now,
            last_refresh: now,
        }
    }
}

/// An authorization code, for the OIDC module (not used by the admin API).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AuthCode {
    pub code: String,
    pub client_id: String,
    pub user_id: String,
    pub session_id: String,
    pub redirect_uri: String,
    pub scope: String,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
    pub expires_at: u64,
    pub used: bool,
}

pub fn uuid() -> String {
    uuid::Uuid::new_v4().to_string()
}

pub fn random_token(len: usize) -> String {
    rand::rng()
        .sample_iter(&Alphanumeric)
        .take(len)
        .map(char::from)
        .collect()
}

impl State {
    /// A fresh installation: the master realm with the bootstrap (temporary) admin user.
    pub fn bootstrap(admin_user: &str, admin_password: &str, now_ms: u64) -> Self {
        let mut master = Realm::new(MASTER, None, now_ms);
        for (k, v) in [
            ("enabled", json!(true)),
            ("displayName", json!("Keycloak")),
            (
                "displayNameHtml",
                json!("<div class=\"kc-logo-text\"><span>Keycloak</span></div>"),
            ),
            ("accessTokenLifespan", json!(60)),
        ] {
            master.settings.insert(k.to_owned(), v);
        }
        master.users.push(User {
            id: uuid(),
            username: admin_user.to_lowercase(),
            enabled: true,
            created_timestamp: now_ms,
            attributes: BTreeMap::from([(
                "is_temporary_admin".to_owned(),
                vec!["true".to_owned()],
            )]),
            password: Some(PasswordCredential::new(admin_password, now_ms)),
            realm_roles: vec!["admin".to_owned(), "create-realm".to_owned()],
            ..User::default()
        });
        let mut state = State {
            realms: vec![master],
        };
        state.add_realm_admin_client(MASTER);
        state
    }

    pub fn realm(&self, name: &str) -> Option<&Realm> {
        self.realms.iter().find(|r| r.name == name)
    }

    pub fn realm_mut(&mut self, name: &str) -> Option<&mut Realm> {
        self.realms.iter_mut().find(|r| r.name == name)
    }

    /// Keycloak keeps a `<realm>-realm` client in master for each realm.
    pub fn add_realm_admin_client(&mut self, realm_name: &str) {
        if let Some(master) = self.realm_mut(MASTER) {
            let client_id = format!("{realm_name}-realm");
            if master.client_by_client_id(&client_id).is_none() {
                let mut fields = default_client_fields();
                fields.insert("clientId".into(), json!(client_id));
                fields.insert("name".into(), json!(format!("{realm_name} Realm")));
                fields.insert("bearerOnly".into(), json!(true));
                master.clients.push(Client { id: uuid(), fields });
            }
        }
    }
}

/// Model defaults of a new client (Keycloak's entity defaults plus `RepresentationToModel`'s).
pub fn default_client_fields() -> Map<String, Value> {
    let v = json!({
        "surrogateAuthRequired": false,
        "enabled": true,
        "alwaysDisplayInConsole": false,
        "clientAuthenticatorType": "client-secret",
        "redirectUris": [],
        "webOrigins": [],
        "notBefore": 0,
        "bearerOnly": false,
        "consentRequired": false,
        "standardFlowEnabled": true,
        "implicitFlowEnabled": false,
        "directAccessGrantsEnabled": false,
        "serviceAccountsEnabled": false,
        "publicClient": false,
        "frontchannelLogout": false,
        "protocol": "openid-connect",
        "attributes": {},
        "authenticationFlowBindingOverrides": {},
        "fullScopeAllowed": true,
        "nodeReRegistrationTimeout": -1,
        "defaultClientScopes": ["web-origins", "acr", "roles", "profile", "basic", "email"],
        "optionalClientScopes": ["address", "phone", "offline_access", "organization", "microprofile-jwt"]
    });
    match v {
        Value::Object(map) => map,
        _ => Map::new(),
    }
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
            keys: None,
            sessions: BTreeMap::new(),
            codes: BTreeMap::new(),
            auth_sessions: BTreeMap::new(),
            revoked_tokens: BTreeMap::new(),
        };
        realm.add_builtin_clients();
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
        self.users.push(User {
            id: uuid(),
            username,
            enabled: true,
            created_timestamp: now_ms,
            service_account_client: Some(client_internal_id.to_owned()),
            ..User::default()
        });
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_verify_only_with_the_right_value() {
        let cred = PasswordCredential::new("kc_admin$123", 0);
        assert!(cred.verify("kc_admin$123"));
        assert!(!cred.verify("kc_admin$124"));
        assert_ne!(cred.hash, "kc_admin$123");
    }

    #[test]
    fn bootstrap_creates_master_with_a_lowercased_temporary_admin() {
        let state = State::bootstrap("Admin", "pw", 1);
        let master = state.realm(MASTER).expect("master");
        assert!(master.enabled());
        assert_eq!(master.access_token_lifespan(), 60);
        let admin = master.user_by_username("admin").expect("admin user");
        assert!(admin.enabled && admin.is_admin());
        assert_eq!(admin.attributes["is_temporary_admin"], vec!["true"]);
        assert!(master.client_by_client_id("master-realm").is_some());
        let cli = master.client_by_client_id(ADMIN_CLI).expect("admin-cli");
        assert!(
            cli.is_public() && cli.direct_access_grants_enabled() && !cli.standard_flow_enabled()
        );
    }

    #[test]
    fn a_new_realm_is_disabled_with_300_second_tokens_and_six_builtin_clients() {
        let realm = Realm::new("testing", None, 0);
        assert!(!realm.enabled());
        assert_eq!(realm.access_token_lifespan(), 300);
        let mut ids: Vec<_> = realm
            .clients
            .iter()
            .map(|c| c.client_id().to_owned())
            .collect();
        ids.sort();
        assert_eq!(
            ids,
            [
                "account",
                "account-console",
                "admin-cli",
                "broker",
                "realm-management",
                "security-admin-console"
            ]
        );
    }

    #[test]
    fn a_user_missing_profile_fields_must_verify_the_profile_outside_master() {
        let realm = Realm::new("testing", None, 0);
        let user = User {
            username: "u".into(),
            email: Some("u@x".into()),
            first_name: Some("U".into()),
            ..User::default()
        };
        assert_eq!(user.pending_actions(&realm), vec![VERIFY_PROFILE]);
        let complete = User {
            last_name: Some("V".into()),
            ..user
        };
        assert!(complete.pending_actions(&realm).is_empty());
    }
}
