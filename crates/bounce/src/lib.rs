//! Reads bounce messages the way a mail admin would: standard DSNs (RFC 3464), the many
//! non-standard shapes MTAs and providers write, feedback reports (ARF) and auto-replies — one
//! record per recipient, with the reply code, status, a Sisimai-compatible reason and our own
//! category, retry and fix from the explain engine.
//!
//! MIME is mail-parser's job; everything after that (which part says what, which address failed,
//! why) is ours.

mod dsn;
pub mod engine;
pub mod input;
mod reason;
mod ses;
mod text;

use mail_parser::{HeaderName, Message, MessageParser, MimeHeaders, PartType};
use smtpdoctor_report::bounce::{BounceKind, BounceRecord, OriginalMessage};
use std::borrow::Cow;

pub use reason::{REASONS, Reason, reason_for, reason_in_text};

/// Most bytes of one message that are read; the rest (usually the returned original's body) is
/// ignored, and the record says so.
pub const MAX_MESSAGE_BYTES: usize = 4 << 20;

/// The reply codes SMTP defines (RFC 5321 §4.2.3 and the extensions: AUTH, ETRN, null MX, ...).
/// Other three-digit numbers in a diagnostic ("426", "571") cannot be read by their class with
/// any confidence, so they stay in the text but are not reported as the reply code.
const DEFINED_REPLY_CODES: &[u16] = &[
    211, 214, 220, 221, 250, 251, 252, 253, 354, 421, 432, 450, 451, 452, 454, 455, 458, 459, 500,
    501, 502, 503, 504, 521, 523, 525, 530, 534, 535, 538, 550, 551, 552, 553, 554, 555, 556,
];

/// Most bytes of a diagnostic kept (and matched against reasons).
pub const MAX_DIAGNOSTIC_BYTES: usize = 4000;

/// What one failed (or delayed, delivered) recipient's part of a bounce said, before
/// classification.
#[derive(Debug, Default, Clone)]
pub struct Finding {
    /// The address.
    pub recipient: Option<String>,
    /// DSN Action.
    pub action: Option<String>,
    /// The status the bounce gave.
    pub status: Option<String>,
    /// The error text.
    pub diagnostic: Option<String>,
    /// The SMTP command that was refused.
    pub command: Option<String>,
    /// The refusing server.
    pub remote_mta: Option<String>,
    /// The server that wrote the bounce.
    pub reporting_mta: Option<String>,
    /// Arrival date.
    pub arrival_date: Option<String>,
    /// Last attempt date.
    pub last_attempt_date: Option<String>,
    /// Whether the bounce says it is a delay warning, not a failure.
    pub delayed: bool,
    /// The diagnostic comes from the local delivery program (a DSN's `X-Unix;` type).
    pub from_mailer: bool,
}

/// The one message parser every read shares: mail-parser's default treatment of every header
/// except Received, which is kept raw — only its text is ever looked at, and parsing its
/// structure took a tenth of the reading time. (A parser with any header configured parses the
/// unconfigured ones raw, so the defaults are restated here.)
pub(crate) fn parser() -> &'static MessageParser {
    static P: std::sync::OnceLock<MessageParser> = std::sync::OnceLock::new();
    P.get_or_init(|| {
        let mut p = MessageParser::new()
            .with_mime_headers()
            .with_date_headers()
            .with_address_headers()
            .with_message_ids()
            .header_text(HeaderName::Subject)
            .header_text(HeaderName::Comments)
            .header_id(HeaderName::ReturnPath)
            .header_id(HeaderName::ContentId)
            .header_comma_separated(HeaderName::Keywords)
            .header_comma_separated(HeaderName::ContentLanguage)
            .header_raw(HeaderName::Received);
        for list in [
            HeaderName::ListArchive,
            HeaderName::ListHelp,
            HeaderName::ListId,
            HeaderName::ListOwner,
            HeaderName::ListPost,
            HeaderName::ListSubscribe,
            HeaderName::ListUnsubscribe,
        ] {
            p = p.header_address(list);
        }
        p
    })
}

