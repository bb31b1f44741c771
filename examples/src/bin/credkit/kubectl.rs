//! `credkit exec-credential`: kubectl's exec credential plugin.

use credkit_core::interactive::interactive;
use credkit_helpers::kubectl::{EXEC_INFO_ENV, ExecInfo, exec_credential};
use secrecy::ExposeSecret;

use crate::cli::ExecCredentialArgs;
use crate::commands;
use crate::failure::Failure;
use crate::output;
use crate::source;

/// Reads kubectl's request from `KUBERNETES_EXEC_INFO`, gets the token (from the cache while
/// it is fresh) and prints the `ExecCredential`. The refresh runs inside `interactive` only
/// when the request says a person is there: otherwise reauthentication never prompts.
pub(crate) async fn run(args: &ExecCredentialArgs) -> Result<(), Failure> {
    let value = std::env::var_os(EXEC_INFO_ENV);
    let text = match &value {
        Some(value) => Some(value.to_str().ok_or_else(|| {
            Failure::new(format!(
                "{EXEC_INFO_ENV} is not UTF-8 text: it is not kubectl's request"
            ))
        })?),
        None => None,
    };
    let info = ExecInfo::from_env(text).map_err(|err| Failure::new(err.to_string()))?;
    let loaded = source::load(&args.source).await?;
    let token = if info.interactive() {
        interactive(loaded.credentials.access_token()).await?
    } else {
        loaded.credentials.access_token().await?
    };
    // On standard error, which kubectl shows: the token still works for what was granted.
    commands::warn_on_scope_shortfall(&loaded);
    let answer = exec_credential(&info, token.secret(), token.expiry());
    output::print(&format!("{}\n", answer.expose_secret()))
}
