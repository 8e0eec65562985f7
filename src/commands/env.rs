//! `iamstack env`: endpoints and credentials as environment variables
//! (`--format shell|dotenv|json|github`). Always prints the secrets: that is its job.

use std::io::Write;
use std::path::Path;

use crate::cli::{EnvArgs, EnvFormat};
use crate::commands::apply::resolve_target;
use crate::config::{self, AdminCredentials, ConfigError, EnvFile, DEFAULT_POSTGRES_PASSWORD};
use crate::keycloak::discovery::{front_end_url, read_discovery};
use crate::keycloak::endpoints::{self, EnvInputs};
use crate::keycloak::{self, AdminClient, AdminError};
use crate::report::Reporter;
use crate::stack::plan::url_host;

pub async fn run(args: EnvArgs, _reporter: &Reporter) -> anyhow::Result<u8> {
    let realms = keycloak::load_realm_files(&args.realm.realm_files)?;
    let Some(realm) = realms.first() else {
        return Err(ConfigError::Other("no realm file to read values from".into()).into());
    };
    let env_file = EnvFile::from_args(&args.target.project)?;
    let admin = AdminCredentials::resolve(&args.admin, &env_file);
    let (url, found) = resolve_target(&args.target).await?;
    let hostname = found.as_ref().and_then(|f| f.hostname.as_deref());
    let front_end = front_end_url(&url, hostname);

    // Keycloak's own values: an application validating tokens compares `iss` with
    // OIDC_ISSUER, so it must be exactly what Keycloak says, not the address we probe.
    let discovered = match read_discovery(&url, realm.name()).await {
        Ok(d) => Some(d),
        Err(why) => {
            warn(&format!(
                "cannot read Keycloak's discovery document ({why}); the OIDC_* values are \
                 computed from {front_end} and may differ from what Keycloak advertises"
            ));
            None
        }
    };
    let stack_found = found.is_some();

    // A confidential client without a secret in the file: Keycloak generated it; read it.
    let client_secret_override = match realm.primary_client() {
        Some(c) if c.is_confidential() && c.secret().is_none() => {
            Some(read_client_secret(&url, &admin, realm.name(), c.client_id()).await?)
        }
        _ => None,
    };

    // Postgres as the running stack publishes it; without a stack, what `up` would configure
    // by default, with the env file's POSTGRES_PASSWORD.
    let postgres_url = match found.and_then(|f| f.postgres) {
        Some(pg) => endpoints::postgres_url(
            &pg.user,
            &pg.password,
            &url_host(pg.addr.ip()),
            pg.addr.port(),
            &pg.db,
        ),
        None => endpoints::postgres_url(
            config::DEFAULT_POSTGRES_USER,
            env_file
                .get("POSTGRES_PASSWORD")
                .unwrap_or(DEFAULT_POSTGRES_PASSWORD),
            &url_host(config::DEFAULT_BIND_ADDRESS),
            config::DEFAULT_POSTGRES_PORT,
            config::DEFAULT_POSTGRES_DB,
        ),
    };

    let vars = endpoints::env_vars(&EnvInputs {
        keycloak_url: &front_end,
        discovered: discovered.as_ref(),
        admin: &admin,
        realm,
        client_secret_override,
        postgres_url: Some(postgres_url),
    });
    if stack_found {
        let keycloak_url = vars.iter().find(|v| v.key == "KEYCLOAK_URL");
        if let Some(host) = keycloak_url.and_then(|v| url::Url::parse(&v.value).ok()) {
            if let Some(w) = not_this_machine_warning(&host).await {
                warn(&w);
            }
        }
    }

    let mut stdout = std::io::stdout().lock();
    let text = match args.format {
        EnvFormat::Shell => endpoints::format_shell(&vars),
        EnvFormat::Dotenv => endpoints::format_dotenv(&vars),
        EnvFormat::Json => endpoints::format_json(&vars),
        EnvFormat::Github => {
            // The GitHub Actions runner names these files; outside it, say so.
            let env_path = std::env::var_os("GITHUB_ENV");
            let output_path = std::env::var_os("GITHUB_OUTPUT");
            let (Some(env_path), Some(output_path)) = (env_path, output_path) else {
                return Err(ConfigError::Other(
                    "`--format github` appends to $GITHUB_ENV and $GITHUB_OUTPUT, which are not \
                     set: run it in a GitHub Actions step, or use `--format shell|dotenv|json`"
                        .into(),
                )
                .into());
            };
            // Masks first, so the runner hides the values before anything else shows them.
            stdout.write_all(endpoints::github_masks(&vars).as_bytes())?;
            stdout.flush()?;
            let lines = endpoints::github_file_lines(&vars);
            append(Path::new(&env_path), &lines)?;
            append(Path::new(&output_path), &lines)?;
            format!(
                "wrote {} variables to $GITHUB_ENV and $GITHUB_OUTPUT\n",
                vars.len()
            )
        }
    };
    stdout.write_all(text.as_bytes())?;
    Ok(crate::error::exit::OK)
}

