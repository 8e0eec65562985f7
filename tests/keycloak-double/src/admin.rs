//! The admin REST API (`/admin/...`): realms, clients, users, server info (keycloak-behaviour §3–§6, §11).
//! Only the master realm's `admin` role may call it; a missing or expired bearer gives 401.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{FromRequestParts, Path, Query, State as AxumState};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use axum::Router;
use serde_json::{json, Map, Value};

use crate::http::{json_response, ApiError};
use crate::model::{
    default_client_fields, random_token, uuid, Client, PasswordCredential, Realm, State, User,
    KEYCLOAK_VERSION, MASTER, UPDATE_PASSWORD,
};
use crate::schema::{self, find_unrecognized, Class};
use crate::server::{base_of, AppState, RealmConflict};
use crate::token::{is_master_admin, verify_access_token, TokenSubject};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/serverinfo", get(server_info))
        .route("/admin/realms", get(list_realms).post(create_realm))
        .route(
            "/admin/realms/{realm}",
            get(get_realm).put(update_realm).delete(delete_realm),
        )
        .route(
            "/admin/realms/{realm}/clients",
            get(list_clients).post(create_client),
        )
        .route(
            "/admin/realms/{realm}/clients/{id}",
            get(get_client).put(update_client).delete(delete_client),
        )
        .route(
            "/admin/realms/{realm}/clients/{id}/client-secret",
            get(get_client_secret).post(regenerate_client_secret),
        )
        .route(
            "/admin/realms/{realm}/clients/{id}/service-account-user",
            get(service_account_user),
        )
        .route(
            "/admin/realms/{realm}/users",
            get(list_users).post(create_user),
        )
        .route("/admin/realms/{realm}/users/count", get(count_users))
        .route(
            "/admin/realms/{realm}/users/{id}",
            get(get_user).put(update_user).delete(delete_user),
        )
        .route(
            "/admin/realms/{realm}/users/{id}/reset-password",
            put(reset_password),
        )
}

/// A caller holding a valid master-realm admin token.
pub struct Admin(pub TokenSubject);

impl FromRequestParts<AppState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, ApiError> {
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                let (scheme, token) = v.split_once(' ')?;
                scheme
                    .eq_ignore_ascii_case("bearer")
                    .then(|| token.trim().to_owned())
            })
            .ok_or_else(ApiError::unauthorized)?;
        let base = base_of(app, &parts.headers);
        let now = app.clock.now_secs();
        let subject = app
            .read(|s| verify_access_token(s, &token, &base, now))
            .await
            .ok_or_else(ApiError::unauthorized)?;
        if !is_master_admin(&subject) {
            return Err(ApiError::forbidden());
        }
        Ok(Admin(subject))
    }
}

fn realm_not_found() -> ApiError {
    ApiError::not_found("Realm not found.")
}
fn client_not_found() -> ApiError {
    ApiError::not_found("Could not find client")
}
fn user_not_found() -> ApiError {
    ApiError::not_found("User not found")
}

/// Parses a JSON body as a representation: media type, syntax, then unknown fields.
fn parse_rep(
    headers: &HeaderMap,
    body: &[u8],
    class: &'static Class,
) -> Result<Map<String, Value>, ApiError> {
    let json_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            let t = v
                .split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase();
            t == "application/json" || t.ends_with("+json")
        })
        .unwrap_or(false);
    if !json_type {
        return Err(ApiError::c(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "HTTP 415 Unsupported Media Type",
        ));
    }
    let value: Value = serde_json::from_slice(body).map_err(|_| ApiError::cannot_parse())?;
    if let Some(unknown) = find_unrecognized(body, class) {
        return Err(ApiError::c(StatusCode::BAD_REQUEST, unknown.message()));
    }
    match value {
        Value::Object(map) => Ok(map),
        _ => Err(ApiError::cannot_parse()),
    }
}

