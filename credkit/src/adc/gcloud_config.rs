//! gcloud's properties, read from its files (never by running gcloud): the active
//! configuration (`CLOUDSDK_ACTIVE_CONFIG_NAME`, else the `active_config` file, else
//! `default`) and its `configurations/config_<name>` file, with gcloud's own environment
//! overrides (`CLOUDSDK_CORE_PROJECT`, `CLOUDSDK_CORE_ACCOUNT`) first.

use std::path::{Path, PathBuf};

use super::env::Env;

/// The largest properties file read; gcloud's are a few hundred bytes.
const MAX_FILE_BYTES: u64 = 64 * 1024;

/// gcloud's properties in one configuration folder.
#[derive(Debug)]
pub(crate) struct GcloudConfig<'a> {
    env: &'a Env,
    dir: Option<PathBuf>,
}

impl<'a> GcloudConfig<'a> {
    pub(crate) fn new(env: &'a Env) -> Self {
        Self {
            env,
            dir: env.gcloud_config_dir(),
        }
    }

    /// The active configuration's properties file; `None` without a configuration folder or
    /// with a configuration name gcloud would not accept (it could name a path elsewhere).
    pub(crate) fn properties_file(&self) -> Option<PathBuf> {
        let dir = self.dir.as_ref()?;
        let name = self
            .env
            .var("CLOUDSDK_ACTIVE_CONFIG_NAME")
            .or_else(|| read_small(&dir.join("active_config")))
            .map(|name| name.trim().to_owned())
            .filter(|name| !name.is_empty())
            .unwrap_or_else(|| "default".to_owned());
        valid_config_name(&name).then(|| dir.join("configurations").join(format!("config_{name}")))
    }

    /// The property `section/key`: `CLOUDSDK_<SECTION>_<KEY>`, else the active
    /// configuration's file. Empty values count as unset.
    pub(crate) fn property(&self, section: &str, key: &str) -> Option<String> {
        let var = format!(
            "CLOUDSDK_{}_{}",
            section.to_ascii_uppercase(),
            key.to_ascii_uppercase()
        );
        if let Some(value) = self.env.var(&var) {
            return Some(value);
        }
        let text = read_small(&self.properties_file()?)?;
        ini_value(&text, section, key)
    }
}

/// gcloud's rule for configuration names: a lowercase letter, then lowercase letters, digits
/// and dashes.
fn valid_config_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// The text of a small file; `None` when it is missing, unreadable, too large or not UTF-8.
fn read_small(path: &Path) -> Option<String> {
    let size = std::fs::metadata(path).ok()?.len();
    if size > MAX_FILE_BYTES {
        tracing::debug!(path = %path.display(), "gcloud properties file too large; ignored");
        return None;
    }
    std::fs::read_to_string(path).ok()
}

/// The value of `key` in `[section]` of an INI text as Python's `configparser` (which gcloud
/// uses) reads it: `key = value` or `key: value`, keys matched without regard to case,
/// whitespace trimmed, `#` and `;` lines skipped, the last assignment winning, lines ended by
/// `\n`, `\r\n` or `\r` (Python's universal newlines). An empty value, or one with a control
/// character, counts as unset.
pub(crate) fn ini_value(text: &str, section: &str, key: &str) -> Option<String> {
    let mut in_section = false;
    let mut found = None;
    for line in text.split(['\n', '\r']) {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            in_section = name.trim() == section;
            continue;
        }
        if !in_section {
            continue;
        }
        let Some(split) = line.find(['=', ':']) else {
            continue;
        };
        let (name, value) = line.split_at(split);
        if name.trim().eq_ignore_ascii_case(key) {
            found = Some(value[1..].trim().to_owned());
        }
    }
    found.filter(|value| !value.is_empty() && !value.chars().any(char::is_control))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_key_of_a_section() {
        let text = "[compute]\nproject = wrong\n\n[core]\n# comment\n; another\naccount = me@example.com\nPROJECT: my-project\n[other]\nproject = no\n";
        assert_eq!(
            ini_value(text, "core", "project").as_deref(),
            Some("my-project")
        );
        assert_eq!(
            ini_value(text, "core", "account").as_deref(),
            Some("me@example.com")
        );
        assert_eq!(ini_value(text, "core", "missing"), None);
        assert_eq!(ini_value("[core]\nproject =\n", "core", "project"), None);
        assert_eq!(ini_value("project = p\n", "core", "project"), None);
        assert_eq!(
            ini_value("[core]\nproject = a\nproject = b\n", "core", "project").as_deref(),
            Some("b")
        );
        assert_eq!(ini_value("[core]\nnovalue\n", "core", "novalue"), None);
        assert_eq!(
            ini_value(
                "[core]\rproject = p\r\naccount = a\x07b\n",
                "core",
                "project"
            )
            .as_deref(),
            Some("p")
        );
        assert_eq!(
            ini_value("[core]\naccount = a\x07b\n", "core", "account"),
            None
        );
    }

    #[test]
    fn configuration_names() {
        for good in ["default", "a", "work-2"] {
            assert!(valid_config_name(good), "{good}");
        }
        for bad in ["", "../x", "Work", "2a", "a/b", "a.b"] {
            assert!(!valid_config_name(bad), "{bad}");
        }
    }

    #[test]
    fn comments_are_not_assignments() {
        let text = "[core]\nproject = real\n# project = hashed\n; project = semicolon\n";
        assert_eq!(ini_value(text, "core", "project").as_deref(), Some("real"));
        assert_eq!(ini_value("[core]\n#project=x\n", "core", "#project"), None);
        assert_eq!(ini_value("[core]\n;project=x\n", "core", ";project"), None);
    }

    #[test]
    fn a_properties_file_of_64_kib_is_read_and_a_larger_one_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("config_default");
        let text = |len: usize| {
            let head = "[core]\nproject = p\n#";
            format!("{head}{}", "x".repeat(len - head.len()))
        };
        std::fs::write(&file, text(64 * 1024)).unwrap();
        assert!(read_small(&file).is_some());
        std::fs::write(&file, text(64 * 1024 + 1)).unwrap();
        assert!(read_small(&file).is_none());
        assert!(read_small(&dir.path().join("missing")).is_none());
    }
}
