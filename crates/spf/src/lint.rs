//! Lint data over an evaluation trace: what a `domain` command turns into findings. Pure
//! functions, no I/O: multiple records, `+all`/`?all`/no `all`, lookup counts per term and
//! in total, void look-ups, `ptr`, loops, and answers too big for one UDP datagram.

use crate::dns::Outcome;
use crate::eval::{Options, ProblemKind, RecordTrace, TermOutcome};
use crate::record::{Mechanism, Qualifier, SyntaxError};

/// The DNS message size every resolver can take over UDP without EDNS (RFC 1035 2.3.4);
/// RFC 7208 3.4 asks SPF answers to fit in it.
pub const UDP_LIMIT: usize = 512;

/// One thing worth telling about a policy, as data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lint {
    /// The starting domain publishes no SPF record.
    NoRecord {
        /// The domain.
        domain: String,
    },
    /// A name has more than one `v=spf1` record: a permerror for everyone.
    MultipleRecords {
        /// The domain.
        domain: String,
        /// The records.
        records: Vec<String>,
    },
    /// A record does not parse.
    Syntax {
        /// The domain.
        domain: String,
        /// The record text.
        record: String,
        /// Where and what.
        error: SyntaxError,
    },
    /// `+all` (or bare `all`): anyone may send.
    PassAll {
        /// The domain whose record has it.
        domain: String,
    },
    /// `?all`: the policy asserts nothing about senders it does not list.
    NeutralAll {
        /// The domain whose record has it.
        domain: String,
    },
    /// The policy ends with neither `all` nor `redirect=`: unlisted senders get neutral.
    NoAll {
        /// The domain whose record ends the policy.
        domain: String,
    },
    /// More DNS-querying terms than the limit.
    TooManyLookups {
        /// Counted over the whole tree.
        total: u32,
        /// The limit (10).
        limit: u32,
    },
    /// A look-up that found nothing.
    VoidLookup {
        /// The domain whose record holds the term.
        domain: String,
        /// The term.
        term: String,
        /// The name asked.
        name: String,
        /// Whether the name comes from macros, so that it may exist for real messages.
        uses_macros: bool,
    },
    /// More void look-ups than the limit (for a message whose look-ups are those of the walk).
    TooManyVoidLookups {
        /// Counted over the whole tree.
        total: u32,
        /// The limit (2).
        limit: u32,
    },
    /// `ptr` is used; RFC 7208 5.5 says it SHOULD NOT be.
    Ptr {
        /// The domain whose record has it.
        domain: String,
        /// The term.
        term: String,
    },
    /// An include or redirect names a domain with no SPF record.
    MissingTarget {
        /// The domain whose record has it.
        domain: String,
        /// The term.
        term: String,
    },
    /// An include or redirect leads back into the tree.
    Loop {
        /// The domain whose record has it.
        domain: String,
        /// The term.
        term: String,
    },
    /// An `mx` names more hosts than the limit.
    TooManyMx {
        /// The domain whose record has it.
        domain: String,
        /// The term.
        term: String,
        /// How many MX records.
        count: usize,
    },
    /// A DNS query timed out or failed.
    DnsFailure {
        /// The domain whose record was being read.
        domain: String,
        /// The term, when a term's query failed.
        term: Option<String>,
        /// What happened.
        outcome: Outcome,
    },
    /// The TXT answer at a name is larger than one UDP datagram.
    TooLongForUdp {
        /// The name.
        domain: String,
        /// The estimated DNS message size in octets.
        bytes: usize,
    },
}

/// DNS-querying terms of one record, and what its includes add.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LookupCount {
    /// Depth in the tree (0 for the starting domain).
    pub depth: usize,
    /// The domain whose record holds the term.
    pub domain: String,
    /// The term as written.
    pub term: String,
    /// 1 when the term itself counts toward the limit.
    pub own: u32,
    /// Counted terms inside the included or redirected-to records.
    pub nested: u32,
    /// Void look-ups of the term itself.
    pub void: u32,
}

/// Every counted term in the tree, depth first, with its own count and its subtree's.
pub fn lookup_counts(trace: &RecordTrace) -> Vec<LookupCount> {
    let mut out = Vec::new();
    counts(trace, 0, &mut out);
    out
}

fn counts(node: &RecordTrace, depth: usize, out: &mut Vec<LookupCount>) -> u32 {
    let mut total = 0;
    for t in &node.terms {
        if !t.counted && t.child.is_none() {
            continue;
        }
        let at = out.len();
        out.push(LookupCount {
            depth,
            domain: node.domain.clone(),
            term: t.text.clone(),
            own: u32::from(t.counted),
            nested: 0,
            void: t.void_lookups,
        });
        let nested = t.child.as_ref().map_or(0, |c| counts(c, depth + 1, out));
        out[at].nested = nested;
        total += u32::from(t.counted) + nested;
    }
    total
}

/// Total counted terms in the tree.
pub fn total_lookups(trace: &RecordTrace) -> u32 {
    lookup_counts(trace).iter().map(|c| c.own).sum()
}