fn str_of<'a>(rep: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    rep.get(key).and_then(Value::as_str)
}
fn bool_of(rep: &Map<String, Value>, key: &str) -> Option<bool> {
    match rep.get(key) {
        Some(Value::Bool(b)) => Some(*b),
        Some(Value::String(s)) if s == "true" => Some(true),
        Some(Value::String(s)) if s == "false" => Some(false),
        _ => None,
    }
}
fn present(rep: &Map<String, Value>, key: &str) -> bool {
    rep.get(key).is_some_and(|v| !v.is_null())
}

fn created(location: String) -> Response {
    let mut response = StatusCode::CREATED.into_response();
    if let Ok(v) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, v);
    }
    response
}

fn no_content() -> Response {
    StatusCode::NO_CONTENT.into_response()
}

// ---------------------------------------------------------------- server info

async fn server_info(_admin: Admin, AxumState(app): AxumState<AppState>) -> Response {
    let now = app.clock.now_ms();
    let uptime = now.saturating_sub(app.started_ms);
    json_response(
        StatusCode::OK,
        &json!({
            "systemInfo": {
                "version": KEYCLOAK_VERSION,
                "serverTime": now.to_string(),
                "uptime": format!("{} seconds", uptime / 1000),
                "uptimeMillis": uptime,
                "javaVersion": "21",
                "javaVendor": "keycloak-double (not a JVM)",
                "osName": "Linux",
                "fileEncoding": "UTF-8"
            },
            "profileInfo": {"name": "community", "disabledFeatures": [], "previewFeatures": [],
                            "experimentalFeatures": []},
            "features": [],
            "themes": {},
            "providers": {},
            "protocolMapperTypes": {},
            "builtinProtocolMappers": {},
            "clientInstallations": {},
            "componentTypes": {},
            "passwordPolicies": [],
            "enums": {}
        }),
    )
}

// ---------------------------------------------------------------- realms

async fn list_realms(
    _admin: Admin,
    AxumState(app): AxumState<AppState>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let brief = q.get("briefRepresentation").map(String::as_str) == Some("true");
    let list: Vec<Value> = app
        .read(|s| {
            s.realms
                .iter()
                .map(|r| {
                    if brief {
                        json!({"id": r.id, "realm": r.name, "enabled": r.enabled()})
                    } else {
                        r.to_representation()
                    }
                })
                .collect()
        })
        .await;
    json_response(StatusCode::OK, &Value::Array(list))
}

/// ReservedCharValidator: `Character '<c>' not allowed.`
fn check_reserved_chars(name: &str) -> Result<(), ApiError> {
    const RESERVED: &[char] = &[
        ':', '/', '?', '#', '@', '!', '$', '&', '(', ')', '*', '+', ',', ';', '=', '[', ']', '\\',
    ];
    match name.chars().find(|c| RESERVED.contains(c)) {
        Some(c) => Err(ApiError::c(
            StatusCode::BAD_REQUEST,
            format!("Character '{c}' not allowed."),
        )),
        None => Ok(()),
    }
}

async fn create_realm(
    _admin: Admin,
    AxumState(app): AxumState<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let rep = parse_rep(&headers, &body, &schema::REALM)?;
    let conflict = app.config.realm_conflict;
    let now = app.clock.now_ms();
    let name = app
        .mutate(|state| import_realm(state, &rep, conflict, now))
        .await?;
    Ok(created(format!(
        "{}/admin/realms/{name}",
        base_of(&app, &headers)
    )))
}

