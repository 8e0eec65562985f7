//! The demo's routes and the OAuth2 calls behind them. A session (server-side, named by a
//! random HttpOnly cookie) holds the login in progress (`state`, `nonce`, PKCE verifier) and
//! then the tokens.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Form, Query, State};
use axum::http::header::{COOKIE, LOCATION, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;
use serde_json::{json, Value};

use super::pages;
use super::{callback, DemoConfig};
use crate::verify::jwt;
use crate::verify::pkce::{random_token, Pkce};

const SESSION_COOKIE: &str = "iamstack_demo_session";

/// What one browser's session holds.
#[derive(Debug, Clone, Default)]
struct Session {
    /// The login in progress: state, nonce, PKCE verifier.
    pending: Option<(String, String, String)>,
    /// After the login: the token response.
    tokens: Option<Value>,
}

#[derive(Clone)]
struct Demo {
    config: Arc<DemoConfig>,
    http: reqwest::Client,
    sessions: Arc<Mutex<HashMap<String, Session>>>,
}

pub fn router(config: DemoConfig) -> Router {
    let demo = Demo {
        config: Arc::new(config),
        http: reqwest::Client::new(),
        sessions: Arc::default(),
    };
    Router::new()
        .route("/", get(home))
        .route("/login", get(login))
        .route("/callback", get(callback_page))
        .route("/profile", get(profile))
        .route("/logout", post(logout))
        .route("/password", get(password_form).post(password_grant))
        .route("/client-credentials", post(client_credentials))
        .with_state(demo)
}

/// The session id from the request's cookie, if it names a live session.
fn session_id(demo: &Demo, headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(cookie::Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|c| c.name() == SESSION_COOKIE)
        .map(|c| c.value().to_string())
        .filter(|id| demo.sessions.lock().is_ok_and(|s| s.contains_key(id)))
}

fn set_session_cookie(id: &str) -> HeaderValue {
    let c = cookie::Cookie::build((SESSION_COOKIE, id.to_string()))
        .path("/")
        .http_only(true)
        .same_site(cookie::SameSite::Lax)
        .build();
    HeaderValue::from_str(&c.to_string()).expect("a cookie is a header value")
}

fn redirect(to: &str) -> Response {
    (StatusCode::SEE_OTHER, [(LOCATION, to.to_string())]).into_response()
}

fn error_page(title: &str, detail: &str, answer: Option<(u16, &str)>) -> Response {
    (
        StatusCode::BAD_GATEWAY,
        Html(pages::error(title, detail, answer)),
    )
        .into_response()
}

async fn home(State(demo): State<Demo>) -> Html<String> {
    Html(pages::home(&demo.config))
}

/// Start the login: a new session with `state`, `nonce` and a PKCE verifier, then Keycloak's
/// authorization endpoint.
async fn login(State(demo): State<Demo>) -> Response {
    let c = &demo.config;
    let (state, nonce, pkce) = (random_token(), random_token(), Pkce::generate());
    let mut url = match url::Url::parse(&c.authorization_endpoint) {
        Ok(u) => u,
        Err(e) => return error_page("Bad authorization endpoint", &e.to_string(), None),
    };
    url.query_pairs_mut()
        .append_pair("client_id", &c.target.client_id)
        .append_pair("redirect_uri", &callback(&c.base))
        .append_pair("response_type", "code")
        .append_pair("scope", "openid profile email")
        .append_pair("state", &state)
        .append_pair("nonce", &nonce)
        .append_pair("code_challenge", &pkce.challenge)
        .append_pair("code_challenge_method", "S256");
    let id = random_token();
    if let Ok(mut s) = demo.sessions.lock() {
        s.insert(
            id.clone(),
            Session {
                pending: Some((state, nonce, pkce.verifier)),
                tokens: None,
            },
        );
    }
    let mut response = redirect(url.as_str());
    response
        .headers_mut()
        .insert(SET_COOKIE, set_session_cookie(&id));
    response
}

#[derive(Deserialize)]
struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

/// Keycloak's redirect back: `state` must be the session's, the code is exchanged with the
/// PKCE verifier, and the ID token must verify and carry the session's `nonce`.
async fn callback_page(
    State(demo): State<Demo>,
    headers: HeaderMap,
    Query(q): Query<CallbackQuery>,
) -> Response {
    if let Some(error) = q.error {
        let detail = q.error_description.unwrap_or_default();
        return error_page(
            "Keycloak refused the login",
            &format!("{error}: {detail}"),
            None,
        );
    }
    let Some(id) = session_id(&demo, &headers) else {
        return error_page(
            "No login in progress",
            "this browser has no demo session; start again from the home page",
            None,
        );
    };
    let pending = demo
        .sessions
        .lock()
        .ok()
        .and_then(|mut s| s.get_mut(&id).and_then(|s| s.pending.take()));
    let Some((state, nonce, verifier)) = pending else {
        return error_page(
            "No login in progress",
            "this session has no login pending (used twice?)",
            None,
        );
    };
    if q.state.as_deref() != Some(state.as_str()) {
        return error_page(
            "Wrong state",
            "the `state` Keycloak sent back is not the one this session sent",
            None,
        );
    }
    let Some(code) = q.code else {
        return error_page("No code", "Keycloak's redirect has no `code`", None);
    };
    let redirect_uri = callback(&demo.config.base);
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", redirect_uri.as_str()),
        ("code_verifier", verifier.as_str()),
    ];
    let tokens = match token_request(&demo, &form).await {
        Ok(t) => t,
        Err(page) => return page,
    };
    let id_token = tokens
        .get("id_token")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let keys = jwks(&demo).await;
    match claims(&demo, &keys, id_token) {
        Ok(claims) if claims.get("nonce").and_then(Value::as_str) == Some(nonce.as_str()) => {}
        Ok(_) => {
            return error_page(
                "Wrong nonce",
                "the ID token's `nonce` is not the one this session sent",
                None,
            )
        }
        Err(e) => return error_page("The ID token does not verify", &e, None),
    }
    if let Ok(mut s) = demo.sessions.lock() {
        if let Some(session) = s.get_mut(&id) {
            session.tokens = Some(tokens);
        }
    }
    redirect("/profile")
}

