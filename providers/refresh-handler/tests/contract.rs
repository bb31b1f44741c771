//! The `TokenSource` contract suite on `RefreshHandlerSource`: the handler answers as the far
//! side says, after the far side's delay.

// The factory closures unwrap: a failure there is a test failure.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use credkit_core::{Clock, Error, ErrorKind};
use credkit_refresh_handler::{RefreshHandlerSource, handler_fn};
use credkit_testing::MockTransport;
use credkit_testing::contract::token_source::{
    Behaviour, CONTRACT_LIFETIME, CONTRACT_TOKEN, Contract,
};

#[test]
fn refresh_handler_source_keeps_the_contract() {
    Contract::new(|far| {
        let (clock, behaviour, delay) = (far.clock().clone(), far.behaviour().clone(), far.delay());
        let handler = handler_fn(move |_transport, _scopes| {
            let (clock, behaviour) = (clock.clone(), behaviour.clone());
            async move {
                let start = clock.now();
                clock.sleep(delay).await;
                match behaviour {
                    Behaviour::Token => Ok((CONTRACT_TOKEN.to_owned(), start + CONTRACT_LIFETIME)),
                    Behaviour::TransientFailure => {
                        Err(Error::new(ErrorKind::Provider, "the broker is busy")
                            .with_transient(true))
                    }
                    _ => Err(Error::new(ErrorKind::Provider, "the broker refused")),
                }
            }
        });
        RefreshHandlerSource::builder(handler, Arc::new(MockTransport::new()))
            .with_clock(far.clock().clone())
            .build()
            .unwrap()
    })
    .check();
}
