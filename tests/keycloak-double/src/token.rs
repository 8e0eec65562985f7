//! Tokens: the token endpoint's `password` and `refresh_token` grants (keycloak-behaviour §1), RS256 access and
//! ID tokens signed with the realm key, HS512 refresh tokens (as Keycloak issues them), and
//! bearer-token verification for the admin API.
//!
//! The OIDC module adds its grants in [`grant`]'s match and reuses [`issue_tokens`],
//! [`authenticate_client`] and [`verify_access_token`].

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{Path, State as AxumState};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde_json::{json, Map, Value};

use crate::http::{no_store, ApiError};
use crate::model::{uuid, Client, Realm, User, UserSession, MASTER};
use crate::server::{base_of, AppState};

/// `http://<KC_HOSTNAME>[:<request port>]`: the request's base URL with the host forced to the
/// configured hostname (hostname v2; the port is kept, default ports dropped).
pub fn frontend_base(headers: &HeaderMap, hostname: &str) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let port = if host.starts_with('[') {
        host.rsplit_once("]:").map(|(_, p)| p)
    } else {
        host.rsplit_once(':').map(|(_, p)| p)
    };
    match port.and_then(|p| p.parse::<u16>().ok()) {
        Some(p) if p != 80 => format!("http://{hostname}:{p}"),
        _ => format!("http://{hostname}"),
    }
}

pub fn issuer(base: &str, realm: &str) -> String {
    format!("{base}/realms/{realm}")
}

/// Form parameters (first value wins).
pub fn parse_form(body: &[u8]) -> HashMap<String, String> {
    let mut out = HashMap::new();
    for (k, v) in url::form_urlencoded::parse(body) {
        out.entry(k.into_owned()).or_insert_with(|| v.into_owned());
    }
    out
}

fn oauth_error(status: StatusCode, error: &str, description: &str) -> ApiError {
    ApiError::b(status, error, description)
}

/// `POST /realms/{realm}/protocol/openid-connect/token`.
pub async fn token_endpoint(
    AxumState(app): AxumState<AppState>,
    Path(realm_name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(e) = app.ensure_keys(&realm_name).await {
        return e.into_response();
    }
    let form = parse_form(&body);
    let base = base_of(&app, &headers);
    let now = app.clock.now_secs();
    let result = if form.get("grant_type").map(String::as_str) == Some("authorization_code") {
        // Keycloak consumes the code before checking the rest: see oidc::authorization_code_grant.
        crate::oidc::authorization_code_grant(&app, &realm_name, &headers, &form, &base, now).await
    } else {
        app.mutate_realm(&realm_name, ApiError::realm_does_not_exist, |realm| {
            grant(realm, &headers, &form, &base, now)
        })
        .await
    };
    no_store(match result {
        Ok(body) => crate::http::json_response(StatusCode::OK, &body),
        Err(e) => e.into_response(),
    })
}

/// Dispatches one token request against a realm (state already locked).
pub fn grant(
    realm: &mut Realm,
    headers: &HeaderMap,
    form: &HashMap<String, String>,
    base: &str,
    now: u64,
) -> Result<Value, ApiError> {
    if !realm.enabled() {
        return Err(oauth_error(
            StatusCode::FORBIDDEN,
            "access_denied",
            "Realm not enabled",
        ));
    }
    let Some(grant_type) = form.get("grant_type") else {
        return Err(oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Missing form parameter: grant_type",
        ));
    };
    let client = authenticate_client(realm, headers, form)?;
    match grant_type.as_str() {
        "password" => password_grant(realm, &client, form, base, now),
        "refresh_token" => refresh_grant(realm, &client, form, base, now),
        "client_credentials" => {
            crate::oidc::client_credentials_grant(realm, &client, form, base, now)
        }
        _ => Err(oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "Unsupported grant_type",
        )),
    }
}

