//! `credkit`: OAuth 2.0 user credentials from the command line.
//!
//! - `credkit demo [--json]`: the library at work against a fake token endpoint on 127.0.0.1.
//! - `credkit token`: the access token and a newline.
//! - `credkit header`: the request headers, one `name: value` a line.
//! - `credkit info [--no-refresh]`: the non-secret facts as JSON.
//! - `credkit verify-id-token [TOKEN] --audience A`: a Google-issued ID token's claims as JSON.
//! - `credkit metadata-server [--port P]`: the Compute Engine metadata server's interface,
//!   serving tokens from the credentials found.
//!
//! `token`, `header` and `info` cache the token in the user's cache directory (`--cache DIR`
//! for another, `--no-cache` for none).
//!
//! Exit status 0 on success; 1 on a credential or refresh error, with one line
//! `error: <message>` on standard error; 2 on a usage error. Run `credkit --help` for the
//! options.

mod cache;
mod cli;
mod commands;
mod demo;
mod failure;
mod lazy;
mod metadata_server;
mod output;
mod password;
mod source;
mod verify;

use std::process::ExitCode;

use cli::{Cli, Command};
use failure::Failure;

fn main() -> ExitCode {
    let cli = Cli::read();
    match run(&cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            failure.report();
            ExitCode::FAILURE
        }
    }
}

fn run(command: &Command) -> Result<(), Failure> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|err| Failure::new(format!("could not start the async runtime: {err}")))?;
    runtime.block_on(async {
        match command {
            Command::Demo(args) => demo::run(args).await,
            Command::Token(args) => commands::token(args).await,
            Command::Header(args) => commands::header(args).await,
            Command::Info(args) => commands::info(args).await,
            Command::VerifyIdToken(args) => verify::run(args).await,
            Command::MetadataServer(args) => metadata_server::run(args).await,
        }
    })
}
