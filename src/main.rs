//! Parse, build the runtime, run, print the error chain once, map it to an exit code.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = iamstack::cli::Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(iamstack::error::exit::UNEXPECTED);
        }
    };
    match runtime.block_on(iamstack::run(cli)) {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            eprintln!("error: {err}");
            for cause in err.chain().skip(1) {
                eprintln!("  caused by: {cause}");
            }
            if let Some(hint) = iamstack::error::hint(&err) {
                eprintln!("  {hint}");
            }
            ExitCode::from(iamstack::error::exit_code(&err))
        }
    }
}
