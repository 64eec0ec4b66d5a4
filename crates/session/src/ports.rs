//! The port matrix: which of the usual submission and relay ports answer, and what each speaks.
//!
//! Every port × address is probed at once, so a black-holed host costs one timeout in total, not
//! one per port. A probe greets, asks EHLO for STARTTLS and quits; a silent port is tried with a
//! TLS handshake on the same connection. No credentials are ever sent here.

use crate::conn::{Conn, Io, Tap};
use crate::ladder::CheckOptions;
use crate::record::Recorder;
use crate::target;
use crate::tls;
use rustls::pki_types::ServerName;
use smtpdoctor_report::check::{ConnectFailure, PortProbe, PortSpeaks, ResolveEvidence};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::time::Instant;

/// The ports tried when none is given.
pub const DEFAULT_PORTS: [u16; 4] = [25, 465, 587, 2525];

/// Probes every port × address at once. Returns the probes (by port, then address) and the name
/// resolution of the first port.
pub async fn probe_ports(
    opts: &CheckOptions,
    rec: &Arc<Recorder>,
) -> (Vec<PortProbe>, Option<ResolveEvidence>) {
    let mut first_resolve = None;
    let mut tasks = tokio::task::JoinSet::new();
    let deadline = Instant::now() + opts.timeout.min(opts.deadline);
    // Through a SOCKS5 proxy, every port is one connection to the proxy, which resolves the name.
    let proxy = match &opts.proxy {
        Some((host, port)) => target::resolve(host, *port, &opts.resolution, opts.timeout)
            .await
            .1
            .first()
            .copied(),
        None => None,
    };
    for &port in &opts.ports {
        let (evidence, addrs) = match proxy {
            Some(p) => (
                target::resolve(&opts.host, port, &opts.resolution, opts.timeout)
                    .await
                    .0,
                vec![p],
            ),
            None => target::resolve(&opts.host, port, &opts.resolution, opts.timeout).await,
        };
        rec.note(
            0,
            false,
            format!(
                "resolve {} for port {port}: {}",
                evidence.name,
                evidence.addresses.join(", ")
            ),
        );
        if first_resolve.is_none() {
            first_resolve = Some(evidence);
        }
        for addr in addrs {
            let conn = rec.next_conn();
            let (rec, host, trust) = (rec.clone(), opts.host.clone(), opts.trust.clone());
            let helo = opts.helo.clone();
            let via = proxy.is_some();
            tasks.spawn(async move {
                probe(rec, conn, host, port, addr, trust, helo, deadline, via).await
            });
        }
    }
    // Port 25 of an independent host, probed alongside: if it is dropped too, the block is ours.
    if let Some(control) = opts.control.as_deref().filter(|_| opts.ports.contains(&25)) {
        let (_, addrs) = target::resolve(control, 25, &opts.resolution, opts.timeout).await;
        for addr in addrs {
            let conn = rec.next_conn();
            let (rec, host, trust) = (rec.clone(), control.to_string(), opts.trust.clone());
            let helo = opts.helo.clone();
            tasks.spawn(async move {
                let mut p = probe(rec, conn, host, 25, addr, trust, helo, deadline, false).await;
                p.control = true;
                p
            });
        }
    }
    let mut probes = Vec::new();
    while let Some(done) = tasks.join_next().await {
        if let Ok(p) = done {
            probes.push(p);
        }
    }
    probes.sort_by(|a, b| {
        (opts.ports.iter().position(|p| *p == a.port), a.conn)
            .cmp(&(opts.ports.iter().position(|p| *p == b.port), b.conn))
    });
    (probes, first_resolve)
}

/// The port to run the full ladder on: submission with TLS first, then the rest.
pub fn best_port(probes: &[PortProbe]) -> Option<u16> {
    let rank = |p: &PortProbe| -> Option<(u8, u8)> {
        let speaks = match p.speaks? {
            PortSpeaks::ImplicitTls | PortSpeaks::Starttls => 3,
            PortSpeaks::Plain => 1,
            _ => return None,
        };
        let port = match p.port {
            587 => 4,
            465 => 3,
            2525 => 2,
            25 => 1,
            _ => 0,
        };
        Some((speaks, port))
    };
    probes
        .iter()
        .filter(|p| !p.control)
        .filter_map(|p| rank(p).map(|r| (r, p.port)))
        .max_by_key(|(r, _)| *r)
        .map(|(_, port)| port)
}

