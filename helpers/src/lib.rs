//! The protocols of the programs that ask for credentials, over any credkit
//! [`Credentials`](credkit_core::Credentials).
//!
//! kubectl, docker, git, Bazel and programs built on Google's client libraries in other
//! languages never link a Rust library: they run a helper program, or call the metadata
//! server. This crate speaks each of their protocols, so that one process's (or a whole
//! fleet's) cached, single-flight, rotation-keeping credentials serve all of them. The
//! `credkit` command-line tool serves them from its subcommands; a program of your own can
//! embed any of them.
//!
//! - [`hosts`]: which hosts a Google token may be sent to. Every helper declines a host
//!   outside its list, so a token never leaves for a server that is not Google's (or one
//!   you named).
//! - [`kubectl`]: kubectl's exec credential plugins (`client.authentication.k8s.io` `v1` and
//!   `v1beta1`): the `KUBERNETES_EXEC_INFO` request and the `ExecCredential` answer.
//! - [`docker`]: docker's credential helpers (`docker-credential-<name> get|store|erase|list|
//!   version`): a registry's token for Google's registries, the protocol's "not found" for
//!   the others.
//! - [`bazel`]: the credential-helper spec of Bazel and `uv` (`<helper> get` with
//!   `{"uri": ...}`): the headers and their expiry for Google's APIs, no credentials for other
//!   hosts.
//! - [`git`]: git's credential helper protocol (`git-credential-credkit`).
//! - [`token_file`]: a token file written atomically (0600) and kept fresh, for programs
//!   that read a token from a file (`gcloud --access-token-file`).
//! - [`metadata_server`]: the Compute Engine metadata server's HTTP interface (tokens, ID
//!   tokens, the account, the project), answering Google's client libraries in any language
//!   from your credentials.
//!
//! The crate needs no async runtime and no HTTP stack: it reads and writes the protocols'
//! messages, and the caller owns the process, the pipes and the sockets.
#![cfg_attr(not(test), warn(unused_crate_dependencies))]
#![doc(test(attr(deny(warnings))))]

pub mod bazel;
pub mod docker;
pub mod git;
pub mod hosts;
pub mod kubectl;
pub mod metadata_server;
pub mod token_file;

/// At most 64 characters of untrusted text, escaped (and `...` when cut), for a message.
fn shorten(text: &str) -> String {
    let mut short: String = text.chars().take(64).collect();
    if short.len() < text.len() {
        short.push_str("...");
    }
    short.escape_debug().to_string()
}
