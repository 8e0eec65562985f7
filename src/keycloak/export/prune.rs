//! What Keycloak 26.2 fills in by itself, and [`prune`]: a realm document (Keycloak's
//! `RealmRepresentation` with `roles`, `groups`, `clients` and `users` embedded) without those
//! defaults, without server-made fields (ids, timestamps, `access`), with set-like lists
//! sorted, so the file keeps what someone chose. Pure: export uses it on what it read, and a
//! realm file pruned the same way compares with an export field by field.
//!
//! Defaults are those of a realm made by import (`DefaultExportImportManager#importRealm`,
//! `RepresentationToModel#createClient`), plus the ones the realm file loader fills in itself
//! (`enabled: true`, the client flow flags; keycloak-behaviour §12), so omitting them changes
//! nothing either way.

use serde_json::{json, Map, Value};

use crate::keycloak::realm_file::CLIENT_FLOW_DEFAULTS;

/// Clients every realm has (`RealmManager#setupRealmDefaults`): not exported.
pub const BUILT_IN_CLIENTS: &[&str] = &[
    "account",
    "account-console",
    "admin-cli",
    "broker",
    "realm-management",
    "security-admin-console",
];

/// Realm roles every realm has; `default-roles-<realm>` is added by [`is_built_in_role`].
const BUILT_IN_REALM_ROLES: &[&str] = &["offline_access", "uma_authorization"];

/// Is this realm role one Keycloak makes with every realm?
pub fn is_built_in_role(realm: &str, name: &str) -> bool {
    BUILT_IN_REALM_ROLES.contains(&name)
        || name == format!("default-roles-{}", realm.to_lowercase())
}

/// Realm fields Keycloak computes or keeps for itself: never exported.
const REALM_SERVER_FIELDS: &[&str] = &[
    "id",
    "defaultRole",
    "otpSupportedApplications",
    "clientPolicies",
    "clientProfiles",
    "parsedClientPolicies",
    "parsedClientProfiles",
    "keycloakVersion",
    "certificate",
    "publicKey",
    "privateKey",
    "codeSecret",
];

/// A realm's fields after import when the file does not set them.
const REALM_DEFAULTS: &str = r#"{
    "enabled": true,
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
    "requiredCredentials": [
        "password"
    ],
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
    "eventsEnabled": false,
    "eventsListeners": [
        "jboss-logging"
    ],
    "adminEventsEnabled": false,
    "adminEventsDetailsEnabled": false,
    "internationalizationEnabled": false,
    "browserFlow": "browser",
    "registrationFlow": "registration",
    "directGrantFlow": "direct grant",
    "resetCredentialsFlow": "reset credentials",
    "clientAuthenticationFlow": "clients",
    "dockerAuthenticationFlow": "docker auth",
    "firstBrokerLoginFlow": "first broker login",
    "userManagedAccessAllowed": false,
    "organizationsEnabled": false,
    "adminPermissionsEnabled": false,
    "verifiableCredentialsEnabled": false,
    "webAuthnPolicyRpEntityName": "keycloak",
    "webAuthnPolicySignatureAlgorithms": [
        "ES256",
        "RS256"
    ],
    "webAuthnPolicyAttestationConveyancePreference": "not specified",
    "webAuthnPolicyAuthenticatorAttachment": "not specified",
    "webAuthnPolicyRequireResidentKey": "not specified",
    "webAuthnPolicyUserVerificationRequirement": "not specified",
    "webAuthnPolicyCreateTimeout": 0,
    "webAuthnPolicyAvoidSameAuthenticatorRegister": false,
    "webAuthnPolicyPasswordlessRpEntityName": "keycloak",
    "webAuthnPolicyPasswordlessSignatureAlgorithms": [
        "ES256",
        "RS256"
    ],
    "webAuthnPolicyPasswordlessAttestationConveyancePreference": "not specified",
    "webAuthnPolicyPasswordlessAuthenticatorAttachment": "not specified",
    "webAuthnPolicyPasswordlessRequireResidentKey": "not specified",
    "webAuthnPolicyPasswordlessUserVerificationRequirement": "not specified",
    "webAuthnPolicyPasswordlessCreateTimeout": 0,
    "webAuthnPolicyPasswordlessAvoidSameAuthenticatorRegister": false
}"#;

