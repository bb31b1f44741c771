//! `credkit docker-credential` (and a link named `docker-credential-credkit`): docker's
//! credential helper.

use std::io::Read as _;

use credkit_helpers::docker::{
    self, Action, DockerError, LISTED_REGISTRIES, ServerUrl, StoreRequest,
};
use credkit_helpers::hosts::HostList;
use secrecy::ExposeSecret;
use zeroize::Zeroizing;

use crate::cli::DockerCredentialArgs;
use crate::failure::Failure;
use crate::helper_hosts::{HOSTS_ENV, host_list, named_hosts};
use crate::output;
use crate::source;

/// The name docker runs the helper by.
const PROGRAM: &str = "docker-credential-credkit";

/// Runs docker's action. A refusal is the protocol's message on standard output (where docker
/// reads it) and one `error:` line on standard error, exit status 1.
pub(crate) async fn run(args: &DockerCredentialArgs) -> Result<(), Failure> {
    match serve(args).await {
        Ok(()) => Ok(()),
        Err(refusal) => {
            // The failure is reported either way; should standard output be gone, docker
            // reads the exit status.
            let _ = output::print(&format!("{}\n", refusal.protocol));
            Err(refusal.failure)
        }
    }
}

/// Why an action was refused: the protocol's message for docker, the line for a person.
struct Refusal {
    protocol: String,
    failure: Failure,
}

impl From<Failure> for Refusal {
    fn from(failure: Failure) -> Self {
        Self {
            protocol: failure.to_string(),
            failure,
        }
    }
}

impl From<DockerError> for Refusal {
    fn from(err: DockerError) -> Self {
        let protocol = err.to_string();
        let failure = if err.is_not_found() {
            Failure::new(format!(
                "{protocol}: credkit answers Google's registries (gcr.io, *.gcr.io, *.pkg.dev) and the hosts of --host and {HOSTS_ENV} only"
            ))
        } else {
            Failure::new(protocol.clone())
        };
        Self { protocol, failure }
    }
}

async fn serve(args: &DockerCredentialArgs) -> Result<(), Refusal> {
    let action = Action::parse(args.action.as_deref(), PROGRAM)?;
    // `version` answers whatever the host patterns are.
    let hosts = || host_list(HostList::registries(), &args.hosts);
    match action {
        Action::Get => {
            let url = ServerUrl::parse(&read_stdin(docker::MAX_INPUT_LEN)?)?;
            if !url.allowed_by(&hosts()?) {
                return Err(DockerError::not_found().into());
            }
            let loaded = source::load(&args.source).await?;
            let token = loaded
                .credentials
                .access_token()
                .await
                .map_err(Failure::from)?;
            let answer = docker::get_answer(&url, token.secret());
            Ok(output::print(answer.expose_secret())?)
        }
        Action::Store => {
            let input = read_stdin(docker::MAX_INPUT_LEN)?;
            Ok(StoreRequest::parse(&input)?.accept(&hosts()?)?)
        }
        Action::Erase => {
            let url = ServerUrl::parse(&read_stdin(docker::MAX_INPUT_LEN)?)?;
            Ok(docker::erase(&url, &hosts()?)?)
        }
        Action::List => {
            // Checked, so that list names only hosts get would answer.
            hosts()?;
            let named = named_hosts(&args.hosts);
            let listed = LISTED_REGISTRIES
                .iter()
                .copied()
                .chain(named.iter().map(String::as_str));
            Ok(output::print(&docker::list_answer(listed))?)
        }
        Action::Version => Ok(output::print(&docker::version_answer(
            PROGRAM,
            env!("CARGO_PKG_VERSION"),
        ))?),
        // `Action` is non-exhaustive; a new action is not answered until it is served here.
        _ => Err(Failure::new("this docker credential action is not supported").into()),
    }
}

/// Standard input, up to `max` bytes and one more (so that the parser sees it is too long),
/// wiped when dropped: `store` is given a password.
pub(crate) fn read_stdin(max: usize) -> Result<Zeroizing<Vec<u8>>, Failure> {
    let mut input = Zeroizing::new(Vec::new());
    let limit = u64::try_from(max).unwrap_or(u64::MAX).saturating_add(1);
    std::io::stdin()
        .lock()
        .take(limit)
        .read_to_end(&mut input)
        .map_err(|err| Failure::new(format!("could not read standard input: {err}")))?;
    Ok(input)
}
