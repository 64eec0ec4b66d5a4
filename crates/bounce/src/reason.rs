//! Sisimai-compatible reason names for a failed recipient: first the own conventions of the
//! provider that answered and of the program that wrote the notice (`[[engine]]` in
//! data/reasons.toml, see [`crate::engine`]), then the diagnostic text (phrases, tried in file
//! order), then the status code, then the refused command.

use crate::engine::{Engine, Rule};
use aho_corasick::AhoCorasick;
use smtpdoctor_report::bounce::BounceKind;
use std::sync::OnceLock;

/// One reason: its name, what it means, and how it is recognised.
#[derive(Debug)]
pub struct Reason {
    /// Sisimai's name for it.
    pub name: &'static str,
    /// One line on what it means.
    pub meaning: &'static str,
    /// Status codes that decide it whatever the text says, class-free (`X.1.1`).
    pub statuses: &'static [&'static str],
    /// Status codes that suggest it when no phrase matched.
    pub hint_statuses: &'static [&'static str],
    /// Lower-case phrases that imply it.
    pub phrases: &'static [&'static str],
    /// Phrases so specific that they win over every ordinary phrase.
    pub strong_phrases: &'static [&'static str],
    /// Phrases that count only when no other phrase matched (generic closing words).
    pub weak_phrases: &'static [&'static str],
    /// Diagnostic texts it must win.
    pub examples: &'static [&'static str],
}

include!(concat!(env!("OUT_DIR"), "/reasons.rs"));

/// What the reason is decided from.
#[derive(Debug, Clone, Copy)]
pub struct Input<'a> {
    /// The provider that answered and the program that wrote the notice, whose own conventions
    /// come first.
    pub engines: &'a [&'static Engine],
    /// The diagnostic text.
    pub diagnostic: Option<&'a str>,
    /// The status code.
    pub status: Option<&'a str>,
    /// The reply code.
    pub reply_code: Option<u16>,
    /// The refused command.
    pub command: Option<&'a str>,
    /// Failure, delay or success.
    pub kind: BounceKind,
    /// The record comes from a DSN's fields rather than from a notice's prose.
    pub from_dsn: bool,
    /// The diagnostic is the local delivery program's (`X-Unix;`), not an SMTP reply.
    pub from_mailer: bool,
}

struct Matcher {
    automaton: AhoCorasick,
    /// Reason index and strength (0 strong, 1 ordinary, 2 weak) per pattern.
    owner: Vec<(usize, u8)>,
}

fn matcher() -> &'static Matcher {
    static M: OnceLock<Matcher> = OnceLock::new();
    M.get_or_init(|| {
        let mut patterns = Vec::new();
        let mut owner = Vec::new();
        for (i, r) in REASONS.iter().enumerate() {
            for (strength, list) in [(0u8, r.strong_phrases), (1, r.phrases), (2, r.weak_phrases)] {
                for p in list {
                    patterns.push(*p);
                    owner.push((i, strength));
                }
            }
        }
        Matcher {
            automaton: AhoCorasick::new(&patterns).expect("reason phrases compile"),
            owner,
        }
    })
}

/// The reason whose phrase appears in the text. A phrase inside a longer matching phrase does not
/// count ("rate limit" inside "connection rate limit"); of the rest, strong phrases beat ordinary
/// ones, which beat weak ones, and then the reason listed first wins.
pub fn reason_in_text(text: &str) -> Option<&'static str> {
    reason_and_strength(text).map(|(name, _)| name)
}

/// The winning reason and whether it came from a strong phrase.
fn reason_and_strength(text: &str) -> Option<(&'static str, bool)> {
    let lower = text.to_lowercase();
    let m = matcher();
    let hits: Vec<(usize, usize, (usize, u8))> = m
        .automaton
        .find_overlapping_iter(&lower)
        .map(|hit| (hit.start(), hit.end(), m.owner[hit.pattern().as_usize()]))
        .collect();
    hits.iter()
        .filter(|(s, e, _)| {
            !hits
                .iter()
                .any(|(s2, e2, _)| s2 <= s && e <= e2 && (e2 - s2) > (e - s))
        })
        .map(|(_, _, (reason, strength))| (*strength, *reason))
        .min()
        .map(|(strength, i)| (REASONS[i].name, strength == 0))
}

fn status_key(status: &str) -> Option<String> {
    let (_, rest) = status.split_once('.')?;
    Some(format!("X.{rest}"))
}

/// The reason a status code decides, whatever the text says.
pub fn reason_of_status(status: &str) -> Option<&'static str> {
    let key = status_key(status)?;
    REASONS
        .iter()
        .find(|r| r.statuses.iter().any(|s| *s == key))
        .map(|r| r.name)
}

