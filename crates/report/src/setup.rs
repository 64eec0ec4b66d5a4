//! Evidence and results of `setup ADDRESS`: every source of submission settings that was asked
//! (presets, DNS SRV, the autoconfig file, the provider behind the MX or SPF, guesses), what each
//! said, each candidate setting as the `check` ladder tested it, and the settings to use.

use crate::check::{SessionEvidence, Step, TlsMode};
use crate::{Finding, Transcript, Verdict};
use serde::{Deserialize, Serialize};

/// Where a candidate setting came from, from the most to the least trusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceKind {
    /// `--server` on the command line: the user vouches for it.
    User,
    /// The built-in preset for the address's own provider (gmail.com → Gmail).
    Preset,
    /// DNS SRV `_submissions._tcp` / `_submission._tcp` (RFC 6186, RFC 8314).
    Srv,
    /// The autoconfig file over verified HTTPS.
    Autoconfig,
    /// Thunderbird's ISP database (ISPDB), over verified HTTPS, for the address's domain: a
    /// curated source that Thunderbird trusts like its built-in data.
    Ispdb,
    /// The autoconfig file of the MX's domain (Thunderbird's "forMX" step), over verified
    /// HTTPS. Its settings may carry the password only for hosts inside that domain (`scope`).
    AutoconfigMx,
    /// The ISPDB entry of the MX's domain: trusted only for hosts inside that domain (`scope`).
    IspdbMx,
    /// The provider whose MX hosts the domain uses (a preset, by inference).
    MxProvider,
    /// The sending service the domain's SPF record includes (a preset, by inference).
    SpfProvider,
    /// The autoconfig file over plain HTTP: shown for information, never trusted.
    AutoconfigHttp,
    /// smtp.DOMAIN, mail.DOMAIN, DOMAIN on the usual ports.
    Guess,
}

impl SourceKind {
    /// Whether the password may go to the hosts this kind of source names (over verified TLS).
    /// The MX-domain kinds are trusted only for hosts inside their `scope`
    /// ([`SourceKind::scoped`]); an SRV target only inside the address's domain.
    pub fn trusted(self) -> bool {
        matches!(
            self,
            SourceKind::User
                | SourceKind::Preset
                | SourceKind::Srv
                | SourceKind::Autoconfig
                | SourceKind::Ispdb
                | SourceKind::AutoconfigMx
                | SourceKind::IspdbMx
        )
    }

    /// Whether this kind is trusted only for hosts inside the domain the source was asked about
    /// (the MX's domain), not for every host it names.
    pub fn scoped(self) -> bool {
        matches!(self, SourceKind::AutoconfigMx | SourceKind::IspdbMx)
    }

    /// How people call it.
    pub fn describe(self) -> &'static str {
        match self {
            SourceKind::User => "given by you",
            SourceKind::Preset => "built-in preset",
            SourceKind::Srv => "DNS SRV record",
            SourceKind::Autoconfig => "autoconfig file (HTTPS)",
            SourceKind::Ispdb => "Thunderbird ISP database",
            SourceKind::AutoconfigMx => "autoconfig of the MX's domain",
            SourceKind::IspdbMx => "ISP database entry of the MX's domain",
            SourceKind::MxProvider => "provider behind the MX",
            SourceKind::SpfProvider => "service in the SPF record",
            SourceKind::AutoconfigHttp => "autoconfig over HTTP (untrusted)",
            SourceKind::Guess => "guess",
        }
    }
}

/// What asking a source gave.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceStatus {
    /// It named one or more settings.
    Found,
    /// It has nothing for this address (no record, no file, no preset).
    None,
    /// It says the service is not offered (an SRV target of ".").
    NotOffered,
    /// It could not be asked or its answer could not be used (see the detail).
    Failed,
    /// Not asked (see the detail: e.g. HTTP is tried only when HTTPS found nothing).
    Skipped,
}

