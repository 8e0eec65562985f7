//! The login cookies as `DefaultCookieProvider` writes them over plain HTTP, and the signed ones:
//! `KEYCLOAK_IDENTITY` (the SSO session) and `KC_RESTART` (the request, to start over).

use std::collections::HashMap;

use axum::http::{header, HeaderMap, HeaderValue};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::session::{AuthTab, LoginRequest};
use crate::model::{random_token, uuid, Realm, UserSession};
use crate::token::{active_session, decode_claims, issuer};

pub const AUTH_SESSION_ID: &str = "AUTH_SESSION_ID";

pub const KC_RESTART: &str = "KC_RESTART";

pub const KC_AUTH_SESSION_HASH: &str = "KC_AUTH_SESSION_HASH";

pub const KEYCLOAK_IDENTITY: &str = "KEYCLOAK_IDENTITY";

pub const KEYCLOAK_SESSION: &str = "KEYCLOAK_SESSION";

/// The cookies a request carries.
pub fn request_cookies(headers: &HeaderMap) -> HashMap<String, String> {
    let mut out = HashMap::new();
    for value in headers.get_all(header::COOKIE) {
        let Ok(text) = value.to_str() else { continue };
        for pair in text.split(';') {
            if let Some((k, v)) = pair.trim().split_once('=') {
                out.entry(k.trim().to_owned())
                    .or_insert_with(|| v.trim().to_owned());
            }
        }
    }
    out
}

pub fn cookie_path(realm: &str) -> String {
    format!("/realms/{realm}/")
}

/// A `Set-Cookie` value as Keycloak writes it over plain HTTP.
pub fn set_cookie(
    name: &str,
    value: &str,
    realm: &str,
    max_age: Option<i64>,
    http_only: bool,
) -> HeaderValue {
    let mut c = format!("{name}={value}; Version=1; Path={}", cookie_path(realm));
    if let Some(age) = max_age {
        c.push_str(&format!("; Max-Age={age}"));
        if age <= 0 {
            c.push_str("; Expires=Thu, 01 Jan 1970 00:00:10 GMT");
        }
    }
    c.push_str("; SameSite=Lax");
    if http_only {
        c.push_str("; HttpOnly");
    }
    HeaderValue::from_str(&c).unwrap_or_else(|_| HeaderValue::from_static("invalid=1"))
}

/// `AUTH_SESSION_ID`: the root authentication session, with the (single) node's route.
pub fn auth_session_cookie(root_id: &str, realm: &str) -> HeaderValue {
    set_cookie(
        AUTH_SESSION_ID,
        &format!("{root_id}.keycloak-0"),
        realm,
        None,
        true,
    )
}

pub fn expire_cookie(name: &str, realm: &str) -> HeaderValue {
    set_cookie(name, "", realm, Some(0), false)
}

fn hmac_key(realm: &Realm) -> Option<(EncodingKey, DecodingKey, String)> {
    let keys = realm.keys.as_ref()?;
    let secret = keys.hmac_secret_bytes();
    Some((
        EncodingKey::from_secret(&secret),
        DecodingKey::from_secret(&secret),
        keys.hmac_kid.clone(),
    ))
}

fn sign_hs512(realm: &Realm, claims: &Value) -> Option<String> {
    let (enc, _, kid) = hmac_key(realm)?;
    let mut h = Header::new(Algorithm::HS512);
    h.kid = Some(kid);
    jsonwebtoken::encode(&h, claims, &enc).ok()
}

/// The SSO session named by a valid `KEYCLOAK_IDENTITY` cookie.
pub fn identity_session(
    realm: &Realm,
    cookies: &HashMap<String, String>,
    base: &str,
    now: u64,
) -> Option<UserSession> {
    let token = cookies.get(KEYCLOAK_IDENTITY).filter(|t| !t.is_empty())?;
    let (_, dec, _) = hmac_key(realm)?;
    let claims = decode_claims(token, &dec, Algorithm::HS512)?;
    if claims.get("typ")?.as_str()? != "Serialized-ID"
        || claims.get("iss")?.as_str()? != issuer(base, &realm.name)
    {
        return None;
    }
    let session = active_session(realm, claims.get("sid")?.as_str()?, now)?;
    realm.user_by_id(&session.user_id).filter(|u| u.enabled)?;
    Some(session)
}

pub(super) fn identity_cookies(
    realm: &Realm,
    session: &UserSession,
    base: &str,
) -> Vec<HeaderValue> {
    let claims = json!({
        "exp": session.started + realm.sso_max_lifespan(),
        "iat": session.started,
        "jti": uuid(),
        "iss": issuer(base, &realm.name),
        "sub": session.user_id,
        "typ": "Serialized-ID",
        "sid": session.id,
        "state_checker": random_token(43),
    });
    let mut out = Vec::new();
    if let Some(token) = sign_hs512(realm, &claims) {
        out.push(set_cookie(
            KEYCLOAK_IDENTITY,
            &token,
            &realm.name,
            None,
            true,
        ));
    }
    let hash = URL_SAFE_NO_PAD.encode(Sha256::digest(session.id.as_bytes()));
    out.push(set_cookie(
        KEYCLOAK_SESSION,
        &hash,
        &realm.name,
        None,
        false,
    ));
    out
}

/// Cookies ending the browser's SSO session (logout).
pub fn expire_identity(realm: &str) -> Vec<HeaderValue> {
    vec![
        expire_cookie(KEYCLOAK_IDENTITY, realm),
        expire_cookie(KEYCLOAK_SESSION, realm),
    ]
}

/// `KC_RESTART`: the request, signed, so an expired login can start over.
pub(super) fn restart_cookie(realm: &Realm, tab: &AuthTab, base: &str, now: u64) -> Option<String> {
    sign_hs512(
        realm,
        &json!({
            "cid": tab.client_id, "pty": "openid-connect", "ruri": tab.redirect_uri,
            "act": "AUTHENTICATE", "iss": issuer(base, &realm.name), "iat": now,
            "notes": {
                "redirect_uri": tab.redirect_uri_param, "response_mode": tab.response_mode,
                "state": tab.state, "nonce": tab.nonce, "scope": tab.scope,
                "code_challenge": tab.code_challenge, "code_challenge_method": tab.code_challenge_method
            }
        }),
    )
}

pub(super) fn tab_from_restart(
    realm: &Realm,
    token: &str,
    base: &str,
    now: u64,
) -> Option<AuthTab> {
    let (_, dec, _) = hmac_key(realm)?;
    let c = decode_claims(token, &dec, Algorithm::HS512)?;
    if c.get("iss")?.as_str()? != issuer(base, &realm.name) {
        return None;
    }
    let notes = c.get("notes")?;
    let note = |k: &str| notes.get(k).and_then(Value::as_str).map(str::to_owned);
    let request = LoginRequest {
        client_id: c.get("cid")?.as_str()?.to_owned(),
        redirect_uri: c.get("ruri")?.as_str()?.to_owned(),
        redirect_uri_param: note("redirect_uri"),
        response_mode: note("response_mode").unwrap_or_else(|| "query".into()),
        state: note("state"),
        nonce: note("nonce"),
        scope: note("scope"),
        code_challenge: note("code_challenge"),
        code_challenge_method: note("code_challenge_method"),
        login_hint: None,
        prompt: None,
    };
    Some(AuthTab::new(&request, now))
}
