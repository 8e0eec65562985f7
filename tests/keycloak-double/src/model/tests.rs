use super::*;

#[test]
fn passwords_verify_only_with_the_right_value() {
    let cred = PasswordCredential::new("kc_admin$123", 0);
    assert!(cred.verify("kc_admin$123"));
    assert!(!cred.verify("kc_admin$124"));
    assert_ne!(cred.hash, "kc_admin$123");
}

#[test]
fn bootstrap_creates_master_with_a_lowercased_temporary_admin() {
    let state = State::bootstrap("Admin", "pw", 1);
    let master = state.realm(MASTER).expect("master");
    assert!(master.enabled());
    assert_eq!(master.access_token_lifespan(), 60);
    let admin = master.user_by_username("admin").expect("admin user");
    assert!(admin.enabled && admin.is_admin());
    assert_eq!(admin.attributes["is_temporary_admin"], vec!["true"]);
    assert!(master.client_by_client_id("master-realm").is_some());
    let cli = master.client_by_client_id(ADMIN_CLI).expect("admin-cli");
    assert!(cli.is_public() && cli.direct_access_grants_enabled() && !cli.standard_flow_enabled());
}

#[test]
fn a_new_realm_is_disabled_with_300_second_tokens_and_six_builtin_clients() {
    let realm = Realm::new("testing", None, 0);
    assert!(!realm.enabled());
    assert_eq!(realm.access_token_lifespan(), 300);
    let mut ids: Vec<_> = realm
        .clients
        .iter()
        .map(|c| c.client_id().to_owned())
        .collect();
    ids.sort();
    assert_eq!(
        ids,
        [
            "account",
            "account-console",
            "admin-cli",
            "broker",
            "realm-management",
            "security-admin-console"
        ]
    );
}

#[test]
fn a_user_missing_profile_fields_must_verify_the_profile_outside_master() {
    let realm = Realm::new("testing", None, 0);
    let user = User {
        username: "u".into(),
        email: Some("u@x".into()),
        first_name: Some("U".into()),
        ..User::default()
    };
    assert_eq!(user.pending_actions(&realm), vec![VERIFY_PROFILE]);
    let complete = User {
        last_name: Some("V".into()),
        ..user
    };
    assert!(complete.pending_actions(&realm).is_empty());
}

#[test]
fn the_bootstrap_admin_holds_admin_and_the_default_role() {
    let state = State::bootstrap("admin", "pw", 1);
    let master = state.realm(MASTER).expect("master");
    let admin = master.user_by_username("admin").expect("admin user");
    let effective: Vec<String> = master
        .effective_role_ids(Mapper::User(&admin.id))
        .iter()
        .filter_map(|id| master.role_by_id(id).map(|r| r.name.clone()))
        .collect();
    for role in [
        "admin",
        "create-realm",
        "default-roles-master",
        "offline_access",
    ] {
        assert!(effective.iter().any(|r| r == role), "{role}: {effective:?}");
    }
}

#[test]
fn group_paths_keep_slashes_in_names_and_still_resolve() {
    let mut realm = Realm::new("testing", None, 0);
    let parent = Group::new("a/b", None, None);
    let child = Group::new("c", Some(&parent.id), None);
    let (parent_id, child_id) = (parent.id.clone(), child.id.clone());
    realm.groups.extend([parent, child]);
    let child = realm.group_by_id(&child_id).expect("child");
    assert_eq!(realm.group_path(child), "/a/b/c");
    assert_eq!(
        realm.group_by_path("/a/b/c").map(|g| &g.id),
        Some(&child_id)
    );
    assert_eq!(realm.group_by_path("a/b").map(|g| &g.id), Some(&parent_id));
    assert!(realm.group_by_path("/a").is_none());
}

#[test]
fn a_state_saved_before_roles_gets_the_built_in_roles() {
    let mut state = State::bootstrap("admin", "pw", 1);
    state.realms[0].roles.clear();
    let state = state.upgraded();
    assert!(state.realms[0].realm_role("default-roles-master").is_some());
}
