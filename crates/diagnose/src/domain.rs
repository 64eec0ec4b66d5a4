//! Rules of `smtpdoctor domain`: what a receiver makes of a sending domain's DNS, check by
//! check. Pure functions from [`DomainEvidence`] to one [`DomainCheck`] per check (a status, the
//! findings, the evidence worth showing) and a verdict.
//!
//! The record checks themselves live in `smtpdoctor-records` (DMARC, DKIM, MTA-STS, TLS-RPT)
//! and `smtpdoctor-spf` (lint data); the MX analysis and the DANE rules are `check --mx`'s, so
//! the same situation gets the same finding id whichever command finds it. This module maps
//! their results onto the report's findings (severity, category, fix) and adds PTR and DNS
//! blocklists.

use crate::{CheckInput, DaneInput, diagnose_check, diagnose_mx};
use serde_json::{Value, json};
use smtpdoctor_records as records;
use smtpdoctor_records::TxtAnswer;
use smtpdoctor_report::check::{DaneStatus, DnsFailure};
use smtpdoctor_report::domain::*;
use smtpdoctor_report::{Category, Confidence, Finding, Retry, Severity, Status, Verdict};
use smtpdoctor_spf::Lint;
use smtpdoctor_spf::dns::Outcome;
use std::collections::HashMap;
use std::net::Ipv4Addr;

/// The rules' answer for one domain.
#[derive(Debug, Clone)]
pub struct DomainDiagnosis {
    /// The verdict.
    pub verdict: Verdict,
    /// Every finding of every check, problems first.
    pub findings: Vec<Finding>,
    /// The checks.
    pub body: DomainBody,
}

/// Judges the evidence of one domain.
pub fn diagnose_domain(e: &DomainEvidence) -> DomainDiagnosis {
    let checks = DomainChecks {
        mx: mx(e),
        spf: spf(e),
        dkim: dkim(e),
        dmarc: dmarc(e),
        mta_sts: mta_sts(e),
        tls_rpt: tls_rpt(e),
        dane: dane(e),
        ptr: ptr(e),
        dnsbl: dnsbl(e),
    };
    let mut findings: Vec<Finding> = checks
        .iter()
        .iter()
        .flat_map(|(_, c)| c.findings.iter().cloned())
        .collect();
    findings.sort_by_key(|f| std::cmp::Reverse(f.severity));
    let verdict = verdict(&e.target.domain, &checks);
    DomainDiagnosis {
        verdict,
        findings,
        body: DomainBody {
            domain: e.target.domain.clone(),
            resolver: e.resolver.clone(),
            checks,
        },
    }
}

/// Why a domain's checks did not run to their end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unfinished {
    /// The domain's bound passed while its look-ups were running.
    Deadline,
    /// The run's `--deadline` passed before the domain was started (`--domains`).
    NotStarted,
}

/// The report of a domain whose checks did not finish: every check `error`, the verdict
/// inconclusive, one finding that says which bound passed and how to give more time.
pub fn diagnose_unfinished(
    domain: &str,
    resolver: &str,
    why: Unfinished,
    bound: std::time::Duration,
) -> DomainDiagnosis {
    let secs = bound.as_secs_f64();
    let (id, word, summary, fix) = match why {
        Unfinished::Deadline => (
            "domain.deadline",
            "deadline",
            format!("{domain}: the checks did not finish within {secs:.0} s"),
            "Give more time (--deadline; with --domains each domain gets at most 8 x --timeout), or find the slow name server with `smtpdoctor domain` and a longer --timeout.",
        ),
        Unfinished::NotStarted => (
            "domain.not_checked",
            "not_started",
            format!("{domain}: not checked, the run's --deadline ({secs:.0} s) passed first"),
            "Give --deadline a larger value, or split the list.",
        ),
    };
    let finding = Finding::new(id, Severity::Warning, None, summary.clone()).fix(fix);
    let unfinished = || DomainCheck {
        status: CheckStatus::Error,
        summary: match why {
            Unfinished::Deadline => "not finished before the deadline".into(),
            Unfinished::NotStarted => "not checked".into(),
        },
        findings: vec![],
        details: json!({ "unfinished": word }),
    };
    let checks = DomainChecks {
        mx: unfinished(),
        spf: unfinished(),
        dkim: unfinished(),
        dmarc: unfinished(),
        mta_sts: unfinished(),
        tls_rpt: unfinished(),
        dane: unfinished(),
        ptr: unfinished(),
        dnsbl: unfinished(),
    };
    DomainDiagnosis {
        verdict: Verdict {
            status: Status::Inconclusive,
            category: None,
            retry: None,
            confidence: Confidence::Low,
            alternatives: vec![],
            summary,
            fix: finding.fix.clone(),
            evidence: vec![format!("finding:{id}")],
        },
        findings: vec![finding],
        body: DomainBody {
            domain: domain.to_string(),
            resolver: resolver.to_string(),
            checks,
        },
    }
}

/// The order in which problems name the verdict's category, after DNS ones: what a receiver
/// judges first (the connecting address's reputation, then the sender's authentication, then
/// reverse DNS), and last what only some senders enforce (DANE, MTA-STS).
const PRIORITY: [&str; 9] = [
    "mx", "dnsbl", "spf", "dkim", "dmarc", "ptr", "dane", "mta_sts", "tls_rpt",
];

/// Problems decide: the first one in DNS-first, then [`PRIORITY`] order names the category.
/// Without problems, checks that could not be evaluated make the verdict a DNS problem that
/// may pass by itself.
fn verdict(domain: &str, checks: &DomainChecks) -> Verdict {
    let all = checks.iter();
    let mut ranked = all.to_vec();
    ranked.sort_by_key(|(name, _)| PRIORITY.iter().position(|p| p == name));
    let problems: Vec<(&str, &Finding)> = ranked
        .iter()
        .flat_map(|(name, c)| c.findings.iter().map(move |f| (*name, f)))
        .filter(|(_, f)| f.severity == Severity::Problem)
        .collect();
    let failing: Vec<&str> = all
        .iter()
        .filter(|(_, c)| c.status == CheckStatus::Fail)
        .map(|(n, _)| *n)
        .collect();
    // A blocklist that cannot be asked says nothing about the domain's own DNS.
    let errors: Vec<&str> = all
        .iter()
        .filter(|(name, c)| c.status == CheckStatus::Error && *name != "dnsbl")
        .map(|(n, _)| *n)
        .collect();
    let first = problems
        .iter()
        .find(|(_, f)| f.category == Some(Category::Dns))
        .or_else(|| problems.first());
    if let Some((check, f)) = first {
        let mut summary = format!("{domain}: {} ({check})", f.summary);
        if problems.len() > 1 {
            summary.push_str(&format!(
                "; {} problem(s) in all, failing checks: {}",
                problems.len(),
                failing.join(", ")
            ));
        }
        return Verdict {
            status: Status::Problem,
            category: f.category,
            retry: Some(f.retry.unwrap_or(Retry::Permanent)),
            confidence: f.confidence,
            alternatives: f.alternatives.clone(),
            summary,
            fix: f.fix.clone(),
            evidence: vec![format!("finding:{}", f.id)],
        };
    }
    if !errors.is_empty() {
        return Verdict {
            status: Status::Problem,
            category: Some(Category::Dns),
            retry: Some(Retry::Temporary),
            confidence: Confidence::Medium,
            alternatives: vec![],
            summary: format!(
                "{domain}: could not evaluate {} (DNS look-ups failed); receivers that see the same failures defer or treat the records as absent",
                errors.join(", ")
            ),
            fix: vec![
                "Run again; if the failures stay, check that the domain's name servers answer every query (also with NXDOMAIN or NODATA) and that --dns names a working resolver.".into(),
            ],
            evidence: errors.iter().map(|c| format!("check:{c}")).collect(),
        };
    }
    let warnings = all
        .iter()
        .filter(|(_, c)| c.status == CheckStatus::Warn)
        .map(|(n, _)| *n)
        .collect::<Vec<_>>();
    let summary = if warnings.is_empty() {
        format!("{domain}: no check finds anything that blocks mail")
    } else {
        format!(
            "{domain}: nothing blocks mail; to improve: {}",
            warnings.join(", ")
        )
    };
    Verdict {
        status: Status::Ok,
        category: None,
        retry: None,
        confidence: Confidence::High,
        alternatives: vec![],
        summary,
        fix: vec![],
        evidence: vec![],
    }
}

/// A finding of the records crate in the report's shape.
fn from_record(f: &records::Finding, category: Category, check: &str) -> Finding {
    let severity = match f.severity {
        records::Severity::Fail => Severity::Problem,
        records::Severity::Warn => Severity::Warning,
        records::Severity::Info => Severity::Info,
    };
    let category = if f.id.ends_with(".lookup_error") || f.id.ends_with(".report_auth_unknown") {
        Category::Dns
    } else {
        category
    };
    let mut out = Finding::new(f.id, severity, Some(category), f.summary.clone())
        .evidence(format!("check:{check}"));
    if severity == Severity::Problem {
        out = out.retry(Retry::Permanent);
    }
    if let Some(fix) = &f.fix {
        out = out.fix(fix.clone());
    }
    out
}

