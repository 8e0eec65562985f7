use super::*;

fn resolve_for(text: &str, registry: &str) -> Result<Resolved, CredentialsError> {
    resolve(text, Path::new("/h/.docker/config.json"), registry)
}

fn found(text: &str, registry: &str) -> Credentials {
    match resolve_for(text, registry) {
        Ok(Resolved::Found(c)) => c,
        other => panic!("expected credentials, got {other:?}"),
    }
}

#[test]
fn auths_gives_user_and_password_from_base64_or_fields_and_identity_tokens() {
    // "alice:pa:ss" — a password may hold `:`.
    let c = found(
        r#"{"auths":{"127.0.0.1:5000":{"auth":"YWxpY2U6cGE6c3M="}}}"#,
        "127.0.0.1:5000",
    );
    assert_eq!(
        (c.username.as_deref(), c.password.as_deref()),
        (Some("alice"), Some("pa:ss"))
    );
    assert_eq!(c.serveraddress, "127.0.0.1:5000");
    let c = found(
        r#"{"auths":{"quay.io":{"username":"bob","password":"pw"}}}"#,
        "quay.io",
    );
    assert_eq!(
        (c.username.as_deref(), c.password.as_deref()),
        (Some("bob"), Some("pw"))
    );
    let c = found(
        r#"{"auths":{"ghcr.io":{"identitytoken":"tok"}}}"#,
        "ghcr.io",
    );
    assert_eq!(
        (c.username, c.identitytoken.as_deref()),
        (None, Some("tok"))
    );
    let bollard = found(
        r#"{"auths":{"ghcr.io":{"identitytoken":"tok"}}}"#,
        "ghcr.io",
    )
    .to_bollard();
    assert_eq!(bollard.identitytoken.as_deref(), Some("tok"));
    assert_eq!(bollard.serveraddress.as_deref(), Some("ghcr.io"));
}

