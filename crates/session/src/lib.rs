//! Probes: the network side of smtpdoctor. They gather evidence — every byte, every timing, every
//! certificate — and never judge or print.

pub mod auth;
pub mod autoconfig;
pub mod conn;
pub mod dane;
pub mod discover;
pub mod dnssec;
pub mod domain;
pub mod http;
pub mod ladder;
pub mod message;
pub mod mtasts;
pub mod mx;
pub mod ports;
pub mod record;
pub mod redact;
pub mod socks;
pub mod target;
pub mod tls;
pub mod wire;

pub use auth::Credential;
pub use ladder::{CheckOptions, CheckRun, run_check, run_check_redacting};
pub use redact::Secret;
pub use tls::Trust;