async fn profile(State(demo): State<Demo>, headers: HeaderMap) -> Response {
    let tokens = session_id(&demo, &headers).and_then(|id| {
        demo.sessions
            .lock()
            .ok()
            .and_then(|s| s.get(&id).and_then(|s| s.tokens.clone()))
    });
    let Some(tokens) = tokens else {
        return redirect("/");
    };
    let str_of = |k: &str| tokens.get(k).and_then(Value::as_str).unwrap_or_default();
    let keys = jwks(&demo).await;
    let id_claims = claims(&demo, &keys, str_of("id_token"));
    let access = claims(&demo, &keys, str_of("access_token"));
    let userinfo = demo
        .http
        .get(&demo.config.userinfo_endpoint)
        .bearer_auth(str_of("access_token"))
        .send()
        .await;
    let userinfo = match userinfo {
        Ok(r) => r.json::<Value>().await.unwrap_or(Value::Null),
        Err(e) => json!({"error": e.to_string()}),
    };
    Html(pages::profile(
        &id_claims.unwrap_or_else(|e| json!({"error": e})),
        &access.unwrap_or_else(|e| json!({"error": e})),
        &userinfo,
    ))
    .into_response()
}

/// RP-initiated logout: forget the session here, then Keycloak's end-session endpoint, which
/// sends the browser back to the home page.
async fn logout(State(demo): State<Demo>, headers: HeaderMap) -> Response {
    let id_token = session_id(&demo, &headers)
        .and_then(|id| demo.sessions.lock().ok().and_then(|mut s| s.remove(&id)))
        .and_then(|s| s.tokens)
        .and_then(|t| {
            t.get("id_token")
                .and_then(Value::as_str)
                .map(str::to_string)
        });
    let c = &demo.config;
    let Ok(mut url) = url::Url::parse(&c.end_session_endpoint) else {
        return redirect("/");
    };
    {
        let mut q = url.query_pairs_mut();
        q.append_pair("client_id", &c.target.client_id)
            .append_pair("post_logout_redirect_uri", &format!("{}/", c.base));
        if let Some(t) = &id_token {
            q.append_pair("id_token_hint", t);
        }
    }
    redirect(url.as_str())
}

async fn password_form(State(demo): State<Demo>) -> Html<String> {
    Html(pages::password_form(&demo.config.target.username, None))
}

#[derive(Deserialize)]
struct Credentials {
    username: String,
    password: String,
}

async fn password_grant(State(demo): State<Demo>, Form(f): Form<Credentials>) -> Response {
    let form = [
        ("grant_type", "password"),
        ("username", f.username.as_str()),
        ("password", f.password.as_str()),
        ("scope", "openid profile email"),
    ];
    tokens_page(&demo, "Password grant", &f.username, &form).await
}

async fn client_credentials(State(demo): State<Demo>) -> Response {
    let form = [("grant_type", "client_credentials"), ("scope", "openid")];
    let who = format!("service-account-{}", demo.config.target.client_id);
    tokens_page(&demo, "Client credentials", &who, &form).await
}

/// A direct grant's page: the token response and the access token's verified claims, or the
/// error page with Keycloak's answer.
async fn tokens_page(demo: &Demo, title: &str, who: &str, form: &[(&str, &str)]) -> Response {
    let tokens = match token_request(demo, form).await {
        Ok(t) => t,
        Err(page) => return page,
    };
    let access = tokens
        .get("access_token")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let access_claims =
        claims(demo, &jwks(demo).await, access).unwrap_or_else(|e| json!({"error": e}));
    Html(pages::tokens(title, who, &tokens, &access_claims)).into_response()
}

/// The token endpoint with the client's secret (HTTP Basic); a refusal becomes an error page
/// with Keycloak's answer.
async fn token_request(demo: &Demo, form: &[(&str, &str)]) -> Result<Value, Response> {
    let c = &demo.config;
    let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    let resp = demo
        .http
        .post(&c.token_endpoint)
        .basic_auth(enc(&c.target.client_id), Some(enc(&c.target.client_secret)))
        .form(form)
        .send()
        .await
        .map_err(|e| error_page("Keycloak cannot be reached", &e.to_string(), None))?;
    let status = resp.status().as_u16();
    let body = resp.text().await.unwrap_or_default();
    if status != 200 {
        return Err(error_page(
            "Keycloak refused the token request",
            "",
            Some((status, &body)),
        ));
    }
    serde_json::from_str(&body).map_err(|e| {
        error_page(
            "Keycloak's answer is not JSON",
            &e.to_string(),
            Some((status, &body)),
        )
    })
}

/// The realm's keys (JWKS), read once per page that checks tokens.
async fn jwks(demo: &Demo) -> Result<Value, String> {
    demo.http
        .get(&demo.config.jwks_uri)
        .send()
        .await
        .map_err(|e| e.to_string())?
        .json()
        .await
        .map_err(|e| e.to_string())
}

/// A token's claims once its signature verifies with the realm's keys.
fn claims(demo: &Demo, jwks: &Result<Value, String>, token: &str) -> Result<Value, String> {
    let jwks = jwks
        .as_ref()
        .map_err(|e| format!("cannot read the realm's keys: {e}"))?;
    jwt::verified_parts(token, jwks, &demo.config.issuer).map(|(_, claims)| claims)
}
