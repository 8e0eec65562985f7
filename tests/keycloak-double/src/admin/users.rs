//! Users (keycloak-behaviour §5): search, count, create (also embedded at realm import), read,
//! update through the user profile, delete, and the password reset.

use std::collections::{BTreeMap, HashMap};

use axum::body::Bytes;
use axum::extract::{Path, Query, State as AxumState};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use serde_json::{json, Map, Value};

use super::request::{
    bool_of, create_in_realm, no_content, present, realm_not_found, str_of, update_in_realm,
    user_not_found, Admin,
};
use super::user_search::{filter_users, lists_service_accounts};
use crate::http::{json_response, ApiError};
use crate::model::{user_profile, uuid, Mapper, PasswordCredential, Realm, User, UPDATE_PASSWORD};
use crate::schema;
use crate::server::AppState;

pub(super) async fn list_users(
    _admin: Admin,
    AxumState(app): AxumState<AppState>,
    Path(realm): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let first: usize = q.get("first").and_then(|v| v.parse().ok()).unwrap_or(0);
    let max: usize = q.get("max").and_then(|v| v.parse().ok()).unwrap_or(100);
    let list = app
        .read_realm(&realm, realm_not_found, |realm| {
            Ok(filter_users(realm, &q, lists_service_accounts(&q))
                .into_iter()
                .skip(first)
                .take(max)
                .map(|u| realm.user_representation(u))
                .collect::<Vec<_>>())
        })
        .await?;
    Ok(json_response(StatusCode::OK, &Value::Array(list)))
}

pub(super) async fn count_users(
    _admin: Admin,
    AxumState(app): AxumState<AppState>,
    Path(realm): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let count = app
        .read_realm(&realm, realm_not_found, |r| {
            Ok(filter_users(r, &q, false).len())
        })
        .await?;
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

/// The password of `credentials` (`RepresentationToModel#createCredentials`). A temporary one
/// adds UPDATE_PASSWORD only through the admin API's create and update
/// (`UserResource#updateUserFromRep`); the realm import (`DefaultExportImportManager#createUser`)
/// never reads `temporary`.
fn apply_credentials(user: &mut User, rep: &Map<String, Value>, now_ms: u64, import: bool) {
    let Some(Value::Array(creds)) = rep.get("credentials") else {
        return;
    };
    for cred in creds {
        let kind = cred
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or("password");
        if kind != "password" {
            continue;
        }
        if let Some(value) = cred
            .get("value")
            .and_then(Value::as_str)
            .filter(|v| !v.is_empty())
        {
            set_password(user, value, now_ms);
        }
        if !import
            && cred.get("temporary").and_then(Value::as_bool) == Some(true)
            && !user.required_actions.iter().any(|a| a == UPDATE_PASSWORD)
        {
            user.required_actions.push(UPDATE_PASSWORD.to_owned());
        }
    }
}

/// Store a new password: a new hash and `createdDate`, on the same credential id when the
/// user had a password (`PasswordCredentialProvider#createCredential` updates it in place).
fn set_password(user: &mut User, value: &str, now_ms: u64) {
    let mut fresh = PasswordCredential::new(value, now_ms);
    if let Some(old) = &user.password {
        fresh.id = old.id.clone();
    }
    user.password = Some(fresh);
}

/// The password hashes storing this user representation costs: one per password credential
/// with a value.
pub fn password_hashes(rep: &Value) -> usize {
    rep.get("credentials")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|c| c.get("type").and_then(Value::as_str).unwrap_or("password") == "password")
        .filter(|c| {
            c.get("value")
                .and_then(Value::as_str)
                .is_some_and(|v| !v.is_empty())
        })
        .count()
}

/// The hashes a request body of users costs (unparsable bodies cost nothing: they fail).
fn body_hashes(body: &[u8]) -> usize {
    serde_json::from_slice::<Value>(body).map_or(0, |v| password_hashes(&v))
}

/// May the admin API write attribute `name` under this profile? Declared ones, and
/// undeclared ones when `unmanagedAttributePolicy` allows admins to edit them.
fn admin_may_write(profile: &Value, name: &str) -> bool {
    !user_profile::ROOT_ATTRIBUTES.contains(&name)
        && (user_profile::is_declared(profile, name)
            || user_profile::admin_may_write_unmanaged(profile))
}

