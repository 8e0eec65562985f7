use crate::cli::ApplyArgs;
use crate::report::Reporter;

pub async fn run(_args: ApplyArgs, _reporter: &Reporter) -> anyhow::Result<u8> {
    anyhow::bail!("`iamstack apply` is not implemented yet")
}
