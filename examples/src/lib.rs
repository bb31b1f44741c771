//! The credkit command-line tool and example programs.
//!
//! This package is not a library to depend on: it holds the `credkit` binary and the example
//! programs, and this crate root only documents them.
//!
//! # The `credkit` command-line tool
//!
//! ```text
//! cargo run -p credkit-examples --bin credkit -- demo     # or: cargo credkit demo
//! cargo credkit token  [--credentials FILE] [--token-uri URL] [--scope S]... [--quota-project ID]
//! cargo credkit header [...the same options]
//! cargo credkit info   [...the same options] [--no-refresh]
//! cargo credkit token --gcloud [--account A]
//! cargo credkit token --id-token --audience A [...]
//! cargo credkit exec-credential [...]          # kubectl's exec credential plugin
//! cargo credkit docker-credential get|store|erase|list|version [--host PATTERN]... [...]
//! cargo credkit credential-helper get [--host PATTERN]... [...]
//! cargo credkit token --output-file FILE [--keep-fresh] [...]
//! cargo credkit git-credential [--host PATTERN]... [...] get|store|erase
//! cargo credkit metadata-server [--port P] [--bind ADDR] [--project ID] [...the same options]
//! ```
//!
//! - `demo` starts a fake token endpoint on 127.0.0.1, writes a temporary `authorized_user`
//!   file for it, and shows the first refresh, the cached hot path, single flight, a
//!   refresh-token rotation, a transient failure retried and a permanent one reported, with
//!   timings. Nothing leaves the machine and no secret is printed; `--json` for scripts.
//! - `token` prints the access token and a newline; `header` prints the request headers, one
//!   `name: value` a line; `info` prints the non-secret facts as JSON, after a refresh (so the
//!   expiry, granted scopes and state are live) unless `--no-refresh` is given.
//! - Without `--credentials` or `--gcloud`, the credentials are found as Application Default
//!   Credentials by the `credkit` facade: `GOOGLE_APPLICATION_CREDENTIALS`, gcloud's
//!   well-known file, then the gcloud CLI when an account is logged in. `info` reports the
//!   credential type, the account's e-mail and the project ID; `token --id-token --audience A`
//!   prints an ID token (for user credentials, the refresh response's).
//! - `exec-credential` is kubectl's exec credential plugin: it reads `KUBERNETES_EXEC_INFO`
//!   and prints an `ExecCredential` (`client.authentication.k8s.io/v1` or `v1beta1`) with the
//!   token and its expiry. `docker-credential` is docker's credential helper (a link named
//!   `docker-credential-credkit` runs it) and `credential-helper` the credential helper of
//!   Bazel and uv (a link named `credkit-credential-helper`); each answers only Google's hosts
//!   and those named with `--host` or `CREDKIT_HELPER_HOSTS`. All three read the token cache
//!   `token` fills, with the same options; the protocols are in `credkit-helpers`.
//! - `token --output-file FILE` writes the token to FILE instead (no newline, mode 0600,
//!   atomically), for `gcloud --access-token-file` and the like; with `--keep-fresh` it stays
//!   and rewrites the file before each expiry until SIGINT or SIGTERM.
//! - `git-credential` is git's credential helper (also as a link named
//!   `git-credential-credkit`): Google's git hosts, and those named with `--host` or
//!   `CREDKIT_HELPER_HOSTS`, get the token as the password; any other host gets no answer.
//! - `metadata-server` serves the Compute Engine metadata server's interface on 127.0.0.1
//!   (a free port unless `--port`), from the credentials found, for programs on Google's
//!   client libraries in any language: it prints `GCE_METADATA_HOST=...` and
//!   `GCE_METADATA_IP=...` lines to set, then serves until SIGINT or SIGTERM.
//! - Exit status 0 on success; 1 on a credential or refresh error, with one line
//!   `error: <message>` on standard error; 2 on a usage error. A scope shortfall is a
//!   `warning: ...` line on standard error, and the command still succeeds.
//!
//! # The examples
//!
//! | example | shows | runs without outside services |
//! |---|---|---|
//! | `quickstart` | Application Default Credentials to headers on a request | no: it needs your credentials (its test runs the part after discovery) |
//! | `custom_chain` | gcloud, then a file, then a static token, with `ChainSource` | yes: it falls back to the static token |
//! | `plugin_provider` | a third-party `TokenSource` in under 30 lines | yes |
//! | `testing_with_mocks` | a small API client tested with `MockTransport` and `FakeClock` | yes: no network, no sleep |
//!
//! Run one with `cargo run -p credkit-examples --example custom_chain`. Each keeps its logic in
//! functions that its own tests call, and `cargo test --workspace` runs those tests.
//
// No `unused_crate_dependencies` lint here, unlike the other crates: the dependencies serve the
// binary and the examples, not this crate root.

/// Re-exported for the examples.
pub use credkit_core as core;
