//! The lowest level of Quiet Engine: what every other level may use and
//! which uses nothing of ours (the compiler holds this: the crate depends on
//! no other crate of the workspace).
//!
//! - [`clock`]: the wall clock, in the forms the API uses.
//! - [`id`]: the one random source and the one way to make an id type.
//! - [`encoding`]: lowercase hex and SHA-256.

pub mod clock;
pub mod encoding;
pub mod id;
