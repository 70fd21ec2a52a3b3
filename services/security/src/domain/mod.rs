//! Rules and validated values of the security domain; no HTTP, no SQL.

pub mod code;
pub mod email;
pub mod password;
pub mod recovery;
pub mod totp;
