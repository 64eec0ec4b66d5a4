//! DNSSEC for probes: trust anchors (the IANA root built into hickory, plus `--trust-anchor`
//! files of DS or DNSKEY records), a validating resolver, and a look-up that says whether its
//! answer is secure, insecure or bogus.
//!
//! hickory answers "validation failed" both for a broken zone and for an unsigned one whose
//! insecurity it cannot prove — the usual case when `--dns` names an authoritative server that
//! does not answer for the parent zones. So a few plain queries first gather the zone's facts
//! (its apex, whether it has DNSKEY records, whether a DS record for it is visible, whether a
//! `--trust-anchor` covers it): a zone that nothing vouches for (no DS, no anchor) is insecure
//! and is not validated at all; in one that something vouches for, a validation failure is bogus.

use crate::target;
use hickory_resolver::TokioResolver;
use hickory_resolver::config::{NameServerConfig, ResolverConfig};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::net::{DnsError, NetError};
use hickory_resolver::proto::dnssec::rdata::{DNSKEY, DNSSECRData, DS, RRSIG};
use hickory_resolver::proto::dnssec::{
    Algorithm, DigestType, Proof, PublicKey, PublicKeyBuf, TrustAnchors, Verifier,
};
use hickory_resolver::proto::op::{Edns, Message, Query, ResponseCode};
use hickory_resolver::proto::rr::{DNSClass, Name, RData, Record, RecordType};
use smtpdoctor_report::check::{DnsFailure, Dnssec, ZoneFacts};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// One trust anchor of a `--trust-anchor` file.
#[derive(Debug, Clone)]
enum Anchor {
    Ds(DS),
    Dnskey(DNSKEY),
}

/// The DNSSEC trust anchors of a run: the root's (always) and those of a `--trust-anchor` file.
#[derive(Debug, Clone, Default)]
pub struct Anchors {
    entries: Vec<(Name, Anchor)>,
}

impl Anchors {
    /// Reads a file of DS or DNSKEY records in zone-file presentation format (as unbound's
    /// `trust-anchor-file`, `dig` or `ldns-keygen` write them).
    pub fn load(path: &Path) -> Result<Anchors, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("--trust-anchor {}: {e}", path.display()))?;
        Anchors::parse(&text).map_err(|e| format!("--trust-anchor {}: {e}", path.display()))
    }

    /// Parses DS and DNSKEY records: `OWNER [TTL] [IN] DS|DNSKEY RDATA`, `;` comments, records
    /// spread over lines in parentheses.
    pub fn parse(text: &str) -> Result<Anchors, String> {
        let mut entries = Vec::new();
        let mut pending = String::new();
        let mut depth = 0i32;
        for (n, line) in text.lines().enumerate() {
            let line = line.split(';').next().unwrap_or("");
            depth += line.matches('(').count() as i32 - line.matches(')').count() as i32;
            pending.push(' ');
            pending.push_str(&line.replace(['(', ')'], " "));
            if depth > 0 {
                continue;
            }
            let record = std::mem::take(&mut pending);
            let mut tokens = record.split_whitespace().peekable();
            let Some(owner) = tokens.next() else { continue };
            let bad = |why: &str| format!("line {}: {why}", n + 1);
            let zone = Name::from_ascii(owner)
                .map(|mut z| {
                    z.set_fqdn(true);
                    z
                })
                .map_err(|e| bad(&format!("'{owner}' is not a domain name: {e}")))?;
            let mut kind = None;
            for t in tokens.by_ref() {
                if t.bytes().all(|b| b.is_ascii_digit()) || t.eq_ignore_ascii_case("IN") {
                    continue;
                }
                kind = Some(t.to_ascii_uppercase());
                break;
            }
            let rdata: Vec<&str> = tokens.collect();
            let anchor = match kind.as_deref() {
                Some("DS") => parse_ds(&rdata).map(Anchor::Ds).map_err(|e| bad(&e))?,
                Some("DNSKEY") => parse_dnskey(&rdata)
                    .map(Anchor::Dnskey)
                    .map_err(|e| bad(&e))?,
                Some(other) => {
                    return Err(bad(&format!(
                        "{other} records cannot be trust anchors (give DS or DNSKEY records)"
                    )));
                }
                None => return Err(bad("no record type")),
            };
            entries.push((zone, anchor));
        }
        if depth != 0 {
            return Err("unbalanced parentheses".into());
        }
        if entries.is_empty() {
            return Err("no DS or DNSKEY record in it".into());
        }
        Ok(Anchors { entries })
    }

    /// The zones the file has anchors for, each once, with a trailing dot.
    pub fn zones(&self) -> Vec<String> {
        let mut zones: Vec<String> = Vec::new();
        for (zone, _) in &self.entries {
            if !zones.contains(&zone.to_ascii()) {
                zones.push(zone.to_ascii());
            }
        }
        zones
    }

    /// Whether an anchor sits at this zone or above it.
    fn covers(&self, apex: &Name) -> bool {
        self.entries
            .iter()
            .any(|(z, _)| !z.is_root() && z.zone_of(apex))
    }
}

