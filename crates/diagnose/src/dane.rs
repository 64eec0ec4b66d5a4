//! DANE rules for `check --mx` (RFC 6698, RFC 7671, RFC 7672): what an MX host's TLSA records,
//! their DNSSEC status and the certificate it presented mean to a sending server that does DANE.
//!
//! The RFCs' rules as applied here:
//! * TLSA counts only when the answer is DNSSEC-secure, and so are the MX records and the host's
//!   address records (RFC 7672 sections 2.2.1, 2.2.2); otherwise senders ignore it.
//! * For SMTP only DANE-TA(2) and DANE-EE(3) are usable; PKIX-TA(0) and PKIX-EE(1), and unknown
//!   selectors or matching types, are not (RFC 7672 section 3.1.3).
//! * DANE-EE ignores names and validity dates: the server's own certificate (or key) must match.
//!   DANE-TA must match a CA certificate of the presented chain, and the chain from the server's
//!   certificate up to it must verify for the MX host name (RFC 7672 section 3.1.2). The TA must be
//!   in the chain: a DANE-TA key that the server does not send is not looked for.
//! * A bogus TLSA answer makes DANE senders skip the host; secure TLSA with no usable match, or no
//!   TLS at all, does too.

use smtpdoctor_report::check::{
    DaneEvidence, DaneStatus, DnsFailure, Dnssec, SessionEvidence, TlsaCheck, TlsaRecord,
};

/// What the rules need about one MX host's DANE.
#[derive(Debug, Clone, Copy)]
pub struct DaneInput<'a> {
    /// The MX host.
    pub host: &'a str,
    /// The mail domain whose MX it is.
    pub domain: &'a str,
    /// Its TLSA evidence.
    pub evidence: &'a DaneEvidence,
    /// The DNSSEC status of the domain's MX records.
    pub mx_dnssec: Option<Dnssec>,
}

/// Whether a record can authenticate an SMTP server at all.
pub fn usable(record: &TlsaRecord) -> bool {
    matches!(record.usage, 2 | 3) && record.selector <= 1 && record.matching <= 2
}

/// The record's usage by its RFC 7218 name.
pub fn usage_name(usage: u8) -> &'static str {
    match usage {
        0 => "PKIX-TA",
        1 => "PKIX-EE",
        2 => "DANE-TA",
        3 => "DANE-EE",
        _ => "unknown usage",
    }
}

/// Whether the TLSA records apply: secure TLSA, and secure MX and address records.
pub fn applies(input: DaneInput<'_>) -> bool {
    let e = input.evidence;
    e.dnssec == Some(Dnssec::Secure)
        && e.failure.is_none()
        && !e.records.is_empty()
        && input.mx_dnssec == Some(Dnssec::Secure)
        && e.address_dnssec == Some(Dnssec::Secure)
}

/// The check that authenticates the server, when one does.
pub fn authenticating<'a>(
    records: &[TlsaRecord],
    checks: &'a [TlsaCheck],
) -> Option<&'a TlsaCheck> {
    checks.iter().find(|c| {
        c.matched
            && records.get(c.record).is_some_and(|r| {
                usable(r)
                    && (r.usage == 3 && c.cert == 0
                        || r.usage == 2 && c.chain_verified == Some(true))
            })
    })
}

/// What DANE means for the host, given the session that ran on its port 25 (if any).
pub fn dane_status(input: DaneInput<'_>, session: Option<&SessionEvidence>) -> DaneStatus {
    let e = input.evidence;
    if e.dnssec == Some(Dnssec::Bogus) {
        return DaneStatus::Bogus;
    }
    match e.failure {
        Some(DnsFailure::NxDomain | DnsFailure::NoData) => return DaneStatus::None,
        Some(_) => return DaneStatus::LookupFailed,
        None => {}
    }
    if e.records.is_empty() {
        return DaneStatus::None;
    }
    if e.dnssec != Some(Dnssec::Secure) {
        return DaneStatus::Unsigned;
    }
    if !applies(input) {
        return DaneStatus::NotApplied;
    }
    if !e.records.iter().any(usable) {
        return DaneStatus::Unusable;
    }
    let Some(s) = session else {
        return DaneStatus::NotChecked;
    };
    match s.tls.as_ref().filter(|t| !t.chain.is_empty()) {
        Some(tls) => {
            if authenticating(&e.records, &tls.tlsa).is_some() {
                DaneStatus::Authenticated
            } else {
                DaneStatus::Mismatch
            }
        }
        None if s.ehlo.as_ref().is_some_and(|e| !e.has("STARTTLS")) => DaneStatus::NoTls,
        None => DaneStatus::NotChecked,
    }
}

/// A record as people read it: `3 1 1 2f3a…9c1d (DANE-EE, public key, SHA-256)`.
pub fn describe(record: &TlsaRecord) -> String {
    let selector = match record.selector {
        0 => "full certificate",
        1 => "public key",
        _ => "unknown selector",
    };
    let matching = match record.matching {
        0 => "exact",
        1 => "SHA-256",
        2 => "SHA-512",
        _ => "unknown matching type",
    };
    format!(
        "{} ({}, {selector}, {matching})",
        record.short(),
        usage_name(record.usage)
    )
}

