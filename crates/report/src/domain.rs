//! `smtpdoctor domain`: what a receiver checks about a sending domain and its IPs (MX, SPF,
//! DKIM, DMARC, MTA-STS, TLS-RPT, DANE, PTR, DNS blocklists).
//!
//! Two kinds of value live here. [`DomainEvidence`] is what the probes hand to the rules: DNS
//! answers with their failure kinds kept apart, the SPF evaluation trees, the MTA-STS policy
//! response, the port-25 sessions that DANE needs. It is not printed as such. [`DomainBody`] is
//! what the rules make of it and every renderer prints: one [`DomainCheck`] per check, each with
//! a status, its findings and the evidence worth showing.

use crate::check::{CheckTarget, MxEvidence, ResolveEvidence, SessionEvidence};
use crate::{Finding, Transcript};
use serde::{Deserialize, Serialize};
use std::net::IpAddr;

/// What `domain` was asked to examine.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DomainTarget {
    /// The domain, lower-cased, without a trailing dot.
    pub domain: String,
    /// The sending addresses given with `--ip`.
    pub ips: Vec<String>,
    /// The HELO name given with `--helo`.
    pub helo: Option<String>,
    /// The DKIM selectors given with `--dkim-selector`.
    pub dkim_selectors: Vec<String>,
    /// The DNS server every query went to (`--dns`), or null for the system's.
    pub dns: Option<String>,
}

/// The outcome of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckStatus {
    /// Published and valid, nothing to improve.
    Pass,
    /// Valid, but something should be improved.
    Warn,
    /// Invalid, or evaluates to a failure (SPF permerror, a listed IP, a TLSA mismatch).
    Fail,
    /// Could not be evaluated (a DNS failure, an SPF temperror).
    Error,
    /// Nothing is published (or nothing was asked, e.g. no `--ip` for PTR).
    None,
}

impl CheckStatus {
    /// The lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            CheckStatus::Pass => "pass",
            CheckStatus::Warn => "warn",
            CheckStatus::Fail => "fail",
            CheckStatus::Error => "error",
            CheckStatus::None => "none",
        }
    }
}

/// One check as reported.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DomainCheck {
    /// pass, warn, fail, error or none.
    pub status: CheckStatus,
    /// One line for people.
    pub summary: String,
    /// What the rules found, most severe first.
    pub findings: Vec<Finding>,
    /// The evidence behind it, shaped per check (docs/json.md).
    pub details: serde_json::Value,
}

/// The nine checks.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DomainChecks {
    /// MX records (the same analysis as `check --mx`).
    pub mx: DomainCheck,
    /// SPF record, its include/redirect tree, and check_host() for each `--ip`.
    pub spf: DomainCheck,
    /// DKIM keys at the given (and guessed) selectors.
    pub dkim: DomainCheck,
    /// DMARC policy discovery and the record.
    pub dmarc: DomainCheck,
    /// MTA-STS record, policy and MX coverage.
    pub mta_sts: DomainCheck,
    /// TLS-RPT record.
    pub tls_rpt: DomainCheck,
    /// DANE TLSA of each MX against its port-25 certificate.
    pub dane: DomainCheck,
    /// PTR and forward-confirmed reverse DNS of each `--ip` and MX address, HELO consistency.
    pub ptr: DomainCheck,
    /// DNS blocklists for each `--ip` and for the domain.
    pub dnsbl: DomainCheck,
}

impl DomainChecks {
    /// Each check with its name, in report order.
    pub fn iter(&self) -> [(&'static str, &DomainCheck); 9] {
        [
            ("mx", &self.mx),
            ("spf", &self.spf),
            ("dkim", &self.dkim),
            ("dmarc", &self.dmarc),
            ("mta_sts", &self.mta_sts),
            ("tls_rpt", &self.tls_rpt),
            ("dane", &self.dane),
            ("ptr", &self.ptr),
            ("dnsbl", &self.dnsbl),
        ]
    }
}

/// The command-specific part of `domain`'s report.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DomainBody {
    /// The domain examined.
    pub domain: String,
    /// Which resolver answered: `ADDR:PORT` from `--dns`, or `system`.
    pub resolver: String,
    /// Every check.
    pub checks: DomainChecks,
}

/// How a DNS query ended, with the failure kinds a diagnosis needs kept apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DnsOutcome {
    /// One or more records.
    Answers,
    /// The name does not exist.
    NxDomain,
    /// The name exists but has no record of the type.
    NoData,
    /// The server failed to answer (SERVFAIL).
    ServFail,
    /// The server refused the query (REFUSED).
    Refused,
    /// No answer in time.
    Timeout,
    /// Anything else (see the detail).
    Other,
}

