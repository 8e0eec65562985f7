use super::*;
use crate::cli::PullPolicy;
use crate::config::{AdminCredentials, EngineConfig};

/// The reference configuration, for every stack test.
pub(crate) fn config() -> StackConfig {
    StackConfig {
        project: "iam".into(),
        engine: EngineConfig::from_value(None),
        postgres_image: "postgres:17.4".into(),
        keycloak_image: "keycloak/keycloak:26.2".into(),
        pull: PullPolicy::Missing,
        bind_address: "127.0.0.1".parse().unwrap(),
        postgres_port: 5432,
        keycloak_port: 8080,
        management_port: 9000,
        data: DataSource::Volume,
        postgres_db: "keycloak".into(),
        postgres_user: "keycloak".into(),
        postgres_password: "keycloak$123".into(),
        hostname: "localhost".into(),
        timeout: std::time::Duration::from_secs(300),
        labels: BTreeMap::new(),
        keycloak_env: Vec::new(),
        admin: AdminCredentials {
            username: "admin".into(),
            password: "kc_admin$123".into(),
        },
        optimize: true,
    }
}

#[test]
fn default_plan_matches_the_reference() {
    let p = plan(&config());
    assert_eq!(p.network.name, "my-iam-net");
    assert_eq!(p.postgres.name, "iam-postgres");
    assert_eq!(p.keycloak.name, "iam-keycloak");
    assert_eq!(p.postgres.image, "postgres:17.4");
    assert_eq!(
        p.postgres.env_value("POSTGRES_PASSWORD"),
        Some("keycloak$123")
    );
    assert_eq!(
        p.postgres.binds,
        vec!["iam-pgdata:/var/lib/postgresql/data"]
    );
    assert_eq!(p.postgres.aliases, vec!["postgres"]);
    assert_eq!(p.keycloak.cmd, vec!["start"]);
    for (k, v) in [
        ("KC_DB", "postgres"),
        ("KC_DB_URL", "jdbc:postgresql://postgres:5432/keycloak"),
        ("KC_DB_URL_HOST", "postgres"),
        ("KC_DB_URL_PORT", "5432"),
        ("KC_DB_USERNAME", "keycloak"),
        ("KC_DB_PASSWORD", "keycloak$123"),
        ("KC_BOOTSTRAP_ADMIN_USERNAME", "admin"),
        ("KC_BOOTSTRAP_ADMIN_PASSWORD", "kc_admin$123"),
        ("KC_HTTP_ENABLED", "true"),
        ("KC_HOSTNAME", "localhost"),
        ("KC_HEALTH_ENABLED", "true"),
    ] {
        assert_eq!(p.keycloak.env_value(k), Some(v), "{k}");
    }
}

#[test]
fn every_port_is_published_on_loopback() {
    let p = plan(&config());
    let ports: Vec<_> = p
        .containers()
        .iter()
        .flat_map(|c| c.ports.iter())
        .map(|p| (p.container_port, p.host_ip.to_string(), p.host_port))
        .collect();
    assert_eq!(
        ports,
        vec![
            (5432, "127.0.0.1".into(), 5432),
            (8080, "127.0.0.1".into(), 8080),
            (9000, "127.0.0.1".into(), 9000)
        ]
    );
    let body = serde_json::to_value(p.keycloak.create_body()).unwrap();
    assert_eq!(
        body["HostConfig"]["PortBindings"]["9000/tcp"][0]["HostIp"],
        "127.0.0.1"
    );
    assert_eq!(body["ExposedPorts"]["8080/tcp"], serde_json::json!({}));
    assert_eq!(body["HostConfig"]["NetworkMode"], "my-iam-net");
    assert_eq!(
        body["NetworkingConfig"]["EndpointsConfig"]["my-iam-net"]["Aliases"][0],
        "keycloak"
    );
}

#[test]
fn port_zero_asks_the_engine_for_a_free_port() {
    let mut c = config();
    c.postgres_port = 0;
    let body = serde_json::to_value(plan(&c).postgres.create_body()).unwrap();
    assert_eq!(
        body["HostConfig"]["PortBindings"]["5432/tcp"][0]["HostPort"],
        ""
    );
}

