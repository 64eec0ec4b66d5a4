//! Probes for `smtpdoctor domain`: every DNS look-up a receiver makes about a sending domain and
//! its addresses, and the two connections some checks need (the MTA-STS policy over HTTPS, port
//! 25 of each MX with DANE records). Evidence only: answers with their failure kinds kept apart
//! (NXDOMAIN, NODATA, SERVFAIL, REFUSED, timeout), never a judgement.
//!
//! Every query goes through one resolver built from `--dns` (or the system's configuration) with
//! one attempt bounded by `--timeout`, so a silent server costs one timeout per query, not more.
//! Independent look-ups run at once: a domain costs about as long as its slowest chain of
//! dependent queries (MX, then TLSA, then port 25).

use crate::dnssec::Anchors;
use crate::target::Resolution;
use crate::tls::Trust;
use crate::{CheckOptions, run_check};
use smtpdoctor_records::TxtAnswer;
use smtpdoctor_records::dkim::COMMON_SELECTORS;
use smtpdoctor_records::{mtasts, walk};
use smtpdoctor_report::check::{DnsFailure, Dnssec, TlsMode};
use smtpdoctor_report::domain::*;
use smtpdoctor_spf::{HickoryResolver, Lookup, Resolver};
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::{Duration, Instant};
use tokio::task::JoinSet;

/// IP blocklists queried when `--dnsbl` names none: widely used, free for low volumes, and
/// documented to follow RFC 5782 (docs/domain.md says why each is there).
pub const DEFAULT_DNSBL: &[&str] = &[
    "zen.spamhaus.org",
    "bl.spamcop.net",
    "b.barracudacentral.org",
    "psbl.surriel.com",
    "bl.mailspike.net",
];

/// Domain blocklists queried when `--rhsbl` names none.
pub const DEFAULT_RHSBL: &[&str] = &["dbl.spamhaus.org"];

/// Lists that no longer exist: their zones may answer anything, so they are never queried.
pub const DEFUNCT: &[(&str, &str)] = &[
    (
        "sorbs.net",
        "SORBS was shut down by Proofpoint on 2024-06-05",
    ),
    ("njabl.org", "NJABL was shut down in 2013"),
    (
        "ahbl.org",
        "AHBL was shut down in 2015 and lists every address",
    ),
];

/// Why a zone is defunct, when it is.
pub fn defunct(zone: &str) -> Option<&'static str> {
    let zone = zone.trim_end_matches('.').to_ascii_lowercase();
    DEFUNCT
        .iter()
        .find(|(d, _)| zone == *d || zone.ends_with(&format!(".{d}")))
        .map(|(_, why)| *why)
}

/// What to examine and how.
#[derive(Debug, Clone)]
pub struct DomainOptions {
    /// The domain.
    pub domain: String,
    /// Sending addresses (`--ip`).
    pub ips: Vec<IpAddr>,
    /// HELO name (`--helo`).
    pub helo: Option<String>,
    /// DKIM selectors given (`--dkim-selector`).
    pub selectors: Vec<String>,
    /// Whether the common selectors are guessed besides (`--dkim-guess`).
    pub guess_selectors: bool,
    /// IP blocklist zones.
    pub dnsbl: Vec<String>,
    /// Domain blocklist zones.
    pub rhsbl: Vec<String>,
    /// `--dns`, `--resolve`, `--connect-to`.
    pub resolution: Resolution,
    /// Trust anchors for HTTPS and SMTP TLS.
    pub trust: Trust,
    /// DNSSEC trust anchors.
    pub anchors: Anchors,
    /// The bound on each query and each connection step.
    pub timeout: Duration,
    /// What the domains of one run share (blocklist answers that do not depend on the domain).
    pub shared: std::sync::Arc<Shared>,
}

/// Builds the one resolver a run (or a whole `--domains` batch) shares.
pub fn resolver(opts: &DomainOptions) -> Result<HickoryResolver, String> {
    crate::target::resolver(opts.resolution.dns, opts.timeout).map(HickoryResolver::from_resolver)
}

