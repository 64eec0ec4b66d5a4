//! Discovery for `setup`: the look-ups a mail client makes to find an address's submission
//! server — DNS SRV (RFC 6186, RFC 8314), the autoconfig file, and the domain's MX and SPF
//! records (which name the provider or sending service behind a custom domain), Thunderbird's ISP
//! database, and the autoconfig file and ISP database entry of the MX's domain. All run at once,
//! each bounded by the step timeout. What the records mean is decided by the rules.

use crate::target::{self, Resolution};
use crate::tls::Trust;
use hickory_resolver::proto::rr::RData;
use smtpdoctor_records::psl::PublicSuffixList;
use smtpdoctor_report::check::MxEvidence;
use smtpdoctor_report::check::TlsMode;
use smtpdoctor_report::setup::{Setting, SourceKind, SourceReport, SourceStatus, SrvRecord};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Everything discovery found.
#[derive(Debug, Clone)]
pub struct Discovery {
    /// SRV, autoconfig and ISP database sources, in the order they are trusted.
    pub sources: Vec<SourceReport>,
    /// The domain's MX hosts by preference (empty when none or the look-up failed).
    pub mx_hosts: Vec<String>,
    /// What the MX look-up gave, in a line.
    pub mx_detail: String,
    /// How long the MX look-up took.
    pub mx_ms: u64,
    /// The domain names the SPF record includes (`include:` and `redirect=`).
    pub spf_includes: Vec<String>,
    /// What the SPF look-up gave, in a line.
    pub spf_detail: String,
    /// How long the SPF look-up took.
    pub spf_ms: u64,
}

/// What discovery may ask beyond the domain's own DNS and web server.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Thunderbird's ISP database, or None to keep the domain from that third party.
    pub ispdb: Option<crate::autoconfig::Ispdb>,
    /// The Public Suffix List for the MX's base domain (None: the last two labels).
    pub psl: Option<Arc<PublicSuffixList>>,
}

/// The system's Public Suffix List, when one is installed.
pub fn system_psl() -> Option<Arc<PublicSuffixList>> {
    let text = std::fs::read_to_string(smtpdoctor_records::psl::SYSTEM_LIST).ok()?;
    let list = PublicSuffixList::parse(&text);
    (!list.is_empty()).then(|| Arc::new(list))
}

