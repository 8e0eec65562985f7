use super::*;
use crate::keycloak::realm_file::{parse_realm_file, BUILTIN_REALM};
use serde_json::json;

fn builtin() -> RealmFile {
    parse_realm_file(BUILTIN_REALM, "builtin", false, &|_| None).unwrap()
}

/// What Keycloak returns after creating the built-in realm: the file's fields plus the
/// defaults it fills in, lists in another order, a masked secret.
fn keycloak_view(realm: &RealmFile) -> Observed {
    let mut realm_rep = Value::Object(realm.fields().clone());
    realm_rep["id"] = json!("7d4c");
    realm_rep["sslRequired"] = json!("external");
    realm_rep["accessTokenLifespan"] = json!(300);
    let clients = realm
        .clients()
        .iter()
        .map(|c| {
            let mut rep = Value::Object(c.fields().clone());
            rep["id"] = json!("c-uuid");
            rep["secret"] = json!("**********");
            rep["frontchannelLogout"] = json!(true);
            rep["attributes"]["backchannel.logout.session.required"] = json!("true");
            if let Some(list) = rep["redirectUris"].as_array_mut() {
                list.reverse();
            }
            Some(ObservedClient {
                rep,
                secret: c.secret().map(str::to_string),
            })
        })
        .collect();
    let users = realm
        .users()
        .iter()
        .map(|u| {
            let mut rep = Value::Object(u.fields().clone());
            rep["id"] = json!("u-uuid");
            rep["username"] = json!(u.username().to_lowercase());
            rep["createdTimestamp"] = json!(1700000000000u64);
            Some(ObservedUser {
                rep,
                password: PasswordCheck::Matches,
                memberships: None,
            })
        })
        .collect();
    Observed {
        realm: Some(realm_rep),
        clients,
        users,
        user_profile: Some(crate::keycloak::user_profile::default_profile()),
        access: ObservedAccess::default(),
    }
}

#[test]
fn absent_realm_is_one_creation_with_everything_embedded() {
    let realm = builtin();
    let RealmPlan::Create { body } = plan(&realm, &Observed::default()) else {
        panic!("expected a creation");
    };
    assert_eq!(body["realm"], "testing");
    assert_eq!(body["enabled"], true);
    assert_eq!(body["clients"][0]["clientId"], "test-client");
    assert_eq!(
        body["clients"][0]["secret"],
        "g9YAmxsqegIvI1c4Bxsn3z949vcGsIf6"
    );
    assert_eq!(body["clients"][0]["publicClient"], false);
    assert_eq!(body["users"][0]["credentials"][0]["value"], "test-user$123");
    assert_eq!(body["users"][0]["credentials"][0]["temporary"], false);
}

#[test]
fn keycloak_defaults_and_list_order_are_not_differences() {
    let realm = builtin();
    let observed = keycloak_view(&realm);
    let RealmPlan::Reconcile {
        realm_patch,
        clients,
        users,
        ..
    } = plan(&realm, &observed)
    else {
        panic!("expected reconcile");
    };
    assert!(realm_patch.is_empty(), "{realm_patch:?}");
    assert_eq!(
        clients,
        vec![ClientPlan::Unchanged {
            client_id: "test-client".into()
        }]
    );
    assert_eq!(
        users,
        vec![UserPlan::Unchanged {
            username: "test-user".into()
        }]
    );
}

#[test]
fn drift_is_named_field_by_field() {
    let realm = builtin();
    let mut observed = keycloak_view(&realm);
    observed.realm.as_mut().unwrap()["displayName"] = json!("Changed");
    let client = observed.clients[0].as_mut().unwrap();
    client.rep["redirectUris"] = json!(["http://evil/*"]);
    client.rep["serviceAccountsEnabled"] = json!(false);
    client.rep["attributes"]["post.logout.redirect.uris"] = json!("+");
    client.secret = Some("regenerated".into());
    let user = observed.users[0].as_mut().unwrap();
    user.rep["lastName"] = json!("Else");
    user.password = PasswordCheck::Differs;

    let RealmPlan::Reconcile {
        realm_patch,
        clients,
        users,
        ..
    } = plan(&realm, &observed)
    else {
        panic!("expected reconcile");
    };
    assert_eq!(
        realm_patch,
        json!({"displayName": "Testing"})
            .as_object()
            .unwrap()
            .clone()
    );
    let ClientPlan::Update { id, changes, .. } = &clients[0] else {
        panic!("client should update: {clients:?}");
    };
    assert_eq!(id, "c-uuid");
    let mut changes = changes.clone();
    changes.sort();
    assert_eq!(
        changes,
        [
            "attributes.post.logout.redirect.uris",
            "redirectUris",
            "secret",
            "serviceAccountsEnabled"
        ]
    );
    let UserPlan::Update {
        put,
        password,
        changes,
        ..
    } = &users[0]
    else {
        panic!("user should update: {users:?}");
    };
    assert_eq!(changes, &["lastName", "password"]);
    let put = put.as_ref().unwrap();
    assert_eq!(put["lastName"], "User");
    assert_eq!(
        put["createdTimestamp"], 1700000000000u64,
        "PUT keeps Keycloak's fields"
    );
    assert!(put.get("credentials").is_none());
    assert_eq!(password.as_ref().unwrap().value, "test-user$123");
}