/// `KEYTAG ALGORITHM DIGESTTYPE DIGEST` (the digest may be split by spaces).
fn parse_ds(rdata: &[&str]) -> Result<DS, String> {
    let bad = || {
        format!(
            "bad DS record '{}': expected KEYTAG ALGORITHM DIGEST-TYPE DIGEST",
            rdata.join(" ")
        )
    };
    let [tag, algorithm, digest_type, digest @ ..] = rdata else {
        return Err(bad());
    };
    let digest: String = digest.concat();
    if digest.is_empty() || !digest.len().is_multiple_of(2) {
        return Err(bad());
    }
    let digest = (0..digest.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&digest[i..i + 2], 16))
        .collect::<Result<Vec<u8>, _>>()
        .map_err(|_| bad())?;
    Ok(DS::new(
        tag.parse().map_err(|_| bad())?,
        Algorithm::from_u8(algorithm.parse().map_err(|_| bad())?),
        DigestType::from(digest_type.parse::<u8>().map_err(|_| bad())?),
        digest,
    ))
}

/// `FLAGS PROTOCOL ALGORITHM BASE64-KEY` (the key may be split by spaces).
fn parse_dnskey(rdata: &[&str]) -> Result<DNSKEY, String> {
    use base64::Engine;
    let bad = || {
        format!(
            "bad DNSKEY record '{}': expected FLAGS 3 ALGORITHM KEY",
            rdata.join(" ")
        )
    };
    let [flags, protocol, algorithm, key @ ..] = rdata else {
        return Err(bad());
    };
    if *protocol != "3" {
        return Err(bad());
    }
    let key = base64::engine::general_purpose::STANDARD
        .decode(key.concat())
        .map_err(|_| bad())?;
    if key.is_empty() {
        return Err(bad());
    }
    let algorithm = Algorithm::from_u8(algorithm.parse().map_err(|_| bad())?);
    Ok(DNSKEY::with_flags(
        flags.parse().map_err(|_| bad())?,
        PublicKeyBuf::new(key, algorithm),
    ))
}

/// What a validated look-up found.
#[derive(Debug, Clone, Default)]
pub struct Validated {
    /// The DNSSEC status of the answer, or of the proof that there is none.
    pub dnssec: Option<Dnssec>,
    /// The records of the type asked for.
    pub records: Vec<RData>,
    /// NX domain or no data, or why the look-up failed.
    pub failure: Option<DnsFailure>,
    /// How the status was decided when validation failed, or the error.
    pub detail: Option<String>,
    /// The zone's facts, when validation failed.
    pub zone: Option<ZoneFacts>,
}

/// Plain queries (no validation) to one server, each bounded by the timeout.
#[derive(Debug, Clone, Copy)]
struct Plain {
    server: SocketAddr,
    timeout: Duration,
}

impl Plain {
    /// One query (UDP, then TCP when truncated).
    async fn query(
        &self,
        name: &Name,
        rtype: RecordType,
        dnssec_ok: bool,
    ) -> Result<Message, String> {
        tokio::time::timeout(self.timeout, exchange(self.server, name, rtype, dnssec_ok))
            .await
            .map_err(|_| format!("no answer from {} in time", self.server))?
    }
}

/// A validating resolver plus a plain querier to the same server, for one run.
pub struct Validator {
    resolver: TokioResolver,
    plain: Plain,
    anchors: Anchors,
    zones: tokio::sync::Mutex<std::collections::HashMap<Name, ZoneFacts>>,
    /// The anchors in use, for the report: `root`, then each file zone and how its keys were
    /// established.
    pub described: Vec<String>,
}

/// Validators handed out again, per server and timeout, while resolvers are shared.
type SharedValidators =
    tokio::sync::Mutex<std::collections::HashMap<(Option<SocketAddr>, Duration), Arc<Validator>>>;