/// What was asked, as the report names it.
pub fn target(opts: &DomainOptions) -> DomainTarget {
    DomainTarget {
        domain: opts.domain.trim_end_matches('.').to_ascii_lowercase(),
        ips: opts.ips.iter().map(|i| i.to_string()).collect(),
        helo: opts.helo.clone(),
        dkim_selectors: opts.selectors.clone(),
        dns: opts.resolution.dns.map(|d| d.to_string()),
    }
}

/// `ADDR:PORT` of `--dns`, or `system`.
pub fn resolver_name(opts: &DomainOptions) -> String {
    opts.resolution
        .dns
        .map_or_else(|| "system".to_string(), |d| d.to_string())
}

/// Gathers the evidence for one domain.
pub async fn probe(opts: &DomainOptions, r: &HickoryResolver) -> DomainEvidence {
    let started = Instant::now();
    let started_at = crate::tls::rfc3339(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0),
    );
    let domain = opts.domain.trim_end_matches('.').to_ascii_lowercase();
    let resolver_name = resolver_name(opts);
    let tls_rpt_name = format!("_smtp._tls.{domain}");
    let (mx_side, spf, (dmarc, dmarc_reports), dkim, tls_rpt, dnsbl) = tokio::join!(
        mx_side(opts, &domain, r),
        spf(opts, &domain, r),
        dmarc(&domain, r),
        dkim(opts, &domain, r),
        txt(r, &tls_rpt_name),
        dnsbl(opts, &domain, r, &resolver_name),
    );
    let MxSide {
        mx,
        dane,
        ptr,
        mta_sts,
        mta_sts_policy,
    } = mx_side;
    DomainEvidence {
        target: target(opts),
        resolver: resolver_name,
        mx,
        spf,
        dmarc,
        dmarc_reports,
        dkim,
        mta_sts,
        mta_sts_policy,
        tls_rpt,
        dane,
        ptr,
        dnsbl,
        started_at,
        duration_ms: started.elapsed().as_millis() as u64,
    }
}

/// The outcome of any look-up, its failure kind told from the resolver's words (hickory gives
/// SERVFAIL and REFUSED only as text).
pub fn outcome<T>(l: &Lookup<T>) -> (DnsOutcome, Option<String>) {
    match l {
        Lookup::Found(v) if !v.is_empty() => (DnsOutcome::Answers, None),
        Lookup::Found(_) | Lookup::NoData => (DnsOutcome::NoData, None),
        Lookup::NxDomain => (DnsOutcome::NxDomain, None),
        Lookup::Timeout => (DnsOutcome::Timeout, None),
        Lookup::Failed(why) => {
            let kind = DnsOutcome::from_error_text(why);
            // The resolver's text carries its internal query structures: keep the first part.
            let short = why
                .split(" Query {")
                .next()
                .unwrap_or(why)
                .trim()
                .to_string();
            (kind, Some(short))
        }
    }
}

/// One TXT look-up, each record's strings joined.
pub async fn txt(r: &HickoryResolver, name: &str) -> TxtLookup {
    let l = r.txt(name).await;
    let (outcome, detail) = outcome(&l);
    let records = match l {
        Lookup::Found(v) => v
            .iter()
            .map(|strings| {
                strings
                    .iter()
                    .map(|s| String::from_utf8_lossy(s))
                    .collect::<String>()
            })
            .collect(),
        _ => Vec::new(),
    };
    TxtLookup {
        name: name.to_string(),
        outcome,
        detail,
        records,
    }
}

/// Several TXT look-ups at once, answers in the order asked.
async fn txt_many(r: &HickoryResolver, names: Vec<String>) -> Vec<TxtLookup> {
    let mut set = JoinSet::new();
    for (i, name) in names.into_iter().enumerate() {
        let r = r.clone();
        set.spawn(async move { (i, txt(&r, &name).await) });
    }
    let mut out: Vec<(usize, TxtLookup)> = set.join_all().await;
    out.sort_by_key(|(i, _)| *i);
    out.into_iter().map(|(_, t)| t).collect()
}

