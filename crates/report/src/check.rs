//! Evidence gathered by `check`: one record per connection, each step timed.

use serde::{Deserialize, Serialize};

/// How TLS starts on a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TlsMode {
    /// Find out what the port speaks.
    Auto,
    /// Plain greeting, then STARTTLS.
    Starttls,
    /// TLS from the first byte (SMTPS, usually port 465).
    Implicit,
    /// No TLS at all.
    None,
}

impl TlsMode {
    /// The name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            TlsMode::Auto => "auto",
            TlsMode::Starttls => "starttls",
            TlsMode::Implicit => "implicit",
            TlsMode::None => "none",
        }
    }

    /// How people call it.
    pub fn describe(self) -> &'static str {
        match self {
            TlsMode::Auto => "automatic",
            TlsMode::Starttls => "STARTTLS",
            TlsMode::Implicit => "implicit TLS (SSL/TLS)",
            TlsMode::None => "no encryption",
        }
    }
}

/// What a check was asked to examine.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CheckTarget {
    /// The host as given.
    pub host: String,
    /// The port tried.
    pub port: u16,
    /// The TLS mode asked for.
    pub tls: TlsMode,
    /// The name sent in EHLO.
    pub helo: String,
    /// The login name, if any (never the secret).
    pub user: Option<String>,
    /// The envelope sender, if any.
    pub from: Option<String>,
    /// The envelope recipients.
    pub to: Vec<String>,
    /// Whether a real message is sent.
    pub send: bool,
    /// Whether certificate failures were allowed to continue.
    pub insecure: bool,
}

/// A parsed SMTP reply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reply {
    /// The three-digit code.
    pub code: u16,
    /// The enhanced status code (RFC 3463) of the first line, when present.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub enhanced: Option<String>,
    /// The text of each line, without the code and separator.
    pub lines: Vec<String>,
}

impl Reply {
    /// The whole reply as one line of text: `550 5.1.1 User unknown`.
    pub fn one_line(&self) -> String {
        let text = self.lines.join(" / ");
        if text.is_empty() {
            self.code.to_string()
        } else {
            format!("{} {}", self.code, text)
        }
    }

    /// 2xx or 3xx.
    pub fn is_positive(&self) -> bool {
        self.code < 400
    }
}

/// Why a connection attempt failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConnectFailure {
    /// RST or ICMP port unreachable: ECONNREFUSED.
    Refused,
    /// No answer within the timeout.
    Timeout,
    /// EHOSTUNREACH.
    HostUnreachable,
    /// ENETUNREACH, or no address of a usable family.
    NetworkUnreachable,
    /// Anything else (see the detail).
    Other,
}

/// One TCP connection attempt.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ConnectAttempt {
    /// The address tried.
    pub address: String,
    /// None when it connected.
    pub failure: Option<ConnectFailure>,
    /// The OS error text, when it failed.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub detail: Option<String>,
    /// The local address the connection was made from (`192.0.2.7:50412`), when it connected
    /// (through a SOCKS5 proxy: the local end of the connection to the proxy).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub local: Option<String>,
    /// How long the attempt took.
    pub ms: u64,
}

/// Why a DNS look-up failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DnsFailure {
    /// The name does not exist.
    NxDomain,
    /// The name exists but has no address of the wanted family.
    NoData,
    /// The resolver answered with an error (SERVFAIL, REFUSED).
    ServerFailure,
    /// The DNS server refused the query (REFUSED): not allowed to ask it, or not its zone.
    Refused,
    /// No answer in time.
    Timeout,
    /// The name is not a valid host name.
    InvalidName,
    /// Anything else.
    Other,
}

/// The result of resolving the server's name.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ResolveEvidence {
    /// The name looked up.
    pub name: String,
    /// Where the addresses came from: `literal`, `--resolve`, `--connect-to`, `dns`.
    pub source: String,
    /// The DNS server used, when not the system's.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub server: Option<String>,
    /// Every address found, in the order they will be tried.
    pub addresses: Vec<String>,
    /// Addresses left out by `-4`/`-6`.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub filtered: Vec<String>,
    /// Why the look-up failed, when it did.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub failure: Option<DnsFailure>,
    /// The resolver's error text.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub detail: Option<String>,
    /// How long it took.
    pub ms: u64,
}

