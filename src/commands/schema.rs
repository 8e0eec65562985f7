//! `iamstack schema`: print the JSON Schema realm files are checked against, so an editor can
//! complete and check them (`# yaml-language-server: $schema=...`, or VS Code's `json.schemas`).

use std::io::Write;

use crate::error::exit;
use crate::keycloak::realm_file::REALM_SCHEMA;

pub fn run() -> anyhow::Result<u8> {
    let mut out = std::io::stdout().lock();
    out.write_all(REALM_SCHEMA.as_bytes())?;
    out.flush()?;
    Ok(exit::OK)
}