fn status_of(s: records::Status) -> CheckStatus {
    match s {
        records::Status::Pass => CheckStatus::Pass,
        records::Status::Warn => CheckStatus::Warn,
        records::Status::Fail => CheckStatus::Fail,
        records::Status::Error => CheckStatus::Error,
        records::Status::None => CheckStatus::None,
    }
}

/// A status from findings: problems fail, DNS warnings are errors, warnings warn.
fn status_from(findings: &[Finding], none: bool) -> CheckStatus {
    if findings.iter().any(|f| f.severity == Severity::Problem) {
        CheckStatus::Fail
    } else if findings.iter().any(|f| {
        f.category == Some(Category::Dns)
            && f.severity == Severity::Warning
            && f.id.contains("lookup_error")
    }) {
        CheckStatus::Error
    } else if none {
        CheckStatus::None
    } else if findings.iter().any(|f| f.severity == Severity::Warning) {
        CheckStatus::Warn
    } else {
        CheckStatus::Pass
    }
}

fn check(
    status: CheckStatus,
    summary: String,
    mut findings: Vec<Finding>,
    details: Value,
) -> DomainCheck {
    findings.sort_by_key(|f| std::cmp::Reverse(f.severity));
    DomainCheck {
        status,
        summary,
        findings,
        details,
    }
}

/// What the records crate reads from a TXT look-up.
fn answer(t: &TxtLookup) -> TxtAnswer {
    match t.outcome {
        DnsOutcome::Answers => TxtAnswer::Records(t.records.clone()),
        DnsOutcome::NxDomain | DnsOutcome::NoData => TxtAnswer::NoRecord,
        DnsOutcome::Other => TxtAnswer::Error(
            t.detail
                .clone()
                .unwrap_or_else(|| "the look-up failed".into()),
        ),
        kind => TxtAnswer::Error(kind.describe().to_string()),
    }
}

fn outcome_word(o: &Outcome) -> String {
    match o {
        Outcome::Failed(text) => {
            format!("{} ({text})", DnsOutcome::from_error_text(text).describe())
        }
        Outcome::Timeout => DnsOutcome::Timeout.describe().to_string(),
        other => smtpdoctor_spf::eval::describe(other),
    }
}

// ------------------------------------------------------------------------------------------ MX

fn mx(e: &DomainEvidence) -> DomainCheck {
    let (findings, _) = diagnose_mx(&e.mx);
    let m = &e.mx;
    let status = match m.failure {
        Some(DnsFailure::NxDomain) => CheckStatus::Fail,
        Some(_) => CheckStatus::Error,
        None => status_from(&findings, false),
    };
    let summary = match (m.failure, m.null_mx, m.implicit) {
        (Some(DnsFailure::NxDomain), _, _) => format!("{} does not exist (NXDOMAIN)", m.domain),
        (Some(f), _, _) => format!("the MX look-up failed ({f:?})"),
        (None, true, _) => {
            "null MX: the domain receives no mail (and bounces to it cannot be delivered)".into()
        }
        (None, false, true) => "no MX record: mail goes to the domain's own address".into(),
        _ => m
            .records
            .iter()
            .map(|r| {
                format!(
                    "{} {} ({})",
                    r.preference,
                    r.host,
                    if r.addresses.is_empty() {
                        "no address".to_string()
                    } else {
                        r.addresses.join(", ")
                    }
                )
            })
            .collect::<Vec<_>>()
            .join("; "),
    };
    check(
        status,
        summary,
        findings,
        serde_json::to_value(m).unwrap_or(Value::Null),
    )
}

// ------------------------------------------------------------------------------------------ SPF

fn spf_finding(id: &str, severity: Severity, summary: String) -> Finding {
    let category = Category::SenderAuthFailure;
    let f = Finding::new(id, severity, Some(category), summary).evidence("check:spf");
    if severity == Severity::Problem {
        f.retry(Retry::Permanent)
    } else {
        f
    }
}

fn spf(e: &DomainEvidence) -> DomainCheck {
    let domain = &e.target.domain;
    let walk = &e.spf.walk;
    let trace = &walk.trace;
    let options = smtpdoctor_spf::Options::default();
    let mut findings = Vec::new();
    let mut none = false;
    for lint in smtpdoctor_spf::lints(trace, &options) {
        let f = match lint {
            Lint::NoRecord { domain } => {
                none = true;
                spf_finding("spf.none", Severity::Warning, format!("{domain} publishes no SPF record"))
                    .detail("Without SPF, receivers cannot tell your servers from forgers; Gmail, Yahoo and Microsoft require SPF or DKIM from every sender and both from bulk senders.")
                    .fix(format!("Publish TXT at {domain}: \"v=spf1 mx -all\", listing every server and service that sends for the domain (ip4:, ip6:, include:)."))
            }
            Lint::MultipleRecords { domain, records } => spf_finding("spf.multiple_records", Severity::Problem, format!("{domain} has {} SPF records: every receiver gets permerror", records.len()))
                .detail(format!("RFC 7208 section 4.5: more than one v=spf1 record is a permanent error, and DMARC then sees SPF fail. Records: {}", records.join(" | ")))
                .fix("Merge them into one TXT record starting with v=spf1, and delete the others."),
            Lint::Syntax { domain, record, error } => spf_finding("spf.syntax", Severity::Problem, format!("The SPF record of {domain} has a syntax error {error}: every receiver gets permerror"))
                .detail(format!("Record: {record}\n        {}^ {}", " ".repeat(error.position), error.message))
                .fix("Correct the term at that position (RFC 7208 section 12 has the grammar); receivers never skip a bad term."),
            Lint::PassAll { domain } => spf_finding("spf.pass_all", Severity::Problem, format!("The SPF record of {domain} ends in +all: anyone may send as the domain"))
                .detail("+all (or a bare all) authorises every address on the Internet, so SPF protects nothing and spam filters distrust the domain.")
                .fix("End the record with -all (or ~all while you check that every sender is listed)."),
            Lint::NeutralAll { domain } => spf_finding("spf.neutral_all", Severity::Warning, format!("The SPF record of {domain} ends in ?all: it says nothing about other senders"))
                .fix("End the record with ~all or -all once every sending server is listed."),
            Lint::NoAll { domain } => spf_finding("spf.no_all", Severity::Warning, format!("The SPF record of {domain} has no all and no redirect: unlisted senders get neutral"))
                .fix("End the record with -all (or ~all)."),
            Lint::TooManyLookups { total, limit } => spf_finding("spf.too_many_lookups", Severity::Problem, format!("The SPF policy of {domain} needs {total} DNS look-ups; the limit is {limit}: receivers get permerror"))
                .detail("RFC 7208 section 4.6.4: include, a, mx, ptr, exists and redirect each count, through every include. Past ten, check_host() stops with permerror, which DMARC counts as SPF failing. details.tree has the count per term.")
                .fix("Replace includes you no longer use, and a/mx terms, by ip4:/ip6: ranges; flatten rarely changing includes."),
            Lint::VoidLookup { domain, term, name, uses_macros } => spf_finding("spf.void_lookup", if uses_macros { Severity::Info } else { Severity::Warning }, format!("{term} in the SPF record of {domain} finds nothing ({name} has no records)"))
                .detail(if uses_macros { "The name comes from macros, so it may exist for real messages." } else { "A void look-up costs a query and counts toward the limit of two (RFC 7208 section 4.6.4)." })
                .fix(format!("Remove {term}, or make {name} exist.")),
            Lint::TooManyVoidLookups { total, limit } => spf_finding("spf.too_many_void_lookups", Severity::Problem, format!("The SPF policy of {domain} has {total} look-ups that find nothing; the limit is {limit}: receivers may get permerror"))
                .fix("Remove the terms that name domains without records."),
            Lint::Ptr { domain, term } => spf_finding("spf.ptr", Severity::Warning, format!("{term} in the SPF record of {domain}: ptr is slow and unreliable, RFC 7208 says not to use it"))
                .fix("Replace ptr by the ip4:/ip6: ranges of your servers."),
            Lint::MissingTarget { domain, term } => spf_finding("spf.missing_target", Severity::Problem, format!("{term} in the SPF record of {domain} names a domain without an SPF record: receivers get permerror"))
                .fix(format!("Remove {term}, or correct the name (a provider's documentation gives the include to use).")),
            Lint::Loop { domain, term } => spf_finding("spf.loop", Severity::Problem, format!("{term} in the SPF record of {domain} leads back into the policy: receivers get permerror"))
                .fix(format!("Remove {term}.")),
            Lint::TooManyMx { domain, term, count } => spf_finding("spf.too_many_mx", Severity::Problem, format!("{term} in the SPF record of {domain} names {count} MX hosts; more than 10 is a permerror"))
                .fix("Use ip4:/ip6: ranges instead of mx."),
            Lint::DnsFailure { domain, term, outcome } => Finding::new("spf.lookup_error", Severity::Warning, Some(Category::Dns), format!("A DNS look-up for the SPF policy failed{}{}: {}", term.map(|t| format!(" at {t}")).unwrap_or_default(), if domain.is_empty() { String::new() } else { format!(" (record of {domain})") }, outcome_word(&outcome)))
                .detail("Receivers get temperror and usually defer the message.")
                .fix("Check that the name servers answer TXT, A and MX queries for the names the policy uses.")
                .evidence("check:spf"),
            Lint::TooLongForUdp { domain, bytes } => spf_finding("spf.udp_size", Severity::Warning, format!("The TXT answer at {domain} is {bytes} bytes, over the 512 a UDP answer without EDNS holds"))
                .fix("Shorten the TXT records at that name (RFC 7208 section 3.4)."),
        };
        findings.push(f);
    }
    let mut results = Vec::new();
    for r in &e.spf.results {
        let ev = &r.evaluation;
        use smtpdoctor_spf::SpfResult::*;
        let ip = r.ip;
        let why = ev
            .problem
            .as_ref()
            .map(|p| p.message.clone())
            .unwrap_or_default();
        let f = match ev.result {
            Pass => Some(spf_finding("spf.ip_pass", Severity::Info, format!("SPF passes for {ip}"))),
            Fail => Some(spf_finding("spf.ip_fail", Severity::Problem, format!("SPF fails for {ip}: the domain's policy does not authorise it"))
                .detail(format!("check_host({ip}, {domain}, {}) = fail{}. Receivers reject or junk such mail, and DMARC fails unless DKIM passes aligned.", r.sender, ev.explanation.as_ref().map(|x| format!(" (explanation: {x})")).unwrap_or_default()))
                .fix(format!("Add ip{}:{ip} (or the include of the service that sends from it) to the SPF record of {domain}.", if ip.is_ipv4() { 4 } else { 6 }))),
            SoftFail => Some(spf_finding("spf.ip_softfail", Severity::Warning, format!("SPF soft-fails for {ip}: the policy says it is probably not authorised"))
                .fix(format!("Add ip{}:{ip} to the SPF record of {domain}, or send through a listed server.", if ip.is_ipv4() { 4 } else { 6 }))),
            Neutral => Some(spf_finding("spf.ip_neutral", Severity::Warning, format!("SPF is neutral for {ip}: the policy neither authorises nor refuses it"))
                .fix(format!("List {ip} in the SPF record of {domain} if it sends for the domain."))),
            PermError => Some(spf_finding("spf.ip_permerror", Severity::Problem, format!("SPF for {ip} ends in permerror: {why}"))
                .fix("Fix the policy (see the other SPF findings); until then receivers treat SPF as failed.")),
            TempError => Some(Finding::new("spf.lookup_error", Severity::Warning, Some(Category::Dns), format!("SPF for {ip} ends in temperror: {why}")).evidence("check:spf")),
            None => Option::None,
        };
        findings.extend(f);
        results.push(json!({
            "ip": ip.to_string(),
            "helo": r.helo,
            "sender": r.sender,
            "result": ev.result.as_str(),
            "problem": ev.problem.as_ref().map(|p| p.message.clone()),
            "explanation": ev.explanation,
            "lookups": ev.lookups,
            "void_lookups": ev.void_lookups,
        }));
    }
    let status = status_from(
        &findings,
        none && findings.iter().all(|f| f.id == "spf.none"),
    );
    let record = trace.spf_records.first().cloned();
    let summary = match (&record, status) {
        (None, CheckStatus::None) => format!("no SPF record at {domain}"),
        (None, _) => "no usable SPF record".to_string(),
        (Some(r), _) => format!(
            "{r} ({} of 10 DNS look-ups, {} void)",
            walk.lookups, walk.void_lookups
        ),
    };
    let tree: Vec<Value> = smtpdoctor_spf::lookup_counts(trace)
        .into_iter()
        .map(|c| json!({"depth": c.depth, "domain": c.domain, "term": c.term, "own": c.own, "nested": c.nested, "void": c.void}))
        .collect();
    let details = json!({
        "record": record,
        "records": trace.spf_records,
        "lookup": trace.txt.as_ref().map(outcome_word),
        "lookups": walk.lookups,
        "lookup_limit": options.lookup_limit,
        "void_lookups": walk.void_lookups,
        "void_limit": options.void_limit,
        "tree": tree,
        "results": results,
    });
    check(status, summary, findings, details)
}

