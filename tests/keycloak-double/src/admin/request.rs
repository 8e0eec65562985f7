//! What every admin endpoint shares: the admin caller, reading a representation from the body
//! (media type, syntax, unknown fields), the not-found errors, and the create/update sequence
//! (path first, then body, then one transaction), so each resource states only its own rules.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value};

use crate::http::{bearer_token, ApiError};
use crate::model::Realm;
use crate::schema::{find_unrecognized, Class};
use crate::server::{base_of, AppState};
use crate::token::{is_master_admin, verify_access_token, TokenSubject};

/// A caller holding a valid master-realm admin token.
pub struct Admin(pub TokenSubject);

impl FromRequestParts<AppState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, ApiError> {
        let token = bearer_token(&parts.headers).ok_or_else(ApiError::unauthorized)?;
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

pub fn realm_not_found() -> ApiError {
    ApiError::not_found("Realm not found.")
}

pub fn client_not_found() -> ApiError {
    ApiError::not_found("Could not find client")
}

pub fn user_not_found() -> ApiError {
    ApiError::not_found("User not found")
}

/// `GroupsResource#getGroupById`.
pub fn group_not_found() -> ApiError {
    ApiError::not_found("Could not find group by id")
}

/// `RoleContainerResource#getRole` and friends.
pub fn role_not_found() -> ApiError {
    ApiError::not_found("Could not find role")
}

/// Parses a JSON body that is a list of representations (`List<RoleRepresentation>` of the
/// role-mapping endpoints): media type, syntax, unknown fields, then the list's objects.
/// An empty body is `None`: JAX-RS hands the method a null list.
pub fn parse_rep_list(
    headers: &HeaderMap,
    body: &[u8],
    item: &'static crate::schema::Shape,
) -> Result<Option<Vec<Map<String, Value>>>, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    check_json_type(headers)?;
    let value: Value = serde_json::from_slice(body).map_err(|_| ApiError::cannot_parse())?;
    let list_shape = crate::schema::Shape::ListOf(item);
    if let Some(unknown) = crate::schema::find_unrecognized_in(body, list_shape) {
        return Err(ApiError::c(StatusCode::BAD_REQUEST, unknown.message()));
    }
    match value {
        Value::Array(items) => items
            .into_iter()
            .map(|v| match v {
                Value::Object(map) => Ok(map),
                _ => Err(ApiError::cannot_parse()),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        _ => Err(ApiError::cannot_parse()),
    }
}

/// 415 unless the body is declared JSON.
fn check_json_type(headers: &HeaderMap) -> Result<(), ApiError> {
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
    if json_type {
        Ok(())
    } else {
        Err(ApiError::c(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "HTTP 415 Unsupported Media Type",
        ))
    }
}

/// Parses a JSON body as a representation: media type, syntax, then unknown fields.
pub fn parse_rep(
    headers: &HeaderMap,
    body: &[u8],
    class: &'static Class,
) -> Result<Map<String, Value>, ApiError> {
    check_json_type(headers)?;
    let value: Value = serde_json::from_slice(body).map_err(|_| ApiError::cannot_parse())?;
    if let Some(unknown) = find_unrecognized(body, class) {
        return Err(ApiError::c(StatusCode::BAD_REQUEST, unknown.message()));
    }
    match value {
        Value::Object(map) => Ok(map),
        _ => Err(ApiError::cannot_parse()),
    }
}

/// The body of `POST /admin/realms`. Keycloak's realm import reads it from a stream
/// (`RealmsAdminResource.importRealm`), not as a typed body, so whatever does not bind to a
/// `RealmRepresentation` (an unknown field at any depth, malformed JSON, no object) is one 400
/// that names nothing, unlike the typed PUTs' `Unrecognized field` (keycloak-behaviour §6). The
/// media type is still checked first (415).
pub fn parse_realm_import(
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Map<String, Value>, ApiError> {
    parse_rep(headers, body, &crate::schema::REALM).map_err(|e| {
        if e.status() == StatusCode::UNSUPPORTED_MEDIA_TYPE {
            e
        } else {
            ApiError::a(
                StatusCode::BAD_REQUEST,
                "unable to read contents from stream",
            )
        }
    })
}

pub fn str_of<'a>(rep: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    rep.get(key).and_then(Value::as_str)
}

pub fn bool_of(rep: &Map<String, Value>, key: &str) -> Option<bool> {
    match rep.get(key) {
        Some(Value::Bool(b)) => Some(*b),
        Some(Value::String(s)) if s == "true" => Some(true),
        Some(Value::String(s)) if s == "false" => Some(false),
        _ => None,
    }
}

pub fn present(rep: &Map<String, Value>, key: &str) -> bool {
    rep.get(key).is_some_and(|v| !v.is_null())
}

pub fn created(location: String) -> Response {
    let mut response = StatusCode::CREATED.into_response();
    if let Ok(v) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, v);
    }
    response
}

pub fn no_content() -> Response {
    StatusCode::NO_CONTENT.into_response()
}

/// `POST` of a representation into a realm, in Keycloak's order: the realm (404) before the body
/// (415, 400), then `create` as one transaction; 201 with the new object's `Location`.
pub async fn create_in_realm(
    app: &AppState,
    realm: &str,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
    class: &'static Class,
    create: impl FnOnce(&mut Realm, &Map<String, Value>, u64) -> Result<String, ApiError>,
) -> Result<Response, ApiError> {
    app.read_realm(realm, realm_not_found, |_| Ok(())).await?;
    let rep = parse_rep(headers, body, class)?;
    let now = app.clock.now_ms();
    let id = app
        .mutate_realm(realm, realm_not_found, |r| create(r, &rep, now))
        .await?;
    Ok(created(format!(
        "{}{}/{id}",
        base_of(app, headers),
        uri.path()
    )))
}

/// `PUT` of a representation onto an existing object, in Keycloak's order: the realm and the
/// object (`exists`, 404) before the body (415, 400), then `update` as one transaction; 204.
pub async fn update_in_realm(
    app: &AppState,
    realm: &str,
    headers: &HeaderMap,
    body: &[u8],
    class: &'static Class,
    exists: impl FnOnce(&Realm) -> Result<(), ApiError>,
    update: impl FnOnce(&mut Realm, &Map<String, Value>, u64) -> Result<(), ApiError>,
) -> Result<Response, ApiError> {
    app.read_realm(realm, realm_not_found, exists).await?;
    let rep = parse_rep(headers, body, class)?;
    let now = app.clock.now_ms();
    app.mutate_realm(realm, realm_not_found, |r| update(r, &rep, now))
        .await?;
    Ok(no_content())
}