/// One certificate of the chain the server sent.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CertificateInfo {
    /// Subject distinguished name.
    pub subject: String,
    /// Issuer distinguished name.
    pub issuer: String,
    /// Subject alternative names (`DNS:mail.test`, `IP:127.0.0.1`).
    pub sans: Vec<String>,
    /// Start of validity (RFC 3339).
    pub not_before: String,
    /// End of validity (RFC 3339).
    pub not_after: String,
    /// Seconds from the run's start to the end of validity (negative when expired).
    pub expires_in_s: i64,
    /// Public key algorithm (`RSA`, `EC`, `Ed25519`).
    pub key_algorithm: String,
    /// Key size in bits.
    pub key_bits: u32,
    /// Whether subject and issuer are the same (self-issued).
    pub self_issued: bool,
    /// Whether it is a CA certificate.
    pub is_ca: bool,
    /// SHA-256 fingerprint, hex.
    pub sha256: String,
    /// SHA-256 of the SubjectPublicKeyInfo, hex: what a DANE `3 1 1` TLSA record publishes.
    pub spki_sha256: String,
}

/// Why certificate verification failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CertProblem {
    /// The validity period has ended.
    Expired,
    /// The validity period has not started.
    NotYetValid,
    /// The certificate does not name the host.
    NameMismatch,
    /// No chain to a trusted root (self-signed, private CA, or a missing intermediate).
    UnknownIssuer,
    /// A signature in the chain does not verify, or uses a weak algorithm or key.
    BadSignature,
    /// Revoked.
    Revoked,
    /// Not valid for a TLS server.
    InvalidPurpose,
    /// Anything else (see the detail).
    Other,
}

/// How verification went.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CertVerification {
    /// Whether the chain verified for the name.
    pub verified: bool,
    /// The reason, when it did not.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub problem: Option<CertProblem>,
    /// The verifier's own words.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub detail: Option<String>,
    /// The name checked (SNI), or the address when connecting by IP.
    pub name: String,
    /// Where the trust anchors came from: `platform`, `bundled`, plus `--ca-file` when given.
    pub trust: Vec<String>,
}

/// Why a TLS handshake failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TlsFailure {
    /// The server answered in plaintext (an SMTP greeting during the handshake).
    PlaintextReply,
    /// The server sent a TLS alert.
    Alert,
    /// The server closed the connection.
    Closed,
    /// No answer in time.
    Timeout,
    /// The certificate was rejected (see `verification`).
    Certificate,
    /// Anything else.
    Other,
}

/// What the TLS layer saw.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct TlsEvidence {
    /// `TLSv1.3`, `TLSv1.2`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub version: Option<String>,
    /// The negotiated cipher suite.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub cipher: Option<String>,
    /// The server name sent (none when connecting by IP address).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub sni: Option<String>,
    /// The chain as sent by the server, leaf first.
    pub chain: Vec<CertificateInfo>,
    /// Verification, when a chain was received.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub verification: Option<CertVerification>,
    /// Why the handshake failed, when it did.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub failure: Option<TlsFailure>,
    /// The TLS library's error text.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub detail: Option<String>,
    /// Plaintext the server sent when TLS was expected.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub plaintext_seen: Option<String>,
    /// Whether the subject names of a `--ca-file` root match the leaf's issuer.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub issuer_in_trust_store: Option<bool>,
    /// The MX host's TLSA records compared with the chain (`check --mx`), one entry per record
    /// and certificate.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub tlsa: Vec<TlsaCheck>,
    /// How long the handshake took.
    pub ms: u64,
}

/// Why the server's words could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReadFailure {
    /// No complete reply within the step's timeout.
    Timeout,
    /// The server closed the connection.
    Closed,
    /// A line or reply longer than smtpdoctor accepts.
    TooLong,
    /// Not an SMTP reply (binary or another protocol).
    Malformed,
    /// The connection was reset.
    Reset,
    /// The run's overall deadline passed.
    Deadline,
}

