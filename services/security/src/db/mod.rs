//! SQL, one module per table. Functions take any executor (pool, connection or transaction).

pub mod audit;
pub mod budgets;
pub mod mail_outbox;
pub mod recovery_codes;
pub mod retention;
pub mod sessions;
pub mod throttle;
pub mod tickets;
pub mod users;
pub mod verification_codes;
