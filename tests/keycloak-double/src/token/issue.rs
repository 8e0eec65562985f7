//! Issuing tokens: the scope, the RS256 access and ID tokens and the HS512 refresh token of one
//! grant, with the claims Keycloak puts in them.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Map, Value};

use crate::http::ApiError;
use crate::model::{uuid, Client, Realm, User, UserSession};

use super::issuer;

/// The scope string of issued tokens: `openid` when asked, the client's default scopes that
/// appear in tokens (`profile`, `email`), and any requested optional scope the client has.
pub fn token_scope(client: &Client, requested: Option<&str>) -> String {
    let requested: Vec<&str> = requested.unwrap_or("").split_whitespace().collect();
    let mut scope = Vec::new();
    if requested.contains(&"openid") {
        scope.push("openid".to_owned());
    }
    let defaults = client.string_list("defaultClientScopes");
    for s in ["profile", "email"] {
        if defaults.iter().any(|d| d == s) {
            scope.push(s.to_owned());
        }
    }
    for s in client.string_list("optionalClientScopes") {
        if requested.contains(&s.as_str()) {
            scope.push(s);
        }
    }
    scope.join(" ")
}

/// Per-grant extras of a token response.
#[derive(Clone, Debug, Default)]
pub struct TokenOptions {
    /// The authorization request's nonce (code flow), put in the access and ID tokens.
    pub nonce: Option<String>,
    /// When the user authenticated (browser logins), the ID token's `auth_time`.
    pub auth_time: Option<u64>,
    /// A transient session (client credentials): no refresh token, no `sid`, no `session_state`.
    pub transient: bool,
}

/// Signs the access token (RS256), refresh token (HS512) and, with `openid`, the ID token.
pub fn issue_tokens(
    realm: &Realm,
    client: &Client,
    user: &User,
    session: &UserSession,
    scope: &str,
    base: &str,
    now: u64,
) -> Result<Value, ApiError> {
    issue_tokens_with(
        realm,
        client,
        user,
        session,
        scope,
        base,
        now,
        &TokenOptions::default(),
    )
}

