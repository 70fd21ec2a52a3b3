//! Test support for black-box tests of the services.

mod code;
mod smtp_sink;

pub use code::extract_code;
pub use smtp_sink::{ReceivedMail, SmtpSink};
