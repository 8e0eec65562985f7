//! A realm's OpenID Connect surface as Keycloak 26.2 serves it (keycloak-behaviour §7): discovery, the JWKS
//! (an RS256 `sig` key and an RSA-OAEP `enc` key), the authorization endpoint (checks in
//! Keycloak's order: client, redirect URI — error pages; then response type, scope, PKCE — error
//! redirects to the client), the `authorization_code` grant (the code is consumed before any other
//! check; a reused code detaches the client from the session; 60 s lifespan; PKCE), the
//! `client_credentials` grant (transient session: no refresh token, no `sid`), userinfo (errors in
//! `WWW-Authenticate` with an empty body; 403 without the `openid` scope), introspection,
//! revocation, and RP-initiated logout (with its confirmation page) plus the legacy back-channel
//! logout with a refresh token.
//!
//! Not modelled: `response_mode=form_post` and the JWT response modes, request objects and PAR,
//! implicit and hybrid flows, the device flow, DPoP, `x5c`/`x5t` certificate members in the JWKS,
//! front- and back-channel logout notifications to clients.

use std::collections::{BTreeMap, HashMap};

use axum::body::Bytes;
use axum::extract::{Path, Query, RawQuery, State as AxumState};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use jsonwebtoken::{Algorithm, DecodingKey};
use serde_json::{json, Map, Value};

use crate::http::{json_response, ApiError};
use crate::login::{self, Outcome, RootAuthSession, Stage, AUTH_SESSION_ID};
use crate::model::{random_token, uuid, Client, Realm, User, UserSession};
use crate::redirect::verify_redirect_uri;
use crate::server::AppState;
use crate::token::{
    active_session, authenticate_client, decode_claims, frontend_base, issue_tokens_with, issuer,
    parse_form, peek_claims, token_scope, TokenOptions,
};

pub fn routes() -> Router<AppState> {
    let oidc = "/realms/{realm}/protocol/openid-connect";
    Router::new()
        .route(
            "/realms/{realm}/.well-known/openid-configuration",
            get(discovery),
        )
        .route(&format!("{oidc}/certs"), get(certs))
        .route(&format!("{oidc}/auth"), get(auth_get).post(auth_post))
        .route(&format!("{oidc}/userinfo"), get(userinfo).post(userinfo))
        .route(&format!("{oidc}/token/introspect"), post(introspect))
        .route(&format!("{oidc}/revoke"), post(revoke))
        .route(&format!("{oidc}/logout"), get(logout_get).post(logout_post))
        .route(
            &format!("{oidc}/logout/logout-confirm"),
            post(logout_confirm),
        )
}

fn oauth(status: StatusCode, error: &str, description: &str) -> ApiError {
    ApiError::b(status, error, description)
}

fn no_store(mut r: Response) -> Response {
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r.headers_mut()
        .insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    r
}

// ---------------------------------------------------------------- discovery and keys

/// `GET /realms/{realm}/.well-known/openid-configuration`.
async fn discovery(
    AxumState(app): AxumState<AppState>,
    Path(realm): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    app.read(|s| s.realm(&realm).map(|_| ()))
        .await
        .ok_or_else(|| ApiError::not_found("Realm does not exist"))?;
    let base = frontend_base(&headers, &app.config.hostname);
    Ok(json_response(
        StatusCode::OK,
        &discovery_document(&base, &realm),
    ))
}

/// The discovery document (the keys Keycloak 26 serves, endpoints under the request's base URL
/// with the host forced to KC_HOSTNAME).
pub fn discovery_document(base: &str, realm: &str) -> Value {
    let iss = issuer(base, realm);
    let p = format!("{iss}/protocol/openid-connect");
    let sig = json!([
        "PS384", "RS384", "EdDSA", "ES384", "HS256", "HS512", "ES256", "RS256", "HS384", "ES512",
        "PS256", "PS512", "RS512"
    ]);
    let asym = json!([
        "PS384", "RS384", "EdDSA", "ES384", "ES256", "RS256", "ES512", "PS256", "PS512", "RS512"
    ]);
    let enc_alg = json!([
        "ECDH-ES+A256KW",
        "ECDH-ES+A192KW",
        "ECDH-ES+A128KW",
        "RSA-OAEP",
        "RSA-OAEP-256",
        "RSA1_5",
        "ECDH-ES"
    ]);
    let enc_enc = json!([
        "A256GCM",
        "A192GCM",
        "A128GCM",
        "A128CBC-HS256",
        "A192CBC-HS384",
        "A256CBC-HS512"
    ]);
    let auth_methods = json!([
        "private_key_jwt",
        "client_secret_basic",
        "client_secret_post",
        "tls_client_auth",
        "client_secret_jwt"
    ]);
    json!({
        "issuer": iss,
        "authorization_endpoint": format!("{p}/auth"),
        "token_endpoint": format!("{p}/token"),
        "introspection_endpoint": format!("{p}/token/introspect"),
        "userinfo_endpoint": format!("{p}/userinfo"),
        "end_session_endpoint": format!("{p}/logout"),
        "frontchannel_logout_session_supported": true,
        "frontchannel_logout_supported": true,
        "jwks_uri": format!("{p}/certs"),
        "check_session_iframe": format!("{p}/login-status-iframe.html"),
        "grant_types_supported": ["authorization_code", "client_credentials", "implicit", "password", "refresh_token", "urn:ietf:params:oauth:grant-type:device_code", "urn:ietf:params:oauth:grant-type:token-exchange", "urn:ietf:params:oauth:grant-type:uma-ticket", "urn:openid:params:grant-type:ciba"],
        "acr_values_supported": ["0", "1"],
        "response_types_supported": ["code", "none", "id_token", "token", "id_token token", "code id_token", "code token", "code id_token token"],
        "subject_types_supported": ["public", "pairwise"],
        "prompt_values_supported": ["none", "login", "consent"],
        "id_token_signing_alg_values_supported": asym,
        "id_token_encryption_alg_values_supported": enc_alg,
        "id_token_encryption_enc_values_supported": enc_enc,
        "userinfo_signing_alg_values_supported": asym,
        "userinfo_encryption_alg_values_supported": enc_alg,
        "userinfo_encryption_enc_values_supported": enc_enc,
        "request_object_signing_alg_values_supported": asym,
        "request_object_encryption_alg_values_supported": enc_alg,
        "request_object_encryption_enc_values_supported": enc_enc,
        "response_modes_supported": ["query", "fragment", "form_post", "query.jwt", "fragment.jwt", "form_post.jwt", "jwt"],
        "registration_endpoint": format!("{iss}/clients-registrations/openid-connect"),
        "token_endpoint_auth_methods_supported": auth_methods,
        "token_endpoint_auth_signing_alg_values_supported": sig,
        "introspection_endpoint_auth_methods_supported": auth_methods,
        "introspection_endpoint_auth_signing_alg_values_supported": sig,
        "authorization_signing_alg_values_supported": asym,
        "authorization_encryption_alg_values_supported": enc_alg,
        "authorization_encryption_enc_values_supported": enc_enc,
        "claims_supported": ["iss", "sub", "aud", "exp", "iat", "auth_time", "name", "given_name", "family_name", "preferred_username", "email", "acr", "azp", "nonce"],
        "claim_types_supported": ["normal"],
        "claims_parameter_supported": true,
        "scopes_supported": ["openid", "web-origins", "acr", "roles", "profile", "basic", "email", "address", "phone", "offline_access", "organization", "microprofile-jwt"],
        "request_parameter_supported": true,
        "request_uri_parameter_supported": true,
        "require_request_uri_registration": true,
        "code_challenge_methods_supported": ["plain", "S256"],
        "tls_client_certificate_bound_access_tokens": true,
        "revocation_endpoint": format!("{p}/revoke"),
        "revocation_endpoint_auth_methods_supported": auth_methods,
        "revocation_endpoint_auth_signing_alg_values_supported": sig,
        "backchannel_logout_supported": true,
        "backchannel_logout_session_supported": true,
        "device_authorization_endpoint": format!("{p}/auth/device"),
        "backchannel_token_delivery_modes_supported": ["poll", "ping"],
        "backchannel_authentication_endpoint": format!("{p}/ext/ciba/auth"),
        "backchannel_authentication_request_signing_alg_values_supported": ["PS384", "RS384", "EdDSA", "ES384", "ES256", "RS256", "ES512", "PS256", "PS512", "RS512"],
        "require_pushed_authorization_requests": false,
        "pushed_authorization_request_endpoint": format!("{p}/ext/par/request"),
        "mtls_endpoint_aliases": {
            "token_endpoint": format!("{p}/token"),
            "revocation_endpoint": format!("{p}/revoke"),
            "introspection_endpoint": format!("{p}/token/introspect"),
            "device_authorization_endpoint": format!("{p}/auth/device"),
            "registration_endpoint": format!("{iss}/clients-registrations/openid-connect"),
            "userinfo_endpoint": format!("{p}/userinfo"),
            "pushed_authorization_request_endpoint": format!("{p}/ext/par/request"),
            "backchannel_authentication_endpoint": format!("{p}/ext/ciba/auth")
        },
        "authorization_response_iss_parameter_supported": true
    })
}