#[test]
fn everything_carries_our_labels_and_the_extra_ones() {
    let mut c = config();
    c.project = "t1".into();
    c.labels
        .insert("dev.iamstack.test-run".into(), "run-9".into());
    let p = plan(&c);
    let DataPlan::Volume { name, labels } = &p.data else {
        panic!("volume expected")
    };
    assert_eq!(name, "t1-pgdata");
    for (labels, role) in [
        (&p.network.labels, "network"),
        (labels, "data"),
        (&p.postgres.labels, "postgres"),
        (&p.keycloak.labels, "keycloak"),
    ] {
        assert_eq!(labels["dev.iamstack.stack"], "t1");
        assert_eq!(labels["dev.iamstack.role"], role);
        assert_eq!(labels["dev.iamstack.test-run"], "run-9");
    }
    assert_eq!(p.network.name, "t1-net");
    assert_eq!(p.postgres.config_hash().len(), 16);
}

#[test]
fn a_changed_setting_changes_only_the_hash_of_the_container_it_affects() {
    let base = plan(&config());
    let mut c = config();
    c.hostname = "kc.local".into();
    let changed = plan(&c);
    assert_eq!(base.postgres.config_hash(), changed.postgres.config_hash());
    assert_ne!(base.keycloak.config_hash(), changed.keycloak.config_hash());

    let mut c = config();
    c.postgres_image = "postgres:17.5".into();
    let changed = plan(&c);
    assert_ne!(base.postgres.config_hash(), changed.postgres.config_hash());
    assert_eq!(base.keycloak.config_hash(), changed.keycloak.config_hash());

    // The database password is both Postgres's and Keycloak's.
    let mut c = config();
    c.postgres_password = "other".into();
    let changed = plan(&c);
    assert_ne!(base.postgres.config_hash(), changed.postgres.config_hash());
    assert_ne!(base.keycloak.config_hash(), changed.keycloak.config_hash());

    // Same input, same hash: `up` twice is a no-op.
    assert_eq!(plan(&config()), base);
}

#[test]
fn extra_keycloak_env_is_added_or_replaces() {
    let mut c = config();
    c.keycloak_env = vec![
        ("KC_LOG_LEVEL".into(), "debug".into()),
        ("KC_HOSTNAME".into(), "kc.test".into()),
    ];
    let p = plan(&c);
    assert_eq!(p.keycloak.env_value("KC_LOG_LEVEL"), Some("debug"));
    assert_eq!(p.keycloak.env_value("KC_HOSTNAME"), Some("kc.test"));
    assert_eq!(
        p.keycloak
            .env
            .iter()
            .filter(|(k, _)| k == "KC_HOSTNAME")
            .count(),
        1
    );
    assert_ne!(
        p.keycloak.config_hash(),
        plan(&config()).keycloak.config_hash()
    );
    assert_eq!(p.postgres, plan(&config()).postgres);
}

#[test]
fn a_data_dir_is_bind_mounted_as_in_the_reference() {
    let mut c = config();
    c.data = DataSource::HostDir("/home/me/Downloads/DATA/postgres".into());
    let p = plan(&c);
    assert_eq!(
        p.postgres.binds,
        vec!["/home/me/Downloads/DATA/postgres:/var/lib/postgresql/data"]
    );
}