// ----------------------------------------------------------------------------------------- DKIM

fn dkim(e: &DomainEvidence) -> DomainCheck {
    let domain = &e.target.domain;
    let mut findings = Vec::new();
    let mut statuses = Vec::new();
    let mut selectors = Vec::new();
    let mut guessed_errors = 0;
    let mut guessed_total = 0;
    for (name, guessed, lookup) in &e.dkim {
        let sel = records::dkim::Selector {
            name: name.clone(),
            guessed: *guessed,
        };
        let c = records::dkim::check_dkim(domain, &sel, &answer(lookup));
        let mut status = status_of(c.status);
        if *guessed {
            guessed_total += 1;
            // A guess that finds nothing (or fails) proves nothing.
            if matches!(status, CheckStatus::None | CheckStatus::Error) {
                if status == CheckStatus::Error {
                    guessed_errors += 1;
                }
                continue;
            }
        }
        let mut own: Vec<Finding> = c
            .findings
            .iter()
            .map(|f| from_record(f, Category::SenderAuthFailure, "dkim"))
            .collect();
        if !guessed && status == CheckStatus::None {
            // The user says mail is signed with this selector: without its key, every signature fails.
            for f in own.iter_mut().filter(|f| f.id == "dkim.none") {
                f.severity = Severity::Problem;
                f.retry = Some(Retry::Permanent);
                f.summary = format!(
                    "No DKIM key at {name}._domainkey.{domain}: signatures with selector {name} fail"
                );
            }
            status = CheckStatus::Fail;
        }
        statuses.push(status);
        findings.extend(own);
        let key = c.record.as_ref();
        selectors.push(json!({
            "selector": name,
            "guessed": guessed,
            "name": lookup.name,
            "outcome": lookup.outcome,
            "status": status,
            "key_type": key.map(|k| k.key_type),
            "key_bits": key.and_then(|k| k.key_bits),
            "revoked": key.map(|k| k.revoked()),
            "testing": key.map(|k| k.testing()),
        }));
    }
    let status = if statuses.contains(&CheckStatus::Fail) {
        CheckStatus::Fail
    } else if statuses.contains(&CheckStatus::Error) {
        CheckStatus::Error
    } else if statuses.contains(&CheckStatus::Warn) {
        CheckStatus::Warn
    } else if statuses.contains(&CheckStatus::Pass) {
        CheckStatus::Pass
    } else if guessed_total > 0 && guessed_errors == guessed_total {
        findings.push(
            Finding::new(
                "dkim.lookup_error",
                Severity::Warning,
                Some(Category::Dns),
                format!("Every DKIM look-up under _domainkey.{domain} failed"),
            )
            .evidence("check:dkim"),
        );
        CheckStatus::Error
    } else if e.dkim.is_empty() {
        // `--dkim-guess none` without `--dkim-selector`: nothing was asked, so nothing to say.
        CheckStatus::None
    } else {
        findings.push(
            Finding::new("dkim.no_key_found", Severity::Info, Some(Category::SenderAuthFailure), format!("No DKIM key found at {guessed_total} common selectors of {domain}"))
                .detail("DKIM keys live at SELECTOR._domainkey.DOMAIN and selectors can be anything, so a missing guess proves nothing.")
                .fix("Give the selector your mail is signed with: --dkim-selector S (the s= tag of the DKIM-Signature header of a message you sent).")
                .evidence("check:dkim"),
        );
        CheckStatus::None
    };
    let found: Vec<String> = selectors
        .iter()
        .filter(|s| s["key_type"] != Value::Null)
        .map(|s| s["selector"].as_str().unwrap_or_default().to_string())
        .collect();
    let summary = if e.dkim.is_empty() {
        "not checked (no selector given, none guessed)".to_string()
    } else if found.is_empty() {
        "no DKIM key found".to_string()
    } else {
        format!("keys at {}", found.join(", "))
    };
    check(
        status,
        summary,
        findings,
        json!({ "selectors": selectors, "guessed_tried": guessed_total }),
    )
}

// ---------------------------------------------------------------------------------------- DMARC