/// `GET .../certs`: the encryption key first, then the signing key (clients must pick by `kid`).
async fn certs(
    AxumState(app): AxumState<AppState>,
    Path(realm): Path<String>,
) -> Result<Response, ApiError> {
    app.ensure_keys(&realm).await?;
    let keys = app
        .read(|s| s.realm(&realm).and_then(|r| r.keys.clone()))
        .await
        .ok_or_else(|| ApiError::not_found("Realm does not exist"))?;
    let mut list = Vec::new();
    if let Some(enc) = &keys.rsa_enc {
        list.push(json!({"kid": enc.kid, "kty": "RSA", "alg": "RSA-OAEP", "use": "enc", "n": enc.n, "e": enc.e}));
    }
    list.push(json!({"kid": keys.rsa_kid, "kty": "RSA", "alg": "RS256", "use": "sig", "n": keys.rsa_n, "e": keys.rsa_e}));
    let mut r = json_response(StatusCode::OK, &json!({ "keys": list }));
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/jwk-set+json"),
    );
    Ok(r)
}

// ---------------------------------------------------------------- authorization endpoint

async fn auth_get(
    AxumState(app): AxumState<AppState>,
    Path(realm): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let params = first_values(query.unwrap_or_default().as_bytes());
    authorize(&app, &realm, &headers, params).await
}

async fn auth_post(
    AxumState(app): AxumState<AppState>,
    Path(realm): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    authorize(&app, &realm, &headers, parse_form(&body)).await
}

fn first_values(raw: &[u8]) -> HashMap<String, String> {
    parse_form(raw)
}

async fn authorize(
    app: &AppState,
    realm_name: &str,
    headers: &HeaderMap,
    p: HashMap<String, String>,
) -> Response {
    login::run_step(app, realm_name, headers, |realm, cookies, base, now| {
        match check_authorization_request(realm, &p, base) {
            Ok(req) => login::begin(realm, req, cookies, base, now),
            Err(outcome) => outcome,
        }
    })
    .await
}