fn realm_defaults() -> Value {
    serde_json::from_str(REALM_DEFAULTS).unwrap_or_default()
}

/// Realm attributes Keycloak sets on every realm (CIBA, PAR, device grant, ...), and
/// attributes that only echo a top-level field.
fn realm_attribute_defaults() -> Value {
    json!({
        "cibaBackchannelTokenDeliveryMode": "poll", "cibaExpiresIn": "120",
        "cibaAuthRequestedUserHint": "login_hint", "cibaInterval": "5",
        "parRequestUriLifespan": "60", "realmReusableOtpCode": "false",
        "frontendUrl": "", "acr.loa.map": "{}", "shortVerificationUri": ""
    })
}

fn client_defaults() -> Value {
    let mut d = json!({
        "enabled": true, "protocol": "openid-connect", "publicClient": false,
        "surrogateAuthRequired": false, "alwaysDisplayInConsole": false,
        "clientAuthenticatorType": "client-secret", "notBefore": 0, "bearerOnly": false,
        "consentRequired": false, "frontchannelLogout": false, "fullScopeAllowed": true,
        "nodeReRegistrationTimeout": -1, "authorizationServicesEnabled": false,
        "defaultClientScopes": ["acr", "basic", "email", "profile", "roles", "web-origins"],
        "optionalClientScopes":
            ["address", "microprofile-jwt", "offline_access", "organization", "phone"]
    });
    for (flag, value) in CLIENT_FLOW_DEFAULTS {
        d[*flag] = Value::Bool(*value);
    }
    d
}

/// Client fields Keycloak computes: never exported.
const CLIENT_SERVER_FIELDS: &[&str] = &["id", "access", "registeredNodes"];

fn client_attribute_defaults() -> Value {
    json!({
        "post.logout.redirect.uris": "+",
        "backchannel.logout.session.required": "true",
        "backchannel.logout.revoke.offline.tokens": "false",
        "oauth2.device.authorization.grant.enabled": "false",
        "oidc.ciba.grant.enabled": "false",
        "display.on.consent.screen": "false",
        "use.refresh.tokens": "true",
        "client_credentials.use_refresh_token": "false",
        "token.response.type.bearer.lower-case": "false",
        "require.pushed.authorization.requests": "false",
        "tls.client.certificate.bound.access.tokens": "false",
        "exclude.session.state.from.auth.response": "false",
        "exclude.issuer.from.auth.response": "false",
        "standard.token.exchange.enabled": "false",
        "frontchannel.logout.session.required": "true"
    })
}

/// Client attributes Keycloak computes or stamps: never exported.
const CLIENT_SERVER_ATTRIBUTES: &[&str] = &["realm_client", "client.secret.creation.time"];

fn user_defaults() -> Value {
    json!({"enabled": true, "emailVerified": false, "totp": false, "notBefore": 0})
}

/// User fields Keycloak computes: never exported.
const USER_SERVER_FIELDS: &[&str] = &[
    "id",
    "createdTimestamp",
    "access",
    "disableableCredentialTypes",
    "userProfileMetadata",
    "self",
    "origin",
];

/// Lists whose order Keycloak does not keep: sorted, so two documents compare.
const SET_LISTS: &[&str] = &[
    "redirectUris",
    "webOrigins",
    "defaultClientScopes",
    "optionalClientScopes",
    "requiredActions",
    "groups",
    "realmRoles",
    "eventsListeners",
    "enabledEventTypes",
    "supportedLocales",
];

