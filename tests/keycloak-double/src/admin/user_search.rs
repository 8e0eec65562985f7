//! Which users `GET /users` and `GET /users/count` return (keycloak-behaviour §5): the exact and
//! prefix/infix matches of Keycloak's user search.

use std::collections::HashMap;

use crate::model::{Realm, User};

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

/// The parameters that make `UsersResource#getUsers` search by attributes, which includes
/// service-account users (`searchForUser(..., includeServiceAccounts = true)`); `search=` and
/// no parameter at all leave them out.
const ATTRIBUTE_PARAMS: &[&str] = &[
    "username",
    "email",
    "firstName",
    "lastName",
    "emailVerified",
    "enabled",
    "exact",
    "idpAlias",
    "idpUserId",
    "q",
];

/// Does `GET /users` with these parameters include service-account users?
pub fn lists_service_accounts(q: &HashMap<String, String>) -> bool {
    !q.contains_key("search") && ATTRIBUTE_PARAMS.iter().any(|p| q.contains_key(*p))
}

/// The users matching `q`, sorted by username; service accounts only when
/// `include_service_accounts` (the double's `GET /users/count` leaves them out: not modelled).
pub fn filter_users<'a>(
    realm: &'a Realm,
    q: &HashMap<String, String>,
    include_service_accounts: bool,
) -> Vec<&'a User> {
    let exact = q.get("exact").map(String::as_str) == Some("true");
    let mut users: Vec<&User> = realm
        .users
        .iter()
        .filter(|u| include_service_accounts || u.service_account_client.is_none())
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
