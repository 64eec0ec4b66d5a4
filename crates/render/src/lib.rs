//! Renderers: turn one report into text for people or JSON for scripts. They never decide.

pub mod bounce;
pub mod domain;
pub mod human;
pub mod report;
pub mod setup;

use serde::Serialize;
use smtpdoctor_report::Report;

/// The colour codes [`Palette`] writes; [`terminal_safe`] keeps these and nothing else.
const OWN_CODES: [&str; 6] = ["0", "1", "2", "31", "32", "33"];

/// Makes rendered text safe for a terminal: text from the network (server replies, autoconfig
/// files, HTTP headers, DNS records) could carry escape sequences that move the cursor, rewrite
/// the recommended settings on screen or set the window title. Every control character except
/// newline and tab, and the bidirectional overrides that reorder text, becomes U+FFFD; with
/// colour on, the palette's own colour codes are kept (they can only colour). Every human
/// renderer passes its whole output through this, and so do the Markdown and HTML reports.
pub fn terminal_safe(text: &str, p: Palette) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        if c == '\x1b' && p.color {
            let own = rest[1..].strip_prefix('[').and_then(|after| {
                let end = after.find('m')?;
                OWN_CODES.contains(&&after[..end]).then(|| &rest[..end + 3])
            });
            if let Some(code) = own {
                out.push_str(code);
                rest = &rest[code.len()..];
                continue;
            }
        }
        let unsafe_char = (c.is_control() && c != '\n' && c != '\t')
            || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}');
        out.push(if unsafe_char { '\u{FFFD}' } else { c });
        rest = &rest[c.len_utf8()..];
    }
    out
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_safe_keeps_own_colours_and_drops_everything_else() {
        let p = Palette { color: true };
        let own = format!("{} ok", p.bad("✗"));
        assert_eq!(terminal_safe(&own, p), own);
        let evil = "x\x1b]0;TITLE\x07\x1b[2J\x1b[8mhidden\r\u{202E}y\u{9b}1A\nz\tw";
        let safe = terminal_safe(evil, p);
        assert!(
            !safe.contains(['\x1b', '\x07', '\r', '\u{202E}', '\u{9b}']),
            "{safe:?}"
        );
        assert!(safe.ends_with("\nz\tw"));
        assert!(!terminal_safe(&own, Palette::PLAIN).contains('\x1b'));
    }
}