/// The greeting.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BannerEvidence {
    /// The reply, when one came.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub reply: Option<Reply>,
    /// Why none came.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub failure: Option<ReadFailure>,
    /// Milliseconds until the first byte, when any came.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub first_byte_ms: Option<u64>,
    /// Milliseconds until the whole greeting.
    pub ms: u64,
}

/// One EHLO keyword and its parameters, unknown ones kept as well.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Capability {
    /// Upper-cased keyword.
    pub keyword: String,
    /// Parameters as sent.
    pub params: Vec<String>,
}

/// The EHLO (or HELO) exchange.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EhloEvidence {
    /// `EHLO` or `HELO`.
    pub command: String,
    /// The server's reply.
    pub reply: Reply,
    /// Every capability the reply lists.
    pub capabilities: Vec<Capability>,
    /// Whether it ran inside TLS.
    pub tls: bool,
}

impl EhloEvidence {
    /// The capability with this keyword, if advertised.
    pub fn capability(&self, keyword: &str) -> Option<&Capability> {
        self.capabilities
            .iter()
            .find(|c| c.keyword.eq_ignore_ascii_case(keyword))
    }

    /// Whether a keyword is advertised.
    pub fn has(&self, keyword: &str) -> bool {
        self.capability(keyword).is_some()
    }

    /// The AUTH mechanisms advertised (upper case), empty when AUTH is absent.
    pub fn auth_mechanisms(&self) -> Vec<String> {
        let mut mechs: Vec<String> = Vec::new();
        for cap in &self.capabilities {
            // `AUTH=PLAIN LOGIN` is an old form some servers still send.
            let params: Vec<String> = if cap.keyword == "AUTH" {
                cap.params.clone()
            } else if let Some(rest) = cap.keyword.strip_prefix("AUTH=") {
                std::iter::once(rest.to_string())
                    .chain(cap.params.iter().cloned())
                    .collect()
            } else {
                continue;
            };
            for p in params {
                let p = p.to_ascii_uppercase();
                if !mechs.contains(&p) {
                    mechs.push(p);
                }
            }
        }
        mechs
    }
}

/// The AUTH exchange.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AuthEvidence {
    /// The mechanisms offered.
    pub offered: Vec<String>,
    /// The mechanism used, when one was.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub mechanism: Option<String>,
    /// The final reply.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub reply: Option<Reply>,
    /// Why no attempt was made (`no_credentials`, `no_tls`, `no_common_mechanism`, `not_offered`).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub skipped: Option<String>,
}

/// How a connection came about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Purpose {
    /// The settings the user asked for.
    Requested,
    /// A second connection to prove which TLS mode the port speaks.
    ModeProbe,
}

/// A failure that ended a session before QUIT.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Interruption {
    /// The step it happened in.
    pub step: String,
    /// What happened.
    pub failure: ReadFailure,
    /// Details.
    pub detail: String,
}

/// Everything one SMTP connection showed.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SessionEvidence {
    /// The transcript's connection number.
    pub conn: u32,
    /// Why this connection was made.
    pub purpose: Purpose,
    /// How TLS was started on it.
    pub mode: TlsMode,
    /// The port.
    pub port: u16,
    /// Every TCP attempt, the last one the one used.
    pub connects: Vec<ConnectAttempt>,
    /// The greeting.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub banner: Option<BannerEvidence>,
    /// EHLO (or HELO) before TLS, or the only one.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub ehlo: Option<EhloEvidence>,
    /// The reply to STARTTLS.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub starttls: Option<Reply>,
    /// The TLS handshake.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub tls: Option<TlsEvidence>,
    /// EHLO after TLS.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub ehlo_tls: Option<EhloEvidence>,
    /// AUTH.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub auth: Option<AuthEvidence>,
    /// MAIL FROM.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub mail: Option<Reply>,
    /// RCPT TO, per recipient.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub rcpt: Vec<(String, Reply)>,
    /// DATA.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub data: Option<Reply>,
    /// The reply after the message's final dot.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub message: Option<Reply>,
    /// The Message-ID of the test message sent.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub message_id: Option<String>,
    /// QUIT.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub quit: Option<Reply>,
    /// What ended the session early.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub interrupted: Option<Interruption>,
    /// Whether the session ran inside TLS by the end.
    pub secured: bool,
    /// Whether the session authenticated.
    pub authenticated: bool,
}