#[test]
fn keys_match_with_or_without_scheme_and_path_and_hub_by_any_name() {
    let auth = r#"{"auth":"dTpw"}"#; // u:p
    for key in [
        "127.0.0.1:5000",
        "http://127.0.0.1:5000",
        "https://127.0.0.1:5000/v2/",
    ] {
        let text = format!(r#"{{"auths":{{"{key}":{auth}}}}}"#);
        assert_eq!(found(&text, "127.0.0.1:5000").serveraddress, key);
        assert_eq!(
            resolve_for(&text, "127.0.0.1:5001").unwrap(),
            Resolved::Anonymous
        );
    }
    for key in [
        DOCKER_HUB_KEY,
        "index.docker.io",
        "docker.io",
        "https://registry-1.docker.io",
    ] {
        let text = format!(r#"{{"auths":{{"{key}":{auth}}}}}"#);
        assert_eq!(
            found(&text, "docker.io").username.as_deref(),
            Some("u"),
            "{key}"
        );
    }
    // The exact key wins over a legacy one.
    let text = r#"{"auths":{"http://docker.io":{"auth":"eDp5"},"https://index.docker.io/v1/":{"auth":"dTpw"}}}"#;
    assert_eq!(found(text, "docker.io").username.as_deref(), Some("u"));
}

#[test]
fn cred_helpers_over_creds_store_over_auths() {
    let text = r#"{"auths":{"quay.io":{"auth":"dTpw"}},"credsStore":"desktop",
                   "credHelpers":{"quay.io":"gcr"}}"#;
    let helper = |name: &str, setting, server: &str| Resolved::Helper {
        name: name.into(),
        setting,
        server: server.into(),
    };
    assert_eq!(
        resolve_for(text, "quay.io").unwrap(),
        helper("gcr", "credHelpers", "quay.io")
    );
    // A configured store decides alone, as in the CLI: `auths` is not read beside it.
    assert_eq!(
        resolve_for(text, "docker.io").unwrap(),
        helper("desktop", "credsStore", DOCKER_HUB_KEY)
    );
    let text = r#"{"auths":{"quay.io":{"auth":"dTpw"}},"credsStore":""}"#;
    assert!(matches!(
        resolve_for(text, "quay.io").unwrap(),
        Resolved::Found(_)
    ));
}

#[test]
fn no_file_content_or_entry_is_anonymous_and_malformed_names_the_file() {
    for text in [
        "",
        "{}",
        r#"{"auths":{"quay.io":{}}}"#,
        r#"{"auths":null,"x":1}"#,
    ] {
        assert_eq!(
            resolve_for(text, "quay.io").unwrap(),
            Resolved::Anonymous,
            "{text}"
        );
    }
    for text in [
        "{",
        r#"{"auths":[]}"#,
        r#"{"auths":{"quay.io":{"auth":"!!"}}}"#,
        r#"{"auths":{"quay.io":{"auth":"bm9jb2xvbg=="}}}"#,
    ] {
        let e = resolve_for(text, "quay.io").unwrap_err().to_string();
        assert!(e.contains("`/h/.docker/config.json` is malformed"), "{e}");
    }
}

#[test]
fn secrets_stay_out_of_debug_and_errors() {
    let c = found(
        r#"{"auths":{"q.io":{"auth":"dTpzZWNyZXQ=","identitytoken":"tok"}}}"#,
        "q.io",
    );
    let shown = format!("{c:?}");
    assert!(
        !shown.contains("\"secret\"") && !shown.contains("\"tok\""),
        "{shown}"
    );
    assert!(shown.contains("<redacted>"), "{shown}");
    let e = helper_answer(r#"{"Secret":"s3cret""#, "x", "q.io").unwrap_err();
    assert!(!e.contains("s3cret"), "{e}");
}

#[test]
fn a_helper_answer_maps_to_credentials() {
    let c = helper_answer(
        r#"{"ServerURL":"q.io","Username":"<token>","Secret":"t"}"#,
        "x",
        "q.io",
    );
    let c = c.unwrap().unwrap();
    assert_eq!((c.username, c.identitytoken.as_deref()), (None, Some("t")));
    assert_eq!(
        c.source.to_string(),
        "the credential helper `docker-credential-x`"
    );
    assert_eq!(
        helper_answer(r#"{"Username":"","Secret":""}"#, "x", "q.io"),
        Ok(None)
    );
}

#[test]
fn the_refusal_advice_names_the_registry_and_the_source() {
    let none = login_advice("127.0.0.1:5000", None);
    assert_eq!(
        none,
        "run `docker login 127.0.0.1:5000` (iamstack reads the docker CLI's credentials: \
         $DOCKER_CONFIG or ~/.docker/config.json, credential helpers included)"
    );
    let sent = login_advice(
        "docker.io",
        Some("the credential helper `docker-credential-pass`"),
    );
    assert!(sent.starts_with(
        "the registry refused the credentials from the credential helper \
                              `docker-credential-pass`: run `docker login docker.io` again"
    ));
}

#[cfg(unix)]
#[test]
fn helpers_are_run_through_the_protocol_on_the_given_path() {
    use std::os::unix::fs::PermissionsExt;
    let bin = tempfile::tempdir().unwrap();
    let script = |name: &str, body: &str| {
        let file = bin.path().join(format!("docker-credential-{name}"));
        std::fs::write(
            &file,
            format!("#!/bin/sh\n[ \"$1\" = get ] || exit 9\n{body}\n"),
        )
        .unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o755)).unwrap();
    };
    script(
        "fake",
        r#"server=$(cat)
case "$server" in
  127.0.0.1:5000) printf '{"ServerURL":"%s","Username":"alice","Secret":"s3cret"}' "$server" ;;
  *) echo "credentials not found in native keychain"; exit 1 ;;
esac"#,
    );
    script(
        "broken",
        "cat >/dev/null; echo 'keychain locked' >&2; exit 3",
    );
    script("slow", "sleep 5");
    let config = tempfile::tempdir().unwrap();
    let lookup = Lookup {
        config_dir: Some(config.path().into()),
        path: Some(std::env::join_paths([bin.path()]).unwrap()),
        helper_timeout: Duration::from_millis(500),
    };
    // No config.json at all: anonymous.
    assert_eq!(lookup.find("127.0.0.1:5000").unwrap(), None);
    let write = |text: &str| std::fs::write(config.path().join("config.json"), text).unwrap();
    write(
        r#"{"credsStore":"fake","credHelpers":{"quay.io":"broken","ghcr.io":"slow","x.io":"gone"}}"#,
    );
    let c = lookup.find("127.0.0.1:5000").unwrap().unwrap();
    assert_eq!(
        (c.username.as_deref(), c.password.as_deref()),
        (Some("alice"), Some("s3cret"))
    );
    assert_eq!(
        c.source,
        Source::Helper {
            name: "fake".into()
        }
    );
    assert_eq!(
        lookup.find("docker.io").unwrap(),
        None,
        "not found: anonymous"
    );
    let error = |registry| lookup.find(registry).unwrap_err().to_string();
    let broken = error("quay.io");
    assert!(
        broken.contains("`docker-credential-broken` (`credHelpers` in `")
            && broken.contains("keychain locked"),
        "{broken}"
    );
    let started = Instant::now();
    assert!(error("ghcr.io").contains("did not answer within 0.5 s"));
    assert!(started.elapsed() < Duration::from_secs(3));
    assert!(error("x.io").contains("is not installed"));
    write("{\"auths\": {");
    assert!(matches!(
        lookup.find("quay.io"),
        Err(CredentialsError::Malformed { .. })
    ));
}
