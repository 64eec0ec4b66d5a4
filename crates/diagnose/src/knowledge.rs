//! Knowledge of SMTP replies: what a reply means, as reviewed data compiled into the binary.
//!
//! Every entry names its source and carries real example replies; the tests check that each
//! example is won by its own entry and that no entry's id repeats. Matching is a few substring
//! tests per entry on a lower-cased copy of the reply, so nothing is compiled at start-up.

use smtpdoctor_report::check::Reply;
use smtpdoctor_report::{Category, Confidence, Retry};

/// The version of this table; bump when entries change meaning.
pub const KNOWLEDGE_VERSION: &str = "2026.11.28-1";

/// Where in the dialogue a reply came.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// The greeting.
    Greeting,
    /// EHLO or HELO.
    Ehlo,
    /// STARTTLS.
    Starttls,
    /// AUTH.
    Auth,
    /// MAIL FROM.
    Mail,
    /// RCPT TO.
    Rcpt,
    /// DATA.
    Data,
    /// After the message's final dot.
    Message,
}

/// One known meaning of a reply.
#[derive(Debug)]
pub struct Entry {
    /// Stable id (`auth.credentials_rejected`).
    pub id: &'static str,
    /// Reply codes it applies to (empty: any).
    pub codes: &'static [u16],
    /// Enhanced status codes it applies to, as prefixes (empty: any).
    pub enhanced: &'static [&'static str],
    /// Lower-case phrases; one must occur (empty: none needed, then `enhanced` or `codes` must be set).
    pub phrases: &'static [&'static str],
    /// Stages it applies to (empty: any).
    pub stages: &'static [Stage],
    /// The cause.
    pub category: Category,
    /// Retry, when not the reply class's (4xx temporary, 5xx permanent).
    pub retry: Option<Retry>,
    /// What it means, in one line.
    pub meaning: &'static str,
    /// What to do, in order.
    pub fix: &'static [&'static str],
    /// Where the meaning comes from.
    pub source: &'static str,
    /// Real replies it must match.
    pub examples: &'static [&'static str],
}

use Category as C;
use Stage as S;