static SHARED: std::sync::OnceLock<SharedValidators> = std::sync::OnceLock::new();

impl Validator {
    /// A validator for `dns`: a new one, or once [`target::share_resolvers`] was called the same
    /// one for the rest of the process (one run, one set of anchors), so that a `domain
    /// --domains` batch builds the validating resolver, its key cache and the anchored keys
    /// once, and reads each zone's facts once. The first caller builds it while the others wait;
    /// a failure is not kept.
    pub async fn for_run(
        dns: Option<SocketAddr>,
        anchors: &Anchors,
        timeout: Duration,
    ) -> Result<Arc<Validator>, String> {
        if !target::sharing() {
            return Validator::new(dns, anchors, timeout).await.map(Arc::new);
        }
        let mut map = SHARED.get_or_init(Default::default).lock().await;
        if let Some(v) = map.get(&(dns, timeout)) {
            return Ok(v.clone());
        }
        let v = Arc::new(Validator::new(dns, anchors, timeout).await?);
        map.insert((dns, timeout), v.clone());
        Ok(v)
    }

    /// Sets up validation through `dns` (else the system's first name server: plain queries and
    /// validation must ask the same server). A file's anchors
    /// are turned into trusted keys here: the zone's DNSKEY set is fetched and, when a key the
    /// file vouches for signs it, every key of the set is trusted (hickory 0.26 otherwise asks
    /// the parent for DS records of a zone whose keys are not all anchors, which a secure island
    /// has not got).
    pub async fn new(
        dns: Option<SocketAddr>,
        anchors: &Anchors,
        timeout: Duration,
    ) -> Result<Validator, String> {
        let server = match dns {
            Some(s) => s,
            None => system_server()?,
        };
        let plain = Plain { server, timeout };
        let mut described = vec!["root".to_string()];
        let mut trust = TrustAnchors::default();
        for zone in anchors.zones() {
            let name = Name::from_ascii(&zone).map_err(|e| e.to_string())?;
            let (keys, how) = zone_keys(&plain, anchors, &name).await;
            for key in &keys {
                trust.insert_with_name(key.public_key(), (&name).into());
            }
            described.push(format!("{zone} ({how})"));
        }
        let mut ns = NameServerConfig::udp_and_tcp(server.ip());
        for c in &mut ns.connections {
            c.port = server.port();
        }
        let mut builder = TokioResolver::builder_with_config(
            ResolverConfig::from_name_servers(vec![ns]),
            TokioRuntimeProvider::default(),
        )
        .with_trust_anchor(Arc::new(trust));
        builder.options_mut().timeout = timeout;
        builder.options_mut().attempts = 1;
        builder.options_mut().validate = true;
        let resolver = builder
            .build()
            .map_err(|e| format!("cannot set up DNSSEC validation: {e}"))?;
        Ok(Validator {
            resolver,
            plain,
            anchors: anchors.clone(),
            zones: Default::default(),
            described,
        })
    }

    /// A look-up with DNSSEC status. The zone's facts come first: a zone nothing vouches for (no
    /// DS record at its parent, no `--trust-anchor`) is insecure, and is read without validation
    /// — hickory 0.26 would otherwise spend hundreds of queries trying to prove it insecure when
    /// the server cannot show the chain above it. A vouched-for zone is validated, and a failure
    /// there is bogus.
    pub async fn lookup(&self, name: &Name, rtype: RecordType) -> Validated {
        self.lookup_with(name, rtype, true).await
    }

    /// The DNSSEC status of an answer alone, as [`Validator::lookup`] gives it: in a zone that
    /// nothing vouches for the answer is insecure whatever it holds, so it is not asked for.
    pub async fn status(&self, name: &Name, rtype: RecordType) -> Option<Dnssec> {
        self.lookup_with(name, rtype, false).await.dnssec
    }

