//! The report: every value smtpdoctor's commands produce, shared by probes, rules and renderers.
//!
//! Probes fill in evidence ([`check`], [`transcript`]); rules turn evidence into [`Finding`]s and a
//! [`Verdict`]; renderers print the one [`Report`]. The shape follows the project's public contract
//! (docs/CONTRACT.md): changing a field name or a finding id is a breaking change.

pub mod bounce;
pub mod category;
pub mod check;
pub mod domain;
pub mod exit;
pub mod explain;
pub mod setup;
pub mod transcript;
pub mod verdict;

pub use category::{Category, Retry};
pub use exit::ExitCode;
pub use transcript::{Direction, Entry, Transcript};
pub use verdict::{Confidence, Finding, Severity, Status, Verdict};

use serde::Serialize;

/// The version of the JSON document's shape; bumped only on breaking changes.
pub const SCHEMA_VERSION: u32 = 1;

/// One command's whole answer, as printed by every renderer.
#[derive(Debug, Clone, Serialize)]
pub struct Report<B: Serialize> {
    /// Always [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// The command that produced it (`check`, `explain`, ...).
    pub command: String,
    /// smtpdoctor's version.
    pub tool_version: String,
    /// The version of the compiled-in knowledge (reply texts, rules).
    pub knowledge_version: String,
    /// What was examined.
    pub target: serde_json::Value,
    /// When the run started (RFC 3339, UTC).
    pub started_at: String,
    /// How long the run took.
    pub duration_ms: u64,
    /// The answer.
    pub verdict: Verdict,
    /// Everything the rules found, blocking or not.
    pub findings: Vec<Finding>,
    /// Command-specific fields (steps, transcript, ...).
    #[serde(flatten)]
    pub body: B,
}
