//! Every option of every command, in one place (clap derive): help text and parsing.

use clap::{Args, Parser, Subcommand, ValueEnum};
use smtpdoctor_session::target::{ConnectTo, ResolveOverride};
use std::net::SocketAddr;
use std::path::PathBuf;

/// smtpdoctor: finds out why mail will not send, and says what to change.
#[derive(Debug, Parser)]
#[command(name = "smtpdoctor", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Diagnose a mail server end to end: DNS, TCP, greeting, EHLO, TLS, certificate, AUTH,
    /// MAIL, RCPT and an optional test message.
    Check(Box<CheckArgs>),
    /// Explain a reply line, an enhanced status code, a client error or a whole bounce, in plain
    /// words: the cause, whether retrying helps, and what to change.
    Explain(ExplainArgs),
    /// Read bounce messages (.eml files, mbox files, Maildir folders): for every failed or
    /// delayed recipient, why, whether retrying helps, and what to do.
    Bounce(BounceArgs),
    /// Read mail-server logs (Postfix, Exim, Sendmail, Dovecot; syslog files, .gz, journald
    /// JSON): auth failures, rejections, deferrals, bounces and TLS failures by IP and user,
    /// each message's life by queue id, and pflogsumm-like totals.
    Logs(Box<LogsArgs>),
    /// Everything a receiver checks about a sending domain and its IPs: MX, SPF (check_host()
    /// for each --ip), DKIM, DMARC, MTA-STS, TLS-RPT, DANE, PTR and DNS blocklists.
    Domain(Box<DomainArgs>),
    /// Find the submission settings of an email address the way mail clients do (presets, DNS
    /// SRV, the autoconfig file, the provider behind the MX and SPF, guesses), then test each
    /// with the check ladder and recommend the one that works.
    Setup(Box<SetupArgs>),
    /// Start practice servers with known faults on loopback (try smtpdoctor without a server).
    Lab(LabArgs),
}

/// Output formats of `explain`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExplainFormat {
    /// For people.
    Human,
    /// One versioned JSON document (docs/schema/explain.schema.json).
    Json,
    /// One JSON object per input line (with --lines).
    Jsonl,
}

/// `smtpdoctor explain`.
#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// The text to explain (several words are joined); `-` reads it from standard input.
    #[arg(value_name = "TEXT")]
    pub text: Vec<String>,
    /// Treat each line of FILE (`-` for standard input) as its own error: one JSON line each.
    #[arg(long, value_name = "FILE", conflicts_with = "text")]
    pub lines: Option<PathBuf>,
    /// Output format (--lines always writes JSON lines).
    #[arg(long, value_enum, default_value_t = ExplainFormat::Human)]
    pub format: ExplainFormat,
}

/// Output formats of `bounce`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BounceFormat {
    /// For people: a table, details of the first records, the counts and the verdict.
    Human,
    /// One versioned JSON document (docs/schema/bounce.schema.json), written as records are read.
    Json,
    /// One JSON object per record as it is read; the counts and verdict go to stderr.
    Jsonl,
}

/// `smtpdoctor bounce`.
#[derive(Debug, Args)]
pub struct BounceArgs {
    /// Messages to read: .eml files, mbox files, Maildir folders (their cur/ and new/),
    /// directories (recursively, in name order), or `-` for standard input (the default when it
    /// is not a terminal).
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = BounceFormat::Human)]
    pub format: BounceFormat,
    /// Threads that read messages (default: one per CPU, at most 8). The output's order is the
    /// input's whatever the number.
    #[arg(short = 'j', long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub jobs: Option<u16>,
}

/// Output formats of `logs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogsFormat {
    /// For people: the totals, per IP and per user, and the first failures.
    Human,
    /// One versioned JSON document (docs/schema/logs.schema.json).
    Json,
    /// One JSON object per event and per message as it is read; the summary goes to stderr.
    Jsonl,
}

