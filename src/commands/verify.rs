use crate::cli::VerifyArgs;
use crate::report::Reporter;

pub async fn run(_args: VerifyArgs, _reporter: &Reporter) -> anyhow::Result<u8> {
    anyhow::bail!("`iamstack verify` is not implemented yet")
}