/// What the records crate reads: records, none, or an error naming its kind.
pub fn txt_answer(t: &TxtLookup) -> TxtAnswer {
    match t.outcome {
        DnsOutcome::Answers => TxtAnswer::Records(t.records.clone()),
        DnsOutcome::NxDomain | DnsOutcome::NoData => TxtAnswer::NoRecord,
        kind => TxtAnswer::Error(match &t.detail {
            Some(d) if kind == DnsOutcome::Other => d.clone(),
            _ => kind.describe().to_string(),
        }),
    }
}

async fn spf(opts: &DomainOptions, domain: &str, r: &HickoryResolver) -> SpfProbe {
    let options = smtpdoctor_spf::Options::default();
    // The walk's address only picks the family of `a` and `mx` terms.
    let family = opts
        .ips
        .first()
        .copied()
        .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    let helo = opts.helo.clone().unwrap_or_else(|| domain.to_string());
    let sender = format!("postmaster@{domain}");
    let walk = smtpdoctor_spf::walk(r, domain, family, &options);
    let results = async {
        let mut out = Vec::new();
        for ip in &opts.ips {
            let evaluation =
                smtpdoctor_spf::check_host(r, *ip, domain, &sender, &helo, &options).await;
            out.push(SpfIpResult {
                ip: *ip,
                helo: helo.clone(),
                sender: sender.clone(),
                evaluation,
            });
        }
        out
    };
    let (walk, results) = tokio::join!(walk, results);
    SpfProbe { walk, results }
}

/// The `_dmarc` names of the RFC 9989 walk, asked at once; then the report authorisation
/// names of the record that applies.
async fn dmarc(domain: &str, r: &HickoryResolver) -> (Vec<TxtLookup>, Vec<TxtLookup>) {
    let names: Vec<String> = walk::walk_domains(domain)
        .iter()
        .map(|d| format!("_dmarc.{d}"))
        .collect();
    let answers = txt_many(r, names).await;
    let map: HashMap<String, TxtAnswer> = answers
        .iter()
        .map(|t| (t.name.clone(), txt_answer(t)))
        .collect();
    let lookup = |name: &str| map.get(name).cloned().unwrap_or(TxtAnswer::NoRecord);
    let discovery = walk::discover_policy(domain, lookup);
    let org = walk::organizational_domain(domain, lookup);
    let reports = match &discovery.outcome {
        walk::Outcome::Found(found) => {
            let auths = smtpdoctor_records::dmarc::external_destinations(
                &found.domain,
                Some(&org.domain),
                &found.record,
            );
            txt_many(r, auths.into_iter().map(|a| a.query).collect()).await
        }
        _ => Vec::new(),
    };
    (answers, reports)
}

async fn dkim(
    opts: &DomainOptions,
    domain: &str,
    r: &HickoryResolver,
) -> Vec<(String, bool, TxtLookup)> {
    let mut selectors: Vec<(String, bool)> =
        opts.selectors.iter().map(|s| (s.clone(), false)).collect();
    let guesses = COMMON_SELECTORS.iter().filter(|_| opts.guess_selectors);
    for (s, _) in guesses {
        if !selectors.iter().any(|(given, _)| given == s) {
            selectors.push((s.to_string(), true));
        }
    }
    let names: Vec<String> = selectors
        .iter()
        .map(|(s, _)| format!("{s}._domainkey.{domain}"))
        .collect();
    let given = opts.selectors.len();
    // RFC 8020: when _domainkey.DOMAIN does not exist, no name below it does, so one query
    // stands for every guess (a domain without DKIM costs 1 query instead of 27). Given
    // selectors are always asked: their own answer is the evidence.
    let parent = format!("_domainkey.{domain}");
    let cut = async {
        if names.len() > given {
            Some(r.txt(&parent).await)
        } else {
            None
        }
    };
    let (cut, asked) = tokio::join!(cut, txt_many(r, names[..given].to_vec()));
    let guesses = if matches!(cut, Some(Lookup::NxDomain)) {
        names[given..]
            .iter()
            .map(|name| TxtLookup {
                name: name.clone(),
                outcome: DnsOutcome::NxDomain,
                detail: Some(format!(
                    "not asked: {parent} does not exist (NXDOMAIN), so no name below it does (RFC 8020)"
                )),
                records: Vec::new(),
            })
            .collect()
    } else {
        txt_many(r, names[given..].to_vec()).await
    };
    selectors
        .into_iter()
        .zip(asked.into_iter().chain(guesses))
        .map(|((s, guessed), t)| (s, guessed, t))
        .collect()
}

