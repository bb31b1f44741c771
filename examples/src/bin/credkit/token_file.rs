//! `credkit token --output-file FILE [--keep-fresh]`: the token in a file, for programs that
//! read one (`gcloud --access-token-file`, `CLOUDSDK_AUTH_ACCESS_TOKEN_FILE`).
//!
//! The file holds the token alone, without a newline, written atomically with mode 0600
//! (credkit-helpers' `token_file`). Nothing is printed on success. With `--keep-fresh` the
//! command stays and rewrites the file each time the token turns stale, until SIGINT or
//! SIGTERM, then exits 0 and leaves the last file. A failed refresh while it runs is retried
//! (10 s, doubling, at most 5 min between tries) with one `warning:` line per run of
//! failures; if the token expires before one succeeds, the file is removed (one more
//! `warning:` line) and written again with the next token.

use std::path::Path;

use credkit_core::interactive::interactive;
use credkit_core::{Credentials, SystemClock};
use credkit_helpers::token_file::{Event, KeepFresh, TokenFile};
use time::format_description::well_known::Rfc3339;

use crate::failure::Failure;
use crate::{output, signals};

/// Writes a token from `credentials` to `path`; with `keep_fresh`, keeps it fresh until
/// SIGINT or SIGTERM.
pub(crate) async fn run(
    credentials: &Credentials,
    path: &Path,
    keep_fresh: bool,
) -> Result<(), Failure> {
    let file = TokenFile::new(path);
    if !keep_fresh {
        let token = interactive(credentials.access_token()).await?;
        return file
            .write_token(&token)
            .map_err(|err| Failure::new(err.to_string()));
    }
    // The handlers are in place before the file is first written: once it exists, a signal
    // ends the command cleanly.
    let stop = signals::stop_signal()?;
    let keep = KeepFresh::new(file);
    let running = keep.run(credentials, &SystemClock, |event| report(&event, path));
    tokio::select! {
        result = running => match result {
            Ok(never) => match never {},
            Err(err) => Err(Failure::new(err.to_string())),
        },
        () = stop => Ok(()),
    }
}

/// One `warning:` line when a run of failed refreshes starts, and one when the file is
/// removed; nothing else (never a token).
fn report(event: &Event<'_>, path: &Path) {
    match event {
        Event::RefreshFailed {
            error,
            first: true,
            retry_in,
            expiry,
        } => {
            let keeps = match expiry.and_then(|e| e.format(&Rfc3339).ok()) {
                Some(at) => format!("the file keeps its token until it expires at {at}"),
                None => "the file has no valid token".to_owned(),
            };
            output::warn(&format!(
                "could not refresh the token for {} (retrying in {} s; {keeps}): {error}",
                path.display(),
                retry_in.as_secs()
            ));
        }
        Event::Removed => output::warn(&format!(
            "the token in {} expired before a refresh succeeded: removed the file until one does",
            path.display()
        )),
        _ => {}
    }
}
