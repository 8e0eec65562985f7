//! A client, kept as its representation fields (Keycloak's update semantics are then a merge).

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::string_list;

/// A client: its internal id and its model in representation field names.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Client {
    pub id: String,
    pub fields: Map<String, Value>,
}

impl Client {
    pub fn client_id(&self) -> &str {
        self.str_field("clientId").unwrap_or_default()
    }
    pub fn str_field(&self, key: &str) -> Option<&str> {
        self.fields.get(key).and_then(Value::as_str)
    }
    pub fn bool_field(&self, key: &str) -> bool {
        self.fields
            .get(key)
            .and_then(Value::as_bool)
            .unwrap_or(false)
    }
    pub fn enabled(&self) -> bool {
        self.bool_field("enabled")
    }
    pub fn is_public(&self) -> bool {
        self.bool_field("publicClient")
    }
    pub fn is_bearer_only(&self) -> bool {
        self.bool_field("bearerOnly")
    }
    pub fn is_confidential(&self) -> bool {
        !self.is_public() && !self.is_bearer_only()
    }
    pub fn secret(&self) -> Option<&str> {
        self.str_field("secret")
    }
    pub fn standard_flow_enabled(&self) -> bool {
        self.bool_field("standardFlowEnabled")
    }
    pub fn direct_access_grants_enabled(&self) -> bool {
        self.bool_field("directAccessGrantsEnabled")
    }
    pub fn service_accounts_enabled(&self) -> bool {
        self.bool_field("serviceAccountsEnabled")
    }
    pub fn consent_required(&self) -> bool {
        self.bool_field("consentRequired")
    }
    pub fn string_list(&self, key: &str) -> Vec<String> {
        string_list(self.fields.get(key))
    }
    pub fn redirect_uris(&self) -> Vec<String> {
        self.string_list("redirectUris")
    }
    pub fn web_origins(&self) -> Vec<String> {
        self.string_list("webOrigins")
    }
    pub fn attribute(&self, key: &str) -> Option<&str> {
        self.fields
            .get("attributes")
            .and_then(|a| a.get(key))
            .and_then(Value::as_str)
    }
    /// Whether the client issues slim access tokens (admin-cli does).
    pub fn lightweight_access_token(&self) -> bool {
        self.attribute("client.use.lightweight.access.token.enabled") == Some("true")
    }
}

/// Model defaults of a new client (Keycloak's entity defaults plus `RepresentationToModel`'s).
pub fn default_client_fields() -> Map<String, Value> {
    let v = json!({
        "surrogateAuthRequired": false,
        "enabled": true,
        "alwaysDisplayInConsole": false,
        "clientAuthenticatorType": "client-secret",
        "redirectUris": [],
        "webOrigins": [],
        "notBefore": 0,
        "bearerOnly": false,
        "consentRequired": false,
        "standardFlowEnabled": true,
        "implicitFlowEnabled": false,
        "directAccessGrantsEnabled": false,
        "serviceAccountsEnabled": false,
        "publicClient": false,
        "frontchannelLogout": false,
        "protocol": "openid-connect",
        "attributes": {},
        "authenticationFlowBindingOverrides": {},
        "fullScopeAllowed": true,
        "nodeReRegistrationTimeout": -1,
        "defaultClientScopes": ["web-origins", "acr", "roles", "profile", "basic", "email"],
        "optionalClientScopes": ["address", "phone", "offline_access", "organization", "microprofile-jwt"]
    });
    match v {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}
