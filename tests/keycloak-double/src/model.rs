//! The double's whole state: realms holding clients, users (with password hashes), the realm's
//! signing keys, and user sessions / authorization codes. Everything here is plain data
//! (serde), so the container form can persist it as one JSON document and reload it.
//!
//! Clients keep their model as a JSON map in Keycloak's representation field names: Keycloak's
//! update semantics ("a field absent from the request keeps the current model value") are then a
//! merge. Users are typed.

//!
//! One module per kind of object: [`realm`], [`client`], [`user`] (with the realm's
//! [`user_profile`]), [`role`] (realm and client roles, role mappings), [`group`], [`session`]
//! (SSO sessions and codes), [`keys`].

use std::collections::BTreeMap;

use rand::distr::Alphanumeric;
use rand::Rng;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

mod client;
mod group;
mod keys;
mod realm;
mod role;
mod session;
mod user;
pub mod user_profile;

pub use client::{default_client_fields, Client};
pub use group::Group;
pub use keys::{RealmKeys, RsaPublicJwk};
pub use realm::Realm;
pub use role::{Mapper, Role};
pub use session::{AuthCode, UserSession};
pub use user::{PasswordCredential, User};

/// The administration realm.
pub const MASTER: &str = "master";

/// The public client every realm has for password grants (used by admin tools).
pub const ADMIN_CLI: &str = "admin-cli";

/// The version the double claims to be (`/admin/serverinfo`).
pub const KEYCLOAK_VERSION: &str = "26.2.5";

/// Required action names.
pub const UPDATE_PASSWORD: &str = "UPDATE_PASSWORD";

pub const VERIFY_PROFILE: &str = "VERIFY_PROFILE";

pub const VERIFY_EMAIL: &str = "VERIFY_EMAIL";

/// Every realm, master first.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct State {
    pub realms: Vec<Realm>,
}

impl State {
    /// A fresh installation: the master realm with the bootstrap (temporary) admin user.
    pub fn bootstrap(admin_user: &str, admin_password: &str, now_ms: u64) -> Self {
        let mut master = Realm::new(MASTER, None, now_ms);
        for (k, v) in [
            ("enabled", json!(true)),
            ("displayName", json!("Keycloak")),
            (
                "displayNameHtml",
                json!("<div class=\"kc-logo-text\"><span>Keycloak</span></div>"),
            ),
            ("accessTokenLifespan", json!(60)),
        ] {
            master.settings.insert(k.to_owned(), v);
        }
        let admin_id = uuid();
        master.users.push(User {
            id: admin_id.clone(),
            username: admin_user.to_lowercase(),
            enabled: true,
            created_timestamp: now_ms,
            attributes: BTreeMap::from([(
                "is_temporary_admin".to_owned(),
                vec!["true".to_owned()],
            )]),
            password: Some(PasswordCredential::new(admin_password, now_ms)),
            realm_roles: vec!["admin".to_owned(), "create-realm".to_owned()],
            ..User::default()
        });
        // ApplianceBootstrap#createMasterRealmAdminUser: `addUser(realm, username)` grants the
        // default role, then `admin` is granted.
        master.grant_default_role(&admin_id);
        let mut state = State {
            realms: vec![master],
        };
        state.add_realm_admin_client(MASTER);
        state
    }

    /// A state persisted before realms had roles: each realm gets its built-in roles.
    pub fn upgraded(mut self) -> Self {
        for realm in self.realms.iter_mut().filter(|r| r.roles.is_empty()) {
            realm.add_builtin_roles();
        }
        self
    }

    pub fn realm(&self, name: &str) -> Option<&Realm> {
        self.realms.iter().find(|r| r.name == name)
    }

    pub fn realm_mut(&mut self, name: &str) -> Option<&mut Realm> {
        self.realms.iter_mut().find(|r| r.name == name)
    }

    /// Keycloak keeps a `<realm>-realm` client in master for each realm.
    pub fn add_realm_admin_client(&mut self, realm_name: &str) {
        if let Some(master) = self.realm_mut(MASTER) {
            let client_id = format!("{realm_name}-realm");
            if master.client_by_client_id(&client_id).is_none() {
                let mut fields = default_client_fields();
                fields.insert("clientId".into(), json!(client_id));
                fields.insert("name".into(), json!(format!("{realm_name} Realm")));
                fields.insert("bearerOnly".into(), json!(true));
                master.clients.push(Client { id: uuid(), fields });
            }
        }
    }
}

pub fn uuid() -> String {
    uuid::Uuid::new_v4().to_string()
}

pub fn random_token(len: usize) -> String {
    rand::rng()
        .sample_iter(&Alphanumeric)
        .take(len)
        .map(char::from)
        .collect()
}

pub fn string_list(value: Option<&Value>) -> Vec<String> {
    value
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests;
