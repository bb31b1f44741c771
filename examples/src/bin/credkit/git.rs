//! `credkit git-credential get|store|erase`, also run as `git-credential-credkit`: git's
//! credential helper, answering Google's git hosts with a token.
//!
//! `get` reads git's request on standard input and, for a Google git host (or one named with
//! `--host` or `CREDKIT_HELPER_HOSTS`) over https (or http on loopback), prints
//! `username=<the account's e-mail address, or oauth2accesstoken>`, `password=<token>` and
//! `password_expiry_utc=<its expiry>`. For any other host it prints nothing, so git asks its
//! next helper; the credentials are not even loaded. `store`, `erase` and any other operation
//! read the request and do nothing, as git asks of a helper that keeps nothing.

use credkit_helpers::git::{Answer, Request, TOKEN_USERNAME};
use credkit_helpers::hosts::HostList;
use secrecy::ExposeSecret;

use crate::cli::GitCredentialArgs;
use crate::failure::Failure;
use crate::helper_hosts::host_list;
use crate::output;
use crate::source;

/// `credkit git-credential OPERATION`.
pub(crate) async fn run(args: &GitCredentialArgs) -> Result<(), Failure> {
    let request =
        Request::read(std::io::stdin().lock()).map_err(|err| Failure::new(err.to_string()))?;
    if args.operation != "get" {
        return Ok(());
    }
    let hosts = host_list(HostList::git(), &args.hosts)?;
    if !request.is_for(&hosts) {
        return Ok(());
    }
    let loaded = source::load(&args.source).await?;
    let token = loaded.credentials.access_token().await?;
    // The e-mail address is a courtesy (git shows it, the hosts ignore it): an account that
    // cannot say it gets the user name the hosts document for a token.
    let username = match loaded.origin.email().await {
        Ok(Some(email)) => email,
        _ => loaded
            .email
            .clone()
            .unwrap_or_else(|| TOKEN_USERNAME.to_owned()),
    };
    let mut answer = Answer::new(username, token.secret().clone());
    if let Some(expiry) = token.expiry() {
        answer = answer.with_expiry(expiry);
    }
    let text = answer
        .render()
        .map_err(|err| Failure::new(err.to_string()))?;
    output::print(text.expose_secret())
}
