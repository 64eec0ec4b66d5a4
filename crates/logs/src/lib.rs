//! Reads mail-server logs into typed events: what the server saw of a client (connections,
//! authentication failures, rejections, protocol abuse, TLS failures) and of each message
//! (received from whom, for whom, each delivery attempt, the outcome).
//!
//! The layers, each usable alone:
//! * [`prefix`]: the line's envelope (time stamp, host, program, pid) for syslog (RFC 3164 and
//!   RFC 3339 stamps), Postfix `maillog_file`, Exim's own logs, Dovecot's own log, multilog
//!   TAI64N stamps and `journalctl -o json` lines. Nothing is copied but journald's fields.
//! * [`parse`]: the message into an [`Event`] per daemon ([`postfix`], [`exim`], [`sendmail`],
//!   [`dovecot`]). Byte scans, no regular expressions; every field borrows from the line.
//! * [`clock`]: classic stamps have no year and no zone: the year comes from the file's date (or
//!   is given) and rolls over at New Year, the zone is the local one unless one is given.
//! * [`track`]: follows messages by queue id (a reused id starts a new message) and closes each
//!   with its outcome; memory is bounded by the number of open messages.
//! * [`summary`]: pflogsumm-like totals plus per-IP and per-user counts, bounded.
//! * [`input`]: lines from plain or gzip files and standard input, streamed.

pub mod clock;
pub mod dovecot;
pub mod exim;
pub mod input;
pub mod postfix;
pub mod prefix;
pub mod scan;
pub mod sendmail;
pub mod summary;
pub mod track;

pub use prefix::{Line, Stamp};

use serde::Serialize;

/// What a line says happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// A client connected.
    Connect,
    /// A client disconnected (Postfix lists the commands it used).
    Disconnect,
    /// The connection was lost or timed out before the session ended.
    LostConnection,
    /// A message entered the queue (smtpd `client=`, pickup, Exim `<=`, Sendmail `from=`).
    Received,
    /// The message's Message-ID (Postfix cleanup).
    MessageId,
    /// The queue manager took the message (sender, size, number of recipients).
    Queued,
    /// A recipient was delivered.
    Delivered,
    /// A delivery attempt failed temporarily; it will be retried.
    Deferred,
    /// A recipient failed permanently; a bounce goes to the sender.
    Bounced,
    /// The message stayed in the queue too long and was returned.
    Expired,
    /// The message left the queue (Postfix `removed`, Exim `Completed`).
    Removed,
    /// A command, a message or a connection was refused.
    Rejected,
    /// A restriction in warn-only mode would have refused it.
    RejectWarning,
    /// The message was discarded or held.
    Discarded,
    /// Credentials were sent and refused.
    AuthFailed,
    /// A client logged in (Dovecot).
    Login,
    /// The client disconnected without trying to log in, or without sending mail.
    NoAuth,
    /// A TLS handshake or TLS session failed.
    TlsFailed,
    /// A TLS session was set up (protocol and cipher).
    Tls,
    /// The client broke the protocol: pipelining, pregreeting, too many errors, command limits.
    Protocol,
    /// A rate or connection limit was hit.
    RateLimited,
    /// A DNS blocklist or a blocking access rule listed the client.
    Blocked,
    /// The client's name and address do not match in DNS.
    DnsMismatch,
    /// An outbound connection to a remote server failed.
    ConnectFailed,
    /// The message was frozen (Exim).
    Frozen,
    /// A warning by the server.
    Warning,
    /// A fatal error or panic by the server.
    Fatal,
    /// Anything else from a known daemon.
    Other,
}

