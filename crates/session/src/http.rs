//! A deliberately small HTTP/1.1 GET for the few documents smtpdoctor fetches (the MTA-STS
//! policy, the autoconfig file): one request per connection, no redirects followed here, bounded
//! in time and size, over verified TLS or (for information only) plain TCP. Every connection goes
//! through [`target::resolve`], so `--dns`, `--resolve` and `--connect-to` apply as to SMTP.
//! `HTTPS_PROXY` / `HTTP_PROXY` (and `NO_PROXY`) are honoured as curl does, except for a host a
//! `--resolve` or `--connect-to` rule names: the user's explicit rule wins. Through a proxy, TLS
//! still runs end to end (CONNECT) and the certificate is still verified for the host.

use crate::target::{self, Resolution};
use crate::tls::{self, Trust};
use rustls::pki_types::ServerName;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

/// What one GET brought back. `failure` says why no response came at all.
#[derive(Debug, Clone, Default)]
pub struct Response {
    /// The status code.
    pub status: Option<u16>,
    /// The Location header.
    pub location: Option<String>,
    /// The Content-Type header.
    pub content_type: Option<String>,
    /// The body, cut at `max_body + 1` bytes (so a caller can tell it was too big); chunked
    /// transfer coding removed.
    pub body: Vec<u8>,
    /// Body bytes received (before the cut).
    pub bytes: usize,
    /// Why the certificate did not verify (the response is still read, as evidence).
    pub certificate_error: Option<String>,
    /// Why nothing usable came.
    pub failure: Option<String>,
    /// The proxy the request went through (`HOST:PORT`), when one did.
    pub proxy: Option<String>,
    /// Whether a TCP connection was made (a failure before it means no server is there).
    pub connected: bool,
    /// How long it took.
    pub ms: u64,
}

/// The proxy for `host` from the environment, as (host, port), or None for a direct connection.
fn proxy_for(host: &str, https: bool, how: &Resolution) -> Result<Option<(String, u16)>, String> {
    let lower = host.to_ascii_lowercase();
    let port = if https { 443 } else { 80 };
    // An explicit --resolve or --connect-to for this host means "connect there", not "via proxy".
    if how
        .overrides
        .iter()
        .any(|r| r.host == lower && r.port.is_none_or(|p| p == port))
        || how.connect_to.iter().any(|r| {
            r.host.as_deref().is_none_or(|h| h == lower) && r.port.is_none_or(|p| p == port)
        })
    {
        return Ok(None);
    }
    let var = |names: [&str; 2]| {
        names
            .iter()
            .find_map(|n| std::env::var(n).ok().filter(|v| !v.trim().is_empty()))
    };
    let Some(url) = (if https {
        var(["HTTPS_PROXY", "https_proxy"])
    } else {
        var(["HTTP_PROXY", "http_proxy"])
    }) else {
        return Ok(None);
    };
    if let Some(list) = var(["NO_PROXY", "no_proxy"]) {
        for entry in list
            .split(',')
            .map(|e| e.trim().trim_start_matches('.').to_ascii_lowercase())
        {
            if entry == "*"
                || (!entry.is_empty() && (lower == entry || lower.ends_with(&format!(".{entry}"))))
            {
                return Ok(None);
            }
        }
    }
    let rest = url
        .strip_prefix("http://")
        .or_else(|| (!url.contains("://")).then_some(url.as_str()))
        .ok_or_else(|| format!("the proxy {url} is not an http:// proxy"))?;
    let authority = rest.split('/').next().unwrap_or("");
    if authority.contains('@') {
        return Err("proxy credentials in the proxy URL are not supported".into());
    }
    let (phost, pport) = target::parse_host_port(authority)?;
    Ok(Some((phost, pport.unwrap_or(80))))
}

/// `GET path` from `host` over HTTPS (port 443) or, with `https` false, plain HTTP (port 80).
/// The whole exchange is bounded by `timeout`.
pub async fn get(
    host: &str,
    path: &str,
    https: bool,
    how: &Resolution,
    trust: &Trust,
    timeout: Duration,
    max_body: usize,
) -> Response {
    let started = Instant::now();
    let mut out = Response::default();
    if let Err(e) = get_into(host, path, https, how, trust, timeout, max_body, &mut out).await {
        out.failure = Some(e);
    }
    out.ms = started.elapsed().as_millis() as u64;
    out
}

