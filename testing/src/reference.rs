//! Finding the reference library (google-auth, in Python) for the wire comparisons.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::Command;

/// The Python that runs google-auth for a comparison with the reference, or `None` after
/// saying why the comparison is skipped.
///
/// The Python is `CREDKIT_GOOGLE_AUTH_PYTHON`; it must run `import {modules}` (say
/// `"google.oauth2.service_account, google.auth.transport.requests"`). Without it, the skip
/// is printed as `SKIPPED: ...` on the process's standard error (past the test harness's
/// capture: a skip must be seen), unless `CREDKIT_REQUIRE_GOOGLE_AUTH=1`, when it panics: CI
/// requires the comparisons.
///
/// ```
/// // Nothing set: skipped, and said so.
/// # if std::env::var_os("CREDKIT_GOOGLE_AUTH_PYTHON").is_none()
/// #     && std::env::var("CREDKIT_REQUIRE_GOOGLE_AUTH").as_deref() != Ok("1") {
/// assert!(credkit_testing::google_auth_python("google.auth").is_none());
/// # }
/// ```
///
/// # Panics
///
/// When the comparison would be skipped and `CREDKIT_REQUIRE_GOOGLE_AUTH=1`.
#[allow(clippy::panic)] // A required comparison that cannot run fails its test.
pub fn google_auth_python(modules: &str) -> Option<PathBuf> {
    let required = std::env::var("CREDKIT_REQUIRE_GOOGLE_AUTH").is_ok_and(|v| v == "1");
    let skip = |why: &str| {
        assert!(!required, "CREDKIT_REQUIRE_GOOGLE_AUTH=1, but {why}");
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED: the comparison with google-auth did not run: {why}"
        );
        None
    };
    let Some(python) = std::env::var_os("CREDKIT_GOOGLE_AUTH_PYTHON").filter(|p| !p.is_empty())
    else {
        return skip("CREDKIT_GOOGLE_AUTH_PYTHON is not set");
    };
    let python = PathBuf::from(python);
    let imports = Command::new(&python)
        .args(["-c", &format!("import {modules}")])
        .env_clear()
        .status();
    match imports {
        Ok(status) if status.success() => Some(python),
        _ => skip(&format!("{} cannot import {modules}", python.display())),
    }
}