/// The realm document without defaults and server fields (see the module comment).
pub fn prune(doc: &Value) -> Value {
    let Some(fields) = doc.as_object() else {
        return doc.clone();
    };
    let mut out = Map::new();
    let defaults = realm_defaults();
    for (k, v) in fields {
        let kept = match k.as_str() {
            "clients" => list_of(v, prune_client),
            "users" => list_of(v, prune_user),
            "groups" => list_of(v, prune_group).map(by_name),
            "roles" => prune_roles(v),
            "attributes" => attributes(v, &realm_attribute_defaults(), &[], Some(fields)),
            k if REALM_SERVER_FIELDS.contains(&k) => None,
            _ => field(k, v, &defaults),
        };
        if let Some(v) = kept {
            out.insert(k.clone(), v);
        }
    }
    Value::Object(out)
}

fn prune_client(c: &Value) -> Option<Value> {
    let fields = c.as_object()?;
    let mut defaults = client_defaults();
    for (k, v) in derived_client_defaults(fields) {
        defaults[k] = v;
    }
    let mut out = Map::new();
    for (k, v) in fields {
        let kept = match k.as_str() {
            "attributes" => attributes(
                v,
                &client_attribute_defaults(),
                CLIENT_SERVER_ATTRIBUTES,
                None,
            ),
            "protocolMappers" => list_of(v, |m| {
                let mut m = m.as_object()?.clone();
                m.remove("id");
                Some(Value::Object(m))
            }),
            k if CLIENT_SERVER_FIELDS.contains(&k) => None,
            _ => field(k, v, &defaults),
        };
        if let Some(v) = kept {
            out.insert(k.clone(), v);
        }
    }
    Some(Value::Object(out))
}

/// Client defaults Keycloak derives from other fields when a client is created with a
/// `protocol`, as the loader always sends (`OIDCLoginProtocolFactory#setupClientDefaults`,
/// `RepresentationToModel#updateClientProperties`; keycloak-behaviour §4): the admin URL is
/// the root URL; without redirect URIs, `<rootUrl>/*`; web origins are those of the redirect
/// URIs.
fn derived_client_defaults(fields: &Map<String, Value>) -> Vec<(&'static str, Value)> {
    let mut out = Vec::new();
    let root = fields
        .get("rootUrl")
        .and_then(Value::as_str)
        .filter(|r| !r.is_empty());
    if let Some(root) = root {
        out.push(("adminUrl", Value::from(root)));
        let redirect = format!("{}/*", root.trim_end_matches('/'));
        out.push(("redirectUris", json!([redirect])));
    }
    let mut origins: Vec<String> = Vec::new();
    for uri in fields
        .get("redirectUris")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
    {
        let origin = url::Url::parse(uri)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https"))
            .map(|u| u.origin().ascii_serialization());
        if let Some(o) = origin.filter(|o| !origins.contains(o)) {
            origins.push(o);
        }
    }
    out.push(("webOrigins", json!(origins)));
    out
}

fn prune_user(u: &Value) -> Option<Value> {
    let fields = u.as_object()?;
    let defaults = user_defaults();
    let mut out = Map::new();
    for (k, v) in fields {
        let kept = match k.as_str() {
            "username" | "email" => v.as_str().map(|s| Value::from(s.to_lowercase())),
            "clientRoles" => v.as_object().and_then(|m| {
                let roles: Map<String, Value> = m
                    .iter()
                    .filter_map(|(c, r)| Some((c.clone(), sorted(r)?)))
                    .collect();
                (!roles.is_empty()).then_some(Value::Object(roles))
            }),
            "attributes" => non_empty(v),
            k if USER_SERVER_FIELDS.contains(&k) => None,
            _ => field(k, v, &defaults),
        };
        if let Some(v) = kept {
            out.insert(k.clone(), v);
        }
    }
    Some(Value::Object(out))
}

fn prune_group(g: &Value) -> Option<Value> {
    let fields = g.as_object()?;
    let mut out = Map::new();
    out.insert("name".into(), fields.get("name")?.clone());
    for key in ["attributes", "clientRoles"] {
        if let Some(v) = fields.get(key).and_then(non_empty) {
            out.insert(key.into(), v);
        }
    }
    if let Some(v) = fields.get("realmRoles").and_then(sorted) {
        out.insert("realmRoles".into(), v);
    }
    if let Some(v) = fields
        .get("subGroups")
        .and_then(|s| list_of(s, prune_group))
    {
        out.insert("subGroups".into(), v);
    }
    Some(Value::Object(out))
}