#[test]
fn unproven_password_is_set_and_matching_one_is_not() {
    let realm = builtin();
    let mut observed = keycloak_view(&realm);
    observed.users[0].as_mut().unwrap().password =
        PasswordCheck::Unproven("400 Account is not fully set up".into());
    let RealmPlan::Reconcile { users, .. } = plan(&realm, &observed) else {
        panic!()
    };
    assert!(
        matches!(&users[0], UserPlan::Update { put: None, password: Some(_), changes, .. } if changes == &["password"])
    );
}

#[test]
fn missing_client_and_user_are_created_in_an_existing_realm() {
    let realm = builtin();
    let mut observed = keycloak_view(&realm);
    observed.clients[0] = None;
    observed.users[0] = None;
    let RealmPlan::Reconcile { clients, users, .. } = plan(&realm, &observed) else {
        panic!()
    };
    assert!(
        matches!(&clients[0], ClientPlan::Create { body, .. } if body["secret"] == "g9YAmxsqegIvI1c4Bxsn3z949vcGsIf6")
    );
    assert!(
        matches!(&users[0], UserPlan::Create { body, .. } if body["credentials"][0]["type"] == "password")
    );
}

#[test]
fn merge_keeps_the_full_representation() {
    let realm = builtin();
    let spec = &realm.clients()[0];
    let current = json!({
        "id": "c-uuid", "clientId": "test-client", "serviceAccountsEnabled": false,
        "authorizationServicesEnabled": true, "protocolMappers": [{"name": "m"}],
        "attributes": {"backchannel.logout.session.required": "true"}
    });
    let merged = merge_client(&current, spec);
    assert_eq!(merged["id"], "c-uuid");
    assert_eq!(merged["serviceAccountsEnabled"], true);
    assert_eq!(merged["authorizationServicesEnabled"], true);
    assert_eq!(merged["protocolMappers"][0]["name"], "m");
    assert_eq!(merged["secret"], "g9YAmxsqegIvI1c4Bxsn3z949vcGsIf6");
    assert_eq!(
        merged["attributes"]["backchannel.logout.session.required"],
        "true"
    );
    assert_eq!(
        merged["attributes"]["post.logout.redirect.uris"],
        "http://localhost:5000/*"
    );
}

#[test]
fn roles_and_groups_are_not_patched_into_the_realm() {
    let desired = json!({"realm": "r", "roles": {"realm": [{"name": "x"}]}, "enabled": true});
    let current = json!({"realm": "r", "enabled": true});
    assert!(realm_patch(desired.as_object().unwrap(), &current).is_empty());
}

#[test]
fn unknown_realm_fields_absent_from_keycloak_differ() {
    let desired = json!({"realm": "r", "frobnicate": 1});
    let current = json!({"realm": "r"});
    let patch = realm_patch(desired.as_object().unwrap(), &current);
    assert_eq!(patch.keys().collect::<Vec<_>>(), ["frobnicate"]);
}

#[test]
fn covers_rules() {
    assert!(covers(&json!({"a": 1}), Some(&json!({"a": 1.0, "b": 2}))));
    assert!(!covers(&json!({"a": 1}), Some(&json!({"b": 2}))));
    assert!(covers(&json!("true"), Some(&json!(true))));
    assert!(covers(&json!(300), Some(&json!("300"))));
    assert!(!covers(&json!([1, 2]), Some(&json!([2, 1]))));
    assert!(covers(&Value::Null, None));
    assert!(!covers(&json!(false), None));
    assert!(field_matches(
        "email",
        &json!("A@B"),
        Some(&json!("a@b")),
        &[]
    ));
    assert!(field_matches(
        "webOrigins",
        &json!(["x", "y"]),
        Some(&json!(["y", "x"])),
        CLIENT_SET_FIELDS
    ));
}

const ACCESS_REALM: &str = r#"
realm: shop
roles:
  realm:
    - name: buyer
      description: Buys things
  client:
    shop-api:
      - name: read
groups:
  - name: staff
    attributes: {floor: ["2"]}
    realmRoles: [buyer]
    subGroups:
      - name: ops
users:
  - username: ann
    groups: [/staff/ops]
    realmRoles: [buyer, auditor]
    clientRoles: {shop-api: [read]}
"#;

fn access_realm() -> RealmFile {
    parse_realm_file(ACCESS_REALM, "access.yaml", false, &|_| None).unwrap()
}

