//! TLS for probes: trust anchors, a verifier that keeps the chain and the exact reason a
//! verification failed, and certificate details for the report.
//!
//! The handshake is allowed to finish even when the certificate fails, so the chain, version and
//! cipher are always evidence; the ladder then stops before sending anything unless the user asked
//! for `--insecure`. Signatures are still checked: a handshake whose signature fails never completes.

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, RootCertStore, SignatureScheme};
use smtpdoctor_report::check::{CertProblem, CertVerification, CertificateInfo};
use std::path::Path;
use std::sync::{Arc, Mutex};
use x509_parser::prelude::*;

/// The trust anchors of a run.
#[derive(Debug, Clone)]
pub struct Trust {
    roots: Arc<RootCertStore>,
    /// Where they came from: `platform`, `bundled`, `--ca-file`.
    pub sources: Vec<String>,
    /// Raw subjects of the `--ca-file` certificates, to tell a missing intermediate from an unknown CA.
    extra_subjects: Vec<Vec<u8>>,
    /// Whether the platform had no roots (so bundled ones are used).
    pub platform_missing: bool,
}

impl Trust {
    /// Loads the platform's roots (bundled ones when it has none) plus a PEM file of extra anchors.
    pub fn load(ca_file: Option<&Path>) -> Result<Trust, String> {
        let mut roots = RootCertStore::empty();
        let mut sources = Vec::new();
        let native = rustls_native_certs::load_native_certs();
        let (added, _) = roots.add_parsable_certificates(native.certs);
        let platform_missing = added == 0;
        if platform_missing {
            roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
            sources.push("bundled".to_string());
        } else {
            sources.push("platform".to_string());
        }
        let mut extra_subjects = Vec::new();
        if let Some(path) = ca_file {
            let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
                .map_err(|e| format!("--ca-file {}: {e}", path.display()))?
                .collect::<Result<_, _>>()
                .map_err(|e| {
                    format!(
                        "--ca-file {}: not a PEM certificate file: {e}",
                        path.display()
                    )
                })?;
            if certs.is_empty() {
                return Err(format!(
                    "--ca-file {}: no certificate in it",
                    path.display()
                ));
            }
            for cert in certs {
                if let Ok((_, parsed)) = X509Certificate::from_der(&cert) {
                    extra_subjects.push(parsed.subject().as_raw().to_vec());
                }
                roots.add(cert).map_err(|e| {
                    format!("--ca-file {}: unusable certificate: {e}", path.display())
                })?;
            }
            sources.push("--ca-file".to_string());
        }
        Ok(Trust {
            roots: Arc::new(roots),
            sources,
            extra_subjects,
            platform_missing,
        })
    }

    /// Whether a leaf's issuer is one of the `--ca-file` anchors (None without `--ca-file`).
    pub fn issuer_is_extra_anchor(&self, leaf: &[u8]) -> Option<bool> {
        if self.extra_subjects.is_empty() {
            return None;
        }
        let (_, parsed) = X509Certificate::from_der(leaf).ok()?;
        Some(
            self.extra_subjects
                .iter()
                .any(|s| s == parsed.issuer().as_raw()),
        )
    }
}

/// What the verifier saw during one handshake.
#[derive(Debug, Default, Clone)]
pub struct Captured {
    /// The chain as sent, leaf first.
    pub chain: Vec<CertificateDer<'static>>,
    /// The verification outcome.
    pub verification: Option<CertVerification>,
}

/// Wraps the standard WebPKI verifier: records the chain and the verdict, lets the handshake go on.
#[derive(Debug)]
struct CapturingVerifier {
    inner: Arc<WebPkiServerVerifier>,
    captured: Arc<Mutex<Captured>>,
    sources: Vec<String>,
}

impl ServerCertVerifier for CapturingVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let result = self.inner.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        );
        let (problem, detail) = match &result {
            Ok(_) => (None, None),
            Err(e) => (Some(classify(e)), Some(e.to_string())),
        };
        let mut captured = self.captured.lock().unwrap_or_else(|e| e.into_inner());
        captured.chain = std::iter::once(end_entity.clone().into_owned())
            .chain(intermediates.iter().map(|c| c.clone().into_owned()))
            .collect();
        captured.verification = Some(CertVerification {
            verified: result.is_ok(),
            problem,
            detail,
            name: server_name.to_str().into_owned(),
            trust: self.sources.clone(),
        });
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