impl SessionEvidence {
    /// A record for a new connection.
    pub fn new(conn: u32, purpose: Purpose, mode: TlsMode, port: u16) -> Self {
        SessionEvidence {
            conn,
            purpose,
            mode,
            port,
            connects: Vec::new(),
            banner: None,
            ehlo: None,
            starttls: None,
            tls: None,
            ehlo_tls: None,
            auth: None,
            mail: None,
            rcpt: Vec::new(),
            data: None,
            message: None,
            message_id: None,
            quit: None,
            interrupted: None,
            secured: false,
            authenticated: false,
        }
    }

    /// Whether TCP connected.
    pub fn connected(&self) -> bool {
        self.connects.last().is_some_and(|c| c.failure.is_none())
    }

    /// The EHLO that counts: after TLS when there was one.
    pub fn last_ehlo(&self) -> Option<&EhloEvidence> {
        self.ehlo_tls.as_ref().or(self.ehlo.as_ref())
    }

    /// Whether a greeting of 2xx arrived.
    pub fn greeted(&self) -> bool {
        self.banner
            .as_ref()
            .and_then(|b| b.reply.as_ref())
            .is_some_and(|r| r.code == 220)
    }
}

/// Outcome of one ladder step, for display.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepStatus {
    /// It worked.
    Ok,
    /// It worked, with something to note.
    Warning,
    /// It failed.
    Failed,
    /// Not attempted, and why is in the summary.
    Skipped,
}

/// One step of the ladder as shown to people.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Step {
    /// `resolve`, `connect`, `banner`, `ehlo`, `starttls`, `tls`, `auth`, `mail`, `rcpt`, `data`, `quit`.
    pub name: String,
    /// The connection it ran on (0 for resolve).
    pub conn: u32,
    /// How it went.
    pub status: StepStatus,
    /// Milliseconds since the run started.
    pub started_ms: u64,
    /// How long it took (steps sent in one pipelined flight share one timing).
    pub ms: u64,
    /// One line for people.
    pub summary: String,
}

/// What a port speaks, as the port matrix found it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PortSpeaks {
    /// SMTP with STARTTLS offered.
    Starttls,
    /// SMTP without STARTTLS.
    Plain,
    /// TLS from the first byte.
    ImplicitTls,
    /// Connected, but neither a greeting nor a TLS handshake came.
    Silent,
    /// Something that is not SMTP.
    NotSmtp,
}

/// One port × address of the port matrix.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PortProbe {
    /// The port.
    pub port: u16,
    /// The address tried.
    pub address: String,
    /// The transcript's connection number.
    pub conn: u32,
    /// Why it did not connect; null when it did.
    pub failure: Option<ConnectFailure>,
    /// What it speaks, when it connected.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub speaks: Option<PortSpeaks>,
    /// The greeting's first line.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub banner: Option<String>,
    /// Milliseconds until the answer.
    pub ms: u64,
    /// The error text, when it failed.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub detail: Option<String>,
    /// A probe of the `--control` host, not of the target.
    #[serde(skip_serializing_if = "std::ops::Not::not", default)]
    pub control: bool,
}

/// One MX record of a domain, and what its name resolves to.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MxRecord {
    /// Lower is preferred.
    pub preference: u16,
    /// The exchange host (without the trailing dot).
    pub host: String,
    /// Where the host name points when it is an alias (RFC 5321 forbids MX → CNAME).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub cname: Option<String>,
    /// Its addresses.
    pub addresses: Vec<String>,
    /// Why it did not resolve.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub failure: Option<DnsFailure>,
    /// Its TLSA records (DANE), when looked up.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub dane: Option<DaneEvidence>,
}