#[allow(clippy::too_many_arguments)] // one private helper of `get`
async fn get_into(
    host: &str,
    path: &str,
    https: bool,
    how: &Resolution,
    trust: &Trust,
    timeout: Duration,
    max_body: usize,
    out: &mut Response,
) -> Result<(), String> {
    let deadline = Instant::now() + timeout;
    let port = if https { 443 } else { 80 };
    let proxy = proxy_for(host, https, how)?;
    let (connect_host, connect_port) = proxy.clone().unwrap_or((host.to_string(), port));
    let (resolved, addrs) = target::resolve(&connect_host, connect_port, how, timeout).await;
    let addr = *addrs.first().ok_or_else(|| {
        format!(
            "{connect_host} does not resolve{}",
            resolved
                .detail
                .map(|d| format!(" ({d})"))
                .unwrap_or_default()
        )
    })?;
    let mut tcp = tokio::time::timeout_at(deadline, TcpStream::connect(addr))
        .await
        .map_err(|_| format!("no answer from {addr} in time"))?
        .map_err(|e| format!("cannot connect to {addr}: {e}"))?;
    out.connected = true;
    if let Some((phost, pport)) = &proxy {
        out.proxy = Some(format!("{phost}:{pport}"));
        if https {
            connect_tunnel(&mut tcp, host, deadline).await?;
        }
    }
    // Plain HTTP through a proxy names the whole URL in the request line.
    let target = if proxy.is_some() && !https {
        format!("http://{host}{path}")
    } else {
        path.to_string()
    };
    let request = |target: &str| {
        format!(
            "GET {target} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: smtpdoctor\r\nAccept: */*\r\nConnection: close\r\n\r\n"
        )
    };
    let response = if https {
        let (config, captured) = tls::client_config(trust)?;
        let name = ServerName::try_from(host.to_string()).map_err(|e| e.to_string())?;
        let stream = tokio::time::timeout_at(
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
        // A server that failed verification could be anyone: it gets the path, not the query
        // (autoconfig's `?emailaddress=` would tell it the address).
        let target = if out.certificate_error.is_some() {
            target.split('?').next().unwrap_or_default()
        } else {
            target.as_str()
        };
        exchange(stream, &request(target), deadline, max_body).await?
    } else {
        exchange(tcp, &request(&target), deadline, max_body).await?
    };
    let split = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or("no complete HTTP response")?;
    let head = String::from_utf8_lossy(&response[..split]).into_owned();
    let raw = &response[split + 4..];
    out.status = head
        .lines()
        .next()
        .unwrap_or("")
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
    let body = if header("transfer-encoding").is_some_and(|t| t.eq_ignore_ascii_case("chunked")) {
        dechunk(raw)
    } else {
        raw.to_vec()
    };
    out.bytes = body.len();
    out.body = body[..body.len().min(max_body + 1)].to_vec();
    Ok(())
}

/// Asks an HTTP proxy for a tunnel to `host:443` and reads its answer head.
async fn connect_tunnel(tcp: &mut TcpStream, host: &str, deadline: Instant) -> Result<(), String> {
    let request = format!(
        "CONNECT {host}:443 HTTP/1.1\r\nHost: {host}:443\r\nUser-Agent: smtpdoctor\r\n\r\n"
    );
    tokio::time::timeout_at(deadline, tcp.write_all(request.as_bytes()))
        .await
        .map_err(|_| "the proxy did not take the request in time".to_string())?
        .map_err(|e| format!("the proxy: {e}"))?;
    // Byte by byte, so nothing of the TLS stream that follows is read here.
    let mut head = Vec::new();
    let read = async {
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") && head.len() < 8192 {
            if tcp.read(&mut byte).await? == 0 {
                break;
            }
            head.push(byte[0]);
        }
        Ok::<(), std::io::Error>(())
    };
    tokio::time::timeout_at(deadline, read)
        .await
        .map_err(|_| "the proxy did not answer CONNECT in time".to_string())?
        .map_err(|e| format!("the proxy: {e}"))?;
    let status = String::from_utf8_lossy(&head);
    let line = status.lines().next().unwrap_or("").to_string();
    match line.split_whitespace().nth(1) {
        Some(code) if code.starts_with('2') => Ok(()),
        _ => Err(format!(
            "the proxy refused the tunnel: {}",
            if line.is_empty() { "no answer" } else { &line }
        )),
    }
}

/// Sends the request and reads until the server closes, the deadline, or a little past
/// `max_body` (enough to tell the body was too big).
async fn exchange<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    request: &str,
    deadline: Instant,
    max_body: usize,
) -> Result<Vec<u8>, String> {
    tokio::time::timeout_at(deadline, stream.write_all(request.as_bytes()))
        .await
        .map_err(|_| "the request timed out".to_string())?
        .map_err(|e| e.to_string())?;
    let mut response = Vec::new();
    let read = async {
        let mut chunk = [0u8; 4096];
        loop {
            let n = stream.read(&mut chunk).await?;
            if n == 0 || response.len() > max_body + 8192 {
                return Ok::<(), std::io::Error>(());
            }
            response.extend_from_slice(&chunk[..n]);
        }
    };
    // A server that does not close after the body is tolerated: what arrived in time counts.
    let _ = tokio::time::timeout_at(deadline, read).await;
    Ok(response)
}

/// Removes chunked transfer coding; a truncated last chunk keeps what arrived.
fn dechunk(mut raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(end) = raw.windows(2).position(|w| w == b"\r\n") {
        let line = String::from_utf8_lossy(&raw[..end]);
        let size = line.split(';').next().unwrap_or("").trim();
        let Ok(size) = usize::from_str_radix(size, 16) else {
            break;
        };
        raw = &raw[end + 2..];
        if size == 0 {
            break;
        }
        let take = size.min(raw.len());
        out.extend_from_slice(&raw[..take]);
        raw = raw.get(take + 2..).unwrap_or(&[]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunked_bodies_are_joined() {
        assert_eq!(
            dechunk(b"5\r\nhello\r\n6;x=y\r\n world\r\n0\r\n\r\n"),
            b"hello world"
        );
        assert_eq!(dechunk(b"a\r\nshort"), b"short");
        assert_eq!(dechunk(b"zz\r\n"), b"");
    }
}
