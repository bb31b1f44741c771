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
use crate::output;
use crate::source;

/// The variable naming more hosts a helper may send a token to, comma-separated (as
/// `--host`): how to name them when git (or docker, or Bazel) runs the helper by its link
/// name, without options.
pub(crate) const HELPER_HOSTS_VAR: &str = "CREDKIT_HELPER_HOSTS";

/// `credkit git-credential OPERATION`.
pub(crate) async fn run(args: &GitCredentialArgs) -> Result<(), Failure> {
    let request =
        Request::read(std::io::stdin().lock()).map_err(|err| Failure::new(err.to_string()))?;
    if args.operation != "get" {
        return Ok(());
    }
    let var = std::env::var(HELPER_HOSTS_VAR).ok();
    let hosts = helper_hosts(HostList::git(), &args.hosts, var)?;
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

/// `builtin` with the `--host` patterns and those of the helper variable (comma-separated)
/// added.
///
/// # Errors
///
/// A pattern is not a host name, a `*.` wildcard of one, or either with a port.
pub(crate) fn helper_hosts(
    builtin: HostList,
    options: &[String],
    var: Option<String>,
) -> Result<HostList, Failure> {
    let from_var = var.unwrap_or_default();
    let named = options
        .iter()
        .map(String::as_str)
        .chain(from_var.split(',').map(str::trim).filter(|p| !p.is_empty()));
    let mut hosts = builtin;
    for pattern in named {
        hosts = hosts
            .with_pattern(pattern)
            .map_err(|err| Failure::new(err.to_string()))?;
    }
    Ok(hosts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_from_options_and_the_variable() {
        let hosts = helper_hosts(
            HostList::git(),
            &["127.0.0.1:8080".to_owned()],
            Some(" git.example.com , ,*.corp.example:8443".to_owned()),
        )
        .unwrap();
        assert!(hosts.allows_url("http://127.0.0.1:8080"));
        assert!(hosts.allows_url("https://git.example.com"));
        assert!(hosts.allows_url("https://a.corp.example:8443"));
        assert!(hosts.allows_url("https://source.developers.google.com"));
        assert!(!hosts.allows_url("https://github.com"));
        let err = helper_hosts(HostList::git(), &[], Some("a b".to_owned())).unwrap_err();
        assert!(err.to_string().contains("host pattern"), "{err}");
        assert_eq!(
            helper_hosts(HostList::none(), &[], None).unwrap(),
            HostList::none()
        );
    }
}