impl Kind {
    /// The name used in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Connect => "connect",
            Kind::Disconnect => "disconnect",
            Kind::LostConnection => "lost_connection",
            Kind::Received => "received",
            Kind::MessageId => "message_id",
            Kind::Queued => "queued",
            Kind::Delivered => "delivered",
            Kind::Deferred => "deferred",
            Kind::Bounced => "bounced",
            Kind::Expired => "expired",
            Kind::Removed => "removed",
            Kind::Rejected => "rejected",
            Kind::RejectWarning => "reject_warning",
            Kind::Discarded => "discarded",
            Kind::AuthFailed => "auth_failed",
            Kind::Login => "login",
            Kind::NoAuth => "no_auth",
            Kind::TlsFailed => "tls_failed",
            Kind::Tls => "tls",
            Kind::Protocol => "protocol",
            Kind::RateLimited => "rate_limited",
            Kind::Blocked => "blocked",
            Kind::DnsMismatch => "dns_mismatch",
            Kind::ConnectFailed => "connect_failed",
            Kind::Frozen => "frozen",
            Kind::Warning => "warning",
            Kind::Fatal => "fatal",
            Kind::Other => "other",
        }
    }

    /// Routine traffic: connections, queue bookkeeping, TLS set-up, logins.
    pub fn is_routine(self) -> bool {
        matches!(
            self,
            Kind::Connect
                | Kind::Disconnect
                | Kind::MessageId
                | Kind::Queued
                | Kind::Removed
                | Kind::Tls
                | Kind::Login
                | Kind::Other
        )
    }
}

/// How much a line says about a client misbehaving or a mail failing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, PartialOrd, Ord, Default)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    /// Routine.
    #[default]
    Info,
    /// Worth a look but often harmless: a dropped connection, no login attempt, a name that
    /// does not resolve (what fail2ban counts only in its aggressive modes).
    Suspicious,
    /// A failure: refused credentials, a rejection, protocol abuse, a failed delivery.
    Failure,
}

/// Which server software wrote the line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Server {
    /// Postfix.
    Postfix,
    /// Exim.
    Exim,
    /// Sendmail.
    Sendmail,
    /// Dovecot.
    Dovecot,
    /// Not recognised.
    #[default]
    Unknown,
}

/// A reason a refusal was given, in the words admins group them by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// A DNS blocklist.
    Rbl,
    /// Relaying refused.
    Relay,
    /// The recipient does not exist.
    UnknownUser,
    /// The HELO/EHLO name was refused.
    Helo,
    /// SPF, DKIM or DMARC.
    Spf,
    /// The sender address or its domain.
    Sender,
    /// The client's address or name (no reverse DNS, access list).
    Client,
    /// Greylisting.
    Greylist,
    /// Spam, virus or content checks, milters.
    Content,
    /// The message is too big.
    Size,
    /// Protocol errors.
    Protocol,
    /// A mailbox is full.
    Quota,
    /// Anything else.
    Other,
}

impl Reason {
    /// The name used in JSON and summaries.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Rbl => "rbl",
            Reason::Relay => "relay",
            Reason::UnknownUser => "unknown_user",
            Reason::Helo => "helo",
            Reason::Spf => "spf",
            Reason::Sender => "sender",
            Reason::Client => "client",
            Reason::Greylist => "greylist",
            Reason::Content => "content",
            Reason::Size => "size",
            Reason::Protocol => "protocol",
            Reason::Quota => "quota",
            Reason::Other => "other",
        }
    }

    /// The reason a reply or log text gives, from its words (case-insensitive; the first
    /// reason in this list whose words appear wins).
    pub fn of(text: &str) -> Reason {
        static WORDS: std::sync::LazyLock<(aho_corasick::AhoCorasick, Vec<Reason>)> =
            std::sync::LazyLock::new(|| {
                let table: &[(Reason, &[&str])] = &[
                    (
                        Reason::Rbl,
                        &[
                            "blocked using",
                            "dnsbl",
                            "black list",
                            "blacklist",
                            "blocklist",
                            " rbl",
                            "listed at",
                            "listed in",
                            "spamhaus",
                        ],
                    ),
                    (
                        Reason::Relay,
                        &[
                            "relay access denied",
                            "relaying denied",
                            "unable to relay",
                            "relay not permitted",
                            ": relay",
                        ],
                    ),
                    (
                        Reason::Helo,
                        &["helo command rejected", "invalid helo", "helo name"],
                    ),
                    (Reason::Spf, &["spf", "dmarc", "dkim"]),
                    (Reason::Greylist, &["greylist", "graylist"]),
                    (
                        Reason::UnknownUser,
                        &[
                            "user unknown",
                            "unknown user",
                            "no such user",
                            "recipient address rejected",
                            "mailbox unavailable",
                            "does not exist",
                            "undeliverable address",
                            "5.1.1",
                        ],
                    ),
                    (
                        Reason::Sender,
                        &[
                            "sender address rejected",
                            "sender verify",
                            "domain of sender",
                            "5.1.8",
                        ],
                    ),
                    (
                        Reason::Client,
                        &[
                            "client host rejected",
                            "reverse",
                            "hostname",
                            "country",
                            "access denied",
                        ],
                    ),
                    (Reason::Quota, &["quota", "mailbox full", "insufficient"]),
                    (
                        Reason::Size,
                        &["too large", "too big", "size limit", "5.3.4"],
                    ),
                    (
                        Reason::Content,
                        &[
                            "spam",
                            "virus",
                            "content",
                            "milter",
                            "local_scan",
                            "header",
                            "body",
                        ],
                    ),
                    (
                        Reason::Protocol,
                        &["pipelining", "synchronization", "protocol", "command"],
                    ),
                ];
                let mut pats = Vec::new();
                let mut reasons = Vec::new();
                for (r, words) in table {
                    for w in *words {
                        pats.push(*w);
                        reasons.push(*r);
                    }
                }
                let ac = aho_corasick::AhoCorasick::builder()
                    .ascii_case_insensitive(true)
                    .build(&pats)
                    .unwrap_or_else(|_| unreachable!("the patterns are plain words"));
                (ac, reasons)
            });
        let (ac, reasons) = &*WORDS;
        ac.find_overlapping_iter(text)
            .map(|m| m.pattern().as_usize())
            .min()
            .map_or(Reason::Other, |i| reasons[i])
    }
}

