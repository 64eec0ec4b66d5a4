//! The `bounce` command's own fields: one record per failed (or delayed, or delivered) recipient of
//! every message read, and one per message for feedback reports, auto-replies and non-bounces.

use crate::{Category, Retry};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

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

/// A record as `bounce` prints it in JSON and JSON lines: the record's own fields, plus
/// `"truncated": true` when its message was over the size cap and only its start was read.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct PrintedRecord<'a> {
    /// The record.
    #[serde(flatten)]
    pub record: &'a BounceRecord,
    /// The message was cut at the size cap (left out when false).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub truncated: bool,
}

/// How many records of each kind were read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KindCounts {
    /// Recipients whose delivery failed for good.
    pub bounce: usize,
    /// Recipients whose delivery is delayed.
    pub delay: usize,
    /// Recipients a DSN reports as delivered, relayed or expanded.
    pub success: usize,
    /// Feedback reports (per reported recipient).
    pub feedback: usize,
    /// Auto-replies.
    pub autoreply: usize,
    /// Messages that are not bounces.
    pub not_bounce: usize,
}

impl KindCounts {
    /// Counts one record of this kind.
    pub fn add(&mut self, kind: BounceKind) {
        *self.get_mut(kind) += 1;
    }

    /// The count of one kind.
    pub fn get(&self, kind: BounceKind) -> usize {
        match kind {
            BounceKind::Bounce => self.bounce,
            BounceKind::Delay => self.delay,
            BounceKind::Success => self.success,
            BounceKind::Feedback => self.feedback,
            BounceKind::Autoreply => self.autoreply,
            BounceKind::NotBounce => self.not_bounce,
        }
    }

    fn get_mut(&mut self, kind: BounceKind) -> &mut usize {
        match kind {
            BounceKind::Bounce => &mut self.bounce,
            BounceKind::Delay => &mut self.delay,
            BounceKind::Success => &mut self.success,
            BounceKind::Feedback => &mut self.feedback,
            BounceKind::Autoreply => &mut self.autoreply,
            BounceKind::NotBounce => &mut self.not_bounce,
        }
    }
}

/// Every kind, in the order tables and summaries list them.
pub const KINDS: [BounceKind; 6] = [
    BounceKind::Bounce,
    BounceKind::Delay,
    BounceKind::Success,
    BounceKind::Feedback,
    BounceKind::Autoreply,
    BounceKind::NotBounce,
];

/// Counts over every record read, whatever the output format shows of them.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct BounceSummary {
    /// How many records were read.
    pub records: usize,
    /// Records by kind (every kind present, zero included).
    pub by_kind: KindCounts,
    /// Failed and delayed records by Sisimai-compatible reason.
    pub by_reason: BTreeMap<String, usize>,
    /// Failed and delayed records by category.
    pub by_category: BTreeMap<Category, usize>,
}

impl BounceSummary {
    /// Counts one record.
    pub fn add(&mut self, record: &BounceRecord) {
        self.records += 1;
        self.by_kind.add(record.kind);
        if matches!(record.kind, BounceKind::Bounce | BounceKind::Delay) {
            match self.by_reason.get_mut(&record.reason) {
                Some(n) => *n += 1,
                None => {
                    self.by_reason.insert(record.reason.clone(), 1);
                }
            }
            if let Some(c) = record.category {
                *self.by_category.entry(c).or_default() += 1;
            }
        }
    }
}

/// A path (or a file under a directory) that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unreadable {
    /// The path, as given or as found under a directory (`-` for standard input).
    pub path: String,
    /// Why, in the operating system's words.
    pub error: String,
}

/// What `bounce` read.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct BounceBody {
    /// How many messages were read.
    pub messages: usize,
    /// Every record, in input order. (Human output holds only the first ones; JSON and JSON
    /// lines stream every record and never hold them all.)
    pub records: Vec<BounceRecord>,
    /// Counts over every record.
    pub summary: BounceSummary,
    /// Messages over the size cap, cut after their first bytes (names as in `file`).
    pub truncated: Vec<String>,
    /// Paths that could not be read.
    pub unreadable: Vec<Unreadable>,
    /// Messages whose reading hit a bug in smtpdoctor (names as in `file`); left out when none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub internal_errors: Vec<String>,
}