/// Which certificate of the chain, for people.
pub fn cert_name(position: usize) -> String {
    match position {
        0 => "the server's certificate".to_string(),
        n => format!("CA certificate #{n} of the chain"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use smtpdoctor_report::check::*;

    fn record(usage: u8) -> TlsaRecord {
        TlsaRecord {
            usage,
            selector: 1,
            matching: 1,
            data: "ab".repeat(32),
        }
    }

    fn evidence(dnssec: Dnssec, records: Vec<TlsaRecord>) -> DaneEvidence {
        DaneEvidence {
            name: "_25._tcp.mx.dane.test.".into(),
            dnssec: Some(dnssec),
            records,
            failure: None,
            detail: None,
            zone: None,
            address_dnssec: Some(Dnssec::Secure),
            ms: 0,
        }
    }

    fn session(checks: Vec<TlsaCheck>, starttls: bool, chain: bool) -> SessionEvidence {
        let mut s = SessionEvidence::new(1, Purpose::Requested, TlsMode::Auto, 25);
        s.ehlo = Some(EhloEvidence {
            command: "EHLO".into(),
            reply: Reply {
                code: 250,
                enhanced: None,
                lines: vec![],
            },
            capabilities: if starttls {
                vec![Capability {
                    keyword: "STARTTLS".into(),
                    params: vec![],
                }]
            } else {
                vec![]
            },
            tls: false,
        });
        if chain {
            s.tls = Some(TlsEvidence {
                chain: vec![CertificateInfo {
                    subject: "CN=mx".into(),
                    issuer: "CN=mx".into(),
                    sans: vec![],
                    not_before: String::new(),
                    not_after: String::new(),
                    expires_in_s: 1,
                    key_algorithm: "EC".into(),
                    key_bits: 256,
                    self_issued: true,
                    is_ca: false,
                    sha256: String::new(),
                    spki_sha256: String::new(),
                }],
                tlsa: checks,
                ..Default::default()
            });
        }
        s
    }

    fn check(record: usize, cert: usize, matched: bool, chain: Option<bool>) -> TlsaCheck {
        TlsaCheck {
            record,
            cert,
            digest: None,
            matched,
            chain_verified: chain,
            chain_detail: None,
        }
    }

    #[test]
    fn statuses() {
        let input = |e: &'static DaneEvidence, mx| DaneInput {
            host: "mx.dane.test",
            domain: "dane.test",
            evidence: e,
            mx_dnssec: mx,
        };
        let secure: &'static DaneEvidence =
            Box::leak(Box::new(evidence(Dnssec::Secure, vec![record(3)])));
        let ok = session(vec![check(0, 0, true, None)], true, true);
        let bad = session(vec![check(0, 0, false, None)], true, true);
        let mx = Some(Dnssec::Secure);
        assert_eq!(
            dane_status(input(secure, mx), Some(&ok)),
            DaneStatus::Authenticated
        );
        assert_eq!(
            dane_status(input(secure, mx), Some(&bad)),
            DaneStatus::Mismatch
        );
        assert_eq!(
            dane_status(input(secure, mx), Some(&session(vec![], false, false))),
            DaneStatus::NoTls
        );
        assert_eq!(dane_status(input(secure, mx), None), DaneStatus::NotChecked);
        assert_eq!(
            dane_status(input(secure, Some(Dnssec::Insecure)), Some(&ok)),
            DaneStatus::NotApplied
        );
        let unsigned: &'static DaneEvidence =
            Box::leak(Box::new(evidence(Dnssec::Insecure, vec![record(3)])));
        assert_eq!(
            dane_status(input(unsigned, mx), Some(&ok)),
            DaneStatus::Unsigned
        );
        let bogus: &'static DaneEvidence =
            Box::leak(Box::new(evidence(Dnssec::Bogus, vec![record(3)])));
        assert_eq!(dane_status(input(bogus, mx), Some(&ok)), DaneStatus::Bogus);
        let pkix: &'static DaneEvidence =
            Box::leak(Box::new(evidence(Dnssec::Secure, vec![record(1)])));
        assert_eq!(
            dane_status(input(pkix, mx), Some(&ok)),
            DaneStatus::Unusable
        );
        let mut none = evidence(Dnssec::Secure, vec![]);
        none.failure = Some(DnsFailure::NoData);
        let none: &'static DaneEvidence = Box::leak(Box::new(none));
        assert_eq!(dane_status(input(none, mx), Some(&ok)), DaneStatus::None);
        // DANE-TA counts only with a verified chain to the matched CA.
        let ta: &'static DaneEvidence =
            Box::leak(Box::new(evidence(Dnssec::Secure, vec![record(2)])));
        let ta_ok = session(vec![check(0, 1, true, Some(true))], true, true);
        let ta_bad = session(vec![check(0, 1, true, Some(false))], true, true);
        assert_eq!(
            dane_status(input(ta, mx), Some(&ta_ok)),
            DaneStatus::Authenticated
        );
        assert_eq!(
            dane_status(input(ta, mx), Some(&ta_bad)),
            DaneStatus::Mismatch
        );
    }
}