/// The table, most specific first: the first entry that matches wins.
pub static ENTRIES: &[Entry] = &[
    Entry {
        id: "tls.starttls_required",
        codes: &[530, 550, 554, 503, 538],
        enhanced: &[],
        phrases: &[
            "must issue a starttls",
            "starttls first",
            "issue starttls",
            "must use starttls",
            "encryption required",
            "requires encryption",
            "tls required",
            "use starttls",
        ],
        stages: &[],
        category: C::TlsMismatch,
        retry: Some(Retry::Permanent),
        meaning: "The server accepts this command only inside TLS: the client must issue STARTTLS first.",
        fix: &[
            "Set the connection security to STARTTLS (port 587) or SSL/TLS (port 465) instead of none.",
        ],
        source: "RFC 3207 section 4; Postfix smtpd_tls_security_level=encrypt",
        examples: &[
            "530 5.7.0 Must issue a STARTTLS command first",
            "538 5.7.11 Encryption required for requested authentication mechanism",
        ],
    },
    Entry {
        id: "auth.provider_app_password",
        codes: &[],
        enhanced: &["5.7.9"],
        phrases: &[
            "application-specific password",
            "app password",
            "web login required",
            "please log in with your web browser",
        ],
        stages: &[],
        category: C::AuthDisabledByProvider,
        retry: Some(Retry::Permanent),
        meaning: "The provider refuses the account's normal password for SMTP: it wants an app password or OAuth.",
        fix: &[
            "Create an app password in the provider's account security settings and use it instead of the normal password.",
            "Or switch the client to OAuth 2 (XOAUTH2/OAUTHBEARER).",
        ],
        source: "Google Workspace Admin Help, SMTP error reference (534 5.7.9)",
        examples: &[
            "534 5.7.9 Application-specific password required. Learn more at https://support.google.com/mail/?p=InvalidSecondFactor",
        ],
    },
    Entry {
        id: "auth.provider_smtp_auth_disabled",
        codes: &[],
        enhanced: &["5.7.139", "5.7.57"],
        phrases: &[
            "smtpclientauthentication is disabled",
            "basic authentication is disabled",
            "smtp auth is disabled",
            "authentication unsuccessful, basic authentication",
        ],
        stages: &[S::Auth],
        category: C::AuthDisabledByProvider,
        retry: Some(Retry::Permanent),
        meaning: "The provider has switched off SMTP AUTH (or basic authentication) for this account or tenant.",
        fix: &[
            "Ask the mailbox's administrator to enable authenticated SMTP for this mailbox, or use OAuth 2.",
        ],
        source: "Microsoft Learn, Exchange Online: Fix issues with SMTP AUTH client submission (5.7.139)",
        examples: &[
            "535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Tenant.",
        ],
    },
    Entry {
        id: "auth.credentials_rejected",
        codes: &[535, 534],
        enhanced: &[],
        phrases: &[],
        stages: &[S::Auth],
        category: C::AuthFailed,
        retry: Some(Retry::Permanent),
        meaning: "The server refused the user name and password (or token).",
        fix: &[
            "Check the user name: most providers want the full email address.",
            "Retype the password (or create a new app password); check for a stale saved password.",
            "If the account uses two-factor authentication, use an app password.",
        ],
        source: "RFC 4954 section 6 (535 5.7.8 Authentication credentials invalid)",
        examples: &[
            "535 5.7.8 Error: authentication failed: authentication failure",
            "535 5.7.8 Username and Password not accepted. For more information, go to https://support.google.com/mail/?p=BadCredentials",
        ],
    },
    Entry {
        id: "auth.credentials_rejected_text",
        codes: &[],
        enhanced: &["5.7.8"],
        phrases: &[
            "authentication failed",
            "username and password not accepted",
            "invalid credentials",
            "authentication credentials invalid",
        ],
        stages: &[],
        category: C::AuthFailed,
        retry: Some(Retry::Permanent),
        meaning: "The server refused the user name and password (or token).",
        fix: &["Check the user name and password (or token)."],
        source: "RFC 4954 section 6",
        examples: &["550 5.7.8 authentication failed"],
    },
    Entry {
        id: "auth.temporary_failure",
        codes: &[454, 432],
        enhanced: &[],
        phrases: &[],
        stages: &[S::Auth],
        category: C::ServerUnavailable,
        retry: Some(Retry::Temporary),
        meaning: "The server could not check the credentials right now (its authentication back end failed).",
        fix: &[
            "Try again later; if it persists, the server's administrator should check its authentication service.",
        ],
        source: "RFC 4954 section 6 (454 4.7.0 Temporary authentication failure)",
        examples: &["454 4.7.0 Temporary authentication failure"],
    },
    Entry {
        id: "auth.mechanism_unsupported",
        codes: &[504],
        enhanced: &[],
        phrases: &[],
        stages: &[S::Auth],
        category: C::AuthMechanism,
        retry: Some(Retry::Permanent),
        meaning: "The server does not support this authentication mechanism.",
        fix: &["Use one of the mechanisms the server lists after AUTH in its EHLO reply."],
        source: "RFC 4954 section 6 (504 5.5.4 Unrecognized authentication type)",
        examples: &["504 5.5.4 Unrecognized authentication type"],
    },
    Entry {
        id: "policy.blocklisted",
        codes: &[],
        enhanced: &[],
        phrases: &[
            "spamhaus",
            "blocked using",
            "blacklist",
            "blocklist",
            "block list",
            "listed at",
            "dnsbl",
            "rbl ",
            "5.7.606",
            "banned sending ip",
            "spamcop",
        ],
        stages: &[],
        category: C::BlacklistedIp,
        retry: Some(Retry::Permanent),
        meaning: "The server refuses the client because its IP address is on a blocklist.",
        fix: &[
            "Look the sending IP up on the list named in the reply and follow its delisting procedure.",
            "Send through your provider's submission server instead of directly.",
        ],
        source: "RFC 5782 (DNS blocklists); Spamhaus return codes",
        examples: &[
            "554 5.7.1 Service unavailable; Client host [192.0.2.1] blocked using zen.spamhaus.org",
            "550 5.7.606 Access denied, banned sending IP [192.0.2.1]",
        ],
    },
    Entry {
        id: "auth.required_submission",
        codes: &[],
        enhanced: &[],
        phrases: &[
            "client host rejected: access denied",
            "sender address rejected: not logged in",
            "authentication required",
            "authentication is required",
            "must authenticate",
            "not authenticated",
            "auth required",
            "please authenticate",
            "5.7.57",
        ],
        stages: &[],
        category: C::AuthRequired,
        retry: Some(Retry::Permanent),
        meaning: "The server accepts mail here only from clients that log in first.",
        fix: &["Turn on authentication (SMTP AUTH) with the mailbox's user name and password."],
        source: "RFC 4954 section 6 (530 5.7.0 Authentication required); Postfix permit_sasl_authenticated",
        examples: &[
            "554 5.7.1 <x@example.org>: Client host rejected: Access denied",
            "530 5.7.0 Authentication required",
            "530 5.7.57 Client not authenticated to send mail",
        ],
    },
    Entry {
        id: "auth.required_530",
        codes: &[530],
        enhanced: &[],
        phrases: &[],
        stages: &[S::Mail, S::Rcpt, S::Data],
        category: C::AuthRequired,
        retry: Some(Retry::Permanent),
        meaning: "The server wants the client to log in before sending.",
        fix: &["Turn on authentication (SMTP AUTH)."],
        source: "RFC 4954 section 6",
        examples: &["530 Access denied"],
    },
    Entry {
        id: "envelope.relay_denied",
        codes: &[],
        enhanced: &[],
        phrases: &[
            "relay access denied",
            "relaying denied",
            "unable to relay",
            "relay not permitted",
            "relaying not allowed",
            "not permitted to relay",
            "we do not relay",
            "relay denied",
            "not allowed to relay",
        ],
        stages: &[],
        category: C::RelayDenied,
        retry: Some(Retry::Permanent),
        meaning: "The server will not pass mail on to this recipient's domain for this client.",
        fix: &[
            "Log in (SMTP AUTH) on the submission port (587 or 465) of your own provider, which relays for its users.",
            "Or send to a recipient this server hosts.",
        ],
        source: "RFC 5321 section 3.6.2; Postfix reject_unauth_destination",
        examples: &[
            "554 5.7.1 <x@example.net>: Relay access denied",
            "550 5.7.1 Unable to relay",
        ],
    },
    Entry {
        id: "envelope.recipient_unknown",
        codes: &[],
        enhanced: &["5.1.1", "5.1.10", "5.1.2", "5.1.6"],
        phrases: &[
            "user unknown",
            "no such user",
            "unknown user",
            "does not exist",
            "recipient not found",
            "mailbox not found",
            "no mailbox",
            "address rejected: user unknown",
            "unknown recipient",
            "invalid recipient",
        ],
        stages: &[S::Rcpt, S::Data, S::Message],
        category: C::RecipientUnknown,
        retry: Some(Retry::Permanent),
        meaning: "The recipient's mailbox or domain does not exist at this server.",
        fix: &[
            "Check the recipient address for typos.",
            "Ask the recipient for their current address.",
        ],
        source: "RFC 3463 (X.1.1 Bad destination mailbox address)",
        examples: &[
            "550 5.1.1 <nobody@mail.test>: Recipient address rejected: User unknown in virtual mailbox table",
            "550 5.1.1 The email account that you tried to reach does not exist.",
        ],
    },
    Entry {
        id: "envelope.mailbox_full",
        codes: &[],
        enhanced: &["4.2.2", "5.2.2"],
        phrases: &[
            "mailbox full",
            "over quota",
            "quota exceeded",
            "mailbox is full",
            "exceeded storage",
        ],
        stages: &[S::Rcpt, S::Data, S::Message],
        category: C::MailboxFull,
        retry: None,
        meaning: "The recipient exists but their mailbox is full.",
        fix: &["Tell the recipient another way; try again after they have made room."],
        source: "RFC 3463 (X.2.2 Mailbox full)",
        examples: &[
            "452 4.2.2 The email account that you tried to reach is over quota.",
            "552 5.2.2 Mailbox full",
        ],
    },
    Entry {
        id: "envelope.mailbox_disabled",
        codes: &[],
        enhanced: &["5.2.1", "4.2.1"],
        phrases: &[
            "account disabled",
            "mailbox disabled",
            "account has been disabled",
            "suspended",
            "inactive",
        ],
        stages: &[S::Rcpt, S::Data, S::Message],
        category: C::MailboxDisabled,
        retry: None,
        meaning: "The recipient's mailbox exists but does not accept mail (disabled or suspended).",
        fix: &["Ask the recipient for another address."],
        source: "RFC 3463 (X.2.1 Mailbox disabled)",
        examples: &["550 5.2.1 The email account that you tried to reach is disabled."],
    },
    Entry {
        id: "envelope.sender_rejected",
        codes: &[],
        enhanced: &["5.1.8", "5.1.7", "5.7.60"],
        phrases: &[
            "sender address rejected",
            "sender domain",
            "not owned by user",
            "sender rejected",
            "sender not allowed",
            "domain of sender address",
            "send as",
        ],
        stages: &[S::Mail, S::Rcpt],
        category: C::SenderRejected,
        retry: Some(Retry::Permanent),
        meaning: "The server refuses the sender address (not owned by this login, or a domain it cannot verify).",
        fix: &[
            "Send from the address of the account you log in with (or one it may send as).",
            "Check that the sender's domain exists and has MX or A records.",
        ],
        source: "RFC 3463 (X.1.8 Bad sender's system address; X.1.7 Bad sender's mailbox address syntax)",
        examples: &[
            "553 5.7.1 <me@example.org>: Sender address rejected: not owned by user user@mail.test",
            "450 4.1.8 <a@nodomain.invalid>: Sender address rejected: Domain not found",
        ],
    },
    Entry {
        id: "policy.sender_authentication",
        codes: &[],
        enhanced: &["5.7.26", "5.7.23", "5.7.27", "5.7.24"],
        phrases: &[
            "spf",
            "dkim",
            "dmarc",
            "unauthenticated email",
            "sender authentication",
        ],
        stages: &[],
        category: C::SenderAuthFailure,
        retry: Some(Retry::Permanent),
        meaning: "The receiver checked SPF, DKIM or DMARC for the sender's domain and it failed.",
        fix: &[
            "Publish an SPF record that includes this server, sign with DKIM and align with DMARC (smtpdoctor domain DOMAIN).",
        ],
        source: "RFC 7372 (X.7.23 SPF validation failed, X.7.26 multiple authentication checks failed)",
        examples: &[
            "550 5.7.26 This mail is unauthenticated, which poses a security risk to the sender and Gmail users",
        ],
    },
    Entry {
        id: "policy.rate_limited",
        codes: &[],
        enhanced: &["4.7.28", "5.7.28"],
        phrases: &[
            "rate limit",
            "too many",
            "throttl",
            "exceeded the maximum",
            "sending limit",
            "limit exceeded",
        ],
        stages: &[],
        category: C::GreylistingOrRateLimit,
        retry: Some(Retry::Temporary),
        meaning: "The receiver is limiting how much or how fast this client sends.",
        fix: &["Wait and send more slowly; check the provider's sending limits for the account."],
        source: "Google Workspace Admin Help, SMTP error reference (421 4.7.28, 450 4.2.1)",
        examples: &[
            "421 4.7.0 Too many concurrent SMTP connections from this IP address; please try again later.",
            "451 4.7.28 Our system has detected an unusual rate of unsolicited mail",
        ],
    },
    Entry {
        id: "server.unavailable",
        codes: &[421],
        enhanced: &[],
        phrases: &[],
        stages: &[],
        category: C::ServerUnavailable,
        retry: Some(Retry::Temporary),
        meaning: "The server is closing the session: it is overloaded, in maintenance or shutting down.",
        fix: &["Try again later; if it lasts, ask the server's administrator."],
        source: "RFC 5321 section 4.2.3 (421 Service not available, closing transmission channel)",
        examples: &[
            "421 4.3.2 Service shutting down",
            "421 mail.test Service not available - try again later",
        ],
    },
    Entry {
        id: "policy.greylisted",
        codes: &[],
        enhanced: &[],
        phrases: &[
            "greylist",
            "graylist",
            "grey-list",
            "try again later",
            "please retry later",
            "deferred",
        ],
        stages: &[],
        category: C::GreylistingOrRateLimit,
        retry: Some(Retry::Temporary),
        meaning: "The receiver asks the sender to come back later (greylisting or a temporary policy).",
        fix: &["Nothing to change: a real mail server retries by itself within minutes."],
        source: "RFC 6647 (greylisting)",
        examples: &[
            "450 4.2.0 <x@example.org>: Recipient address rejected: Greylisted, see http://postgrey.schweikert.ch/help/example.org.html",
            "451 4.7.1 Please try again later",
        ],
    },
    Entry {
        id: "policy.reverse_dns",
        codes: &[],
        enhanced: &["5.7.25"],
        phrases: &[
            "reverse dns",
            "ptr record",
            "reverse hostname",
            "cannot find your hostname",
            "helo command rejected",
            "client host rejected: cannot find",
        ],
        stages: &[],
        category: C::SpamOrPolicyBlock,
        retry: Some(Retry::Permanent),
        meaning: "The receiver refuses the client because its reverse DNS or HELO name does not check out.",
        fix: &[
            "Give the sending IP a PTR record whose name resolves back to it, and use that name in EHLO.",
        ],
        source: "RFC 7372 (X.7.25 Reverse DNS validation failed); Postfix reject_unknown_client_hostname",
        examples: &[
            "450 4.7.25 Client host rejected: cannot find your hostname, [192.0.2.1]",
            "504 5.5.2 <localhost>: Helo command rejected: need fully-qualified hostname",
        ],
    },
    Entry {
        id: "message.too_large",
        codes: &[552],
        enhanced: &["5.3.4", "5.2.3", "4.3.4"],
        phrases: &[
            "too large",
            "too big",
            "size limit",
            "exceeds",
            "message size",
        ],
        stages: &[S::Mail, S::Data, S::Message],
        category: C::MessageTooLarge,
        retry: Some(Retry::Permanent),
        meaning: "The message is larger than the server accepts.",
        fix: &["Send a smaller message: share large files by link instead of attaching them."],
        source: "RFC 1870 (SIZE); RFC 3463 (X.3.4 Message too big for system)",
        examples: &["552 5.3.4 Message size exceeds fixed limit"],
    },
    Entry {
        id: "message.content_rejected",
        codes: &[],
        enhanced: &["5.6."],
        phrases: &[
            "virus",
            "malware",
            "attachment",
            "file type",
            "content rejected",
            "banned content",
        ],
        stages: &[S::Data, S::Message],
        category: C::ContentRejected,
        retry: Some(Retry::Permanent),
        meaning: "The server refuses the message's content (a virus, an attachment type, a header).",
        fix: &["Remove the attachment or content named in the reply, or send it another way."],
        source: "RFC 3463 (X.6.x message content or media errors)",
        examples: &["554 5.6.1 Message content rejected: attachment type not allowed"],
    },
    Entry {
        id: "policy.spam",
        codes: &[],
        enhanced: &[],
        phrases: &[
            "spam",
            "junk",
            "policy",
            "rejected for policy",
            "not accepted",
            "message rejected",
            "suspicious",
        ],
        stages: &[],
        category: C::SpamOrPolicyBlock,
        retry: Some(Retry::Permanent),
        meaning: "The receiver's filter or policy refuses the client or the message.",
        fix: &[
            "Read the reply's text and any link in it; check the sender's domain with smtpdoctor domain.",
        ],
        source: "RFC 3463 (X.7.1 Delivery not authorized, message refused)",
        examples: &["550 5.7.1 Message rejected as spam by Content Filtering."],
    },
    Entry {
        id: "server.local_error",
        codes: &[451, 452, 554],
        enhanced: &["4.3.", "5.3."],
        phrases: &[
            "local error",
            "insufficient system storage",
            "temporary failure",
            "try again",
            "server error",
            "service unavailable",
            "no smtp service here",
        ],
        stages: &[],
        category: C::ServerUnavailable,
        retry: None,
        meaning: "The server failed on its side (a local error, a full disk, a broken back end).",
        fix: &["Try again later; if it lasts, ask the server's administrator."],
        source: "RFC 5321 section 4.2.3 (451, 452); RFC 3463 (X.3.x mail system status)",
        examples: &[
            "451 4.3.0 Error: queue file write error",
            "452 4.3.1 Insufficient system storage",
            "554 5.3.0 No SMTP service here",
        ],
    },
    Entry {
        id: "protocol.syntax",
        codes: &[500, 501, 502, 503, 555],
        enhanced: &["5.5."],
        phrases: &[],
        stages: &[],
        category: C::SyntaxProtocol,
        retry: Some(Retry::Permanent),
        meaning: "The server did not accept the command or its syntax.",
        fix: &[
            "Check the address syntax (no spaces, angle brackets balanced); a client bug may be the cause.",
        ],
        source: "RFC 5321 section 4.2.3 (500-504)",
        examples: &[
            "501 5.1.3 Bad recipient address syntax",
            "503 5.5.1 Error: need MAIL command",
        ],
    },
];