impl DnsOutcome {
    /// Whether the look-up failed (as opposed to answering, with or without records).
    pub fn failed(self) -> bool {
        matches!(
            self,
            DnsOutcome::ServFail | DnsOutcome::Refused | DnsOutcome::Timeout | DnsOutcome::Other
        )
    }

    /// The kind of a failure from a resolver's error text (hickory gives SERVFAIL and REFUSED
    /// only as words).
    pub fn from_error_text(text: &str) -> DnsOutcome {
        let lower = text.to_ascii_lowercase();
        if lower.contains("refused") {
            DnsOutcome::Refused
        } else if lower.contains("servfail") || lower.contains("server failure") {
            DnsOutcome::ServFail
        } else if lower.contains("timed out") || lower.contains("timeout") {
            DnsOutcome::Timeout
        } else {
            DnsOutcome::Other
        }
    }

    /// In words, for summaries.
    pub fn describe(self) -> &'static str {
        match self {
            DnsOutcome::Answers => "answered",
            DnsOutcome::NxDomain => "no such name (NXDOMAIN)",
            DnsOutcome::NoData => "no record of that type (NODATA)",
            DnsOutcome::ServFail => "the DNS server failed (SERVFAIL)",
            DnsOutcome::Refused => "the DNS server refused the query (REFUSED)",
            DnsOutcome::Timeout => "no answer in time (timeout)",
            DnsOutcome::Other => "the look-up failed",
        }
    }
}

/// One TXT look-up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxtLookup {
    /// The name asked.
    pub name: String,
    /// How it ended.
    pub outcome: DnsOutcome,
    /// The resolver's words, when it failed.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub detail: Option<String>,
    /// The records, each with its strings joined.
    pub records: Vec<String>,
}

/// The SPF side of the evidence: the whole policy tree and one check_host() per `--ip`.
#[derive(Debug, Clone)]
pub struct SpfProbe {
    /// Every term evaluated and every include/redirect followed.
    pub walk: smtpdoctor_spf::Walk,
    /// check_host() for each `--ip`, in order.
    pub results: Vec<SpfIpResult>,
}

/// check_host() for one address.
#[derive(Debug, Clone)]
pub struct SpfIpResult {
    /// The client address.
    pub ip: IpAddr,
    /// The HELO name used for `%{h}`.
    pub helo: String,
    /// The sender checked (`postmaster@DOMAIN`).
    pub sender: String,
    /// The evaluation.
    pub evaluation: smtpdoctor_spf::Evaluation,
}

/// What fetching `https://mta-sts.DOMAIN/.well-known/mta-sts.txt` gave.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct PolicyFetchEvidence {
    /// The URL.
    pub url: String,
    /// The HTTP status, when a response came.
    pub status: Option<u16>,
    /// The `Location` header of a redirect.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub location: Option<String>,
    /// The `Content-Type` header.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub content_type: Option<String>,
    /// The body (cut just past 64 KiB).
    #[serde(skip)]
    pub body: Vec<u8>,
    /// The body's size in bytes as read.
    pub bytes: usize,
    /// Why the policy host's certificate is not valid, when it is not.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub certificate_error: Option<String>,
    /// Why no response came (name, connection, TLS handshake), when none did.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub failure: Option<String>,
    /// How long it took.
    pub ms: u64,
}

/// The port-25 session DANE needs: the presented certificate compared with the TLSA records.
#[derive(Debug, Clone)]
pub struct Port25 {
    /// What was checked.
    pub target: CheckTarget,
    /// Name resolution.
    pub resolve: Option<ResolveEvidence>,
    /// The connections.
    pub sessions: Vec<SessionEvidence>,
    /// Every line.
    pub transcript: Transcript,
    /// Whether the platform had no trust anchors.
    pub trust_platform_missing: bool,
    /// Whether the deadline cut it short.
    pub deadline_reached: bool,
}

/// Forward confirmation of one PTR name (or the HELO name).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ForwardLookup {
    /// The name looked up.
    pub name: String,
    /// How the A/AAAA look-up ended.
    pub outcome: DnsOutcome,
    /// Its addresses.
    pub addresses: Vec<String>,
    /// Whether one of them is the address being checked.
    pub matches: bool,
}

