//! How a ClientRepresentation becomes a stored client (ClientManager#createClient and
//! ClientResource#update): model and OIDC defaults, attributes as strings, the secret, the URL
//! validation, and the service-account user that follows `serviceAccountsEnabled`.

use axum::http::StatusCode;
use serde_json::{json, Map, Value};

use super::request::{bool_of, client_not_found, present, str_of};
use crate::http::ApiError;
use crate::model::{default_client_fields, random_token, uuid, Client, Realm};

/// Fields of a ClientRepresentation that are not stored in the model.
const CLIENT_NOT_STORED: &[&str] = &[
    "id",
    "secret",
    "access",
    "origin",
    "authorizationSettings",
    "authorizationServicesEnabled",
    "registrationAccessToken",
    "clientTemplate",
    "useTemplateConfig",
    "useTemplateScope",
    "useTemplateMappers",
    "directGrantsOnly",
    "defaultRoles",
    "registeredNodes",
    "attributes",
];

/// Attributes are `Map<String,String>`: scalars become strings, null removes the key.
fn merge_attributes(fields: &mut Map<String, Value>, rep: &Map<String, Value>) {
    let Some(Value::Object(new)) = rep.get("attributes") else {
        return;
    };
    let attrs = fields
        .entry("attributes")
        .or_insert_with(|| Value::Object(Map::new()));
    if let Value::Object(attrs) = attrs {
        for (k, v) in new {
            if k == "realm_client" {
                continue;
            }
            match v {
                Value::Null => {
                    attrs.remove(k);
                }
                Value::String(s) => {
                    attrs.insert(k.clone(), json!(s));
                }
                other => {
                    attrs.insert(k.clone(), json!(other.to_string()));
                }
            }
        }
    }
}

fn origin_of(uri: &str) -> Option<String> {
    let parsed = url::Url::parse(uri).ok()?;
    matches!(parsed.scheme(), "http" | "https").then(|| parsed.origin().ascii_serialization())
}

/// Creates a client in `realm` from a representation (ClientManager#createClient: model
/// defaults, then the OIDC defaults when `protocol` is given, then validation).
pub fn create_client_in(
    realm: &mut Realm,
    rep: &Map<String, Value>,
    now_ms: u64,
) -> Result<String, ApiError> {
    let Some(client_id) = str_of(rep, "clientId")
        .filter(|c| !c.is_empty())
        .map(str::to_owned)
    else {
        return Err(ApiError::b(
            StatusCode::BAD_REQUEST,
            "invalid_input",
            "Client ID is required",
        ));
    };
    let id = str_of(rep, "id").map(str::to_owned).unwrap_or_else(uuid);
    if realm.client_by_client_id(&client_id).is_some() || realm.client_by_id(&id).is_some() {
        return Err(ApiError::a(
            StatusCode::CONFLICT,
            format!("Client {client_id} already exists"),
        ));
    }
    let mut fields = default_client_fields();
    for (k, v) in rep {
        if !v.is_null() && !CLIENT_NOT_STORED.contains(&k.as_str()) {
            fields.insert(k.clone(), v.clone());
        }
    }
    merge_attributes(&mut fields, rep);
    if !present(rep, "fullScopeAllowed") {
        fields.insert(
            "fullScopeAllowed".into(),
            json!(!bool_of(rep, "consentRequired").unwrap_or(false)),
        );
    }
    if !present(rep, "webOrigins") {
        let mut origins: Vec<String> = Vec::new();
        for uri in crate::model::string_list(rep.get("redirectUris")) {
            if let Some(o) = origin_of(&uri) {
                if !origins.contains(&o) {
                    origins.push(o);
                }
            }
        }
        fields.insert("webOrigins".into(), json!(origins));
    }
    if present(rep, "protocol") {
        // OIDCLoginProtocolFactory#setupClientDefaults
        if !present(rep, "publicClient") && !present(rep, "bearerOnly") {
            fields.insert("publicClient".into(), json!(true));
        }
        if !present(rep, "standardFlowEnabled") {
            fields.insert("standardFlowEnabled".into(), json!(true));
        }
        if !present(rep, "directAccessGrantsEnabled") {
            fields.insert("directAccessGrantsEnabled".into(), json!(true));
        }
        if !present(rep, "implicitFlowEnabled") {
            fields.insert("implicitFlowEnabled".into(), json!(false));
        }
        if !present(rep, "frontchannelLogout") {
            fields.insert("frontchannelLogout".into(), json!(false));
        }
        if let Some(root) = str_of(rep, "rootUrl") {
            let no_redirects = crate::model::string_list(rep.get("redirectUris")).is_empty();
            if no_redirects {
                let redirect = if root.ends_with('/') {
                    format!("{root}*")
                } else {
                    format!("{root}/*")
                };
                fields.insert("redirectUris".into(), json!([redirect]));
                if let Some(origin) = origin_of(root) {
                    fields.insert("webOrigins".into(), json!([origin]));
                }
            }
            if !present(rep, "adminUrl") {
                fields.insert("adminUrl".into(), json!(root));
            }
        }
        if let Some(Value::Object(attrs)) = fields.get_mut("attributes") {
            attrs
                .entry("backchannel.logout.session.required")
                .or_insert_with(|| json!("true"));
            attrs
                .entry("backchannel.logout.revoke.offline.tokens")
                .or_insert_with(|| json!("false"));
        }
    }
    let mut client = Client {
        id: id.clone(),
        fields,
    };
    settle_secret(&mut client, str_of(rep, "secret"));
    validate_client(&client)?;
    let service_accounts = client.service_accounts_enabled();
    realm.clients.push(client);
    if service_accounts {
        realm.ensure_service_account(&id, now_ms);
    }
    Ok(id)
}