async fn mta_sts(
    opts: &DomainOptions,
    domain: &str,
    r: &HickoryResolver,
) -> (TxtLookup, Option<PolicyFetchEvidence>) {
    let record = txt(r, &format!("_mta-sts.{domain}")).await;
    // RFC 8461 section 3.1: only a record that starts with v=STSv1 announces a policy.
    let announced = record.records.iter().any(|t| t.starts_with("v=STSv1"));
    let fetch = if announced {
        Some(
            crate::mtasts::fetch_policy(
                &format!("mta-sts.{domain}"),
                &opts.resolution,
                &opts.trust,
                opts.timeout,
            )
            .await,
        )
    } else {
        None
    };
    (record, fetch)
}

/// The MX records and everything that depends on them.
struct MxSide {
    mx: smtpdoctor_report::check::MxEvidence,
    dane: Vec<DaneProbe>,
    ptr: Vec<PtrEvidence>,
    mta_sts: TxtLookup,
    mta_sts_policy: Option<PolicyFetchEvidence>,
}

/// The MTA-STS policy a sender would apply, when the fetch gave one (status 200, a certificate
/// that verifies, a policy that parses) in mode enforce or testing. Only to decide which MX
/// hosts need a session; the rules judge the fetch itself.
fn applied_policy(fetch: Option<&PolicyFetchEvidence>) -> Option<mtasts::Policy> {
    let f = fetch?;
    if f.status != Some(200) || f.certificate_error.is_some() {
        return None;
    }
    let policy = mtasts::parse_policy(std::str::from_utf8(&f.body).ok()?).ok()?;
    (policy.mode != mtasts::Mode::None).then_some(policy)
}

