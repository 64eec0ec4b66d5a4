//! Where to connect: host and port parsing, curl's `--resolve` and `--connect-to` forms, and the
//! resolution of the server's name into addresses.

use hickory_resolver::TokioResolver;
use hickory_resolver::config::{NameServerConfig, ResolverConfig, ResolverOpts};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use smtpdoctor_report::check::{ConnectFailure, DnsFailure, ResolveEvidence};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;
use std::time::{Duration, Instant};

/// Which address families to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// IPv4 only (`-4`).
    V4,
    /// IPv6 only (`-6`).
    V6,
}

fn parse_addr(text: &str) -> Option<IpAddr> {
    let text = text
        .strip_prefix('[')
        .and_then(|t| t.strip_suffix(']'))
        .unwrap_or(text);
    text.parse().ok()
}

/// `HOST[:PORT]` as typed by a user; IPv6 literals in brackets.
pub fn parse_host_port(text: &str) -> Result<(String, Option<u16>), String> {
    let bad = |why: &str| format!("'{text}' is not a valid HOST[:PORT]: {why}");
    if text.is_empty() {
        return Err(bad("empty"));
    }
    if let Some(rest) = text.strip_prefix('[') {
        let (host, after) = rest.split_once(']').ok_or_else(|| bad("missing ']'"))?;
        host.parse::<std::net::Ipv6Addr>()
            .map_err(|_| bad("not an IPv6 address in brackets"))?;
        let port = match after {
            "" => None,
            p => Some(
                parse_port(p.strip_prefix(':').ok_or_else(|| bad("junk after ']'"))?)
                    .map_err(|e| bad(&e))?,
            ),
        };
        return Ok((host.to_string(), port));
    }
    if text.matches(':').count() > 1 {
        // A bare IPv6 literal has no room for a port.
        text.parse::<std::net::Ipv6Addr>()
            .map_err(|_| bad("use [IPv6]:PORT"))?;
        return Ok((text.to_string(), None));
    }
    let (host, port) = match text.split_once(':') {
        Some((h, p)) => (h, Some(parse_port(p).map_err(|e| bad(&e))?)),
        None => (text, None),
    };
    validate_host(host).map_err(|e| bad(&e))?;
    Ok((host.to_string(), port))
}

/// A port number 1–65535.
pub fn parse_port(text: &str) -> Result<u16, String> {
    match text.parse::<u16>() {
        Ok(0) | Err(_) => Err(format!("'{text}' is not a port number (1-65535)")),
        Ok(p) => Ok(p),
    }
}

fn validate_host(host: &str) -> Result<(), String> {
    if host.parse::<IpAddr>().is_ok() {
        return Ok(());
    }
    let name = host.strip_suffix('.').unwrap_or(host);
    if name.is_empty() || name.len() > 253 {
        return Err("a host name must have 1 to 253 characters".into());
    }
    for label in name.split('.') {
        if label.is_empty() || label.len() > 63 {
            return Err(format!("'{label}' is not a valid DNS label"));
        }
        if !label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(format!("'{label}' has characters a host name cannot have"));
        }
    }
    Ok(())
}

/// curl's `--resolve HOST[:PORT]:ADDR`: use ADDR for HOST (on PORT, or any port).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolveOverride {
    /// The name.
    pub host: String,
    /// The port it applies to, or all.
    pub port: Option<u16>,
    /// The address to use.
    pub addr: IpAddr,
}

impl FromStr for ResolveOverride {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        let bad = || {
            format!(
                "--resolve '{text}': expected HOST[:PORT]:ADDR, e.g. mail.example.com:587:192.0.2.7"
            )
        };
        let (host, rest) = text.split_once(':').ok_or_else(bad)?;
        if host.is_empty() {
            return Err(bad());
        }
        if let Some((port, addr)) = rest.split_once(':')
            && let (Ok(port), Some(addr)) = (parse_port(port), parse_addr(addr))
        {
            return Ok(ResolveOverride {
                host: host.to_ascii_lowercase(),
                port: Some(port),
                addr,
            });
        }
        let addr = parse_addr(rest).ok_or_else(bad)?;
        Ok(ResolveOverride {
            host: host.to_ascii_lowercase(),
            port: None,
            addr,
        })
    }
}

