//! `--enable-reauth`: the reauth settings, and where a password challenge gets its answer.

use std::io::{BufRead, IsTerminal};
use std::sync::Arc;

use async_trait::async_trait;
use credkit_core::{Error, ErrorKind, Result};
use credkit_refresh_token::{PasswordPrompt, UserCredentialsBuilder};
use secrecy::SecretString;
use tokio::sync::Mutex;
use zeroize::Zeroizing;

use crate::cli::ReauthArgs;

/// `user` with reauthentication on, the `--reauth-uri`, and a password prompt: standard input
/// with `--password-stdin`, else the terminal when there is one, else none (a password
/// challenge then fails as not interactive).
pub(crate) fn with_reauth(
    mut user: UserCredentialsBuilder,
    args: &ReauthArgs,
) -> UserCredentialsBuilder {
    user = user.with_enable_reauth_refresh(true);
    if let Some(uri) = &args.reauth_uri {
        user = user.with_reauth_uri(uri.clone());
    }
    if args.password_stdin {
        user.with_password_prompt(StdinPassword::default())
    } else if std::io::stdin().is_terminal() {
        user.with_password_prompt(TerminalPassword)
    } else {
        user
    }
}

/// One line of standard input, read at the first password challenge and kept for the others.
#[derive(Debug, Default)]
struct StdinPassword {
    line: Arc<Mutex<Option<SecretString>>>,
}

#[async_trait]
impl PasswordPrompt for StdinPassword {
    async fn password(&self, _prompt: &str) -> Result<SecretString> {
        let mut line = self.line.lock().await;
        if let Some(password) = line.as_ref() {
            return Ok(password.clone());
        }
        let read = tokio::task::spawn_blocking(|| {
            let mut text = Zeroizing::new(String::new());
            std::io::stdin()
                .lock()
                .read_line(&mut text)
                .map(|n| (n, text))
        })
        .await
        .map_err(|_| stdin_error("reading it stopped"))?;
        let (n, text) = read.map_err(|err| stdin_error("it could not be read").with_source(err))?;
        if n == 0 {
            return Err(stdin_error("standard input is empty"));
        }
        let password = SecretString::from(text.trim_end_matches(['\n', '\r']).to_owned());
        *line = Some(password.clone());
        Ok(password)
    }
}

fn stdin_error(why: &str) -> Error {
    Error::new(
        ErrorKind::Provider,
        format!("no password for reauthentication on standard input (--password-stdin): {why}"),
    )
    .with_transient(false)
}

/// The terminal, without echo.
#[derive(Debug)]
struct TerminalPassword;

#[async_trait]
impl PasswordPrompt for TerminalPassword {
    async fn password(&self, prompt: &str) -> Result<SecretString> {
        let prompt = format!("{prompt} ");
        let read = tokio::task::spawn_blocking(move || rpassword::prompt_password(prompt))
            .await
            .map_err(|_| terminal_error())?;
        let password = Zeroizing::new(read.map_err(|err| terminal_error().with_source(err))?);
        Ok(SecretString::from(password.as_str().to_owned()))
    }
}

fn terminal_error() -> Error {
    Error::new(
        ErrorKind::Provider,
        "the password for reauthentication could not be read from the terminal",
    )
    .with_transient(false)
}
