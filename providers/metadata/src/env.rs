//! The metadata server's environment variables, read through a lookup so tests never change the
//! process environment.

use std::sync::Arc;
use std::time::Duration;

/// How the builders read an environment variable.
pub(crate) type EnvLookup = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// The host (and port) of data requests: `GCE_METADATA_HOST`.
pub const GCE_METADATA_HOST: &str = "GCE_METADATA_HOST";

/// The reference library's older name for [`GCE_METADATA_HOST`], read when that is unset.
pub const GCE_METADATA_ROOT: &str = "GCE_METADATA_ROOT";

/// The host (and port) the probe asks: `GCE_METADATA_IP`.
pub const GCE_METADATA_IP: &str = "GCE_METADATA_IP";

/// The probe's timeout in whole seconds: `GCE_METADATA_TIMEOUT`.
pub const GCE_METADATA_TIMEOUT: &str = "GCE_METADATA_TIMEOUT";

/// `true` (in any letter case) makes the probe answer "not available" without asking:
/// `NO_GCE_CHECK`.
pub const NO_GCE_CHECK: &str = "NO_GCE_CHECK";

/// The metadata server's name, where data requests go by default.
pub const DEFAULT_HOST: &str = "metadata.google.internal";

/// The metadata server's address, which the probe asks by default (no DNS lookup).
pub const DEFAULT_PROBE_HOST: &str = "169.254.169.254";

/// The probe's default timeout, as the reference's: 3 seconds.
pub const DEFAULT_PROBE_TIMEOUT: Duration = Duration::from_secs(3);

/// The process environment.
pub(crate) fn process() -> EnvLookup {
    Arc::new(|name| std::env::var(name).ok())
}

/// What the environment says, each value already validated or dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MetadataEnv {
    pub(crate) host: Option<String>,
    pub(crate) probe_host: Option<String>,
    pub(crate) probe_timeout: Option<Duration>,
    pub(crate) no_check: bool,
}

impl MetadataEnv {
    /// Reads the variables through `lookup`; an empty value counts as unset, as does a
    /// `GCE_METADATA_TIMEOUT` that is not a whole number of seconds (the reference falls back
    /// to its default then too).
    pub(crate) fn read(lookup: &EnvLookup) -> Self {
        let var = |name: &str| lookup(name).filter(|value| !value.trim().is_empty());
        Self {
            host: var(GCE_METADATA_HOST).or_else(|| var(GCE_METADATA_ROOT)),
            probe_host: var(GCE_METADATA_IP),
            probe_timeout: var(GCE_METADATA_TIMEOUT)
                .and_then(|secs| secs.trim().parse::<u64>().ok())
                .map(Duration::from_secs),
            no_check: var(NO_GCE_CHECK).is_some_and(|v| v.trim().eq_ignore_ascii_case("true")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &'static [(&'static str, &'static str)]) -> MetadataEnv {
        let lookup: EnvLookup = Arc::new(move |name| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        });
        MetadataEnv::read(&lookup)
    }

    #[test]
    fn nothing_set() {
        assert_eq!(
            env(&[]),
            MetadataEnv {
                host: None,
                probe_host: None,
                probe_timeout: None,
                no_check: false
            }
        );
    }

    #[test]
    fn every_variable() {
        let read = env(&[
            ("GCE_METADATA_HOST", "10.0.0.1:8080"),
            ("GCE_METADATA_ROOT", "old.example"),
            ("GCE_METADATA_IP", "10.0.0.2"),
            ("GCE_METADATA_TIMEOUT", " 7 "),
            ("NO_GCE_CHECK", "True"),
        ]);
        assert_eq!(read.host.as_deref(), Some("10.0.0.1:8080"));
        assert_eq!(read.probe_host.as_deref(), Some("10.0.0.2"));
        assert_eq!(read.probe_timeout, Some(Duration::from_secs(7)));
        assert!(read.no_check);
    }

    #[test]
    fn the_old_name_empty_values_and_bad_numbers() {
        let read = env(&[
            ("GCE_METADATA_HOST", ""),
            ("GCE_METADATA_ROOT", "old.example"),
            ("GCE_METADATA_IP", " "),
            ("GCE_METADATA_TIMEOUT", "2.5"),
            ("NO_GCE_CHECK", "1"),
        ]);
        assert_eq!(read.host.as_deref(), Some("old.example"));
        assert_eq!(read.probe_host, None);
        assert_eq!(read.probe_timeout, None);
        assert!(!read.no_check);
    }
}
