//! The DNS that check_host() asks: a small trait with the five look-ups SPF needs, whose
//! answers keep NXDOMAIN, NODATA, timeout and other failures apart, and an in-memory zone
//! that implements it for tests (and for the official suite's zone data).

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::net::{Ipv4Addr, Ipv6Addr};

/// The query types SPF uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum QueryType {
    /// TXT (SPF records and explanations).
    Txt,
    /// A.
    A,
    /// AAAA.
    Aaaa,
    /// MX.
    Mx,
    /// PTR.
    Ptr,
}

impl fmt::Display for QueryType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Txt => "TXT",
            Self::A => "A",
            Self::Aaaa => "AAAA",
            Self::Mx => "MX",
            Self::Ptr => "PTR",
        })
    }
}

/// The answer to one query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup<T> {
    /// One or more records.
    Found(Vec<T>),
    /// The name does not exist (RCODE 3).
    NxDomain,
    /// The name exists but has no record of this type.
    NoData,
    /// No answer in time.
    Timeout,
    /// Any other failure (SERVFAIL, REFUSED, a name that cannot be sent, ...).
    Failed(String),
}

impl<T> Lookup<T> {
    /// Whether this is a "void lookup" in the sense of RFC 7208 4.6.4.
    pub fn is_void(&self) -> bool {
        matches!(self, Self::NxDomain | Self::NoData)
            || matches!(self, Self::Found(v) if v.is_empty())
    }

    /// The outcome without the records, for a trace.
    pub fn outcome(&self) -> Outcome {
        match self {
            Self::Found(v) if v.is_empty() => Outcome::NoData,
            Self::Found(v) => Outcome::Answers(v.len()),
            Self::NxDomain => Outcome::NxDomain,
            Self::NoData => Outcome::NoData,
            Self::Timeout => Outcome::Timeout,
            Self::Failed(why) => Outcome::Failed(why.clone()),
        }
    }
}

/// What a query came to, without the records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// This many records.
    Answers(usize),
    /// NXDOMAIN.
    NxDomain,
    /// NODATA.
    NoData,
    /// Timed out.
    Timeout,
    /// Another failure.
    Failed(String),
}

/// An MX record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mx {
    /// Preference.
    pub preference: u16,
    /// Exchange host, without a trailing dot; empty for a null MX.
    pub exchange: String,
}

/// The DNS as check_host() sees it. Names come without a trailing dot.
pub trait Resolver: Sync {
    /// TXT records, each as its list of character-strings.
    fn txt(&self, name: &str) -> impl Future<Output = Lookup<Vec<Vec<u8>>>> + Send;
    /// A records.
    fn a(&self, name: &str) -> impl Future<Output = Lookup<Ipv4Addr>> + Send;
    /// AAAA records.
    fn aaaa(&self, name: &str) -> impl Future<Output = Lookup<Ipv6Addr>> + Send;
    /// MX records.
    fn mx(&self, name: &str) -> impl Future<Output = Lookup<Mx>> + Send;
    /// PTR records (host names without a trailing dot).
    fn ptr(&self, name: &str) -> impl Future<Output = Lookup<String>> + Send;
}

/// One entry of an in-memory zone, in the order given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    /// A TXT record as its character-strings.
    Txt(Vec<Vec<u8>>),
    /// An A record.
    A(Ipv4Addr),
    /// An AAAA record.
    Aaaa(Ipv6Addr),
    /// An MX record.
    Mx(Mx),
    /// A PTR record.
    Ptr(String),
    /// A CNAME to another name.
    Cname(String),
    /// Any query for this name times out, unless a record of the queried type came earlier.
    Timeout,
    /// Queries of this type time out.
    TimeoutType(QueryType),
}

impl Entry {
    fn query_type(&self) -> Option<QueryType> {
        match self {
            Self::Txt(_) => Some(QueryType::Txt),
            Self::A(_) => Some(QueryType::A),
            Self::Aaaa(_) => Some(QueryType::Aaaa),
            Self::Mx(_) => Some(QueryType::Mx),
            Self::Ptr(_) => Some(QueryType::Ptr),
            _ => None,
        }
    }
}

/// An in-memory zone with the semantics of the official SPF suite's driver: names compare
/// without case, a bare timeout entry times out queries unless a record of the asked type
/// came first, CNAMEs are followed, and a label over 63 octets cannot be asked (timeout).
#[derive(Debug, Clone, Default)]
pub struct Zone {
    names: HashMap<String, Vec<Entry>>,
    timeout_prefixes: Vec<String>,
}

/// How many CNAMEs in a row the zone follows before calling it a failure.
const MAX_CNAME_CHAIN: usize = 10;

impl Zone {
    /// An empty zone: every name is NXDOMAIN.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds an entry for `name`, after those already there.
    pub fn add(&mut self, name: &str, entry: Entry) -> &mut Self {
        self.names.entry(key(name)).or_default().push(entry);
        self
    }

    /// Adds a TXT record made of one string.
    pub fn add_txt(&mut self, name: &str, text: &str) -> &mut Self {
        self.add(name, Entry::Txt(vec![text.as_bytes().to_vec()]))
    }

    /// Makes `name` exist (with no records), so that queries get NODATA.
    pub fn touch(&mut self, name: &str) -> &mut Self {
        self.names.entry(key(name)).or_default();
        self
    }

    /// Whether the zone holds entries for `name`.
    pub fn contains(&self, name: &str) -> bool {
        self.names.contains_key(&key(name))
    }

    /// Whether `name` has a TXT entry.
    pub fn has_txt(&self, name: &str) -> bool {
        self.names
            .get(&key(name))
            .is_some_and(|v| v.iter().any(|e| matches!(e, Entry::Txt(_))))
    }