/// `smtpdoctor logs`.
#[derive(Debug, Args)]
pub struct LogsArgs {
    /// Log files in time order (plain or gzip), or `-` for standard input (the default when it
    /// is not a terminal).
    #[arg(value_name = "FILE")]
    pub paths: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = LogsFormat::Human)]
    pub format: LogsFormat,
    /// Only what concerns this client IP address.
    #[arg(long, value_name = "ADDR")]
    pub ip: Option<String>,
    /// Only what concerns this login.
    #[arg(long, value_name = "NAME")]
    pub user: Option<String>,
    /// Only messages and events whose sender contains this (case-insensitive).
    #[arg(long, value_name = "ADDR")]
    pub from: Option<String>,
    /// Only messages and events whose recipient contains this (case-insensitive).
    #[arg(long, value_name = "ADDR")]
    pub to: Option<String>,
    /// Only this queue id (Postfix, Sendmail) or message id (Exim).
    #[arg(long, value_name = "ID")]
    pub queue_id: Option<String>,
    /// Only the message with this Message-ID.
    #[arg(long, value_name = "ID")]
    pub message_id: Option<String>,
    /// Only from this time on (RFC 3339 or `2026-11-28 10:15`, in --tz when it has no offset).
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,
    /// Only up to this time.
    #[arg(long, value_name = "TIME")]
    pub until: Option<String>,
    /// Only around this time (with --window).
    #[arg(long, value_name = "TIME", conflicts_with_all = ["since", "until"])]
    pub around: Option<String>,
    /// How far either side of --around (`10m`, `2h`, `90s`).
    #[arg(long, value_name = "DURATION", default_value = "10m")]
    pub window: String,
    /// The year of classic syslog stamps (default: from each file's modification date).
    #[arg(long, value_name = "YEAR")]
    pub year: Option<i16>,
    /// The zone of stamps without one, and of the times shown: an IANA name, UTC or an offset
    /// (default: the local zone).
    #[arg(long, value_name = "ZONE")]
    pub tz: Option<String>,
    /// Also list routine events (connections, queue bookkeeping, TLS set-up, logins).
    #[arg(long)]
    pub all: bool,
    /// Only the totals (human) or the summary (JSON): no events or messages.
    #[arg(long)]
    pub summary: bool,
}

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// For people.
    Human,
    /// One versioned JSON document (docs/schema/check.schema.json).
    Json,
}

/// How TLS starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TlsArg {
    /// Find out what the port speaks (never sends credentials in plaintext).
    Auto,
    /// Plain greeting, then STARTTLS (usually port 587 or 25).
    Starttls,
    /// TLS from the first byte, "SSL/TLS" in mail clients (usually port 465).
    Implicit,
    /// No encryption.
    None,
}

/// Options every networked command shares.
#[derive(Debug, Args)]
pub struct NetArgs {
    /// Send every DNS query to this server (ADDR:PORT).
    #[arg(long, value_name = "ADDR:PORT")]
    pub dns: Option<SocketAddr>,
    /// Use ADDR for HOST (curl's form); repeatable.
    #[arg(
        long,
        value_name = "HOST[:PORT]:ADDR",
        help = "Use ADDR for HOST (curl's form: HOST[:PORT]:ADDR); repeatable. SNI and verification keep HOST"
    )]
    pub resolve: Vec<ResolveOverride>,
    /// Connect to HOST2:PORT2 instead of HOST1:PORT1 (curl's form); repeatable.
    #[arg(long = "connect-to", value_name = "HOST1:PORT1:HOST2:PORT2")]
    pub connect_to: Vec<ConnectTo>,
    /// Extra trust anchors (PEM), added to the system's.
    #[arg(long, value_name = "PEM")]
    pub ca_file: Option<PathBuf>,
    /// DNSSEC trust anchors (DS or DNSKEY records, zone-file format), added to the built-in root
    /// key: validate a zone that is not signed from the root. Used by `check --mx` (DANE).
    #[arg(long, value_name = "FILE")]
    pub trust_anchor: Option<PathBuf>,
    /// IPv4 only.
    #[arg(short = '4', conflicts_with = "ipv6")]
    pub ipv4: bool,
    /// IPv6 only.
    #[arg(short = '6')]
    pub ipv6: bool,
    /// Bound on each step, in seconds (connect, greeting, each reply, TLS handshake).
    #[arg(long, value_name = "SECS", default_value_t = 15.0)]
    pub timeout: f64,
    /// Bound on the whole run, in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 120.0)]
    pub deadline: f64,
}