fn classify(error: &rustls::Error) -> CertProblem {
    match error {
        rustls::Error::InvalidCertificate(e) => {
            match e {
                CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
                    CertProblem::Expired
                }
                CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                    CertProblem::NotYetValid
                }
                CertificateError::NotValidForName
                | CertificateError::NotValidForNameContext { .. } => CertProblem::NameMismatch,
                CertificateError::UnknownIssuer => CertProblem::UnknownIssuer,
                CertificateError::BadSignature
                | CertificateError::UnsupportedSignatureAlgorithmContext { .. } => {
                    CertProblem::BadSignature
                }
                CertificateError::Revoked => CertProblem::Revoked,
                CertificateError::InvalidPurpose
                | CertificateError::InvalidPurposeContext { .. } => CertProblem::InvalidPurpose,
                _ => CertProblem::Other,
            }
        }
        _ => CertProblem::Other,
    }
}

/// A client configuration for one handshake, and where its verifier records what it saw.
pub fn client_config(
    trust: &Trust,
) -> Result<(rustls::ClientConfig, Arc<Mutex<Captured>>), String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let inner = WebPkiServerVerifier::builder_with_provider(trust.roots.clone(), provider.clone())
        .build()
        .map_err(|e| format!("no usable trust anchors: {e}"))?;
    let captured = Arc::new(Mutex::new(Captured::default()));
    let verifier = CapturingVerifier {
        inner,
        captured: captured.clone(),
        sources: trust.sources.clone(),
    };
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    // No session resumption: every probe wants a full handshake, with the server's certificate.
    config.resumption = rustls::client::Resumption::disabled();
    Ok((config, captured))
}

/// Details of one certificate, for people and rules. `now` is the run's start (Unix seconds).
pub fn certificate_info(der: &[u8], now: i64) -> Option<CertificateInfo> {
    let (_, cert) = X509Certificate::from_der(der).ok()?;
    let mut sans = Vec::new();
    if let Ok(Some(ext)) = cert.subject_alternative_name() {
        for name in &ext.value.general_names {
            match name {
                GeneralName::DNSName(d) => sans.push(format!("DNS:{d}")),
                GeneralName::IPAddress(bytes) => sans.push(format!("IP:{}", ip_text(bytes))),
                GeneralName::RFC822Name(m) => sans.push(format!("email:{m}")),
                other => sans.push(format!("{other}")),
            }
        }
    }
    let (key_algorithm, key_bits) = match cert.public_key().parsed() {
        Ok(x509_parser::public_key::PublicKey::RSA(rsa)) => {
            ("RSA".to_string(), rsa.key_size() as u32)
        }
        Ok(x509_parser::public_key::PublicKey::EC(point)) => {
            ("EC".to_string(), point.key_size() as u32)
        }
        Ok(other) => {
            let name = match other {
                x509_parser::public_key::PublicKey::DSA(_) => "DSA",
                x509_parser::public_key::PublicKey::GostR3410(_) => "GOST",
                _ => "other",
            };
            (name.to_string(), other.key_size() as u32)
        }
        Err(_) => ("unknown".to_string(), 0),
    };
    let key_algorithm = match cert
        .public_key()
        .algorithm
        .algorithm
        .to_id_string()
        .as_str()
    {
        "1.3.101.112" => "Ed25519".to_string(),
        "1.3.101.113" => "Ed448".to_string(),
        _ => key_algorithm,
    };
    let not_after = cert.validity().not_after.timestamp();
    Some(CertificateInfo {
        subject: cert.subject().to_string(),
        issuer: cert.issuer().to_string(),
        sans,
        not_before: rfc3339(cert.validity().not_before.timestamp()),
        not_after: rfc3339(not_after),
        expires_in_s: not_after - now,
        key_algorithm,
        key_bits,
        self_issued: cert.subject().as_raw() == cert.issuer().as_raw(),
        is_ca: cert.is_ca(),
        sha256: hex(ring::digest::digest(&ring::digest::SHA256, der).as_ref()),
        spki_sha256: hex(
            ring::digest::digest(&ring::digest::SHA256, cert.public_key().raw).as_ref(),
        ),
    })
}

fn ip_text(bytes: &[u8]) -> String {
    match bytes.len() {
        4 => std::net::Ipv4Addr::from(<[u8; 4]>::try_from(bytes).unwrap_or_default()).to_string(),
        16 => std::net::Ipv6Addr::from(<[u8; 16]>::try_from(bytes).unwrap_or_default()).to_string(),
        _ => hex(bytes),
    }
}

/// Lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Unix seconds as RFC 3339 (UTC).
pub fn rfc3339(unix: i64) -> String {
    ::time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| {
            t.format(&::time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| unix.to_string())
}