/// MX records and the MTA-STS policy at once, then what depends on them: DANE (TLSA, DNSSEC)
/// and port 25 of each MX host whose certificate senders verify (TLSA records, or named by an
/// MTA-STS policy), and reverse DNS.
async fn mx_side(opts: &DomainOptions, domain: &str, r: &HickoryResolver) -> MxSide {
    let mx_dns = async {
        let mut mx = crate::mx::lookup(domain, &opts.resolution, opts.timeout).await;
        if mx.failure.is_none() && !mx.null_mx {
            crate::dane::lookup(&mut mx, &opts.resolution, &opts.anchors, opts.timeout).await;
        }
        mx
    };
    let (mx, (mta_sts, mta_sts_policy)) = tokio::join!(mx_dns, self::mta_sts(opts, domain, r));
    let policy = applied_policy(mta_sts_policy.as_ref());
    let mut wanted = Vec::new();
    for record in mx
        .records
        .iter()
        .filter(|r| !mx.null_mx && !r.addresses.is_empty())
    {
        // A session is needed only where TLSA records (or a failed look-up) say something:
        // senders then compare the certificate, or defer.
        let tlsa = record.dane.as_ref().is_some_and(|e| {
            !(e.records.is_empty()
                && e.dnssec != Some(Dnssec::Bogus)
                && matches!(
                    e.failure,
                    None | Some(DnsFailure::NxDomain | DnsFailure::NoData)
                ))
        });
        let sts = policy
            .as_ref()
            .is_some_and(|p| p.mx.iter().any(|m| m.matches(&record.host)));
        if tlsa || sts {
            wanted.push((record.host.clone(), tlsa, sts, record.dane.clone()));
        }
    }
    let sessions = async {
        let mut out = Vec::new();
        for (host, tlsa, sts, dane) in wanted {
            let check = CheckOptions {
                host: host.clone(),
                port: 25,
                tls: TlsMode::Auto,
                helo: opts.helo.clone(),
                user: None,
                credential: None,
                auth_mechanism: None,
                from: None,
                to: Vec::new(),
                send: false,
                trust: opts.trust.clone(),
                insecure: false,
                resolution: opts.resolution.clone(),
                timeout: opts.timeout,
                deadline: opts.timeout * 4,
                sniff_after: opts.timeout.min(Duration::from_secs(2)),
                ports: Vec::new(),
                control: None,
                proxy: None,
                require_verified_tls: false,
                tlsa: dane.map(|e| e.records).unwrap_or_default(),
            };
            let progress = |_: &str| {};
            let run = run_check(&check, &progress).await;
            out.push(DaneProbe {
                host,
                port25: Some(Port25 {
                    target: run.target,
                    resolve: run.resolve,
                    sessions: run.sessions,
                    transcript: run.transcript,
                    trust_platform_missing: run.trust_platform_missing,
                    deadline_reached: run.deadline_reached,
                }),
                tlsa,
                mta_sts: sts,
            });
        }
        out
    };
    let mut subjects: Vec<(IpAddr, String)> = opts
        .ips
        .iter()
        .map(|ip| (*ip, "--ip".to_string()))
        .collect();
    for record in &mx.records {
        for a in &record.addresses {
            if let Ok(ip) = a.parse::<IpAddr>()
                && !subjects.iter().any(|(s, _)| *s == ip)
            {
                subjects.push((ip, format!("mx {}", record.host)));
            }
        }
    }
    let ptrs = async {
        let mut set = JoinSet::new();
        for (i, (ip, source)) in subjects.into_iter().enumerate() {
            let r = r.clone();
            let helo = opts.helo.clone().filter(|_| source == "--ip");
            set.spawn(async move { (i, ptr(&r, ip, source, helo).await) });
        }
        let mut ptrs: Vec<(usize, PtrEvidence)> = set.join_all().await;
        ptrs.sort_by_key(|(i, _)| *i);
        ptrs.into_iter().map(|(_, p)| p).collect()
    };
    let (dane, ptr) = tokio::join!(sessions, ptrs);
    MxSide {
        mx,
        dane,
        ptr,
        mta_sts,
        mta_sts_policy,
    }
}

fn not_public(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) if v4.is_loopback() => Some("a loopback address: receivers never see it"),
        IpAddr::V4(v4) if v4.is_private() || v4.is_link_local() => {
            Some("a private address: receivers on the Internet never see it")
        }
        IpAddr::V4(v4) if v4.is_unspecified() => Some("the unspecified address"),
        IpAddr::V6(v6) if v6.is_loopback() || v6.is_unspecified() => {
            Some("a loopback address: receivers never see it")
        }
        IpAddr::V6(v6) if (v6.segments()[0] & 0xfe00) == 0xfc00 => {
            Some("a private (unique local) address: receivers on the Internet never see it")
        }
        _ => None,
    }
}

async fn forward(r: &HickoryResolver, name: &str, ip: IpAddr) -> ForwardLookup {
    let (outcome, addresses) = match ip {
        IpAddr::V4(_) => {
            let l = r.a(name).await;
            let found = match &l {
                Lookup::Found(v) => v.iter().map(|a| IpAddr::V4(*a)).collect(),
                _ => Vec::new(),
            };
            (outcome(&l).0, found)
        }
        IpAddr::V6(_) => {
            let l = r.aaaa(name).await;
            let found = match &l {
                Lookup::Found(v) => v.iter().map(|a| IpAddr::V6(*a)).collect(),
                _ => Vec::new(),
            };
            (outcome(&l).0, found)
        }
    };
    ForwardLookup {
        name: name.to_string(),
        outcome,
        matches: addresses.contains(&ip),
        addresses: addresses.iter().map(|a| a.to_string()).collect(),
    }
}

