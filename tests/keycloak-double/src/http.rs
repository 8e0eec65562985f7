//! Keycloak's three JSON error shapes (keycloak-behaviour §0) and the HTML error page.

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

/// An error response in one of Keycloak's shapes.
#[derive(Debug, Clone)]
pub enum ApiError {
    /// Shape A: `{"errorMessage": ...}` (admin business errors; never HTML).
    A { status: StatusCode, body: Value },
    /// Shape B: `{"error": ..., "error_description": ...}` (OIDC endpoints, some admin validation).
    B {
        status: StatusCode,
        error: String,
        description: String,
    },
    /// Shape C: `{"error": "<exception message>"}` from Keycloak's error handler; rendered as an
    /// HTML page when the request accepts a non-wildcard HTML type.
    C {
        status: StatusCode,
        error: String,
        description: Option<String>,
    },
}

impl ApiError {
    pub fn a(status: StatusCode, message: impl Into<String>) -> Self {
        Self::A {
            status,
            body: json!({ "errorMessage": message.into() }),
        }
    }
    pub fn a_field(status: StatusCode, field: &str, message: &str, params: Value) -> Self {
        Self::A {
            status,
            body: json!({ "field": field, "errorMessage": message, "params": params }),
        }
    }
    pub fn b(status: StatusCode, error: &str, description: impl Into<String>) -> Self {
        Self::B {
            status,
            error: error.to_owned(),
            description: description.into(),
        }
    }
    pub fn c(status: StatusCode, error: impl Into<String>) -> Self {
        Self::C {
            status,
            error: error.into(),
            description: None,
        }
    }
    pub fn not_found(message: &str) -> Self {
        Self::c(StatusCode::NOT_FOUND, message)
    }
    /// A realm's own endpoints (discovery, token, login) for an unknown realm.
    pub fn realm_does_not_exist() -> Self {
        Self::not_found("Realm does not exist")
    }
    pub fn unauthorized() -> Self {
        Self::c(StatusCode::UNAUTHORIZED, "HTTP 401 Unauthorized")
    }
    pub fn forbidden() -> Self {
        Self::c(StatusCode::FORBIDDEN, "HTTP 403 Forbidden")
    }
    pub fn cannot_parse() -> Self {
        Self::C {
            status: StatusCode::BAD_REQUEST,
            error: "unknown_error".into(),
            description: Some("Cannot parse the JSON".into()),
        }
    }
    pub fn server_error() -> Self {
        Self::C {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            error: "unknown_error".into(),
            description: Some("For more on this error consult the server log.".into()),
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Self::A { status, .. } | Self::B { status, .. } | Self::C { status, .. } => *status,
        }
    }
}

/// Marks a response that Keycloak's error handler produced (may become HTML).
#[derive(Clone, Debug)]
pub struct HtmlCapable(pub String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match self {
            ApiError::A { status, body } => json_response(status, &body),
            ApiError::B {
                status,
                error,
                description,
            } => json_response(
                status,
                &json!({ "error": error, "error_description": description }),
            ),
            ApiError::C {
                status,
                error,
                description,
            } => {
                let body = match &description {
                    Some(d) => json!({ "error": error, "error_description": d }),
                    None => json!({ "error": error }),
                };
                let mut response = json_response(status, &body);
                response.extensions_mut().insert(HtmlCapable(error));
                response
            }
        }
    }
}

pub fn json_response(status: StatusCode, body: &Value) -> Response {
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body.to_string(),
    )
        .into_response()
}

/// `Cache-Control: no-store` and `Pragma: no-cache`, as the token, userinfo, revocation and
/// logout endpoints answer.
pub fn no_store(mut response: Response) -> Response {
    let h = response.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

/// The token of an `Authorization: Bearer ...` header (the scheme in any case).
pub fn bearer_token(headers: &HeaderMap) -> Option<String> {
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

/// The media types of the `Accept` headers, lower-cased, without parameters.
fn accepted_types(headers: &HeaderMap) -> impl Iterator<Item = String> + '_ {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|range| {
            range
                .split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
}

/// MediaTypeMatcher#isHtmlRequest: a non-wildcard type compatible with `text/html` is accepted.
pub fn accepts_html(headers: &HeaderMap) -> bool {
    accepted_types(headers).any(|t| t == "text/html")
}

/// An explicit `application/json` (the login pages then answer errors as JSON).
pub fn accepts_json(headers: &HeaderMap) -> bool {
    accepted_types(headers).any(|t| t == "application/json")
}

/// The error page Keycloak renders (error.ftl) instead of JSON for HTML clients.
pub fn html_error_page(status: StatusCode, message: &str) -> Response {
    let escaped = html_escape(message);
    let body = format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>Keycloak</title>\n</head>\n<body>\n<div id=\"kc-error-message\">\n<p class=\"instruction\">{escaped}</p>\n</div>\n</body>\n</html>\n"
    );
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html;charset=utf-8"),
        )],
        body,
    )
        .into_response()
}

pub fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_explicit_html_type_selects_the_html_page() {
        let mut h = HeaderMap::new();
        assert!(!accepts_html(&h));
        h.insert(header::ACCEPT, HeaderValue::from_static("*/*"));
        assert!(!accepts_html(&h));
        h.insert(
            header::ACCEPT,
            HeaderValue::from_static("text/*, application/json"),
        );
        assert!(!accepts_html(&h));
        h.insert(
            header::ACCEPT,
            HeaderValue::from_static("text/html,application/xhtml+xml;q=0.9,*/*;q=0.8"),
        );
        assert!(accepts_html(&h));
    }
}