/// Reads one message and returns its records (at least one).
pub fn read(raw: &[u8], file: &str) -> Vec<BounceRecord> {
    let bytes = normalize(raw);
    // mail-parser 0.11 has a debug assertion that nested empty message/rfc822 parts trip (found
    // by fuzzing): one odd message must not end the run, so a panic there is an unreadable message.
    let parsed = std::panic::catch_unwind(|| parser().parse(bytes.as_ref()));
    let Ok(Some(message)) = parsed else {
        return vec![single(
            file,
            BounceKind::NotBounce,
            "not a mail message: no header could be read",
            "none",
        )];
    };
    let parts = Parts::of(&message);
    let headers = Headers::of(&message);

    if let Some(report) = &parts.feedback {
        return feedback(file, report, &parts, &headers);
    }
    if let Some(notification) = ses::read(&parts.notice) {
        return from_notification(file, notification);
    }
    let mut original = parts.original.clone().unwrap_or_default();
    let mut detector = "rfc3464";
    let mut found: Vec<Finding> = Vec::new();
    if let Some(status) = &parts.delivery_status {
        let ds = dsn::parse(status);
        for r in &ds.recipients {
            found.push(Finding {
                recipient: r.final_recipient.clone(),
                action: r.action.clone(),
                status: r.status.clone(),
                diagnostic: r.diagnostic.clone(),
                command: None,
                remote_mta: r.remote_mta.clone(),
                reporting_mta: r.reporting_mta.clone().or_else(|| ds.reporting_mta.clone()),
                arrival_date: r.arrival_date.clone().or_else(|| ds.arrival_date.clone()),
                last_attempt_date: r.last_attempt_date.clone(),
                delayed: false,
                from_mailer: r.from_mailer,
            });
        }
    }
    let notice = text::read(&parts.notice, &headers, parts.original.as_ref());
    if original.from.is_none()
        && original.to.is_none()
        && let Some(o) = &notice.original
    {
        original = o.clone();
    }
    let bounce_like = notice.looks_like_bounce || headers.looks_like_bounce;
    if found.is_empty() && bounce_like {
        found = notice.recipients.clone();
        detector = notice.detector;
    } else {
        // The human-readable part often has the text the DSN's fields leave out.
        // Indexed by address, so a hostile notice with many addresses stays linear.
        let by_address: std::collections::HashMap<String, &Finding> = notice
            .recipients
            .iter()
            .filter_map(|n| n.recipient.as_deref().map(|a| (a.to_ascii_lowercase(), n)))
            .collect();
        for f in &mut found {
            let from_text = f
                .recipient
                .as_deref()
                .and_then(|r| by_address.get(&r.to_ascii_lowercase()).copied());
            let from_text =
                from_text.or(if notice.recipients.len() == 1 && found_len_one(&parts) {
                    notice.recipients.first()
                } else {
                    None
                });
            if let Some(n) = from_text {
                if f.diagnostic.as_deref().is_none_or(|d| {
                    !text::has_code(d) && n.diagnostic.as_deref().is_some_and(text::has_code)
                }) && let Some(d) = &n.diagnostic
                {
                    f.diagnostic = Some(match &f.diagnostic {
                        Some(own) if !own.trim().is_empty() => format!("{own} {d}"),
                        _ => d.clone(),
                    });
                }
                f.command = f.command.take().or_else(|| n.command.clone());
            }
            if let Some(fallback) = notice.fallback.as_ref().and_then(|f| f.diagnostic.as_ref()) {
                match &f.diagnostic {
                    // The DSN gives no Diagnostic-Code: the notice's error lines are the evidence.
                    None => f.diagnostic = Some(fallback.clone()),
                    // Only a mailer's exit status ("X-Unix; 255"): the transcript says what it meant.
                    Some(own) if !text::has_code(own) && text::has_code(fallback) => {
                        f.diagnostic = Some(format!("{own} {fallback}"));
                    }
                    Some(_) => {}
                }
            }
            if f.command.is_none() {
                f.command = f.diagnostic.as_deref().and_then(text::command_in);
            }
        }
    }
    if found.is_empty() {
        // A mail program's automatic "unsubscribe" (a List-Unsubscribe mailto, RFC 2369/8058) is
        // the recipient opting out: feedback, not an auto-reply.
        if headers.autoreply
            && !notice.looks_like_bounce
            && headers
                .subject
                .as_deref()
                .is_some_and(|s| s.trim().eq_ignore_ascii_case("unsubscribe"))
        {
            let mut r = single(file, BounceKind::Feedback, "", "arf");
            r.recipient = headers.from.as_deref().map(str::to_ascii_lowercase);
            r.feedback_type = Some("opt-out".into());
            r.original = parts.original.clone().unwrap_or_default();
            return vec![r];
        }
        // A notice worded as a bounce is one, even when it also calls itself an auto-reply.
        if headers.autoreply && !notice.looks_like_bounce {
            return vec![autoreply(file, &headers, &parts)];
        }
        if bounce_like {
            // A bounce whose recipients cannot be told: report it with the original's recipient.
            let mut f = notice.fallback.clone().unwrap_or_default();
            if f.recipient.is_none() {
                f.recipient = headers
                    .failed_recipients
                    .first()
                    .cloned()
                    .or_else(|| original.to.clone());
            }
            found.push(f);
            detector = notice.detector;
        } else {
            let mut r = single(file, BounceKind::NotBounce, "", "none");
            r.original = OriginalMessage {
                message_id: headers.message_id.clone(),
                from: headers.from.clone(),
                to: headers.to.clone(),
                subject: headers.subject.clone(),
            };
            r.diagnostic = None;
            return vec![r];
        }
    }
    if notice.delay_warning {
        for f in &mut found {
            f.delayed = true;
        }
    }
    found
        .into_iter()
        .map(|f| classify(file, f, detector, &original, headers.engine))
        .collect()
}

fn found_len_one(parts: &Parts) -> bool {
    parts
        .delivery_status
        .as_deref()
        .is_some_and(|s| s.to_ascii_lowercase().matches("final-recipient").count() <= 1)
}

