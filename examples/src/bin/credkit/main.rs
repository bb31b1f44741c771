//! `credkit`: Google and OAuth 2.0 credentials from the command line, and the helpers that serve
//! them to other programs.
//!
//! - `credkit demo [--json]`: the library at work against a fake token endpoint on 127.0.0.1.
//! - `credkit token`: the access token and a newline.
//! - `credkit header`: the request headers, one `name: value` a line.
//! - `credkit info [--no-refresh]`: the non-secret facts as JSON.
//! - `credkit verify-id-token [TOKEN] --audience A`: a Google-issued ID token's claims as JSON.
//! - `credkit exec-credential`: kubectl's exec credential plugin (an `ExecCredential`).
//! - `credkit docker-credential ACTION`: docker's credential helper; also run as a link named
//!   `docker-credential-credkit`.
//! - `credkit credential-helper get`: Bazel's (and uv's) credential helper; also run as a link
//!   named `credkit-credential-helper`.
//! - `credkit git-credential get|store|erase`: git's credential helper (also run as
//!   `git-credential-credkit`).
//! - `credkit token --output-file FILE [--keep-fresh]`: the token in a file, kept fresh.
//! - `credkit metadata-server [--port P]`: the Compute Engine metadata server's interface,
//!   serving tokens from the credentials found.
//! - `credkit login [--device]`: sign in with a Google account and write Application Default
//!   Credentials (an `authorized_user` file), without gcloud.
//! - `credkit revoke`: revoke that sign-in's refresh token and forget its tokens.
//! - `credkit vault list|count|status|remove|reseal`: operate a vault of many users' grants
//!   (credkit-vault) in Redis or Postgres: never a token or a key printed.
//!
//! `token`, `header` and `info` cache the token in the user's cache directory (`--cache DIR`
//! for another, `--no-cache` for none).
//!
//! Exit status 0 on success; 1 on a credential or refresh error, with one line
//! `error: <message>` on standard error; 2 on a usage error. Run `credkit --help` for the
//! options.

mod bazel;
mod cache;
mod cli;
mod commands;
mod demo;
mod docker;
mod failure;
mod git;
mod helper_hosts;
mod kubectl;
mod lazy;
mod login;
mod metadata_server;
mod output;
mod password;
mod revoke;
mod signals;
mod source;
mod token_file;
mod vault;
mod verify;

use std::ffi::OsString;
use std::path::Path;
use std::process::ExitCode;

use cli::{Cli, Command};
use failure::Failure;

fn main() -> ExitCode {
    let cli = Cli::read_from(program_args(std::env::args_os()));
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
            Command::ExecCredential(args) => kubectl::run(args).await,
            Command::DockerCredential(args) => docker::run(args).await,
            Command::CredentialHelper(args) => bazel::run(args).await,
            Command::GitCredential(args) => git::run(args).await,
            Command::MetadataServer(args) => metadata_server::run(args).await,
            Command::Login(args) => login::run(args).await,
            Command::Revoke(args) => revoke::run(args).await,
            Command::Vault(args) => vault::run(args).await,
        }
    })
}

/// The programs that are credkit under another name: a link (or copy) named so runs the
/// subcommand, since the program that runs it gives no subcommand of its own.
const LINK_NAMES: &[(&str, &str)] = &[
    ("docker-credential-credkit", "docker-credential"),
    ("credkit-credential-helper", "credential-helper"),
    ("git-credential-credkit", "git-credential"),
];

/// The command line as clap reads it: for a program named in [`LINK_NAMES`],
/// `credkit <subcommand> <the rest>`; otherwise as given.
fn program_args(args: impl IntoIterator<Item = OsString>) -> Vec<OsString> {
    let mut args: Vec<OsString> = args.into_iter().collect();
    let name = args
        .first()
        .and_then(|program| Path::new(program).file_stem())
        .and_then(|stem| stem.to_str());
    if let Some((_, subcommand)) = LINK_NAMES.iter().find(|(link, _)| Some(*link) == name) {
        args.splice(..1, [OsString::from("credkit"), OsString::from(subcommand)]);
    }
    args
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mapped(args: &[&str]) -> Vec<String> {
        program_args(args.iter().map(OsString::from))
            .into_iter()
            .map(|arg| arg.into_string().unwrap())
            .collect()
    }

    #[test]
    fn links_run_their_subcommand() {
        assert_eq!(
            mapped(&["/usr/local/bin/docker-credential-credkit", "get"]),
            ["credkit", "docker-credential", "get"]
        );
        assert_eq!(
            mapped(&["/usr/local/bin/git-credential-credkit", "get"]),
            ["credkit", "git-credential", "get"]
        );
        assert_eq!(
            mapped(&["git-credential-credkit.exe", "store"]),
            ["credkit", "git-credential", "store"]
        );
        assert_eq!(
            mapped(&["credkit-credential-helper", "get"]),
            ["credkit", "credential-helper", "get"]
        );
        // Windows names its programs with .exe.
        assert_eq!(
            mapped(&["C:/bin/docker-credential-credkit.exe", "list"]),
            ["credkit", "docker-credential", "list"]
        );
        assert_eq!(
            mapped(&["/usr/bin/credkit", "token"]),
            ["/usr/bin/credkit", "token"]
        );
        assert_eq!(
            mapped(&["docker-credential-other", "get"]),
            ["docker-credential-other", "get"]
        );
        assert!(mapped(&[]).is_empty());
    }
}
