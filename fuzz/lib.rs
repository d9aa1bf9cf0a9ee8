//! The fuzz targets' shared code: twostep's modules re-exported at the root and
//! `src/properties/` included as [`properties`], so that its `crate::config`,
//! `crate::user`, … name the same items here as in the library's own tests.
//! Each target in `fuzz_targets/` hands libFuzzer's bytes to one property.

pub use pam_twostep::{cli, config, email_code, secret, store, totp, user};

#[path = "../src/properties/mod.rs"]
pub mod properties;