/// `smtpdoctor check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The server, with an optional port.
    #[arg(
        value_name = "HOST[:PORT]",
        help = "The server: HOST[:PORT] (port 587 when none is given; [IPv6]:PORT for IPv6 addresses)"
    )]
    pub target: String,
    /// The port (instead of HOST:PORT). Without any port, the usual ports are all probed.
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..))]
    pub port: Option<u16>,
    /// Treat the target as a mail domain: check every MX host by preference on port 25 (no
    /// credentials are ever sent to an MX).
    #[arg(long)]
    pub mx: bool,
    /// With the port matrix: an independent host whose port 25 tells an outbound block (ISP,
    /// router) from the server's own firewall.
    #[arg(long, value_name = "HOST")]
    pub control: Option<String>,
    /// Connect through a SOCKS5 proxy (socks5://HOST:PORT); it resolves the SMTP host's name.
    #[arg(long, value_name = "URL")]
    pub proxy: Option<String>,
    /// Probe these ports at once (default without a port: 25,465,587,2525), then check the best.
    #[arg(long, value_name = "PORT,…", value_delimiter = ',', value_parser = clap::value_parser!(u16).range(1..))]
    pub ports: Option<Vec<u16>>,
    /// How TLS starts.
    #[arg(long, value_enum, default_value_t = TlsArg::Auto)]
    pub tls: TlsArg,
    /// Login name (often the full email address).
    #[arg(long)]
    pub user: Option<String>,
    /// Read the password from this environment variable.
    #[arg(long, value_name = "VAR", conflicts_with_all = ["password_file", "oauth_token_env", "oauth_token_file"])]
    pub password_env: Option<String>,
    /// Read the password from this file (its first line).
    #[arg(long, value_name = "FILE", conflicts_with_all = ["oauth_token_env", "oauth_token_file"])]
    pub password_file: Option<PathBuf>,
    /// Read an OAuth 2 access token from this environment variable (XOAUTH2/OAUTHBEARER).
    #[arg(long, value_name = "VAR", conflicts_with = "oauth_token_file")]
    pub oauth_token_env: Option<String>,
    /// Read an OAuth 2 access token from this file.
    #[arg(long, value_name = "FILE")]
    pub oauth_token_file: Option<PathBuf>,
    /// Use this AUTH mechanism instead of the best one offered (PLAIN, LOGIN, CRAM-MD5, XOAUTH2, OAUTHBEARER).
    #[arg(long, value_name = "MECH")]
    pub auth_mech: Option<String>,
    /// Envelope sender (default: --user when it is an email address).
    #[arg(long, value_name = "ADDRESS")]
    pub from: Option<String>,
    /// Envelope recipient, tried with RCPT TO (repeatable; no message is sent without --send).
    #[arg(long, value_name = "ADDRESS")]
    pub to: Vec<String>,
    /// Send a real, small test message to the --to recipients.
    #[arg(long)]
    pub send: bool,
    /// The name sent in EHLO (default: this machine's FQDN, else its address literal).
    #[arg(long, value_name = "NAME")]
    pub helo: Option<String>,
    /// Go on past a certificate failure to gather more evidence (it is still reported), and allow
    /// credentials over an unverified or unencrypted session. Only on a network you trust.
    #[arg(long)]
    pub insecure: bool,
    /// Show every line sent and received (secrets redacted).
    #[arg(long)]
    pub transcript: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
    /// Also write a report for support to FILE: Markdown, or HTML when FILE ends in .html
    /// (mode 0600; secrets never in it; docs/report.md).
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
    /// In the --report, mask the username, email addresses, host names (except well-known
    /// providers') and IP addresses with placeholders (user-1, host-1, ipv4-1).
    #[arg(long, requires = "report")]
    pub redact_identity: bool,
    /// Your public IP address as your provider or a what-is-my-IP page shows it, to put in the
    /// report (JSON and --report). smtpdoctor never looks it up itself; --redact-identity masks it.
    #[arg(long, value_name = "ADDR", value_parser = parse_public_ip)]
    pub public_ip: Option<std::net::IpAddr>,
    /// Seconds a silent port is given before a second connection tries implicit TLS on it.
    #[arg(long, value_name = "SECS", default_value_t = 2.0, hide = true)]
    pub tls_probe_after: f64,
    /// Not accepted: passwords never come from the command line.
    #[arg(long = "password", hide = true, num_args = 0..=1, value_name = "NEVER")]
    pub password_argv: Option<Option<String>>,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub net: NetArgs,
}

