use crate::cli::DownArgs;
use crate::report::Reporter;

pub async fn run(_args: DownArgs, _reporter: &Reporter) -> anyhow::Result<u8> {
    anyhow::bail!("`iamstack down` is not implemented yet")
}