/// One log line, read. Every text field borrows from the line.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Event<'a> {
    /// What happened.
    pub kind: Option<Kind>,
    /// How much it says about a failure.
    pub level: Level,
    /// Which server software wrote it.
    pub server: Server,
    /// The daemon (`smtpd`, `qmgr`, `imap-login`, `exim`, ...).
    pub daemon: &'a str,
    /// The client's (or, for outbound lines, the remote server's) IP address.
    pub ip: Option<&'a str>,
    /// The client's host name as the server saw it (`unknown` when it has none).
    pub host: Option<&'a str>,
    /// The client's port.
    pub port: Option<&'a str>,
    /// The login name (SASL user, Dovecot user, Exim `set_id`, Sendmail `user=`).
    pub user: Option<&'a str>,
    /// The queue id (Postfix, Sendmail) or message id (Exim).
    pub queue_id: Option<&'a str>,
    /// The Message-ID header, without angle brackets.
    pub message_id: Option<&'a str>,
    /// The envelope sender (empty for bounces).
    pub from: Option<&'a str>,
    /// The recipient.
    pub to: Option<&'a str>,
    /// The original recipient before rewriting.
    pub orig_to: Option<&'a str>,
    /// The delivery status word (`sent`, `deferred`, `bounced`, ...).
    pub status: Option<&'a str>,
    /// The enhanced status code.
    pub dsn: Option<&'a str>,
    /// The next hop (`host[ip]:port`, `local`, `none`).
    pub relay: Option<&'a str>,
    /// Total delay in seconds, as written.
    pub delay: Option<&'a str>,
    /// Postfix's delay breakdown (`a/b/c/d`).
    pub delays: Option<&'a str>,
    /// Message size in bytes.
    pub size: Option<u64>,
    /// Number of recipients (Postfix qmgr, Sendmail).
    pub nrcpt: Option<u32>,
    /// The SMTP command or stage (`RCPT`, `DATA`, `CONNECT`, `END-OF-MESSAGE`, ...).
    pub stage: Option<&'a str>,
    /// The server's reply or the reason as written.
    pub reply: Option<&'a str>,
    /// The reason class of a refusal.
    pub reason: Option<Reason>,
    /// The HELO name.
    pub helo: Option<&'a str>,
    /// TLS protocol version.
    pub tls_version: Option<&'a str>,
    /// TLS cipher.
    pub tls_cipher: Option<&'a str>,
    /// The queue id a message was handed on under (`queued as ...`, bounce notifications).
    pub queued_as: Option<&'a str>,
    /// The mechanism of a login attempt.
    pub method: Option<&'a str>,
}

