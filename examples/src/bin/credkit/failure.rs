//! What a failed command reports: one line, `error: <message>`, and exit status 1.

use std::fmt;
use std::io::{self, Write};

/// Why a command failed, as the one line it prints.
///
/// Built from credkit's errors, whose messages never contain a secret; the message is the
/// error's `Display` (for a token-endpoint error, `<error>: <error_description>`).
#[derive(Debug)]
pub(crate) struct Failure {
    message: String,
    /// Print nothing: the reader of standard output went away (`credkit demo | head`), as a
    /// tool killed by `SIGPIPE` would.
    quiet: bool,
}

impl Failure {
    /// A failure with `message`.
    pub(crate) fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            quiet: false,
        }
    }

    /// Writing to standard output failed. A closed pipe ends the command quietly.
    pub(crate) fn output(err: &io::Error) -> Self {
        Self {
            quiet: err.kind() == io::ErrorKind::BrokenPipe,
            ..Self::new(format!("could not write to standard output: {err}"))
        }
    }

    /// Prints `error: <message>` on standard error, as exactly one line.
    pub(crate) fn report(&self) {
        if self.quiet {
            return;
        }
        let line = one_line(&self.message);
        // Nothing better can be done if standard error is gone too.
        let _ = writeln!(io::stderr().lock(), "error: {line}");
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&one_line(&self.message))
    }
}

impl From<credkit_core::Error> for Failure {
    fn from(err: credkit_core::Error) -> Self {
        Self::new(err.to_string())
    }
}

impl From<credkit_core::BuildError> for Failure {
    fn from(err: credkit_core::BuildError) -> Self {
        Self::new(err.to_string())
    }
}

/// `message` on one line: line breaks and other control characters (a file name may hold
/// them) become spaces, and runs of spaces collapse.
pub(crate) fn one_line(message: &str) -> String {
    let mut line = String::with_capacity(message.len());
    for c in message.chars() {
        let c = if c.is_control() { ' ' } else { c };
        if c == ' ' && (line.is_empty() || line.ends_with(' ')) {
            continue;
        }
        line.push(c);
    }
    line.truncate(line.trim_end().len());
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_one_line() {
        assert_eq!(
            one_line("File /tmp/a\nb.json was not found."),
            "File /tmp/a b.json was not found."
        );
        assert_eq!(one_line("  a\r\n\tb  \n"), "a b");
        assert_eq!(
            one_line("invalid_grant: Token has been expired or revoked."),
            "invalid_grant: Token has been expired or revoked."
        );
    }
}
