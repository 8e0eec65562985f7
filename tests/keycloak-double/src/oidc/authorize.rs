//! The authorization endpoint: the request's checks in Keycloak's order (client, redirect URI:
//! error pages; then response type, scope, PKCE: error redirects to the client), then the login.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State as AxumState};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

use crate::login::{self, Outcome};
use crate::model::{Client, Realm};
use crate::redirect::verify_redirect_uri;
use crate::server::AppState;
use crate::token::parse_form;

pub(super) async fn auth_get(
    AxumState(app): AxumState<AppState>,
    Path(realm): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let params = parse_form(query.unwrap_or_default().as_bytes());
    authorize(&app, &realm, &headers, params).await
}

pub(super) async fn auth_post(
    AxumState(app): AxumState<AppState>,
    Path(realm): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    authorize(&app, &realm, &headers, parse_form(&body)).await
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

pub(super) fn tab_for_errors(req: &login::LoginRequest) -> login::AuthTab {
    login::AuthTab {
        client_id: req.client_id.clone(),
        redirect_uri: req.redirect_uri.clone(),
        redirect_uri_param: req.redirect_uri_param.clone(),
        response_mode: req.response_mode.clone(),
        state: req.state.clone(),
        ..login::AuthTab::default()
    }
}

pub(super) fn valid_pkce_value(v: &str) -> bool {
    (43..=128).contains(&v.len())
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-._~".contains(c))
}

/// AuthorizationEndpointChecker#checkPKCEParams.
pub(super) fn check_pkce(
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
