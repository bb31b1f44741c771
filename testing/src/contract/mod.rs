//! Contract suites: checks that an implementation of a core trait keeps the trait's contract.

pub mod token_source;