/// PTR of one address and each name forward again (forward-confirmed reverse DNS), and the HELO
/// name's addresses.
async fn ptr(r: &HickoryResolver, ip: IpAddr, source: String, helo: Option<String>) -> PtrEvidence {
    let name = smtpdoctor_spf::eval::reverse_name(ip);
    let mut out = PtrEvidence {
        ip: ip.to_string(),
        source,
        name: name.clone(),
        outcome: None,
        detail: None,
        ptr: Vec::new(),
        forward: Vec::new(),
        helo: None,
        skipped: None,
    };
    if let Some(why) = not_public(ip) {
        out.skipped = Some(why.to_string());
        return out;
    }
    let l = r.ptr(&name).await;
    let (o, detail) = outcome(&l);
    out.outcome = Some(o);
    out.detail = detail;
    if let Lookup::Found(names) = l {
        out.ptr = names;
    }
    // Receivers check at most a handful; ten bounds a hostile answer.
    for n in out.ptr.clone().iter().take(10) {
        out.forward.push(forward(r, n, ip).await);
    }
    if let Some(h) = helo {
        out.helo = Some(forward(r, &h, ip).await);
    }
    out
}

/// The query name of an address under a list zone: reversed octets, or 32 reversed nibbles.
pub fn dnsbl_name(ip: IpAddr, zone: &str) -> String {
    let reverse = smtpdoctor_spf::eval::reverse_name(ip);
    let base = reverse
        .trim_end_matches("in-addr.arpa")
        .trim_end_matches("ip6.arpa");
    format!("{base}{zone}")
}

/// Answers worth asking once per run: the blocklists' RFC 5782 test entries and the `--ip`
/// addresses, which are the same for every domain of a `--domains` batch. One cell per name, so
/// domains checked at once wait for the first query instead of each sending their own.
#[derive(Debug, Default)]
pub struct Shared {
    dnsbl: std::sync::Mutex<HashMap<String, std::sync::Arc<tokio::sync::OnceCell<DnsblAnswer>>>>,
}

impl Shared {
    async fn dnsbl_answer(&self, r: &HickoryResolver, name: String) -> DnsblAnswer {
        let cell = self
            .dnsbl
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(name.clone())
            .or_default()
            .clone();
        cell.get_or_init(|| dnsbl_answer(r, name)).await.clone()
    }
}

async fn dnsbl_answer(r: &HickoryResolver, name: String) -> DnsblAnswer {
    let l = r.a(&name).await;
    let (outcome, detail) = outcome(&l);
    let codes: Vec<String> = match &l {
        Lookup::Found(v) => v.iter().map(|a| a.to_string()).collect(),
        _ => Vec::new(),
    };
    // The reason, for listed entries only: a TXT query per miss would double the traffic.
    let txt = if codes.is_empty() {
        Vec::new()
    } else {
        txt(r, &name).await.records
    };
    DnsblAnswer {
        name,
        outcome,
        detail,
        codes,
        txt,
    }
}

/// What one blocklist query is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    /// An RFC 5782 test entry: which of the zone's four slots it fills.
    Test(TestSlot),
    /// An `--ip` (the same for every domain of a run).
    Address,
    /// The domain itself under a domain list.
    Domain,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TestSlot {
    Listed,
    Unlisted,
    Listed6,
    Unlisted6,
}

