//! Configuration resolution and validation, as a user sees it: defaults, precedence, refusals.

mod stack_config_tests {
    use super::super::*;
    use crate::cli::{Cli, Command};
    use clap::Parser;

    fn resolve(argv: &[&str]) -> anyhow::Result<StackConfig> {
        let mut full = vec!["iamstack", "up"];
        full.extend_from_slice(argv);
        let cli = Cli::try_parse_from(full).expect("arguments parse");
        let Command::Up(up) = cli.command else {
            unreachable!("parsed `up`")
        };
        Ok(StackConfig::resolve(
            &up.stack,
            &up.admin,
            EngineConfig::from_value(None),
        )?)
    }

    #[test]
    fn defaults_reproduce_the_reference_setup_on_loopback() {
        let c = resolve(&[]).unwrap();
        assert_eq!(c.project, "iam");
        assert_eq!(c.postgres_image, "postgres:17.4");
        assert_eq!(c.keycloak_image, "keycloak/keycloak:26.2");
        assert_eq!(c.bind_address.to_string(), "127.0.0.1");
        assert_eq!(
            (c.postgres_port, c.keycloak_port, c.management_port),
            (5432, 8080, 9000)
        );
        assert_eq!(c.postgres_password, "keycloak$123");
        assert_eq!(c.admin.password, "kc_admin$123");
        assert_eq!(c.data, DataSource::Volume);
        assert_eq!(c.timeout, std::time::Duration::from_secs(300));
        assert_eq!(c.engine.host, "unix:///var/run/docker.sock");
    }

    #[test]
    fn env_file_sets_both_passwords_and_flags_win() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("vars.env");
        std::fs::write(&file, "POSTGRES_PASSWORD=pg$1\nKEYCLOAK_PASSWORD=kc$2\n").unwrap();
        let f = file.to_str().unwrap();
        let c = resolve(&["--env-file", f]).unwrap();
        assert_eq!(c.postgres_password, "pg$1");
        assert_eq!(c.admin.password, "kc$2");
        let c = resolve(&["--env-file", f, "--postgres-password", "flag"]).unwrap();
        assert_eq!(c.postgres_password, "flag");
    }

    #[test]
    fn a_public_bind_address_needs_non_default_passwords() {
        let err = resolve(&["--bind-address", "0.0.0.0"]).unwrap_err();
        assert_eq!(crate::error::exit_code(&err), 7);
        let msg = err.to_string();
        assert!(
            msg.contains("0.0.0.0") && msg.contains("--postgres-password"),
            "{msg}"
        );
        assert!(msg.contains("--admin-password"), "{msg}");
        let ok = resolve(&[
            "--bind-address",
            "0.0.0.0",
            "--postgres-password",
            "s3cret",
            "--admin-password",
            "s3cret2",
        ]);
        assert!(ok.is_ok());
        assert!(resolve(&["--bind-address", "::1"]).is_ok());
    }

    #[test]
    fn ports_must_differ_unless_zero() {
        let err = resolve(&["--keycloak-port", "9000"]).unwrap_err();
        assert!(
            err.to_string()
                .contains("--keycloak-port and --management-port"),
            "{err}"
        );
        assert!(resolve(&[
            "--postgres-port",
            "0",
            "--keycloak-port",
            "0",
            "--management-port",
            "0"
        ])
        .is_ok());
    }

    #[test]
    fn reserved_labels_are_refused() {
        let err = resolve(&["--label", "dev.iamstack.stack=x"]).unwrap_err();
        assert_eq!(crate::error::exit_code(&err), 7);
        let c = resolve(&["--label", "dev.iamstack.test-run=abc", "--label", "team=a"]).unwrap();
        assert_eq!(
            c.labels.get("dev.iamstack.test-run").map(String::as_str),
            Some("abc")
        );
        assert_eq!(c.labels.len(), 2);
    }

    #[test]
    fn keycloak_env_needs_valid_names() {
        let c = resolve(&["--keycloak-env", "KC_LOG_LEVEL=debug"]).unwrap();
        assert_eq!(
            c.keycloak_env,
            vec![("KC_LOG_LEVEL".into(), "debug".into())]
        );
        let err = resolve(&["--keycloak-env", "KC-BAD=1"]).unwrap_err();
        assert_eq!(crate::error::exit_code(&err), 7);
    }

    #[test]
    fn data_dir_becomes_absolute() {
        let c = resolve(&["--data-dir", "rel/pg"]).unwrap();
        match c.data {
            DataSource::HostDir(p) => assert!(p.is_absolute() && p.ends_with("rel/pg")),
            DataSource::Volume | DataSource::Ephemeral => panic!("expected a host dir"),
        }
    }

    #[test]
    fn ephemeral_keeps_data_in_memory_and_is_refused_with_a_data_dir() {
        let c = resolve(&["--ephemeral"]).unwrap();
        assert_eq!(c.data, DataSource::Ephemeral);
        let err = resolve(&["--ephemeral", "--data-dir", "/tmp/pg"]).unwrap_err();
        assert_eq!(crate::error::exit_code(&err), 7);
        let msg = err.to_string();
        assert!(
            msg.contains("--ephemeral") && msg.contains("--data-dir"),
            "{msg}"
        );
    }

    #[test]
    fn the_optimized_image_is_on_by_default_and_off_with_no_optimize() {
        assert!(resolve(&[]).unwrap().optimize);
        assert!(!resolve(&["--no-optimize"]).unwrap().optimize);
    }

    #[test]
    fn docker_host_is_honoured() {
        let e = EngineConfig::from_value(Some("tcp://10.0.0.5:2375".into()));
        assert_eq!(e.host, "tcp://10.0.0.5:2375");
        assert!(!e.is_local());
        assert!(EngineConfig::from_value(Some(String::new())).is_local());
    }
}

