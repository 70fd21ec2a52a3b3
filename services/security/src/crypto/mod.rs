//! The cryptography the service does itself: password hashing, JWTs, encryption of stored
//! TOTP secrets, and hashing of codes and opaque tokens.

pub mod jwt;
pub mod keyed_hash;
pub mod opaque;
pub mod password;
pub mod secret_box;