/// `POST /admin/realms`: creates the realm with everything embedded in it, or nothing.
pub fn import_realm(
    state: &mut State,
    rep: &Map<String, Value>,
    conflict: RealmConflict,
    now_ms: u64,
) -> Result<String, ApiError> {
    let name = str_of(rep, "realm").unwrap_or("").to_owned();
    if name.trim().is_empty() {
        return Err(ApiError::a(
            StatusCode::BAD_REQUEST,
            "Realm name cannot be empty",
        ));
    }
    check_reserved_chars(&name)?;
    if state.realm(&name).is_some() {
        let status = match conflict {
            RealmConflict::Status409 => StatusCode::CONFLICT,
            RealmConflict::Status400 => StatusCode::BAD_REQUEST,
        };
        return Err(ApiError::a(status, format!("Realm {name} already exists")));
    }
    let mut realm = Realm::new(&name, str_of(rep, "id").map(str::to_owned), now_ms);
    apply_realm_settings(&mut realm, rep);
    if let Some(Value::Array(clients)) = rep.get("clients") {
        for client in clients {
            if let Value::Object(client) = client {
                create_client_in(&mut realm, client, now_ms)?;
            }
        }
    }
    if let Some(Value::Array(users)) = rep.get("users") {
        for user in users {
            if let Value::Object(user) = user {
                create_user_in(&mut realm, user, now_ms, true)?;
            }
        }
    }
    state.realms.push(realm);
    state.add_realm_admin_client(&name);
    Ok(name)
}

fn apply_realm_settings(realm: &mut Realm, rep: &Map<String, Value>) {
    for (k, v) in rep {
        if v.is_null()
            || k == "id"
            || k == "realm"
            || schema::REALM_COLLECTIONS.contains(&k.as_str())
        {
            continue;
        }
        if k == "attributes" {
            if let (Some(Value::Object(current)), Value::Object(new)) =
                (realm.settings.get_mut("attributes"), v)
            {
                for (ak, av) in new {
                    current.insert(ak.clone(), av.clone());
                }
                continue;
            }
        }
        realm.settings.insert(k.clone(), v.clone());
    }
}

async fn get_realm(
    _admin: Admin,
    AxumState(app): AxumState<AppState>,
    Path(realm): Path<String>,
) -> Result<Response, ApiError> {
    let rep = app
        .read(|s| s.realm(&realm).map(Realm::to_representation))
        .await
        .ok_or_else(realm_not_found)?;
    Ok(json_response(StatusCode::OK, &rep))
}

