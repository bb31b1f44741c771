//! Tests that need a program installed (redis-server, postgres, chromium): skipped in one loud
//! line where it is missing, required where CI says so.

use std::io::Write as _;
use std::process::{Command, Stdio};

/// Whether `program` runs here (`program --version` succeeds). When it does not, the test that
/// asked should return at once: this prints one `SKIPPED:` line naming `install` (how to get
/// the program) and `require_var` on stderr, past the test harness's capture, unless `require_var` is set to `1` (CI sets it after
/// installing the program), where it panics instead, so a missing program fails the run.
///
/// ```
/// if !credkit_testing::program_available(
///     "credkit-no-such-program",
///     "CREDKIT_REQUIRE_NOTHING",
///     "it does not exist",
/// ) {
///     return; // skipped, with one line on stderr
/// }
/// # unreachable!();
/// ```
///
/// # Panics
///
/// When the program is missing and `require_var` is `1`.
pub fn program_available(program: &str, require_var: &str, install: &str) -> bool {
    let found = Command::new(program)
        .arg("--version")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success());
    if !found {
        let required = std::env::var(require_var).as_deref() == Ok("1");
        assert!(
            !required,
            "{program} is required here ({require_var}=1) but is not installed: {install}"
        );
        // Past the test harness's capture (which takes only `eprintln!`): the line shows in
        // `cargo test`'s output, once per skipped test.
        let _ = writeln!(
            std::io::stderr().lock(),
            "SKIPPED: {program} is not installed ({install}); set {require_var}=1 to fail instead"
        );
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_program_that_runs_is_available() {
        assert!(program_available(
            "cargo",
            "CREDKIT_REQUIRE_CARGO",
            "rustup"
        ));
    }

    #[test]
    fn a_missing_program_is_skipped_unless_required() {
        assert!(!program_available(
            "credkit-no-such-program",
            "CREDKIT_REQUIRE_NO_SUCH_PROGRAM_UNSET",
            "nowhere"
        ));
    }
}