/// Runs every look-up for `address` at once; the MX's domains are asked as soon as the MX is
/// known.
///
/// Each source is bounded on its own by `until`: one that is still running then becomes a row
/// that says so, and every source that finished is kept.
pub async fn discover(
    address: &str,
    domain: &str,
    how: &Resolution,
    trust: &Trust,
    timeout: Duration,
    options: &Options,
    until: Instant,
) -> Discovery {
    let ispdb_own = async {
        match &options.ispdb {
            Some(base) => {
                crate::autoconfig::ispdb(base, domain, address, None, how, trust, timeout).await
            }
            None => not_asked(
                SourceKind::Ispdb,
                format!("ISP database entry for {domain}"),
                "not asked (--no-ispdb)",
            ),
        }
    };
    // The MX look-up resolves each MX host in turn: bound it as a whole, like the others.
    let mx_chain = async {
        let mx_until = until.min(Instant::now() + timeout * 2);
        let mx = tokio::time::timeout_at(
            tokio::time::Instant::from_std(mx_until),
            crate::mx::lookup(domain, how, timeout),
        )
        .await;
        let mx_sources = match &mx {
            Ok(m) if !m.null_mx && !m.implicit && m.failure.is_none() => {
                bounded(
                    until,
                    for_mx(m, address, domain, how, trust, timeout, options),
                    || {
                        vec![late(
                            SourceKind::AutoconfigMx,
                            format!("autoconfig of {domain}'s MX domain"),
                        )]
                    },
                )
                .await
            }
            _ => vec![not_asked(
                SourceKind::AutoconfigMx,
                format!("autoconfig of {domain}'s MX domain"),
                "no MX host to ask about",
            )],
        };
        (mx, mx_sources)
    };
    let (submissions, submission, autoconfig, ispdb, (mx, mx_sources), spf) = tokio::join!(
        bounded(until, srv(domain, true, how, timeout), || late(
            SourceKind::Srv,
            format!("_submissions._tcp.{domain} SRV")
        )),
        bounded(until, srv(domain, false, how, timeout), || late(
            SourceKind::Srv,
            format!("_submission._tcp.{domain} SRV")
        )),
        bounded(
            until,
            crate::autoconfig::lookup(domain, address, how, trust, timeout),
            || vec![late(
                SourceKind::Autoconfig,
                format!("autoconfig files of {domain}")
            )]
        ),
        bounded(until, ispdb_own, || late(
            SourceKind::Ispdb,
            format!("ISP database entry for {domain}")
        )),
        mx_chain,
        bounded(until, spf(domain, how, timeout), || (
            Vec::new(),
            LATE.to_string(),
            0
        )),
    );
    let mut sources = vec![submissions, submission];
    // Thunderbird's order: the domain's own file, the ISP database, then the MX's domain.
    sources.extend(
        autoconfig
            .iter()
            .filter(|s| s.kind == SourceKind::Autoconfig)
            .cloned(),
    );
    sources.push(ispdb);
    sources.extend(mx_sources);
    sources.extend(
        autoconfig
            .into_iter()
            .filter(|s| s.kind != SourceKind::Autoconfig),
    );
    let Ok(mx) = mx else {
        return Discovery {
            sources,
            mx_hosts: Vec::new(),
            mx_detail: "the MX look-up did not finish in time".into(),
            mx_ms: (timeout * 2).as_millis() as u64,
            spf_includes: spf.0,
            spf_detail: spf.1,
            spf_ms: spf.2,
        };
    };
    let mx_hosts: Vec<String> = if mx.null_mx || mx.implicit {
        Vec::new()
    } else {
        mx.records.iter().map(|r| r.host.clone()).collect()
    };
    let mx_detail = if let Some(f) = mx.failure {
        format!("the MX look-up failed ({f:?})")
    } else if mx.null_mx {
        "null MX: the domain takes no mail".to_string()
    } else if mx_hosts.is_empty() {
        "no MX record".to_string()
    } else {
        format!("MX {}", mx_hosts.join(", "))
    };
    Discovery {
        sources,
        mx_hosts,
        mx_detail,
        mx_ms: mx.ms,
        spf_includes: spf.0,
        spf_detail: spf.1,
        spf_ms: spf.2,
    }
}

/// Thunderbird's "forMX" step: the lowest-preference MX host's base domain and the name one
/// label longer, each asked for its autoconfig file (HTTPS only) and its ISP database entry,
/// all at once.
async fn for_mx(
    mx: &MxEvidence,
    address: &str,
    domain: &str,
    how: &Resolution,
    trust: &Trust,
    timeout: Duration,
    options: &Options,
) -> Vec<SourceReport> {
    // The lowest preference value is the host mail goes to first.
    let Some(first) = mx.records.iter().min_by_key(|r| r.preference) else {
        return vec![not_asked(
            SourceKind::AutoconfigMx,
            format!("autoconfig of {domain}'s MX domain"),
            "no MX host to ask about",
        )];
    };
    let domains = crate::autoconfig::mx_domains(&first.host, domain, options.psl.as_deref());
    if domains.is_empty() {
        return vec![not_asked(
            SourceKind::AutoconfigMx,
            format!("autoconfig of the domain of MX {}", first.host),
            &format!("the MX {} is in {domain} itself", first.host),
        )];
    }
    let how_found = if options.psl.is_some() {
        "its domain by the Public Suffix List"
    } else {
        "no Public Suffix List installed: its domain taken as the last two labels"
    };
    let ask = |d: String| async move {
        let ispdb = async {
            match &options.ispdb {
                Some(base) => {
                    crate::autoconfig::ispdb(base, &d, address, Some(&d), how, trust, timeout).await
                }
                None => {
                    let mut s = not_asked(
                        SourceKind::IspdbMx,
                        format!("ISP database entry for {d}"),
                        "not asked (--no-ispdb)",
                    );
                    s.scope = Some(d.clone());
                    s
                }
            }
        };
        let (file, entry) = tokio::join!(
            crate::autoconfig::for_mx(&d, address, how, trust, timeout),
            ispdb
        );
        [file, entry]
    };
    // At most two domains: the base domain and the name one label longer.
    let mut it = domains.into_iter();
    let (a, b) = (it.next(), it.next());
    let (mut files, more) = match (a, b) {
        (Some(a), Some(b)) => {
            let (x, y) = tokio::join!(ask(a), ask(b));
            (x.to_vec(), y.to_vec())
        }
        (Some(a), None) => (ask(a).await.to_vec(), Vec::new()),
        _ => (Vec::new(), Vec::new()),
    };
    files.extend(more);
    // Autoconfig files first, then the database entries (Thunderbird's order within forMX).
    files.sort_by_key(|s| s.kind);
    for s in &mut files {
        s.detail = format!("MX {} ({how_found}): {}", first.host, s.detail);
    }
    files
}