/// Client authentication: HTTP Basic or form `client_id` (+ `client_secret` for confidential
/// clients). Returns a copy of the client.
pub fn authenticate_client(
    realm: &Realm,
    headers: &HeaderMap,
    form: &HashMap<String, String>,
) -> Result<Client, ApiError> {
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b64| STANDARD.decode(b64.trim()).ok())
        .and_then(|raw| String::from_utf8(raw).ok())
        .and_then(|pair| {
            pair.split_once(':').map(|(id, secret)| {
                let decode = |s: &str| {
                    url::form_urlencoded::parse(format!("x={s}").as_bytes())
                        .next()
                        .map(|(_, v)| v.into_owned())
                        .unwrap_or_default()
                };
                (decode(id), decode(secret))
            })
        });
    let (client_id, secret) = match basic {
        Some((id, secret)) => (Some(id), Some(secret)),
        None => (
            form.get("client_id").cloned(),
            form.get("client_secret").cloned(),
        ),
    };
    let Some(client_id) = client_id else {
        return Err(oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_client",
            "Missing client_id parameter",
        ));
    };
    let invalid = "Invalid client or Invalid client credentials";
    let client = realm
        .client_by_client_id(&client_id)
        .filter(|c| c.enabled())
        .ok_or_else(|| oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", invalid))?;
    if client.is_bearer_only() {
        return Err(oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_client",
            "Bearer-only not allowed",
        ));
    }
    if client.is_confidential() {
        let ok = matches!((client.secret(), secret.as_deref()), (Some(a), Some(b)) if a == b);
        if !ok {
            return Err(oauth_error(
                StatusCode::UNAUTHORIZED,
                "unauthorized_client",
                invalid,
            ));
        }
    }
    Ok(client.clone())
}

fn password_grant(
    realm: &mut Realm,
    client: &Client,
    form: &HashMap<String, String>,
    base: &str,
    now: u64,
) -> Result<Value, ApiError> {
    if client.consent_required() {
        return Err(oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_client",
            "Client requires user consent",
        ));
    }
    if !client.direct_access_grants_enabled() {
        return Err(oauth_error(
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
            "Client not allowed for direct access grants",
        ));
    }
    let Some(username) = form.get("username") else {
        return Err(oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_request",
            "Missing parameter: username",
        ));
    };
    let invalid = "Invalid user credentials";
    let user = realm
        .user_by_username(username)
        .or_else(|| {
            realm
                .bool_setting("loginWithEmailAllowed")
                .then(|| realm.user_by_email(username))
                .flatten()
        })
        .filter(|u| u.service_account_client.is_none())
        .ok_or_else(|| oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", invalid))?
        .clone();
    if !user.enabled {
        return Err(oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "Account disabled",
        ));
    }
    let password_ok = match (&user.password, form.get("password")) {
        (Some(cred), Some(given)) => cred.verify(given),
        _ => false,
    };
    if !password_ok {
        return Err(oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_grant",
            invalid,
        ));
    }
    if !user.pending_actions(realm).is_empty() {
        return Err(oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "Account is not fully set up",
        ));
    }
    let scope = token_scope(client, form.get("scope").map(String::as_str));
    let session = UserSession::new(&user.id, client.client_id(), now);
    realm.sessions.insert(session.id.clone(), session.clone());
    issue_tokens(realm, client, &user, &session, &scope, base, now)
}

fn refresh_grant(
    realm: &mut Realm,
    client: &Client,
    form: &HashMap<String, String>,
    base: &str,
    now: u64,
) -> Result<Value, ApiError> {
    let Some(token) = form.get("refresh_token") else {
        return Err(oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Missing parameter: refresh_token",
        ));
    };
    let invalid = || {
        oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "Invalid refresh token",
        )
    };
    let keys = realm.keys.clone().ok_or_else(invalid)?;
    let claims = decode_claims(
        token,
        &DecodingKey::from_secret(&keys.hmac_secret_bytes()),
        Algorithm::HS512,
    )
    .ok_or_else(invalid)?;
    let exp = claims.get("exp").and_then(Value::as_u64).unwrap_or(0);
    if exp <= now
        || claims.get("typ").and_then(Value::as_str) != Some("Refresh")
        || claims.get("iss").and_then(Value::as_str) != Some(issuer(base, &realm.name).as_str())
    {
        return Err(invalid());
    }
    if claims.get("azp").and_then(Value::as_str) != Some(client.client_id()) {
        return Err(oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "Invalid refresh token. Token client and authorized client don't match",
        ));
    }
    let sid = claims.get("sid").and_then(Value::as_str).unwrap_or("");
    let session = active_session(realm, sid, now).ok_or_else(|| {
        oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "Session not active",
        )
    })?;
    if !session.clients.iter().any(|c| c == client.client_id()) {
        return Err(oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "Session doesn't have required client",
        ));
    }
    let user = realm
        .user_by_id(&session.user_id)
        .filter(|u| u.enabled)
        .cloned()
        .ok_or_else(invalid)?;
    let scope = claims
        .get("scope")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    let session = {
        let stored = realm.sessions.get_mut(&session.id).ok_or_else(invalid)?;
        stored.last_refresh = now;
        stored.clone()
    };
    issue_tokens(realm, client, &user, &session, &scope, base, now)
}