/// Compose's interpolation, as far as the file uses it: `${VAR}` and `$$`.
fn interpolate(s: &str, vars: &crate::config::EnvFile) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some(inner) = after.strip_prefix('{') {
            let end = inner.find('}').expect("closed ${");
            let key = &inner[..end];
            out.push_str(
                vars.get(key)
                    .unwrap_or_else(|| panic!("{key} not in vars.env.example")),
            );
            rest = &inner[end + 1..];
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

fn yaml_str(v: &serde_yaml::Value) -> String {
    match v {
        serde_yaml::Value::String(s) => s.clone(),
        serde_yaml::Value::Bool(b) => b.to_string(),
        serde_yaml::Value::Number(n) => n.to_string(),
        other => panic!("expected a scalar, found {other:?}"),
    }
}

#[test]
fn the_compose_file_runs_what_iamstack_runs() {
    let yaml = include_str!("../../../compose/postgres-keycloak.yml");
    let vars = crate::config::EnvFile::parse(
        include_str!("../../../compose/vars.env.example"),
        "vars.env.example",
    )
    .unwrap();
    let doc: serde_yaml::Value = serde_yaml::from_str(yaml).expect("compose file parses");
    let mut c = config();
    c.postgres_password = vars.get("POSTGRES_PASSWORD").unwrap().to_string();
    c.admin.password = vars.get("KEYCLOAK_PASSWORD").unwrap().to_string();
    // The example passwords are the reference's, i.e. iamstack's defaults.
    assert_eq!(plan(&c), plan(&config()));
    let p = plan(&c);

    let net = &doc["networks"][p.network.name.as_str()];
    assert_eq!(net["external"], serde_yaml::Value::Bool(true));
    assert_eq!(yaml_str(&net["name"]), p.network.name);

    for container in p.containers() {
        let svc = &doc["services"][container.role.as_str()];
        assert!(
            svc.is_mapping(),
            "service {} missing",
            container.role.as_str()
        );
        assert_eq!(yaml_str(&svc["image"]), container.image);
        assert_eq!(yaml_str(&svc["container_name"]), container.name);
        let env: BTreeMap<String, String> = svc["environment"]
            .as_mapping()
            .expect("environment is a mapping")
            .iter()
            .map(|(k, v)| (yaml_str(k), interpolate(&yaml_str(v), &vars)))
            .collect();
        let want: BTreeMap<String, String> = container.env.iter().cloned().collect();
        assert_eq!(env, want, "environment of {}", container.name);
        let ports: Vec<String> = svc["ports"]
            .as_sequence()
            .unwrap()
            .iter()
            .map(yaml_str)
            .collect();
        let want: Vec<String> = container
            .ports
            .iter()
            .map(|p| format!("{}:{}:{}", p.host_ip, p.host_port, p.container_port))
            .collect();
        assert_eq!(ports, want, "ports of {}", container.name);
        let aliases: Vec<String> = svc["networks"][container.network.as_str()]["aliases"]
            .as_sequence()
            .unwrap()
            .iter()
            .map(yaml_str)
            .collect();
        assert_eq!(aliases, container.aliases);
        let cmd = svc.get("command").map(yaml_str).unwrap_or_default();
        assert_eq!(cmd, container.cmd.join(" "));
        assert!(
            svc["healthcheck"]["test"].is_sequence(),
            "{} has a health check",
            container.name
        );
    }
    // The data volume: same name, same mount point.
    let DataPlan::Volume { name, .. } = &p.data else {
        panic!("volume expected")
    };
    assert_eq!(yaml_str(&doc["volumes"]["pgdata"]["name"]), *name);
    let mounts: Vec<String> = doc["services"]["postgres"]["volumes"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(yaml_str)
        .collect();
    assert_eq!(mounts, vec![format!("pgdata:{PGDATA}")]);
    // Keycloak waits for a healthy Postgres, as `up` does.
    assert_eq!(
        yaml_str(&doc["services"]["keycloak"]["depends_on"]["postgres"]["condition"]),
        "service_healthy"
    );
}

#[test]
fn probes_use_loopback_when_bound_everywhere() {
    assert_eq!(
        probe_host("0.0.0.0".parse().unwrap()).to_string(),
        "127.0.0.1"
    );
    assert_eq!(probe_host("::".parse().unwrap()).to_string(), "::1");
    assert_eq!(host_port("::1".parse().unwrap(), 80), "[::1]:80");
}

#[test]
fn an_ephemeral_postgres_keeps_its_data_in_memory_without_waiting_for_the_disk() {
    let mut c = config();
    c.data = DataSource::Ephemeral;
    let p = plan(&c);
    assert_eq!(p.data, DataPlan::Memory);
    assert!(p.postgres.binds.is_empty(), "{:?}", p.postgres.binds);
    assert_eq!(
        p.postgres.tmpfs,
        BTreeMap::from([(PGDATA.to_string(), String::new())])
    );
    assert_eq!(
        p.postgres.cmd,
        [
            "postgres",
            "-c",
            "fsync=off",
            "-c",
            "synchronous_commit=off",
            "-c",
            "full_page_writes=off"
        ]
    );
    let body = p.postgres.create_body();
    let host = body.host_config.unwrap();
    assert_eq!(host.binds, None);
    assert_eq!(
        host.tmpfs,
        Some([(PGDATA.to_string(), String::new())].into_iter().collect())
    );
    assert_ne!(
        p.postgres.config_hash(),
        plan(&config()).postgres.config_hash(),
        "switching to or from --ephemeral recreates Postgres"
    );
}