/// What a source still running at the discovery deadline says.
const LATE: &str = "did not finish before the deadline (still waiting for an answer)";

/// Waits for `work` until `until`; after that, what `late` makes.
async fn bounded<T>(
    until: Instant,
    work: impl std::future::Future<Output = T>,
    late: impl FnOnce() -> T,
) -> T {
    tokio::time::timeout_at(tokio::time::Instant::from_std(until), work)
        .await
        .unwrap_or_else(|_| late())
}

/// The row of a source that did not finish before the discovery deadline.
fn late(kind: SourceKind, query: String) -> SourceReport {
    let mut s = not_asked(kind, query, LATE);
    s.status = SourceStatus::Failed;
    s
}

/// A source that was not asked (or did not finish), with why: status `skipped`, nothing found.
pub(crate) fn not_asked(kind: SourceKind, query: String, why: &str) -> SourceReport {
    SourceReport {
        kind,
        query,
        status: SourceStatus::Skipped,
        detail: why.to_string(),
        settings: Vec::new(),
        srv: Vec::new(),
        fetch: None,
        autoconfig: None,
        preset: None,
        scope: None,
        ms: 0,
    }
}

/// The SRV targets per service that become candidates, in RFC 2782 order.
const MAX_SRV_TARGETS: usize = 5;

/// `_submissions._tcp` (implicit TLS) or `_submission._tcp` (STARTTLS): the records in the order
/// RFC 2782 tries them (priority, then the heavier weight first: a fixed order, so runs repeat).
async fn srv(domain: &str, implicit: bool, how: &Resolution, timeout: Duration) -> SourceReport {
    let started = Instant::now();
    let service = if implicit {
        "_submissions"
    } else {
        "_submission"
    };
    let name = format!("{service}._tcp.{domain}");
    let mut report = SourceReport {
        kind: SourceKind::Srv,
        query: format!("{name} SRV"),
        status: SourceStatus::None,
        detail: String::new(),
        settings: Vec::new(),
        srv: Vec::new(),
        fetch: None,
        autoconfig: None,
        preset: None,
        scope: None,
        ms: 0,
    };
    let answer = match target::resolver(how.dns, timeout) {
        Ok(r) => r.srv_lookup(format!("{name}.").as_str()).await,
        Err(e) => {
            report.status = SourceStatus::Failed;
            report.detail = e;
            return report;
        }
    };
    match answer {
        Ok(lookup) => {
            let mut records: Vec<SrvRecord> = lookup
                .answers()
                .iter()
                .filter_map(|r| match &r.data {
                    RData::SRV(s) => Some(SrvRecord {
                        priority: s.priority,
                        weight: s.weight,
                        port: s.port,
                        target: {
                            let t = s.target.to_ascii();
                            if t == "." {
                                ".".to_string()
                            } else {
                                t.trim_end_matches('.').to_ascii_lowercase()
                            }
                        },
                    }),
                    _ => None,
                })
                .collect();
            records.sort_by_key(|r| (r.priority, std::cmp::Reverse(r.weight), r.port));
            report.srv = records.clone();
            if records.len() == 1 && records[0].target == "." {
                report.status = SourceStatus::NotOffered;
                report.detail = "target \".\": the domain says this service is not offered".into();
            } else if records.is_empty() {
                report.detail = "no SRV record".into();
            } else {
                report.status = SourceStatus::Found;
                // Each trusted target may get a login attempt: a few are plenty.
                for r in records
                    .iter()
                    .filter(|r| r.target != "." && r.port > 0)
                    .take(MAX_SRV_TARGETS)
                {
                    report.settings.push(Setting {
                        host: r.target.clone(),
                        port: r.port,
                        security: if implicit {
                            TlsMode::Implicit
                        } else {
                            TlsMode::Starttls
                        },
                        username: None,
                        auth: Vec::new(),
                        note: None,
                    });
                }
                report.detail = records
                    .iter()
                    .map(|r| format!("{} {} {}:{}", r.priority, r.weight, r.target, r.port))
                    .collect::<Vec<_>>()
                    .join(", ");
                let usable = records
                    .iter()
                    .filter(|r| r.target != "." && r.port > 0)
                    .count();
                if report.settings.is_empty() {
                    // Every record is "." or port 0: nothing to use, whatever the count.
                    report.status = SourceStatus::NotOffered;
                    report.detail.push_str(": no usable target");
                } else if usable > MAX_SRV_TARGETS {
                    report.detail.push_str(&format!(
                        " (the first {MAX_SRV_TARGETS} of {usable} targets are used)"
                    ));
                }
            }
        }
        Err(e) if e.is_no_records_found() || e.is_nx_domain() => {
            report.detail = if e.is_nx_domain() {
                "no such name".into()
            } else {
                "no SRV record".into()
            };
        }
        Err(e) => {
            report.status = SourceStatus::Failed;
            report.detail = format!("the look-up failed: {e}");
        }
    }
    report.ms = started.elapsed().as_millis() as u64;
    report
}