/// `--public-ip`: an IPv4 or IPv6 address, as the user copied it.
fn parse_public_ip(text: &str) -> Result<std::net::IpAddr, String> {
    text.trim()
        .trim_matches(['[', ']'])
        .parse()
        .map_err(|_| {
            format!("'{text}' is not an IP address: give it as a what-is-my-IP page shows it (203.0.113.7 or 2001:db8::7)")
        })
}

/// `smtpdoctor setup`.
#[derive(Debug, Args)]
pub struct SetupArgs {
    /// The email address to set up.
    #[arg(value_name = "ADDRESS")]
    pub address: String,
    /// The login name, when it is not what the sources say (usually the address itself).
    #[arg(long)]
    pub user: Option<String>,
    /// Read the password from this environment variable.
    #[arg(long, value_name = "VAR", conflicts_with_all = ["password_file", "oauth_token_env", "oauth_token_file"])]
    pub password_env: Option<String>,
    /// Read the password from this file (its first line).
    #[arg(long, value_name = "FILE", conflicts_with_all = ["oauth_token_env", "oauth_token_file"])]
    pub password_file: Option<PathBuf>,
    /// Read an OAuth 2 access token from this environment variable (XOAUTH2/OAUTHBEARER).
    #[arg(long, value_name = "VAR", conflicts_with = "oauth_token_file")]
    pub oauth_token_env: Option<String>,
    /// Read an OAuth 2 access token from this file.
    #[arg(long, value_name = "FILE")]
    pub oauth_token_file: Option<PathBuf>,
    /// Ask for the password at the prompt (a terminal is needed). Without it and without
    /// --password-env/--password-file, candidates are tested without logging in.
    #[arg(long)]
    pub ask_password: bool,
    /// Also test this server, which you vouch for: it may get the password (HOST:PORT;
    /// repeatable). The test finds out how TLS starts there, unless --server-tls says.
    #[arg(long = "server", value_name = "HOST:PORT")]
    pub servers: Vec<String>,
    /// How TLS starts on the --server hosts.
    #[arg(long, value_enum)]
    pub server_tls: Option<TlsArg>,
    /// Candidates tested at once (a host's trusted candidates are tested in turn, so that the
    /// password goes to it at most once).
    #[arg(short = 'j', long, value_name = "N", default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=32))]
    pub jobs: u16,
    /// Skip the guesses (smtp.DOMAIN, mail.DOMAIN, DOMAIN on 465, 587, 25, 2525).
    #[arg(long)]
    pub no_guess: bool,
    /// The name sent in EHLO (default: this machine's FQDN, else its address literal).
    #[arg(long, value_name = "NAME")]
    pub helo: Option<String>,
    /// Show every line sent and received of the recommended candidate's test (secrets redacted).
    #[arg(long)]
    pub transcript: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
    /// Also write a report for support to FILE: Markdown, or HTML when FILE ends in .html
    /// (mode 0600; secrets never in it; docs/report.md).
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
    /// In the --report, mask the address, username, host names (except well-known providers')
    /// and IP addresses with placeholders.
    #[arg(long, requires = "report")]
    pub redact_identity: bool,
    /// Your public IP address as your provider or a what-is-my-IP page shows it, to put in the
    /// report (JSON and --report). smtpdoctor never looks it up itself; --redact-identity masks it.
    #[arg(long, value_name = "ADDR", value_parser = parse_public_ip)]
    pub public_ip: Option<std::net::IpAddr>,
    /// Ask this ISP database instead of Thunderbird's (https://HOST/PATH/; the domain is
    /// appended).
    #[arg(long, value_name = "URL", conflicts_with = "no_ispdb")]
    pub ispdb: Option<String>,
    /// Do not ask Thunderbird's ISP database: the address's domain (and its MX's domain) is not
    /// sent to that third party.
    #[arg(long)]
    pub no_ispdb: bool,
    /// Not accepted: passwords never come from the command line.
    #[arg(long = "password", hide = true, num_args = 0..=1, value_name = "NEVER")]
    pub password_argv: Option<Option<String>>,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub net: NetArgs,
}