#[allow(clippy::too_many_arguments)] // one probe's whole context, moved into its task
async fn probe(
    rec: Arc<Recorder>,
    conn: u32,
    host: String,
    port: u16,
    addr: SocketAddr,
    trust: tls::Trust,
    helo: Option<String>,
    deadline: Instant,
    via_proxy: bool,
) -> PortProbe {
    let started = Instant::now();
    let mut out = PortProbe {
        port,
        address: if via_proxy {
            format!("{host} via SOCKS5 proxy {addr}")
        } else {
            addr.ip().to_string()
        },
        conn,
        failure: None,
        speaks: None,
        banner: None,
        ms: 0,
        detail: None,
        control: false,
    };
    rec.note(conn, false, format!("port matrix: connecting to {addr}"));
    let dial = async {
        if via_proxy {
            crate::socks::dial(addr, &host, port).await
        } else {
            TcpStream::connect(addr).await
        }
    };
    let stream = match tokio::time::timeout_at(deadline, dial).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => {
            out.failure = Some(target::connect_failure(&e));
            out.detail = Some(e.to_string());
            out.ms = started.elapsed().as_millis() as u64;
            rec.note(conn, false, format!("port matrix: {addr}: {e}"));
            return out;
        }
        Err(_) => {
            out.failure = Some(ConnectFailure::Timeout);
            out.detail = Some("no answer in time".into());
            out.ms = started.elapsed().as_millis() as u64;
            rec.note(
                conn,
                false,
                format!("port matrix: {addr}: no answer in time"),
            );
            return out;
        }
    };
    let _ = stream.set_nodelay(true);
    let local = stream.local_addr().ok();
    let mut session = Conn::new(Io::Plain(Tap::new(stream)), conn, rec.clone());
    // 465 is implicit TLS by convention; elsewhere a silent start is tried with TLS too.
    let greeted = port != 465
        && session
            .wait_for_bytes((Instant::now() + Duration::from_secs(3)).min(deadline))
            .await;
    if !greeted {
        let Some((tap, rec2, id)) = session.into_plain() else {
            return out;
        };
        out.speaks = Some(
            match implicit_tls(tap, &rec2, id, &host, &trust, deadline).await {
                Some(banner) => {
                    out.banner = banner;
                    PortSpeaks::ImplicitTls
                }
                None => PortSpeaks::Silent,
            },
        );
        out.ms = started.elapsed().as_millis() as u64;
        return out;
    }
    match session.read_reply(deadline).await {
        Ok(reply) => {
            out.banner = Some(reply.one_line());
            out.speaks = Some(PortSpeaks::Plain);
            if reply.code == 220 {
                let helo = helo.unwrap_or_else(|| crate::ladder::default_helo(local));
                if session
                    .send(&[&format!("EHLO {helo}")], deadline)
                    .await
                    .is_ok()
                    && let Ok(ehlo) = session.read_reply(deadline).await
                    && crate::wire::capabilities(&ehlo)
                        .iter()
                        .any(|c| c.keyword == "STARTTLS")
                {
                    out.speaks = Some(PortSpeaks::Starttls);
                }
            }
            out.ms = started.elapsed().as_millis() as u64;
            let quit_by = (Instant::now() + Duration::from_secs(1)).min(deadline);
            if session.send(&["QUIT"], quit_by).await.is_ok() {
                let _ = session.read_reply(quit_by).await;
            }
        }
        Err(e) => {
            out.speaks = Some(
                if e.failure == smtpdoctor_report::check::ReadFailure::Malformed {
                    PortSpeaks::NotSmtp
                } else {
                    PortSpeaks::Silent
                },
            );
            out.detail = Some(e.detail);
            out.ms = started.elapsed().as_millis() as u64;
        }
    }
    session.close().await;
    out
}

/// A TLS handshake on a connected socket; the greeting inside TLS when it works.
async fn implicit_tls(
    tap: Tap,
    rec: &Arc<Recorder>,
    id: u32,
    host: &str,
    trust: &tls::Trust,
    deadline: Instant,
) -> Option<Option<String>> {
    let (config, _) = tls::client_config(trust).ok()?;
    let name = match host.parse::<std::net::IpAddr>() {
        Ok(ip) => ServerName::IpAddress(ip.into()),
        Err(_) => ServerName::try_from(host.to_string()).ok()?,
    };
    rec.note(
        id,
        false,
        "port matrix: no greeting, trying a TLS handshake",
    );
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let stream = tokio::time::timeout_at(deadline, connector.connect(name, tap))
        .await
        .ok()?
        .ok()?;
    rec.note(id, true, "port matrix: TLS handshake done (implicit TLS)");
    let mut session = Conn::new(Io::Tls(Box::new(stream)), id, rec.clone());
    let banner = session
        .read_reply((Instant::now() + Duration::from_secs(3)).min(deadline))
        .await
        .ok()
        .map(|r| r.one_line());
    let quit_by = (Instant::now() + Duration::from_secs(1)).min(deadline);
    if session.send(&["QUIT"], quit_by).await.is_ok() {
        let _ = session.read_reply(quit_by).await;
    }
    session.close().await;
    Some(banner)
}