    async fn lookup_with(&self, name: &Name, rtype: RecordType, records: bool) -> Validated {
        let mut out = Validated::default();
        let zone = self.zone_facts(name).await;
        if let Some(zone) = zone.as_ref().filter(|z| !z.ds && !z.anchored) {
            let signed = if zone.signed {
                "is signed (it has DNSKEY records), but"
            } else {
                "is not signed (no DNSKEY records) and"
            };
            out.dnssec = Some(Dnssec::Insecure);
            out.detail = Some(format!(
                "the zone {} {signed} nothing vouches for it (no DS record at its parent, no --trust-anchor): unsigned as far as senders can tell",
                zone.apex
            ));
            out.zone = Some(zone.clone());
            if records {
                self.read_plain(name, rtype, &mut out).await;
            }
            return out;
        }
        match self.resolver.lookup(name.clone(), rtype).await {
            Ok(lookup) => {
                let answers: Vec<&Record> = lookup
                    .answers()
                    .iter()
                    .filter(|r| r.record_type() != RecordType::RRSIG)
                    .collect();
                out.records = answers
                    .iter()
                    .filter(|r| r.record_type() == rtype)
                    .map(|r| r.data.clone())
                    .collect();
                if answers.iter().all(|r| r.proof == Proof::Secure) {
                    out.dnssec = Some(Dnssec::Secure);
                } else if answers
                    .iter()
                    .all(|r| r.proof.is_secure() || r.proof.is_insecure())
                {
                    out.dnssec = Some(Dnssec::Insecure);
                } else {
                    self.bogus(
                        name,
                        rtype,
                        zone,
                        "DNSSEC validation failed".into(),
                        &mut out,
                    )
                    .await;
                }
            }
            Err(NetError::Dns(DnsError::NoRecordsFound(none))) => {
                out.failure = Some(if none.response_code == ResponseCode::NXDomain {
                    DnsFailure::NxDomain
                } else {
                    DnsFailure::NoData
                });
                // A denial is secure when its proof (NSEC/NSEC3 and SOA) validated.
                let secure = none
                    .authorities
                    .iter()
                    .flat_map(|a| a.iter())
                    .any(|r| r.proof.is_secure());
                out.dnssec = Some(if secure {
                    Dnssec::Secure
                } else {
                    Dnssec::Insecure
                });
            }
            Err(
                e @ (NetError::Dns(DnsError::DnssecBogus) | NetError::Dns(DnsError::Nsec { .. })),
            ) => {
                self.bogus(name, rtype, zone, first_words(&e), &mut out)
                    .await;
            }
            Err(e) => {
                out.failure = Some(target::dns_failure(std::slice::from_ref(&e)));
                out.detail = Some(first_words(&e));
            }
        }
        out
    }

    /// Validation failed in a zone something vouches for: bogus, with the unvalidated answer.
    async fn bogus(
        &self,
        name: &Name,
        rtype: RecordType,
        zone: Option<ZoneFacts>,
        error: String,
        out: &mut Validated,
    ) {
        out.dnssec = Some(Dnssec::Bogus);
        out.detail = Some(match &zone {
            Some(zone) => {
                let signed = if zone.signed {
                    "is signed (it has DNSKEY records)"
                } else {
                    "is not signed (no DNSKEY records)"
                };
                let by = if zone.anchored {
                    "a --trust-anchor covers it"
                } else {
                    "its parent publishes a DS record for it"
                };
                format!(
                    "{error}: the zone {} {signed} and {by}, but the answer does not validate (expired or broken signatures, or keys that do not match)",
                    zone.apex
                )
            }
            None => format!("{error}, and the zone's apex could not be found"),
        });
        out.zone = zone;
        self.read_plain(name, rtype, out).await;
    }

    /// The answer without validation: the records, or why there are none.
    async fn read_plain(&self, name: &Name, rtype: RecordType, out: &mut Validated) {
        match self.plain.query(name, rtype, false).await {
            Ok(m) => {
                out.records = m
                    .answers
                    .iter()
                    .filter(|r| r.record_type() == rtype)
                    .map(|r| r.data.clone())
                    .collect();
                if out.records.is_empty() {
                    out.failure = Some(match m.metadata.response_code {
                        ResponseCode::NXDomain => DnsFailure::NxDomain,
                        ResponseCode::NoError => DnsFailure::NoData,
                        ResponseCode::Refused => DnsFailure::Refused,
                        _ => DnsFailure::ServerFailure,
                    });
                }
            }
            Err(e) => {
                out.failure = Some(DnsFailure::Timeout);
                out.detail = Some(e);
            }
        }
    }