/// One setting as a source states it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Setting {
    /// Host name.
    pub host: String,
    /// Port.
    pub port: u16,
    /// `implicit`, `starttls` or `none` as stated; `auto` for guesses (the test finds out).
    pub security: TlsMode,
    /// The login name, placeholders filled in, when the source gives one.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub username: Option<String>,
    /// Authentication as the source names it (SASL mechanisms, or autoconfig's words).
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub auth: Vec<String>,
    /// The source's remark.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub note: Option<String>,
}

/// One SRV record (RFC 2782).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SrvRecord {
    /// Lower is tried first.
    pub priority: u16,
    /// Share among records of one priority.
    pub weight: u16,
    /// Port.
    pub port: u16,
    /// Target host; "." means the service is not offered.
    pub target: String,
}

/// One `<outgoingServer type="smtp">` of an autoconfig file, as written.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AutoconfigServer {
    /// `<hostname>`.
    pub hostname: String,
    /// `<port>` as written.
    pub port: String,
    /// `<socketType>`: `SSL`, `STARTTLS` or `plain`.
    pub socket_type: String,
    /// `<username>`, placeholders unexpanded.
    pub username: String,
    /// Every `<authentication>`.
    pub authentication: Vec<String>,
}

/// An autoconfig file (Thunderbird's config-v1.1.xml), parsed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AutoconfigFile {
    /// `<emailProvider id>`.
    pub provider_id: String,
    /// `<displayName>`.
    pub display_name: String,
    /// Every `<domain>`.
    pub domains: Vec<String>,
    /// Every outgoing SMTP server, in file order (the first is the primary).
    pub outgoing: Vec<AutoconfigServer>,
    /// `<documentation url>` and `<enable visiturl>` addresses.
    pub documentation: Vec<String>,
    /// `<enable><instruction>` texts (e.g. "create an app password").
    pub instructions: Vec<String>,
    /// What in the file could not be used, and why.
    pub problems: Vec<String>,
}

/// One HTTP fetch of an autoconfig file.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct FetchEvidence {
    /// The address fetched (the last one, after redirects on the same domain).
    pub url: String,
    /// Redirects followed, in order.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub redirects: Vec<String>,
    /// The HTTP status of the last response.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub status: Option<u16>,
    /// Its Content-Type.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub content_type: Option<String>,
    /// Body bytes received.
    pub bytes: usize,
    /// Why the certificate did not verify (HTTPS).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub certificate_error: Option<String>,
    /// Why no usable response came.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub failure: Option<String>,
    /// The proxy the fetch went through (`HTTPS_PROXY`, `HTTP_PROXY`), when one did.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub proxy: Option<String>,
    /// How long it took.
    pub ms: u64,
}

/// A preset, as shown in a report.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PresetInfo {
    /// Stable id.
    pub id: String,
    /// The provider's name.
    pub name: String,
    /// `mailbox`, `relay` or `bridge`.
    pub kind: String,
    /// The account policy (`app_password`, `oauth_only`, ...).
    pub policy: String,
    /// The policy in a sentence.
    pub policy_note: String,
    /// The pages the preset relies on, and the day each was read.
    pub sources: Vec<String>,
    /// What matched it: the address domain, an MX host or an SPF include.
    pub matched: String,
}

/// One source that was asked, and what it said.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SourceReport {
    /// Which kind of source.
    pub kind: SourceKind,
    /// What was asked: a DNS name and type, a URL, a preset id.
    pub query: String,
    /// What it gave.
    pub status: SourceStatus,
    /// What it said, in a line.
    pub detail: String,
    /// The settings it names (before testing).
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub settings: Vec<Setting>,
    /// SRV records as received, in the order RFC 2782 tries them.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub srv: Vec<SrvRecord>,
    /// The HTTP fetch (autoconfig).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub fetch: Option<FetchEvidence>,
    /// The autoconfig file, parsed.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub autoconfig: Option<AutoconfigFile>,
    /// The preset it refers to.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub preset: Option<PresetInfo>,
    /// For a source asked about the MX's domain: that domain. Its settings may carry the
    /// password only for hosts inside it.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub scope: Option<String>,
    /// How long asking took.
    pub ms: u64,
}

