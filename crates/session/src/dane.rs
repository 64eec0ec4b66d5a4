//! DANE for `check --mx` (RFC 7672): the TLSA records of each MX host (`_25._tcp.HOST`) with
//! their DNSSEC status, the DNSSEC status of the MX and address records they depend on, and —
//! once the host presented its certificates — the comparison of each record with each
//! certificate. The comparison is evidence (which record equals which digest); what it means for
//! delivery is for the rules.

use crate::dnssec::{Anchors, Validator};
use crate::target::Resolution;
use crate::tls::hex;
use hickory_resolver::proto::rr::{Name, RData, RecordType};
use rustls::RootCertStore;
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::ServerCertVerifier;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use smtpdoctor_report::check::{
    DaneEvidence, DnsFailure, Dnssec, MxEvidence, TlsaCheck, TlsaRecord,
};
use std::sync::Arc;
use std::time::{Duration, Instant};
use x509_parser::prelude::*;

/// Looks up the DNSSEC status of the MX records and, for each MX host with an address, its
/// TLSA records and the status of its addresses. The hosts are looked up at once; the MX records
/// and each host are bounded by `timeout`.
pub async fn lookup(mx: &mut MxEvidence, how: &Resolution, anchors: &Anchors, timeout: Duration) {
    if mx.failure.is_some() || mx.null_mx {
        return;
    }
    let validator =
        match tokio::time::timeout(timeout, Validator::for_run(how.dns, anchors, timeout))
            .await
            .unwrap_or_else(|_| Err("setting up DNSSEC validation took too long".to_string()))
        {
            Ok(v) => v,
            Err(e) => {
                for r in mx.records.iter_mut().filter(|r| !r.addresses.is_empty()) {
                    let mut evidence = empty(&r.host);
                    evidence.failure = Some(DnsFailure::Other);
                    evidence.detail = Some(e.clone());
                    r.dane = Some(evidence);
                }
                return;
            }
        };
    mx.trust_anchors = validator.described.clone();
    if let Ok(domain) = Name::from_ascii(format!("{}.", mx.domain)) {
        let status = async {
            if mx.implicit {
                address_status(&validator, &domain).await
            } else {
                validator.status(&domain, RecordType::MX).await
            }
        };
        mx.dnssec = tokio::time::timeout(timeout, status).await.ok().flatten();
    }
    let mut hosts = tokio::task::JoinSet::new();
    for (index, r) in mx.records.iter().enumerate() {
        if r.addresses.is_empty() {
            continue;
        }
        let (validator, host) = (validator.clone(), r.host.clone());
        hosts.spawn(async move { (index, host_evidence(&validator, &host, timeout).await) });
    }
    while let Some(done) = hosts.join_next().await {
        if let Ok((index, evidence)) = done {
            mx.records[index].dane = Some(evidence);
        }
    }
}

fn empty(host: &str) -> DaneEvidence {
    DaneEvidence {
        name: tlsa_name(host),
        dnssec: None,
        records: vec![],
        failure: None,
        detail: None,
        zone: None,
        address_dnssec: None,
        ms: 0,
    }
}

/// One MX host's TLSA records and, when it has any, the DNSSEC status of its addresses.
async fn host_evidence(validator: &Validator, host: &str, timeout: Duration) -> DaneEvidence {
    let started = Instant::now();
    let mut evidence = empty(host);
    let probe = async {
        let name = Name::from_ascii(format!("{host}.")).ok()?;
        let tlsa = Name::from_ascii(&evidence.name).ok()?;
        // The addresses' status matters only to TLSA records (RFC 7672 section 2.2.2: without
        // them there is nothing to apply), so a host without any is spared those look-ups.
        let found = validator.lookup(&tlsa, RecordType::TLSA).await;
        let address_dnssec = if found.records.is_empty() {
            None
        } else {
            address_status(validator, &name).await
        };
        Some((found, address_dnssec))
    };
    match tokio::time::timeout(timeout, probe).await {
        Ok(Some((found, address_dnssec))) => {
            evidence.dnssec = found.dnssec;
            evidence.failure = found.failure;
            evidence.detail = found.detail;
            evidence.zone = found.zone;
            evidence.address_dnssec = address_dnssec;
            evidence.records = found
                .records
                .iter()
                .filter_map(|d| match d {
                    RData::TLSA(t) => Some(TlsaRecord {
                        usage: t.cert_usage.into(),
                        selector: t.selector.into(),
                        matching: t.matching.into(),
                        data: hex(&t.cert_data),
                    }),
                    _ => None,
                })
                .collect();
        }
        Ok(None) => {
            evidence.failure = Some(DnsFailure::InvalidName);
            evidence.detail = Some(format!("{} is not a valid DNS name", evidence.name));
        }
        Err(_) => {
            evidence.failure = Some(DnsFailure::Timeout);
            evidence.detail = Some(format!(
                "the TLSA and DNSSEC look-ups of {host} took longer than {} s",
                timeout.as_secs_f64()
            ));
        }
    }
    evidence.ms = started.elapsed().as_millis() as u64;
    evidence
}

