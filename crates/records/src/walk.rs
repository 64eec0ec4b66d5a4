//! The RFC 9989 DNS tree walk, as pure functions over a lookup closure: which `_dmarc` names to
//! query for policy discovery and for the organisational domain. At most eight names are
//! queried: the starting domain, then (from at most seven labels) one label shorter each time.

use crate::TxtAnswer;
use crate::dmarc::{self, DmarcRecord, Psd};
use serde::Serialize;

/// The most names a walk queries (RFC 9989).
pub const MAX_QUERIES: usize = 8;

/// The domains whose `_dmarc` records a walk from `domain` may query, in order: `domain`, then
/// its ancestors, jumping straight to the rightmost seven labels when it has more than seven.
pub fn walk_domains(domain: &str) -> Vec<String> {
    let d = domain.trim_matches('.').to_ascii_lowercase();
    if d.is_empty() {
        return Vec::new();
    }
    let labels: Vec<&str> = d.split('.').collect();
    let mut out = vec![d.clone()];
    // One label shorter each time; more than seven labels jump straight to the rightmost seven.
    for n in (1..labels.len().min(8)).rev() {
        out.push(labels[labels.len() - n..].join("."));
    }
    out
}

/// A single DMARC record found at a name during a walk.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Found {
    /// The domain whose `_dmarc` name held it.
    pub domain: String,
    /// The record text.
    pub text: String,
    /// The parsed record.
    pub record: DmarcRecord,
}

/// What a walk ended with.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "outcome")]
pub enum Outcome {
    /// A record applies.
    Found(Found),
    /// No name on the walk had exactly one valid DMARC record.
    NotFound,
    /// A look-up failed, so the answer is unknown (receivers treat it as a temporary error).
    Error {
        /// The name whose look-up failed.
        name: String,
        /// The error.
        error: String,
    },
}

/// The result of policy discovery.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Discovery {
    /// The `_dmarc.` names queried, in order.
    pub queried: Vec<String>,
    /// What was found.
    pub outcome: Outcome,
}

/// One name's answer reduced to the walk's view: the single valid DMARC record, if any.
fn valid_record(answer: &TxtAnswer) -> Result<Option<(String, DmarcRecord)>, String> {
    match answer {
        TxtAnswer::Error(e) => Err(e.clone()),
        TxtAnswer::NoRecord => Ok(None),
        TxtAnswer::Records(rs) => {
            let cands: Vec<&String> = rs.iter().filter(|r| dmarc::is_dmarc_candidate(r)).collect();
            if cands.len() != 1 {
                // None, or several (which count as none).
                return Ok(None);
            }
            Ok(dmarc::parse_dmarc(cands[0])
                .ok()
                .map(|r| (cands[0].clone(), r)))
        }
    }
}

/// Policy discovery for an author domain: the first name on the walk with exactly one valid
/// DMARC record. `lookup` gets full query names such as `_dmarc.example.com`.
pub fn discover_policy(domain: &str, mut lookup: impl FnMut(&str) -> TxtAnswer) -> Discovery {
    let mut queried = Vec::new();
    for d in walk_domains(domain) {
        let name = format!("_dmarc.{d}");
        let answer = lookup(&name);
        queried.push(name.clone());
        match valid_record(&answer) {
            Err(error) => {
                return Discovery {
                    queried,
                    outcome: Outcome::Error { name, error },
                };
            }
            Ok(Some((text, record))) => {
                return Discovery {
                    queried,
                    outcome: Outcome::Found(Found {
                        domain: d,
                        text,
                        record,
                    }),
                };
            }
            Ok(None) => {}
        }
    }
    Discovery {
        queried,
        outcome: Outcome::NotFound,
    }
}

/// The organisational domain found by a walk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OrgDomain {
    /// The organisational domain.
    pub domain: String,
    /// Why: `psd=n`, `below psd=y`, `fewest labels`, or `no record` (the domain itself).
    pub reason: &'static str,
    /// The `_dmarc.` names queried, in order.
    pub queried: Vec<String>,
    /// A look-up that failed on the way, which makes the answer uncertain.
    pub error: Option<(String, String)>,
}