/// [`issue_tokens`] with per-grant [`TokenOptions`].
#[allow(clippy::too_many_arguments)]
pub fn issue_tokens_with(
    realm: &Realm,
    client: &Client,
    user: &User,
    session: &UserSession,
    scope: &str,
    base: &str,
    now: u64,
    opts: &TokenOptions,
) -> Result<Value, ApiError> {
    let keys = realm.keys.as_ref().ok_or_else(ApiError::server_error)?;
    let iss = issuer(base, &realm.name);
    let lifespan = client
        .attribute("access.token.lifespan")
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| realm.access_token_lifespan());
    let refresh_expires_in = realm
        .sso_idle_timeout()
        .min((session.started + realm.sso_max_lifespan()).saturating_sub(now));
    let mut access = Map::new();
    access.insert("exp".into(), json!(now + lifespan));
    access.insert("iat".into(), json!(now));
    access.insert("jti".into(), json!(format!("onrtro:{}", uuid())));
    access.insert("iss".into(), json!(iss));
    access.insert("sub".into(), json!(user.id));
    access.insert("typ".into(), json!("Bearer"));
    access.insert("azp".into(), json!(client.client_id()));
    if !opts.transient {
        access.insert("sid".into(), json!(session.id));
    }
    if let Some(nonce) = &opts.nonce {
        access.insert("nonce".into(), json!(nonce));
    }
    access.insert("scope".into(), json!(scope));
    if !client.lightweight_access_token() {
        access.insert("aud".into(), json!("account"));
        access.insert("acr".into(), json!("1"));
        access.insert(
            "realm_access".into(),
            json!({"roles": realm_roles(realm, user)}),
        );
        add_user_claims(&mut access, realm, user, scope);
    }
    let access_token = sign_rs256(keys, &Value::Object(access))?;
    let refresh = json!({
        "exp": now + refresh_expires_in,
        "iat": now,
        "jti": uuid(),
        "iss": iss,
        "aud": iss,
        "sub": user.id,
        "typ": "Refresh",
        "azp": client.client_id(),
        "sid": session.id,
        "scope": scope,
    });
    let mut header = Header::new(Algorithm::HS512);
    header.kid = Some(keys.hmac_kid.clone());
    header.typ = Some("JWT".into());
    let refresh_token = jsonwebtoken::encode(
        &header,
        &refresh,
        &EncodingKey::from_secret(&keys.hmac_secret_bytes()),
    )
    .map_err(|_| ApiError::server_error())?;
    let mut response = json!({
        "access_token": access_token,
        "expires_in": lifespan,
        "refresh_expires_in": refresh_expires_in,
        "refresh_token": refresh_token,
        "token_type": "Bearer",
        "not-before-policy": 0,
        "session_state": session.id,
        "scope": scope,
    });
    if scope.split_whitespace().any(|s| s == "openid") {
        let mut id = Map::new();
        id.insert("exp".into(), json!(now + lifespan));
        id.insert("iat".into(), json!(now));
        id.insert("jti".into(), json!(uuid()));
        id.insert("iss".into(), json!(iss));
        id.insert("aud".into(), json!(client.client_id()));
        id.insert("sub".into(), json!(user.id));
        id.insert("typ".into(), json!("ID"));
        id.insert("azp".into(), json!(client.client_id()));
        if let Some(t) = opts.auth_time {
            id.insert("auth_time".into(), json!(t));
        }
        if let Some(nonce) = &opts.nonce {
            id.insert("nonce".into(), json!(nonce));
        }
        if !opts.transient {
            id.insert("sid".into(), json!(session.id));
        }
        id.insert("at_hash".into(), json!(token_hash(&access_token)));
        id.insert("acr".into(), json!("1"));
        add_user_claims(&mut id, realm, user, scope);
        if let Value::Object(map) = &mut response {
            map.insert(
                "id_token".into(),
                json!(sign_rs256(keys, &Value::Object(id))?),
            );
        }
    }
    if opts.transient {
        if let Value::Object(map) = &mut response {
            map.remove("refresh_token");
            map.remove("session_state");
            map.insert("refresh_expires_in".into(), json!(0));
        }
    }
    Ok(response)
}

/// `at_hash`: the left half of the SHA-256 of the access token, base64url.
pub fn token_hash(token: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(token.as_bytes());
    URL_SAFE_NO_PAD.encode(&digest[..16])
}

fn realm_roles(realm: &Realm, user: &User) -> Vec<String> {
    let mut roles = vec![
        format!("default-roles-{}", realm.name.to_lowercase()),
        "offline_access".to_owned(),
        "uma_authorization".to_owned(),
    ];
    // Direct mappings now include the default role for users made through the admin API.
    for role in &user.realm_roles {
        if !roles.contains(role) {
            roles.push(role.clone());
        }
    }
    roles
}

fn add_user_claims(claims: &mut Map<String, Value>, _realm: &Realm, user: &User, scope: &str) {
    let scopes: Vec<&str> = scope.split_whitespace().collect();
    if scopes.contains(&"email") {
        claims.insert("email_verified".into(), json!(user.email_verified));
        if let Some(email) = &user.email {
            claims.insert("email".into(), json!(email));
        }
    }
    if scopes.contains(&"profile") {
        claims.insert("preferred_username".into(), json!(user.username));
        let name: Vec<&str> = [user.first_name.as_deref(), user.last_name.as_deref()]
            .into_iter()
            .flatten()
            .collect();
        if !name.is_empty() {
            claims.insert("name".into(), json!(name.join(" ")));
        }
        if let Some(v) = &user.first_name {
            claims.insert("given_name".into(), json!(v));
        }
        if let Some(v) = &user.last_name {
            claims.insert("family_name".into(), json!(v));
        }
    }
}

pub fn sign_rs256(keys: &crate::model::RealmKeys, claims: &Value) -> Result<String, ApiError> {
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(keys.rsa_kid.clone());
    header.typ = Some("JWT".into());
    let key = EncodingKey::from_rsa_pem(keys.rsa_private_pem.as_bytes())
        .map_err(|_| ApiError::server_error())?;
    jsonwebtoken::encode(&header, claims, &key).map_err(|_| ApiError::server_error())
}