/// What a reply means, with how sure the match is.
#[derive(Debug, Clone)]
pub struct Meaning {
    /// The entry that matched, if any.
    pub entry: Option<&'static Entry>,
    /// The cause.
    pub category: Category,
    /// Retry.
    pub retry: Retry,
    /// How sure.
    pub confidence: Confidence,
    /// Other causes that fit.
    pub alternatives: Vec<Category>,
    /// In one line.
    pub meaning: String,
    /// What to do.
    pub fix: Vec<String>,
}

fn matches(entry: &Entry, reply: &Reply, lower: &str, stage: Stage) -> Option<Confidence> {
    if !entry.stages.is_empty() && !entry.stages.contains(&stage) {
        return None;
    }
    let code_hit = entry.codes.contains(&reply.code);
    let enhanced_hit = reply.enhanced.as_deref().is_some_and(|e| {
        entry
            .enhanced
            .iter()
            .any(|p| e.starts_with(p) && (p.ends_with('.') || e.len() == p.len()))
    });
    if entry.phrases.is_empty() {
        // Codes alone: either the basic or the enhanced code names the meaning.
        return (code_hit || enhanced_hit).then_some(Confidence::High);
    }
    // With phrases, a code list only narrows; an enhanced code alone is a weaker match.
    let code_ok = entry.codes.is_empty() || code_hit;
    let phrase_hit = entry.phrases.iter().any(|p| lower.contains(p));
    if phrase_hit && code_ok {
        Some(Confidence::High)
    } else if enhanced_hit {
        Some(Confidence::Medium)
    } else {
        None
    }
}