fn prune_roles(v: &Value) -> Option<Value> {
    let role = |r: &Value| -> Option<Value> {
        let r = r.as_object()?;
        let mut out = Map::new();
        out.insert("name".into(), r.get("name")?.clone());
        if let Some(d) = r.get("description").and_then(non_empty) {
            out.insert("description".into(), d);
        }
        if let Some(a) = r.get("attributes").and_then(non_empty) {
            out.insert("attributes".into(), a);
        }
        Some(Value::Object(out))
    };
    let mut out = Map::new();
    if let Some(realm) = v.get("realm").and_then(|r| list_of(r, role)).map(by_name) {
        out.insert("realm".into(), realm);
    }
    let clients: Map<String, Value> = v
        .get("client")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .filter_map(|(c, roles)| Some((c.clone(), by_name(list_of(roles, role)?))))
        .collect();
    if !clients.is_empty() {
        out.insert("client".into(), Value::Object(clients));
    }
    (!out.is_empty()).then_some(Value::Object(out))
}

/// A field kept unless it is its default, or empty without one.
fn field(key: &str, v: &Value, defaults: &Value) -> Option<Value> {
    let v = if SET_LISTS.contains(&key) {
        sorted(v).unwrap_or(Value::Array(Vec::new()))
    } else {
        v.clone()
    };
    match defaults.get(key) {
        Some(d) if same(&v, d) => None,
        Some(_) => Some(v),
        None => non_empty(&v),
    }
}

/// `attributes` without defaults, server-made keys, and (realm) echoes of top-level fields.
fn attributes(
    v: &Value,
    defaults: &Value,
    server: &[&str],
    top_level: Option<&Map<String, Value>>,
) -> Option<Value> {
    let kept: Map<String, Value> = v
        .as_object()?
        .iter()
        .filter(|(k, _)| !server.contains(&k.as_str()))
        .filter(|(k, _)| top_level.is_none_or(|t| !t.contains_key(k.as_str())))
        .filter(|(k, v)| defaults.get(k.as_str()).is_none_or(|d| !same(v, d)))
        .filter(|(_, v)| !is_empty(v))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    (!kept.is_empty()).then_some(Value::Object(kept))
}

fn list_of(v: &Value, one: impl Fn(&Value) -> Option<Value>) -> Option<Value> {
    let items: Vec<Value> = v.as_array()?.iter().filter_map(one).collect();
    (!items.is_empty()).then_some(Value::Array(items))
}

/// Objects sorted by their `name` (Keycloak lists roles and groups by name).
fn by_name(mut v: Value) -> Value {
    if let Some(items) = v.as_array_mut() {
        items.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
    }
    v
}

fn sorted(v: &Value) -> Option<Value> {
    let mut items = v.as_array()?.clone();
    items.sort_by_key(|i| i.as_str().map_or_else(|| i.to_string(), str::to_string));
    items.dedup();
    (!items.is_empty()).then_some(Value::Array(items))
}

fn non_empty(v: &Value) -> Option<Value> {
    (!is_empty(v)).then(|| v.clone())
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        _ => false,
    }
}

/// Equal as Keycloak means it: numbers by value, a scalar and the string spelling it alike
/// (Keycloak keeps some typed values as strings), lists of strings as sets.
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Array(x), Value::Array(y)) => sorted(a) == sorted(b) || x == y,
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::String(s), other @ (Value::Bool(_) | Value::Number(_)))
        | (other @ (Value::Bool(_) | Value::Number(_)), Value::String(s)) => {
            let spelled: &str = &other.to_string();
            s == spelled
        }
        _ => a == b,
    }
}

#[cfg(test)]
mod tests;
