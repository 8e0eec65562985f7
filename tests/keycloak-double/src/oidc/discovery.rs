//! Discovery and the JWKS.

use axum::extract::{Path, State as AxumState};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use serde_json::{json, Value};

use crate::http::{json_response, ApiError};
use crate::server::{base_of, AppState};
use crate::token::issuer;

/// `GET /realms/{realm}/.well-known/openid-configuration`.
pub(super) async fn discovery(
    AxumState(app): AxumState<AppState>,
    Path(realm): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    app.read(|s| s.realm(&realm).map(|_| ()))
        .await
        .ok_or_else(ApiError::realm_does_not_exist)?;
    let base = base_of(&app, &headers);
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
pub(super) async fn certs(
    AxumState(app): AxumState<AppState>,
    Path(realm): Path<String>,
) -> Result<Response, ApiError> {
    app.ensure_keys(&realm).await?;
    let keys = app
        .read(|s| s.realm(&realm).and_then(|r| r.keys.clone()))
        .await
        .ok_or_else(ApiError::realm_does_not_exist)?;
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