/// The organisational domain of `domain` by the RFC 9989 tree walk: the first record with
/// `psd=n` names it; a record with `psd=y` (other than at `domain` itself) makes the name one
/// label below it the organisational domain; otherwise the valid record with the fewest labels
/// wins, and with no record at all the domain is its own organisational domain.
pub fn organizational_domain(domain: &str, mut lookup: impl FnMut(&str) -> TxtAnswer) -> OrgDomain {
    let start = domain.trim_matches('.').to_ascii_lowercase();
    let domains = walk_domains(&start);
    let mut queried = Vec::new();
    let mut fewest: Option<String> = None;
    let mut error = None;
    for (i, d) in domains.iter().enumerate() {
        let name = format!("_dmarc.{d}");
        let answer = lookup(&name);
        queried.push(name.clone());
        let record = match valid_record(&answer) {
            Err(e) => {
                error.get_or_insert((name, e));
                continue;
            }
            Ok(None) => continue,
            Ok(Some((_, r))) => r,
        };
        match record.psd {
            Some(Psd::No) => {
                return OrgDomain {
                    domain: d.clone(),
                    reason: "psd=n",
                    queried,
                    error,
                };
            }
            Some(Psd::Yes) if i > 0 => {
                // The name one label below this one, on the way from the start.
                let below = below(&start, d);
                return OrgDomain {
                    domain: below,
                    reason: "below psd=y",
                    queried,
                    error,
                };
            }
            _ => fewest = Some(d.clone()),
        }
    }
    match fewest {
        Some(d) => OrgDomain {
            domain: d,
            reason: "fewest labels",
            queried,
            error,
        },
        None => OrgDomain {
            domain: start,
            reason: "no record",
            queried,
            error,
        },
    }
}

/// The ancestor of `start` (or `start` itself) that has one label more than `parent`.
fn below(start: &str, parent: &str) -> String {
    let labels: Vec<&str> = start.split('.').collect();
    let n = parent.split('.').count() + 1;
    labels[labels.len().saturating_sub(n)..].join(".")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn zone(entries: &[(&str, &str)]) -> impl FnMut(&str) -> TxtAnswer {
        let map: HashMap<String, String> = entries
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name: &str| {
            if name.contains("_err") {
                return TxtAnswer::Error("SERVFAIL".into());
            }
            match map.get(name) {
                Some(v) => TxtAnswer::Records(vec![v.clone()]),
                None => TxtAnswer::NoRecord,
            }
        }
    }

    #[test]
    fn walk_names_are_bounded() {
        assert_eq!(
            walk_domains("a.b.example.com"),
            vec!["a.b.example.com", "b.example.com", "example.com", "com"]
        );
        let long = walk_domains("1.2.3.4.5.6.7.8.9.example.com");
        assert_eq!(long.len(), 8);
        assert_eq!(long[1], "5.6.7.8.9.example.com");
        assert_eq!(long[7], "com");
        assert_eq!(walk_domains("com"), vec!["com"]);
        assert_eq!(walk_domains("a.b.c.d.e.f.g.h").len(), 8);
    }

    #[test]
    fn discovery_finds_nearest() {
        let mut z = zone(&[("_dmarc.example.com", "v=DMARC1; p=reject")]);
        let d = discover_policy("mail.example.com", &mut z);
        assert_eq!(
            d.queried,
            vec!["_dmarc.mail.example.com", "_dmarc.example.com"]
        );
        match d.outcome {
            Outcome::Found(f) => assert_eq!(f.domain, "example.com"),
            o => panic!("{o:?}"),
        }
        let d = discover_policy("x._err.example.com", zone(&[]));
        assert!(matches!(d.outcome, Outcome::Error { .. }));
        let d = discover_policy("nothing.example", zone(&[]));
        assert_eq!(d.outcome, Outcome::NotFound);
    }

    #[test]
    fn org_domain_by_psd() {
        let z = zone(&[
            ("_dmarc.example.com", "v=DMARC1; p=reject"),
            ("_dmarc.com", "v=DMARC1; p=none; psd=y"),
        ]);
        let o = organizational_domain("a.b.example.com", z);
        assert_eq!(o.domain, "example.com");
        assert_eq!(o.reason, "below psd=y");

        let z = zone(&[("_dmarc.b.example.com", "v=DMARC1; p=reject; psd=n")]);
        assert_eq!(
            organizational_domain("a.b.example.com", z).domain,
            "b.example.com"
        );

        let z = zone(&[
            ("_dmarc.b.example.com", "v=DMARC1; p=reject"),
            ("_dmarc.example.com", "v=DMARC1; p=reject"),
        ]);
        let o = organizational_domain("a.b.example.com", z);
        assert_eq!(
            (o.domain.as_str(), o.reason),
            ("example.com", "fewest labels")
        );

        let o = organizational_domain("a.b.example.com", zone(&[]));
        assert_eq!(
            (o.domain.as_str(), o.reason),
            ("a.b.example.com", "no record")
        );
    }
}
