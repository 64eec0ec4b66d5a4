//! The `explain` command's own fields: the meaning of one pasted error.

use crate::{Category, Confidence, Retry};
use serde::{Deserialize, Serialize};

/// One knowledge entry that matched, and why.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MatchedEntry {
    /// The entry's stable id.
    pub id: String,
    /// Its title.
    pub title: String,
    /// Its category.
    pub category: Category,
    /// `basic`, `enhanced`, `mta`, `provider`, `client` or `network`.
    pub kind: String,
    /// Whose text it is.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub provider: Option<String>,
    /// Its score: higher is more specific.
    pub score: i32,
    /// The reasons: phrases, enhanced code, reply code.
    pub why: Vec<String>,
}

/// What `explain` says about one input.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExplainBody {
    /// The input, cut at 2,000 characters.
    pub input: String,
    /// The basic reply code read from it.
    pub reply_code: Option<u16>,
    /// The enhanced status code read from it.
    pub enhanced_code: Option<String>,
    /// The cause (null for a positive reply or unreadable input).
    pub category: Option<Category>,
    /// Whether retrying unchanged may help (null when there is nothing to retry).
    pub retry: Option<Retry>,
    /// How sure.
    pub confidence: Confidence,
    /// Other plausible causes.
    pub alternatives: Vec<Category>,
    /// A short title.
    pub title: String,
    /// What it means.
    pub meaning: String,
    /// Likely causes.
    pub causes: Vec<String>,
    /// What to do, in order.
    pub fixes: Vec<String>,
    /// RFC sections and provider pages.
    pub references: Vec<String>,
    /// Every knowledge entry that matched, best first (at most 5).
    pub matched: Vec<MatchedEntry>,
}

/// One line of `explain --lines`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExplainRecord {
    /// The input line number (1-based).
    pub line: usize,
    /// The answer.
    #[serde(flatten)]
    pub body: ExplainBody,
}