/// curl's `--connect-to HOST1:PORT1:HOST2:PORT2`: connections meant for HOST1:PORT1 go to
/// HOST2:PORT2; an empty field matches any host or port (or keeps it, on the right side).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectTo {
    /// The name it applies to, or all.
    pub host: Option<String>,
    /// The port it applies to, or all.
    pub port: Option<u16>,
    /// Where to connect instead (same host when none).
    pub to_host: Option<String>,
    /// Which port instead (same port when none).
    pub to_port: Option<u16>,
}

impl FromStr for ConnectTo {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        let bad =
            |why: &str| format!("--connect-to '{text}': {why}; expected HOST1:PORT1:HOST2:PORT2");
        let (host, rest) = text.split_once(':').ok_or_else(|| bad("too few fields"))?;
        let (port, rest) = rest.split_once(':').ok_or_else(|| bad("too few fields"))?;
        let (to_host, to_port) = rest.rsplit_once(':').ok_or_else(|| bad("too few fields"))?;
        let opt_port = |p: &str| {
            if p.is_empty() {
                Ok(None)
            } else {
                parse_port(p).map(Some).map_err(|e| bad(&e))
            }
        };
        let to_host = to_host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(to_host);
        Ok(ConnectTo {
            host: (!host.is_empty()).then(|| host.to_ascii_lowercase()),
            port: opt_port(port)?,
            to_host: (!to_host.is_empty()).then(|| to_host.to_string()),
            to_port: opt_port(to_port)?,
        })
    }
}

/// How the name is turned into addresses.
#[derive(Debug, Clone, Default)]
pub struct Resolution {
    /// `--resolve` entries.
    pub overrides: Vec<ResolveOverride>,
    /// `--connect-to` entries.
    pub connect_to: Vec<ConnectTo>,
    /// `--dns`: the one server every query goes to.
    pub dns: Option<SocketAddr>,
    /// `-4` / `-6`.
    pub family: Option<Family>,
}

/// The addresses to try, and the evidence of how they were found.
pub async fn resolve(
    host: &str,
    port: u16,
    how: &Resolution,
    timeout: Duration,
) -> (ResolveEvidence, Vec<SocketAddr>) {
    let started = Instant::now();
    let lower = host.to_ascii_lowercase();
    let mut target_host = host.to_string();
    let mut target_port = port;
    let mut source = "dns";
    if let Some(rule) = how
        .connect_to
        .iter()
        .find(|r| r.host.as_deref().is_none_or(|h| h == lower) && r.port.is_none_or(|p| p == port))
    {
        if let Some(h) = &rule.to_host {
            target_host = h.clone();
        }
        if let Some(p) = rule.to_port {
            target_port = p;
        }
        source = "--connect-to";
    }
    let target_lower = target_host.to_ascii_lowercase();
    let mut evidence = ResolveEvidence {
        name: target_host.clone(),
        source: source.to_string(),
        server: how.dns.map(|d| d.to_string()),
        addresses: vec![],
        filtered: vec![],
        failure: None,
        detail: None,
        ms: 0,
    };
    let found: Result<Vec<IpAddr>, (DnsFailure, String)> =
        if let Some(addr) = parse_addr(&target_host) {
            evidence.source = if source == "dns" {
                "literal".into()
            } else {
                source.into()
            };
            evidence.server = None;
            Ok(vec![addr])
        } else if let Some(rule) = how
            .overrides
            .iter()
            .find(|r| r.host == target_lower && r.port.is_none_or(|p| p == target_port))
        {
            evidence.source = "--resolve".into();
            evidence.server = None;
            Ok(vec![rule.addr])
        } else {
            lookup(&target_host, how.dns, timeout).await
        };
    let addrs = match found {
        Ok(addrs) => addrs,
        Err((failure, detail)) => {
            evidence.failure = Some(failure);
            evidence.detail = Some(detail);
            vec![]
        }
    };
    let mut usable = Vec::new();
    for addr in addrs {
        let keep = match how.family {
            Some(Family::V4) => addr.is_ipv4(),
            Some(Family::V6) => addr.is_ipv6(),
            None => true,
        };
        if keep {
            evidence.addresses.push(addr.to_string());
            usable.push(SocketAddr::new(addr, target_port));
        } else {
            evidence.filtered.push(addr.to_string());
        }
    }
    evidence.ms = started.elapsed().as_millis() as u64;
    (evidence, usable)
}

/// Resolvers handed out again, per server and timeout, once [`share_resolvers`] was called.
type SharedResolvers = std::sync::Mutex<HashMap<(Option<SocketAddr>, Duration), TokioResolver>>;
static SHARED: std::sync::OnceLock<SharedResolvers> = std::sync::OnceLock::new();