/// The session if it exists and has neither idled out nor exceeded its maximum lifespan.
pub fn active_session(realm: &Realm, sid: &str, now: u64) -> Option<UserSession> {
    let session = realm.sessions.get(sid)?;
    let idle_ok = now < session.last_refresh + realm.sso_idle_timeout();
    let max_ok = now < session.started + realm.sso_max_lifespan();
    (idle_ok && max_ok).then(|| session.clone())
}

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
    roles.extend(user.realm_roles.iter().cloned());
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

/// Verifies a signature and returns the claims (expiry is checked by callers against the
/// double's clock, not the system clock).
pub fn decode_claims(token: &str, key: &DecodingKey, alg: Algorithm) -> Option<Map<String, Value>> {
    let mut validation = Validation::new(alg);
    validation.validate_exp = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    jsonwebtoken::decode::<Map<String, Value>>(token, key, &validation)
        .ok()
        .map(|data| data.claims)
}

/// Reads a JWT's claims without verifying it (to find the realm from `iss`).
pub fn peek_claims(token: &str) -> Option<Map<String, Value>> {
    let payload = token.split('.').nth(1)?;
    let raw = URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
    serde_json::from_slice(&raw).ok()
}

/// Who a valid bearer token speaks for.
#[derive(Clone, Debug)]
pub struct TokenSubject {
    pub realm: String,
    pub user: User,
    pub client_id: String,
    pub claims: Map<String, Value>,
}

/// Checks an access token the way Keycloak's bearer authentication does: signature by the
/// realm key, not expired, issuer equal to the issuer of *this* request, a live session.
pub fn verify_access_token(
    state: &crate::model::State,
    token: &str,
    base: &str,
    now: u64,
) -> Option<TokenSubject> {
    let unverified = peek_claims(token)?;
    let iss = unverified.get("iss")?.as_str()?;
    let realm_name = iss.rsplit_once("/realms/")?.1;
    let realm = state.realm(realm_name)?;
    let keys = realm.keys.as_ref()?;
    let key = DecodingKey::from_rsa_pem(keys.rsa_public_pem.as_bytes()).ok()?;
    let claims = decode_claims(token, &key, Algorithm::RS256)?;
    let exp = claims.get("exp")?.as_u64()?;
    if exp <= now
        || claims.get("typ")?.as_str()? != "Bearer"
        || claims.get("iss")?.as_str()? != issuer(base, &realm.name)
    {
        return None;
    }
    let jti = claims.get("jti").and_then(Value::as_str).unwrap_or("");
    if realm.revoked_tokens.contains_key(jti) {
        return None;
    }
    let sid = claims.get("sid")?.as_str()?;
    let session = active_session(realm, sid, now)?;
    let azp = claims.get("azp")?.as_str()?;
    if !session.clients.iter().any(|c| c == azp) {
        return None;
    }
    let user = realm.user_by_id(&session.user_id).filter(|u| u.enabled)?;
    Some(TokenSubject {
        realm: realm.name.clone(),
        user: user.clone(),
        client_id: claims.get("azp")?.as_str()?.to_owned(),
        claims,
    })
}

/// Whether the subject may use the admin API: the master realm's `admin` role.
pub fn is_master_admin(subject: &TokenSubject) -> bool {
    subject.realm == MASTER && subject.user.is_admin()
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    #[test]
    fn frontend_base_forces_the_hostname_and_keeps_the_port() {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, HeaderValue::from_static("keycloak:8080"));
        assert_eq!(frontend_base(&h, "localhost"), "http://localhost:8080");
        h.insert(header::HOST, HeaderValue::from_static("127.0.0.1:80"));
        assert_eq!(frontend_base(&h, "localhost"), "http://localhost");
        h.insert(header::HOST, HeaderValue::from_static("[::1]:41234"));
        assert_eq!(frontend_base(&h, "localhost"), "http://localhost:41234");
    }
}
