//! `ExecutableSourceBuilder`, and the `credential_source.executable` member of a credentials
//! file read into one, with the reference's checks and messages.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use credkit_core::BuildError;
use serde_json::{Map, Value};

use super::split::split;
use super::{ExecutableSource, error, response};
use crate::info::SourceContext;
use crate::supplier::SubjectTokenSupplier;

/// A builder of [`ExecutableSource`]; see [`ExecutableSource::builder`].
#[derive(Clone, Debug)]
pub struct ExecutableSourceBuilder {
    command: String,
    timeout: Duration,
    output_file: Option<PathBuf>,
    impersonated_email: Option<String>,
}

impl ExecutableSourceBuilder {
    pub(super) fn new(command: String) -> Self {
        Self {
            command,
            timeout: ExecutableSource::DEFAULT_TIMEOUT,
            output_file: None,
            impersonated_email: None,
        }
    }

    /// How long the program may run: between [`ExecutableSource::MIN_TIMEOUT`] and
    /// [`ExecutableSource::MAX_TIMEOUT`] ([`ExecutableSource::DEFAULT_TIMEOUT`] if not set).
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The file the program caches its response in: read before the program is run, and told
    /// to it as `GOOGLE_EXTERNAL_ACCOUNT_OUTPUT_FILE`.
    #[must_use]
    pub fn with_output_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.output_file = Some(path.into());
        self
    }

    /// The service account the credentials impersonate, told to the program as
    /// `GOOGLE_EXTERNAL_ACCOUNT_IMPERSONATED_EMAIL` and `GOOGLE_EXTERNAL_ACCOUNT_ID`. A source
    /// read from a credentials file takes it from the file's impersonation URL; one built by
    /// hand for impersonating credentials should be given it here.
    #[must_use]
    pub fn with_impersonated_email(mut self, email: impl Into<String>) -> Self {
        self.impersonated_email = Some(email.into());
        self
    }

    /// The source.
    ///
    /// # Errors
    ///
    /// A command line with no words (`Missing command field. Executable command must be
    /// provided.`), one that cannot be split (an unclosed quote: `No closing quotation`; a
    /// trailing backslash: `No escaped character`) or that holds a NUL character; a timeout
    /// out of range (`Timeout must be between 5 and 120 seconds.`); an empty output file path.
    pub fn build(self) -> Result<ExecutableSource, BuildError> {
        if self.command.contains('\0') {
            return Err(BuildError::invalid_value(
                "the executable command contains a NUL character",
            ));
        }
        let mut words = split(&self.command)
            .map_err(|err| {
                BuildError::invalid_value(format!(
                    "the executable command cannot be split into words: {}",
                    err.message()
                ))
            })?
            .into_iter();
        let program = words
            .next()
            .filter(|program| !program.is_empty())
            .ok_or_else(error::missing_command)?;
        if !(ExecutableSource::MIN_TIMEOUT..=ExecutableSource::MAX_TIMEOUT).contains(&self.timeout)
        {
            return Err(error::timeout_out_of_range());
        }
        if self
            .output_file
            .as_ref()
            .is_some_and(|path| path.as_os_str().is_empty())
        {
            return Err(BuildError::invalid_value(
                "the executable's output file path is empty",
            ));
        }
        Ok(ExecutableSource {
            command: self.command,
            program,
            args: words.collect(),
            timeout: self.timeout,
            output_file: self.output_file,
            impersonated_email: self.impersonated_email,
        })
    }
}

/// Parses an `executable` `credential_source`, with the reference's checks and messages.
pub(crate) fn from_credential_source(
    source: &Map<String, Value>,
    context: &SourceContext<'_>,
) -> Result<Arc<dyn SubjectTokenSupplier>, BuildError> {
    Ok(Arc::new(parse(source, context)?))
}

/// The source an `executable` `credential_source` describes.
pub(super) fn parse(
    source: &Map<String, Value>,
    context: &SourceContext<'_>,
) -> Result<ExecutableSource, BuildError> {
    let executable = match source.get("executable") {
        Some(Value::Object(executable)) if !executable.is_empty() => executable,
        Some(value) if !response::is_falsy(value) => {
            return Err(BuildError::invalid_value(
                "credential_source.executable must be a JSON object",
            ));
        }
        _ => {
            return Err(BuildError::missing_fields(
                "Missing credential_source. An 'executable' must be provided.",
            ));
        }
    };
    let command = match executable.get("command") {
        // An empty one is refused by the builder, with the same message.
        Some(Value::String(command)) => command,
        Some(value) if !response::is_falsy(value) => {
            return Err(BuildError::invalid_value(
                "credential_source.executable.command must be a string",
            ));
        }
        _ => return Err(error::missing_command()),
    };
    let mut builder = ExecutableSource::builder(command.as_str());
    if let Some(timeout) = millis(executable, "timeout_millis", 5_000, 120_000)? {
        builder = builder.with_timeout(timeout);
    }
    // Checked as the reference checks it; interactive mode itself is not supported.
    millis(executable, "interactive_timeout_millis", 30_000, 1_800_000)?;
    match executable.get("output_file") {
        None | Some(Value::Null) => {}
        // Read as absent: the reference would read and name a file called "".
        Some(Value::String(path)) if path.is_empty() => {}
        Some(Value::String(path)) => builder = builder.with_output_file(path),
        Some(_) => {
            return Err(BuildError::invalid_value(
                "credential_source.executable.output_file must be a string",
            ));
        }
    }
    if let Some(email) = context.impersonated_email {
        builder = builder.with_impersonated_email(email);
    }
    builder.build()
}

/// A member holding milliseconds between `min` and `max`; absent, `null` or zero is `None` (the
/// reference's default), as Python's truth test has it.
fn millis(
    executable: &Map<String, Value>,
    name: &str,
    min: u64,
    max: u64,
) -> Result<Option<Duration>, BuildError> {
    let number = match executable.get(name) {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Number(number)) => number,
        Some(_) => {
            return Err(BuildError::invalid_value(format!(
                "credential_source.executable.{name} must be a number"
            )));
        }
    };
    let out_of_range = || {
        if name == "timeout_millis" {
            error::timeout_out_of_range()
        } else {
            BuildError::invalid_value(
                "Interactive timeout must be between 30 seconds and 30 minutes.",
            )
        }
    };
    if let Some(millis) = number.as_u64() {
        return match millis {
            0 => Ok(None),
            millis if (min..=max).contains(&millis) => Ok(Some(Duration::from_millis(millis))),
            _ => Err(out_of_range()),
        };
    }
    // A negative whole number, or a fraction (Python compares either as it is).
    let millis = number.as_f64().unwrap_or(f64::NAN);
    #[allow(clippy::float_cmp, clippy::cast_precision_loss)]
    if millis == 0.0 {
        Ok(None)
    } else if (min as f64..=max as f64).contains(&millis) {
        Ok(Some(Duration::from_secs_f64(millis / 1000.0)))
    } else {
        Err(out_of_range())
    }
}