/// From now on, [`resolver`] hands out one resolver per server and timeout for the rest of the
/// process instead of a new one per call, so that no look-up of a `domain --domains` run pays
/// for building a resolver. A shared resolver keeps no cache: across a batch its bookkeeping
/// cost more CPU than the few repeated questions it saved (bench/README.md), and the recursive
/// resolver behind `--dns` caches anyway; answers worth sharing are kept by the caller
/// (`domain::Shared`). A shared resolver belongs to the runtime that first used it, so only
/// call this where one runtime serves the whole process.
pub fn share_resolvers() {
    SHARED.get_or_init(Default::default);
}

/// Whether [`share_resolvers`] was called: other per-run state (the DNSSEC validator) is shared
/// on the same terms.
pub(crate) fn sharing() -> bool {
    SHARED.get().is_some()
}

/// A resolver that sends every query to `dns` when given, else the system's configuration
/// (the same one each time after [`share_resolvers`]).
pub fn resolver(dns: Option<SocketAddr>, timeout: Duration) -> Result<TokioResolver, String> {
    let Some(shared) = SHARED.get() else {
        return new_resolver(dns, timeout, true);
    };
    let mut map = shared.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(r) = map.get(&(dns, timeout)) {
        return Ok(r.clone());
    }
    let r = new_resolver(dns, timeout, false)?;
    map.insert((dns, timeout), r.clone());
    Ok(r)
}

fn new_resolver(
    dns: Option<SocketAddr>,
    timeout: Duration,
    cache: bool,
) -> Result<TokioResolver, String> {
    let mut builder = match dns {
        Some(server) => {
            let mut ns = NameServerConfig::udp_and_tcp(server.ip());
            for c in &mut ns.connections {
                c.port = server.port();
            }
            TokioResolver::builder_with_config(
                ResolverConfig::from_name_servers(vec![ns]),
                TokioRuntimeProvider::default(),
            )
        }
        None => TokioResolver::builder_tokio()
            .map_err(|e| format!("cannot read the system's DNS configuration: {e}"))?,
    };
    let opts: &mut ResolverOpts = builder.options_mut();
    opts.timeout = timeout;
    opts.attempts = 1;
    if !cache {
        opts.cache_size = 0;
    }
    builder
        .build()
        .map_err(|e| format!("cannot set up DNS: {e}"))
}

pub(crate) async fn lookup(
    host: &str,
    dns: Option<SocketAddr>,
    timeout: Duration,
) -> Result<Vec<IpAddr>, (DnsFailure, String)> {
    if let Err(e) = validate_host(host) {
        return Err((DnsFailure::InvalidName, e));
    }
    let resolver = resolver(dns, timeout).map_err(|e| (DnsFailure::Other, e))?;
    let fqdn = if host.ends_with('.') {
        host.to_string()
    } else {
        format!("{host}.")
    };
    // Both families, so that a broken family is seen rather than hidden by the other.
    let (v4, v6) = tokio::join!(
        resolver.ipv4_lookup(fqdn.as_str()),
        resolver.ipv6_lookup(fqdn.as_str())
    );
    let mut addrs: Vec<IpAddr> = Vec::new();
    let mut errors = Vec::new();
    match v4 {
        Ok(lookup) => addrs.extend(lookup.answers().iter().filter_map(|r| match &r.data {
            hickory_resolver::proto::rr::RData::A(a) => Some(IpAddr::V4(a.0)),
            _ => None,
        })),
        Err(e) => errors.push(e),
    }
    match v6 {
        Ok(lookup) => addrs.extend(lookup.answers().iter().filter_map(|r| match &r.data {
            hickory_resolver::proto::rr::RData::AAAA(a) => Some(IpAddr::V6(a.0)),
            _ => None,
        })),
        Err(e) => errors.push(e),
    }
    if !addrs.is_empty() {
        // IPv6 first, as most systems' address selection (RFC 6724) has it: a broken IPv6 path
        // is then seen, as clients see it, instead of hidden behind a working IPv4 one.
        addrs.sort_by_key(|a| a.is_ipv4());
        return Ok(addrs);
    }
    let Some(error) = errors.first() else {
        return Err((
            DnsFailure::NoData,
            format!("{host} has no A or AAAA record"),
        ));
    };
    let failure = dns_failure(&errors);
    // Say it in words: the resolver's own error text carries its internal query structures.
    let detail = match failure {
        DnsFailure::NxDomain => format!("{host}: no such domain (NXDOMAIN)"),
        DnsFailure::NoData => format!("{host}: the name exists but has no A or AAAA record"),
        DnsFailure::Timeout => format!("{host}: no answer from the DNS server in time"),
        DnsFailure::ServerFailure => format!("{host}: the DNS server failed to answer (SERVFAIL)"),
        DnsFailure::Refused => format!("{host}: the DNS server refused the query (REFUSED)"),
        _ => {
            let text = error.to_string();
            text.split(" Query {")
                .next()
                .unwrap_or(&text)
                .trim()
                .to_string()
        }
    };
    Err((failure, detail))
}

