//! The `bounce` command's own fields: one record per failed (or delayed, or delivered) recipient of
//! every message read, and one per message for feedback reports, auto-replies and non-bounces.

use crate::{Category, Retry};
use serde::{Deserialize, Serialize};

/// What a message (or one of its recipients) turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BounceKind {
    /// Delivery failed for good.
    Bounce,
    /// Delivery is delayed; the sender's server is still trying.
    Delay,
    /// A DSN that reports success: delivered, relayed or expanded.
    Success,
    /// A feedback report (ARF, RFC 5965): a complaint, not a bounce.
    Feedback,
    /// An automatic reply (RFC 3834), such as an out-of-office: not a bounce.
    Autoreply,
    /// Not a bounce at all.
    NotBounce,
}

impl BounceKind {
    /// The name used in JSON and in tables.
    pub fn as_str(self) -> &'static str {
        match self {
            BounceKind::Bounce => "bounce",
            BounceKind::Delay => "delay",
            BounceKind::Success => "success",
            BounceKind::Feedback => "feedback",
            BounceKind::Autoreply => "autoreply",
            BounceKind::NotBounce => "not_bounce",
        }
    }
}

/// The message that bounced, as far as the bounce quotes it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OriginalMessage {
    /// Its Message-ID, without angle brackets.
    pub message_id: Option<String>,
    /// Its From address.
    pub from: Option<String>,
    /// Its To addresses.
    pub to: Option<String>,
    /// Its Subject.
    pub subject: Option<String>,
}

/// One recipient of one bounce (or one whole feedback report, auto-reply or non-bounce).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BounceRecord {
    /// The file the message came from (with `:N` for the N-th message of an mbox).
    pub file: String,
    /// What it is.
    pub kind: BounceKind,
    /// The recipient concerned, when known.
    pub recipient: Option<String>,
    /// The DSN action (`failed`, `delayed`, `delivered`, `relayed`, `expanded`), when given.
    pub action: Option<String>,
    /// The enhanced status code (RFC 3463), when the bounce has one.
    pub status: Option<String>,
    /// The SMTP reply code, when the bounce has one.
    pub reply_code: Option<u16>,
    /// Sisimai-compatible reason name (`userunknown`, `mailboxfull`, ...).
    pub reason: String,
    /// Our root-cause category (null for success and non-bounces).
    pub category: Option<Category>,
    /// Whether retrying unchanged may help (null when nothing failed).
    pub retry: Option<Retry>,
    /// What to do, from the explain engine.
    pub fix: Option<String>,
    /// The error text the remote server or the reporting MTA gave.
    pub diagnostic: Option<String>,
    /// The SMTP command that was refused (`MAIL`, `RCPT`, `DATA`, ...), when known.
    pub command: Option<String>,
    /// The server that refused the message, when known.
    pub remote_mta: Option<String>,
    /// The server that wrote the bounce.
    pub reporting_mta: Option<String>,
    /// When the reporting MTA received the message (as written in the bounce).
    pub arrival_date: Option<String>,
    /// When it last tried (as written in the bounce).
    pub last_attempt_date: Option<String>,
    /// For feedback reports: the feedback type (`abuse`, `fraud`, ...).
    pub feedback_type: Option<String>,
    /// Which reader understood the message (`rfc3464`, `exim`, `qmail`, `arf`, ...).
    pub detector: String,
    /// The message that bounced.
    pub original: OriginalMessage,
}

/// What `bounce` read.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct BounceBody {
    /// How many messages were read.
    pub messages: usize,
    /// Every record, in input order.
    pub records: Vec<BounceRecord>,
}
