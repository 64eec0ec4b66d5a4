//! The program or provider behind a bounce, and its own conventions for naming a reason.
//!
//! The same words mean different things depending on who wrote them: "User unknown" in a notice
//! from Lotus Notes is the mailbox lookup itself, in an anonymous notice it is usually a filter at
//! the recipient's side; "AUP#CDRBL" is a documented Cox code. Sisimai keeps these conventions in
//! one module per sending program (`Lhost`) or receiving provider (`Rhost`); we keep them as data
//! (`[[engine]]` in data/reasons.toml), each rule with an example a test checks. An engine is
//! recognised by the bounce's own headers (the program that wrote it) or by the recipient's domain
//! or the refusing server's name (the provider that answered).

pub use crate::reason::ENGINES;

/// A program or provider with its own reason conventions.
#[derive(Debug)]
pub struct Engine {
    /// Short name.
    pub name: &'static str,
    /// What it is, and where its conventions are documented.
    pub meaning: &'static str,
    /// Lower-case prefixes of the bounce's Subject that identify it.
    pub subjects: &'static [&'static str],
    /// Lower-case substrings of the bounce's From header that identify it.
    pub from: &'static [&'static str],
    /// Lower-case prefixes of the bounce's X-Mailer header that identify it.
    pub x_mailers: &'static [&'static str],
    /// Lower-case substrings of a Received header of the bounce that identify it.
    pub received: &'static [&'static str],
    /// Domains (of the recipient or of the refusing server) that identify a provider.
    pub hosts: &'static [&'static str],
    /// Header lines that must identify it (checked by a test).
    pub example_headers: &'static str,
    /// A host that must identify it (checked by a test).
    pub example_host: &'static str,
    /// Its rules, the first that applies wins.
    pub rules: &'static [Rule],
}

/// One convention: when all its conditions hold, the reason is decided.
#[derive(Debug)]
pub struct Rule {
    /// A lower-case phrase of the diagnostic ("" = any).
    pub phrase: &'static str,
    /// The refused SMTP command ("" = any).
    pub command: &'static str,
    /// The exact status ("" = any).
    pub status: &'static str,
    /// A range of numeric `AUP#` codes (Cloudmark-style policy codes), (0, 0) = none.
    pub aup: (u16, u16),
    /// The rule gives way to a specific status (one with no `.0` part, such as 5.2.2).
    pub yields_to_status: bool,
    /// The reason it decides.
    pub reason: &'static str,
    /// A diagnostic it must decide (checked by a test, with the rule's command and status).
    pub example: &'static str,
}

/// What the bounce's own headers say, lower case.
#[derive(Debug, Default)]
pub struct HeaderSigns {
    /// Subject.
    pub subject: String,
    /// The raw From header, display name included.
    pub from: String,
    /// X-Mailer.
    pub x_mailer: String,
    /// Every Received header.
    pub received: Vec<String>,
}

/// The program that wrote the bounce, as far as its headers tell.
pub fn by_headers(signs: &HeaderSigns) -> Option<&'static Engine> {
    ENGINES.iter().find(|e| {
        e.subjects.iter().any(|s| signs.subject.starts_with(s))
            || e.from.iter().any(|f| signs.from.contains(f))
            || e.x_mailers.iter().any(|x| signs.x_mailer.starts_with(x))
            || e.received
                .iter()
                .any(|r| signs.received.iter().any(|h| h.contains(r)))
    })
}

/// Whether `host` is `domain` or one of its subdomains.
fn within(host: &str, domain: &str) -> bool {
    let (host, domain) = (host.trim_end_matches('.').as_bytes(), domain.as_bytes());
    host.len() >= domain.len()
        && host[host.len() - domain.len()..].eq_ignore_ascii_case(domain)
        && (host.len() == domain.len() || host[host.len() - domain.len() - 1] == b'.')
}

/// The provider that answered, from the recipient's domain or the refusing server's name.
pub fn by_host(recipient: Option<&str>, remote_mta: Option<&str>) -> Option<&'static Engine> {
    let domain = recipient.and_then(|r| r.rsplit_once('@')).map(|(_, d)| d);
    let remote = remote_mta.map(|m| m.split_whitespace().next().unwrap_or(m));
    ENGINES.iter().find(|e| {
        e.hosts
            .iter()
            .any(|h| domain.is_some_and(|d| within(d, h)) || remote.is_some_and(|m| within(m, h)))
    })
}

/// The number after `AUP#` and any letters or dashes (`AUP#In-1310` is 1310).
fn aup_code(lower: &str) -> Option<u16> {
    let at = lower.find("aup#")?;
    let rest = lower[at + 4..].trim_start_matches(|c: char| c.is_ascii_alphabetic() || c == '-');
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    (digits.len() == 4).then(|| digits.parse().ok()).flatten()
}

impl Engine {
    /// The reason this engine's conventions give, if one applies.
    pub fn reason(
        &self,
        diagnostic: &str,
        command: Option<&str>,
        status: Option<&str>,
    ) -> Option<&'static str> {
        let lower = diagnostic.to_lowercase();
        let code = aup_code(&lower);
        self.rules
            .iter()
            .find(|r| {
                (r.phrase.is_empty() || lower.contains(r.phrase))
                    && (r.command.is_empty() || command == Some(r.command))
                    && (r.status.is_empty() || status == Some(r.status))
                    && (r.aup == (0, 0) || code.is_some_and(|c| r.aup.0 <= c && c <= r.aup.1))
                    && (!r.yields_to_status || status.is_none_or(|s| s.contains(".0")))
            })
            .map(|r| r.reason)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rule_decides_its_own_example() {
        let mut wrong = Vec::new();
        for e in ENGINES {
            for r in e.rules {
                let command = Some(r.command).filter(|c| !c.is_empty());
                let status = Some(r.status).filter(|s| !s.is_empty());
                let got = e.reason(r.example, command, status);
                if got != Some(r.reason) {
                    wrong.push(format!(
                        "{}: {:?}: expected {}, got {got:?}",
                        e.name, r.example, r.reason
                    ));
                }
            }
        }
        assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    }

    #[test]
    fn every_engine_is_recognised_by_its_example() {
        for e in ENGINES {
            let got = if e.example_host.is_empty() {
                let message = format!("{}\n\nbody\n", e.example_headers);
                by_headers(&crate::header_signs(message.as_bytes()))
            } else {
                by_host(None, Some(e.example_host))
            };
            assert_eq!(got.map(|g| g.name), Some(e.name), "{}", e.name);
        }
    }

    #[test]
    fn hosts_match_whole_labels() {
        assert!(within("mfsmax.docomo.ne.jp", "docomo.ne.jp"));
        assert!(within("cox.net", "cox.net"));
        assert!(!within("notcox.net", "cox.net"));
        assert_eq!(
            aup_code("... for more information. aup#in-1310"),
            Some(1310)
        );
        assert_eq!(aup_code("aup#cdrbl"), None);
    }
}
