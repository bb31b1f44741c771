//! The `TokenSource` contract suite on core's combinators around a scripted source.

use std::sync::Arc;

use credkit_core::{ChainSource, EnvSource, RetryPolicy, Retrying};
use credkit_testing::ScriptedSource;
use credkit_testing::contract::token_source::{Contract, Far};

fn scripted(far: &Far) -> ScriptedSource {
    ScriptedSource::new(far.clock())
        .with_delay(far.delay())
        .then(far.step())
}

#[test]
fn a_chain_keeps_the_contract() {
    Contract::new(|far| {
        ChainSource::new()
            .with(EnvSource::new("CREDKIT_CONTRACT_TOKEN").with_lookup(|_| None))
            .with(scripted(far))
    })
    .check();
}

#[test]
fn a_retrying_source_keeps_the_contract() {
    Contract::new(|far| {
        // Every attempt gets the same answer: a transient failure stays one once retries end.
        let source = scripted(far);
        source.push_all((0..4).map(|_| far.step()));
        Retrying::new(
            source,
            RetryPolicy::default(),
            Arc::new(far.clock().clone()),
        )
    })
    .check();
}