fn dmarc(e: &DomainEvidence) -> DomainCheck {
    let domain = &e.target.domain;
    let map: HashMap<&str, TxtAnswer> = e
        .dmarc
        .iter()
        .map(|t| (t.name.as_str(), answer(t)))
        .collect();
    let lookup = |name: &str| map.get(name).cloned().unwrap_or(TxtAnswer::NoRecord);
    let discovery = records::walk::discover_policy(domain, lookup);
    let org = records::walk::organizational_domain(domain, lookup);
    let own = e.dmarc.first().map(answer).unwrap_or(TxtAnswer::NoRecord);
    let mut findings = Vec::new();
    let (c, at) = match (&own, &discovery.outcome) {
        (TxtAnswer::NoRecord, records::walk::Outcome::Found(found)) => {
            let c = records::dmarc::check_record(&found.domain, Some(&org.domain), &found.text);
            let policy = found.record.effective_sp().map_or("none", |p| p.as_str());
            findings.push(
                Finding::new("dmarc.inherited", Severity::Info, Some(Category::SenderAuthFailure), format!("No DMARC record at _dmarc.{domain}: the record of {} applies (policy for subdomains: {policy})", found.domain))
                    .detail("RFC 9989 tree walk: receivers use the first valid record on the way up.")
                    .evidence("check:dmarc"),
            );
            (c, found.domain.clone())
        }
        (TxtAnswer::NoRecord, records::walk::Outcome::Error { name, error }) => {
            let c = records::dmarc::check_dmarc(
                name.trim_start_matches("_dmarc."),
                None,
                &TxtAnswer::Error(error.clone()),
            );
            (c, name.trim_start_matches("_dmarc.").to_string())
        }
        _ => (
            records::dmarc::check_dmarc(domain, Some(&org.domain), &own),
            domain.clone(),
        ),
    };
    let mut status = status_of(c.status);
    for f in &c.findings {
        let mut f = from_record(f, Category::SenderAuthFailure, "dmarc");
        if f.id == "dmarc.none" {
            f.severity = Severity::Warning;
            f.detail = "Gmail and Yahoo require a DMARC record from bulk senders (since 2024), and without one receivers decide alone what to do with forged mail.".into();
        }
        findings.push(f);
    }
    let mut reports = Vec::new();
    if let (Some(record), records::walk::Outcome::Found(found)) = (&c.record, &discovery.outcome) {
        let _ = record;
        for auth in
            records::dmarc::external_destinations(&found.domain, Some(&org.domain), &found.record)
        {
            let Some(t) = e.dmarc_reports.iter().find(|t| t.name == auth.query) else {
                continue;
            };
            let f = records::dmarc::check_report_authorisation(&auth, &answer(t));
            reports.push(json!({"destination": auth.destination, "query": auth.query, "authorised": f.id == "dmarc.report_authorised"}));
            findings.push(from_record(&f, Category::SenderAuthFailure, "dmarc"));
        }
    }
    if status == CheckStatus::Pass && findings.iter().any(|f| f.severity == Severity::Warning) {
        status = CheckStatus::Warn;
    }
    let summary = match &c.record {
        Some(r) => format!(
            "p={} at _dmarc.{at}{}",
            r.p.map_or("?", |p| p.as_str()),
            r.sp.map(|p| format!(", sp={}", p.as_str()))
                .unwrap_or_default()
        ),
        None => match status {
            CheckStatus::None => format!("no DMARC record at _dmarc.{domain} or above"),
            CheckStatus::Error => "the DMARC look-up failed".into(),
            _ => format!("the DMARC record at _dmarc.{at} is not valid"),
        },
    };
    let queried: Vec<Value> = e
        .dmarc
        .iter()
        .map(|t| json!({"name": t.name, "outcome": t.outcome, "records": t.records}))
        .collect();
    let details = json!({
        "found_at": c.record.as_ref().map(|_| format!("_dmarc.{at}")),
        "record": c.record,
        "organizational_domain": org.domain,
        "queried": queried,
        "report_authorisation": reports,
    });
    check(status, summary, findings, details)
}

// -------------------------------------------------------------------------------------- MTA-STS

fn mx_hosts(e: &DomainEvidence) -> Option<Vec<String>> {
    (e.mx.failure.is_none() && !e.mx.null_mx)
        .then(|| e.mx.records.iter().map(|r| r.host.clone()).collect())
}