/// Turns what a bounce said about one recipient into a record with reason, category and fix.
fn classify(
    file: &str,
    f: Finding,
    detector: &str,
    original: &OriginalMessage,
    writer: Option<&'static engine::Engine>,
) -> BounceRecord {
    let diagnostic = f
        .diagnostic
        .as_deref()
        .map(|d| {
            // A hostile bounce can carry megabytes of "diagnostic": the cause is in its start.
            d.split_whitespace()
                .scan(0usize, |len, w| {
                    *len += w.len() + 1;
                    (*len <= MAX_DIAGNOSTIC_BYTES).then_some(w)
                })
                .collect::<Vec<_>>()
                .join(" ")
        })
        .filter(|d| !d.is_empty());
    // The remote server's own reply inside the diagnostic, found once for status, code and reason.
    let remote = diagnostic.as_deref().map(remote_reply);
    let in_text_status = remote.and_then(smtpdoctor_knowledge::enhanced_in);
    let in_text_class = in_text_status.as_deref().and_then(|s| s.bytes().next());
    let status = match (&f.status, in_text_status) {
        // The remote server's code is more telling than the reporting MTA's summary, unless it
        // is only the generic X.0.0.
        (Some(own), Some(t))
            if t.as_bytes()[0] == own.as_bytes()[0]
                && (!t.ends_with(".0.0") || own.ends_with(".0.0")) =>
        {
            Some(t)
        }
        (Some(own), _) => Some(own.clone()),
        (None, t) => t,
    };
    let reply_code = diagnostic
        .as_deref()
        .zip(remote)
        .and_then(|(d, r)| reply_code_in_parts(d, r))
        .filter(|code| DEFINED_REPLY_CODES.contains(code))
        // A reply whose class contradicts the bounce's own status (Postfix's "554 Blocked" kept
        // as 4.0.0 while it tries the next MX) is not what decided this recipient's fate.
        .filter(|code| {
            let agrees =
                |class: u8| matches!((class, code / 100), (b'2', 2) | (b'4', 4) | (b'5', 5));
            status
                .as_deref()
                .and_then(|s| s.bytes().next())
                .is_none_or(agrees)
                || in_text_class.is_some_and(agrees)
        });
    let action = f.action.clone();
    let kind = match action.as_deref() {
        Some("delivered" | "relayed" | "expanded" | "deliverable") => BounceKind::Success,
        Some("delayed") => BounceKind::Delay,
        Some("failed") => BounceKind::Bounce,
        // No Action, but a 2.x.x status: the DSN reports success.
        _ if status.as_deref().is_some_and(|s| s.starts_with('2')) => BounceKind::Success,
        _ if f.delayed => BounceKind::Delay,
        _ => BounceKind::Bounce,
    };
    // In a whole transcript only the error reply speaks to the cause (the EHLO lines would not).
    let reason_text = diagnostic.as_deref().zip(remote).map(|(d, r)| {
        if smtpdoctor_knowledge::reply_code_in(d).is_some_and(|c| c < 400) || r.len() != d.len() {
            r
        } else {
            d
        }
    });
    let remote_mta = f
        .remote_mta
        .clone()
        .or_else(|| diagnostic.as_deref().and_then(remote_host_in));
    // The provider that answered speaks first (its codes are its own), then the program that
    // wrote the notice.
    let provider = engine::by_host(f.recipient.as_deref(), remote_mta.as_deref());
    let engines: Vec<&'static engine::Engine> = provider.into_iter().chain(writer).collect();
    let reason = reason_for(&reason::Input {
        engines: &engines,
        diagnostic: reason_text,
        status: status.as_deref(),
        reply_code,
        command: f.command.as_deref().or_else(|| {
            // "550 <a@b>: User unknown": a reply naming the recipient in brackets answers RCPT.
            let named = f
                .recipient
                .as_deref()
                .zip(diagnostic.as_deref())
                .is_some_and(|(r, d)| {
                    d.to_ascii_lowercase()
                        .contains(&format!("<{}>:", r.to_ascii_lowercase()))
                });
            named.then_some("RCPT")
        }),
        kind,
        from_dsn: detector == "rfc3464",
        from_mailer: f.from_mailer,
    });
    let (category, retry, fix) = if kind == BounceKind::Success {
        (None, None, None)
    } else {
        let text = match (&diagnostic, &status) {
            (Some(d), _) => d.clone(),
            (None, Some(s)) => s.clone(),
            (None, None) => String::new(),
        };
        if text.trim().is_empty() {
            // Nothing to explain: say so rather than guess.
            (Some(smtpdoctor_report::Category::Other), None, None)
        } else {
            let meaning = smtpdoctor_knowledge::explain(&text);
            let retry = if kind == BounceKind::Delay {
                smtpdoctor_report::Retry::Temporary
            } else {
                meaning.retry
            };
            (
                Some(meaning.category),
                Some(retry),
                meaning.fix.first().cloned(),
            )
        }
    };
    BounceRecord {
        file: file.to_string(),
        kind,
        recipient: f.recipient.map(|r| r.to_ascii_lowercase()),
        action,
        status,
        reply_code,
        reason: reason.to_string(),
        category,
        retry,
        fix,
        diagnostic,
        command: f.command,
        remote_mta,
        reporting_mta: f.reporting_mta,
        arrival_date: f.arrival_date,
        last_attempt_date: f.last_attempt_date,
        feedback_type: None,
        detector: detector.to_string(),
        original: original.clone(),
    }
}

/// The reply code of a diagnostic, in one call (the record path finds the remote reply once).
#[cfg(test)]
fn reply_code_of(diagnostic: &str) -> Option<u16> {
    reply_code_in_parts(diagnostic, remote_reply(diagnostic))
}