/// AuthorizationEndpoint#process: what is checked, in which order, and how each failure is
/// answered (an error page before the redirect URI is trusted, an error redirect after).
fn check_authorization_request(
    realm: &Realm,
    p: &HashMap<String, String>,
    base: &str,
) -> Result<login::LoginRequest, Outcome> {
    let page = |status: StatusCode, m: &str| Outcome::error(status, m);
    if !realm.enabled() {
        return Err(page(StatusCode::BAD_REQUEST, "Realm not enabled"));
    }
    let Some(client_id) = p.get("client_id") else {
        return Err(page(
            StatusCode::BAD_REQUEST,
            "Missing parameters: client_id",
        ));
    };
    let Some(client) = realm.client_by_client_id(client_id) else {
        return Err(page(StatusCode::BAD_REQUEST, "Client not found."));
    };
    if !client.enabled() {
        return Err(page(StatusCode::BAD_REQUEST, "Client disabled."));
    }
    if client.is_bearer_only() {
        return Err(page(
            StatusCode::FORBIDDEN,
            "Bearer-only applications are not allowed to initiate browser login.",
        ));
    }
    let scope = p.get("scope").cloned();
    let is_oidc = scope
        .as_deref()
        .is_some_and(|s| s.split_whitespace().any(|x| x == "openid"));
    let valid = client.redirect_uris();
    let redirect_param = p.get("redirect_uri").cloned();
    let redirect = match &redirect_param {
        Some(r) => verify_redirect_uri(Some(r), &valid, client.str_field("rootUrl"), base),
        // OAuth2 without openid: a single valid redirect URI may stand in for the parameter.
        None if !is_oidc && valid.len() == 1 => {
            Some(valid[0].split("/*").next().unwrap_or(&valid[0]).to_string())
        }
        None => None,
    };
    let Some(redirect_uri) = redirect else {
        return Err(page(
            StatusCode::BAD_REQUEST,
            "Invalid parameter: redirect_uri",
        ));
    };

    let response_mode = p.get("response_mode").cloned();
    let mut req = login::LoginRequest {
        client_id: client_id.clone(),
        redirect_uri,
        redirect_uri_param: redirect_param,
        response_mode: "query".into(),
        state: p.get("state").cloned(),
        nonce: p.get("nonce").cloned(),
        scope: scope.clone(),
        code_challenge: p.get("code_challenge").cloned(),
        code_challenge_method: p.get("code_challenge_method").cloned(),
        login_hint: p.get("login_hint").cloned(),
        prompt: p.get("prompt").cloned(),
    };
    let fail = |req: &login::LoginRequest, error: &str, description: Option<&str>| {
        let tab = tab_for_errors(req);
        login::error_redirect(&tab, base, &realm.name, error, description)
    };
    let Some(response_type) = p.get("response_type") else {
        return Err(fail(
            &req,
            "invalid_request",
            Some("Missing parameter: response_type"),
        ));
    };
    let types: Vec<&str> = response_type.split_whitespace().collect();
    let known = ["code", "token", "id_token", "none"];
    if types.is_empty() || types.iter().any(|t| !known.contains(t)) {
        return Err(fail(&req, "unsupported_response_type", None));
    }
    let implicit = types.contains(&"token") || types.contains(&"id_token");
    match (response_mode.as_deref(), implicit) {
        (None | Some("query"), false) => {}
        (None, true) | (Some("fragment"), _) => req.response_mode = "fragment".into(),
        (Some("query"), true) => {
            return Err(fail(
                &req,
                "invalid_request",
                Some("Response_mode 'query' not allowed for implicit or hybrid flow"),
            ));
        }
        (Some(_), _) => {
            return Err(fail(
                &req,
                "invalid_request",
                Some("Invalid parameter: response_mode"),
            ))
        }
    }
    if (types.contains(&"code") || types.contains(&"none")) && !client.standard_flow_enabled() {
        return Err(fail(
            &req,
            "unauthorized_client",
            Some("Client is not allowed to initiate browser login with given response_type. Standard flow is disabled for the client."),
        ));
    }
    if implicit {
        if !client.bool_field("implicitFlowEnabled") {
            return Err(fail(
                &req,
                "unauthorized_client",
                Some("Client is not allowed to initiate browser login with given response_type. Implicit flow is disabled for the client."),
            ));
        }
        return Err(fail(&req, "unsupported_response_type", None));
    }
    if let Some(s) = &scope {
        let mut allowed = vec!["openid".to_owned()];
        allowed.extend(client.string_list("defaultClientScopes"));
        allowed.extend(client.string_list("optionalClientScopes"));
        if s.split_whitespace()
            .any(|x| !allowed.iter().any(|a| a == x))
        {
            return Err(fail(
                &req,
                "invalid_scope",
                Some(&format!("Invalid scopes: {s}")),
            ));
        }
    }
    if let Err(msg) = check_pkce(
        client,
        req.code_challenge.as_deref(),
        req.code_challenge_method.as_deref(),
    ) {
        return Err(fail(&req, "invalid_request", Some(&msg)));
    }
    Ok(req)
}

fn tab_for_errors(req: &login::LoginRequest) -> login::AuthTab {
    login::AuthTab {
        tab_id: String::new(),
        client_id: req.client_id.clone(),
        redirect_uri: req.redirect_uri.clone(),
        redirect_uri_param: req.redirect_uri_param.clone(),
        response_mode: req.response_mode.clone(),
        state: req.state.clone(),
        nonce: None,
        scope: None,
        code_challenge: None,
        code_challenge_method: None,
        login_hint: None,
        execution: String::new(),
        session_code: String::new(),
        stage: Stage::Authenticate,
        user_id: None,
        attempted_username: None,
        created: 0,
    }
}

fn valid_pkce_value(v: &str) -> bool {
    (43..=128).contains(&v.len())
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-._~".contains(c))
}

/// AuthorizationEndpointChecker#checkPKCEParams.
fn check_pkce(
    client: &Client,
    challenge: Option<&str>,
    method: Option<&str>,
) -> Result<(), String> {
    let enforced = client
        .attribute("pkce.code.challenge.method")
        .filter(|m| !m.is_empty());
    if let Some(required) = enforced {
        let Some(method) = method else {
            return Err("Missing parameter: code_challenge_method".into());
        };
        if method != required {
            return Err(
                "Invalid parameter: code challenge method is not matching the configured one"
                    .into(),
            );
        }
        let Some(challenge) = challenge else {
            return Err("Missing parameter: code_challenge".into());
        };
        if !valid_pkce_value(challenge) {
            return Err("Invalid parameter: code_challenge".into());
        }
        return Ok(());
    }
    match (challenge, method) {
        (None, Some(_)) => Err("Missing parameter: code_challenge".into()),
        (None, None) => Ok(()),
        (Some(_), Some(m)) if m != "S256" && m != "plain" => {
            Err("Invalid parameter: code_challenge_method".into())
        }
        (Some(c), _) if !valid_pkce_value(c) => Err("Invalid parameter: code_challenge".into()),
        _ => Ok(()),
    }
}

// ---------------------------------------------------------------- token grants