/// The domain's MTA-STS policy (RFC 8461), when it publishes one.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MtaStsEvidence {
    /// The `_mta-sts` TXT record.
    pub record: String,
    /// Where the policy was fetched from.
    pub url: String,
    /// `enforce`, `testing` or `none`, when the policy was read.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub mode: Option<String>,
    /// The `mx:` patterns of the policy.
    pub mx: Vec<String>,
    /// `max_age` in seconds.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub max_age: Option<u64>,
    /// Why the policy could not be read (senders then treat the domain as having none).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub failure: Option<String>,
}

/// What DNSSEC validation said about an answer (RFC 4035 section 4.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Dnssec {
    /// Signed, and the signatures validate from a trust anchor.
    Secure,
    /// Not signed (no chain of trust reaches it): senders treat it as plain DNS.
    Insecure,
    /// Signed, or required to be, but validation fails: validating resolvers answer SERVFAIL.
    Bogus,
}

/// One TLSA record (RFC 6698 section 2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TlsaRecord {
    /// Certificate usage: 0 PKIX-TA, 1 PKIX-EE, 2 DANE-TA, 3 DANE-EE.
    pub usage: u8,
    /// 0: the whole certificate, 1: its SubjectPublicKeyInfo.
    pub selector: u8,
    /// 0: exact, 1: SHA-256, 2: SHA-512.
    pub matching: u8,
    /// The certificate association data, lower-case hex.
    pub data: String,
}

impl TlsaRecord {
    /// The record as a zone file writes it, the data shortened: `3 1 1 2f3a…9c1d`.
    pub fn short(&self) -> String {
        let data = if self.data.len() > 16 {
            format!("{}…{}", &self.data[..8], &self.data[self.data.len() - 8..])
        } else {
            self.data.clone()
        };
        format!("{} {} {} {data}", self.usage, self.selector, self.matching)
    }
}

/// One TLSA record compared with one certificate the server presented.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TlsaCheck {
    /// Index into the host's TLSA records.
    pub record: usize,
    /// Index into the presented chain (0 is the server's own certificate).
    pub cert: usize,
    /// The certificate's value under the record's selector and matching type, hex (absent for
    /// exact matching, where it would be the whole certificate or key).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub digest: Option<String>,
    /// Whether it equals the record's data.
    pub matched: bool,
    /// DANE-TA (usage 2) that matched a CA certificate: whether the chain from the server's
    /// certificate up to it verifies for the MX host name.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub chain_verified: Option<bool>,
    /// Why that chain did not verify.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub chain_detail: Option<String>,
}

/// What was learnt about the zone of a name whose validation failed, to tell an unsigned zone
/// (which a resolver without a chain of trust cannot prove unsigned) from a broken one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ZoneFacts {
    /// The zone's apex (the owner of its SOA).
    pub apex: String,
    /// Whether it publishes DNSKEY records.
    pub signed: bool,
    /// Whether a DS record for it was seen (the parent vouches for its keys).
    pub ds: bool,
    /// Whether a `--trust-anchor` covers it.
    pub anchored: bool,
}

/// The TLSA records of one MX host (`_25._tcp.HOST`, RFC 7672) and how DNSSEC judged them.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DaneEvidence {
    /// The TLSA name looked up.
    pub name: String,
    /// The DNSSEC status of the answer (or of the proof that there is none); absent when the
    /// look-up failed.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub dnssec: Option<Dnssec>,
    /// The records published (also when they do not validate).
    pub records: Vec<TlsaRecord>,
    /// NX domain or no data: no TLSA record; anything else: the look-up failed.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub failure: Option<DnsFailure>,
    /// How the DNSSEC status was decided when validation failed, or the resolver's error.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub detail: Option<String>,
    /// The zone's facts, gathered when validation failed.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub zone: Option<ZoneFacts>,
    /// The DNSSEC status of the host's A/AAAA records: TLSA counts only when they are secure
    /// (RFC 7672 section 2.2.2).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub address_dnssec: Option<Dnssec>,
    /// How long the look-ups took.
    pub ms: u64,
}

