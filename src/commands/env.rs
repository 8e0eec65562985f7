use crate::cli::EnvArgs;
use crate::report::Reporter;

pub async fn run(_args: EnvArgs, _reporter: &Reporter) -> anyhow::Result<u8> {
    anyhow::bail!("`iamstack env` is not implemented yet")
}
