//! `ScriptedExecutable`: a program for the executable source of workload identity federation,
//! answering as scripted and recording every run.

use std::collections::BTreeMap;
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tempfile::TempDir;

use crate::gcloud::script::{install_executable, quote};

/// The subject token type of an OIDC token, as a [`ScriptedExecutable::oidc_response`] declares
/// it.
const JWT: &str = "urn:ietf:params:oauth:token-type:jwt";

/// A scripted credential program: a `/bin/sh` script in a temporary directory that records each
/// run (its arguments and its whole environment), writes the output file it is told about, and
/// answers as scripted: a response on standard output (with text on standard error and an exit
/// status), a hang, or a flood. The directory is deleted when the last clone is dropped.
///
/// Unix only: it is a `/bin/sh` script. It is installed as [`FakeGcloud`](crate::FakeGcloud)'s
/// is, so running it from parallel tests never fails with "text file busy".
///
/// # Examples
///
/// ```
/// use std::process::Command;
/// use credkit_testing::ScriptedExecutable;
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let response = ScriptedExecutable::oidc_response("eyJ.fake", Some(4_102_444_800));
/// let program = ScriptedExecutable::builder().with_stdout(&response).build()?;
///
/// let out = Command::new(program.path())
///     .arg("--flag")
///     .env("GOOGLE_EXTERNAL_ACCOUNT_AUDIENCE", "//iam.googleapis.com/x")
///     .output()?;
/// assert_eq!(String::from_utf8(out.stdout)?, response);
///
/// let run = &program.runs()[0];
/// assert_eq!(run.args, ["--flag"]);
/// assert_eq!(run.env["GOOGLE_EXTERNAL_ACCOUNT_AUDIENCE"], "//iam.googleapis.com/x");
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct ScriptedExecutable {
    inner: Arc<Inner>,
}

struct Inner {
    program: PathBuf,
    // Deleted with everything in it when dropped.
    dir: TempDir,
}

impl fmt::Debug for ScriptedExecutable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScriptedExecutable")
            .field("path", &self.inner.program)
            .field("calls", &self.calls())
            .finish()
    }
}

/// One run of a [`ScriptedExecutable`], as it recorded itself when it started.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ExecutableRun {
    /// The process id of the script.
    pub pid: u32,
    /// Its arguments, without the program.
    pub args: Vec<String>,
    /// Its whole environment, as `env` printed it (a value with a line break is read back
    /// whole, unless a line of it looks like `NAME=value`).
    pub env: BTreeMap<String, String>,
}

impl ExecutableRun {
    /// The variables whose names start with `GOOGLE_EXTERNAL_ACCOUNT_`: the ones the executable
    /// source sets, and the gate.
    pub fn google_env(&self) -> BTreeMap<String, String> {
        self.env
            .iter()
            .filter(|(name, _)| name.starts_with("GOOGLE_EXTERNAL_ACCOUNT_"))
            .map(|(name, value)| (name.clone(), value.clone()))
            .collect()
    }
}

/// What a [`ScriptedExecutable`] does after recording its run.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Behaviour {
    /// Write the output file (if scripted), print, exit.
    Answer,
    /// Start a grandchild that reports its pid and sleeps an hour holding the output pipes, and
    /// wait for it (no `exec`, so killing only the script would leave it running).
    Hang,
    /// Print lines on standard output forever.
    Flood,
}

/// Builds a [`ScriptedExecutable`]: by default it prints nothing and exits with status 0.
#[derive(Clone, Debug)]
#[must_use]
pub struct ScriptedExecutableBuilder {
    stdout: String,
    stderr: String,
    exit_code: i32,
    output_file: Option<String>,
    behaviour: Behaviour,
}

impl ScriptedExecutable {
    /// A builder of a program that prints nothing and exits with status 0.
    pub fn builder() -> ScriptedExecutableBuilder {
        ScriptedExecutableBuilder {
            stdout: String::new(),
            stderr: String::new(),
            exit_code: 0,
            output_file: None,
            behaviour: Behaviour::Answer,
        }
    }

