//! Verdicts and findings: what the rules conclude from the evidence.

use crate::{Category, Retry};
use serde::{Deserialize, Serialize};

/// The overall outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Nothing blocks sending with these settings.
    Ok,
    /// Something blocks it.
    Problem,
    /// The run could not decide; the summary says what to add.
    Inconclusive,
}

/// How sure a diagnosis is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum Confidence {
    /// Several causes fit the evidence.
    Low,
    /// Likely, with a plausible alternative.
    Medium,
    /// The evidence names the cause.
    High,
}

/// The answer of a run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Verdict {
    /// ok, problem or inconclusive.
    pub status: Status,
    /// The primary cause; null when ok.
    pub category: Option<Category>,
    /// Null when ok.
    pub retry: Option<Retry>,
    /// How sure the diagnosis is.
    pub confidence: Confidence,
    /// Other plausible categories when not sure.
    pub alternatives: Vec<Category>,
    /// One line for people.
    pub summary: String,
    /// What to change, as ordered steps.
    pub fix: Vec<String>,
    /// References to the evidence (`step:tls`, `transcript:12`, `finding:tls.cert.expired`).
    pub evidence: Vec<String>,
}

/// How much a finding matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Worth knowing.
    Info,
    /// Does not block sending now, but should be fixed.
    Warning,
    /// Blocks sending.
    Problem,
}

/// One conclusion drawn from the evidence.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Finding {
    /// Stable dotted id, documented in docs/findings.md.
    pub id: String,
    /// The cause's category, when it has one.
    pub category: Option<Category>,
    /// How much it matters.
    pub severity: Severity,
    /// One line for people.
    pub summary: String,
    /// The reasoning, naming the evidence.
    pub detail: String,
    /// What to change.
    pub fix: Vec<String>,
    /// References to the evidence.
    pub evidence: Vec<String>,
    /// Whether retrying unchanged may help (problems only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry: Option<Retry>,
    /// How sure this finding is.
    pub confidence: Confidence,
    /// Other plausible categories.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub alternatives: Vec<Category>,
}

impl Finding {
    /// A finding with the given id, severity and summary; the rest filled in by the builders.
    pub fn new(
        id: &str,
        severity: Severity,
        category: Option<Category>,
        summary: impl Into<String>,
    ) -> Self {
        Finding {
            id: id.to_string(),
            category,
            severity,
            summary: summary.into(),
            detail: String::new(),
            fix: Vec::new(),
            evidence: Vec::new(),
            retry: None,
            confidence: Confidence::High,
            alternatives: Vec::new(),
        }
    }

    /// Sets the detail.
    pub fn detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = detail.into();
        self
    }

    /// Adds a fix step.
    pub fn fix(mut self, step: impl Into<String>) -> Self {
        self.fix.push(step.into());
        self
    }

    /// Adds an evidence reference.
    pub fn evidence(mut self, reference: impl Into<String>) -> Self {
        self.evidence.push(reference.into());
        self
    }

    /// Sets retry.
    pub fn retry(mut self, retry: Retry) -> Self {
        self.retry = Some(retry);
        self
    }

    /// Sets confidence and alternatives.
    pub fn confidence(mut self, confidence: Confidence, alternatives: &[Category]) -> Self {
        self.confidence = confidence;
        self.alternatives = alternatives.to_vec();
        self
    }
}