/// Reverse DNS of one address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PtrEvidence {
    /// The address.
    pub ip: String,
    /// Where it came from: `--ip`, or `mx HOST`.
    pub source: String,
    /// The reverse name asked.
    pub name: String,
    /// How the PTR look-up ended (null when skipped).
    pub outcome: Option<DnsOutcome>,
    /// The resolver's words, when it failed.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub detail: Option<String>,
    /// The PTR names.
    pub ptr: Vec<String>,
    /// Each PTR name looked up forward.
    pub forward: Vec<ForwardLookup>,
    /// The `--helo` name looked up forward (for `--ip` addresses).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub helo: Option<ForwardLookup>,
    /// Why the address was not looked up (loopback, private).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub skipped: Option<String>,
}

/// One blocklist answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DnsblAnswer {
    /// The name asked.
    pub name: String,
    /// How the A look-up ended.
    pub outcome: DnsOutcome,
    /// The resolver's words, when it failed.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub detail: Option<String>,
    /// The A records (return codes).
    pub codes: Vec<String>,
    /// The TXT reason, asked only when there were codes.
    pub txt: Vec<String>,
}

/// One list zone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DnsblZone {
    /// The zone.
    pub zone: String,
    /// `ip` (reversed octets) or `domain` (RHSBL).
    pub kind: String,
    /// Why it was not queried (defunct), when it was not.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub skipped: Option<String>,
    /// RFC 5782 section 5: the entry that must be listed (127.0.0.2, or `test`).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub test_listed: Option<DnsblAnswer>,
    /// RFC 5782 section 5: the entry that must not be listed (127.0.0.1, or `invalid`).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub test_unlisted: Option<DnsblAnswer>,
    /// RFC 5782 section 5, IPv6 (asked only when an IPv6 address is checked): ::FFFF:7F00:2
    /// must be listed by a list that covers IPv6.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub test6_listed: Option<DnsblAnswer>,
    /// RFC 5782 section 5, IPv6: ::FFFF:7F00:1 must not be listed.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub test6_unlisted: Option<DnsblAnswer>,
}

/// One address or domain looked up in one zone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DnsblQuery {
    /// The address or domain.
    pub subject: String,
    /// The zone.
    pub zone: String,
    /// The answer.
    pub answer: DnsblAnswer,
}

/// The blocklist side of the evidence.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DnsblEvidence {
    /// The resolver the queries went through (lists refuse public resolvers).
    pub resolver: String,
    /// Every zone, with its self-test.
    pub zones: Vec<DnsblZone>,
    /// Every query.
    pub queries: Vec<DnsblQuery>,
}

/// One MX host's port-25 session, made when its TLSA records or the domain's MTA-STS policy
/// say senders verify its certificate (the TLSA evidence itself is in [`MxEvidence`]).
#[derive(Debug, Clone)]
pub struct DaneProbe {
    /// The MX host.
    pub host: String,
    /// The session on its port 25.
    pub port25: Option<Port25>,
    /// Its TLSA records (or a failed TLSA look-up) called for the session: DANE judges it.
    pub tlsa: bool,
    /// The MTA-STS policy (mode enforce or testing) names the host: senders that apply the
    /// policy verify its certificate by the Web PKI.
    pub mta_sts: bool,
}

/// Everything the probes of `domain` gathered, for the rules.
#[derive(Debug, Clone)]
pub struct DomainEvidence {
    /// What was asked.
    pub target: DomainTarget,
    /// `ADDR:PORT` or `system`.
    pub resolver: String,
    /// MX records, their addresses, MTA-STS summary and DANE TLSA evidence.
    pub mx: MxEvidence,
    /// SPF.
    pub spf: SpfProbe,
    /// The `_dmarc` names of the RFC 9989 tree walk, in walk order (the first is the domain's).
    pub dmarc: Vec<TxtLookup>,
    /// Report authorisation look-ups (`DOMAIN._report._dmarc.DEST`).
    pub dmarc_reports: Vec<TxtLookup>,
    /// DKIM selectors: (selector, guessed, look-up).
    pub dkim: Vec<(String, bool, TxtLookup)>,
    /// `_mta-sts.DOMAIN`.
    pub mta_sts: TxtLookup,
    /// The policy fetch, when a `v=STSv1` record asked for one.
    pub mta_sts_policy: Option<PolicyFetchEvidence>,
    /// `_smtp._tls.DOMAIN`.
    pub tls_rpt: TxtLookup,
    /// Each MX host with TLSA (or a failed TLSA look-up) and its port-25 session.
    pub dane: Vec<DaneProbe>,
    /// Reverse DNS of every `--ip` and MX address.
    pub ptr: Vec<PtrEvidence>,
    /// Blocklists.
    pub dnsbl: DnsblEvidence,
    /// When the run started (RFC 3339).
    pub started_at: String,
    /// How long the probes took.
    pub duration_ms: u64,
}
