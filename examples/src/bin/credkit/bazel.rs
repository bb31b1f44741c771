//! `credkit credential-helper` (and a link named `credkit-credential-helper`): the credential
//! helper of Bazel, uv and the other tools of the credential-helper spec.

use credkit_helpers::bazel::{self, Command, GetRequest, NO_CREDENTIALS};
use credkit_helpers::hosts::HostList;
use secrecy::ExposeSecret;

use crate::cli::CredentialHelperArgs;
use crate::docker::read_stdin;
use crate::failure::Failure;
use crate::helper_hosts::host_list;
use crate::output;
use crate::source;

/// Answers `get`: the headers for a URI on Google's APIs, no credentials for any other.
pub(crate) async fn run(args: &CredentialHelperArgs) -> Result<(), Failure> {
    let invalid = |err: bazel::BazelError| Failure::new(err.to_string());
    match Command::parse(args.command.as_deref()).map_err(invalid)? {
        Command::Get => {
            let hosts = host_list(HostList::apis(), &args.hosts)?;
            let request =
                GetRequest::parse(&read_stdin(bazel::MAX_REQUEST_LEN)?).map_err(invalid)?;
            if !request.allowed_by(&hosts) {
                return output::print(NO_CREDENTIALS);
            }
            let loaded = source::load(&args.source).await?;
            let headers = loaded.credentials.headers().await?;
            let answer =
                bazel::get_answer(&headers, loaded.credentials.expiry()).map_err(invalid)?;
            output::print(answer.expose_secret())
        }
        // `Command` is non-exhaustive; a new command is not answered until it is served here.
        _ => Err(Failure::new(
            "this credential helper command is not supported",
        )),
    }
}