/// Keycloak holding everything `ACCESS_REALM` declares, with the user's memberships.
fn access_view() -> Observed {
    let mut access = ObservedAccess::default();
    for (name, desc) in [
        ("buyer", Some("Buys things")),
        ("auditor", None),
        ("offline_access", None),
    ] {
        let mut rep = json!({"id": format!("r-{name}"), "name": name, "composite": false});
        if let Some(d) = desc {
            rep["description"] = json!(d);
        }
        access.realm_roles.insert(name.into(), rep);
    }
    access.client_roles.insert(
        "shop-api".into(),
        [("read".to_string(), json!({"id": "cr-read", "name": "read"}))].into(),
    );
    access.groups.insert(
        "/staff".into(),
        json!({"id": "g1", "name": "staff", "path": "/staff",
               "attributes": {"floor": ["2"]}, "realmRoles": ["buyer"]}),
    );
    access.groups.insert(
        "/staff/ops".into(),
        json!({"id": "g2", "name": "ops", "path": "/staff/ops", "parentId": "g1"}),
    );
    let memberships = Memberships {
        groups: ["/staff/ops".to_string()].into(),
        realm_roles: ["buyer", "auditor", "default-roles-shop"]
            .map(String::from)
            .into(),
        client_roles: [("shop-api".to_string(), ["read".to_string()].into())].into(),
    };
    Observed {
        realm: Some(json!({"id": "shop-id", "realm": "shop", "enabled": true})),
        clients: Vec::new(),
        users: vec![Some(ObservedUser {
            rep: json!({"id": "u1", "username": "ann", "enabled": true}),
            password: PasswordCheck::NotChecked,
            memberships: Some(memberships),
        })],
        user_profile: Some(crate::keycloak::user_profile::default_profile()),
        access,
    }
}

#[test]
fn roles_groups_and_memberships_keycloak_has_are_unchanged() {
    let realm = access_realm();
    let RealmPlan::Reconcile {
        realm_patch,
        access,
        users,
        ..
    } = plan(&realm, &access_view())
    else {
        panic!("expected reconcile");
    };
    assert!(realm_patch.is_empty(), "{realm_patch:?}");
    assert!(
        access
            .roles
            .iter()
            .all(|r| matches!(r, RolePlan::Unchanged { .. })),
        "{:?}",
        access.roles
    );
    assert_eq!(
        access.groups,
        vec![
            GroupPlan::Unchanged {
                path: "/staff".into()
            },
            GroupPlan::Unchanged {
                path: "/staff/ops".into()
            }
        ]
    );
    assert_eq!(
        users,
        vec![UserPlan::Unchanged {
            username: "ann".into()
        }]
    );
}

#[test]
fn missing_roles_groups_and_memberships_are_created_and_added() {
    let realm = access_realm();
    let mut observed = access_view();
    observed.access = ObservedAccess::default();
    observed.users[0].as_mut().unwrap().memberships = Some(Memberships::default());
    let RealmPlan::Reconcile { access, users, .. } = plan(&realm, &observed) else {
        panic!("expected reconcile");
    };
    let labels: Vec<String> = access.roles.iter().map(RolePlan::label).collect();
    // `auditor` is only named by the user: created as Keycloak's import would.
    assert_eq!(labels, ["buyer", "shop-api/read", "auditor"]);
    assert!(access
        .roles
        .iter()
        .all(|r| matches!(r, RolePlan::Create { .. })));
    assert!(matches!(
        &access.groups[..],
        [
            GroupPlan::Create { path: p1, parent: None, realm_roles: r1, .. },
            GroupPlan::Create { path: p2, parent: Some(parent), .. },
        ] if p1 == "/staff" && r1 == &["buyer"] && p2 == "/staff/ops" && parent == "/staff"
    ));
    let UserPlan::Update {
        grants,
        changes,
        put,
        ..
    } = &users[0]
    else {
        panic!("expected an update, got {:?}", users[0]);
    };
    assert_eq!(put, &None, "memberships are not user fields");
    assert_eq!(changes, &["groups", "realmRoles", "clientRoles.shop-api"]);
    assert_eq!(grants.groups, ["/staff/ops"]);
    assert_eq!(grants.realm_roles, ["buyer", "auditor"]);
}

#[test]
fn group_drift_is_named_and_a_new_user_gets_its_memberships_after_creation() {
    let realm = access_realm();
    let mut observed = access_view();
    observed.access.groups.get_mut("/staff").unwrap()["attributes"]["floor"] = json!(["3"]);
    observed.access.realm_roles.get_mut("buyer").unwrap()["description"] = json!("old");
    observed.users[0] = None;
    let RealmPlan::Reconcile { access, users, .. } = plan(&realm, &observed) else {
        panic!("expected reconcile");
    };
    assert!(matches!(
        &access.roles[0],
        RolePlan::Update { changes, body, .. } if changes == &["description"] && body["id"] == "r-buyer"
    ));
    assert!(matches!(
        &access.groups[0],
        GroupPlan::Update { changes, put: Some(put), .. }
            if changes == &["attributes.floor"] && put["attributes"]["floor"] == json!(["2"])
    ));
    let UserPlan::Create { body, grants, .. } = &users[0] else {
        panic!("expected a creation");
    };
    assert!(body.get("groups").is_none() && body.get("realmRoles").is_none());
    assert_eq!(
        grants.changes(),
        ["groups", "realmRoles", "clientRoles.shop-api"]
    );
}