    /// A successful version 1 response with the OIDC token `token` (`token_type` `jwt`), and
    /// `expiration_time` (seconds since the Unix epoch) if given.
    pub fn oidc_response(token: &str, expiration_time: Option<i64>) -> String {
        Self::success_response(JWT, "id_token", token, expiration_time)
    }

    /// A successful version 1 response with the SAML assertion `assertion` (`token_type`
    /// `saml2`), and `expiration_time` if given.
    pub fn saml_response(assertion: &str, expiration_time: Option<i64>) -> String {
        Self::success_response(
            "urn:ietf:params:oauth:token-type:saml2",
            "saml_response",
            assertion,
            expiration_time,
        )
    }

    /// A version 1 failure response with `code` and `message`.
    pub fn failure_response(code: &str, message: &str) -> String {
        serde_json::json!({"version": 1, "success": false, "code": code, "message": message})
            .to_string()
    }

    fn success_response(
        token_type: &str,
        member: &str,
        token: &str,
        expiration_time: Option<i64>,
    ) -> String {
        let mut response = serde_json::json!({
            "version": 1, "success": true, "token_type": token_type, member: token,
        });
        if let (Some(expiry), Some(map)) = (expiration_time, response.as_object_mut()) {
            map.insert("expiration_time".to_owned(), expiry.into());
        }
        response.to_string()
    }

    /// The script's path.
    pub fn path(&self) -> &Path {
        &self.inner.program
    }

    /// The script's path as a command line: single-quoted, so a split of it (a shell's, or
    /// Python's `shlex.split`) gives it back whatever characters it has.
    pub fn command_line(&self) -> String {
        quote(&self.path().to_string_lossy())
    }

    /// The temporary directory holding the script and its records (a good place for an output
    /// file too).
    pub fn dir(&self) -> &Path {
        self.inner.dir.path()
    }

    /// How many times the script has started, whatever it then did.
    pub fn calls(&self) -> usize {
        self.pids().len()
    }

    /// Every run, in the order they started.
    pub fn runs(&self) -> Vec<ExecutableRun> {
        self.pids()
            .into_iter()
            .map(|pid| ExecutableRun {
                pid,
                args: self.read_args(pid),
                env: self.read_env(pid),
            })
            .collect()
    }

    /// The last run, if any.
    pub fn last_run(&self) -> Option<ExecutableRun> {
        self.runs().pop()
    }

    /// The process ids of the grandchildren a hanging script started, once each has reported
    /// itself: each must be gone once the run was stopped.
    pub fn grandchildren(&self) -> Vec<u32> {
        read_pids(&self.dir().join("grandchildren"))
    }

    fn pids(&self) -> Vec<u32> {
        read_pids(&self.dir().join("calls"))
    }

    fn read_args(&self, pid: u32) -> Vec<String> {
        let Ok(bytes) = std::fs::read(self.dir().join(format!("args.{pid}"))) else {
            return Vec::new();
        };
        bytes
            .split(|&b| b == 0)
            .map(|arg| String::from_utf8_lossy(arg).into_owned())
            .collect::<Vec<_>>()
            .split_last()
            .map(|(_, args)| args.to_vec())
            .unwrap_or_default()
    }

    fn read_env(&self, pid: u32) -> BTreeMap<String, String> {
        let text =
            std::fs::read_to_string(self.dir().join(format!("env.{pid}"))).unwrap_or_default();
        parse_env(&text)
    }
}

/// The complete lines of `path` that are process ids.
fn read_pids(path: &Path) -> Vec<u32> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.split_inclusive('\n')
        .filter(|line| line.ends_with('\n'))
        .filter_map(|line| line.trim().parse().ok())
        .collect()
}

/// `env`'s output as a map; a line without `=` continues the previous value.
fn parse_env(text: &str) -> BTreeMap<String, String> {
    let mut env = BTreeMap::new();
    let mut last: Option<String> = None;
    for line in text.lines() {
        match line.split_once('=') {
            Some((name, value)) if !name.is_empty() => {
                env.insert(name.to_owned(), value.to_owned());
                last = Some(name.to_owned());
            }
            _ => {
                if let Some(value) = last.as_ref().and_then(|name| env.get_mut(name)) {
                    value.push('\n');
                    value.push_str(line);
                }
            }
        }
    }
    env
}

