//! MTA-STS (RFC 8461): the `_mta-sts` TXT record and the policy fetched over verified HTTPS, by
//! the RFC's rules: no redirects, at most 64 KiB, `text/plain`, a trusted certificate for
//! `mta-sts.DOMAIN`. Enough for `check --mx` to know whether senders must verify the MX's
//! certificate; `domain` (issue 6) will build on it.

use crate::target::{self, Resolution};
use crate::tls::Trust;
use smtpdoctor_report::check::MtaStsEvidence;
use smtpdoctor_report::domain::PolicyFetchEvidence;
use std::time::Duration;

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
    let got = crate::http::get(
        host,
        "/.well-known/mta-sts.txt",
        true,
        how,
        trust,
        timeout,
        MAX_POLICY,
    )
    .await;
    PolicyFetchEvidence {
        url: format!("https://{host}/.well-known/mta-sts.txt"),
        status: got.status,
        location: got.location,
        content_type: got.content_type,
        body: got.body,
        bytes: got.bytes,
        certificate_error: got.certificate_error,
        failure: got.failure,
        ms: got.ms,
    }
}