/// Public and bearer-only clients have no secret; a confidential client keeps a supplied secret,
/// else its current one, else a generated one.
fn settle_secret(client: &mut Client, supplied: Option<&str>) {
    if !client.is_confidential() {
        client.fields.remove("secret");
        return;
    }
    if let Some(secret) = supplied {
        client.fields.insert("secret".into(), json!(secret));
    } else if client.secret().is_none() {
        client
            .fields
            .insert("secret".into(), json!(random_token(32)));
    }
}

/// DefaultClientValidationProvider (the URL checks): 400 `invalid_input`.
fn validate_client(client: &Client) -> Result<(), ApiError> {
    let invalid = |msg: &str| ApiError::b(StatusCode::BAD_REQUEST, "invalid_input", msg);
    let illegal_scheme = |u: &str| {
        let l = u.trim().to_ascii_lowercase();
        l.starts_with("javascript:") || l.starts_with("data:")
    };
    let bad_chars = |u: &str| {
        u.chars()
            .any(|c| c.is_whitespace() || "<>\"{}|\\^`".contains(c))
    };
    if let Some(root) = client
        .str_field("rootUrl")
        .filter(|r| !r.is_empty() && !r.starts_with("${"))
    {
        if illegal_scheme(root) {
            return Err(invalid("Root URL uses an illegal scheme"));
        }
        if root.contains('#') {
            return Err(invalid("Root URL must not contain an URL fragment"));
        }
        if bad_chars(root) || url::Url::parse(root).is_err() {
            return Err(invalid("Root URL is not a valid URL"));
        }
    }
    if let Some(base) = client
        .str_field("baseUrl")
        .filter(|b| !b.is_empty() && !b.starts_with("${"))
    {
        if illegal_scheme(base) {
            return Err(invalid("Base URL uses an illegal scheme"));
        }
        if base.contains('#') {
            return Err(invalid("Base URL must not contain an URL fragment"));
        }
        if bad_chars(base) {
            return Err(invalid("Base URL is not a valid URL"));
        }
    }
    for uri in client.redirect_uris() {
        let stripped = uri.replace('*', "");
        if illegal_scheme(&stripped) {
            return Err(invalid("A redirect URI uses an illegal scheme"));
        }
        if stripped.contains('#') {
            return Err(invalid("Redirect URIs must not contain an URI fragment"));
        }
        if bad_chars(&stripped) {
            return Err(invalid("A redirect URI is not a valid URI"));
        }
    }
    Ok(())
}

/// `PUT /clients/{id}` (ClientResource#update / updateClientFromRep).
pub fn update_client_in(
    realm: &mut Realm,
    id: &str,
    rep: &Map<String, Value>,
    now_ms: u64,
) -> Result<(), ApiError> {
    let current = realm.client_by_id(id).ok_or_else(client_not_found)?.clone();
    if let Some(new_id) = str_of(rep, "clientId").filter(|c| *c != current.client_id()) {
        if realm.client_by_client_id(new_id).is_some() {
            return Err(ApiError::a(StatusCode::CONFLICT, "Client already exists"));
        }
    }
    // Service account first, as Keycloak does: anything but an explicit `true` removes the user
    // (while an absent flag keeps the model's flag).
    if bool_of(rep, "serviceAccountsEnabled") != Some(true) {
        realm.remove_service_account(id);
    }
    let mut client = current.clone();
    for (k, v) in rep {
        if !v.is_null() && !CLIENT_NOT_STORED.contains(&k.as_str()) {
            client.fields.insert(k.clone(), v.clone());
        }
    }
    merge_attributes(&mut client.fields, rep);
    settle_secret(&mut client, str_of(rep, "secret"));
    validate_client(&client)?;
    let renamed = client.client_id() != current.client_id();
    let new_client_id = client.client_id().to_owned();
    if let Some(slot) = realm.client_by_id_mut(id) {
        *slot = client;
    }
    if bool_of(rep, "serviceAccountsEnabled") == Some(true) {
        realm.ensure_service_account(id, now_ms);
    }
    if renamed {
        let username = format!("service-account-{new_client_id}").to_lowercase();
        for u in realm
            .users
            .iter_mut()
            .filter(|u| u.service_account_client.as_deref() == Some(id))
        {
            u.username = username.clone();
        }
    }
    Ok(())
}
