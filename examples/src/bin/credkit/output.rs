//! Writing to standard output and standard error.

use std::io::{self, Write};

use crate::failure::{Failure, one_line};

/// Writes `text` to standard output and flushes it.
///
/// # Errors
///
/// Standard output is closed or full.
pub(crate) fn print(text: &str) -> Result<(), Failure> {
    let mut out = io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .map_err(|err| Failure::output(&err))
}

/// Prints `warning: <message>` on standard error, as one line.
pub(crate) fn warn(message: &str) {
    // Nothing better can be done if standard error is gone.
    let _ = writeln!(io::stderr().lock(), "warning: {}", one_line(message));
}