/// The reply code of a diagnostic whose remote reply (see [`remote_reply`]) is already found:
/// the remote server's own where a wrapper quotes it (`554 <a@b>... 550 Host unknown`), and the
/// shapes some providers write (`550: ...`, `ERROR_CODE :550,`).
fn reply_code_in_parts(diagnostic: &str, remote: &str) -> Option<u16> {
    let three_digits = |s: &str| {
        let code = s.get(..3)?;
        (code.bytes().all(|b| b.is_ascii_digit()) && matches!(code.as_bytes()[0], b'2'..=b'5'))
            .then(|| code.parse().ok())
            .flatten()
    };
    if remote.len() != diagnostic.len() {
        // The quoted reply's own code is the one at its start.
        let leading = remote
            .get(..3)
            .filter(|c| c.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|c| c.parse().ok());
        if let Some(inner) = leading.or_else(|| smtpdoctor_knowledge::reply_code_in(remote)) {
            return Some(inner);
        }
    }
    if let Some(code) = smtpdoctor_knowledge::reply_code_in(diagnostic) {
        return Some(code);
    }
    if let Some(code) = three_digits(diagnostic)
        && diagnostic.as_bytes().get(3) == Some(&b':')
    {
        return Some(code);
    }
    let lower = diagnostic.to_ascii_lowercase();
    let at = lower.find("error_code :")?;
    three_digits(&diagnostic[at + "error_code :".len()..])
}

/// Where the first 4xx/5xx reply starts in a transcript (`Out: 250 Ok Out: 451 4.3.0 ...`).
fn error_reply_at(diagnostic: &str) -> Option<usize> {
    let bytes = diagnostic.as_bytes();
    (0..bytes.len().saturating_sub(3)).find(|&i| {
        let boundary = i == 0 || bytes[i - 1] == b' ';
        boundary
            && matches!(bytes[i], b'4' | b'5')
            && bytes[i + 1..i + 3].iter().all(u8::is_ascii_digit)
            && matches!(bytes.get(i + 3), Some(b' ' | b'-'))
    })
}

/// The part of a diagnostic that is the remote server's own reply, when the reporting MTA wraps
/// it: Sendmail's `554 <a@b>... 550 Host unknown`, or `554 4.4.7 Message expired: ... <421 4.4.2
/// Connection timed out>`. Otherwise the whole text.
fn remote_reply(diagnostic: &str) -> &str {
    // Sendmail: "(reason: 550 ...)" quotes the remote server; its own summary follows.
    if let Some(at) = diagnostic.find("(reason: ")
        && diagnostic
            .get(at + 9..at + 12)
            .is_some_and(|c| c.bytes().all(|b| b.is_ascii_digit()))
    {
        return &diagnostic[at + 9..];
    }
    // A transcript starts with the greeting and 250s: the error reply is what failed.
    if smtpdoctor_knowledge::reply_code_in(diagnostic).is_some_and(|c| c < 400)
        && let Some(at) = error_reply_at(diagnostic)
    {
        return &diagnostic[at..];
    }
    let starts_with_code = diagnostic.len() > 3
        && diagnostic.as_bytes()[..3].iter().all(u8::is_ascii_digit)
        && diagnostic.is_char_boundary(3);
    if starts_with_code
        && let Some(rest) = diagnostic[3..].strip_prefix(" <")
        && let Some((_, after)) = rest.split_once(">... ")
        && after.len() > 4
        && after.as_bytes()[..3].iter().all(u8::is_ascii_digit)
        && after.as_bytes()[3] == b' '
    {
        return after;
    }
    // Amazon SES: "5.1.0 - Unknown address error 550-'5.7.1 <a@b>... Access denied'": its own
    // summary first, then the remote server's reply in quotes.
    if let Some(quote) = diagnostic.find("-'").or_else(|| diagnostic.find(" '"))
        && quote >= 3
        && diagnostic.is_char_boundary(quote - 3)
        && diagnostic.as_bytes()[quote - 3..quote]
            .iter()
            .all(u8::is_ascii_digit)
        && smtpdoctor_knowledge::enhanced_in(&diagnostic[quote + 2..])
            .is_some_and(|e| diagnostic[quote + 2..].starts_with(&e))
    {
        return &diagnostic[quote - 3..];
    }
    if let Some(open) = diagnostic.find('<')
        && diagnostic[..open].to_ascii_lowercase().contains("expired")
        && diagnostic
            .get(open + 1..open + 4)
            .is_some_and(|c| c.bytes().all(|b| b.is_ascii_digit()))
    {
        return &diagnostic[open + 1..];
    }
    diagnostic
}

/// The refusing server named in a diagnostic: `host mx.example.org [192.0.2.1]` (Exim),
/// `host mx.example.org[192.0.2.1] said` (Postfix), `remote host 192.0.2.1 said` (qmail).
fn remote_host_in(diagnostic: &str) -> Option<String> {
    let lower = diagnostic.to_ascii_lowercase();
    let at = lower.find("host ")?;
    let rest = &diagnostic[at + 5..];
    let name: String = rest
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':'))
        .collect();
    let name = name.trim_end_matches(['.', ':']);
    let after = rest[name.len()..].trim_start();
    // Only a name followed by its address, or by "said", is the remote server.
    let named = after.starts_with('[') || after.to_ascii_lowercase().starts_with("said");
    (named && name.contains('.') && name.len() <= 253).then(|| name.to_string())
}

/// One record for a whole message (non-bounce, unreadable input).
fn single(file: &str, kind: BounceKind, diagnostic: &str, detector: &str) -> BounceRecord {
    BounceRecord {
        file: file.to_string(),
        kind,
        recipient: None,
        action: None,
        status: None,
        reply_code: None,
        reason: match kind {
            BounceKind::Feedback => "feedback",
            BounceKind::Autoreply => "vacation",
            _ => "undefined",
        }
        .to_string(),
        category: None,
        retry: None,
        fix: None,
        diagnostic: Some(diagnostic.to_string()).filter(|d| !d.is_empty()),
        command: None,
        remote_mta: None,
        reporting_mta: None,
        arrival_date: None,
        last_attempt_date: None,
        feedback_type: None,
        detector: detector.to_string(),
        original: OriginalMessage::default(),
    }
}