/// The request's `attributes` the realm's user profile keeps (`None` without `attributes`);
/// undeclared ones under the default policy are dropped without an error, as Keycloak does.
fn writable_attributes(
    realm: &Realm,
    rep: &Map<String, Value>,
) -> Option<BTreeMap<String, Vec<String>>> {
    let attrs = rep.get("attributes")?.as_object()?;
    let profile = realm.user_profile();
    Some(
        attrs
            .iter()
            .filter(|(name, _)| admin_may_write(&profile, name))
            .map(|(name, v)| {
                let values = match v {
                    Value::String(s) => vec![s.clone()],
                    other => crate::model::string_list(Some(other)),
                };
                (name.clone(), values)
            })
            .filter(|(_, values)| !values.is_empty())
            .collect(),
    )
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
    if let Some(kept) = writable_attributes(realm, rep) {
        user.attributes = kept;
    }
    apply_credentials(&mut user, rep, now_ms, import);
    realm.users.push(user);
    if import {
        // DefaultExportImportManager#createUser: `addUser(..., addDefaultRoles=false, ...)`,
        // then the listed role mappings, then the groups.
        super::memberships::import_role_mappings(realm, Mapper::User(&id), rep)?;
    } else {
        // UsersResource#createUser: the user profile's `addUser(realm, username)` grants the
        // default role; `realmRoles`/`clientRoles` are not read, `groups` are.
        realm.grant_default_role(&id);
    }
    super::memberships::join_groups_of(realm, &id, rep)?;
    Ok(id)
}

pub(super) async fn create_user(
    _admin: Admin,
    AxumState(app): AxumState<AppState>,
    Path(realm): Path<String>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    app.hash(body_hashes(&body)).await;
    let create = |r: &mut Realm, rep: &Map<String, Value>, now| create_user_in(r, rep, now, false);
    create_in_realm(&app, &realm, &uri, &headers, &body, &schema::USER, create).await
}

pub(super) async fn get_user(
    _admin: Admin,
    AxumState(app): AxumState<AppState>,
    Path((realm, id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let rep = app
        .read_realm(&realm, realm_not_found, |realm| {
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
    if let Some(kept) = writable_attributes(realm, rep) {
        // The profile's writable attributes are replaced; the rest (internal ones) stay.
        let profile = realm.user_profile();
        user.attributes
            .retain(|name, _| !admin_may_write(&profile, name));
        user.attributes.extend(kept);
    }
    apply_credentials(&mut user, rep, now_ms, false);
    let disabled = !user.enabled;
    if let Some(slot) = realm.user_by_id_mut(id) {
        *slot = user;
    }
    if disabled {
        realm.sessions.retain(|_, s| s.user_id != id);
    }
    Ok(())
}

pub(super) async fn update_user(
    _admin: Admin,
    AxumState(app): AxumState<AppState>,
    Path((realm, id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    app.hash(body_hashes(&body)).await;
    let update = |r: &mut Realm, rep: &Map<String, Value>, now| update_user_in(r, &id, rep, now);
    update_in_realm(
        &app,
        &realm,
        &headers,
        &body,
        &schema::USER,
        user_exists(&id),
        update,
    )
    .await
}

pub(super) async fn delete_user(
    _admin: Admin,
    AxumState(app): AxumState<AppState>,
    Path((realm, id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    app.mutate_realm(&realm, realm_not_found, |realm| {
        realm.user_by_id(&id).ok_or_else(user_not_found)?;
        realm.remove_user(&id);
        Ok(())
    })
    .await?;
    Ok(no_content())
}

pub(super) async fn reset_password(
    _admin: Admin,
    AxumState(app): AxumState<AppState>,
    Path((realm, id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    app.hash(1).await;
    let reset = |realm: &mut Realm, rep: &Map<String, Value>, now| {
        let Some(value) = str_of(rep, "value") else {
            return Err(ApiError::c(StatusCode::BAD_REQUEST, "No password provided"));
        };
        if value.trim().is_empty() {
            return Err(ApiError::c(
                StatusCode::BAD_REQUEST,
                "Empty password not allowed",
            ));
        }
        let user = realm.user_by_id_mut(&id).ok_or_else(user_not_found)?;
        set_password(user, value, now);
        user.required_actions.retain(|a| a != UPDATE_PASSWORD);
        if bool_of(rep, "temporary") == Some(true) {
            user.required_actions.push(UPDATE_PASSWORD.to_owned());
        }
        Ok(())
    };
    update_in_realm(
        &app,
        &realm,
        &headers,
        &body,
        &schema::CREDENTIAL,
        user_exists(&id),
        reset,
    )
    .await
}

/// The 404 of a user endpoint whose user is missing.
fn user_exists(id: &str) -> impl FnOnce(&Realm) -> Result<(), ApiError> + '_ {
    move |r| r.user_by_id(id).map(|_| ()).ok_or_else(user_not_found)
}