/// The `authorization_code` grant, in Keycloak's order: client authentication; the code parsed
/// and consumed (single use, even if the exchange then fails; a second use detaches the client
/// from the session); expiry; session and user; redirect URI; client; standard flow; PKCE.
pub async fn authorization_code_grant(
    app: &AppState,
    realm_name: &str,
    headers: &HeaderMap,
    form: &HashMap<String, String>,
    base: &str,
    now: u64,
) -> Result<Value, ApiError> {
    let client = app
        .read(|s| {
            let realm = s
                .realm(realm_name)
                .ok_or_else(|| ApiError::not_found("Realm does not exist"))?;
            if !realm.enabled() {
                return Err(oauth(
                    StatusCode::FORBIDDEN,
                    "access_denied",
                    "Realm not enabled",
                ));
            }
            authenticate_client(realm, headers, form)
        })
        .await?;
    let Some(code) = form.get("code").cloned() else {
        return Err(oauth(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Missing parameter: code",
        ));
    };
    // Consuming the code is committed before the exchange is checked further: `None` is an
    // unknown or already used code.
    let consumed = app
        .mutate(|s| {
            let realm = s
                .realm_mut(realm_name)
                .ok_or_else(|| ApiError::not_found("Realm does not exist"))?;
            // Used codes are remembered for their lifespan (reuse detection), then dropped.
            realm.codes.retain(|_, c| c.expires_at + 60 > now);
            Ok(match realm.codes.get_mut(&code) {
                Some(c) if !c.used => {
                    c.used = true;
                    Some(c.clone())
                }
                Some(c) => {
                    // Attempt to use the same code twice invalidates the client session.
                    let (sid, cid) = (c.session_id.clone(), c.client_id.clone());
                    if let Some(session) = realm.sessions.get_mut(&sid) {
                        session.clients.retain(|x| x != &cid);
                    }
                    None
                }
                None => None,
            })
        })
        .await?;
    let Some(code) = consumed else {
        return Err(oauth(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "Code not valid",
        ));
    };
    app.mutate(|s| {
        let realm = s
            .realm_mut(realm_name)
            .ok_or_else(|| ApiError::not_found("Realm does not exist"))?;
        exchange_code(realm, &client, &code, form, base, now)
    })
    .await
}

fn exchange_code(
    realm: &mut Realm,
    client: &Client,
    code: &crate::model::AuthCode,
    form: &HashMap<String, String>,
    base: &str,
    now: u64,
) -> Result<Value, ApiError> {
    let grant_err = |d: &str| oauth(StatusCode::BAD_REQUEST, "invalid_grant", d);
    if code.expires_at < now {
        return Err(grant_err("Code is expired"));
    }
    let session = realm
        .sessions
        .get(&code.session_id)
        .filter(|s| s.clients.iter().any(|c| c == &code.client_id))
        .cloned()
        .ok_or_else(|| grant_err("User session not found"))?;
    let user = realm
        .user_by_id(&session.user_id)
        .cloned()
        .ok_or_else(|| grant_err("User not found"))?;
    if !user.enabled {
        return Err(grant_err("User disabled"));
    }
    if !code.redirect_uri.is_empty() && form.get("redirect_uri") != Some(&code.redirect_uri) {
        return Err(grant_err("Incorrect redirect_uri"));
    }
    if client.client_id() != code.client_id {
        return Err(grant_err(
            "Auth error: Found different client_id in clientSession",
        ));
    }
    if !client.standard_flow_enabled() {
        return Err(grant_err("Client not allowed to exchange code"));
    }
    let session =
        active_session(realm, &session.id, now).ok_or_else(|| grant_err("Session not active"))?;
    check_code_verifier(client, code, form.get("code_verifier").map(String::as_str))?;
    if let Some(s) = realm.sessions.get_mut(&session.id) {
        s.last_refresh = now;
    }
    let scope = token_scope(client, Some(&code.scope));
    let opts = TokenOptions {
        nonce: code.nonce.clone(),
        auth_time: Some(session.started),
        transient: false,
    };
    issue_tokens_with(realm, client, &user, &session, &scope, base, now, &opts)
}

/// PkceUtils: enforced clients need a verifier; otherwise a verifier needs a challenge and vice
/// versa; the verifier's format, then its match.
fn check_code_verifier(
    client: &Client,
    code: &crate::model::AuthCode,
    verifier: Option<&str>,
) -> Result<(), ApiError> {
    let grant_err = |d: &str| oauth(StatusCode::BAD_REQUEST, "invalid_grant", d);
    let challenge = code.code_challenge.as_deref();
    let method = code
        .code_challenge_method
        .as_deref()
        .filter(|m| !m.is_empty());
    let enforced = client
        .attribute("pkce.code.challenge.method")
        .is_some_and(|m| !m.is_empty());
    match (verifier, challenge) {
        (None, _) if enforced || method.is_some() => {
            Err(grant_err("PKCE code verifier not specified"))
        }
        (None, Some(_)) => Err(grant_err("PKCE code verifier not specified")),
        (Some(_), None) if !enforced && method.is_none() => Err(grant_err(
            "PKCE code verifier specified but challenge not present in authorization",
        )),
        (None, None) => Ok(()),
        (Some(v), challenge) => {
            if !valid_pkce_value(v) {
                return Err(grant_err("PKCE verification failed: Invalid code verifier"));
            }
            let encoded = if method == Some("S256") {
                use base64::Engine;
                use sha2::{Digest, Sha256};
                base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .encode(Sha256::digest(v.as_bytes()))
            } else {
                v.to_owned()
            };
            if challenge != Some(encoded.as_str()) {
                return Err(grant_err("PKCE verification failed: Code mismatch"));
            }
            Ok(())
        }
    }
}

/// ClientCredentialsGrantType#process.
pub fn client_credentials_grant(
    realm: &mut Realm,
    client: &Client,
    form: &HashMap<String, String>,
    base: &str,
    now: u64,
) -> Result<Value, ApiError> {
    let unauthorized = |d: &str| oauth(StatusCode::UNAUTHORIZED, "unauthorized_client", d);
    if client.is_bearer_only() {
        return Err(unauthorized(
            "Bearer-only client not allowed to retrieve service account",
        ));
    }
    if client.is_public() {
        return Err(unauthorized(
            "Public client not allowed to retrieve service account",
        ));
    }
    if !client.service_accounts_enabled() {
        return Err(unauthorized(
            "Client not enabled to retrieve service account",
        ));
    }
    let user = realm
        .service_account_of(&client.id)
        .cloned()
        .ok_or_else(|| {
            oauth(
                StatusCode::UNAUTHORIZED,
                "invalid_request",
                "The associated service account for the client does not exist",
            )
        })?;
    if !user.enabled {
        return Err(oauth(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            &format!("User '{}' disabled", user.username),
        ));
    }
    let scope = token_scope(client, form.get("scope").map(String::as_str));
    // A transient session: nothing is stored, no refresh token.
    let session = UserSession {
        id: uuid(),
        user_id: user.id.clone(),
        clients: vec![client.client_id().to_owned()],
        started: now,
        last_refresh: now,
    };
    let opts = TokenOptions {
        transient: true,
        ..TokenOptions::default()
    };
    issue_tokens_with(realm, client, &user, &session, &scope, base, now, &opts)
}