async fn update_realm(
    _admin: Admin,
    AxumState(app): AxumState<AppState>,
    Path(realm_name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    if app.read(|s| s.realm(&realm_name).is_none()).await {
        return Err(realm_not_found());
    }
    let rep = parse_rep(&headers, &body, &schema::REALM)?;
    app.mutate(|state| {
        if let Some(new_name) = str_of(&rep, "realm").filter(|n| *n != realm_name) {
            check_reserved_chars(new_name)?;
            if state.realm(new_name).is_some() {
                return Err(ApiError::a(
                    StatusCode::CONFLICT,
                    "Realm with same name exists",
                ));
            }
            let new_name = new_name.to_owned();
            if let Some(master) = state.realm_mut(MASTER) {
                let old_client = format!("{realm_name}-realm");
                let new_client = format!("{new_name}-realm");
                for c in master
                    .clients
                    .iter_mut()
                    .filter(|c| c.client_id() == old_client)
                {
                    c.fields.insert("clientId".into(), json!(new_client));
                    c.fields
                        .insert("name".into(), json!(format!("{new_name} Realm")));
                }
            }
            let realm = state.realm_mut(&realm_name).ok_or_else(realm_not_found)?;
            realm.name = new_name;
            apply_realm_settings(realm, &rep);
            return Ok(());
        }
        let realm = state.realm_mut(&realm_name).ok_or_else(realm_not_found)?;
        apply_realm_settings(realm, &rep);
        Ok(())
    })
    .await?;
    Ok(no_content())
}

async fn delete_realm(
    _admin: Admin,
    AxumState(app): AxumState<AppState>,
    Path(realm_name): Path<String>,
) -> Result<Response, ApiError> {
    app.mutate(|state| {
        if state.realm(&realm_name).is_none() {
            return Err(realm_not_found());
        }
        if realm_name == MASTER {
            return Err(ApiError::forbidden());
        }
        state.realms.retain(|r| r.name != realm_name);
        if let Some(master) = state.realm_mut(MASTER) {
            let admin_client = format!("{realm_name}-realm");
            master.clients.retain(|c| c.client_id() != admin_client);
        }
        Ok(())
    })
    .await?;
    Ok(no_content())
}

/// `GET /realms/{realm}`: the realm's public information (no authentication).
pub async fn realm_public_info(
    AxumState(app): AxumState<AppState>,
    Path(realm): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    app.ensure_keys(&realm).await?;
    let base = base_of(&app, &headers);
    let public_key = app
        .read(|s| {
            s.realm(&realm)
                .and_then(|r| r.keys.as_ref())
                .map(|k| k.public_key_spki_b64())
        })
        .await
        .ok_or_else(|| ApiError::not_found("Realm does not exist"))?;
    Ok(json_response(
        StatusCode::OK,
        &json!({
            "realm": realm,
            "public_key": public_key,
            "token-service": format!("{base}/realms/{realm}/protocol/openid-connect"),
            "account-service": format!("{base}/realms/{realm}/account"),
            "tokens-not-before": 0
        }),
    ))
}

// ---------------------------------------------------------------- clients

async fn list_clients(
    _admin: Admin,
    AxumState(app): AxumState<AppState>,
    Path(realm): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let search = q.get("search").map(String::as_str) == Some("true");
    let first: usize = q.get("first").and_then(|v| v.parse().ok()).unwrap_or(0);
    let max: usize = q
        .get("max")
        .and_then(|v| v.parse().ok())
        .unwrap_or(usize::MAX);
    let list = app
        .read(|s| {
            let realm = s.realm(&realm)?;
            let reps: Vec<Value> = realm
                .clients
                .iter()
                .filter(|c| match q.get("clientId") {
                    None => true,
                    Some(wanted) if search => c
                        .client_id()
                        .to_lowercase()
                        .contains(&wanted.to_lowercase()),
                    Some(wanted) => c.client_id() == wanted,
                })
                .skip(first)
                .take(max)
                .map(|c| realm.client_representation(c))
                .collect();
            Some(reps)
        })
        .await
        .ok_or_else(realm_not_found)?;
    Ok(json_response(StatusCode::OK, &Value::Array(list)))
}

async fn create_client(
    _admin: Admin,
    AxumState(app): AxumState<AppState>,
    Path(realm): Path<String>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    if app.read(|s| s.realm(&realm).is_none()).await {
        return Err(realm_not_found());
    }
    let rep = parse_rep(&headers, &body, &schema::CLIENT)?;
    let now = app.clock.now_ms();
    let id = app
        .mutate(|state| {
            let realm = state.realm_mut(&realm).ok_or_else(realm_not_found)?;
            create_client_in(realm, &rep, now)
        })
        .await?;
    Ok(created(format!(
        "{}{}/{id}",
        base_of(&app, &headers),
        uri.path()
    )))
}

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

async fn get_client(
    _admin: Admin,
    AxumState(app): AxumState<AppState>,
    Path((realm, id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let rep = app
        .read(|s| {
            let realm = s.realm(&realm).ok_or_else(realm_not_found)?;
            let client = realm.client_by_id(&id).ok_or_else(client_not_found)?;
            Ok::<_, ApiError>(realm.client_representation(client))
        })
        .await?;
    Ok(json_response(StatusCode::OK, &rep))
}

async fn update_client(
    _admin: Admin,
    AxumState(app): AxumState<AppState>,
    Path((realm, id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    app.read(|s| {
        let r = s.realm(&realm).ok_or_else(realm_not_found)?;
        r.client_by_id(&id).map(|_| ()).ok_or_else(client_not_found)
    })
    .await?;
    let rep = parse_rep(&headers, &body, &schema::CLIENT)?;
    let now = app.clock.now_ms();
    app.mutate(|state| {
        let realm = state.realm_mut(&realm).ok_or_else(realm_not_found)?;
        update_client_in(realm, &id, &rep, now)
    })
    .await?;
    Ok(no_content())
}

async fn delete_client(
    _admin: Admin,
    AxumState(app): AxumState<AppState>,
    Path((realm, id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    app.mutate(|state| {
        let realm = state.realm_mut(&realm).ok_or_else(realm_not_found)?;
        realm.client_by_id(&id).ok_or_else(client_not_found)?;
        realm.remove_service_account(&id);
        realm.clients.retain(|c| c.id != id);
        Ok(())
    })
    .await?;
    Ok(no_content())
}

fn secret_rep(client: &Client) -> Value {
    match client.secret() {
        Some(secret) => json!({"type": "secret", "value": secret}),
        None => json!({"type": "secret"}),
    }
}

async fn get_client_secret(
    _admin: Admin,
    AxumState(app): AxumState<AppState>,
    Path((realm, id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let rep = app
        .read(|s| {
            let realm = s.realm(&realm).ok_or_else(realm_not_found)?;
            realm
                .client_by_id(&id)
                .map(secret_rep)
                .ok_or_else(client_not_found)
        })
        .await?;
    Ok(json_response(StatusCode::OK, &rep))
}

async fn regenerate_client_secret(
    _admin: Admin,
    AxumState(app): AxumState<AppState>,
    Path((realm, id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let rep = app
        .mutate(|state| {
            let realm = state.realm_mut(&realm).ok_or_else(realm_not_found)?;
            let client = realm.client_by_id_mut(&id).ok_or_else(client_not_found)?;
            if client.is_confidential() {
                client
                    .fields
                    .insert("secret".into(), json!(random_token(32)));
            }
            Ok(secret_rep(client))
        })
        .await?;
    Ok(json_response(StatusCode::OK, &rep))
}

async fn service_account_user(
    _admin: Admin,
    AxumState(app): AxumState<AppState>,
    Path((realm, id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let now = app.clock.now_ms();
    let rep = app
        .mutate(|state| {
            let realm = state.realm_mut(&realm).ok_or_else(realm_not_found)?;
            let client = realm.client_by_id(&id).ok_or_else(client_not_found)?;
            if !client.service_accounts_enabled() {
                return Err(ApiError::c(
                    StatusCode::BAD_REQUEST,
                    format!(
                        "Service account not enabled for the client '{}'",
                        client.client_id()
                    ),
                ));
            }
            realm.ensure_service_account(&id, now);
            let user = realm
                .service_account_of(&id)
                .ok_or_else(ApiError::server_error)?;
            Ok(realm.user_representation(user))
        })
        .await?;
    Ok(json_response(StatusCode::OK, &rep))
}

// ---------------------------------------------------------------- users

fn matches_text(value: Option<&str>, wanted: &str, exact: bool) -> bool {
    let Some(value) = value else { return false };
    let (v, w) = (value.to_lowercase(), wanted.to_lowercase());
    if exact {
        v == w
    } else {
        v.contains(&w)
    }
}

/// `search`: prefix by default, `*x*` infix, `"x"` exact; over username, email, first, last name.
fn matches_search(user: &User, search: &str) -> bool {
    let s = search.trim();
    let fields = [
        Some(user.username.as_str()),
        user.email.as_deref(),
        user.first_name.as_deref(),
        user.last_name.as_deref(),
    ];
    let test = |v: &str| -> bool {
        let v = v.to_lowercase();
        if s.len() >= 2 && s.starts_with('"') && s.ends_with('"') {
            v == s[1..s.len() - 1].to_lowercase()
        } else if s.contains('*') {
            let core = s.trim_matches('*').to_lowercase();
            match (s.starts_with('*'), s.ends_with('*')) {
                (true, true) => v.contains(&core),
                (true, false) => v.ends_with(&core),
                (false, _) => v.starts_with(&core),
            }
        } else {
            v.starts_with(&s.to_lowercase())
        }
    };
    s.is_empty() || fields.into_iter().flatten().any(test)
}

fn filter_users<'a>(realm: &'a Realm, q: &HashMap<String, String>) -> Vec<&'a User> {
    let exact = q.get("exact").map(String::as_str) == Some("true");
    let mut users: Vec<&User> = realm
        .users
        .iter()
        .filter(|u| u.service_account_client.is_none())
        .filter(|u| {
            q.get("username")
                .is_none_or(|w| matches_text(Some(&u.username), w, exact))
        })
        .filter(|u| {
            q.get("email")
                .is_none_or(|w| matches_text(u.email.as_deref(), w, exact))
        })
        .filter(|u| {
            q.get("firstName")
                .is_none_or(|w| matches_text(u.first_name.as_deref(), w, exact))
        })
        .filter(|u| {
            q.get("lastName")
                .is_none_or(|w| matches_text(u.last_name.as_deref(), w, exact))
        })
        .filter(|u| {
            q.get("enabled")
                .is_none_or(|w| w.parse::<bool>().ok() == Some(u.enabled))
        })
        .filter(|u| {
            q.get("emailVerified")
                .is_none_or(|w| w.parse::<bool>().ok() == Some(u.email_verified))
        })
        .filter(|u| q.get("search").is_none_or(|s| matches_search(u, s)))
        .collect();
    users.sort_by(|a, b| a.username.cmp(&b.username));
    users
}

async fn list_users(
    _admin: Admin,
    AxumState(app): AxumState<AppState>,
    Path(realm): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let first: usize = q.get("first").and_then(|v| v.parse().ok()).unwrap_or(0);
    let max: usize = q.get("max").and_then(|v| v.parse().ok()).unwrap_or(100);
    let list = app
        .read(|s| {
            let realm = s.realm(&realm)?;
            Some(
                filter_users(realm, &q)
                    .into_iter()
                    .skip(first)
                    .take(max)
                    .map(|u| realm.user_representation(u))
                    .collect::<Vec<_>>(),
            )
        })
        .await
        .ok_or_else(realm_not_found)?;
    Ok(json_response(StatusCode::OK, &Value::Array(list)))
}

async fn count_users(
    _admin: Admin,
    AxumState(app): AxumState<AppState>,
    Path(realm): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let count = app
        .read(|s| s.realm(&realm).map(|r| filter_users(r, &q).len()))
        .await
        .ok_or_else(realm_not_found)?;
    Ok(json_response(StatusCode::OK, &json!(count)))
}

fn valid_email(email: &str) -> bool {
    let Some((local, domain)) = email.rsplit_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.is_empty()
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !email.chars().any(|c| c.is_whitespace() || c == ',')
}

/// A top-level profile field, or the first value of the same-named attribute.
fn profile_field(rep: &Map<String, Value>, key: &str) -> Option<String> {
    if let Some(v) = rep.get(key) {
        return v.as_str().map(str::to_owned);
    }
    match rep.get("attributes").and_then(|a| a.get(key)) {
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Array(items)) => items.first().and_then(Value::as_str).map(str::to_owned),
        _ => None,
    }
}

fn check_email(realm: &Realm, email: &str, except: Option<&str>) -> Result<(), ApiError> {
    if !valid_email(email) {
        return Err(ApiError::a_field(
            StatusCode::BAD_REQUEST,
            "email",
            "invalidEmailMessage",
            json!(["email"]),
        ));
    }
    if !realm.bool_setting("duplicateEmailsAllowed")
        && realm
            .user_by_email(email)
            .is_some_and(|u| Some(u.id.as_str()) != except)
    {
        return Err(ApiError::a(
            StatusCode::CONFLICT,
            "User exists with same email",
        ));
    }
    Ok(())
}

fn apply_credentials(user: &mut User, rep: &Map<String, Value>, now_ms: u64) {
    let Some(Value::Array(creds)) = rep.get("credentials") else {
        return;
    };
    for cred in creds {
        let kind = cred
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or("password");
        let Some(value) = cred.get("value").and_then(Value::as_str) else {
            continue;
        };
        if kind != "password" {
            continue;
        }
        user.password = Some(PasswordCredential::new(value, now_ms));
        if cred.get("temporary").and_then(Value::as_bool) == Some(true)
            && !user.required_actions.iter().any(|a| a == UPDATE_PASSWORD)
        {
            user.required_actions.push(UPDATE_PASSWORD.to_owned());
        }
    }
}

/// `POST /users` (and embedded users at realm import, where a given `id` is kept).
pub fn create_user_in(
    realm: &mut Realm,
    rep: &Map<String, Value>,
    now_ms: u64,
    import: bool,
) -> Result<String, ApiError> {
    let email = profile_field(rep, "email")
        .filter(|e| !e.trim().is_empty())
        .map(|e| e.trim().to_lowercase());
    let mut username = str_of(rep, "username")
        .map(|u| u.trim().to_lowercase())
        .filter(|u| !u.is_empty());
    if username.is_none() && realm.bool_setting("registrationEmailAsUsername") {
        username = email.clone();
    }
    let Some(username) = username else {
        return Err(ApiError::a(StatusCode::BAD_REQUEST, "User name is missing"));
    };
    if realm.user_by_username(&username).is_some() {
        return Err(ApiError::a(
            StatusCode::CONFLICT,
            "User exists with same username",
        ));
    }
    if let Some(email) = &email {
        check_email(realm, email, None)?;
    }
    if username.chars().count() < 3 || username.chars().count() > 255 {
        return Err(ApiError::a_field(
            StatusCode::BAD_REQUEST,
            "username",
            "error-invalid-length",
            json!(["username", 3, 255]),
        ));
    }
    let id = if import {
        str_of(rep, "id").map(str::to_owned).unwrap_or_else(uuid)
    } else {
        uuid()
    };
    let mut user = User {
        id: id.clone(),
        username,
        email,
        first_name: profile_field(rep, "firstName").filter(|v| !v.is_empty()),
        last_name: profile_field(rep, "lastName").filter(|v| !v.is_empty()),
        email_verified: bool_of(rep, "emailVerified").unwrap_or(false),
        enabled: bool_of(rep, "enabled").unwrap_or(false),
        created_timestamp: now_ms,
        required_actions: crate::model::string_list(rep.get("requiredActions")),
        ..User::default()
    };
    apply_credentials(&mut user, rep, now_ms);
    realm.users.push(user);
    Ok(id)
}

async fn create_user(
    _admin: Admin,
    AxumState(app): AxumState<AppState>,
    Path(realm): Path<String>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    if app.read(|s| s.realm(&realm).is_none()).await {
        return Err(realm_not_found());
    }
    let rep = parse_rep(&headers, &body, &schema::USER)?;
    let now = app.clock.now_ms();
    let id = app
        .mutate(|state| {
            let realm = state.realm_mut(&realm).ok_or_else(realm_not_found)?;
            create_user_in(realm, &rep, now, false)
        })
        .await?;
    Ok(created(format!(
        "{}{}/{id}",
        base_of(&app, &headers),
        uri.path()
    )))
}

async fn get_user(
    _admin: Admin,
    AxumState(app): AxumState<AppState>,
    Path((realm, id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let rep = app
        .read(|s| {
            let realm = s.realm(&realm).ok_or_else(realm_not_found)?;
            let user = realm.user_by_id(&id).ok_or_else(user_not_found)?;
            Ok::<_, ApiError>(realm.user_representation(user))
        })
        .await?;
    Ok(json_response(StatusCode::OK, &rep))
}

/// `PUT /users/{id}` (UserResource#updateUser through the user profile).
pub fn update_user_in(
    realm: &mut Realm,
    id: &str,
    rep: &Map<String, Value>,
    now_ms: u64,
) -> Result<(), ApiError> {
    let mut user = realm.user_by_id(id).ok_or_else(user_not_found)?.clone();
    if let Some(new) = str_of(rep, "username").map(|u| u.trim().to_lowercase()) {
        if !new.is_empty() && new != user.username {
            if realm.user_by_username(&new).is_some() {
                return Err(ApiError::a(
                    StatusCode::CONFLICT,
                    "User exists with same username",
                ));
            }
            user.username = new;
        }
    }
    // With `attributes` present the profile is replaced: unset profile fields are removed.
    let replace = rep.get("attributes").is_some_and(Value::is_object);
    match profile_field(rep, "email") {
        Some(e) if !e.trim().is_empty() => {
            let e = e.trim().to_lowercase();
            check_email(realm, &e, Some(id))?;
            user.email = Some(e);
        }
        Some(_) => user.email = None,
        None if replace => user.email = None,
        None => {}
    }
    for (key, slot) in [
        ("firstName", &mut user.first_name),
        ("lastName", &mut user.last_name),
    ] {
        match profile_field(rep, key) {
            Some(v) if !v.is_empty() => *slot = Some(v),
            Some(_) => *slot = None,
            None if replace => *slot = None,
            None => {}
        }
    }
    if let Some(v) = bool_of(rep, "enabled") {
        user.enabled = v;
    }
    if let Some(v) = bool_of(rep, "emailVerified") {
        user.email_verified = v;
    }
    if present(rep, "requiredActions") {
        user.required_actions = crate::model::string_list(rep.get("requiredActions"));
    }
    apply_credentials(&mut user, rep, now_ms);
    let disabled = !user.enabled;
    if let Some(slot) = realm.user_by_id_mut(id) {
        *slot = user;
    }
    if disabled {
        realm.sessions.retain(|_, s| s.user_id != id);
    }
    Ok(())
}

async fn update_user(
    _admin: Admin,
    AxumState(app): AxumState<AppState>,
    Path((realm, id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    app.read(|s| {
        let r = s.realm(&realm).ok_or_else(realm_not_found)?;
        r.user_by_id(&id).map(|_| ()).ok_or_else(user_not_found)
    })
    .await?;
    let rep = parse_rep(&headers, &body, &schema::USER)?;
    let now = app.clock.now_ms();
    app.mutate(|state| {
        let realm = state.realm_mut(&realm).ok_or_else(realm_not_found)?;
        update_user_in(realm, &id, &rep, now)
    })
    .await?;
    Ok(no_content())
}

async fn delete_user(
    _admin: Admin,
    AxumState(app): AxumState<AppState>,
    Path((realm, id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    app.mutate(|state| {
        let realm = state.realm_mut(&realm).ok_or_else(realm_not_found)?;
        realm.user_by_id(&id).ok_or_else(user_not_found)?;
        realm.remove_user(&id);
        Ok(())
    })
    .await?;
    Ok(no_content())
}

async fn reset_password(
    _admin: Admin,
    AxumState(app): AxumState<AppState>,
    Path((realm, id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    app.read(|s| {
        let r = s.realm(&realm).ok_or_else(realm_not_found)?;
        r.user_by_id(&id).map(|_| ()).ok_or_else(user_not_found)
    })
    .await?;
    let rep = parse_rep(&headers, &body, &schema::CREDENTIAL)?;
    let Some(value) = str_of(&rep, "value").map(str::to_owned) else {
        return Err(ApiError::c(StatusCode::BAD_REQUEST, "No password provided"));
    };
    if value.trim().is_empty() {
        return Err(ApiError::c(
            StatusCode::BAD_REQUEST,
            "Empty password not allowed",
        ));
    }
    let temporary = bool_of(&rep, "temporary") == Some(true);
    let now = app.clock.now_ms();
    app.mutate(|state| {
        let realm = state.realm_mut(&realm).ok_or_else(realm_not_found)?;
        let user = realm.user_by_id_mut(&id).ok_or_else(user_not_found)?;
        user.password = Some(PasswordCredential::new(&value, now));
        user.required_actions.retain(|a| a != UPDATE_PASSWORD);
        if temporary {
            user.required_actions.push(UPDATE_PASSWORD.to_owned());
        }
        Ok(())
    })
    .await?;
    Ok(no_content())
}