mod env_file_tests {
    use super::super::*;

    #[test]
    fn env_file_values_are_literal() {
        let f = EnvFile::parse(
            "# reference vars.env\nPOSTGRES_PASSWORD=keycloak$123\nKEYCLOAK_PASSWORD='kc_admin$123'\n",
            "vars.env",
        )
        .unwrap();
        assert_eq!(f.get("POSTGRES_PASSWORD"), Some("keycloak$123"));
        assert_eq!(f.get("KEYCLOAK_PASSWORD"), Some("kc_admin$123"));
    }

    #[test]
    fn env_file_errors_name_file_and_line() {
        let err: anyhow::Error = EnvFile::parse("A=1\nbroken\n", "vars.env")
            .unwrap_err()
            .into();
        assert_eq!(crate::error::exit_code(&err), 7);
        assert!(err.to_string().contains("vars.env:2"), "{err}");
    }

    #[test]
    fn admin_password_precedence() {
        let file = EnvFile::parse("KEYCLOAK_PASSWORD=fromfile", "f").unwrap();
        let none = AdminArgs {
            admin_user: None,
            admin_password: None,
        };
        assert_eq!(AdminCredentials::resolve(&none, &file).password, "fromfile");
        assert_eq!(
            AdminCredentials::resolve(&none, &EnvFile::default()).password,
            "kc_admin$123"
        );
        let flag = AdminArgs {
            admin_user: None,
            admin_password: Some("flag".into()),
        };
        assert_eq!(AdminCredentials::resolve(&flag, &file).password, "flag");
    }
}

mod ci_detection_tests {
    use super::super::ci_value_means_ci;

    #[test]
    fn ci_is_on_unless_unset_empty_zero_or_false() {
        for on in ["true", "1", "yes", "TRUE"] {
            assert!(ci_value_means_ci(Some(on)), "{on}");
        }
        for off in ["", "0", "false", "False", " false "] {
            assert!(!ci_value_means_ci(Some(off)), "{off:?}");
        }
        assert!(!ci_value_means_ci(None));
    }
}
