//! The hosts the credential helpers (`docker-credential`, `credential-helper`,
//! `git-credential`) answer besides Google's: `--host` and `CREDKIT_HELPER_HOSTS`.

use credkit_helpers::hosts::HostList;

use crate::cli::HostArgs;
use crate::failure::Failure;

/// The variable naming more hosts a helper may send a token to, comma-separated (as
/// `--host`): how to name them when git, docker or Bazel runs the helper by its link name,
/// without options.
pub(crate) const HOSTS_ENV: &str = "CREDKIT_HELPER_HOSTS";

/// `base` with the patterns of `--host` and [`HOSTS_ENV`].
///
/// # Errors
///
/// A pattern is not a host name, a `*.` wildcard of one, or either with a port.
pub(crate) fn host_list(base: HostList, args: &HostArgs) -> Result<HostList, Failure> {
    with_patterns(base, &patterns(&args.hosts, std::env::var(HOSTS_ENV).ok()))
}

/// The named hosts that are not wildcards, in order (docker's `list`).
pub(crate) fn named_hosts(args: &HostArgs) -> Vec<String> {
    patterns(&args.hosts, std::env::var(HOSTS_ENV).ok())
        .into_iter()
        .filter(|pattern| !pattern.starts_with("*."))
        .collect()
}

/// The patterns of `options`, then those of the variable's value `var` (comma-separated),
/// trimmed, without empty ones.
fn patterns(options: &[String], var: Option<String>) -> Vec<String> {
    let from_var = var.unwrap_or_default();
    options
        .iter()
        .map(String::as_str)
        .chain(from_var.split(','))
        .map(str::trim)
        .filter(|pattern| !pattern.is_empty())
        .map(str::to_owned)
        .collect()
}

/// `base` with `patterns` added.
fn with_patterns(base: HostList, patterns: &[String]) -> Result<HostList, Failure> {
    patterns.iter().try_fold(base, |list, pattern| {
        list.with_pattern(pattern)
            .map_err(|err| Failure::new(format!("--host or {HOSTS_ENV}: {err}")))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_from_options_and_the_variable() {
        let named = patterns(
            &["127.0.0.1:8080".to_owned(), " ".to_owned()],
            Some(" git.example.com , ,*.corp.example:8443".to_owned()),
        );
        assert_eq!(
            named,
            ["127.0.0.1:8080", "git.example.com", "*.corp.example:8443"]
        );
        let hosts = with_patterns(HostList::git(), &named).unwrap();
        assert!(hosts.allows_url("http://127.0.0.1:8080"));
        assert!(hosts.allows_url("https://git.example.com"));
        assert!(hosts.allows_url("https://a.corp.example:8443"));
        assert!(hosts.allows_url("https://source.developers.google.com"));
        assert!(!hosts.allows_url("https://github.com"));
        let err = with_patterns(HostList::git(), &["a b".to_owned()]).unwrap_err();
        assert!(err.to_string().contains("host pattern"), "{err}");
        assert!(
            err.to_string()
                .starts_with("--host or CREDKIT_HELPER_HOSTS: "),
            "{err}"
        );
        assert!(patterns(&[], None).is_empty());
    }
}