/// Why a look-up failed, from the resolver's errors: NXDOMAIN and NODATA apart, then timeout,
/// REFUSED and SERVFAIL by the error's words (hickory reports those only as text).
pub(crate) fn dns_failure(errors: &[hickory_resolver::net::NetError]) -> DnsFailure {
    let text = errors
        .iter()
        .map(|e| e.to_string().to_ascii_lowercase())
        .collect::<Vec<_>>()
        .join(" ");
    if errors.iter().any(|e| e.is_nx_domain()) {
        DnsFailure::NxDomain
    } else if !errors.is_empty() && errors.iter().all(|e| e.is_no_records_found()) {
        DnsFailure::NoData
    } else if text.contains("timed out") || text.contains("timeout") {
        DnsFailure::Timeout
    } else if text.contains("refused") {
        DnsFailure::Refused
    } else if text.contains("servfail") || text.contains("server failure") {
        DnsFailure::ServerFailure
    } else {
        DnsFailure::Other
    }
}

/// Why a TCP connect failed, from the operating system's error.
pub fn connect_failure(e: &std::io::Error) -> ConnectFailure {
    match e.kind() {
        std::io::ErrorKind::ConnectionRefused => ConnectFailure::Refused,
        std::io::ErrorKind::HostUnreachable => ConnectFailure::HostUnreachable,
        std::io::ErrorKind::NetworkUnreachable => ConnectFailure::NetworkUnreachable,
        std::io::ErrorKind::TimedOut => ConnectFailure::Timeout,
        _ => ConnectFailure::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_port_forms() {
        assert_eq!(
            parse_host_port("mail.test:587").unwrap(),
            ("mail.test".into(), Some(587))
        );
        assert_eq!(
            parse_host_port("mail.test").unwrap(),
            ("mail.test".into(), None)
        );
        assert_eq!(
            parse_host_port("[::1]:25").unwrap(),
            ("::1".into(), Some(25))
        );
        assert_eq!(parse_host_port("::1").unwrap(), ("::1".into(), None));
        assert!(parse_host_port("mail.test:0").is_err());
        assert!(parse_host_port("mail.test:99999").is_err());
        assert!(parse_host_port("bad host:25").is_err());
        assert!(parse_host_port("").is_err());
    }

    #[test]
    fn resolve_override_forms() {
        let r: ResolveOverride = "Mail.Test:587:127.0.0.1".parse().unwrap();
        assert_eq!((r.host.as_str(), r.port), ("mail.test", Some(587)));
        let r: ResolveOverride = "mail.test:127.0.0.2".parse().unwrap();
        assert_eq!(r.port, None);
        let r: ResolveOverride = "mail.test:25:[::1]".parse().unwrap();
        assert_eq!(r.addr, "::1".parse::<IpAddr>().unwrap());
        let r: ResolveOverride = "mail.test:::1".parse().unwrap();
        assert_eq!(r.addr, "::1".parse::<IpAddr>().unwrap());
        assert!("mail.test".parse::<ResolveOverride>().is_err());
        assert!("mail.test:25:nothere".parse::<ResolveOverride>().is_err());
    }

    #[test]
    fn connect_to_forms() {
        let c: ConnectTo = "mx.example:25:127.0.0.1:2525".parse().unwrap();
        assert_eq!(c.to_port, Some(2525));
        let c: ConnectTo = "::[::1]:".parse().unwrap();
        assert_eq!(
            (c.host, c.port, c.to_host.as_deref(), c.to_port),
            (None, None, Some("::1"), None)
        );
        assert!("a:b".parse::<ConnectTo>().is_err());
    }
}
