//! `iamstack token`: a token on stdout and nothing else, so `curl -H "Authorization: Bearer
//! $(iamstack token)"` works. Who and where come from the realm files and the running stack, as
//! for `verify`; a refusal gets `verify`'s diagnosis and exit 8.

use std::io::Write;

use crate::cli::{GrantArg, TokenArgs};
use crate::commands::verify::resolve;
use crate::report::Reporter;
use crate::verify::token::{Grant, TokenClient};
use crate::verify::VerifyError;

pub async fn run(args: TokenArgs, reporter: &Reporter) -> anyhow::Result<u8> {
    let choice = crate::commands::verify::choice(&args.who);
    let target = resolve(&args.target, &args.realm, choice, reporter).await?;
    let grant = match args.grant {
        GrantArg::ClientCredentials => Grant::ClientCredentials,
        GrantArg::Password => Grant::Password,
        GrantArg::Code => Grant::Code,
    };
    let failed = |failure: crate::report::CheckFailure| VerifyError::GrantFailed {
        grant: grant.name().to_string(),
        failure: failure.to_string(),
    };
    let mut client = TokenClient::connect(&target).await.map_err(failed)?;
    let issued = client.obtain(grant, &args.scope).await.map_err(failed)?;
    let chosen = if args.id_token {
        Some(issued.id.clone().ok_or_else(|| {
            VerifyError::NoSuchToken {
                what: "id_token".into(),
                fix: "ask for it with --scope openid (and not with the client-credentials grant \
                  of a client whose service account gets none)"
                    .into(),
            }
        })?)
    } else if args.refresh_token {
        Some(issued.refresh.clone().ok_or_else(|| {
            VerifyError::NoSuchToken {
                what: "refresh_token".into(),
                fix: "the client-credentials grant gives none (Keycloak's default); use --grant \
                  password or --grant code"
                    .into(),
            }
        })?)
    } else {
        None
    };
    let out = if args.full {
        serde_json::to_string_pretty(&issued.response)?
    } else if args.decode {
        let jwt = chosen.as_deref().unwrap_or(&issued.access);
        let parts = client.decode(jwt).await.map_err(failed)?;
        serde_json::to_string_pretty(&parts)?
    } else {
        chosen.unwrap_or(issued.access)
    };
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{out}")?;
    Ok(crate::error::exit::OK)
}
