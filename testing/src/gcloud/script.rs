//! The fake gcloud's shell script: rendering it, and installing it so it can never be busy.

use std::io::{self, Write as _};
use std::path::Path;
use std::process::{Command, Stdio};

use time::format_description::well_known::Rfc3339;

use super::{FakeGcloudBuilder, GcloudReply};

/// Stands in for the account in the rendered config-helper document; the script puts the
/// `--account` value (or the default account) in its place.
const ACCOUNT_PLACEHOLDER: &str = "__CREDKIT_FAKE_GCLOUD_ACCOUNT__";

/// Writes `contents` to `path` as an executable file, in a way that can never make a later `exec`
/// of `path` fail with `ETXTBSY` ("text file busy").
///
/// `exec` fails with `ETXTBSY` while any process holds the file open for writing. Writing it from
/// this process opens such a descriptor, and if another thread forks in that window (a parallel
/// test spawning its own child), the forked child holds a copy of the descriptor until it calls
/// `exec` itself, `O_CLOEXEC` notwithstanding. Renaming or copying the file afterwards does not
/// help: the inode is the same, or the copy is written the same way.
///
/// So this process never opens the script for writing: a short-lived `/bin/sh` child creates and
/// writes it (`cat > path`), with the contents on a pipe. The write descriptor exists only in
/// that single-threaded child and its `cat`, which exit before this function returns; no thread
/// of ours can fork a copy of it. The pipe's write end may be copied by a concurrent fork, which
/// only delays `cat`'s end of input until that child execs.
pub(crate) fn install_executable(path: &Path, contents: &[u8]) -> io::Result<()> {
    let mut writer = Command::new("/bin/sh")
        .arg("-c")
        .arg(r#"umask 077 && cat > "$1" && chmod 700 "$1""#)
        .arg("credkit-fake-gcloud-writer")
        .arg(path)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()?;
    let written = match writer.stdin.take() {
        Some(mut stdin) => stdin.write_all(contents),
        None => Err(io::Error::other(
            "the writer's standard input is not a pipe",
        )),
    };
    // Always reap the writer, even if writing failed.
    let output = writer.wait_with_output()?;
    if !output.status.success() {
        return Err(io::Error::other(format!(
            "writing the fake gcloud script failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        )));
    }
    written
}

/// `s` as one single-quoted shell word.
pub(crate) fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// The script for `builder`, logging to `log`.
pub(super) fn render(builder: &FakeGcloudBuilder, log: &Path, dir: &Path) -> io::Result<String> {
    let (json_before, json_after) = config_helper_json(builder, dir)?;
    let expiry = builder
        .token_expiry
        .format(&Rfc3339)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    let mut s = vec![
        "#!/bin/sh".to_owned(),
        "# A fake gcloud written by credkit-testing's FakeGcloud. It answers".to_owned(),
        "# `auth print-access-token` and `config config-helper --format=json`.".to_owned(),
        format!("log={}", quote(&path_text(log)?)),
        format!("default_account={}", quote(&builder.account)),
        // Record the invocation first, so a hanging or failing run is counted too: the shell's
        // pid, a tab, the argument count, a colon, and the arguments separated by US (0x1f); one
        // line, appended with a single write.
        r#"IFS=$(printf '\037')
printf '%s\t%s:%s\n' "$$" "$#" "$*" >> "$log"
unset IFS
account=$default_account
format=
cmd=
while [ $# -gt 0 ]; do
  case $1 in
    --account=*) account=${1#--account=} ;;
    --account) account=${2-}; [ $# -gt 1 ] && shift ;;
    --format=*) format=${1#--format=} ;;
    --format) format=${2-}; [ $# -gt 1 ] && shift ;;
    -*) ;;
    *) cmd="$cmd $1" ;;
  esac
  shift
done
case $cmd in
  ' auth print-access-token')"#
            .to_owned(),
    ];
    match &builder.print_access_token {
        GcloudReply::Token => {
            s.extend(noise(builder));
            s.push(format!("    printf '%s\\n' {}", quote(&builder.token)));
            s.push("    exit 0 ;;".to_owned());
        }
        other => s.extend(reply(other)),
    }
    s.push("  ' config config-helper')".to_owned());
    match &builder.config_helper {
        GcloudReply::Token => {
            // gcloud's default output is YAML; a caller that forgets --format=json gets that.
            let yaml = format!(
                "configuration:\n  active_configuration: default\ncredential:\n  access_token: {}\n  token_expiry: '{}'\n",
                builder.token, expiry
            );
            s.extend(noise(builder));
            s.push("    if [ \"$format\" = json ]; then".to_owned());
            s.push(r#"      escaped=$(printf '%s' "$account" | sed 's/[\\"]/\\&/g')"#.to_owned());
            s.push(format!(
                "      printf '%s%s%s\\n' {} \"$escaped\" {}",
                quote(&json_before),
                quote(&json_after)
            ));
            s.push("    else".to_owned());
            s.push(format!("      printf '%s' {}", quote(&yaml)));
            s.push("    fi".to_owned());
            s.push("    exit 0 ;;".to_owned());
        }
        other => s.extend(reply(other)),
    }
    s.push("  ' auth print-identity-token')".to_owned());
    match (&builder.print_identity_token, &builder.identity_token) {
        (GcloudReply::Token, Some(id_token)) => {
            s.extend(noise(builder));
            s.push(format!("    printf '%s\\n' {}", quote(id_token)));
            s.push("    exit 0 ;;".to_owned());
        }
        (GcloudReply::Token, None) => s.extend(reply(&GcloudReply::Fail {
            stderr: "ERROR: (gcloud.auth.print-identity-token) No identity token can be obtained from the current credentials.\n".to_owned(),
            exit_code: 1,
        })),
        (other, _) => s.extend(reply(other)),
    }
    s.push(
        r#"  *)
    printf '%s\n' "ERROR: (gcloud) Invalid choice: '${cmd# }'." >&2
    exit 2 ;;
esac
"#
        .to_owned(),
    );
    Ok(s.join("\n"))
}

/// The shell lines for a reply other than [`GcloudReply::Token`], ending the `case` arm.
fn reply(reply: &GcloudReply) -> Vec<String> {
    match reply {
        GcloudReply::Token => Vec::new(),
        GcloudReply::Fail { stderr, exit_code } => vec![
            format!("    printf '%s' {} >&2", quote(stderr)),
            format!("    exit {exit_code} ;;"),
        ],
        // `exec`, so the process that holds the pipes is the one a caller kills.
        GcloudReply::Hang => vec!["    exec sleep 3600 ;;".to_owned()],
        GcloudReply::Stdout(stdout) => vec![
            format!("    printf '%s' {}", quote(stdout)),
            "    exit 0 ;;".to_owned(),
        ],
    }
}

fn noise(builder: &FakeGcloudBuilder) -> Option<String> {
    builder
        .stderr_noise
        .as_ref()
        .map(|text| format!("    printf '%s' {} >&2", quote(text)))
}

/// The config-helper document, split around the account's text (the quotes stay outside).
fn config_helper_json(builder: &FakeGcloudBuilder, dir: &Path) -> io::Result<(String, String)> {
    let expiry = builder
        .token_expiry
        .format(&Rfc3339)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    let mut credential = serde_json::json!({
        "access_token": builder.token,
        "token_expiry": expiry,
    });
    if let (Some(id_token), Some(map)) = (&builder.id_token, credential.as_object_mut()) {
        map.insert("id_token".to_owned(), id_token.clone().into());
    }
    let sentinel = dir.join("config_sentinel");
    let document = serde_json::json!({
        "configuration": {
            "active_configuration": "default",
            "properties": {
                "core": {
                    "account": ACCOUNT_PLACEHOLDER,
                    "disable_usage_reporting": "True",
                    "project": builder.project,
                }
            }
        },
        "credential": credential,
        "sentinels": { "config_sentinel": path_text(&sentinel)? },
    });
    let text = serde_json::to_string_pretty(&document).map_err(io::Error::other)?;
    let Some((before, after)) = text.split_once(ACCOUNT_PLACEHOLDER) else {
        return Err(io::Error::other(
            "the account placeholder is missing from the config-helper document",
        ));
    };
    Ok((before.to_owned(), after.to_owned()))
}

fn path_text(path: &Path) -> io::Result<String> {
    path.to_str().map(str::to_owned).ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("the path {} is not UTF-8", path.display()),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quote_survives_single_quotes() {
        assert_eq!(quote("it's"), r"'it'\''s'");
        assert_eq!(quote(""), "''");
    }
}