// ---------------------------------------------------------------- bearer tokens

/// Why a token is not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenProblem {
    /// Bad signature, type, issuer, or expired/revoked.
    Invalid,
    /// No live session holding the client.
    NoSession,
    UserDisabled,
}

/// A verified access token: its claims and the user it speaks for.
pub struct Bearer {
    pub claims: Map<String, Value>,
    pub user: User,
}

/// Access-token checks of userinfo and introspection: signature, `typ`, `iss` of this request,
/// expiry, revocation, then the session (or, for a transient service-account token, the
/// service account of a client that still has service accounts on).
pub fn verify_bearer(
    realm: &Realm,
    token: &str,
    base: &str,
    now: u64,
) -> Result<Bearer, TokenProblem> {
    let keys = realm.keys.as_ref().ok_or(TokenProblem::Invalid)?;
    let key = DecodingKey::from_rsa_pem(keys.rsa_public_pem.as_bytes())
        .map_err(|_| TokenProblem::Invalid)?;
    let claims = decode_claims(token, &key, Algorithm::RS256).ok_or(TokenProblem::Invalid)?;
    let s = |k: &str| {
        claims
            .get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let exp = claims.get("exp").and_then(Value::as_u64).unwrap_or(0);
    if s("typ") != "Bearer" || s("iss") != issuer(base, &realm.name) || exp <= now {
        return Err(TokenProblem::Invalid);
    }
    if realm.revoked_tokens.contains_key(&s("jti")) {
        return Err(TokenProblem::Invalid);
    }
    let azp = s("azp");
    let user = match claims.get("sid").and_then(Value::as_str) {
        Some(sid) => {
            let session = active_session(realm, sid, now).ok_or(TokenProblem::NoSession)?;
            if !session.clients.iter().any(|c| c == &azp) {
                return Err(TokenProblem::NoSession);
            }
            realm
                .user_by_id(&session.user_id)
                .cloned()
                .ok_or(TokenProblem::NoSession)?
        }
        None => {
            let client = realm
                .client_by_client_id(&azp)
                .filter(|c| c.enabled() && c.service_accounts_enabled())
                .ok_or(TokenProblem::NoSession)?;
            realm
                .service_account_of(&client.id)
                .filter(|u| u.id == s("sub"))
                .cloned()
                .ok_or(TokenProblem::NoSession)?
        }
    };
    if !user.enabled {
        return Err(TokenProblem::UserDisabled);
    }
    Ok(Bearer { claims, user })
}

/// The user's claims for the token's scopes (userinfo).
fn user_claims(realm: &Realm, user: &User, scope: &str, azp: &str) -> Value {
    let scopes: Vec<&str> = scope.split_whitespace().collect();
    let mut c = Map::new();
    c.insert("sub".into(), json!(user.id));
    if scopes.contains(&"email") {
        c.insert("email_verified".into(), json!(user.email_verified));
        if let Some(e) = &user.email {
            c.insert("email".into(), json!(e));
        }
    }
    if scopes.contains(&"profile") {
        let name: Vec<&str> = [user.first_name.as_deref(), user.last_name.as_deref()]
            .into_iter()
            .flatten()
            .collect();
        if !name.is_empty() {
            c.insert("name".into(), json!(name.join(" ")));
        }
        c.insert("preferred_username".into(), json!(user.username));
        if let Some(v) = &user.first_name {
            c.insert("given_name".into(), json!(v));
        }
        if let Some(v) = &user.last_name {
            c.insert("family_name".into(), json!(v));
        }
    }
    if user.service_account_client.is_some() {
        // The service-account session-note mappers.
        c.insert("client_id".into(), json!(azp));
        c.insert("clientHost".into(), json!("127.0.0.1"));
        c.insert("clientAddress".into(), json!("127.0.0.1"));
    }
    let _ = realm;
    Value::Object(c)
}

/// OAuth2Error with `json(false)`: the error in `WWW-Authenticate`, an empty body.
fn bearer_error(status: StatusCode, realm: &str, error: &str, description: &str) -> Response {
    let mut r = status.into_response();
    let value =
        format!("Bearer realm=\"{realm}\", error=\"{error}\", error_description=\"{description}\"");
    if let Ok(v) = HeaderValue::from_str(&value) {
        r.headers_mut().insert(header::WWW_AUTHENTICATE, v);
    }
    r
}

fn bearer_of(headers: &HeaderMap) -> Option<String> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, token) = v.split_once(' ')?;
            scheme
                .eq_ignore_ascii_case("bearer")
                .then(|| token.trim().to_owned())
        })
}

/// `GET|POST .../userinfo`.
async fn userinfo(
    AxumState(app): AxumState<AppState>,
    Path(realm_name): Path<String>,
    method: Method,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form = if method == Method::POST {
        parse_form(&body)
    } else {
        HashMap::new()
    };
    let token = bearer_of(&headers).or_else(|| form.get("access_token").cloned());
    let base = frontend_base(&headers, &app.config.hostname);
    let now = app.clock.now_secs();
    let answer = app
        .read(|s| {
            let realm = s.realm(&realm_name)?;
            let Some(token) = token else {
                return Some(Err(bearer_error(
                    StatusCode::BAD_REQUEST,
                    &realm.name,
                    "invalid_request",
                    "Token not provided",
                )));
            };
            Some(match verify_bearer(realm, &token, base.as_str(), now) {
                Err(TokenProblem::Invalid) => Err(bearer_error(
                    StatusCode::UNAUTHORIZED,
                    &realm.name,
                    "invalid_token",
                    "Token verification failed",
                )),
                Err(TokenProblem::NoSession) => Err(bearer_error(
                    StatusCode::UNAUTHORIZED,
                    &realm.name,
                    "invalid_token",
                    "User session not found or doesn't have client attached on it",
                )),
                Err(TokenProblem::UserDisabled) => Err(bearer_error(
                    StatusCode::BAD_REQUEST,
                    &realm.name,
                    "invalid_request",
                    "User disabled",
                )),
                Ok(b) => {
                    let scope = b
                        .claims
                        .get("scope")
                        .and_then(Value::as_str)
                        .unwrap_or_default();
                    if !scope.split_whitespace().any(|x| x == "openid") {
                        Err(bearer_error(
                            StatusCode::FORBIDDEN,
                            &realm.name,
                            "insufficient_scope",
                            "Missing openid scope",
                        ))
                    } else {
                        let azp = b
                            .claims
                            .get("azp")
                            .and_then(Value::as_str)
                            .unwrap_or_default();
                        Ok(user_claims(realm, &b.user, scope, azp))
                    }
                }
            })
        })
        .await;
    match answer {
        None => ApiError::not_found("Realm does not exist").into_response(),
        Some(Err(r)) => r,
        Some(Ok(claims)) => no_store(json_response(StatusCode::OK, &claims)),
    }
}