    /// The apex of a name's zone and what vouches for it (each zone's facts read once).
    async fn zone_facts(&self, name: &Name) -> Option<ZoneFacts> {
        let soa = self.plain.query(name, RecordType::SOA, false).await.ok()?;
        let apex = soa
            .answers
            .iter()
            .chain(soa.authorities.iter())
            .find(|r| r.record_type() == RecordType::SOA)
            .map(|r| r.name.clone())?;
        if let Some(known) = self.zones.lock().await.get(&apex) {
            return Some(known.clone());
        }
        let has = |m: Result<Message, String>, t: RecordType| {
            m.is_ok_and(|m| {
                m.answers
                    .iter()
                    .any(|r| r.record_type() == t && r.name == apex)
            })
        };
        let signed = has(
            self.plain.query(&apex, RecordType::DNSKEY, false).await,
            RecordType::DNSKEY,
        );
        let ds = !apex.is_root()
            && has(
                self.plain.query(&apex, RecordType::DS, false).await,
                RecordType::DS,
            );
        let facts = ZoneFacts {
            apex: apex.to_ascii(),
            signed,
            ds,
            anchored: self.anchors.covers(&apex),
        };
        self.zones.lock().await.insert(apex, facts.clone());
        Some(facts)
    }
}

/// The keys of an anchored zone to trust, and how they were established.
async fn zone_keys(plain: &Plain, anchors: &Anchors, zone: &Name) -> (Vec<DNSKEY>, String) {
    let given: Vec<&Anchor> = anchors
        .entries
        .iter()
        .filter(|(z, _)| z == zone)
        .map(|(_, a)| a)
        .collect();
    // Keys given as DNSKEY are trusted as they are, whatever the zone serves.
    let mut trusted: Vec<DNSKEY> = given
        .iter()
        .filter_map(|a| match a {
            Anchor::Dnskey(k) => Some(k.clone()),
            Anchor::Ds(_) => None,
        })
        .collect();
    let message = match plain.query(zone, RecordType::DNSKEY, true).await {
        Ok(m) => m,
        Err(e) => {
            return (
                trusted,
                format!("its DNSKEY records could not be read: {e}"),
            );
        }
    };
    let served: Vec<&Record> = message
        .answers
        .iter()
        .filter(|r| &r.name == zone && r.record_type() == RecordType::DNSKEY)
        .collect();
    let keys: Vec<DNSKEY> = served
        .iter()
        .filter_map(|r| match &r.data {
            RData::DNSSEC(DNSSECRData::DNSKEY(k)) => Some(k.clone()),
            _ => None,
        })
        .collect();
    let vouched = |key: &DNSKEY| {
        given.iter().any(|a| match a {
            Anchor::Ds(ds) => ds.covers(zone, key).unwrap_or(false),
            Anchor::Dnskey(k) => same_key(k, key),
        })
    };
    for key in keys.iter().filter(|k| vouched(k)) {
        if !trusted.iter().any(|t| same_key(t, key)) {
            trusted.push(key.clone());
        }
    }
    if trusted.is_empty() {
        return (
            trusted,
            "no key the zone serves matches the anchor".to_string(),
        );
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as u32)
        .unwrap_or(0);
    let signer = message.answers.iter().find_map(|r| match &r.data {
        RData::DNSSEC(DNSSECRData::RRSIG(sig)) if &r.name == zone => {
            let key = trusted
                .iter()
                .find(|k| signs(k, sig, zone, now, served.iter().copied()))?;
            Some(key.calculate_key_tag().unwrap_or(0))
        }
        _ => None,
    });
    match signer {
        Some(tag) => (
            keys,
            format!(
                "{} DNSKEY records, signed by anchored key {tag}",
                served.len()
            ),
        ),
        None => (
            trusted,
            "no current signature by an anchored key over its DNSKEY set: only the anchored keys are trusted"
                .to_string(),
        ),
    }
}