/// Output formats of `domain`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DomainFormat {
    /// For people: one line per check, then the findings with their fixes.
    Human,
    /// One versioned JSON document (docs/schema/domain.schema.json).
    Json,
    /// One JSON object per domain on one line (what --domains always writes).
    Jsonl,
}

/// Which DKIM selectors `domain` guesses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DkimGuess {
    /// The common selectors of well-known providers.
    Common,
    /// None: only the selectors given with --dkim-selector.
    None,
}

/// `smtpdoctor domain`.
#[derive(Debug, Args)]
pub struct DomainArgs {
    /// The domain to examine.
    #[arg(
        value_name = "DOMAIN",
        required_unless_present = "domains",
        conflicts_with = "domains"
    )]
    pub domain: Option<String>,
    /// Examine every domain in FILE (one per line, `#` comments; `-` for standard input), several
    /// at once: one JSON line per domain on stdout, in input order; a summary on stderr.
    #[arg(long, value_name = "FILE")]
    pub domains: Option<PathBuf>,
    /// A sending address: SPF check_host(), reverse DNS and blocklists are checked for it
    /// (repeatable).
    #[arg(long = "ip", value_name = "IP")]
    pub ips: Vec<std::net::IpAddr>,
    /// The name your server sends in HELO/EHLO: used for SPF's %{h} and checked against the
    /// --ip addresses' reverse DNS.
    #[arg(long, value_name = "NAME")]
    pub helo: Option<String>,
    /// A DKIM selector your mail is signed with (repeatable); common selectors are tried too,
    /// as guesses (see --dkim-guess).
    #[arg(long = "dkim-selector", value_name = "S")]
    pub dkim_selectors: Vec<String>,
    /// Which DKIM selectors to guess besides the given ones: `common` (27 selectors of
    /// well-known providers; one query instead when _domainkey does not exist) or `none` (only
    /// --dkim-selector, which saves about 27 queries a domain that has DKIM keys).
    #[arg(long, value_enum, value_name = "WHICH", default_value_t = DkimGuess::Common)]
    pub dkim_guess: DkimGuess,
    /// IP blocklist zones to query (repeatable or comma-separated; default: zen.spamhaus.org,
    /// bl.spamcop.net, b.barracudacentral.org, psbl.surriel.com, bl.mailspike.net).
    #[arg(long, value_name = "ZONE", value_delimiter = ',')]
    pub dnsbl: Vec<String>,
    /// Domain blocklist zones to query (repeatable or comma-separated; default: dbl.spamhaus.org).
    #[arg(long, value_name = "ZONE", value_delimiter = ',')]
    pub rhsbl: Vec<String>,
    /// Domains examined at once with --domains.
    #[arg(short = 'j', long, value_name = "N", default_value_t = 32, value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub jobs: u16,
    /// Output format (--domains always writes JSON lines).
    #[arg(long, value_enum, default_value_t = DomainFormat::Human)]
    pub format: DomainFormat,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub net: NetArgs,
}

/// `smtpdoctor lab`.
#[derive(Debug, Args)]
pub struct LabArgs {
    /// Run `check` against each practice server and show the diagnoses, then exit.
    #[arg(long)]
    pub demo: bool,
    /// Stop the servers after this many seconds (default: run until interrupted).
    #[arg(long, value_name = "SECS")]
    pub duration: Option<u64>,
}
