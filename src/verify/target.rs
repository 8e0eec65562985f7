//! What `verify` checks: the realm, client and user chosen from the realm files, with the
//! secret and password the files configure (never values read back from Keycloak), and the
//! concrete redirect URIs made from the client's patterns.

use url::Url;

use super::VerifyError;
use crate::keycloak::RealmFile;

/// Everything `verify` needs to know about the realm under test.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyTarget {
    /// Where Keycloak is reached, e.g. `http://localhost:8080`.
    pub keycloak_url: Url,
    pub realm: String,
    pub client_id: String,
    pub client_secret: String,
    pub username: String,
    pub password: String,
    /// Where the authorization code is sent; `verify` never connects to it.
    pub redirect_uri: String,
    /// Where RP-initiated logout must send the browser back to.
    pub post_logout_redirect_uri: String,
    /// The host Keycloak must put in its issuer (`KC_HOSTNAME`). `None`: any host; scheme,
    /// port and path are still checked.
    pub expected_hostname: Option<String>,
}

/// `--realm-name`, `--client`, `--user`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Choice<'a> {
    pub realm: Option<&'a str>,
    pub client: Option<&'a str>,
    pub user: Option<&'a str>,
}

/// What to check, from the realm files: the chosen realm (else the first), its chosen client
/// (else the first confidential one) and user (else the first with a password). Used by
/// `verify` and `up --verify`.
pub fn target_for(
    realms: &[RealmFile],
    choice: Choice<'_>,
    keycloak_url: Url,
    expected_hostname: Option<String>,
) -> Result<VerifyTarget, VerifyError> {
    let realm =
        match choice.realm {
            Some(name) => realms.iter().find(|r| r.name() == name).ok_or_else(|| {
                VerifyError::UnknownRealm {
                    name: name.to_string(),
                    known: realms.iter().map(|r| r.name().to_string()).collect(),
                }
            })?,
            None => realms.first().ok_or(VerifyError::NoRealm)?,
        };
    let realm_name = realm.name();
    let client = match choice.client {
        Some(id) => realm.client(id).ok_or_else(|| VerifyError::UnknownClient {
            client: id.to_string(),
            realm: realm_name.to_string(),
        })?,
        None => realm
            .primary_client()
            .filter(|c| c.is_confidential())
            .ok_or_else(|| VerifyError::NoConfidentialClient {
                realm: realm_name.to_string(),
            })?,
    };
    let client_id = client.client_id();
    if !client.is_confidential() {
        return Err(VerifyError::PublicClient {
            client: client_id.to_string(),
        });
    }
    let secret = client.secret().ok_or_else(|| VerifyError::NoSecret {
        client: client_id.to_string(),
    })?;
    let user = match choice.user {
        Some(name) => realm.user(name).ok_or_else(|| VerifyError::UnknownUser {
            user: name.to_string(),
            realm: realm_name.to_string(),
        })?,
        None => realm.primary_user().ok_or_else(|| VerifyError::NoUser {
            realm: realm_name.to_string(),
        })?,
    };
    let password = user.password().ok_or_else(|| VerifyError::NoPassword {
        user: user.username().to_string(),
    })?;
    let redirect_uris: Vec<String> = client
        .redirect_uris()
        .iter()
        .map(|u| absolute(u, client.root_url()))
        .collect();
    let Some(first) = redirect_uris.first() else {
        return Err(VerifyError::NoRedirectUri {
            client: client_id.to_string(),
        });
    };
    let redirect_uri = redirect_uri_from_pattern(first);
    let logout_attr = client.post_logout_redirect_uris().join("##");
    let post_logout = post_logout_redirect_uri(
        (!logout_attr.is_empty()).then_some(logout_attr.as_str()),
        &redirect_uris,
    )
    .map(|u| absolute(&u, client.root_url()))
    // None configured: Keycloak will refuse any; the logout check then says how to fix it.
    .unwrap_or_else(|| site_root(&redirect_uri));
    Ok(VerifyTarget {
        keycloak_url,
        realm: realm_name.to_string(),
        client_id: client_id.to_string(),
        client_secret: secret.to_string(),
        username: user.username().to_string(),
        password: password.value.clone(),
        redirect_uri,
        post_logout_redirect_uri: post_logout,
        expected_hostname,
    })
}

/// The concrete redirect URI to use for a client's valid redirect URI pattern: a trailing `*`
/// becomes `callback` (`http://localhost:5000/*` → `http://localhost:5000/callback`).
pub fn redirect_uri_from_pattern(pattern: &str) -> String {
    match pattern.strip_suffix('*') {
        Some(prefix) if prefix.ends_with('/') => format!("{prefix}callback"),
        Some(prefix) => format!("{prefix}/callback"),
        None => pattern.to_string(),
    }
}

/// The post-logout redirect URI for a client: from `post.logout.redirect.uris` (`##`-separated;
/// `+` means "the valid redirect URIs"), else none. Patterns become concrete as above, with a
/// trailing `*` mapped to the site root (`http://localhost:5000/*` → `http://localhost:5000/`).
pub fn post_logout_redirect_uri(
    attribute: Option<&str>,
    redirect_uris: &[String],
) -> Option<String> {
    let first = attribute?
        .split("##")
        .map(str::trim)
        .find(|s| !s.is_empty())?;
    let pattern = if first == "+" {
        redirect_uris.first()?.as_str()
    } else {
        first
    };
    Some(match pattern.strip_suffix('*') {
        Some(prefix) if prefix.ends_with('/') => prefix.to_string(),
        Some(prefix) => format!("{prefix}/"),
        None => pattern.to_string(),
    })
}

/// Keycloak resolves a relative redirect URI (`/cb`) against the client's root URL.
fn absolute(uri: &str, root_url: Option<&str>) -> String {
    match (uri.starts_with('/'), root_url) {
        (true, Some(root)) => format!("{}{uri}", root.trim_end_matches('/')),
        _ => uri.to_string(),
    }
}

fn site_root(uri: &str) -> String {
    Url::parse(uri)
        .map(|u| format!("{}/", u.origin().ascii_serialization()))
        .unwrap_or_else(|_| uri.to_string())
}

#[cfg(test)]
impl VerifyTarget {
    /// The reference realm's values, with Keycloak at `url`: for unit tests.
    pub(crate) fn reference(url: &str) -> VerifyTarget {
        VerifyTarget {
            keycloak_url: Url::parse(url).unwrap(),
            realm: "testing".into(),
            client_id: "test-client".into(),
            client_secret: "s3cret".into(),
            username: "test-user".into(),
            password: "test-user$123".into(),
            redirect_uri: "http://localhost:5000/callback".into(),
            post_logout_redirect_uri: "http://localhost:5000/".into(),
            expected_hostname: Some("localhost".into()),
        }
    }
}

#[cfg(test)]
mod tests;