impl ScriptedExecutableBuilder {
    /// Prints `text` on standard output, as is.
    pub fn with_stdout(mut self, text: impl Into<String>) -> Self {
        self.stdout = text.into();
        self
    }

    /// Prints `text` on standard error, as is.
    pub fn with_stderr(mut self, text: impl Into<String>) -> Self {
        self.stderr = text.into();
        self
    }

    /// Exits with `code`. Default 0.
    pub fn with_exit_code(mut self, code: i32) -> Self {
        self.exit_code = code;
        self
    }

    /// Writes `text` to the file named by `GOOGLE_EXTERNAL_ACCOUNT_OUTPUT_FILE`, when it is set,
    /// before printing anything.
    pub fn with_output_file_contents(mut self, text: impl Into<String>) -> Self {
        self.output_file = Some(text.into());
        self
    }

    /// Never answers: the script starts a grandchild that reports its pid (see
    /// [`ScriptedExecutable::grandchildren`]) and sleeps an hour holding the output pipes, and
    /// waits for it.
    pub fn hanging(mut self) -> Self {
        self.behaviour = Behaviour::Hang;
        self
    }

    /// Prints lines on standard output forever.
    pub fn flooding(mut self) -> Self {
        self.behaviour = Behaviour::Flood;
        self
    }

    /// Writes the script into a new temporary directory.
    ///
    /// # Errors
    ///
    /// Creating the directory or writing the script failed, or a text contains a NUL character
    /// (which a shell script cannot hold).
    pub fn build(self) -> io::Result<ScriptedExecutable> {
        let dir = tempfile::Builder::new()
            .prefix("credkit-scripted-executable-")
            .tempdir()?;
        let program = dir.path().join("credential-helper");
        let text = self.render(dir.path())?;
        if text.contains('\0') {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "a scripted executable's texts cannot contain NUL characters",
            ));
        }
        install_executable(&program, text.as_bytes())?;
        Ok(ScriptedExecutable {
            inner: Arc::new(Inner { program, dir }),
        })
    }

    fn render(&self, dir: &Path) -> io::Result<String> {
        let dir = dir.to_str().ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                "the temporary path is not UTF-8",
            )
        })?;
        let mut s = vec![
            "#!/bin/sh".to_owned(),
            "# A credential program written by credkit-testing's ScriptedExecutable.".to_owned(),
            format!("dir={}", quote(dir)),
            // Record first, so a hanging or failing run is counted too.
            r#"env > "$dir/env.$$""#.to_owned(),
            r#"for arg in "$@"; do printf '%s\000' "$arg"; done > "$dir/args.$$""#.to_owned(),
            r#"printf '%s\n' "$$" >> "$dir/calls""#.to_owned(),
        ];
        match self.behaviour {
            Behaviour::Answer => {
                if let Some(contents) = &self.output_file {
                    s.push(format!(
                        r#"if [ -n "$GOOGLE_EXTERNAL_ACCOUNT_OUTPUT_FILE" ]; then printf '%s' {} > "$GOOGLE_EXTERNAL_ACCOUNT_OUTPUT_FILE"; fi"#,
                        quote(contents)
                    ));
                }
                s.push(format!("printf '%s' {}", quote(&self.stdout)));
                s.push(format!("printf '%s' {} >&2", quote(&self.stderr)));
                s.push(format!("exit {}", self.exit_code));
            }
            Behaviour::Hang => {
                s.push(
                    r#"/bin/sh -c 'printf "%s\n" "$$" >> "$1"; exec sleep 3600' sh "$dir/grandchildren""#
                        .to_owned(),
                );
                s.push("exit 0".to_owned());
            }
            Behaviour::Flood => s.push("exec yes credkit-flood".to_owned()),
        }
        s.push(String::new());
        Ok(s.join("\n"))
    }
}

#[cfg(test)]
mod tests {
    use super::parse_env;

    #[test]
    fn env_parses_with_continued_values() {
        let env = parse_env("A=1\nB=x=y\nline two\n=odd\nC=\n");
        assert_eq!(env["A"], "1");
        assert_eq!(env["B"], "x=y\nline two\n=odd");
        assert_eq!(env["C"], "");
        assert_eq!(env.len(), 3);
    }
}
