use crate::cli::StatusArgs;
use crate::report::Reporter;

pub async fn run(_args: StatusArgs, _reporter: &Reporter) -> anyhow::Result<u8> {
    anyhow::bail!("`iamstack status` is not implemented yet")
}