impl<'a> Event<'a> {
    fn new(server: Server, daemon: &'a str) -> Event<'a> {
        // Every field written out (not `..Event::default()`), so the event is built where it
        // will live rather than copied there.
        Event {
            kind: None,
            level: Level::Info,
            server,
            daemon,
            ip: None,
            host: None,
            port: None,
            user: None,
            queue_id: None,
            message_id: None,
            from: None,
            to: None,
            orig_to: None,
            status: None,
            dsn: None,
            relay: None,
            delay: None,
            delays: None,
            size: None,
            nrcpt: None,
            stage: None,
            reply: None,
            reason: None,
            helo: None,
            tls_version: None,
            tls_cipher: None,
            queued_as: None,
            method: None,
        }
    }

    fn set(&mut self, kind: Kind, level: Level) {
        self.kind = Some(kind);
        self.level = level;
    }

    /// The text the explain engine should read for this event's cause, if it has one.
    pub fn cause_text(&self) -> Option<&'a str> {
        self.reply
    }
}

/// Reads the message of a line (after its envelope) into an event, choosing the parser by the
/// program that wrote it. `None` when no parser knows the line.
pub fn parse<'a>(line: &'a Line<'a>) -> Option<Event<'a>> {
    let mut event = None;
    parse_into(line, &mut event);
    event
}

/// [`parse`] into a place the caller holds (`None` when no parser knows the line): an event is
/// a few hundred bytes, and a reader of millions of lines would otherwise copy each one out of
/// the parser and out of its `Option`.
pub fn parse_into<'a>(line: &'a Line<'a>, out: &mut Option<Event<'a>>) {
    let program = line.program.as_deref().unwrap_or("");
    let message: &'a str = &line.message;
    let server = server_of(program, line);
    match server {
        Server::Postfix => {
            let daemon = program
                .bytes()
                .rposition(|c| c == b'/')
                .map_or(program, |i| &program[i + 1..]);
            let e = out.insert(Event::new(Server::Postfix, daemon));
            if !postfix::fill(e, daemon, message) {
                *out = None;
            }
        }
        Server::Exim => *out = exim::parse(message),
        Server::Sendmail => *out = sendmail::parse(program, message),
        Server::Dovecot => *out = dovecot::parse(program, message),
        Server::Unknown => *out = None,
    }
    if let Some(e) = out {
        hide_password(e);
    }
}

/// Dovecot with `auth_verbose_passwords` (or debug logging) writes the password a client tried
/// into the log: "Password mismatch (given password: ...)", "password=...". The event keeps the
/// words before it, so no output of ours ever repeats a password.
fn hide_password(event: &mut Event<'_>) {
    if let Some(reply) = event.reply
        && let Some(at) = password_at(reply)
    {
        event.reply = Some(reply[..at].trim_end_matches([' ', '(', ',', ':']));
    }
}

/// Where the first `given password` or `password=` starts, in any case (no copy of the text:
/// every line with a reply comes here).
fn password_at(text: &str) -> Option<usize> {
    let b = text.as_bytes();
    memchr::memchr2_iter(b'p', b'P', b).find_map(|i| {
        if !b.get(i..i + 8)?.eq_ignore_ascii_case(b"password") {
            return None;
        }
        if b.get(i + 8) == Some(&b'=') {
            Some(i)
        } else if i >= 6 && b[i - 6..i].eq_ignore_ascii_case(b"given ") {
            Some(i - 6)
        } else {
            None
        }
    })
}

/// Which server wrote a line, from its program name (Exim's own logs have none).
pub fn server_of(program: &str, line: &Line<'_>) -> Server {
    if program.is_empty() {
        return if matches!(line.stamp, Stamp::Civil { .. }) {
            Server::Exim
        } else {
            Server::Unknown
        };
    }
    let p = program.as_bytes();
    if p.starts_with(b"postfix") || scan::has(program, "postfix") {
        Server::Postfix
    } else if p.starts_with(b"exim") {
        Server::Exim
    } else if p.starts_with(b"sendmail") || p.starts_with(b"sm-") {
        Server::Sendmail
    } else if p.starts_with(b"dovecot")
        || p.starts_with(b"auth")
        || p.ends_with(b"-login")
        || p.starts_with(b"imap")
        || p.starts_with(b"pop3")
        || p.starts_with(b"lmtp")
        || p.starts_with(b"managesieve")
        || p.starts_with(b"submission")
    {
        Server::Dovecot
    } else {
        Server::Unknown
    }
}

#[cfg(test)]
mod tests;
