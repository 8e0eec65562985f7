//! `iamstack env`: endpoints and credentials as environment variables
//! (`--format shell|dotenv|json|github`). Always prints the secrets: that is its job.

use std::io::Write;
use std::path::Path;

use crate::cli::{EnvArgs, EnvFormat};
use crate::commands::apply::resolve_target;
use crate::config::{AdminCredentials, EnvFile, DEFAULT_POSTGRES_PASSWORD};
use crate::error::{fail, Kind};
use crate::keycloak::endpoints::{self, EnvInputs};
use crate::keycloak::{self, AdminClient};
use crate::report::Reporter;

pub async fn run(args: EnvArgs, _reporter: &Reporter) -> anyhow::Result<u8> {
    let realms = keycloak::load_realm_files(&args.realm.realm_files)?;
    let Some(realm) = realms.first() else {
        return Err(fail(
            Kind::InvalidConfig,
            "no realm file to read values from",
        ));
    };
    let env_file = EnvFile::from_args(&args.target.project)?;
    let admin = AdminCredentials::resolve(&args.admin, &env_file);
    let (url, found) = resolve_target(&args.target).await?;

    // A confidential client without a secret in the file: Keycloak generated it; read it.
    let client_secret_override = match realm.primary_client() {
        Some(c) if c.is_confidential() && c.secret().is_none() => {
            Some(read_client_secret(&url, &admin, realm.name(), c.client_id()).await?)
        }
        _ => None,
    };

    // Postgres as the running stack publishes it; without a stack, the reference defaults
    // with the env file's POSTGRES_PASSWORD.
    let postgres_url = match found.and_then(|f| f.postgres) {
        Some(pg) => endpoints::postgres_url(
            &pg.user,
            &pg.password,
            &pg.addr.ip().to_string(),
            pg.addr.port(),
            &pg.db,
        ),
        None => {
            let password = env_file
                .get("POSTGRES_PASSWORD")
                .unwrap_or(DEFAULT_POSTGRES_PASSWORD);
            endpoints::postgres_url("keycloak", password, "127.0.0.1", 5432, "keycloak")
        }
    };

    let vars = endpoints::env_vars(&EnvInputs {
        keycloak_url: &url,
        admin: &admin,
        realm,
        client_secret_override,
        postgres_url: Some(postgres_url),
    });

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
                return Err(fail(
                    Kind::InvalidConfig,
                    "`--format github` appends to $GITHUB_ENV and $GITHUB_OUTPUT, which are not \
                     set: run it in a GitHub Actions step, or use `--format shell|dotenv|json`",
                ));
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
        .map_err(|e| {
            fail(
                Kind::InvalidConfig,
                format!("cannot append to `{}`: {e}", path.display()),
            )
        })?;
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
    let what = format!("read the secret of client `{client_id}` in realm `{realm}`");
    let missing = || {
        fail(
            Kind::AdminApi,
            format!(
                "cannot {what}: the client does not exist in Keycloak at {url}; run \
                 `iamstack apply` first (the realm file sets no secret, so Keycloak generates it)"
            ),
        )
    };
    let list = client
        .get_json(
            &["admin", "realms", realm, "clients"],
            &[("clientId", client_id)],
            &what,
        )
        .await?
        .ok_or_else(missing)?;
    let id = list
        .as_array()
        .and_then(|l| l.first())
        .and_then(|c| c.get("id"))
        .and_then(|v| v.as_str())
        .ok_or_else(missing)?
        .to_string();
    let secret = client
        .get_json(
            &["admin", "realms", realm, "clients", &id, "client-secret"],
            &[],
            &what,
        )
        .await?
        .and_then(|v| v.get("value").and_then(|s| s.as_str()).map(str::to_string))
        .ok_or_else(missing)?;
    Ok(secret)
}
