//! SOCKS5 (RFC 1928) for `--proxy socks5://HOST:PORT`: the proxy resolves the SMTP host's name
//! itself (socks5h semantics), so the name never touches the local resolver.

use smtpdoctor_report::check::ConnectFailure;
use std::net::IpAddr;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Parses `socks5://HOST:PORT` or `socks5h://HOST:PORT` (both resolve at the proxy).
pub fn parse_proxy(url: &str) -> Result<(String, u16), String> {
    // Never echo credentials a user put in the URL (user:password@host).
    let shown = match url.split_once("://") {
        Some((scheme, rest)) => match rest.rsplit_once('@') {
            Some((_, host)) => format!("{scheme}://[credentials removed]@{host}"),
            None => url.to_string(),
        },
        None => url.to_string(),
    };
    let bad = |why: &str| {
        format!("--proxy '{shown}': {why}; expected socks5://HOST:PORT (no credentials)")
    };
    let rest = url
        .strip_prefix("socks5h://")
        .or_else(|| url.strip_prefix("socks5://"))
        .ok_or_else(|| bad("only SOCKS5 proxies are supported"))?;
    let (host, port) =
        crate::target::parse_host_port(rest.trim_end_matches('/')).map_err(|e| bad(&e))?;
    Ok((host, port.unwrap_or(1080)))
}

/// Connects to the proxy at `proxy` and through it to `host:port`, with the proxy's refusals as
/// the matching I/O errors (connection refused, host unreachable, ...).
pub async fn dial(
    proxy: std::net::SocketAddr,
    host: &str,
    port: u16,
) -> std::io::Result<TcpStream> {
    let mut stream = TcpStream::connect(proxy).await?;
    connect(&mut stream, host, port)
        .await
        .map_err(|(failure, words)| {
            let kind = match failure {
                ConnectFailure::Refused => std::io::ErrorKind::ConnectionRefused,
                ConnectFailure::HostUnreachable => std::io::ErrorKind::HostUnreachable,
                ConnectFailure::NetworkUnreachable => std::io::ErrorKind::NetworkUnreachable,
                ConnectFailure::Timeout => std::io::ErrorKind::TimedOut,
                ConnectFailure::Other => std::io::ErrorKind::Other,
            };
            std::io::Error::new(kind, words)
        })?;
    Ok(stream)
}

/// Asks the proxy on `stream` to connect to `host:port`. No authentication (method 0).
pub async fn connect(
    stream: &mut TcpStream,
    host: &str,
    port: u16,
) -> Result<(), (ConnectFailure, String)> {
    let io = |e: std::io::Error| (ConnectFailure::Other, format!("SOCKS5 proxy: {e}"));
    stream.write_all(&[5, 1, 0]).await.map_err(io)?;
    let mut choice = [0u8; 2];
    stream.read_exact(&mut choice).await.map_err(io)?;
    if choice != [5, 0] {
        return Err((
            ConnectFailure::Other,
            "the SOCKS5 proxy wants authentication, which smtpdoctor does not offer".into(),
        ));
    }
    let mut request = vec![5, 1, 0];
    match host.parse::<IpAddr>() {
        Ok(IpAddr::V4(v4)) => {
            request.push(1);
            request.extend_from_slice(&v4.octets());
        }
        Ok(IpAddr::V6(v6)) => {
            request.push(4);
            request.extend_from_slice(&v6.octets());
        }
        Err(_) => {
            let name = host.as_bytes();
            if name.len() > 255 {
                return Err((
                    ConnectFailure::Other,
                    "host name too long for SOCKS5".into(),
                ));
            }
            request.push(3);
            request.push(name.len() as u8);
            request.extend_from_slice(name);
        }
    }
    request.extend_from_slice(&port.to_be_bytes());
    stream.write_all(&request).await.map_err(io)?;
    let mut head = [0u8; 4];
    stream.read_exact(&mut head).await.map_err(io)?;
    if head[0] != 5 {
        return Err((
            ConnectFailure::Other,
            "the proxy does not speak SOCKS5".into(),
        ));
    }
    let (failure, words) = match head[1] {
        0 => (None, ""),
        2 => (
            Some(ConnectFailure::Other),
            "the proxy's rules do not allow this connection",
        ),
        3 => (
            Some(ConnectFailure::NetworkUnreachable),
            "the proxy reports: network unreachable",
        ),
        4 => (
            Some(ConnectFailure::HostUnreachable),
            "the proxy reports: host unreachable (or its name does not resolve there)",
        ),
        5 => (
            Some(ConnectFailure::Refused),
            "the proxy reports: connection refused",
        ),
        6 => (
            Some(ConnectFailure::Timeout),
            "the proxy reports: no answer in time (TTL expired)",
        ),
        _ => (
            Some(ConnectFailure::Other),
            "the proxy reports a general failure",
        ),
    };
    if let Some(f) = failure {
        return Err((f, words.to_string()));
    }
    // The bound address, which nothing needs: read it to leave the stream at the SMTP bytes.
    let skip = match head[3] {
        1 => 4,
        4 => 16,
        3 => {
            let mut len = [0u8; 1];
            stream.read_exact(&mut len).await.map_err(io)?;
            len[0] as usize
        }
        _ => {
            return Err((
                ConnectFailure::Other,
                "the proxy sent an unknown address type".into(),
            ));
        }
    };
    let mut rest = vec![0u8; skip + 2];
    stream.read_exact(&mut rest).await.map_err(io)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proxy_urls() {
        assert_eq!(
            parse_proxy("socks5://127.0.0.1:1080").unwrap(),
            ("127.0.0.1".into(), 1080)
        );
        assert_eq!(
            parse_proxy("socks5h://proxy.example:9050").unwrap(),
            ("proxy.example".into(), 9050)
        );
        assert_eq!(parse_proxy("socks5://proxy.example").unwrap().1, 1080);
        assert!(parse_proxy("http://proxy.example:3128").is_err());
    }
}
