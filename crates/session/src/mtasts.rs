//! MTA-STS (RFC 8461): the `_mta-sts` TXT record and the policy fetched over verified HTTPS, by
//! the RFC's rules: no redirects, at most 64 KiB, `text/plain`, a trusted certificate for
//! `mta-sts.DOMAIN`. Enough for `check --mx` to know whether senders must verify the MX's
//! certificate; `domain` (issue 6) will build on it.

use crate::target::{self, Resolution};
use crate::tls::{self, Trust};
use rustls::pki_types::ServerName;
use smtpdoctor_report::check::MtaStsEvidence;
use smtpdoctor_report::domain::PolicyFetchEvidence;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

/// RFC 8461 section 3.3: senders give up on bigger policies.
const MAX_POLICY: usize = 64 * 1024;

/// The domain's MTA-STS policy, or None when it publishes no `_mta-sts` record.
pub async fn lookup(
    domain: &str,
    how: &Resolution,
    trust: &Trust,
    timeout: Duration,
) -> Option<MtaStsEvidence> {
    let resolver = target::resolver(how.dns, timeout).ok()?;
    let txt = resolver
        .txt_lookup(format!("_mta-sts.{domain}.").as_str())
        .await
        .ok()?;
    let record = txt
        .answers()
        .iter()
        .filter_map(|r| match &r.data {
            hickory_resolver::proto::rr::RData::TXT(t) => Some(
                t.txt_data
                    .iter()
                    .map(|d| String::from_utf8_lossy(d).into_owned())
                    .collect::<String>(),
            ),
            _ => None,
        })
        .find(|t| t.starts_with("v=STSv1"))?;
    let host = format!("mta-sts.{domain}");
    let url = format!("https://{host}/.well-known/mta-sts.txt");
    let mut out = MtaStsEvidence {
        record,
        url,
        mode: None,
        mx: Vec::new(),
        max_age: None,
        failure: None,
    };
    match fetch(&host, how, trust, timeout).await {
        Ok(body) => {
            for line in body.lines() {
                let Some((key, value)) = line.split_once(':') else {
                    continue;
                };
                let value = value.trim().to_string();
                match key.trim() {
                    "mode" => out.mode = Some(value),
                    "mx" => out.mx.push(value.to_ascii_lowercase()),
                    "max_age" => out.max_age = value.parse().ok(),
                    _ => {}
                }
            }
            if out.mode.is_none() {
                out.failure = Some("the policy has no mode".into());
            }
        }
        Err(e) => out.failure = Some(e),
    }
    Some(out)
}

async fn fetch(
    host: &str,
    how: &Resolution,
    trust: &Trust,
    timeout: Duration,
) -> Result<String, String> {
    let got = fetch_policy(host, how, trust, timeout).await;
    if let Some(why) = got.failure {
        return Err(why);
    }
    if let Some(e) = got.certificate_error {
        return Err(format!("the policy host's certificate is not trusted: {e}"));
    }
    if got.status != Some(200) {
        return Err(format!(
            "the policy fetch answered HTTP {} (redirects are not followed)",
            got.status.map_or("?".into(), |s| s.to_string())
        ));
    }
    let content_type = got.content_type.map(|c| c.to_ascii_lowercase());
    if !content_type
        .as_deref()
        .is_some_and(|c| c.starts_with("text/plain"))
    {
        return Err(format!(
            "the policy is served as {}, not text/plain",
            content_type.unwrap_or_else(|| "nothing".into())
        ));
    }
    if got.body.len() > MAX_POLICY {
        return Err(format!("the policy is larger than {MAX_POLICY} bytes"));
    }
    Ok(String::from_utf8_lossy(&got.body).into_owned())
}

/// Fetches `https://HOST/.well-known/mta-sts.txt` and keeps the raw response: status, redirect
/// target, content type, body (cut just past 64 KiB) and whether the certificate verified.
/// Redirects are never followed. `failure` says why no response came at all.
pub async fn fetch_policy(
    host: &str,
    how: &Resolution,
    trust: &Trust,
    timeout: Duration,
) -> PolicyFetchEvidence {
    let started = Instant::now();
    let mut out = PolicyFetchEvidence {
        url: format!("https://{host}/.well-known/mta-sts.txt"),
        ..Default::default()
    };
    if let Err(e) = fetch_into(host, how, trust, timeout, &mut out).await {
        out.failure = Some(e);
    }
    out.ms = started.elapsed().as_millis() as u64;
    out
}

async fn fetch_into(
    host: &str,
    how: &Resolution,
    trust: &Trust,
    timeout: Duration,
    out: &mut PolicyFetchEvidence,
) -> Result<(), String> {
    let deadline = Instant::now() + timeout;
    let (_, addrs) = target::resolve(host, 443, how, timeout).await;
    let addr = *addrs
        .first()
        .ok_or_else(|| format!("{host} does not resolve"))?;
    let tcp = tokio::time::timeout_at(deadline, TcpStream::connect(addr))
        .await
        .map_err(|_| format!("no answer from {addr} in time"))?
        .map_err(|e| format!("cannot connect to {addr}: {e}"))?;
    let (config, captured) = tls::client_config(trust)?;
    let name = ServerName::try_from(host.to_string()).map_err(|e| e.to_string())?;
    let mut stream = tokio::time::timeout_at(
        deadline,
        tokio_rustls::TlsConnector::from(Arc::new(config)).connect(name, tcp),
    )
    .await
    .map_err(|_| "the TLS handshake got no answer in time".to_string())?
    .map_err(|e| format!("TLS handshake failed: {e}"))?;
    let verification = captured
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .verification
        .clone();
    if let Some(v) = verification.filter(|v| !v.verified) {
        // Evidence, not the end: the response still shows what else is wrong.
        out.certificate_error = Some(v.detail.unwrap_or_else(|| "not verified".into()));
    }
    let request = format!(
        "GET /.well-known/mta-sts.txt HTTP/1.1\r\nHost: {host}\r\nUser-Agent: smtpdoctor\r\nConnection: close\r\n\r\n"
    );
    tokio::time::timeout_at(deadline, stream.write_all(request.as_bytes()))
        .await
        .map_err(|_| "the request timed out".to_string())?
        .map_err(|e| e.to_string())?;
    let mut response = Vec::new();
    let read = async {
        let mut chunk = [0u8; 4096];
        loop {
            let n = stream.read(&mut chunk).await?;
            if n == 0 || response.len() > MAX_POLICY + 8192 {
                return Ok::<(), std::io::Error>(());
            }
            response.extend_from_slice(&chunk[..n]);
        }
    };
    // A server that does not close after the policy is tolerated: what arrived in time counts.
    let _ = tokio::time::timeout_at(deadline, read).await;
    let split = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or("no complete HTTP response")?;
    let head = String::from_utf8_lossy(&response[..split]).into_owned();
    let body = &response[split + 4..];
    let status = head.lines().next().unwrap_or("");
    out.status = status
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok());
    let header = |name: &str| {
        head.lines().skip(1).find_map(|l| {
            l.split_once(':')
                .filter(|(k, _)| k.trim().eq_ignore_ascii_case(name))
                .map(|(_, v)| v.trim().to_string())
        })
    };
    out.location = header("location");
    out.content_type = header("content-type");
    out.bytes = body.len();
    out.body = body[..body.len().min(MAX_POLICY + 1)].to_vec();
    Ok(())
}