    /// Names missing from the zone that start with `prefix` time out instead of NXDOMAIN
    /// (the suite's `error.` names).
    pub fn time_out_missing(&mut self, prefix: &str) -> &mut Self {
        self.timeout_prefixes.push(prefix.to_ascii_lowercase());
        self
    }

    /// Answers a query with the entries of the asked type, following CNAMEs.
    pub fn query(&self, name: &str, qtype: QueryType) -> Lookup<Entry> {
        let mut name = name.to_string();
        let mut seen: Vec<String> = Vec::new();
        loop {
            // The suite's driver drops empty labels and cannot send a label over 63 octets.
            if name.split('.').any(|l| l.len() > 63) {
                return Lookup::Timeout;
            }
            let k = key(&name);
            let Some(entries) = self.names.get(&k) else {
                if self
                    .timeout_prefixes
                    .iter()
                    .any(|p| k.starts_with(p.as_str()))
                {
                    return Lookup::Timeout;
                }
                return Lookup::NxDomain;
            };
            let mut found = Vec::new();
            let mut cname = None;
            for e in entries {
                match e {
                    Entry::Timeout if found.is_empty() => return Lookup::Timeout,
                    Entry::Timeout => break,
                    Entry::TimeoutType(t) if *t == qtype => return Lookup::Timeout,
                    Entry::Cname(target) => cname = Some(target.clone()),
                    e if e.query_type() == Some(qtype) => found.push(e.clone()),
                    _ => {}
                }
            }
            if !found.is_empty() {
                return Lookup::Found(found);
            }
            let Some(target) = cname else {
                return Lookup::NoData;
            };
            seen.push(k);
            let next = key(&target);
            if seen.contains(&next) {
                return Lookup::Failed(format!("CNAME loop at {next}"));
            }
            if seen.len() > MAX_CNAME_CHAIN {
                return Lookup::Failed("CNAME chain too long".into());
            }
            name = target;
        }
    }

    fn typed<T>(&self, name: &str, qtype: QueryType, f: impl Fn(Entry) -> Option<T>) -> Lookup<T> {
        match self.query(name, qtype) {
            Lookup::Found(v) => Lookup::Found(v.into_iter().filter_map(f).collect()),
            Lookup::NxDomain => Lookup::NxDomain,
            Lookup::NoData => Lookup::NoData,
            Lookup::Timeout => Lookup::Timeout,
            Lookup::Failed(w) => Lookup::Failed(w),
        }
    }
}

/// Zone key: lower case, empty labels (and so a trailing dot) dropped.
fn key(name: &str) -> String {
    name.split('.')
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(".")
        .to_ascii_lowercase()
}

impl Resolver for Zone {
    async fn txt(&self, name: &str) -> Lookup<Vec<Vec<u8>>> {
        self.typed(name, QueryType::Txt, |e| match e {
            Entry::Txt(t) => Some(t),
            _ => None,
        })
    }

    async fn a(&self, name: &str) -> Lookup<Ipv4Addr> {
        self.typed(name, QueryType::A, |e| match e {
            Entry::A(a) => Some(a),
            _ => None,
        })
    }

    async fn aaaa(&self, name: &str) -> Lookup<Ipv6Addr> {
        self.typed(name, QueryType::Aaaa, |e| match e {
            Entry::Aaaa(a) => Some(a),
            _ => None,
        })
    }

    async fn mx(&self, name: &str) -> Lookup<Mx> {
        self.typed(name, QueryType::Mx, |e| match e {
            Entry::Mx(m) => Some(m),
            _ => None,
        })
    }

    async fn ptr(&self, name: &str) -> Lookup<String> {
        self.typed(name, QueryType::Ptr, |e| match e {
            Entry::Ptr(p) => Some(p.trim_end_matches('.').to_string()),
            _ => None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeout_entries_follow_the_suite_driver() {
        let mut z = Zone::new();
        z.add_txt("a.example", "v=spf1 -all")
            .add("a.example", Entry::Timeout);
        z.add("b.example", Entry::A(Ipv4Addr::LOCALHOST))
            .add("b.example", Entry::Timeout);
        z.add("c.example", Entry::TimeoutType(QueryType::Mx))
            .add("c.example", Entry::A(Ipv4Addr::LOCALHOST));
        z.time_out_missing("error.");
        assert!(matches!(
            z.query("A.Example.", QueryType::Txt),
            Lookup::Found(_)
        ));
        assert_eq!(z.query("b.example", QueryType::Txt), Lookup::Timeout);
        assert!(matches!(
            z.query("b.example", QueryType::A),
            Lookup::Found(_)
        ));
        assert_eq!(z.query("c.example", QueryType::Mx), Lookup::Timeout);
        assert!(matches!(
            z.query("c.example", QueryType::A),
            Lookup::Found(_)
        ));
        assert_eq!(z.query("c.example", QueryType::Txt), Lookup::NoData);
        assert_eq!(z.query("nope.example", QueryType::A), Lookup::NxDomain);
        assert_eq!(z.query("error.example", QueryType::A), Lookup::Timeout);
        let long = format!("{}.example", "x".repeat(64));
        assert_eq!(z.query(&long, QueryType::A), Lookup::Timeout);
    }

    #[test]
    fn cnames_are_followed_and_loops_fail() {
        let mut z = Zone::new();
        z.add("alias.example", Entry::Cname("real.example".into()));
        z.add("real.example", Entry::A(Ipv4Addr::new(192, 0, 2, 1)));
        z.add("loop.example", Entry::Cname("LOOP.example.".into()));
        assert!(matches!(z.query("alias.example", QueryType::A), Lookup::Found(v) if v.len() == 1));
        assert!(matches!(
            z.query("loop.example", QueryType::A),
            Lookup::Failed(_)
        ));
    }
}
