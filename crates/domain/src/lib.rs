//! Domain types more than one service speaks about. No HTTP, no SQL.

mod role;

pub use role::Role;
