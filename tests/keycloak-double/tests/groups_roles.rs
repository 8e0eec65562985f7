//! Roles, groups, group membership and role mappings of the double's admin API, asserted as a
//! client sees them (status, body). Each test starts its own in-process double.

use iamstack_test_support::admin_token;
use keycloak_double::{start, DoubleConfig, RunningDouble};
use reqwest::header::{ACCEPT, LOCATION};
use reqwest::{Client, Method, StatusCode};
use serde_json::{json, Value};

struct Api {
    double: RunningDouble,
    token: String,
}

impl Api {
    async fn new() -> Self {
        let double = start(DoubleConfig::default()).await.expect("double starts");
        let token = admin_token(&double.base_url()).await;
        Api { double, token }
    }

    /// (status, Location, body as JSON or Null).
    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Option<String>, Value) {
        let mut req = Client::new()
            .request(
                method,
                format!("{}/admin/realms{path}", self.double.base_url()),
            )
            .bearer_auth(&self.token)
            .header(ACCEPT, "application/json");
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = req.send().await.expect("request");
        let status = r.status();
        let location = r
            .headers()
            .get(LOCATION)
            .map(|v| v.to_str().expect("ascii").to_owned());
        let text = r.text().await.expect("body");
        let value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
        };
        (status, location, value)
    }

    async fn get(&self, path: &str) -> Value {
        let (status, _, body) = self.call(Method::GET, path, None).await;
        assert_eq!(status, StatusCode::OK, "GET {path}: {body}");
        body
    }

    async fn ok(&self, method: Method, path: &str, body: Value) -> Option<String> {
        let (status, location, answer) = self.call(method.clone(), path, Some(body)).await;
        assert!(status.is_success(), "{method} {path}: {status} {answer}");
        location
    }

    async fn realm(&self, rep: Value) {
        self.ok(Method::POST, "", rep).await;
    }

    async fn user_id(&self, realm: &str, username: &str) -> String {
        let users = self
            .get(&format!("/{realm}/users?username={username}&exact=true"))
            .await;
        users[0]["id"].as_str().expect("user id").to_owned()
    }

    async fn client_uuid(&self, realm: &str, client_id: &str) -> String {
        let clients = self
            .get(&format!("/{realm}/clients?clientId={client_id}"))
            .await;
        clients[0]["id"].as_str().expect("client id").to_owned()
    }
}

fn names(list: &Value) -> Vec<String> {
    let mut names: Vec<String> = list
        .as_array()
        .expect("a list")
        .iter()
        .map(|r| r["name"].as_str().expect("name").to_owned())
        .collect();
    names.sort();
    names
}

fn last_segment(location: &str) -> String {
    location.rsplit('/').next().expect("segment").to_owned()
}

#[tokio::test]
async fn a_new_realm_has_keycloaks_built_in_roles() {
    let api = Api::new().await;
    api.realm(json!({"realm": "Acme", "enabled": true})).await;
    let realm = api.get("/Acme").await;
    let roles = api.get("/Acme/roles").await;
    assert_eq!(
        names(&roles),
        ["default-roles-acme", "offline_access", "uma_authorization"]
    );
    let default = roles
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "default-roles-acme")
        .unwrap();
    assert_eq!(default["description"], "${role_default-roles}");
    assert_eq!(default["composite"], true);
    assert_eq!(default["clientRole"], false);
    assert_eq!(default["containerId"], realm["id"]);
    assert!(default.get("attributes").is_none(), "brief: {default}");
    assert_eq!(realm["defaultRole"]["id"], default["id"]);

    let full = api.get("/Acme/roles?briefRepresentation=false").await;
    assert_eq!(full[0]["attributes"], json!({}));
    let offline = api.get("/Acme/roles/offline_access").await;
    assert_eq!(offline["description"], "${role_offline-access}");
    assert_eq!(offline["composite"], false);

    let management = api.client_uuid("Acme", "realm-management").await;
    let admin_roles = api.get(&format!("/Acme/clients/{management}/roles")).await;
    let admin_names = names(&admin_roles);
    for wanted in [
        "realm-admin",
        "manage-users",
        "view-users",
        "query-groups",
        "impersonation",
    ] {
        assert!(
            admin_names.iter().any(|n| n == wanted),
            "{wanted}: {admin_names:?}"
        );
    }
    let realm_admin = api
        .get(&format!("/Acme/clients/{management}/roles/realm-admin"))
        .await;
    assert_eq!(realm_admin["clientRole"], true);
    assert_eq!(realm_admin["containerId"], management.as_str());
    assert_eq!(realm_admin["composite"], true);
    let account = api.client_uuid("Acme", "account").await;
    let account_roles = api.get(&format!("/Acme/clients/{account}/roles")).await;
    assert!(names(&account_roles).contains(&"manage-account".to_owned()));
}