fn append(path: &Path, text: &str) -> anyhow::Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
        .map_err(|e| ConfigError::Other(format!("cannot append to `{}`: {e}", path.display())))?;
    f.write_all(text.as_bytes())?;
    Ok(())
}

async fn read_client_secret(
    url: &url::Url,
    admin: &AdminCredentials,
    realm: &str,
    client_id: &str,
) -> anyhow::Result<String> {
    let client = AdminClient::new(url, admin)?;
    let missing = || AdminError::NotFound {
        what: format!("read the secret of client `{client_id}` in realm `{realm}`"),
        message: format!(
            "the client does not exist in Keycloak at {url}; run `iamstack apply` first (the \
             realm file sets no secret, so Keycloak generates it)"
        ),
    };
    // The representation carries a confidential client's secret (keycloak-behaviour §4).
    let found = client
        .find_client(realm, client_id)
        .await?
        .ok_or_else(missing)?;
    Ok(found
        .get("secret")
        .and_then(|v| v.as_str())
        .map(str::to_string)
        .ok_or_else(missing)?)
}

/// Warnings go to stderr whatever the output mode: stdout carries the variables.
fn warn(message: &str) {
    eprintln!("warning: {message}");
}

/// A warning when the host Keycloak names itself with does not lead to this machine (a local
/// stack started with e.g. `--hostname kc.example`): the values are still Keycloak's, but this
/// machine reaches them only with an `/etc/hosts` line.
async fn not_this_machine_warning(keycloak_url: &url::Url) -> Option<String> {
    let host = keycloak_url
        .host_str()?
        .trim_start_matches('[')
        .trim_end_matches(']');
    let port = keycloak_url.port_or_known_default()?;
    if let Ok(ip) = host.parse::<std::net::IpAddr>() {
        return (!ip.is_loopback()).then(|| {
            format!("Keycloak names itself {keycloak_url}, which is not this machine's loopback")
        });
    }
    let lookup = tokio::time::timeout(
        std::time::Duration::from_secs(3),
        tokio::net::lookup_host((host, port)),
    )
    .await;
    let local = match lookup {
        Ok(Ok(mut addrs)) => addrs.any(|a| a.ip().is_loopback()),
        _ => false,
    };
    (!local).then(|| {
        format!(
            "Keycloak names itself {keycloak_url} (its KC_HOSTNAME), and `{host}` does not \
             resolve to this machine: to use these values from here, add the line `127.0.0.1 \
             {host}` to /etc/hosts"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_hostname_that_is_not_this_machine_gets_the_hosts_line() {
        let local = url::Url::parse("http://localhost:8080").unwrap();
        assert_eq!(not_this_machine_warning(&local).await, None);
        let ip = url::Url::parse("http://127.0.0.1:8080").unwrap();
        assert_eq!(not_this_machine_warning(&ip).await, None);
        // `.invalid` never resolves (RFC 2606).
        let other = url::Url::parse("http://kc.invalid:8080").unwrap();
        let w = not_this_machine_warning(&other).await.expect("a warning");
        assert!(
            w.contains("127.0.0.1 kc.invalid") && w.contains("/etc/hosts"),
            "{w}"
        );
    }

    #[test]
    fn an_ipv6_postgres_address_is_bracketed_in_the_url() {
        let url = endpoints::postgres_url("u", "p", &url_host("::1".parse().unwrap()), 5432, "d");
        assert_eq!(url, "postgres://u:p@[::1]:5432/d");
        let parsed = url::Url::parse(&url).expect("a valid URL");
        assert_eq!(parsed.port(), Some(5432));
        assert_eq!(url_host("127.0.0.1".parse().unwrap()), "127.0.0.1");
    }
}