fn mta_sts(e: &DomainEvidence) -> DomainCheck {
    let domain = &e.target.domain;
    let fetch = match &e.mta_sts_policy {
        None => records::mtasts::PolicyFetch::NotFetched,
        Some(p) if p.failure.is_some() => {
            records::mtasts::PolicyFetch::Failed(p.failure.clone().unwrap_or_default())
        }
        Some(p) => records::mtasts::PolicyFetch::Response(records::mtasts::PolicyResponse {
            status: p.status.unwrap_or(0),
            location: p.location.clone(),
            content_type: p.content_type.clone(),
            body: p.body.clone(),
            certificate_error: p.certificate_error.clone(),
        }),
    };
    let hosts = mx_hosts(e);
    let c = records::mtasts::check_mtasts(domain, &answer(&e.mta_sts), &fetch, hosts.as_deref());
    let findings: Vec<Finding> = c
        .findings
        .iter()
        .map(|f| from_record(f, Category::TlsCertificate, "mta_sts"))
        .collect();
    let status = status_of(c.status);
    let policy = c.record.as_ref().and_then(|m| m.policy.as_ref());
    let coverage: Vec<Value> = match (policy, &hosts) {
        (Some(p), Some(hosts)) => hosts
            .iter()
            .map(|h| json!({"host": h, "covered": p.mx.iter().any(|m| m.matches(h))}))
            .collect(),
        _ => vec![],
    };
    let mut findings = findings;
    let mut mx_tls = Vec::new();
    if let Some(p) = policy.filter(|p| p.mode != records::mtasts::Mode::None) {
        let enforce = p.mode == records::mtasts::Mode::Enforce;
        for probe in e.dane.iter().filter(|p| p.mta_sts) {
            let (state, finding) = mx_certificate(e, probe, enforce);
            mx_tls.push(json!({"host": probe.host, "tls": state.0, "detail": state.1}));
            findings.extend(finding);
        }
    }
    findings.sort_by_key(|f| std::cmp::Reverse(f.severity));
    let status = if findings.iter().any(|f| f.severity == Severity::Problem) {
        CheckStatus::Fail
    } else if status == CheckStatus::Pass
        && findings.iter().any(|f| f.severity == Severity::Warning)
    {
        CheckStatus::Warn
    } else {
        status
    };
    let summary = match (&c.record, policy) {
        (Some(_), Some(p)) => format!(
            "mode {:?}, max_age {}, mx {}",
            p.mode,
            p.max_age,
            p.mx.iter()
                .map(|m| m.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )
        .to_lowercase(),
        (Some(m), None) => format!("id {} announced; the policy could not be used", m.record.id),
        _ => match status {
            CheckStatus::None => "no MTA-STS record".into(),
            CheckStatus::Error => "the MTA-STS look-up failed".into(),
            _ => "the MTA-STS record is not valid".into(),
        },
    };
    let details = json!({
        "record": e.mta_sts.records.iter().find(|r| r.starts_with("v=STSv1")),
        "lookup": {"name": e.mta_sts.name, "outcome": e.mta_sts.outcome},
        "fetch": e.mta_sts_policy,
        "policy": policy,
        "mx_coverage": coverage,
        "mx_tls": mx_tls,
    });
    check(status, summary, findings, details)
}

/// What port 25 of an MX host named by the MTA-STS policy showed: `(state, detail)` for the
/// report and, when senders that apply the policy cannot deliver there, the finding. RFC 8461
/// section 4: those senders need STARTTLS and a certificate that verifies by the Web PKI for
/// the MX host name; in mode testing they deliver anyway and report.
fn mx_certificate(
    e: &DomainEvidence,
    probe: &DaneProbe,
    enforce: bool,
) -> ((&'static str, Option<String>), Option<Finding>) {
    let host = &probe.host;
    let sessions = probe.port25.as_ref().map_or(&[][..], |p| &p.sessions[..]);
    let connected = sessions.iter().any(|s| s.banner.is_some());
    let tls = sessions.iter().find_map(|s| s.tls.as_ref());
    let dane_ok =
        e.mx.records
            .iter()
            .find(|r| &r.host == host)
            .and_then(|r| r.dane.as_ref())
            .is_some_and(|d| {
                !d.records.is_empty() && d.dnssec == Some(smtpdoctor_report::check::Dnssec::Secure)
            });
    mx_tls_verdict(host, connected, tls, dane_ok, enforce)
}

/// [`mx_certificate`] on the pieces that decide it.
fn mx_tls_verdict(
    host: &str,
    connected: bool,
    tls: Option<&smtpdoctor_report::check::TlsEvidence>,
    dane_ok: bool,
    enforce: bool,
) -> ((&'static str, Option<String>), Option<Finding>) {
    let (severity, retry, mode) = if enforce {
        (Severity::Problem, Some(Retry::Permanent), "enforce")
    } else {
        (Severity::Warning, None, "testing")
    };
    let consequence = if enforce {
        "senders that apply the policy do not deliver to it"
    } else {
        "in mode testing senders still deliver, and report the failure"
    };
    let also = if dane_ok {
        " Senders that validate DNSSEC use the host's TLSA records instead (DANE comes first, RFC 8461 section 2) and are not affected."
    } else {
        ""
    };
    let finding = |id: &str, summary: String, detail: String, fix: String| {
        let mut f = Finding::new(id, severity, Some(Category::TlsCertificate), summary)
            .detail(format!("{detail}{also}"))
            .fix(fix)
            .evidence("check:mta_sts");
        f.retry = retry;
        f
    };
    if !connected {
        // Outbound port 25 is blocked on many networks: not being able to look is no finding
        // about the domain.
        let f = Finding::new("mtasts.mx_not_checked", Severity::Info, Some(Category::TlsCertificate), format!("The certificate of {host} (named by the MTA-STS policy) could not be checked: its port 25 did not answer from here"))
            .detail("Run `smtpdoctor check --mx` for the reason; many networks block outbound port 25.")
            .evidence("check:mta_sts");
        return (("no connection", None), Some(f));
    }
    let Some(tls) = tls else {
        return (
            ("no starttls", None),
            Some(finding(
                "mtasts.mx_no_starttls",
                format!(
                    "{host} does not offer STARTTLS, which the MTA-STS policy ({mode}) requires: {consequence}"
                ),
                format!(
                    "The policy promises TLS with a verified certificate for every MX it names; {host} offered no STARTTLS on port 25."
                ),
                format!(
                    "Enable STARTTLS on {host} with a certificate for its name from a public CA."
                ),
            )),
        );
    };
    match &tls.verification {
        Some(v) if v.verified => (("verified", None), None),
        Some(v) => {
            let why = v.detail.clone().unwrap_or_else(|| "not verified".into());
            (
                ("not verified", Some(why.clone())),
                Some(finding(
                    "mtasts.mx_certificate",
                    format!(
                        "The certificate of {host} does not verify for its name ({why}): with the MTA-STS policy in mode {mode}, {consequence}"
                    ),
                    format!(
                        "RFC 8461 section 4.1: the MX host's certificate must chain to a trusted root and name the host ({}). Checked against: {}.",
                        v.name,
                        v.trust.join(", ")
                    ),
                    format!(
                        "Serve a certificate for {host} from a public CA, with the full chain (or take the host out of the policy's mx lines, and bump the id)."
                    ),
                )),
            )
        }
        None => {
            let why = tls
                .detail
                .clone()
                .unwrap_or_else(|| "the handshake failed".into());
            (
                ("handshake failed", Some(why.clone())),
                Some(finding(
                    "mtasts.mx_tls_failed",
                    format!(
                        "TLS with {host} fails ({why}): with the MTA-STS policy in mode {mode}, {consequence}"
                    ),
                    format!("{host} offers STARTTLS but the handshake did not complete."),
                    format!(
                        "Fix TLS on {host} (`smtpdoctor check {host}:25` shows the handshake)."
                    ),
                )),
            )
        }
    }
}

// -------------------------------------------------------------------------------------- TLS-RPT

fn tls_rpt(e: &DomainEvidence) -> DomainCheck {
    let domain = &e.target.domain;
    let c = records::tlsrpt::check_tlsrpt(domain, &answer(&e.tls_rpt));
    // A broken TLS-RPT record loses reports, never mail: at most a warning.
    let findings: Vec<Finding> = c
        .findings
        .iter()
        .map(|f| {
            let mut f = from_record(f, Category::TlsCertificate, "tls_rpt");
            if f.severity == Severity::Problem {
                f.severity = Severity::Warning;
                f.retry = None;
            }
            if f.category == Some(Category::TlsCertificate) {
                f.category = None;
            }
            f
        })
        .collect();
    let mut findings = findings;
    let mut status = status_of(c.status);
    // With MTA-STS or DANE, senders refuse to deliver when TLS fails; TLS-RPT is how the
    // domain hears about it (RFC 8460 section 1), so its absence is worth a warning there.
    let announces_sts = e.mta_sts.records.iter().any(|r| r.starts_with("v=STSv1"));
    let has_tlsa =
        e.mx.records
            .iter()
            .any(|r| r.dane.as_ref().is_some_and(|d| !d.records.is_empty()));
    if status == CheckStatus::None && (announces_sts || has_tlsa) {
        let what = match (announces_sts, has_tlsa) {
            (true, true) => "MTA-STS and DANE",
            (true, false) => "MTA-STS",
            _ => "DANE",
        };
        for f in findings.iter_mut().filter(|f| f.id == "tlsrpt.none") {
            f.severity = Severity::Warning;
            f.summary = format!(
                "{domain} uses {what} but publishes no TLS-RPT record: nobody hears when senders cannot deliver over TLS"
            );
            f.detail = "Senders that apply MTA-STS or DANE do not deliver when TLS or the certificate fails; with a TLS-RPT record (RFC 8460) they send a daily report of such failures.".into();
        }
        status = CheckStatus::Warn;
    }
    let summary = match &c.record {
        Some(r) => format!("reports to {}", r.uris().collect::<Vec<_>>().join(", ")),
        None => match status {
            CheckStatus::None | CheckStatus::Warn => "no TLS-RPT record".into(),
            CheckStatus::Error => "the TLS-RPT look-up failed".into(),
            _ => "the TLS-RPT record is not valid".into(),
        },
    };
    let details = json!({"lookup": {"name": e.tls_rpt.name, "outcome": e.tls_rpt.outcome, "records": e.tls_rpt.records}, "record": c.record});
    check(status, summary, findings, details)
}

// ----------------------------------------------------------------------------------------- DANE

fn dane(e: &DomainEvidence) -> DomainCheck {
    let mut findings = Vec::new();
    let mut hosts = Vec::new();
    let mut statuses = Vec::new();
    for probe in e.dane.iter().filter(|p| p.tlsa) {
        let Some(record) = e.mx.records.iter().find(|r| r.host == probe.host) else {
            continue;
        };
        let Some(evidence) = &record.dane else {
            continue;
        };
        let input = DaneInput {
            host: &record.host,
            domain: &e.mx.domain,
            evidence,
            mx_dnssec: e.mx.dnssec,
        };
        let (status, mut own) = match &probe.port25 {
            Some(p) => {
                let d = diagnose_check(CheckInput {
                    target: &p.target,
                    resolve: p.resolve.as_ref(),
                    sessions: &p.sessions,
                    transcript: &p.transcript,
                    credentials_given: false,
                    trust_platform_missing: p.trust_platform_missing,
                    deadline_reached: p.deadline_reached,
                    ports: &[],
                    strict_tls: false,
                    dane: Some(input),
                });
                let own: Vec<Finding> = d
                    .findings
                    .into_iter()
                    .filter(|f| f.id.starts_with("dane."))
                    .collect();
                (d.dane.unwrap_or(DaneStatus::NotChecked), own)
            }
            None => (crate::dane_status(input, None), vec![]),
        };
        if status == DaneStatus::NotChecked {
            own.push(
                Finding::new("dane.not_checked", Severity::Warning, Some(Category::TlsCertificate), format!("The TLSA records of {} could not be compared: its port 25 presented no certificate", record.host))
                    .detail("The connection to port 25 failed or TLS did not start; run `smtpdoctor check --mx` for the reason.")
                    .evidence("mx"),
            );
        }
        let s = match status {
            DaneStatus::Authenticated => CheckStatus::Pass,
            DaneStatus::Mismatch | DaneStatus::NoTls | DaneStatus::Bogus => CheckStatus::Fail,
            DaneStatus::LookupFailed => CheckStatus::Error,
            DaneStatus::None => CheckStatus::None,
            _ => CheckStatus::Warn,
        };
        statuses.push(s);
        findings.append(&mut own);
        let presented = probe
            .port25
            .as_ref()
            .and_then(|p| p.sessions.iter().find_map(|s| s.tls.as_ref()))
            .and_then(|t| t.chain.first())
            .map(|c| c.spki_sha256.clone());
        hosts.push(json!({
            "host": record.host,
            "tlsa_name": evidence.name,
            "dnssec": evidence.dnssec,
            "records": evidence.records,
            "status": status,
            "presented_spki_sha256": presented,
        }));
    }
    // RFC 7672 authenticates each MX host on its own: a sender that cannot reach a host with
    // TLSA records delivers to one without them over TLS nobody verifies, so DANE protects the
    // domain only as far as its least protected MX.
    let with_tlsa: Vec<&str> = hosts
        .iter()
        .filter(|h| h["status"] == "authenticated")
        .filter_map(|h| h["host"].as_str())
        .collect();
    if let Some(f) = dane_partial(&e.mx, &with_tlsa) {
        findings.push(f);
        statuses.push(CheckStatus::Warn);
    }
    let status = [
        CheckStatus::Fail,
        CheckStatus::Error,
        CheckStatus::Warn,
        CheckStatus::Pass,
    ]
    .into_iter()
    .find(|s| statuses.contains(s))
    .unwrap_or(CheckStatus::None);
    let summary = if hosts.is_empty() {
        "no MX host publishes TLSA records".to_string()
    } else {
        hosts
            .iter()
            .map(|h| {
                format!(
                    "{}: {}",
                    h["host"].as_str().unwrap_or_default(),
                    h["status"].as_str().unwrap_or_default()
                )
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    check(
        status,
        summary,
        findings,
        json!({"mx_dnssec": e.mx.dnssec, "trust_anchors": e.mx.trust_anchors, "hosts": hosts}),
    )
}

/// `dane.partial`: some MX hosts are DANE-authenticated (`authenticated`), others with an
/// address have no TLSA records at all.
fn dane_partial(
    mx: &smtpdoctor_report::check::MxEvidence,
    authenticated: &[&str],
) -> Option<Finding> {
    let without: Vec<&str> = mx
        .records
        .iter()
        .filter(|r| !r.addresses.is_empty())
        .filter(|r| {
            r.dane.as_ref().is_some_and(|d| {
                d.records.is_empty()
                    && matches!(
                        d.failure,
                        None | Some(DnsFailure::NxDomain | DnsFailure::NoData)
                    )
            })
        })
        .map(|r| r.host.as_str())
        .collect();
    if authenticated.is_empty() || without.is_empty() {
        return None;
    }
    Some(
        Finding::new("dane.partial", Severity::Warning, Some(Category::TlsCertificate), format!("DANE protects {} but not {}: mail can be diverted to the MX without TLSA records", authenticated.join(", "), without.join(", ")))
            .detail("Senders authenticate each MX host by its own TLSA records (RFC 7672 section 2.2). An attacker who blocks the DANE-protected hosts gets the mail delivered to the others over TLS that nobody verifies.")
            .fix(format!("Publish TLSA records (_25._tcp.HOST) for {} as well, in a signed zone.", without.join(", ")))
            .evidence("check:dane"),
    )
}

// ------------------------------------------------------------------------------------------ PTR

fn ptr_finding(id: &str, severity: Severity, summary: String) -> Finding {
    let f = Finding::new(id, severity, Some(Category::SpamOrPolicyBlock), summary)
        .evidence("check:ptr");
    if severity == Severity::Problem {
        f.retry(Retry::Permanent)
    } else {
        f
    }
}

fn ptr(e: &DomainEvidence) -> DomainCheck {
    let mut findings = Vec::new();
    let mut looked = 0;
    for p in &e.ptr {
        let sending = p.source == "--ip";
        // Receivers judge the addresses that connect to them: an MX address only matters when
        // the same host sends, so its gaps are warnings.
        let serious = if sending {
            Severity::Problem
        } else {
            Severity::Warning
        };
        let who = if sending {
            p.ip.clone()
        } else {
            format!("{} ({})", p.ip, p.source)
        };
        if let Some(why) = &p.skipped {
            findings.push(ptr_finding(
                "ptr.skipped",
                Severity::Info,
                format!("{who} not looked up: {why}"),
            ));
            continue;
        }
        looked += 1;
        match p.outcome {
            Some(o) if o.failed() => findings.push(
                Finding::new("ptr.lookup_error", Severity::Warning, Some(Category::Dns), format!("The PTR look-up of {who} failed: {}", o.describe()))
                    .detail(format!("{}: {}", p.name, p.detail.clone().unwrap_or_default()))
                    .evidence("check:ptr"),
            ),
            Some(DnsOutcome::NxDomain | DnsOutcome::NoData) | None => findings.push(
                ptr_finding("ptr.missing", serious, format!("{who} has no PTR record (reverse DNS)"))
                    .detail(format!("{} answered {}. Gmail, Microsoft and most receivers reject or junk mail from addresses without reverse DNS that points back to them.", p.name, p.outcome.map_or("nothing", DnsOutcome::describe)))
                    .fix(format!("Ask whoever owns {} (the hosting provider or ISP) to set its PTR to the server's host name, and give that name an A/AAAA record with this address.", p.ip)),
            ),
            _ => {
                let confirmed: Vec<&ForwardLookup> = p.forward.iter().filter(|f| f.matches).collect();
                if confirmed.is_empty() {
                    findings.push(
                        ptr_finding("ptr.not_confirmed", serious, format!("The PTR of {who} ({}) does not resolve back to it", p.ptr.join(", ")))
                            .detail(format!("Forward-confirmed reverse DNS fails: {}. Receivers treat such addresses like ones without PTR.", p.forward.iter().map(|f| format!("{} -> {}", f.name, if f.addresses.is_empty() { f.outcome.describe().to_string() } else { f.addresses.join(", ") })).collect::<Vec<_>>().join("; ")))
                            .fix(format!("Give {} an A/AAAA record with {}, or change the PTR to a name that has it.", p.ptr.first().cloned().unwrap_or_default(), p.ip)),
                    );
                } else {
                    findings.push(ptr_finding("ptr.confirmed", Severity::Info, format!("{who} has reverse DNS {} that resolves back to it", confirmed[0].name)));
                }
                if p.ptr.len() > 1 {
                    findings.push(ptr_finding("ptr.multiple", Severity::Warning, format!("{who} has {} PTR records; receivers may check only one", p.ptr.len())).fix("Keep one PTR record per address."));
                }
            }
        }
        if let Some(h) = &p.helo {
            let is_ptr = p.ptr.iter().any(|n| n.eq_ignore_ascii_case(&h.name));
            if !h.matches {
                findings.push(
                    ptr_finding("ptr.helo_mismatch", Severity::Warning, format!("The HELO name {} does not resolve to {}", h.name, p.ip))
                        .detail(format!("{} -> {}. Receivers check that the EHLO name resolves to the connecting address; many score or reject a mismatch.", h.name, if h.addresses.is_empty() { h.outcome.describe().to_string() } else { h.addresses.join(", ") }))
                        .fix(format!("Send as a name that resolves to {} (ideally its PTR name{}).", p.ip, p.ptr.first().map(|n| format!(", {n}")).unwrap_or_default())),
                );
            } else if !is_ptr && !p.ptr.is_empty() {
                findings.push(ptr_finding(
                    "ptr.helo_not_ptr",
                    Severity::Info,
                    format!(
                        "The HELO name {} resolves to {} but is not its PTR name ({})",
                        h.name,
                        p.ip,
                        p.ptr.join(", ")
                    ),
                ));
            }
        }
    }
    let status = status_from(&findings, looked == 0);
    let summary = if e.ptr.is_empty() {
        "no address to look up (give --ip)".to_string()
    } else {
        e.ptr
            .iter()
            .map(|p| {
                format!(
                    "{} -> {}",
                    p.ip,
                    if let Some(s) = &p.skipped {
                        format!("skipped ({})", s.split(':').next().unwrap_or(s))
                    } else if p.ptr.is_empty() {
                        p.outcome.map_or("?", DnsOutcome::describe).to_string()
                    } else {
                        p.ptr.join(", ")
                    }
                )
            })
            .collect::<Vec<_>>()
            .join("; ")
    };
    check(status, summary, findings, json!({"addresses": e.ptr}))
}

// -------------------------------------------------------------------------------------- DNSBL

/// Return codes whose meaning lists publish (shared/corpora/auth/dnsbl/return-codes.json).
const CODES: &[(&str, &str, &str)] = &[
    (
        "zen.spamhaus.org",
        "127.0.0.2",
        "SBL: a spam source or spam operation",
    ),
    (
        "zen.spamhaus.org",
        "127.0.0.3",
        "SBL CSS: automated low-reputation (snowshoe) listing",
    ),
    (
        "zen.spamhaus.org",
        "127.0.0.4",
        "XBL: an exploited or infected host",
    ),
    ("zen.spamhaus.org", "127.0.0.9", "SBL DROP"),
    (
        "zen.spamhaus.org",
        "127.0.0.10",
        "PBL (ISP): the range should not send directly to MX",
    ),
    (
        "zen.spamhaus.org",
        "127.0.0.11",
        "PBL (Spamhaus): the range should not send directly to MX",
    ),
    ("zen.spamhaus.org", "127.0.0.30", "BCL: a botnet controller"),
    (
        "dbl.spamhaus.org",
        "127.0.1.2",
        "a low-reputation (spam) domain",
    ),
    ("dbl.spamhaus.org", "127.0.1.4", "a phishing domain"),
    ("dbl.spamhaus.org", "127.0.1.5", "a malware domain"),
    ("dbl.spamhaus.org", "127.0.1.6", "a botnet C&C domain"),
    ("bl.mailspike.net", "127.0.0.10", "worst reputation"),
    ("bl.mailspike.net", "127.0.0.11", "very bad reputation"),
    ("bl.mailspike.net", "127.0.0.12", "bad reputation"),
];

/// An answer that is an error, not a listing: Spamhaus's 127.255.255.0/24 (refused: public
/// resolver, volume, typo, key) and the DBL's 127.0.1.255 (an address asked of a domain list).
fn error_code(code: &str) -> Option<&'static str> {
    match code {
        "127.255.255.254" => {
            Some("the list refuses queries that come through a public or open resolver")
        }
        "127.255.255.255" => Some("the list refuses this resolver: too many queries"),
        "127.255.255.252" => Some("the list says the zone name is wrong"),
        "127.255.255.250" | "127.255.255.251" => Some("the list refused the query key"),
        "127.0.1.255" => Some("an address was asked of a domain list"),
        c if c.starts_with("127.255.255.") => Some("the list refused the query"),
        _ => None,
    }
}

fn listing(code: &str) -> bool {
    code.parse::<Ipv4Addr>().is_ok_and(|a| a.octets()[0] == 127) && error_code(code).is_none()
}

fn dnsbl_finding(id: &str, severity: Severity, category: Category, summary: String) -> Finding {
    let f = Finding::new(id, severity, Some(category), summary).evidence("check:dnsbl");
    if severity == Severity::Problem {
        f.retry(Retry::Permanent)
    } else {
        f
    }
}

/// The RFC 5782 test entries of one address family: `(listed, unlisted, their words)`.
fn test_pair(z: &DnsblZone, v6: bool) -> Option<(&DnsblAnswer, &DnsblAnswer, (&str, &str))> {
    if v6 {
        Some((
            z.test6_listed.as_ref()?,
            z.test6_unlisted.as_ref()?,
            ("::FFFF:7F00:2", "::FFFF:7F00:1"),
        ))
    } else {
        let words = if z.kind == "domain" {
            ("test", "invalid")
        } else {
            ("127.0.0.2", "127.0.0.1")
        };
        Some((z.test_listed.as_ref()?, z.test_unlisted.as_ref()?, words))
    }
}

/// Whether a zone passed its RFC 5782 self-test (for IPv6 addresses when `v6`): None when it
/// did, else the finding. An IPv4 list that does not list the IPv6 test entry simply does not
/// cover IPv6: an info, not a broken list.
fn self_test(z: &DnsblZone, resolver: &str, v6: bool) -> Option<Finding> {
    let (listed, unlisted, (must, must_not)) = test_pair(z, v6)?;
    let zone = &z.zone;
    let family = if v6 { " for IPv6" } else { "" };
    if let Some(why) = listed.codes.iter().find_map(|c| error_code(c)) {
        return Some(dnsbl_finding("dnsbl.refused", Severity::Warning, Category::Dns, format!("{zone} refused the queries from this resolver ({resolver}){family}: {why}"))
            .detail(format!("{} answered {}: an error code, not a listing. Nothing can be said about the addresses on this list.", listed.name, listed.codes.join(", ")))
            .fix("Query the list through your own recursive resolver (not 8.8.8.8, 1.1.1.1 or a cloud provider's shared one), or with a Spamhaus DQS key.")
            .fix("Or give --dns with a resolver the list accepts."));
    }
    if listed.outcome.failed() || unlisted.outcome.failed() {
        let o = if listed.outcome.failed() {
            listed
        } else {
            unlisted
        };
        return Some(
            dnsbl_finding(
                "dnsbl.zone_error",
                Severity::Warning,
                Category::Dns,
                format!(
                    "{zone} could not be queried{family}: {}",
                    o.outcome.describe()
                ),
            )
            .detail(format!(
                "{}: {}",
                o.name,
                o.detail.clone().unwrap_or_default()
            )),
        );
    }
    if !listed.codes.iter().any(|c| listing(c)) {
        if v6 && listed.codes.is_empty() {
            return Some(dnsbl_finding("dnsbl.no_ipv6", Severity::Info, Category::BlacklistedIp, format!("{zone} does not list IPv6 addresses: its answers for IPv6 addresses are not used"))
                .detail(format!("{} answered {}; a list that covers IPv6 lists {must} (RFC 5782 section 5).", listed.name, listed.outcome.describe()))
                .fix("Add a list that covers IPv6 to --dnsbl if you send over IPv6 (zen.spamhaus.org does)."));
        }
        return Some(dnsbl_finding("dnsbl.self_test_failed", Severity::Warning, Category::Dns, format!("{zone} does not list its RFC 5782 test entry {must}{family}; its answers are not used"))
            .detail(format!("{} answered {}; a working list answers 127.0.0.2 (RFC 5782 section 5). The zone may be gone or may not answer this resolver.", listed.name, if listed.codes.is_empty() { listed.outcome.describe().to_string() } else { listed.codes.join(", ") }))
            .fix("Check the zone name, or drop it from --dnsbl."));
    }
    if !unlisted.codes.is_empty() {
        return Some(dnsbl_finding("dnsbl.lists_everything", Severity::Warning, Category::Dns, format!("{zone} lists its never-listed test entry {must_not}{family}: it answers for every address, its answers are not used"))
            .detail(format!("{} answered {} where RFC 5782 section 5 says NXDOMAIN; a list that was shut down often does this.", unlisted.name, unlisted.codes.join(", ")))
            .fix("Drop the zone from --dnsbl."));
    }
    None
}

fn dnsbl(e: &DomainEvidence) -> DomainCheck {
    dnsbl_check(&e.dnsbl)
}

fn dnsbl_check(ev: &DnsblEvidence) -> DomainCheck {
    let mut findings = Vec::new();
    let mut usable = HashMap::new();
    let mut zone_errors = 0;
    let mut queried = 0;
    for z in &ev.zones {
        if let Some(why) = &z.skipped {
            findings.push(
                dnsbl_finding(
                    "dnsbl.defunct",
                    Severity::Info,
                    Category::BlacklistedIp,
                    format!("{} is not queried: {why}", z.zone),
                )
                .fix(format!("Drop {} from --dnsbl.", z.zone)),
            );
            continue;
        }
        queried += 1;
        match self_test(z, &ev.resolver, false) {
            None => {
                // IPv6 addresses use the zone only when it passes the IPv6 test too.
                let v6 = match self_test(z, &ev.resolver, true) {
                    None => true,
                    Some(f) => {
                        findings.push(f);
                        false
                    }
                };
                usable.insert(z.zone.as_str(), v6);
            }
            Some(f) => {
                zone_errors += 1;
                findings.push(f);
            }
        }
    }
    let mut listed = Vec::new();
    for q in &ev.queries {
        let v6 = q.subject.parse::<std::net::Ipv6Addr>().is_ok();
        match usable.get(q.zone.as_str()) {
            Some(v6_usable) if !v6 || *v6_usable => {}
            _ => continue,
        }
        let a = &q.answer;
        let domain_list = ev
            .zones
            .iter()
            .any(|z| z.zone == q.zone && z.kind == "domain");
        if let Some(why) = a.codes.iter().find_map(|c| error_code(c)) {
            findings.push(
                dnsbl_finding(
                    "dnsbl.refused",
                    Severity::Warning,
                    Category::Dns,
                    format!("{} refused the query for {}: {why}", q.zone, q.subject),
                )
                .detail(format!(
                    "{} answered {}: an error code, never a listing.",
                    a.name,
                    a.codes.join(", ")
                )),
            );
            continue;
        }
        if a.outcome.failed() {
            findings.push(dnsbl_finding(
                "dnsbl.lookup_error",
                Severity::Warning,
                Category::Dns,
                format!(
                    "The {} look-up of {} failed: {}",
                    q.zone,
                    q.subject,
                    a.outcome.describe()
                ),
            ));
            continue;
        }
        let codes: Vec<&String> = a.codes.iter().filter(|c| listing(c)).collect();
        if codes.is_empty() {
            if !a.codes.is_empty() {
                findings.push(dnsbl_finding(
                    "dnsbl.unexpected_answer",
                    Severity::Warning,
                    Category::Dns,
                    format!(
                        "{} answered {} for {}: not a list code (127.x)",
                        q.zone,
                        a.codes.join(", "),
                        q.subject
                    ),
                ));
            }
            continue;
        }
        let meaning: Vec<String> = codes
            .iter()
            .map(|c| {
                CODES
                    .iter()
                    .find(|(z, code, _)| *z == q.zone && code == c)
                    .map_or_else(|| c.to_string(), |(_, _, m)| format!("{c}: {m}"))
            })
            .collect();
        let pbl_only = codes.iter().all(|c| {
            q.zone.ends_with("spamhaus.org")
                && (c.as_str() == "127.0.0.10" || c.as_str() == "127.0.0.11")
        });
        let reason = if a.txt.is_empty() {
            String::new()
        } else {
            format!(" The list says: {}", a.txt.join(" "))
        };
        let f = if pbl_only {
            dnsbl_finding("dnsbl.policy_listed", Severity::Warning, Category::BlacklistedIp, format!("{} is in the Spamhaus PBL: receivers refuse it when it sends directly to MX", q.subject))
                .detail(format!("{} ({}). The PBL lists address ranges that should send through their provider's server; it is normal for home and dynamic addresses.{reason}", a.name, meaning.join("; ")))
                .fix("Send through your provider's submission server (port 587 with authentication) instead of directly, or ask the ISP to remove the range from the PBL if it is a server's static address.")
        } else if domain_list {
            dnsbl_finding("dnsbl.domain_listed", Severity::Problem, Category::BlacklistedIp, format!("{} is listed on {} ({})", q.subject, q.zone, meaning.join("; ")))
                .detail(format!("{} answered {}.{reason} Receivers reject or junk mail that names a listed domain.", a.name, a.codes.join(", ")))
                .fix(format!("Find out why (the list's lookup page for {}), stop the cause, then ask the list for removal.", q.subject))
        } else {
            dnsbl_finding("dnsbl.listed", Severity::Problem, Category::BlacklistedIp, format!("{} is listed on {} ({})", q.subject, q.zone, meaning.join("; ")))
                .detail(format!("{} answered {}.{reason} Receivers that use the list refuse mail from this address.", a.name, a.codes.join(", ")))
                .fix(format!("Find out why (the list's lookup page for {}): a compromised account, an open relay or a spam run; stop it first.", q.subject))
                .fix("Then ask the list for removal; most remove clean addresses within a day.")
        };
        listed.push(json!({"subject": q.subject, "zone": q.zone, "codes": a.codes, "txt": a.txt}));
        findings.push(f);
    }
    let status = if queried == 0 {
        CheckStatus::None
    } else if findings.iter().any(|f| f.severity == Severity::Problem) {
        CheckStatus::Fail
    } else if zone_errors == queried || findings.iter().any(|f| f.id == "dnsbl.lookup_error") {
        CheckStatus::Error
    } else if findings.iter().any(|f| f.severity == Severity::Warning) {
        CheckStatus::Warn
    } else {
        CheckStatus::Pass
    };
    let subjects = ev
        .queries
        .iter()
        .map(|q| q.subject.clone())
        .collect::<std::collections::BTreeSet<_>>();
    let summary = format!(
        "{} listing(s) of {} over {} usable of {} list(s), through {}",
        listed.len(),
        subjects.into_iter().collect::<Vec<_>>().join(", "),
        usable.len(),
        ev.zones.len(),
        ev.resolver
    );
    let mut details = serde_json::to_value(ev).unwrap_or(Value::Null);
    details["listed"] = Value::Array(listed);
    check(status, summary, findings, details)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(name: &str, codes: &[&str]) -> DnsblAnswer {
        DnsblAnswer {
            name: name.into(),
            outcome: if codes.is_empty() {
                DnsOutcome::NxDomain
            } else {
                DnsOutcome::Answers
            },
            detail: None,
            codes: codes.iter().map(|c| c.to_string()).collect(),
            txt: vec![],
        }
    }

    /// A zone that passes the IPv4 test; its IPv6 test entry listed or not.
    fn zone(name: &str, v6_listed: Option<bool>) -> DnsblZone {
        DnsblZone {
            zone: name.into(),
            kind: "ip".into(),
            skipped: None,
            test_listed: Some(answer("2.0.0.127", &["127.0.0.2"])),
            test_unlisted: Some(answer("1.0.0.127", &[])),
            test6_listed: v6_listed
                .map(|l| answer("2.0...v6", if l { &["127.0.0.2"] } else { &[] })),
            test6_unlisted: v6_listed.map(|_| answer("1.0...v6", &[])),
        }
    }

    fn query(subject: &str, zone: &str, codes: &[&str]) -> DnsblQuery {
        DnsblQuery {
            subject: subject.into(),
            zone: zone.into(),
            answer: answer(subject, codes),
        }
    }

    fn ids(c: &DomainCheck) -> Vec<&str> {
        c.findings.iter().map(|f| f.id.as_str()).collect()
    }

    #[test]
    fn ipv6_addresses_use_only_lists_that_pass_the_ipv6_test() {
        let ev = DnsblEvidence {
            resolver: "127.0.0.1:53".into(),
            zones: vec![zone("six.test", Some(true)), zone("four.test", Some(false))],
            queries: vec![
                query("2001:db8::25", "six.test", &["127.0.0.2"]),
                // A list without IPv6 that answers anyway (a wildcard) is not believed.
                query("2001:db8::25", "four.test", &["127.0.0.2"]),
                query("192.0.2.1", "four.test", &[]),
            ],
        };
        let c = dnsbl_check(&ev);
        assert_eq!(c.status, CheckStatus::Fail);
        let listed: Vec<&Finding> = c
            .findings
            .iter()
            .filter(|f| f.id == "dnsbl.listed")
            .collect();
        assert_eq!(listed.len(), 1, "{:?}", ids(&c));
        assert!(listed[0].summary.contains("six.test"));
        let info = c.findings.iter().find(|f| f.id == "dnsbl.no_ipv6").unwrap();
        assert_eq!(info.severity, Severity::Info);
        assert!(info.summary.starts_with("four.test"));
    }

    #[test]
    fn an_ipv6_test_entry_listing_everything_is_a_broken_list() {
        let mut z = zone("world6.test", Some(true));
        z.test6_unlisted = Some(answer("1.0...v6", &["127.0.0.2"]));
        let ev = DnsblEvidence {
            resolver: "system".into(),
            zones: vec![z],
            queries: vec![query("2001:db8::25", "world6.test", &["127.0.0.2"])],
        };
        let c = dnsbl_check(&ev);
        assert_eq!(ids(&c), vec!["dnsbl.lists_everything"]);
        assert!(c.findings[0].summary.contains("::FFFF:7F00:1"));
        assert_eq!(c.status, CheckStatus::Warn);
    }

    #[test]
    fn mx_hosts_named_by_an_mta_sts_policy_need_starttls_and_a_verified_certificate() {
        use smtpdoctor_report::check::{CertVerification, TlsEvidence};
        let verification = |verified: bool| CertVerification {
            verified,
            problem: None,
            detail: (!verified)
                .then(|| "certificate not valid for name \"mx.example.test\"".into()),
            name: "mx.example.test".into(),
            trust: vec!["platform".into()],
        };
        let tls = |v: Option<CertVerification>| TlsEvidence {
            verification: v,
            detail: Some("received fatal alert: HandshakeFailure".into()),
            ..Default::default()
        };
        let good = tls(Some(verification(true)));
        let (state, f) = mx_tls_verdict("mx.example.test", true, Some(&good), false, true);
        assert_eq!((state.0, f.is_none()), ("verified", true));

        let bad = tls(Some(verification(false)));
        let (state, f) = mx_tls_verdict("mx.example.test", true, Some(&bad), false, true);
        let f = f.unwrap();
        assert_eq!(
            (state.0, f.id.as_str(), f.severity),
            ("not verified", "mtasts.mx_certificate", Severity::Problem)
        );
        assert_eq!(f.category, Some(Category::TlsCertificate));
        assert_eq!(f.retry, Some(Retry::Permanent));
        // Mode testing: senders still deliver, a warning.
        let (_, f) = mx_tls_verdict("mx.example.test", true, Some(&bad), false, false);
        assert_eq!(f.unwrap().severity, Severity::Warning);
        // DANE-capable senders are not affected, and the detail says so.
        let (_, f) = mx_tls_verdict("mx.example.test", true, Some(&bad), true, true);
        assert!(f.unwrap().detail.contains("DNSSEC"));

        let (state, f) = mx_tls_verdict("mx.example.test", true, None, false, true);
        assert_eq!(
            (state.0, f.unwrap().id.as_str()),
            ("no starttls", "mtasts.mx_no_starttls")
        );
        let failed = tls(None);
        let (state, f) = mx_tls_verdict("mx.example.test", true, Some(&failed), false, true);
        assert_eq!(
            (state.0, f.unwrap().id.as_str()),
            ("handshake failed", "mtasts.mx_tls_failed")
        );
        let (state, f) = mx_tls_verdict("mx.example.test", false, None, false, true);
        let f = f.unwrap();
        assert_eq!(
            (state.0, f.id.as_str(), f.severity),
            ("no connection", "mtasts.mx_not_checked", Severity::Info)
        );
    }

    #[test]
    fn dane_on_some_mx_hosts_only_is_partial() {
        use smtpdoctor_report::check::{DaneEvidence, Dnssec, MxEvidence, MxRecord};
        let record = |host: &str, tlsa: bool| MxRecord {
            preference: 10,
            host: host.into(),
            cname: None,
            addresses: vec!["192.0.2.25".into()],
            failure: None,
            dane: Some(DaneEvidence {
                name: format!("_25._tcp.{host}"),
                dnssec: Some(Dnssec::Secure),
                records: if tlsa {
                    serde_json::from_value(
                        json!([{"usage": 3, "selector": 1, "matching": 1, "data": "00"}]),
                    )
                    .unwrap()
                } else {
                    vec![]
                },
                failure: (!tlsa).then_some(DnsFailure::NxDomain),
                detail: None,
                zone: None,
                address_dnssec: None,
                ms: 0,
            }),
        };
        let mx = |records| MxEvidence {
            domain: "example.test".into(),
            records,
            null_mx: false,
            implicit: false,
            failure: None,
            mta_sts: None,
            dnssec: Some(Dnssec::Secure),
            trust_anchors: vec![],
            ms: 0,
        };
        let both = mx(vec![
            record("mx1.example.test", true),
            record("mx2.example.test", false),
        ]);
        let f = dane_partial(&both, &["mx1.example.test"]).unwrap();
        assert_eq!(
            (f.id.as_str(), f.severity),
            ("dane.partial", Severity::Warning)
        );
        assert!(f.summary.contains("not mx2.example.test"));
        assert!(dane_partial(&both, &[]).is_none());
        let all = mx(vec![
            record("mx1.example.test", true),
            record("mx2.example.test", true),
        ]);
        assert!(dane_partial(&all, &["mx1.example.test", "mx2.example.test"]).is_none());
    }

    #[test]
    fn refusal_codes_are_never_listings() {
        let ev = DnsblEvidence {
            resolver: "8.8.8.8:53".into(),
            zones: vec![zone("zen.spamhaus.org", None)],
            queries: vec![query("192.0.2.1", "zen.spamhaus.org", &["127.255.255.254"])],
        };
        let c = dnsbl_check(&ev);
        assert_eq!(ids(&c), vec!["dnsbl.refused"]);
        assert_ne!(c.status, CheckStatus::Fail);
    }
}