fn tlsa_name(host: &str) -> String {
    format!("_25._tcp.{}.", host.trim_end_matches('.'))
}

/// The status of a host's address records: secure only when every family it has is secure.
async fn address_status(validator: &Validator, host: &Name) -> Option<Dnssec> {
    let (v4, v6) = tokio::join!(
        validator.lookup(host, RecordType::A),
        validator.lookup(host, RecordType::AAAA)
    );
    let found: Vec<Option<Dnssec>> = [v4, v6]
        .into_iter()
        .filter(|v| !v.records.is_empty())
        .map(|v| v.dnssec)
        .collect();
    if found.is_empty() {
        return None;
    }
    for status in [Dnssec::Bogus, Dnssec::Insecure] {
        if found.contains(&Some(status)) {
            return Some(status);
        }
    }
    found
        .iter()
        .all(|s| *s == Some(Dnssec::Secure))
        .then_some(Dnssec::Secure)
}

/// Compares each TLSA record with each certificate of the presented chain (leaf first). A
/// DANE-TA record (usage 2) that matches a CA certificate also has the chain from the leaf up to
/// that certificate verified for `host` (names, validity, purpose), with it as the only anchor.
/// Records with a selector or matching type this does not know get no entry.
pub fn compare(
    records: &[TlsaRecord],
    chain: &[CertificateDer<'_>],
    host: &str,
    now: UnixTime,
) -> Vec<TlsaCheck> {
    let mut out = Vec::new();
    for (index, record) in records.iter().enumerate() {
        let Some(data) = unhex(&record.data) else {
            continue;
        };
        for (position, cert) in chain.iter().enumerate() {
            let selected: Vec<u8> = match record.selector {
                0 => cert.as_ref().to_vec(),
                1 => match X509Certificate::from_der(cert) {
                    Ok((_, parsed)) => parsed.public_key().raw.to_vec(),
                    Err(_) => continue,
                },
                _ => break,
            };
            let digest = match record.matching {
                0 => None,
                1 => Some(ring::digest::digest(&ring::digest::SHA256, &selected)),
                2 => Some(ring::digest::digest(&ring::digest::SHA512, &selected)),
                _ => break,
            };
            let matched = match &digest {
                Some(d) => d.as_ref() == data.as_slice(),
                None => selected == data,
            };
            let mut check = TlsaCheck {
                record: index,
                cert: position,
                digest: digest.map(|d| hex(d.as_ref())),
                matched,
                chain_verified: None,
                chain_detail: None,
            };
            if matched && record.usage == 2 {
                let verdict = if position == 0 {
                    Err("a DANE-TA record must match a CA certificate of the chain, not the server's own".to_string())
                } else {
                    verify_to_anchor(chain, position, host, now)
                };
                check.chain_verified = Some(verdict.is_ok());
                check.chain_detail = verdict.err();
            }
            out.push(check);
        }
    }
    out
}

/// Verifies the chain from the leaf up to `chain[anchor]`, which is the only trust anchor.
fn verify_to_anchor(
    chain: &[CertificateDer<'_>],
    anchor: usize,
    host: &str,
    now: UnixTime,
) -> Result<(), String> {
    let mut roots = RootCertStore::empty();
    roots
        .add(chain[anchor].clone().into_owned())
        .map_err(|e| format!("the matched certificate cannot be a trust anchor: {e}"))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
        .build()
        .map_err(|e| e.to_string())?;
    let name =
        ServerName::try_from(host.trim_end_matches('.').to_string()).map_err(|e| e.to_string())?;
    // Only the chain is judged here; the handshake's own signature was checked during TLS.
    verifier
        .verify_server_cert(&chain[0], &chain[1..anchor], &name, &[], now)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A self-signed leaf, and a root CA with a leaf it signed for mail.test.
    fn certs() -> (
        CertificateDer<'static>,
        CertificateDer<'static>,
        CertificateDer<'static>,
    ) {
        use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
        let key = KeyPair::generate().unwrap();
        let selfsigned = CertificateParams::new(vec!["mail.test".into()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
        let leaf_key = KeyPair::generate().unwrap();
        let leaf = CertificateParams::new(vec!["mail.test".into()])
            .unwrap()
            .signed_by(&leaf_key, &ca)
            .unwrap();
        (
            selfsigned.der().clone(),
            ca.der().clone(),
            leaf.der().clone(),
        )
    }

    fn record(usage: u8, selector: u8, matching: u8, data: &[u8]) -> TlsaRecord {
        TlsaRecord {
            usage,
            selector,
            matching,
            data: hex(data),
        }
    }

    #[test]
    fn selectors_and_matching_types() {
        let (selfsigned, _, _) = certs();
        let (_, parsed) = X509Certificate::from_der(&selfsigned).unwrap();
        let spki = parsed.public_key().raw.to_vec();
        let sha256 = |b: &[u8]| {
            ring::digest::digest(&ring::digest::SHA256, b)
                .as_ref()
                .to_vec()
        };
        let sha512 = |b: &[u8]| {
            ring::digest::digest(&ring::digest::SHA512, b)
                .as_ref()
                .to_vec()
        };
        let records = vec![
            record(3, 1, 1, &sha256(&spki)),
            record(3, 0, 1, &sha256(&selfsigned)),
            record(3, 1, 2, &sha512(&spki)),
            record(3, 0, 0, &selfsigned),
            record(3, 1, 0, &spki),
            record(3, 1, 1, &[0u8; 32]),
            record(3, 7, 1, &[0u8; 32]),
        ];
        let checks = compare(
            &records,
            std::slice::from_ref(&selfsigned),
            "mail.test",
            UnixTime::now(),
        );
        let matched: Vec<usize> = checks
            .iter()
            .filter(|c| c.matched)
            .map(|c| c.record)
            .collect();
        assert_eq!(matched, vec![0, 1, 2, 3, 4]);
        assert_eq!(checks.len(), 6, "the unknown selector gets no entry");
        assert_eq!(
            checks[0].digest.as_deref(),
            Some(hex(&sha256(&spki)).as_str())
        );
        assert_eq!(checks[3].digest, None);
    }

    #[test]
    fn dane_ta_verifies_the_chain_to_the_matched_ca() {
        let (_, ca, leaf) = certs();
        let sha256 = |b: &[u8]| {
            ring::digest::digest(&ring::digest::SHA256, b)
                .as_ref()
                .to_vec()
        };
        let records = vec![record(2, 0, 1, &sha256(&ca))];
        let chain = vec![leaf.clone(), ca.clone()];
        let checks = compare(&records, &chain, "mail.test", UnixTime::now());
        let hit = checks.iter().find(|c| c.matched).unwrap();
        assert_eq!((hit.cert, hit.chain_verified), (1, Some(true)));
        // The same chain for another name: the CA matches, the chain does not verify.
        let checks = compare(&records, &chain, "other.test", UnixTime::now());
        let hit = checks.iter().find(|c| c.matched).unwrap();
        assert_eq!(hit.chain_verified, Some(false));
        assert!(hit.chain_detail.is_some());
        // DANE-TA matching the leaf itself is not a trust anchor.
        let records = vec![record(2, 0, 1, &sha256(&leaf))];
        let checks = compare(&records, &chain, "mail.test", UnixTime::now());
        assert_eq!(checks[0].chain_verified, Some(false));
    }
}
