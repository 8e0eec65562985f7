//! What a login step answers (a page, a redirect or Keycloak's error page), turned into a
//! response once the state is saved.

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::pages::layout;
use crate::http::{accepts_json, html_escape, json_response};

/// What a login step answers; turned into a response after the state is saved.
#[derive(Debug)]
pub enum Outcome {
    Page {
        status: StatusCode,
        html: String,
        cookies: Vec<HeaderValue>,
    },
    Redirect {
        location: String,
        cookies: Vec<HeaderValue>,
    },
    /// Keycloak's error page (`error.ftl`), or `{"error": message}` for JSON requests.
    Error { status: StatusCode, message: String },
}

impl Outcome {
    pub fn error(status: StatusCode, message: impl Into<String>) -> Outcome {
        Outcome::Error {
            status,
            message: message.into(),
        }
    }

    /// A 200 page that sets no cookie.
    pub fn page(html: String) -> Outcome {
        Outcome::Page {
            status: StatusCode::OK,
            html,
            cookies: vec![],
        }
    }

    pub fn into_response(self, headers: &HeaderMap) -> Response {
        match self {
            Outcome::Page {
                status,
                html,
                cookies,
            } => {
                let mut r = (status, html).into_response();
                let h = r.headers_mut();
                h.insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("text/html;charset=utf-8"),
                );
                no_cache(h);
                for c in cookies {
                    h.append(header::SET_COOKIE, c);
                }
                r
            }
            Outcome::Redirect { location, cookies } => {
                let mut r = StatusCode::FOUND.into_response();
                let h = r.headers_mut();
                if let Ok(v) = HeaderValue::from_str(&location) {
                    h.insert(header::LOCATION, v);
                }
                no_cache(h);
                for c in cookies {
                    h.append(header::SET_COOKIE, c);
                }
                r
            }
            Outcome::Error { status, message } => error_page(headers, status, &message),
        }
    }
}

fn no_cache(h: &mut HeaderMap) {
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-store, must-revalidate, max-age=0"),
    );
}

/// `LoginFormsProvider#createErrorPage`: JSON `{"error": message}` when the request accepts an
/// explicit JSON type, else the HTML error page (even for `*/*`).
pub fn error_page(headers: &HeaderMap, status: StatusCode, message: &str) -> Response {
    if accepts_json(headers) {
        return json_response(status, &json!({ "error": message }));
    }
    let html = layout("We are sorry...", None, &format!(
        "<div id=\"kc-error-message\" style=\"font-size: 1rem;\">\n<p class=\"instruction\">{}</p>\n</div>",
        html_escape(message)
    ));
    Outcome::Page {
        status,
        html,
        cookies: vec![],
    }
    .into_response(headers)
}
