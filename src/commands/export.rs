//! `iamstack export`: a realm as it is in a running Keycloak, as a realm file (stdout, or
//! `--out FILE` written owner-only since it holds client secrets). Reads only.

use std::io::Write;

use crate::cli::ExportArgs;
use crate::commands::apply::keycloak_url;
use crate::config::{AdminCredentials, EnvFile};
use crate::keycloak::{self, export, AdminClient, AdminError};
use crate::report::{Event, Reporter};

pub async fn run(args: ExportArgs, reporter: &Reporter) -> anyhow::Result<u8> {
    let realm = match args.realm_name {
        Some(name) => name,
        // The realm the realm files provision (the built-in `testing` without any).
        None => keycloak::load_realm_files(&args.realm.realm_files)?
            .first()
            .map(|r| r.name().to_string())
            .unwrap_or_default(),
    };
    let env_file = EnvFile::from_args(&args.target.project)?;
    let admin = AdminCredentials::resolve(&args.admin, &env_file);
    let url = keycloak_url(&args.target, reporter).await?;
    let client = AdminClient::new(&url, &admin)?;
    let Some(doc) = export::read_realm(&client, &realm).await? else {
        return Err(AdminError::NotFound {
            what: format!("export realm `{realm}`"),
            message: format!(
                "Keycloak at {url} has no realm `{realm}`: name an existing one \
                 (`iamstack export REALM`)"
            ),
        }
        .into());
    };
    for client_id in export::masked_secrets(&doc) {
        reporter.emit(Event::Warning {
            message: format!(
                "client `{client_id}`: Keycloak did not show its secret, so the export has none; \
                 add `secret: ${{...}}` to it before applying the file elsewhere, or Keycloak \
                 generates a new one"
            ),
        });
    }
    let mut pruned = export::prune(&doc);
    let unknown = keycloak::realm_file::drop_unknown_fields(&mut pruned);
    if !unknown.is_empty() {
        reporter.emit(Event::Warning {
            message: format!(
                "left out of the export, since Keycloak 26.2's realm file schema has no such \
                 field (this Keycloak is probably newer): {}",
                unknown.join(", ")
            ),
        });
    }
    let rendered = export::render(&pruned, url.as_str());
    match &args.out {
        None => std::io::stdout()
            .lock()
            .write_all(rendered.text.as_bytes())?,
        Some(path) => {
            write_private(path, &rendered.text)?;
            reporter.emit(Event::StepFinished {
                step: format!("export realm `{realm}` to {}", path.display()),
                elapsed_ms: 0,
                detail: Some(format!(
                    "{} requests; set {} before applying it",
                    client.request_count(),
                    if rendered.password_variables.is_empty() {
                        "nothing".to_string()
                    } else {
                        rendered
                            .password_variables
                            .iter()
                            .map(|(_, v)| v.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    }
                )),
            });
        }
    }
    Ok(crate::error::exit::OK)
}

/// Write `text` to `path`, readable by its owner only (the file holds client secrets).
fn write_private(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)?.write_all(text.as_bytes())
}