#[tokio::test]
async fn roles_are_created_read_updated_and_conflicts_refused() {
    let api = Api::new().await;
    api.realm(json!({"realm": "r", "enabled": true})).await;
    let body = json!({"name": "editor", "description": "Edits", "attributes": {"a": ["1"]}});
    let location = api.ok(Method::POST, "/r/roles", body.clone()).await;
    assert!(location.unwrap().ends_with("/admin/realms/r/roles/editor"));
    let (status, _, answer) = api.call(Method::POST, "/r/roles", Some(body)).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(
        answer,
        json!({"errorMessage": "Role with name editor already exists"})
    );

    let (status, _, answer) = api.call(Method::GET, "/r/roles/nope", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(answer, json!({"error": "Could not find role"}));

    api.ok(
        Method::PUT,
        "/r/roles/editor",
        json!({"name": "editor", "description": "New"}),
    )
    .await;
    let role = api.get("/r/roles/editor").await;
    assert_eq!(role["description"], "New");
    assert_eq!(role["attributes"], json!({"a": ["1"]}));

    let (status, _, answer) = api
        .call(
            Method::POST,
            "/r/roles",
            Some(json!({"name": "x", "scopeParamRequired": true})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let message = answer["error"].as_str().unwrap();
    assert!(message.starts_with("Invalid json representation for RoleRepresentation."));

    let (status, _, answer) = api
        .call(Method::DELETE, "/r/roles/default-roles-r", None)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        answer,
        json!({"errorMessage": "default-roles-r is default role of the realm and cannot be removed."})
    );
}

fn import_body(realm: &str, user_groups: Value) -> Value {
    json!({
        "realm": realm,
        "enabled": true,
        "clients": [{"clientId": "app", "protocol": "openid-connect", "publicClient": false}],
        "roles": {
            "realm": [{"name": "editor", "description": "Edits"}],
            "client": {"app": [{"name": "reader"}]}
        },
        "groups": [{
            "name": "staff",
            "attributes": {"dept": ["x"]},
            "realmRoles": ["editor"],
            "clientRoles": {"app": ["reader"]},
            "subGroups": [{"name": "admins"}]
        }],
        "users": [{
            "username": "alice",
            "enabled": true,
            "realmRoles": ["editor", "made-on-import"],
            "clientRoles": {"app": ["reader"]},
            "groups": user_groups
        }]
    })
}

#[tokio::test]
async fn an_import_brings_roles_groups_memberships_and_mappings() {
    let api = Api::new().await;
    api.realm(import_body("imp", json!(["/staff/admins"])))
        .await;

    let groups = api.get("/imp/groups").await;
    assert_eq!(groups.as_array().unwrap().len(), 1);
    let staff = &groups[0];
    assert_eq!(staff["name"], "staff");
    assert_eq!(staff["path"], "/staff");
    assert_eq!(staff["subGroupCount"], 1);
    assert_eq!(staff["subGroups"], json!([]));
    assert!(staff.get("attributes").is_none(), "brief: {staff}");
    assert!(staff.get("parentId").is_none());
    let staff_id = staff["id"].as_str().unwrap();

    let full = api.get(&format!("/imp/groups/{staff_id}")).await;
    assert_eq!(full["attributes"], json!({"dept": ["x"]}));
    assert_eq!(full["realmRoles"], json!(["editor"]));
    assert_eq!(full["clientRoles"], json!({"app": ["reader"]}));
    assert_eq!(full["access"]["manage"], true);

    let children = api.get(&format!("/imp/groups/{staff_id}/children")).await;
    assert_eq!(children[0]["path"], "/staff/admins");
    assert_eq!(children[0]["parentId"], staff_id);

    let alice = api.user_id("imp", "alice").await;
    let user = api.get(&format!("/imp/users/{alice}")).await;
    assert!(user.get("groups").is_none() && user.get("realmRoles").is_none());
    let memberships = api.get(&format!("/imp/users/{alice}/groups")).await;
    assert_eq!(
        memberships,
        json!([{"id": children[0]["id"], "name": "admins", "path": "/staff/admins",
                "parentId": staff_id, "subGroups": []}])
    );

    // Imported users get exactly their realmRoles: no default role.
    let mappings = api.get(&format!("/imp/users/{alice}/role-mappings")).await;
    assert_eq!(
        names(&mappings["realmMappings"]),
        ["editor", "made-on-import"]
    );
    let app = &mappings["clientMappings"]["app"];
    assert_eq!(app["client"], "app");
    assert_eq!(app["id"], api.client_uuid("imp", "app").await.as_str());
    assert_eq!(names(&app["mappings"]), ["reader"]);
    let made = api.get("/imp/roles/made-on-import").await;
    assert!(made.get("description").is_none());
}

#[tokio::test]
async fn an_import_naming_an_unknown_group_or_client_creates_no_realm() {
    let api = Api::new().await;
    let (status, _, answer) = api
        .call(
            Method::POST,
            "",
            Some(import_body("bad", json!(["/staff/nobody"]))),
        )
        .await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(answer["error"], "unknown_error");
    let (status, _, _) = api.call(Method::GET, "/bad", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let mut body = import_body("bad", json!([]));
    body["users"][0]["clientRoles"] = json!({"ghost": ["x"]});
    let (status, _, _) = api.call(Method::POST, "", Some(body)).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    let (status, _, _) = api.call(Method::GET, "/bad", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_user_made_through_the_api_gets_the_default_role_and_its_groups() {
    let api = Api::new().await;
    api.realm(json!({"realm": "r", "enabled": true})).await;
    let location = api
        .ok(Method::POST, "/r/groups", json!({"name": "team"}))
        .await;
    let team = last_segment(&location.expect("Location"));
    api.ok(
        Method::POST,
        "/r/users",
        json!({"username": "bob", "groups": ["/team"], "realmRoles": ["offline_access"]}),
    )
    .await;
    let bob = api.user_id("r", "bob").await;
    let direct = api
        .get(&format!("/r/users/{bob}/role-mappings/realm"))
        .await;
    assert_eq!(names(&direct), ["default-roles-r"]);
    let effective = api
        .get(&format!("/r/users/{bob}/role-mappings/realm/composite"))
        .await;
    assert_eq!(
        names(&effective),
        ["default-roles-r", "offline_access", "uma_authorization"]
    );
    let groups = api.get(&format!("/r/users/{bob}/groups")).await;
    assert_eq!(groups[0]["id"], team.as_str());

    let (status, _, answer) = api
        .call(
            Method::POST,
            "/r/users",
            Some(json!({"username": "carol", "groups": ["/missing"]})),
        )
        .await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(answer["error"], "unknown_error");
    let users = api.get("/r/users?username=carol&exact=true").await;
    assert_eq!(users, json!([]));
}

#[tokio::test]
async fn membership_is_joined_and_left_by_id() {
    let api = Api::new().await;
    api.realm(json!({"realm": "r", "enabled": true})).await;
    let team = last_segment(
        &api.ok(Method::POST, "/r/groups", json!({"name": "team"}))
            .await
            .unwrap(),
    );
    api.ok(Method::POST, "/r/users", json!({"username": "dan"}))
        .await;
    let dan = api.user_id("r", "dan").await;
    let path = format!("/r/users/{dan}/groups/{team}");
    for _ in 0..2 {
        let (status, _, _) = api.call(Method::PUT, &path, None).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
    }
    let count = api.get(&format!("/r/users/{dan}/groups/count")).await;
    assert_eq!(count, json!({"count": 1}));
    let (status, _, _) = api.call(Method::DELETE, &path, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let count = api.get(&format!("/r/users/{dan}/groups/count")).await;
    assert_eq!(count, json!({"count": 0}));

    let (status, _, answer) = api
        .call(Method::PUT, &format!("/r/users/{dan}/groups/nope"), None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(answer, json!({"error": "Group not found"}));
}

#[tokio::test]
async fn role_mappings_name_the_role_by_name_and_id() {
    let api = Api::new().await;
    api.realm(json!({"realm": "r", "enabled": true})).await;
    api.ok(Method::POST, "/r/roles", json!({"name": "editor"}))
        .await;
    api.ok(Method::POST, "/r/users", json!({"username": "eve"}))
        .await;
    let eve = api.user_id("r", "eve").await;
    let editor = api.get("/r/roles/editor").await;
    let realm_path = format!("/r/users/{eve}/role-mappings/realm");

    for wrong in [
        json!([{"name": "editor"}]),
        json!([{"name": "editor", "id": "nope"}]),
        json!([{"id": editor["id"]}]),
        json!([editor.clone(), {"name": "ghost", "id": "x"}]),
    ] {
        let (status, _, answer) = api.call(Method::POST, &realm_path, Some(wrong)).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(answer, json!({"error": "Role not found"}));
    }
    // Nothing of a refused request stays.
    assert_eq!(names(&api.get(&realm_path).await), ["default-roles-r"]);

    api.ok(
        Method::POST,
        &realm_path,
        json!([{"name": "editor", "id": editor["id"]}]),
    )
    .await;
    assert_eq!(
        names(&api.get(&realm_path).await),
        ["default-roles-r", "editor"]
    );
    let (status, _, _) = api
        .call(Method::DELETE, &realm_path, Some(json!([editor.clone()])))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(names(&api.get(&realm_path).await), ["default-roles-r"]);

    let account = api.client_uuid("r", "account").await;
    let view_groups = api
        .get(&format!("/r/clients/{account}/roles/view-groups"))
        .await;
    let client_path = format!("/r/users/{eve}/role-mappings/clients/{account}");
    api.ok(Method::POST, &client_path, json!([view_groups]))
        .await;
    let mappings = api.get(&format!("/r/users/{eve}/role-mappings")).await;
    assert_eq!(
        names(&mappings["clientMappings"]["account"]["mappings"]),
        ["view-groups"]
    );
    assert_eq!(names(&mappings["realmMappings"]), ["default-roles-r"]);

    let (status, _, answer) = api
        .call(
            Method::GET,
            &format!("/r/users/{eve}/role-mappings/clients/nope"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(answer, json!({"error": "Client not found"}));
}

#[tokio::test]
async fn group_conflicts_children_and_their_page_size() {
    let api = Api::new().await;
    api.realm(json!({"realm": "r", "enabled": true})).await;
    let team = last_segment(
        &api.ok(Method::POST, "/r/groups", json!({"name": "team"}))
            .await
            .unwrap(),
    );
    let (status, _, answer) = api
        .call(Method::POST, "/r/groups", Some(json!({"name": "team"})))
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(
        answer,
        json!({"errorMessage": "Top level group named 'team' already exists."})
    );
    let (status, _, answer) = api
        .call(Method::POST, "/r/groups", Some(json!({"name": " "})))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(answer, json!({"errorMessage": "Group name is missing"}));

    let children = format!("/r/groups/{team}/children");
    let (status, location, child) = api
        .call(Method::POST, &children, Some(json!({"name": "sub"})))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert!(location.unwrap().ends_with(&format!(
        "/admin/realms/r/groups/{}",
        child["id"].as_str().unwrap()
    )));
    assert_eq!(child["path"], "/team/sub");
    assert_eq!(child["parentId"], team.as_str());
    let (status, _, answer) = api
        .call(Method::POST, &children, Some(json!({"name": "sub"})))
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(
        answer,
        json!({"errorMessage": "Sibling group named 'sub' already exists."})
    );

    for i in 0..11 {
        api.ok(Method::POST, &children, json!({"name": format!("c{i:02}")}))
            .await;
    }
    assert_eq!(api.get(&children).await.as_array().unwrap().len(), 10);
    assert_eq!(
        api.get(&format!("{children}?first=10"))
            .await
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let count = api.get("/r/groups/count").await;
    assert_eq!(count, json!({"count": 13}));
    let found = api.get("/r/groups?search=c05").await;
    assert_eq!(found[0]["name"], "team");
    assert_eq!(names(&found[0]["subGroups"]), ["c05"]);

    let (status, _, answer) = api.call(Method::GET, "/r/groups/nope", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(answer, json!({"error": "Could not find group by id"}));
}

#[tokio::test]
async fn deleting_a_group_or_role_removes_its_memberships_and_mappings() {
    let api = Api::new().await;
    api.realm(import_body("imp", json!(["/staff"]))).await;
    let alice = api.user_id("imp", "alice").await;
    let staff = api.get("/imp/groups").await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();

    let (status, _, _) = api.call(Method::DELETE, "/imp/roles/editor", None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let direct = api
        .get(&format!("/imp/users/{alice}/role-mappings/realm"))
        .await;
    assert_eq!(names(&direct), ["made-on-import"]);
    let group = api.get(&format!("/imp/groups/{staff}")).await;
    assert_eq!(group["realmRoles"], json!([]));

    let (status, _, _) = api
        .call(Method::DELETE, &format!("/imp/groups/{staff}"), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(
        api.get(&format!("/imp/users/{alice}/groups")).await,
        json!([])
    );
    assert_eq!(api.get("/imp/groups/count").await, json!({"count": 0}));
}
