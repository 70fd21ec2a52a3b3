//! Test support for black-box tests of the services.

mod code;
pub mod openapi;
mod sign_in;
mod smtp_sink;
mod tcp_proxy;

pub use code::extract_code;
pub use sign_in::{sign_up_and_in, SignedIn};
pub use smtp_sink::{ReceivedMail, SmtpSink};
pub use tcp_proxy::TcpProxy;