async fn exchange(
    server: SocketAddr,
    name: &Name,
    rtype: RecordType,
    dnssec_ok: bool,
) -> Result<Message, String> {
    let mut id = [0u8; 2];
    getrandom::fill(&mut id).map_err(|e| e.to_string())?;
    let id = u16::from_be_bytes(id);
    let mut request = Message::query();
    request.metadata.id = id;
    request.metadata.recursion_desired = true;
    request.add_query(Query::query(name.clone(), rtype));
    let mut edns = Edns::new();
    edns.set_max_payload(1232);
    edns.set_dnssec_ok(dnssec_ok);
    request.set_edns(edns);
    let bytes = request.to_vec().map_err(|e| e.to_string())?;
    let local: SocketAddr = if server.is_ipv4() {
        "0.0.0.0:0".parse().unwrap_or(server)
    } else {
        "[::]:0".parse().unwrap_or(server)
    };
    let socket = tokio::net::UdpSocket::bind(local)
        .await
        .map_err(|e| e.to_string())?;
    socket.connect(server).await.map_err(|e| e.to_string())?;
    socket.send(&bytes).await.map_err(|e| e.to_string())?;
    // Room for any datagram, not zeroed (`recv_buf` fills the spare capacity): this runs for
    // every DNSSEC look-up of a batch.
    let mut buf = Vec::with_capacity(65535);
    let reply = loop {
        buf.clear();
        socket.recv_buf(&mut buf).await.map_err(|e| e.to_string())?;
        // Anything that is not the answer to this query is ignored, as a resolver would.
        if let Ok(m) = Message::from_vec(&buf)
            && m.metadata.id == id
        {
            break m;
        }
    };
    if !reply.metadata.truncation {
        return Ok(reply);
    }
    let mut tcp = tokio::net::TcpStream::connect(server)
        .await
        .map_err(|e| e.to_string())?;
    let mut framed = (bytes.len() as u16).to_be_bytes().to_vec();
    framed.extend_from_slice(&bytes);
    tcp.write_all(&framed).await.map_err(|e| e.to_string())?;
    let mut len = [0u8; 2];
    tcp.read_exact(&mut len).await.map_err(|e| e.to_string())?;
    let mut body = vec![0u8; u16::from_be_bytes(len) as usize];
    tcp.read_exact(&mut body).await.map_err(|e| e.to_string())?;
    Message::from_vec(&body).map_err(|e| e.to_string())
}

/// The system's first name server, for the plain queries.
fn system_server() -> Result<SocketAddr, String> {
    let (config, _) = hickory_resolver::system_conf::read_system_conf()
        .map_err(|e| format!("cannot read the system's DNS configuration: {e}"))?;
    let ns = config
        .name_servers
        .first()
        .ok_or("the system has no DNS server configured")?;
    let port = ns.connections.first().map(|c| c.port).unwrap_or(53);
    Ok(SocketAddr::new(ns.ip, port))
}

fn same_key(a: &DNSKEY, b: &DNSKEY) -> bool {
    a.public_key().public_bytes() == b.public_key().public_bytes()
        && a.public_key().algorithm() == b.public_key().algorithm()
}

/// Whether `key` made this valid, current signature over the zone's DNSKEY set.
fn signs<'a>(
    key: &DNSKEY,
    sig: &RRSIG,
    zone: &Name,
    now: u32,
    set: impl Iterator<Item = &'a Record>,
) -> bool {
    let input = sig.input();
    input.type_covered == RecordType::DNSKEY
        && &input.signer_name == zone
        && input.algorithm == key.public_key().algorithm()
        && key.calculate_key_tag().ok() == Some(input.key_tag)
        && input.sig_inception.get() <= now
        && now <= input.sig_expiration.get()
        && key.verify_rrsig(zone, DNSClass::IN, sig, set).is_ok()
}

/// The resolver's error without its internal query dump.
fn first_words(e: &NetError) -> String {
    let text = e.to_string();
    text.split(" Query {")
        .next()
        .unwrap_or(&text)
        .trim()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anchor_file_forms() {
        let text = "; keys\n\
            dane.test.\tIN\tDS\t23982 13 2 930baf1ef96202fa38a11812b5ccd7d82b775b7333b7e330c159fef782e00ea7\n\
            bogus.test. 3600 IN DNSKEY 257 3 13 ( PW1oxS3JOIjvYsjQNR6hjJm+0e+mzVqSPZA/p6PYHZWRIXhY/lS2/e5hA9VvWTOp\n\
              jCCh6CDZfq1i4EtNRBPsSA== ) ;{id = 19268 (ksk), size = 256b}\n";
        let anchors = Anchors::parse(text).unwrap();
        assert_eq!(anchors.zones(), vec!["dane.test.", "bogus.test."]);
        assert!(matches!(anchors.entries[0].1, Anchor::Ds(_)));
        assert!(matches!(anchors.entries[1].1, Anchor::Dnskey(_)));
        let apex = Name::from_ascii("sub.dane.test.").unwrap();
        assert!(anchors.covers(&apex));
        assert!(!anchors.covers(&Name::from_ascii("mail.test.").unwrap()));
        assert!(Anchors::parse("").is_err());
        assert!(Anchors::parse("x.test. IN A 127.0.0.1").is_err());
        assert!(Anchors::parse("x.test. IN DS 1 2").is_err());
    }
}
