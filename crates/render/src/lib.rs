//! Renderers: turn one report into text for people or JSON for scripts. They never decide.

pub mod bounce;
pub mod domain;
pub mod human;
pub mod report;
pub mod setup;

use serde::Serialize;
use smtpdoctor_report::Report;

/// Colours and symbols, decided once by the caller (tty, `NO_COLOR`, `TERM=dumb`).
#[derive(Debug, Clone, Copy)]
pub struct Palette {
    /// Whether to colour.
    pub color: bool,
}

impl Palette {
    /// No colour.
    pub const PLAIN: Palette = Palette { color: false };

    fn paint(&self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }

    /// Green.
    pub fn good(&self, t: &str) -> String {
        self.paint("32", t)
    }
    /// Red.
    pub fn bad(&self, t: &str) -> String {
        self.paint("31", t)
    }
    /// Yellow.
    pub fn warn(&self, t: &str) -> String {
        self.paint("33", t)
    }
    /// Dim.
    pub fn dim(&self, t: &str) -> String {
        self.paint("2", t)
    }
    /// Bold.
    pub fn bold(&self, t: &str) -> String {
        self.paint("1", t)
    }
    /// The mark before a finding: ✗ problem, ! warning, · information.
    pub fn severity_mark(&self, severity: smtpdoctor_report::Severity) -> String {
        match severity {
            smtpdoctor_report::Severity::Problem => self.bad("✗"),
            smtpdoctor_report::Severity::Warning => self.warn("!"),
            smtpdoctor_report::Severity::Info => self.dim("·"),
        }
    }
}

/// The report as one pretty-printed JSON document.
pub fn json<B: Serialize>(report: &Report<B>) -> String {
    serde_json::to_string_pretty(report)
        .unwrap_or_else(|e| format!("{{\"error\":\"cannot serialise the report: {e}\"}}"))
}