/// Introspection's client check: any failure is 401 "Authentication failed.", a public client 403.
fn introspection_client(
    realm: &Realm,
    headers: &HeaderMap,
    form: &HashMap<String, String>,
) -> Result<Client, ApiError> {
    let client = authenticate_client(realm, headers, form).map_err(|_| {
        oauth(
            StatusCode::UNAUTHORIZED,
            "invalid_request",
            "Authentication failed.",
        )
    })?;
    if client.is_public() {
        return Err(oauth(
            StatusCode::FORBIDDEN,
            "invalid_request",
            "Client not allowed.",
        ));
    }
    Ok(client)
}

/// Claims of a valid refresh token of this realm (HS512), if its session is alive.
fn verify_refresh(realm: &Realm, token: &str, base: &str, now: u64) -> Option<Map<String, Value>> {
    let keys = realm.keys.as_ref()?;
    let claims = decode_claims(
        token,
        &DecodingKey::from_secret(&keys.hmac_secret_bytes()),
        Algorithm::HS512,
    )?;
    let exp = claims.get("exp")?.as_u64()?;
    if exp <= now
        || claims.get("typ")?.as_str()? != "Refresh"
        || claims.get("iss")?.as_str()? != issuer(base, &realm.name)
    {
        return None;
    }
    let session = active_session(realm, claims.get("sid")?.as_str()?, now)?;
    let azp = claims.get("azp")?.as_str()?;
    session.clients.iter().any(|c| c == azp).then_some(claims)
}

