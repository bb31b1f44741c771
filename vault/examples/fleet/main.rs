//! placeholder
mod token_server;
fn main() {}
