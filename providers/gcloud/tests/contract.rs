//! The `TokenSource` contract suite on `GcloudSource`, running a fake gcloud.
#![cfg(unix)]
// The factory closures unwrap: a failure there is a test failure.
#![allow(clippy::unwrap_used)]

use credkit_core::Clock;
use credkit_gcloud::GcloudSource;
use credkit_testing::contract::token_source::{Behaviour, CONTRACT_TOKEN, Contract};
use credkit_testing::{FakeClock, FakeGcloud, GcloudReply};

#[test]
fn gcloud_source_keeps_the_contract() {
    Contract::new(|far| {
        let gcloud = FakeGcloud::builder()
            .with_token(CONTRACT_TOKEN)
            .with_clock(far.clock());
        let gcloud = match far.behaviour() {
            Behaviour::TransientFailure => gcloud.with_reply(GcloudReply::fail(
                "ERROR: gcloud crashed (ConnectionError): connection reset; try again",
                1,
            )),
            Behaviour::PermanentFailure => gcloud.with_reply(GcloudReply::login_required()),
            _ => gcloud,
        }
        .build()
        .unwrap();
        let source = GcloudSource::builder()
            .with_program(gcloud.path())
            // Its own clock at the same time: the far side's auto-advances, and gcloud's
            // timeout (a sleep on the clock) would then fire at once.
            .with_clock(FakeClock::at(far.clock().now()))
            .build()
            .unwrap();
        far.keep(gcloud);
        source
    })
    .check();
}
