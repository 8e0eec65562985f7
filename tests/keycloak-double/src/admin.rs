//! The admin REST API (`/admin/...`): realms, clients, users, server info (keycloak-behaviour §3–§6, §11).
//! Only the master realm's `admin` role may call it; a missing or expired bearer gives 401.
//!
//! - [`request`]: the admin caller, representation parsing, the create/update sequence;
//! - [`realms`], [`clients`] (with [`client_rules`]), [`users`] (with [`user_search`] and
//!   [`profile`]: the realm's user profile, a user's sessions), [`roles`], [`groups`],
//!   [`memberships`] (a user's groups), [`role_mappings`] (of users and groups): one module per
//!   resource.

use axum::routing::{get, put, MethodRouter};
use axum::Router;

use crate::server::AppState;

pub mod client_rules;
pub mod clients;
pub mod groups;
pub mod import_access;
pub mod memberships;
pub mod profile;
pub mod realms;
pub mod request;
pub mod role_mappings;
pub mod roles;
pub mod user_search;
pub mod users;

pub use client_rules::{create_client_in, update_client_in};
pub use realms::{import_realm, realm_public_info};
pub use request::Admin;
pub use users::{create_user_in, update_user_in};

use clients::{
    create_client, delete_client, get_client, get_client_secret, list_clients,
    regenerate_client_secret, service_account_user, update_client,
};
use realms::{create_realm, delete_realm, get_realm, list_realms, server_info, update_realm};
use users::{
    count_users, create_user, delete_user, get_user, list_users, reset_password, update_user,
};

/// The role-mapping routes under a user or a group (`{id}`), see [`role_mappings`].
fn role_mapping_routes(base: &str) -> Vec<(String, MethodRouter<AppState>)> {
    use role_mappings::{add_roles, get_all, get_roles, remove_roles};
    let change = || get(get_roles).post(add_roles).delete(remove_roles);
    vec![
        (format!("{base}/role-mappings"), get(get_all)),
        (format!("{base}/role-mappings/realm"), change()),
        (
            format!("{base}/role-mappings/realm/{{view}}"),
            get(get_roles),
        ),
        (format!("{base}/role-mappings/clients/{{client}}"), change()),
        (
            format!("{base}/role-mappings/clients/{{client}}/{{view}}"),
            get(get_roles),
        ),
    ]
}

/// Roles, groups, memberships and role mappings.
fn access_routes() -> Router<AppState> {
    let mut router = Router::new()
        .route(
            "/admin/realms/{realm}/roles",
            get(roles::list_realm_roles).post(roles::create_realm_role),
        )
        .route(
            "/admin/realms/{realm}/roles/{name}",
            get(roles::get_realm_role)
                .put(roles::update_realm_role)
                .delete(roles::delete_realm_role),
        )
        .route(
            "/admin/realms/{realm}/clients/{id}/roles",
            get(roles::list_client_roles).post(roles::create_client_role),
        )
        .route(
            "/admin/realms/{realm}/clients/{id}/roles/{name}",
            get(roles::get_client_role)
                .put(roles::update_client_role)
                .delete(roles::delete_client_role),
        )
        .route(
            "/admin/realms/{realm}/groups",
            get(groups::list_groups).post(groups::create_group),
        )
        .route(
            "/admin/realms/{realm}/groups/count",
            get(groups::count_groups),
        )
        .route(
            "/admin/realms/{realm}/groups/{id}",
            get(groups::get_group)
                .put(groups::update_group)
                .delete(groups::delete_group),
        )
        .route(
            "/admin/realms/{realm}/groups/{id}/children",
            get(groups::list_children).post(groups::create_child),
        )
        .route(
            "/admin/realms/{realm}/users/{id}/groups",
            get(memberships::user_groups),
        )
        .route(
            "/admin/realms/{realm}/users/{id}/groups/count",
            get(memberships::user_groups_count),
        )
        .route(
            "/admin/realms/{realm}/users/{id}/groups/{group}",
            put(memberships::join_group).delete(memberships::leave_group),
        );
    for base in [
        "/admin/realms/{realm}/users/{id}",
        "/admin/realms/{realm}/groups/{id}",
    ] {
        for (path, method) in role_mapping_routes(base) {
            router = router.route(&path, method);
        }
    }
    router
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .merge(access_routes())
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
            "/admin/realms/{realm}/users/profile",
            get(profile::get_profile).put(profile::put_profile),
        )
        .route(
            "/admin/realms/{realm}/users/{id}/sessions",
            get(profile::user_sessions),
        )
        .route(
            "/admin/realms/{realm}/users/{id}/credentials",
            get(profile::user_credentials),
        )
        .route(
            "/admin/realms/{realm}/users/{id}",
            get(get_user).put(update_user).delete(delete_user),
        )
        .route(
            "/admin/realms/{realm}/users/{id}/reset-password",
            put(reset_password),
        )
}
