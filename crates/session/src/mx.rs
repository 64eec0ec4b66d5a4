//! A domain's mail exchangers: MX records by preference, null MX (RFC 7505), implicit MX (no MX,
//! the domain's own address), MX names that are aliases or resolve to nothing. One piece of code
//! for `check --mx` and, later, `domain`.

use crate::target::{self, Resolution};
use hickory_resolver::proto::rr::{RData, RecordType};
use smtpdoctor_report::check::{DnsFailure, MxEvidence, MxRecord};
use std::time::{Duration, Instant};

/// The most MX hosts examined; more are listed but not resolved.
const MAX_HOSTS: usize = 10;

/// Looks up and resolves a domain's MX records.
pub async fn lookup(domain: &str, how: &Resolution, timeout: Duration) -> MxEvidence {
    let started = Instant::now();
    let domain = domain.trim_end_matches('.').to_ascii_lowercase();
    let mut out = MxEvidence {
        domain: domain.clone(),
        records: Vec::new(),
        null_mx: false,
        implicit: false,
        failure: None,
        mta_sts: None,
        dnssec: None,
        trust_anchors: Vec::new(),
        ms: 0,
    };
    let resolver = match target::resolver(how.dns, timeout) {
        Ok(r) => r,
        Err(_) => {
            out.failure = Some(DnsFailure::Other);
            return out;
        }
    };
    let fqdn = format!("{domain}.");
    match resolver.mx_lookup(fqdn.as_str()).await {
        Ok(lookup) => {
            let mut records: Vec<(u16, String)> = lookup
                .answers()
                .iter()
                .filter_map(|r| match &r.data {
                    RData::MX(mx) => Some((
                        mx.preference,
                        mx.exchange.to_ascii().trim_end_matches('.').to_string(),
                    )),
                    _ => None,
                })
                .collect();
            records.sort();
            if records.len() == 1 && records[0].1.is_empty() {
                out.null_mx = true;
                out.records.push(MxRecord {
                    preference: records[0].0,
                    host: ".".into(),
                    cname: None,
                    addresses: vec![],
                    failure: None,
                    dane: None,
                });
            } else {
                for (preference, host) in records.into_iter().take(MAX_HOSTS) {
                    let cname = match resolver
                        .lookup(format!("{host}.").as_str(), RecordType::CNAME)
                        .await
                    {
                        Ok(l) => l.answers().iter().find_map(|r| match &r.data {
                            RData::CNAME(c) => {
                                Some(c.0.to_ascii().trim_end_matches('.').to_string())
                            }
                            _ => None,
                        }),
                        Err(_) => None,
                    };
                    let (addresses, failure) = match target::lookup(&host, how.dns, timeout).await {
                        Ok(addrs) => (addrs.iter().map(|a| a.to_string()).collect(), None),
                        Err((f, _)) => (vec![], Some(f)),
                    };
                    out.records.push(MxRecord {
                        preference,
                        host,
                        cname,
                        addresses,
                        failure,
                        dane: None,
                    });
                }
            }
        }
        Err(e) if e.is_nx_domain() => out.failure = Some(DnsFailure::NxDomain),
        Err(e) if e.is_no_records_found() => {
            // No MX: the domain's own address receives its mail (RFC 5321 section 5.1).
            match target::lookup(&domain, how.dns, timeout).await {
                Ok(addrs) => {
                    out.implicit = true;
                    out.records.push(MxRecord {
                        preference: 0,
                        host: domain.clone(),
                        cname: None,
                        addresses: addrs.iter().map(|a| a.to_string()).collect(),
                        failure: None,
                        dane: None,
                    });
                }
                Err((f, _)) => out.failure = Some(f),
            }
        }
        Err(e) => out.failure = Some(target::dns_failure(&[e])),
    }
    out.ms = started.elapsed().as_millis() as u64;
    out
}