/// Records of an Amazon SES notification.
fn from_notification(file: &str, n: ses::Notification) -> Vec<BounceRecord> {
    if n.kind == "Complaint" {
        let recipients: Vec<Option<String>> = if n.recipients.is_empty() {
            vec![None]
        } else {
            n.recipients.into_iter().map(|r| r.recipient).collect()
        };
        return recipients
            .into_iter()
            .map(|recipient| {
                let mut r = single(file, BounceKind::Feedback, "", "amazonses");
                r.recipient = recipient.map(|a| a.to_ascii_lowercase());
                r.feedback_type = n.feedback_type.clone();
                r.original = n.original.clone();
                r
            })
            .collect();
    }
    if n.recipients.is_empty() {
        let mut r = single(
            file,
            BounceKind::NotBounce,
            "an Amazon SES notification without recipients",
            "amazonses",
        );
        r.original = n.original;
        return vec![r];
    }
    n.recipients
        .into_iter()
        .map(|f| classify(file, f, "amazonses", &n.original, None))
        .collect()
}

/// Feedback reports (RFC 5965): one record per reported recipient, or one for the message.
fn feedback(file: &str, report: &str, parts: &Parts, headers: &Headers) -> Vec<BounceRecord> {
    let fields = text::fields(report);
    let get = |name: &str| {
        fields
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
            .collect::<Vec<_>>()
    };
    let original = parts.original.clone().unwrap_or_default();
    let mut recipients: Vec<String> = get("Original-Rcpt-To");
    if recipients.is_empty() {
        recipients = get("Removal-Recipient");
    }
    if recipients.is_empty() {
        recipients.extend(original.to.clone());
    }
    let recipients: Vec<Option<String>> = if recipients.is_empty() {
        vec![None]
    } else {
        recipients
            .into_iter()
            .map(|r| dsn::address_value(&r).map(|a| a.to_ascii_lowercase()))
            .collect()
    };
    let feedback_type = get("Feedback-Type")
        .into_iter()
        .next()
        .map(|t| t.to_ascii_lowercase());
    let reporting = get("Reporting-MTA")
        .into_iter()
        .next()
        .map(|v| {
            v.split_once(';')
                .map_or(v.as_str(), |(_, name)| name)
                .trim()
                .to_string()
        })
        .or_else(|| headers.from.clone());
    recipients
        .into_iter()
        .map(|recipient| {
            let mut r = single(file, BounceKind::Feedback, "", "arf");
            r.recipient = recipient;
            r.feedback_type = feedback_type.clone();
            r.reporting_mta = reporting.clone();
            r.arrival_date = get("Arrival-Date")
                .into_iter()
                .next()
                .or_else(|| get("Received-Date").into_iter().next());
            r.original = original.clone();
            r
        })
        .collect()
}

/// An auto-reply (RFC 3834): one record naming who answered.
fn autoreply(file: &str, headers: &Headers, parts: &Parts) -> BounceRecord {
    let mut r = single(file, BounceKind::Autoreply, "", "rfc3834");
    r.recipient = headers.from.clone();
    r.diagnostic = headers.subject.clone();
    r.original = parts.original.clone().unwrap_or_default();
    r
}