async fn dnsbl(
    opts: &DomainOptions,
    domain: &str,
    r: &HickoryResolver,
    resolver: &str,
) -> DnsblEvidence {
    let mut zones = Vec::new();
    // (zone index, role, subject, query name) for each query, self-tests included.
    let mut queries: Vec<(usize, Role, String, String)> = Vec::new();
    let lists = opts
        .dnsbl
        .iter()
        .map(|z| (z, "ip"))
        .chain(opts.rhsbl.iter().map(|z| (z, "domain")));
    let any_v6 = opts.ips.iter().any(IpAddr::is_ipv6);
    for (zone, kind) in lists {
        let zone = zone.trim_end_matches('.').to_ascii_lowercase();
        let index = zones.len();
        zones.push(DnsblZone {
            zone: zone.clone(),
            kind: kind.to_string(),
            skipped: defunct(&zone).map(str::to_string),
            test_listed: None,
            test_unlisted: None,
            test6_listed: None,
            test6_unlisted: None,
        });
        if zones[index].skipped.is_some() {
            continue;
        }
        let mut test = |slot, name: String| {
            queries.push((index, Role::Test(slot), String::new(), name));
        };
        if kind == "ip" {
            // RFC 5782 section 5: 127.0.0.2 must be listed, 127.0.0.1 must not; for IPv6,
            // ::FFFF:7F00:2 and ::FFFF:7F00:1 in the 32-nibble form.
            test(
                TestSlot::Listed,
                dnsbl_name(Ipv4Addr::new(127, 0, 0, 2).into(), &zone),
            );
            test(
                TestSlot::Unlisted,
                dnsbl_name(Ipv4Addr::new(127, 0, 0, 1).into(), &zone),
            );
            if any_v6 {
                let mapped =
                    |last: u16| IpAddr::V6(Ipv6Addr::new(0, 0, 0, 0, 0, 0xffff, 0x7f00, last));
                test(TestSlot::Listed6, dnsbl_name(mapped(2), &zone));
                test(TestSlot::Unlisted6, dnsbl_name(mapped(1), &zone));
            }
            for ip in &opts.ips {
                queries.push((index, Role::Address, ip.to_string(), dnsbl_name(*ip, &zone)));
            }
        } else {
            test(TestSlot::Listed, format!("test.{zone}"));
            test(TestSlot::Unlisted, format!("invalid.{zone}"));
            queries.push((
                index,
                Role::Domain,
                domain.to_string(),
                format!("{domain}.{zone}"),
            ));
        }
    }
    let mut set = JoinSet::new();
    for (i, (_, role, _, name)) in queries.iter().enumerate() {
        let (r, name, shared, role) = (r.clone(), name.clone(), opts.shared.clone(), *role);
        set.spawn(async move {
            let answer = if role == Role::Domain {
                dnsbl_answer(&r, name).await
            } else {
                shared.dnsbl_answer(&r, name).await
            };
            (i, answer)
        });
    }
    let mut answers: Vec<(usize, DnsblAnswer)> = set.join_all().await;
    answers.sort_by_key(|(i, _)| *i);
    let mut out = DnsblEvidence {
        resolver: resolver.to_string(),
        zones: Vec::new(),
        queries: Vec::new(),
    };
    for ((zone_index, role, subject, _), (_, answer)) in queries.into_iter().zip(answers) {
        let z = &mut zones[zone_index];
        match role {
            Role::Test(TestSlot::Listed) => z.test_listed = Some(answer),
            Role::Test(TestSlot::Unlisted) => z.test_unlisted = Some(answer),
            Role::Test(TestSlot::Listed6) => z.test6_listed = Some(answer),
            Role::Test(TestSlot::Unlisted6) => z.test6_unlisted = Some(answer),
            Role::Address | Role::Domain => out.queries.push(DnsblQuery {
                subject,
                zone: z.zone.clone(),
                answer,
            }),
        }
    }
    out.zones = zones;
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocklist_names_reverse_octets_and_nibbles() {
        assert_eq!(
            dnsbl_name("192.0.2.99".parse().unwrap(), "bl.example"),
            "99.2.0.192.bl.example"
        );
        // RFC 5782 section 2.4: 32 nibbles, low-order first; the IPv6 test entry of section 5.
        assert_eq!(
            dnsbl_name("::ffff:7f00:2".parse().unwrap(), "bl.example"),
            "2.0.0.0.0.0.f.7.f.f.f.f.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.bl.example"
        );
        assert_eq!(
            dnsbl_name("2001:db8::1".parse().unwrap(), "bl.example"),
            "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.bl.example"
        );
    }

    #[test]
    fn defunct_lists_by_zone_and_parent() {
        assert!(defunct("dnsbl.sorbs.net").is_some());
        assert!(defunct("SORBS.NET.").is_some());
        assert!(defunct("zen.spamhaus.org").is_none());
    }
}