/// The SPF record's `include:` and `redirect=` domains.
async fn spf(domain: &str, how: &Resolution, timeout: Duration) -> (Vec<String>, String, u64) {
    let started = Instant::now();
    let resolver = match target::resolver(how.dns, timeout) {
        Ok(r) => r,
        Err(e) => return (Vec::new(), e, 0),
    };
    let (includes, detail) = match resolver.txt_lookup(format!("{domain}.").as_str()).await {
        Ok(txt) => {
            let record = txt
                .answers()
                .iter()
                .filter_map(|r| match &r.data {
                    RData::TXT(t) => Some(
                        t.txt_data
                            .iter()
                            .map(|d| String::from_utf8_lossy(d).into_owned())
                            .collect::<String>(),
                    ),
                    _ => None,
                })
                .find(|t| smtpdoctor_spf::record::is_spf(t.as_bytes()));
            match record {
                Some(r) => (spf_includes(&r), r),
                None => (Vec::new(), "no SPF record".into()),
            }
        }
        Err(e) if e.is_no_records_found() || e.is_nx_domain() => {
            (Vec::new(), "no SPF record".into())
        }
        Err(e) => (Vec::new(), format!("the look-up failed: {e}")),
    };
    (includes, detail, started.elapsed().as_millis() as u64)
}

/// The domains an SPF record includes or redirects to, lower case, as the SPF crate parses it
/// (the same reading `domain` reports); names built from macros depend on the message and are
/// left out. A record that does not parse names none.
pub fn spf_includes(record: &str) -> Vec<String> {
    use smtpdoctor_spf::record::Mechanism;
    let Ok(parsed) = smtpdoctor_spf::parse(record) else {
        return Vec::new();
    };
    parsed
        .directives()
        .filter_map(|(_, d)| match &d.mechanism {
            Mechanism::Include(m) => Some(m),
            _ => None,
        })
        .chain(parsed.redirect())
        .filter(|m| !m.has_macros())
        .map(|m| m.text.trim_end_matches('.').to_ascii_lowercase())
        .filter(|d| !d.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spf_includes_and_redirects() {
        assert_eq!(
            spf_includes(
                "v=spf1 ip4:1.2.3.4 include:_spf.Google.com ~include:sendgrid.net. redirect=spf.x.test include:%{d}.y -all"
            ),
            ["_spf.google.com", "sendgrid.net", "spf.x.test"]
        );
    }
}
