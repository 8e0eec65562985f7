//! One HTTP answer from Keycloak, and Keycloak's own message from any of its error shapes.

use reqwest::StatusCode;
use serde_json::Value;

use super::AdminError;

/// One HTTP answer, read whole.
#[derive(Debug, Clone)]
pub struct ApiResponse {
    pub status: StatusCode,
    pub location: Option<String>,
    pub body: String,
}

impl ApiResponse {
    pub fn is_success(&self) -> bool {
        self.status.is_success()
    }

    pub fn json(&self, what: &str) -> Result<Value, AdminError> {
        serde_json::from_str(&self.body).map_err(|e| AdminError::Unexpected {
            what: what.to_string(),
            message: format!("HTTP {} with a body that is not JSON ({e})", self.status),
        })
    }

    /// Keycloak's own message from any of its error shapes (keycloak-behaviour §0), else the raw body.
    pub fn keycloak_message(&self) -> String {
        keycloak_message(&self.body)
    }

    /// The OAuth2 `error` code (shape B/C), if any.
    pub fn error_code(&self) -> Option<String> {
        self.body_str("error")
    }

    /// The OAuth2 `error_description` (shape B), if any.
    pub fn error_description(&self) -> Option<String> {
        self.body_str("error_description")
    }

    fn body_str(&self, key: &str) -> Option<String> {
        serde_json::from_str::<Value>(&self.body)
            .ok()?
            .get(key)?
            .as_str()
            .map(str::to_string)
    }

    /// The last path segment of `Location` (the id of a created object).
    pub fn created_id(&self) -> Option<String> {
        self.location
            .as_deref()
            .and_then(|l| l.trim_end_matches('/').rsplit('/').next())
            .map(str::to_string)
    }
}

/// Keycloak's message from an error body: `errorMessage` (shape A, or a list of them),
/// `error` + `error_description` (B), `error` (C); else the body itself, shortened.
pub fn keycloak_message(body: &str) -> String {
    if let Ok(v) = serde_json::from_str::<Value>(body) {
        let s = |k: &str| v.get(k).and_then(Value::as_str);
        if let Some(m) = s("errorMessage") {
            return match s("field") {
                Some(f) => format!("{m} (field `{f}`)"),
                None => m.to_string(),
            };
        }
        if let Some(list) = v.get("errors").and_then(Value::as_array) {
            let msgs: Vec<String> = list
                .iter()
                .filter_map(|e| e.get("errorMessage").and_then(Value::as_str))
                .map(str::to_string)
                .collect();
            if !msgs.is_empty() {
                return msgs.join("; ");
            }
        }
        match (s("error"), s("error_description")) {
            (Some(e), Some(d)) => return format!("{e}: {d}"),
            (Some(e), None) => return e.to_string(),
            _ => {}
        }
    }
    let trimmed = body.trim();
    if trimmed.is_empty() {
        "(empty body)".to_string()
    } else if trimmed.chars().count() > 300 {
        format!("{}…", trimmed.chars().take(300).collect::<String>())
    } else {
        trimmed.to_string()
    }
}