/// `POST .../token/introspect`.
async fn introspect(
    AxumState(app): AxumState<AppState>,
    Path(realm_name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form = parse_form(&body);
    let base = frontend_base(&headers, &app.config.hostname);
    let now = app.clock.now_secs();
    let answer = app
        .read(|s| {
            let realm = s
                .realm(&realm_name)
                .ok_or_else(|| ApiError::not_found("Realm does not exist"))?;
            introspection_client(realm, &headers, &form)?;
            let token = form.get("token").ok_or_else(|| {
                oauth(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "Token not provided.",
                )
            })?;
            let hint = form.get("token_type_hint").map(String::as_str);
            let as_access = || {
                verify_bearer(realm, token, &base, now).ok().map(|b| {
                    let mut c = b.claims.clone();
                    if let Some(azp) = c.get("azp").cloned() {
                        c.insert("client_id".into(), azp);
                    }
                    c.insert("username".into(), json!(b.user.username));
                    c.insert("token_type".into(), json!("Bearer"));
                    c.insert("active".into(), json!(true));
                    Value::Object(c)
                })
            };
            let as_refresh = || {
                verify_refresh(realm, token, &base, now).map(|mut c| {
                    if let Some(azp) = c.get("azp").cloned() {
                        c.insert("client_id".into(), azp);
                    }
                    c.insert("token_type".into(), json!("Refresh"));
                    c.insert("active".into(), json!(true));
                    Value::Object(c)
                })
            };
            let found = if hint == Some("refresh_token") {
                as_refresh().or_else(as_access)
            } else {
                as_access().or_else(as_refresh)
            };
            Ok::<Value, ApiError>(found.unwrap_or_else(|| json!({"active": false})))
        })
        .await;
    match answer {
        Ok(v) => json_response(StatusCode::OK, &v),
        Err(e) => e.into_response(),
    }
}

/// `POST .../revoke` (RFC 7009).
async fn revoke(
    AxumState(app): AxumState<AppState>,
    Path(realm_name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form = parse_form(&body);
    let base = frontend_base(&headers, &app.config.hostname);
    let now = app.clock.now_secs();
    let answer = app
        .mutate(|s| {
            let realm = s
                .realm_mut(&realm_name)
                .ok_or_else(|| ApiError::not_found("Realm does not exist"))?;
            let client = authenticate_client(realm, &headers, &form)?;
            let token = form.get("token").ok_or_else(|| {
                oauth(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "Token not provided",
                )
            })?;
            let invalid = json!({"error": "invalid_token", "error_description": "Invalid token"});
            let claims = if let Some(c) = verify_refresh(realm, token, &base, now) {
                Some(c)
            } else {
                verify_bearer(realm, token, &base, now)
                    .ok()
                    .map(|b| b.claims)
            };
            let Some(claims) = claims else {
                return Ok(Some(invalid));
            };
            if claims.get("azp").and_then(Value::as_str) != Some(client.client_id()) {
                return Err(oauth(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "Unmatching clients",
                ));
            }
            if claims.get("typ").and_then(Value::as_str) == Some("Refresh") {
                // Revoking a refresh token ends the client's part of the session.
                if let Some(sid) = claims.get("sid").and_then(Value::as_str) {
                    detach_client(realm, sid, client.client_id());
                }
            } else {
                let jti = claims
                    .get("jti")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned();
                let exp = claims.get("exp").and_then(Value::as_u64).unwrap_or(now);
                realm.revoked_tokens.retain(|_, e| *e > now);
                realm.revoked_tokens.insert(jti, exp);
            }
            Ok(None)
        })
        .await;
    match answer {
        Ok(None) => no_store(StatusCode::OK.into_response()),
        Ok(Some(body)) => json_response(StatusCode::OK, &body),
        Err(e) => no_store(e.into_response()),
    }
}

/// Removes a client from a session; a session left without clients ends.
fn detach_client(realm: &mut Realm, sid: &str, client_id: &str) {
    let empty = match realm.sessions.get_mut(sid) {
        Some(s) => {
            s.clients.retain(|c| c != client_id);
            s.clients.is_empty()
        }
        None => false,
    };
    if empty {
        end_session(realm, sid);
    }
}

/// Ends a user session and drops its unused codes.
pub fn end_session(realm: &mut Realm, sid: &str) {
    realm.sessions.remove(sid);
    realm.codes.retain(|_, c| c.session_id != sid);
}

// ---------------------------------------------------------------- logout

#[derive(Default)]
struct LogoutParams {
    id_token_hint: Option<String>,
    client_id: Option<String>,
    post_logout_redirect_uri: Option<String>,
    state: Option<String>,
}

async fn logout_get(
    AxumState(app): AxumState<AppState>,
    Path(realm): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let params = LogoutParams {
        id_token_hint: q.get("id_token_hint").cloned(),
        client_id: q.get("client_id").cloned(),
        post_logout_redirect_uri: q.get("post_logout_redirect_uri").cloned(),
        state: q.get("state").cloned(),
    };
    rp_logout(&app, &realm, &headers, params).await
}

async fn logout_post(
    AxumState(app): AxumState<AppState>,
    Path(realm): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form = parse_form(&body);
    if form.contains_key("refresh_token") {
        return backchannel_logout(&app, &realm, &headers, &form).await;
    }
    let params = LogoutParams {
        id_token_hint: form.get("id_token_hint").cloned(),
        client_id: form.get("client_id").cloned(),
        post_logout_redirect_uri: form.get("post_logout_redirect_uri").cloned(),
        state: form.get("state").cloned(),
    };
    rp_logout(&app, &realm, &headers, params).await
}

/// The legacy form: `POST .../logout` with `refresh_token` and client authentication → 204.
async fn backchannel_logout(
    app: &AppState,
    realm_name: &str,
    headers: &HeaderMap,
    form: &HashMap<String, String>,
) -> Response {
    let base = frontend_base(headers, &app.config.hostname);
    let now = app.clock.now_secs();
    let answer = app
        .mutate(|s| {
            let realm = s
                .realm_mut(realm_name)
                .ok_or_else(|| ApiError::not_found("Realm does not exist"))?;
            let client = authenticate_client(realm, headers, form)?;
            let token = form.get("refresh_token").cloned().unwrap_or_default();
            let claims = verify_refresh(realm, &token, &base, now).ok_or_else(|| {
                oauth(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "Invalid refresh token",
                )
            })?;
            if claims.get("azp").and_then(Value::as_str) != Some(client.client_id()) {
                return Err(oauth(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "Invalid refresh token",
                ));
            }
            if let Some(sid) = claims.get("sid").and_then(Value::as_str) {
                end_session(realm, sid);
            }
            Ok(())
        })
        .await;
    match answer {
        Ok(()) => no_store(StatusCode::NO_CONTENT.into_response()),
        Err(e) => no_store(e.into_response()),
    }
}

/// The ID token hint's claims if Keycloak would accept it: signed by the realm key, `typ` ID,
/// issued by this realm (expiry is not checked for a hint).
fn verify_id_token_hint(realm: &Realm, token: &str, base: &str) -> Option<Map<String, Value>> {
    let keys = realm.keys.as_ref()?;
    let key = DecodingKey::from_rsa_pem(keys.rsa_public_pem.as_bytes()).ok()?;
    let claims = decode_claims(token, &key, Algorithm::RS256)?;
    (claims.get("typ")?.as_str()? == "ID"
        && claims.get("iss")?.as_str()? == issuer(base, &realm.name))
    .then_some(claims)
}

/// The valid post-logout redirect URIs of a client (`post.logout.redirect.uris`, `##`-separated,
/// `+` = the valid redirect URIs). None set: none allowed.
fn post_logout_uris(client: &Client) -> Vec<String> {
    let mut out = Vec::new();
    for v in client
        .attribute("post.logout.redirect.uris")
        .unwrap_or_default()
        .split("##")
        .map(str::trim)
        .filter(|v| !v.is_empty())
    {
        if v == "+" {
            out.extend(client.redirect_uris());
        } else {
            out.push(v.to_owned());
        }
    }
    out
}

async fn rp_logout(
    app: &AppState,
    realm_name: &str,
    headers: &HeaderMap,
    p: LogoutParams,
) -> Response {
    login::run_step(app, realm_name, headers, |realm, cookies, base, now| {
        logout_flow(realm, cookies, &p, base, now)
    })
    .await
}

/// LogoutEndpoint#logout (GET/POST without a refresh token).
fn logout_flow(
    realm: &mut Realm,
    cookies: &HashMap<String, String>,
    p: &LogoutParams,
    base: &str,
    now: u64,
) -> Outcome {
    if p.post_logout_redirect_uri.is_some() && p.id_token_hint.is_none() && p.client_id.is_none() {
        return Outcome::error(StatusCode::BAD_REQUEST, "Missing parameters: id_token_hint");
    }
    let mut confirmation_needed = true;
    let mut forced_confirmation = false;
    let mut client = p
        .client_id
        .as_deref()
        .and_then(|c| realm.client_by_client_id(c))
        .cloned();
    if p.client_id.is_some() && client.is_none() {
        forced_confirmation = true;
    }
    let id_token = match &p.id_token_hint {
        Some(t) => match verify_id_token_hint(realm, t, base) {
            Some(c) => Some(c),
            None => {
                return Outcome::error(StatusCode::BAD_REQUEST, "Invalid parameter: id_token_hint")
            }
        },
        None => None,
    };
    let azp = id_token
        .as_ref()
        .and_then(|c| c.get("azp"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    match &p.client_id {
        None => {
            client = azp
                .as_deref()
                .and_then(|a| realm.client_by_client_id(a))
                .cloned();
            if client.is_some() {
                confirmation_needed = false;
            }
        }
        Some(cid) => {
            if let Some(a) = &azp {
                if a != cid {
                    return Outcome::error(
                        StatusCode::BAD_REQUEST,
                        "Invalid parameter: id_token_hint",
                    );
                }
                confirmation_needed = false;
            }
        }
    }
    let mut validated = None;
    if let Some(uri) = &p.post_logout_redirect_uri {
        validated = client.as_ref().and_then(|c| {
            verify_redirect_uri(
                Some(uri),
                &post_logout_uris(c),
                c.str_field("rootUrl"),
                base,
            )
        });
        if validated.is_none() {
            return Outcome::error(StatusCode::BAD_REQUEST, "Invalid redirect uri");
        }
    }
    let hinted_sid = id_token
        .as_ref()
        .and_then(|c| c.get("sid"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    let browser = login::identity_session(realm, cookies, base, now);
    match &browser {
        Some(b) => {
            if hinted_sid.as_ref().is_some_and(|sid| sid != &b.id) {
                forced_confirmation = true;
            }
        }
        None => {
            if p.id_token_hint.is_none() && client.is_some() && validated.is_some() {
                confirmation_needed = false;
            }
        }
    }
    let session_id = browser
        .map(|b| b.id)
        .or_else(|| hinted_sid.filter(|sid| realm.sessions.contains_key(sid)));

    if confirmation_needed || forced_confirmation {
        let root_id = uuid();
        let code = random_token(43);
        let tab = login::AuthTab {
            tab_id: random_token(11),
            client_id: client
                .as_ref()
                .map(|c| c.client_id().to_owned())
                .unwrap_or_default(),
            redirect_uri: validated.clone().unwrap_or_default(),
            redirect_uri_param: None,
            response_mode: "query".into(),
            state: p.state.clone(),
            nonce: None,
            scope: None,
            code_challenge: None,
            code_challenge_method: None,
            login_hint: None,
            execution: "logout".into(),
            session_code: code.clone(),
            stage: Stage::LoggingOut,
            user_id: session_id.clone(),
            attempted_username: None,
            created: now,
        };
        realm.auth_sessions.insert(
            root_id.clone(),
            RootAuthSession {
                id: root_id.clone(),
                created: now,
                tabs: BTreeMap::from([(tab.tab_id.clone(), tab)]),
            },
        );
        return Outcome::Page {
            status: StatusCode::OK,
            html: login::logout_confirm_page(base, &realm.name, &code),
            cookies: vec![login::set_cookie(
                AUTH_SESSION_ID,
                &format!("{root_id}.keycloak-0"),
                &realm.name,
                None,
                true,
            )],
        };
    }
    finish_logout(
        realm,
        session_id.as_deref(),
        validated.as_deref(),
        p.state.as_deref(),
    )
}

fn finish_logout(
    realm: &mut Realm,
    session_id: Option<&str>,
    redirect: Option<&str>,
    state: Option<&str>,
) -> Outcome {
    if let Some(sid) = session_id {
        end_session(realm, sid);
    }
    let cookies = login::expire_identity(&realm.name);
    match redirect {
        Some(uri) => {
            let params: Vec<(&str, String)> = state
                .map(|s| vec![("state", s.to_owned())])
                .unwrap_or_default();
            Outcome::Redirect {
                location: if params.is_empty() {
                    uri.to_owned()
                } else {
                    login::with_params(uri, "query", &params)
                },
                cookies,
            }
        }
        None => Outcome::Page {
            status: StatusCode::OK,
            html: login::info_page(login::msg::LOGGED_OUT),
            cookies,
        },
    }
}

/// `POST .../logout/logout-confirm` (the confirmation page's form).
async fn logout_confirm(
    AxumState(app): AxumState<AppState>,
    Path(realm): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form = parse_form(&body);
    login::run_step(&app, &realm, &headers, |realm, cookies, base, now| {
        let _ = (base, now);
        let root_id = cookies
            .get(AUTH_SESSION_ID)
            .map(|v| v.split('.').next().unwrap_or_default().to_owned());
        let code = form.get("session_code").cloned().unwrap_or_default();
        let tab = root_id
            .as_ref()
            .and_then(|id| realm.auth_sessions.get(id))
            .and_then(|root| {
                root.tabs
                    .values()
                    .find(|t| t.session_code == code && t.stage == Stage::LoggingOut)
            })
            .cloned();
        let Some(tab) = tab else {
            return Outcome::error(StatusCode::BAD_REQUEST, login::msg::COOKIE_NOT_FOUND);
        };
        if let Some(id) = &root_id {
            realm.auth_sessions.remove(id);
        }
        if !form.contains_key("confirmLogout") {
            return Outcome::error(StatusCode::BAD_REQUEST, login::msg::STALE_CODE);
        }
        let redirect = (!tab.redirect_uri.is_empty()).then_some(tab.redirect_uri.as_str());
        finish_logout(
            realm,
            tab.user_id.as_deref(),
            redirect,
            tab.state.as_deref(),
        )
    })
    .await
}

/// Token claims without verification, for tests and diagnostics.
pub fn claims_of(token: &str) -> Option<Map<String, Value>> {
    peek_claims(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(attrs: Value) -> Client {
        let mut fields = crate::model::default_client_fields();
        fields.insert("clientId".into(), json!("c"));
        fields.insert("redirectUris".into(), json!(["http://localhost:5000/*"]));
        fields.insert("attributes".into(), attrs);
        Client {
            id: "id".into(),
            fields,
        }
    }

    #[test]
    fn pkce_parameters_are_checked_at_the_authorization_endpoint() {
        let c = client(json!({}));
        let ok = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
        assert_eq!(check_pkce(&c, Some(ok), Some("S256")), Ok(()));
        assert_eq!(check_pkce(&c, None, None), Ok(()));
        assert_eq!(
            check_pkce(&c, None, Some("S256")).unwrap_err(),
            "Missing parameter: code_challenge"
        );
        assert_eq!(
            check_pkce(&c, Some(ok), Some("S512")).unwrap_err(),
            "Invalid parameter: code_challenge_method"
        );
        assert_eq!(
            check_pkce(&c, Some("short"), Some("S256")).unwrap_err(),
            "Invalid parameter: code_challenge"
        );
        let enforced = client(json!({"pkce.code.challenge.method": "S256"}));
        assert_eq!(
            check_pkce(&enforced, None, None).unwrap_err(),
            "Missing parameter: code_challenge_method"
        );
        assert_eq!(
            check_pkce(&enforced, Some(ok), Some("plain")).unwrap_err(),
            "Invalid parameter: code challenge method is not matching the configured one"
        );
    }

    #[test]
    fn post_logout_uris_expand_plus() {
        assert!(post_logout_uris(&client(json!({}))).is_empty());
        assert_eq!(
            post_logout_uris(&client(
                json!({"post.logout.redirect.uris": "+##http://x/bye"})
            )),
            vec![
                "http://localhost:5000/*".to_string(),
                "http://x/bye".to_string()
            ]
        );
    }

    #[test]
    fn discovery_has_keycloaks_endpoints() {
        let d = discovery_document("http://localhost:8080", "testing");
        assert_eq!(d["issuer"], "http://localhost:8080/realms/testing");
        assert_eq!(
            d["end_session_endpoint"],
            "http://localhost:8080/realms/testing/protocol/openid-connect/logout"
        );
        assert_eq!(d["authorization_response_iss_parameter_supported"], true);
        assert!(d.as_object().unwrap().len() >= 50);
    }
}