/// What DANE means for one MX host, as the rules judged it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DaneStatus {
    /// Validated TLSA records, and one matches the certificate presented.
    Authenticated,
    /// Validated TLSA records, and none matches: DANE senders do not deliver.
    Mismatch,
    /// Validated TLSA records, but the host offered no TLS: DANE senders do not deliver.
    NoTls,
    /// Validated TLSA records, none usable for SMTP (usage 0/1 or unknown types).
    Unusable,
    /// Validated TLSA records, but the MX or address records are not signed: senders ignore them.
    NotApplied,
    /// TLSA records in an unsigned zone: senders ignore them.
    Unsigned,
    /// The TLSA answer fails DNSSEC validation: DANE senders skip the host.
    Bogus,
    /// No TLSA record.
    None,
    /// The TLSA look-up failed.
    LookupFailed,
    /// TLSA records apply, but no certificate was seen to compare them with.
    NotChecked,
}

/// A domain's mail exchangers.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MxEvidence {
    /// The domain.
    pub domain: String,
    /// The MX records by preference (or the implicit one).
    pub records: Vec<MxRecord>,
    /// `MX 0 .`: the domain accepts no mail (RFC 7505).
    pub null_mx: bool,
    /// No MX record: mail goes to the domain's own address (RFC 5321 section 5.1).
    pub implicit: bool,
    /// Why the MX look-up failed.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub failure: Option<DnsFailure>,
    /// The MTA-STS policy, when the domain publishes one.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub mta_sts: Option<MtaStsEvidence>,
    /// The DNSSEC status of the MX records (of the domain's addresses for an implicit MX):
    /// senders use DANE only when it is secure (RFC 7672 section 2.2.1).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub dnssec: Option<Dnssec>,
    /// The DNSSEC trust anchors of the run: `root` (built in), plus each `--trust-anchor` zone.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub trust_anchors: Vec<String>,
    /// How long the look-ups took.
    pub ms: u64,
}

/// The verdict of one MX host, checked on port 25.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MxHop {
    /// Its preference.
    pub preference: u16,
    /// The host.
    pub host: String,
    /// ok, problem or inconclusive.
    pub status: crate::Status,
    /// The cause when not ok.
    pub category: Option<crate::Category>,
    /// One line.
    pub summary: String,
    /// The ids of its findings.
    pub findings: Vec<String>,
    /// What DANE means for this host, when its TLSA records were looked up.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub dane: Option<DaneStatus>,
}

/// The `check` command's own fields in the report.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct CheckBody {
    /// The ladder, step by step.
    pub steps: Vec<Step>,
    /// Name resolution.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub resolve: Option<ResolveEvidence>,
    /// Every connection made.
    pub sessions: Vec<SessionEvidence>,
    /// The settings that worked, when they differ from those asked for or were found by `auto`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub working_settings: Option<WorkingSettings>,
    /// `check --mx DOMAIN`: the domain's MX records.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub mx: Option<MxEvidence>,
    /// `check --mx DOMAIN`: each MX host's verdict, by preference (the steps, sessions and
    /// transcript above are the first host's that works, or the first host's).
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub hops: Vec<MxHop>,
    /// The port matrix (`check HOST` without a port), one entry per port × address.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub ports: Vec<PortProbe>,
    /// Round trips the run needed (sends followed by waits).
    pub round_trips: usize,
    /// Every line sent and received.
    pub transcript: crate::Transcript,
}

/// Settings proven to work.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WorkingSettings {
    /// Host.
    pub host: String,
    /// Port.
    pub port: u16,
    /// TLS mode.
    pub tls: TlsMode,
    /// The AUTH mechanism that worked, when one did.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub auth_mechanism: Option<String>,
}

/// The enhanced status code at the start of a reply text, when its class matches the reply's.
pub fn enhanced_code(code: u16, text: &str) -> Option<String> {
    let word = text.split_whitespace().next()?;
    let mut parts = word.split('.');
    let (class, subject, detail) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let class_ok =
        matches!(class, "2" | "4" | "5") && class.as_bytes()[0] == (b'0' + (code / 100) as u8);
    let num = |s: &str, max: usize| {
        !s.is_empty() && s.len() <= max && s.bytes().all(|b| b.is_ascii_digit())
    };
    (class_ok && num(subject, 3) && num(detail, 3)).then(|| word.to_string())
}
