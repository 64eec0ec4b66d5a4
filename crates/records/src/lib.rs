//! Strict parsers and checks for the mail-authentication records a domain publishes: DMARC
//! (RFC 7489 and RFC 9989), DKIM keys (RFC 6376, RFC 8463), MTA-STS (RFC 8461, TXT record and
//! policy file) and TLS-RPT (RFC 8460); and the autoconfig file mail clients read a domain's
//! settings from ([`autoconfig`]).
//!
//! Everything here is pure: no DNS, no HTTP. A caller looks records up and hands the answers in
//! as a [`TxtAnswer`] (or, for the MTA-STS policy, a [`mtasts::PolicyResponse`]); each `check_*`
//! function returns a [`Check`]: a [`Status`] plus [`Finding`]s with stable ids (listed in the
//! crate's README). Where a check needs more look-ups (the DMARC tree walk, report
//! authorisation), the names to query are returned or the walk takes a lookup closure.

pub mod autoconfig;
pub mod dkim;
pub mod dmarc;
pub mod mtasts;
pub mod psl;
pub mod tlsrpt;
pub mod walk;

mod lex;

use serde::Serialize;
use std::fmt;

/// What a DNS TXT query returned, as the caller saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TxtAnswer {
    /// The TXT records at the name, each with its strings already joined.
    Records(Vec<String>),
    /// NXDOMAIN or NODATA: the name has no TXT record.
    NoRecord,
    /// The look-up failed (SERVFAIL, timeout, ...): nothing can be said about the record.
    Error(String),
}

/// The outcome of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Published, valid, nothing to improve.
    Pass,
    /// Valid, but something should be improved.
    Warn,
    /// Published but invalid, or valid but with an effect the domain surely did not want.
    Fail,
    /// The check could not be evaluated (a look-up failed).
    Error,
    /// No record is published.
    None,
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Status::Pass => "pass",
            Status::Warn => "warn",
            Status::Fail => "fail",
            Status::Error => "error",
            Status::None => "none",
        })
    }
}

/// How much a finding matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Worth knowing; does not change the status.
    Info,
    /// Makes the status at least `warn`.
    Warn,
    /// Makes the status `fail`.
    Fail,
}

/// One conclusion about a record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// Stable dotted id, e.g. `dmarc.policy_none`; listed in the crate's README.
    pub id: &'static str,
    /// How much it matters.
    pub severity: Severity,
    /// One line for people, naming the evidence.
    pub summary: String,
    /// What to change, when something should change.
    pub fix: Option<String>,
}

impl Finding {
    pub(crate) fn new(id: &'static str, severity: Severity, summary: impl Into<String>) -> Self {
        Finding {
            id,
            severity,
            summary: summary.into(),
            fix: None,
        }
    }

    pub(crate) fn fix(mut self, fix: impl Into<String>) -> Self {
        self.fix = Some(fix.into());
        self
    }
}

/// The result of checking one record: its status, the parsed record when there was a valid
/// one, and the findings.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Check<T> {
    /// pass, warn, fail, error or none.
    pub status: Status,
    /// The record that was evaluated, when one parsed.
    pub record: Option<T>,
    /// Everything found, most severe first.
    pub findings: Vec<Finding>,
}

impl<T> Check<T> {
    /// A check whose status follows from its findings: `fail` if any finding is
    /// [`Severity::Fail`], `warn` if any is [`Severity::Warn`], `pass` otherwise.
    pub(crate) fn from_findings(record: Option<T>, mut findings: Vec<Finding>) -> Self {
        findings.sort_by_key(|f| std::cmp::Reverse(f.severity));
        let status = match findings.iter().map(|f| f.severity).max() {
            Some(Severity::Fail) => Status::Fail,
            Some(Severity::Warn) => Status::Warn,
            _ => Status::Pass,
        };
        Check {
            status,
            record,
            findings,
        }
    }

    /// A check with a fixed status (none, error) and one finding.
    pub(crate) fn with_status(status: Status, finding: Finding) -> Self {
        Check {
            status,
            record: None,
            findings: vec![finding],
        }
    }

    /// A check that could not be evaluated: the TXT look-up at `name` failed. Every record type
    /// says it the same way; `fix` says what to look at for that type.
    pub(crate) fn lookup_failed(
        id: &'static str,
        name: &str,
        error: &str,
        fix: Option<&str>,
    ) -> Self {
        let finding = Finding::new(
            id,
            Severity::Warn,
            format!("the look-up of {name} failed: {error}"),
        );
        Check::with_status(
            Status::Error,
            match fix {
                Some(fix) => finding.fix(fix),
                None => finding,
            },
        )
    }

    /// Whether any finding has this id.
    pub fn has(&self, id: &str) -> bool {
        self.findings.iter().any(|f| f.id == id)
    }
}

/// A syntax error in a record, naming the tag and the byte offset where it was found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ParseError {
    /// The tag (or policy key) being parsed, when the error is inside one.
    pub tag: Option<String>,
    /// Byte offset into the record text.
    pub position: usize,
    /// What is wrong.
    pub message: String,
}

impl ParseError {
    pub(crate) fn new(tag: Option<&str>, position: usize, message: impl Into<String>) -> Self {
        ParseError {
            tag: tag.map(str::to_string),
            position,
            message: message.into(),
        }
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.tag {
            Some(tag) => write!(f, "{} (tag {tag}, at byte {})", self.message, self.position),
            None => write!(f, "{} (at byte {})", self.message, self.position),
        }
    }
}

impl std::error::Error for ParseError {}

/// Whether `uri` is an RFC 3986 absolute URI: a scheme, a colon, and only characters a URI
/// may hold, with well-formed percent escapes.
pub(crate) fn uri_syntax_ok(uri: &str) -> bool {
    let Some((scheme, rest)) = uri.split_once(':') else {
        return false;
    };
    let mut sc = scheme.bytes();
    if !sc.next().is_some_and(|b| b.is_ascii_alphabetic())
        || !sc.all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'-' || b == b'.')
    {
        return false;
    }
    let b = rest.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                if !(b.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
                    && b.get(i + 2).is_some_and(u8::is_ascii_hexdigit))
                {
                    return false;
                }
                i += 3;
                continue;
            }
            c if c.is_ascii_alphanumeric() => {}
            b'-' | b'.' | b'_' | b'~' | b':' | b'/' | b'?' | b'#' | b'[' | b']' | b'@' | b'!'
            | b'$' | b'&' | b'\'' | b'(' | b')' | b'*' | b'+' | b',' | b';' | b'=' => {}
            _ => return false,
        }
        i += 1;
    }
    true
}

/// Lower-cases, drops a trailing dot, and checks the name is an LDH host name in A-labels.
pub(crate) fn normalize_host(name: &str) -> Option<String> {
    let name = name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase();
    if name.is_empty() || name.len() > 253 {
        return None;
    }
    for label in name.split('.') {
        let ok = !label.is_empty()
            && label.len() <= 63
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            && !label.starts_with('-')
            && !label.ends_with('-');
        if !ok {
            return None;
        }
    }
    Some(name)
}
