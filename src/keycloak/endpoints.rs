//! The values `env` prints and `up` shows at the end: Keycloak's endpoints for the realm,
//! the admin and test credentials from the realm file, and Postgres's URL
//! (`docs/conventions.md`, "iamstack env keys"). Pure: no I/O.

use serde::Serialize;
use url::Url;

use super::discovery::OidcUrls;
use super::realm_file::RealmFile;
use crate::config::AdminCredentials;

/// One `KEY=value` pair; `secret` ones are masked in CI and hidden unless asked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EnvVar {
    pub key: &'static str,
    pub value: String,
    pub secret: bool,
}

/// What the values are computed from.
#[derive(Debug, Clone)]
pub struct EnvInputs<'a> {
    /// Keycloak's front-end base URL (e.g. `http://localhost:8080`): what it calls itself.
    pub keycloak_url: &'a Url,
    /// The realm's endpoints as Keycloak's discovery document states them; they win over
    /// values computed from `keycloak_url`.
    pub discovered: Option<&'a OidcUrls>,
    pub admin: &'a AdminCredentials,
    pub realm: &'a RealmFile,
    /// The client's secret when the file does not set one (read from Keycloak), else `None`.
    pub client_secret_override: Option<String>,
    /// `postgres://user:password@host:port/db`, if known.
    pub postgres_url: Option<String>,
}

/// Every key in conventions order. Keys whose value is unknown (no client, no user) are
/// present with an empty value, so a script can rely on them being set.
pub fn env_vars(inputs: &EnvInputs) -> Vec<EnvVar> {
    let base = match inputs.discovered.and_then(OidcUrls::front_end_url) {
        Some(front_end) => front_end.to_string(),
        None => inputs
            .keycloak_url
            .as_str()
            .trim_end_matches('/')
            .to_string(),
    };
    let realm = inputs.realm;
    let urls = match inputs.discovered {
        Some(discovered) => discovered.clone(),
        None => OidcUrls::under(&base, &path_segment(realm.name())),
    };
    let client = realm.primary_client();
    let user = realm.primary_user();
    let var = |key, value: String, secret| EnvVar { key, value, secret };
    vec![
        var("KEYCLOAK_URL", base.clone(), false),
        var(
            "KEYCLOAK_ADMIN_CONSOLE",
            format!("{base}/admin/master/console/"),
            false,
        ),
        var("KEYCLOAK_ADMIN_USER", inputs.admin.username.clone(), false),
        var(
            "KEYCLOAK_ADMIN_PASSWORD",
            inputs.admin.password.clone(),
            true,
        ),
        var("OIDC_ISSUER", urls.issuer.clone(), false),
        var(
            "OIDC_DISCOVERY_URL",
            format!("{}/.well-known/openid-configuration", urls.issuer),
            false,
        ),
        var("OIDC_AUTH_URL", urls.authorization_endpoint, false),
        var("OIDC_TOKEN_URL", urls.token_endpoint, false),
        var("OIDC_USERINFO_URL", urls.userinfo_endpoint, false),
        var("OIDC_LOGOUT_URL", urls.end_session_endpoint, false),
        var(
            "OIDC_CLIENT_ID",
            client
                .map(|c| c.client_id().to_string())
                .unwrap_or_default(),
            false,
        ),
        var(
            "OIDC_CLIENT_SECRET",
            client
                .and_then(|c| c.secret().map(str::to_string))
                .or_else(|| inputs.client_secret_override.clone())
                .unwrap_or_default(),
            true,
        ),
        var(
            "OIDC_USERNAME",
            user.map(|u| u.username().to_string()).unwrap_or_default(),
            false,
        ),
        var(
            "OIDC_PASSWORD",
            user.and_then(|u| u.password().map(|p| p.value.clone()))
                .unwrap_or_default(),
            true,
        ),
        var(
            "POSTGRES_URL",
            inputs.postgres_url.clone().unwrap_or_default(),
            true,
        ),
    ]
}

/// `postgres://user:password@host:port/db`, user and password percent-encoded (everything but
/// RFC 3986 unreserved characters, so `$` becomes `%24`).
pub fn postgres_url(user: &str, password: &str, host: &str, port: u16, db: &str) -> String {
    format!(
        "postgres://{}:{}@{host}:{port}/{}",
        encode_unreserved(user),
        encode_unreserved(password),
        encode_unreserved(db)
    )
}

