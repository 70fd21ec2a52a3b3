//! The cryptography the service does itself: password hashing, JWTs, and hashing of codes
//! and opaque tokens. (TOTP secrets are encrypted with `sm_crypto::Keyring`.)

pub mod jwt;
pub mod keyed_hash;
pub mod opaque;
pub mod password;