/// Total void look-ups in the tree.
pub fn total_void_lookups(trace: &RecordTrace) -> u32 {
    trace
        .walk()
        .iter()
        .flat_map(|(_, n)| n.terms.iter())
        .map(|t| t.void_lookups)
        .sum()
}

/// The size of the DNS message answering a TXT query for `name` with `records` (each a list
/// of character-strings), with name compression as servers do it.
pub fn txt_answer_size(name: &str, records: &[Vec<Vec<u8>>]) -> usize {
    let name = name.trim_end_matches('.');
    let qname: usize = if name.is_empty() {
        1
    } else {
        name.split('.').map(|l| l.len() + 1).sum::<usize>() + 1
    };
    let header = 12;
    let question = qname + 4;
    // Each answer: a 2-octet pointer to the question name, type, class, TTL, RDLENGTH, RDATA.
    let answers: usize = records
        .iter()
        .map(|strings| 2 + 10 + strings.iter().map(|s| 1 + s.len()).sum::<usize>())
        .sum();
    header + question + answers
}

/// The findings for a trace, normally one from [`crate::walk`].
pub fn lints(trace: &RecordTrace, options: &Options) -> Vec<Lint> {
    let mut out = Vec::new();
    if trace.name_valid && trace.spf_records.is_empty() && trace.problem.is_none() {
        out.push(Lint::NoRecord {
            domain: trace.domain.clone(),
        });
    }
    for (_, node) in trace.walk() {
        if !node.txt_records.is_empty() {
            let bytes = txt_answer_size(&node.domain, &node.txt_records);
            if bytes > UDP_LIMIT {
                out.push(Lint::TooLongForUdp {
                    domain: node.domain.clone(),
                    bytes,
                });
            }
        }
        match &node.problem {
            Some(p) if node.record.is_none() => match &p.kind {
                ProblemKind::MultipleRecords(_) => out.push(Lint::MultipleRecords {
                    domain: node.domain.clone(),
                    records: node.spf_records.clone(),
                }),
                ProblemKind::Syntax(e) => out.push(Lint::Syntax {
                    domain: node.domain.clone(),
                    record: node.spf_records.first().cloned().unwrap_or_default(),
                    error: e.clone(),
                }),
                ProblemKind::Dns(o) => out.push(Lint::DnsFailure {
                    domain: node.domain.clone(),
                    term: None,
                    outcome: o.clone(),
                }),
                _ => {}
            },
            _ => {}
        }
        if let Some(rec) = &node.record {
            for (term, d) in rec.directives() {
                match (&d.mechanism, d.qualifier) {
                    (Mechanism::All, Qualifier::Pass) => out.push(Lint::PassAll {
                        domain: node.domain.clone(),
                    }),
                    (Mechanism::All, Qualifier::Neutral) => out.push(Lint::NeutralAll {
                        domain: node.domain.clone(),
                    }),
                    (Mechanism::Ptr(_), _) => out.push(Lint::Ptr {
                        domain: node.domain.clone(),
                        term: term.text.clone(),
                    }),
                    _ => {}
                }
            }
        }
        for t in &node.terms {
            for q in t.queries.iter().filter(|q| q.void) {
                out.push(Lint::VoidLookup {
                    domain: node.domain.clone(),
                    term: t.text.clone(),
                    name: q.name.clone(),
                    uses_macros: t.uses_macros,
                });
            }
            let Some(p) = &t.problem else { continue };
            match &p.kind {
                ProblemKind::IncludeNone | ProblemKind::RedirectNone => {
                    out.push(Lint::MissingTarget {
                        domain: node.domain.clone(),
                        term: t.text.clone(),
                    })
                }
                ProblemKind::Loop => out.push(Lint::Loop {
                    domain: node.domain.clone(),
                    term: t.text.clone(),
                }),
                ProblemKind::TooManyMx(count) => out.push(Lint::TooManyMx {
                    domain: node.domain.clone(),
                    term: t.text.clone(),
                    count: *count,
                }),
                ProblemKind::Dns(o)
                    if matches!(t.outcome, TermOutcome::Error(_)) && p.domain == node.domain =>
                {
                    out.push(Lint::DnsFailure {
                        domain: node.domain.clone(),
                        term: Some(t.text.clone()),
                        outcome: o.clone(),
                    })
                }
                _ => {}
            }
        }
    }
    let end = trace.deciding();
    if let Some(rec) = &end.record
        && rec.all().is_none()
        && rec.redirect().is_none()
    {
        out.push(Lint::NoAll {
            domain: end.domain.clone(),
        });
    }
    let total = total_lookups(trace);
    if total > options.lookup_limit {
        out.push(Lint::TooManyLookups {
            total,
            limit: options.lookup_limit,
        });
    }
    let voids = total_void_lookups(trace);
    if voids > options.void_limit {
        out.push(Lint::TooManyVoidLookups {
            total: voids,
            limit: options.void_limit,
        });
    }
    out
}