/// CRLF and bare CR (old Mac files) become LF, so every reader sees one line ending.
fn normalize(raw: &[u8]) -> Cow<'_, [u8]> {
    let raw = &raw[..raw.len().min(MAX_MESSAGE_BYTES)];
    if !raw.contains(&b'\r') {
        return Cow::Borrowed(raw);
    }
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        match raw[i] {
            b'\r' => {
                out.push(b'\n');
                if raw.get(i + 1) == Some(&b'\n') {
                    i += 1;
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    Cow::Owned(out)
}

/// The parts of a message that matter to a bounce reader.
#[derive(Default)]
struct Parts {
    /// The message/delivery-status text.
    delivery_status: Option<String>,
    /// The message/feedback-report text.
    feedback: Option<String>,
    /// The human-readable notice (text parts before the returned message), or the whole body.
    notice: String,
    /// The returned message's headers.
    original: Option<OriginalMessage>,
}

impl Parts {
    fn of(message: &Message<'_>) -> Parts {
        let mut out = Parts::default();
        let root_type = message.content_type().map(|c| {
            (
                c.ctype().to_ascii_lowercase(),
                c.subtype().unwrap_or("").to_ascii_lowercase(),
            )
        });
        let is_multipart = matches!(&message.root_part().body, PartType::Multipart(_));
        let mut seen_original = false;
        for (i, part) in message.parts.iter().enumerate() {
            if i == 0 && is_multipart {
                continue;
            }
            let (ctype, subtype) = part
                .content_type()
                .map(|c| {
                    (
                        c.ctype().to_ascii_lowercase(),
                        c.subtype().unwrap_or("").to_ascii_lowercase(),
                    )
                })
                .unwrap_or_else(|| ("text".into(), "plain".into()));
            let text = || String::from_utf8_lossy(part.contents()).into_owned();
            match (ctype.as_str(), subtype.as_str()) {
                ("message", "delivery-status" | "global-delivery-status")
                | ("text", "delivery-status" | "x-delivery-status") => {
                    let t = match &part.body {
                        PartType::Message(m) => {
                            String::from_utf8_lossy(m.raw_message()).into_owned()
                        }
                        _ => text(),
                    };
                    out.delivery_status.get_or_insert(t);
                }
                ("message", "feedback-report") => {
                    out.feedback.get_or_insert_with(text);
                }
                ("message", "rfc822" | "global" | "rfc822-headers" | "global-headers")
                | ("text", "rfc822-headers" | "rfc822" | "global-headers") => {
                    if out.original.is_none() {
                        out.original = match &part.body {
                            PartType::Message(m) => Some(original_of(m)),
                            _ => parser().parse(part.contents()).map(|m| original_of(&m)),
                        };
                    }
                    seen_original = true;
                }
                ("text", "plain") | ("text", "") if !seen_original => {
                    if let PartType::Text(t) = &part.body {
                        if !out.notice.is_empty() {
                            out.notice.push('\n');
                        }
                        out.notice.push_str(t);
                    }
                }
                ("text", "html") if !seen_original && out.notice.is_empty() => {
                    if let PartType::Html(h) = &part.body {
                        out.notice = text::html_to_text(h);
                    }
                }
                _ => {}
            }
        }
        if !is_multipart
            && out.notice.is_empty()
            && let Some(t) = message.body_text(0)
        {
            out.notice = t.into_owned();
        }
        let root_is_multipart = root_type.as_ref().is_some_and(|(t, _)| t == "multipart");
        if root_is_multipart && out.notice.trim().is_empty() && out.delivery_status.is_none() {
            // A multipart whose boundary does not match its body: read the body as text.
            let raw = message.raw_message();
            let start = (message.root_part().raw_body_offset() as usize).min(raw.len());
            out.notice = String::from_utf8_lossy(&raw[start..]).into_owned();
            let lower = out.notice.to_ascii_lowercase();
            if let Some(at) = ["reporting-mta:", "final-recipient:", "original-recipient:"]
                .iter()
                .filter_map(|f| lower.find(f))
                .min()
            {
                out.delivery_status = Some(out.notice[at..].to_string());
                out.notice.truncate(at);
            }
        }
        if root_type
            .as_ref()
            .is_some_and(|(t, s)| t == "multipart" && s == "report")
            && out.delivery_status.is_none()
        {
            // A report whose status part is mislabelled: look for the fields in the notice.
            if out.notice.to_ascii_lowercase().contains("final-recipient:") {
                out.delivery_status = Some(out.notice.clone());
            }
        }
        out
    }
}

/// From, To, Subject and Message-ID of a returned message.
fn original_of(m: &Message<'_>) -> OriginalMessage {
    let addr = |a: Option<&mail_parser::Address<'_>>| {
        a.and_then(|a| {
            let list: Vec<String> = a
                .iter()
                .filter_map(|x| x.address().map(str::to_string))
                .collect();
            (!list.is_empty()).then(|| list.join(", "))
        })
    };
    OriginalMessage {
        message_id: m.message_id().map(str::to_string),
        from: addr(m.from()),
        to: addr(m.to()),
        subject: m.subject().map(str::to_string),
    }
}

/// The bounce's own headers, as far as they tell what the message is.
#[derive(Default)]
struct Headers {
    from: Option<String>,
    to: Option<String>,
    subject: Option<String>,
    message_id: Option<String>,
    /// Exim's X-Failed-Recipients.
    failed_recipients: Vec<String>,
    /// From a mailer daemon or with a bounce-like subject.
    looks_like_bounce: bool,
    /// Auto-Submitted: auto-replied and the like.
    autoreply: bool,
    /// The program that wrote the bounce, when its headers tell.
    engine: Option<&'static engine::Engine>,
}

/// The headers that tell which program wrote a bounce, lower case.
fn signs_of(m: &Message<'_>) -> engine::HeaderSigns {
    let raw = m.raw_message();
    let text = |h: &mail_parser::Header<'_>| {
        raw.get(h.offset_start as usize..h.offset_end as usize)
            .map(|b| String::from_utf8_lossy(b).trim().to_lowercase())
    };
    let first = |name: HeaderName<'_>| {
        m.headers()
            .iter()
            .find(|h| h.name == name)
            .and_then(text)
            .unwrap_or_default()
    };
    engine::HeaderSigns {
        subject: m.subject().unwrap_or_default().trim().to_lowercase(),
        from: first(HeaderName::From),
        x_mailer: first(HeaderName::Other("X-Mailer".into())),
        received: m
            .headers()
            .iter()
            .filter(|h| h.name == HeaderName::Received)
            .filter_map(text)
            .collect(),
    }
}

/// The header signs of a raw message (for tests of engine recognition).
#[cfg(test)]
fn header_signs(raw: &[u8]) -> engine::HeaderSigns {
    parser()
        .parse(raw)
        .map(|m| signs_of(&m))
        .unwrap_or_default()
}

