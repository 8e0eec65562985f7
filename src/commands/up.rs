use crate::cli::UpArgs;
use crate::report::Reporter;

pub async fn run(_args: UpArgs, _reporter: &Reporter) -> anyhow::Result<u8> {
    anyhow::bail!("`iamstack up` is not implemented yet")
}
