//! Unit tests of the planning rules.