impl Headers {
    fn of(m: &Message<'_>) -> Headers {
        let first = |a: Option<&mail_parser::Address<'_>>| {
            a.and_then(|a| a.first())
                .and_then(|a| a.address())
                .map(|s| s.to_string())
        };
        let from = first(m.from());
        let subject = m.subject().map(str::to_string);
        let raw = |name: &str| m.header_raw(name).map(|v| v.trim().to_ascii_lowercase());
        let failed_recipients = m
            .header_raw("X-Failed-Recipients")
            .map(|v| {
                v.split(',')
                    .filter_map(dsn::address_value)
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default();
        let from_lower = from.clone().unwrap_or_default().to_ascii_lowercase();
        let subject_lower = subject.clone().unwrap_or_default().to_ascii_lowercase();
        let looks_like_bounce = text::is_daemon_address(&from_lower)
            || text::BOUNCE_SUBJECTS
                .iter()
                .any(|s| subject_lower.contains(s))
            || !failed_recipients.is_empty();
        let auto_submitted = raw("Auto-Submitted").unwrap_or_default();
        let autoreply = auto_submitted.starts_with("auto-replied")
            || raw("X-Autoreply").is_some()
            || raw("X-Autorespond").is_some()
            || raw("X-Autoresponder").is_some()
            || raw("Precedence").is_some_and(|p| p == "auto_reply")
            || text::AUTOREPLY_SUBJECTS
                .iter()
                .any(|s| subject_lower.starts_with(s));
        Headers {
            from,
            to: first(m.to()),
            subject,
            message_id: m.message_id().map(str::to_string),
            failed_recipients,
            looks_like_bounce,
            autoreply: autoreply && !text::is_daemon_address(&from_lower),
            engine: engine::by_headers(&signs_of(m)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tiny deterministic generator, so the robustness test needs no extra crate.
    fn noise(seed: &mut u64, len: usize) -> Vec<u8> {
        (0..len)
            .map(|_| {
                *seed ^= *seed << 13;
                *seed ^= *seed >> 7;
                *seed ^= *seed << 17;
                (*seed >> 24) as u8
            })
            .collect()
    }

    #[test]
    fn any_input_gets_an_answer() {
        let dsn = b"From: MAILER-DAEMON@x.org\nSubject: Undelivered Mail\nContent-Type: multipart/report; report-type=delivery-status; boundary=b\n\n--b\nContent-Type: message/delivery-status\n\nFinal-Recipient: rfc822; a@x.org\nAction: failed\nStatus: 5.1.1\nDiagnostic-Code: smtp; 550 5.1.1 user unknown\n--b--\n";
        let mut seed = 0x9e37_79b9_7f4a_7c15;
        for i in 0..400 {
            let mut input = dsn.to_vec();
            let cut = (i * 7) % input.len();
            input.truncate(cut);
            input.extend(noise(&mut seed, i % 300));
            let records = read(&input, "t");
            assert!(!records.is_empty());
        }
        assert!(!read(b"", "t").is_empty());
        assert!(!read(&[0xff; 10_000], "t").is_empty());
    }

    #[test]
    fn a_huge_diagnostic_is_cut() {
        let mut input = b"From: MAILER-DAEMON@x.org\nContent-Type: multipart/report; boundary=b\n\n--b\nContent-Type: message/delivery-status\n\nFinal-Recipient: rfc822; a@x.org\nAction: failed\nDiagnostic-Code: smtp; 550 ".to_vec();
        for _ in 0..200_000 {
            input.extend_from_slice(b"user unknown ");
        }
        input.extend_from_slice(b"\n--b--\n");
        let started = std::time::Instant::now();
        let records = read(&input, "t");
        // No status and no command: Sisimai's convention calls "user unknown" a filter.
        assert_eq!(records[0].reason, "filtered");
        assert_eq!(
            records[0].category,
            Some(smtpdoctor_report::Category::RecipientUnknown)
        );
        assert!(records[0].diagnostic.as_ref().unwrap().len() <= MAX_DIAGNOSTIC_BYTES);
        // Not a timing assertion on the product: a guard against quadratic blow-ups.
        assert!(started.elapsed() < std::time::Duration::from_secs(20));
    }

    #[test]
    fn dsn_with_two_recipients() {
        let input = b"From: MAILER-DAEMON@mx.example.org\nTo: sender@example.com\nSubject: Undelivered Mail Returned to Sender\nContent-Type: multipart/report; report-type=delivery-status; boundary=b\n\n--b\nContent-Type: text/plain\n\nThis is the mail system at host mx.example.org.\n\n--b\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx.example.org\n\nFinal-Recipient: rfc822; one@example.net\nAction: failed\nStatus: 5.1.1\nDiagnostic-Code: smtp; 550 5.1.1 <one@example.net>: Recipient address rejected: User unknown\n\nFinal-Recipient: rfc822; two@example.net\nAction: delayed\nStatus: 4.2.2\nDiagnostic-Code: smtp; 452 4.2.2 Mailbox full\n\n--b\nContent-Type: text/rfc822-headers\n\nFrom: sender@example.com\nTo: one@example.net, two@example.net\nSubject: Hello\nMessage-ID: <m1@example.com>\n\n--b--\n";
        let r = read(input, "t");
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].recipient.as_deref(), Some("one@example.net"));
        assert_eq!(r[0].reason, "userunknown");
        assert_eq!(r[0].reply_code, Some(550));
        assert_eq!(r[0].kind, BounceKind::Bounce);
        assert_eq!(r[1].kind, BounceKind::Delay);
        assert_eq!(r[1].reason, "mailboxfull");
        assert_eq!(r[1].original.subject.as_deref(), Some("Hello"));
        assert_eq!(r[0].reporting_mta.as_deref(), Some("mx.example.org"));
    }

    #[test]
    fn a_bare_user_unknown_is_a_filter_unless_its_writer_knows_the_users() {
        // An anonymous notice: Sisimai's convention reads "User unknown" outside RCPT as a filter.
        let anonymous = b"From: MAILER-DAEMON@mx.example.jp\nSubject: Returned Mail: User unknown\n\n---The following addresses had delivery errors---\n\nkijitora@example.co.jp [User unknown]\n";
        assert_eq!(read(anonymous, "t")[0].reason, "filtered");
        // Lotus Notes looked the address up in its own directory.
        let notes = b"From: POSTMASTER@gw.example.com\nSubject: Undeliverable message\n\n------- Failure Reasons  --------\n\nUser not listed in public Name & Address Book\nkijitora@notes.example.jp\n\n------- Returned Message --------\n";
        let r = read(notes, "t");
        assert_eq!(r[0].recipient.as_deref(), Some("kijitora@notes.example.jp"));
        assert_eq!(r[0].reason, "userunknown");
    }

    #[test]
    fn a_delivery_programs_failure_is_a_mailer_error() {
        let input = b"From: MAILER-DAEMON@example.net\nSubject: Undelivered Mail Returned to Sender\nContent-Type: multipart/report; report-type=delivery-status; boundary=b\n\n--b\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; example.net\n\nFinal-Recipient: rfc822; kijitora@example.net\nAction: failed\nStatus: 4.3.0\nDiagnostic-Code: x-unix; temporary failure\n--b--\n";
        assert_eq!(read(input, "t")[0].reason, "mailererror");
    }

    #[test]
    fn an_automatic_unsubscribe_is_an_opt_out() {
        let input = b"From: someone@example.org\nTo: opt-out-1@example.com\nSubject: unsubscribe\nAuto-Submitted: auto-replied\n\nApple Mail sent this email to unsubscribe from the message \"News\".\n";
        let r = read(input, "t");
        assert_eq!(r[0].kind, BounceKind::Feedback);
        assert_eq!(r[0].reason, "feedback");
        assert_eq!(r[0].feedback_type.as_deref(), Some("opt-out"));
        assert_eq!(r[0].recipient.as_deref(), Some("someone@example.org"));
    }

    #[test]
    fn a_providers_own_code_decides() {
        let cox = b"From: MAILER-DAEMON@mx.example.com\nSubject: Undelivered Mail Returned to Sender\nContent-Type: multipart/report; report-type=delivery-status; boundary=b\n\n--b\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx.example.com\n\nFinal-Recipient: rfc822; someone@cox.net\nAction: failed\nStatus: 5.1.0\nRemote-MTA: dns; cxr.mx.a.cloudfilter.net\nDiagnostic-Code: smtp; 550 5.1.0 <bounce@example.com> sender rejected. AUP#CDRBL\n--b--\n";
        // "sender rejected" is Cox's wording for a temporary IP block (its code CDRBL).
        assert_eq!(read(cox, "t")[0].reason, "blocked");
    }

    #[test]
    fn nested_empty_messages_do_not_end_the_run() {
        let input = b"Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: message/rfc822\n\nContent-Type: message/rfc822\n\n\n--b--\n";
        assert!(!read(input, "t").is_empty());
    }

    #[test]
    fn the_remote_servers_reply_inside_wrappers() {
        assert_eq!(
            reply_code_of("554 <a@b.example>... 550 Host unknown"),
            Some(550)
        );
        assert_eq!(
            reply_code_of(
                "554 4.4.7 Message expired: unable to deliver in 840 minutes.<421 4.4.2 Connection timed out>"
            ),
            Some(421)
        );
        assert_eq!(
            reply_code_of(
                "(reason: 550 Unauthenticated senders not allowed) ... while talking to mx.example.: 554 5.0.0 Service unavailable"
            ),
            Some(550)
        );
        assert_eq!(
            reply_code_of(
                "Out: 220 mx ESMTP Out: 250 2.1.0 Ok Out: 354 go ahead Out: 451 4.3.0 Error: queue file write error"
            ),
            Some(451)
        );
        assert_eq!(
            remote_reply("5.1.0 - Unknown address error 550-'5.2.2 <a@b.example>... Mailbox Full'"),
            "550-'5.2.2 <a@b.example>... Mailbox Full'"
        );
        assert_eq!(
            reply_code_of("ERROR_CODE :550, ERROR_CODE :5.1.1 <a@b.example>... User Unknown"),
            Some(550)
        );
    }

    #[test]
    fn remote_hosts_in_diagnostics() {
        assert_eq!(
            remote_host_in("SMTP error from remote mail server after RCPT TO:<a@b.c>: host mx.b.c [192.0.2.1]: 550 no").as_deref(),
            Some("mx.b.c")
        );
        assert_eq!(
            remote_host_in("host mx.b.c[192.0.2.1] said: 550 5.1.1 unknown").as_deref(),
            Some("mx.b.c")
        );
        assert_eq!(
            remote_host_in("remote host 192.0.2.7 said: 550 no such user").as_deref(),
            Some("192.0.2.7")
        );
        assert_eq!(
            remote_host_in("Host unknown (Name server: x.y: host not found)"),
            None
        );
    }

    #[test]
    fn a_plain_message_is_not_a_bounce() {
        let r = read(b"From: friend@example.org\nTo: me@example.com\nSubject: lunch\n\nbob@example.net: see you at noon\n", "t");
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].kind, BounceKind::NotBounce);
    }
}