/// The reason a status code suggests when the text says nothing.
fn hint_of_status(status: &str) -> Option<&'static str> {
    let key = status_key(status)?;
    REASONS
        .iter()
        .find(|r| r.hint_statuses.iter().any(|s| *s == key))
        .map(|r| r.name)
}

/// Text reasons that outweigh a "no such user" status: the status is the server's generic
/// refusal code, the words say the real cause.
const OUTWEIGH_USERUNKNOWN: &[&str] = &[
    "norelaying",
    "blocked",
    "mailboxfull",
    "hasmoved",
    "rejected",
    "notaccept",
    "mailererror",
    "speeding",
    "filtered",
];

/// Text reasons that stand even when the sender's MAIL command was the one refused.
const STAND_AT_MAIL: &[&str] = &[
    "blocked",
    "requireptr",
    "authfailure",
    "speeding",
    "toomanyconn",
    "spamdetected",
    "policyviolation",
    "syntaxerror",
    "norelaying",
    "systemerror",
    "systemfull",
    "expired",
    "networkerror",
    "notcompliantrfc",
    "virusdetected",
];

/// Decides the reason.
pub fn reason_for(input: &Input<'_>) -> &'static str {
    if input.kind == BounceKind::Success {
        return "delivered";
    }
    for e in input.engines {
        if let Some(r) = e.reason(
            input.diagnostic.unwrap_or_default(),
            input.command,
            input.status,
        ) {
            return r;
        }
    }
    let found = input.diagnostic.and_then(reason_and_strength);
    if let Some((reason, true)) = found {
        // Wording this specific (a provider's documented code or phrase) is the best evidence.
        return reason;
    }
    let text = found.map(|(name, _)| name);
    let decided = input.status.and_then(reason_of_status);
    if let Some(status_reason) = decided {
        match text {
            Some(t) if status_reason == "userunknown" && OUTWEIGH_USERUNKNOWN.contains(&t) => {
                return t;
            }
            _ if status_reason == "userunknown" && input.command == Some("MAIL") => {
                return "rejected";
            }
            _ => return status_reason,
        }
    }
    if let Some(t) = text {
        let t = match (t, input.command) {
            (t, Some("MAIL")) if !STAND_AT_MAIL.contains(&t) => "rejected",
            (t, Some("HELO" | "EHLO" | "CONN"))
                if ![
                    "toomanyconn",
                    "badreputation",
                    "speeding",
                    "networkerror",
                    "expired",
                    "requireptr",
                ]
                .contains(&t) =>
            {
                "blocked"
            }
            // "No such user" after DATA is a filter at the recipient's side speaking (Sisimai's
            // convention): the address itself was accepted at RCPT.
            // A notice in prose with no SMTP reply at all: the reporting system itself knows
            // the mailbox does not exist.
            // EXPERIMENT ("userunknown", None) if !input.from_dsn && input.reply_code.is_none() => "userunknown",
            ("userunknown", None | Some("DATA")) => "filtered",
            (t, _) => t,
        };
        return t;
    }
    // A delay with no telling words: the sender's server is still trying, and will give up.
    if input.kind == BounceKind::Delay && text.is_none() {
        return "expired";
    }
    // No telling words from the local delivery program: the program failed.
    if input.from_mailer {
        return "mailererror";
    }
    if let Some(r) = input.status.and_then(hint_of_status) {
        return r;
    }
    match input.command {
        Some("MAIL") => return "rejected",
        Some("HELO" | "EHLO" | "CONN") => return "blocked",
        Some("RCPT") if input.reply_code.is_some_and(|c| c >= 500) => return "userunknown",
        _ => {}
    }
    if input.kind == BounceKind::Delay {
        return "expired";
    }
    if input.diagnostic.is_some() || input.status.is_some() {
        "onhold"
    } else {
        "undefined"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_example_wins_its_own_reason() {
        let mut wrong = Vec::new();
        for r in REASONS {
            for e in r.examples {
                let got = reason_in_text(e);
                if got != Some(r.name) {
                    wrong.push(format!("{e:?}: expected {}, got {got:?}", r.name));
                }
            }
        }
        assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    }

    #[test]
    fn status_codes_without_text() {
        assert_eq!(reason_of_status("5.1.1"), Some("userunknown"));
        assert_eq!(reason_of_status("4.2.2"), Some("mailboxfull"));
        assert_eq!(reason_of_status("5.3.4"), Some("mesgtoobig"));
        assert_eq!(reason_of_status("5.4.6"), Some("networkerror"));
        assert_eq!(hint_of_status("5.7.9"), Some("securityerror"));
    }
}