/// What testing a candidate showed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The login worked over verified TLS.
    Confirmed,
    /// Verified TLS and AUTH offered; no password was sent (none given, or the source is not
    /// trusted with it, or another port of the host had the one attempt).
    Reachable,
    /// The server answered over verified TLS and refused the login: it speaks AUTH, which does
    /// not prove it holds this account (see the reply in the check).
    LoginFailed,
    /// Verified TLS, but no AUTH offered: not a submission service for this client.
    NoAuth,
    /// The test failed (see the verdict): wrong TLS mode, refused, certificate, ...
    Failed,
    /// Not tested (the run's deadline came first).
    NotTested,
}

/// One candidate setting, the sources that name it, and its test.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Candidate {
    /// Host name.
    pub host: String,
    /// Port.
    pub port: u16,
    /// How TLS starts, as the sources say (`auto` for guesses).
    pub security: TlsMode,
    /// The login name used or suggested.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub username: Option<String>,
    /// Every source that names it, most trusted first.
    pub sources: Vec<SourceKind>,
    /// Whether the password may go to it (a trusted source names it).
    pub trusted: bool,
    /// Whether the password was really sent (an AUTH attempt was made): at most one candidate
    /// per server, and none after a login was accepted or refused for good.
    pub credentials_sent: bool,
    /// What the test showed.
    pub outcome: Outcome,
    /// How TLS really starts there, when the test found out.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub tls_found: Option<TlsMode>,
    /// The AUTH mechanisms offered after TLS.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub auth_offered: Vec<String>,
    /// The mechanism that logged in.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub auth_mechanism: Option<String>,
    /// 1 for the best; absent when it cannot be used.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub rank: Option<u32>,
    /// The test, as `check` would report it.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub check: Option<CandidateCheck>,
}

impl Candidate {
    /// `host:port`.
    pub fn address(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

/// The `check` ladder run on one candidate.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CandidateCheck {
    /// The check's verdict.
    pub verdict: Verdict,
    /// The check's findings.
    pub findings: Vec<Finding>,
    /// The ladder.
    pub steps: Vec<Step>,
    /// Every connection.
    pub sessions: Vec<SessionEvidence>,
    /// Every line sent and received (secrets redacted when recorded).
    pub transcript: Transcript,
    /// How long it took.
    pub duration_ms: u64,
}

/// The settings to put into the mail client.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Recommended {
    /// Outgoing (SMTP) server.
    pub host: String,
    /// Port.
    pub port: u16,
    /// How TLS starts.
    pub security: TlsMode,
    /// Login name.
    pub username: String,
    /// The AUTH method to choose (`PLAIN`, or "normal password" in client words).
    pub auth_method: String,
    /// Whether a login with these settings worked in this run.
    pub proven: bool,
    /// The sources that name it.
    pub sources: Vec<SourceKind>,
}

/// Where sources disagree.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Disagreement {
    /// What they disagree on, for programs: `security` (one host and port, different TLS
    /// modes) or `server` (trusted sources name different hosts, and one side's do not work).
    pub kind: String,
    /// The same in words, for people: `security of HOST:PORT` or `server`.
    pub about: String,
    /// What each source says.
    pub claims: Vec<Claim>,
    /// What the test showed, when it settled it.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub settled: Option<String>,
}

/// One source's side of a disagreement.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claim {
    /// The source.
    pub source: SourceKind,
    /// What it says.
    pub says: String,
}

/// The `setup` command's fields of the report.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SetupBody {
    /// Every source asked, in the order a mail client trusts them.
    pub sources: Vec<SourceReport>,
    /// Every candidate, best first.
    pub candidates: Vec<Candidate>,
    /// The settings to use, when any candidate can be used.
    pub recommended: Option<Recommended>,
    /// Where sources disagree.
    pub disagreements: Vec<Disagreement>,
}