fn encode_unreserved(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn path_segment(s: &str) -> String {
    let mut u = Url::parse("http://x/").expect("static URL parses");
    if let Ok(mut segs) = u.path_segments_mut() {
        segs.clear().push(s);
    }
    u.path().trim_start_matches('/').to_string()
}

// --- Output formats ------------------------------------------------------------------------

/// `export KEY='value'` lines for `eval "$(iamstack env)"`: single quotes keep `$` literal.
pub fn format_shell(vars: &[EnvVar]) -> String {
    vars.iter()
        .map(|v| format!("export {}={}\n", v.key, shell_quote(&v.value)))
        .collect()
}

pub fn shell_quote(value: &str) -> String {
    format!("'{}'", value.replace('\'', r"'\''"))
}

/// `KEY=value` lines for a `.env` file. Values with anything but plain characters are
/// single-quoted (literal in docker compose, python-dotenv and iamstack's own `--env-file`);
/// a value containing `'` is double-quoted with `\`, `"` and `$` escaped.
pub fn format_dotenv(vars: &[EnvVar]) -> String {
    vars.iter()
        .map(|v| format!("{}={}\n", v.key, dotenv_quote(&v.value)))
        .collect()
}

pub fn dotenv_quote(value: &str) -> String {
    let plain = value
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "_-./:@%+,".contains(c));
    if plain {
        value.to_string()
    } else if !value.contains('\'') && !value.contains('\n') {
        format!("'{value}'")
    } else {
        let escaped = value
            .replace('\\', "\\\\")
            .replace('"', "\\\"")
            .replace('$', "\\$")
            .replace('\n', "\\n");
        format!("\"{escaped}\"")
    }
}

/// One JSON object `{"KEY": "value", ...}`.
pub fn format_json(vars: &[EnvVar]) -> String {
    let map: serde_json::Map<String, serde_json::Value> = vars
        .iter()
        .map(|v| {
            (
                v.key.to_string(),
                serde_json::Value::String(v.value.clone()),
            )
        })
        .collect();
    let mut s = serde_json::Value::Object(map).to_string();
    s.push('\n');
    s
}

/// `::add-mask::` lines for the secret values (workflow-command escaped), for stdout.
pub fn github_masks(vars: &[EnvVar]) -> String {
    vars.iter()
        .filter(|v| v.secret && !v.value.is_empty())
        .map(|v| {
            let escaped = v
                .value
                .replace('%', "%25")
                .replace('\r', "%0D")
                .replace('\n', "%0A");
            format!("::add-mask::{escaped}\n")
        })
        .collect()
}

