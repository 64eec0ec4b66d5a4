//! SPF for smtpdoctor: a strict RFC 7208 record parser with positioned syntax errors, a full
//! check_host() with lookup and void-lookup accounting behind a small DNS trait, a trace of
//! the include/redirect tree, and lint data over that trace for the `domain` command.
//!
//! mail-auth's SPF is not used: it takes the first record that parses when there are two and
//! accepts malformed `ip4:` values, both of which RFC 7208 makes a permerror, and it keeps no
//! trace. This crate answers the official RFC 7208 suite instead (see `examples/suite.rs`).

pub mod dns;
pub mod eval;
pub mod hickory;
pub mod lint;
pub mod macros;
pub mod record;

pub use dns::{Lookup, Resolver, Zone};
pub use eval::{
    Evaluation, Options, Problem, ProblemKind, RecordTrace, SpfResult, TermTrace, Walk, check_helo,
    check_host, check_mail_from, walk,
};
pub use hickory::HickoryResolver;
pub use lint::{Lint, LookupCount, lints, lookup_counts};
pub use record::{Record, SyntaxError, parse};