/// The meaning of a reply at a stage of the dialogue. Never fails: an unknown reply gets the best
/// evidence-based answer from its codes, with honest confidence.
pub fn classify(reply: &Reply, stage: Stage) -> Meaning {
    let lower = reply.lines.join(" ").to_ascii_lowercase();
    let lower = format!("{} {lower}", reply.code);
    for entry in ENTRIES {
        if let Some(confidence) = matches(entry, reply, &lower, stage) {
            return Meaning {
                entry: Some(entry),
                category: entry.category,
                retry: entry.retry.unwrap_or(class_retry(reply.code)),
                confidence,
                alternatives: Vec::new(),
                meaning: entry.meaning.to_string(),
                fix: entry.fix.iter().map(|s| s.to_string()).collect(),
            };
        }
    }
    fallback(reply, stage)
}

fn class_retry(code: u16) -> Retry {
    if (400..500).contains(&code) {
        Retry::Temporary
    } else {
        Retry::Permanent
    }
}

fn fallback(reply: &Reply, stage: Stage) -> Meaning {
    let retry = class_retry(reply.code);
    let subject = reply
        .enhanced
        .as_deref()
        .and_then(|e| e.split('.').nth(1))
        .unwrap_or("");
    let (category, alternatives, meaning): (Category, Vec<Category>, &str) = match (subject, stage)
    {
        ("1", S::Mail) => (
            C::SenderRejected,
            vec![C::SyntaxProtocol],
            "The server refused the sender address.",
        ),
        ("1", _) => (
            C::RecipientUnknown,
            vec![C::SyntaxProtocol],
            "The server refused an address.",
        ),
        ("2", _) => (
            C::MailboxDisabled,
            vec![C::MailboxFull],
            "The recipient's mailbox cannot take the message.",
        ),
        ("3", _) => (
            C::ServerUnavailable,
            vec![C::Other],
            "The receiving mail system has a problem.",
        ),
        ("4", _) => (
            C::ServerUnavailable,
            vec![C::Other],
            "A network or routing problem on the receiving side.",
        ),
        ("5", _) => (C::SyntaxProtocol, vec![C::Other], "A protocol problem."),
        ("6", _) => (
            C::ContentRejected,
            vec![C::Other],
            "The message's content was refused.",
        ),
        ("7", S::Auth) => (
            C::AuthFailed,
            vec![C::AuthDisabledByProvider],
            "The server refused the login.",
        ),
        ("7", _) => (
            C::SpamOrPolicyBlock,
            vec![C::RelayDenied, C::AuthRequired],
            "The server's security policy refused it.",
        ),
        _ => match (reply.code / 100, stage) {
            (4, _) => (
                C::ServerUnavailable,
                vec![C::GreylistingOrRateLimit],
                "A temporary refusal.",
            ),
            (5, S::Auth) => (
                C::AuthFailed,
                vec![C::AuthMechanism],
                "The server refused the login.",
            ),
            (5, S::Mail) => (
                C::SenderRejected,
                vec![C::SpamOrPolicyBlock],
                "The server refused the sender.",
            ),
            (5, S::Rcpt) => (
                C::RecipientUnknown,
                vec![C::RelayDenied, C::SpamOrPolicyBlock],
                "The server refused the recipient.",
            ),
            _ => (C::Other, vec![], "The server refused the command."),
        },
    };
    let confidence = if reply.enhanced.is_some() {
        Confidence::Medium
    } else {
        Confidence::Low
    };
    Meaning {
        entry: None,
        category,
        retry,
        confidence,
        alternatives,
        meaning: meaning.to_string(),
        fix: vec![format!("Read the server's words: \"{}\"", reply.one_line())],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(text: &str) -> Reply {
        let code: u16 = text[..3].parse().unwrap();
        let rest = text.get(4..).unwrap_or("").to_string();
        Reply {
            code,
            enhanced: smtpdoctor_report::check::enhanced_code(code, &rest),
            lines: vec![rest],
        }
    }

    fn stage_for(entry: &Entry) -> Stage {
        entry.stages.first().copied().unwrap_or(Stage::Rcpt)
    }

    #[test]
    fn ids_unique_and_entries_sourced() {
        let mut ids = std::collections::HashSet::new();
        for e in ENTRIES {
            assert!(ids.insert(e.id), "duplicate id {}", e.id);
            assert!(
                !e.source.is_empty() && !e.meaning.is_empty() && !e.fix.is_empty(),
                "{}",
                e.id
            );
            assert!(!e.examples.is_empty(), "{} has no example", e.id);
            assert!(
                !(e.codes.is_empty() && e.enhanced.is_empty() && e.phrases.is_empty()),
                "{} matches everything",
                e.id
            );
        }
    }

    #[test]
    fn every_example_is_won_by_its_own_entry() {
        for e in ENTRIES {
            for ex in e.examples {
                let m = classify(&reply(ex), stage_for(e));
                assert_eq!(
                    m.entry.map(|w| w.id),
                    Some(e.id),
                    "{ex:?} was won by another entry"
                );
            }
        }
    }

    #[test]
    fn context_decides() {
        // The same 5.7.1 means relay, auth or spam depending on its words.
        assert_eq!(
            classify(
                &reply("554 5.7.1 <a@b.example>: Relay access denied"),
                Stage::Rcpt
            )
            .category,
            C::RelayDenied
        );
        assert_eq!(
            classify(
                &reply("554 5.7.1 <a@b.example>: Client host rejected: Access denied"),
                Stage::Rcpt
            )
            .category,
            C::AuthRequired
        );
        assert_eq!(
            classify(&reply("550 5.7.1 Message rejected as spam"), Stage::Message).category,
            C::SpamOrPolicyBlock
        );
        // A 421 that is really a rate limit.
        assert_eq!(
            classify(
                &reply("421 4.7.0 Too many connections from your IP"),
                Stage::Greeting
            )
            .category,
            C::GreylistingOrRateLimit
        );
        // A 550 that is really a blocklist.
        assert_eq!(
            classify(
                &reply("550 5.7.1 Client host [192.0.2.1] blocked using zen.spamhaus.org"),
                Stage::Rcpt
            )
            .category,
            C::BlacklistedIp
        );
    }

    #[test]
    fn negatives_do_not_match_eagerly() {
        // Plain success texts and unrelated words must not be read as causes.
        let m = classify(&reply("550 5.9.9 something odd"), Stage::Rcpt);
        assert!(m.entry.is_none());
        assert_ne!(m.confidence, Confidence::High);
        let m = classify(&reply("599 weird"), Stage::Data);
        assert_eq!(m.category, C::Other);
        assert_eq!(m.confidence, Confidence::Low);
        assert_eq!(
            classify(&reply("451 4.7.1 Please try again later"), Stage::Rcpt).retry,
            Retry::Temporary
        );
        assert_eq!(
            classify(
                &reply("535 5.7.8 Error: authentication failed"),
                Stage::Auth
            )
            .category,
            C::AuthFailed
        );
    }
}