/// Lines to append to `$GITHUB_ENV` / `$GITHUB_OUTPUT`: `KEY=value`, or the heredoc form
/// with a delimiter that does not occur in the value when it spans lines.
pub fn github_file_lines(vars: &[EnvVar]) -> String {
    vars.iter()
        .map(|v| {
            if v.value.contains('\n') || v.value.contains('\r') {
                let mut delim = "IAMSTACK_EOF".to_string();
                while v.value.contains(&delim) {
                    delim.push('_');
                }
                format!("{}<<{delim}\n{}\n{delim}\n", v.key, v.value)
            } else {
                format!("{}={}\n", v.key, v.value)
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keycloak::realm_file::{parse_realm_file, BUILTIN_REALM};

    fn vars() -> Vec<EnvVar> {
        let realm = parse_realm_file(BUILTIN_REALM, "b", false, &|_| None).unwrap();
        let url = Url::parse("http://localhost:8080").unwrap();
        let admin = AdminCredentials {
            username: "admin".into(),
            password: "kc_admin$123".into(),
        };
        env_vars(&EnvInputs {
            keycloak_url: &url,
            discovered: None,
            admin: &admin,
            realm: &realm,
            client_secret_override: None,
            postgres_url: Some(postgres_url(
                "keycloak",
                "keycloak$123",
                "127.0.0.1",
                5432,
                "keycloak",
            )),
        })
    }

    fn get<'a>(vars: &'a [EnvVar], key: &str) -> &'a str {
        &vars.iter().find(|v| v.key == key).unwrap().value
    }

    #[test]
    fn keycloaks_own_discovery_values_win_over_the_probe_address() {
        let realm = parse_realm_file(BUILTIN_REALM, "b", false, &|_| None).unwrap();
        let admin = AdminCredentials {
            username: "admin".into(),
            password: "x".into(),
        };
        // Reached at 127.0.0.1, Keycloak calls itself `localhost` (KC_HOSTNAME).
        let probe = Url::parse("http://127.0.0.1:49153").unwrap();
        let discovered = OidcUrls::under("http://localhost:49153", "testing");
        let v = env_vars(&EnvInputs {
            keycloak_url: &probe,
            discovered: Some(&discovered),
            admin: &admin,
            realm: &realm,
            client_secret_override: None,
            postgres_url: None,
        });
        assert_eq!(get(&v, "KEYCLOAK_URL"), "http://localhost:49153");
        assert_eq!(
            get(&v, "OIDC_ISSUER"),
            "http://localhost:49153/realms/testing"
        );
        assert_eq!(
            get(&v, "OIDC_DISCOVERY_URL"),
            "http://localhost:49153/realms/testing/.well-known/openid-configuration"
        );
        assert_eq!(
            get(&v, "OIDC_LOGOUT_URL"),
            "http://localhost:49153/realms/testing/protocol/openid-connect/logout"
        );
    }

    #[test]
    fn every_convention_key_with_the_reference_values() {
        let v = vars();
        let keys: Vec<&str> = v.iter().map(|v| v.key).collect();
        assert_eq!(
            keys,
            [
                "KEYCLOAK_URL",
                "KEYCLOAK_ADMIN_CONSOLE",
                "KEYCLOAK_ADMIN_USER",
                "KEYCLOAK_ADMIN_PASSWORD",
                "OIDC_ISSUER",
                "OIDC_DISCOVERY_URL",
                "OIDC_AUTH_URL",
                "OIDC_TOKEN_URL",
                "OIDC_USERINFO_URL",
                "OIDC_LOGOUT_URL",
                "OIDC_CLIENT_ID",
                "OIDC_CLIENT_SECRET",
                "OIDC_USERNAME",
                "OIDC_PASSWORD",
                "POSTGRES_URL"
            ]
        );
        assert_eq!(get(&v, "KEYCLOAK_URL"), "http://localhost:8080");
        assert_eq!(
            get(&v, "OIDC_ISSUER"),
            "http://localhost:8080/realms/testing"
        );
        assert_eq!(
            get(&v, "OIDC_TOKEN_URL"),
            "http://localhost:8080/realms/testing/protocol/openid-connect/token"
        );
        assert_eq!(
            get(&v, "OIDC_CLIENT_SECRET"),
            "g9YAmxsqegIvI1c4Bxsn3z949vcGsIf6"
        );
        assert_eq!(get(&v, "OIDC_PASSWORD"), "test-user$123");
        assert_eq!(
            get(&v, "POSTGRES_URL"),
            "postgres://keycloak:keycloak%24123@127.0.0.1:5432/keycloak"
        );
    }

    #[test]
    fn shell_output_survives_a_real_shell() {
        let mut v = vars();
        v.push(EnvVar {
            key: "OIDC_USERNAME",
            value: "it's $HOME `x` \"q\"".into(),
            secret: false,
        });
        let script = format!(
            "{}printf '%s\\n' \"$OIDC_PASSWORD\" \"$KEYCLOAK_ADMIN_PASSWORD\" \"$OIDC_USERNAME\"",
            format_shell(&v)
        );
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(&script)
            .output()
            .unwrap();
        assert_eq!(
            String::from_utf8(out.stdout).unwrap(),
            "test-user$123\nkc_admin$123\nit's $HOME `x` \"q\"\n"
        );
    }

    #[test]
    fn dotenv_quoting_reads_back_through_iamstacks_env_file() {
        let out = format_dotenv(&vars());
        assert!(out.contains("OIDC_PASSWORD='test-user$123'\n"), "{out}");
        assert!(out.contains("OIDC_CLIENT_ID=test-client\n"), "{out}");
        let parsed = crate::config::EnvFile::parse(&out, "x").unwrap();
        assert_eq!(parsed.get("KEYCLOAK_ADMIN_PASSWORD"), Some("kc_admin$123"));
        assert_eq!(dotenv_quote("it's"), "\"it's\"");
        assert_eq!(dotenv_quote("a'$b"), "\"a'\\$b\"");
    }

    #[test]
    fn json_is_one_object() {
        let v: serde_json::Value = serde_json::from_str(&format_json(&vars())).unwrap();
        assert_eq!(v["OIDC_CLIENT_ID"], "test-client");
        assert_eq!(v["OIDC_PASSWORD"], "test-user$123");
    }

    #[test]
    fn github_masks_only_secrets() {
        let v = vars();
        let masks = github_masks(&v);
        assert!(masks.contains("::add-mask::g9YAmxsqegIvI1c4Bxsn3z949vcGsIf6\n"));
        assert!(masks.contains("::add-mask::test-user$123\n"));
        assert!(masks.contains("::add-mask::kc_admin$123\n"));
        assert!(!masks.contains("test-client"));
        let lines = github_file_lines(&v);
        assert!(lines.contains("OIDC_PASSWORD=test-user$123\n"));
        let multi = github_file_lines(&[EnvVar {
            key: "K",
            value: "a\nIAMSTACK_EOF".into(),
            secret: false,
        }]);
        assert_eq!(multi, "K<<IAMSTACK_EOF_\na\nIAMSTACK_EOF\nIAMSTACK_EOF_\n");
        assert_eq!(
            github_masks(&[EnvVar {
                key: "K",
                value: "50%\nx".into(),
                secret: true
            }]),
            "::add-mask::50%25%0Ax\n"
        );
    }
}
