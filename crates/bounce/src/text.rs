//! The human-readable notice of a bounce: which addresses it names as failed and what it says
//! about each, in the shapes MTAs write without a DSN (Exim, qmail, Postfix, Sendmail, Yahoo,
//! Exchange, ...), and the returned message quoted after it.

use crate::{Finding, Headers};
use mail_parser::MessageParser;
use smtpdoctor_report::bounce::OriginalMessage;

/// Subjects that say a message is a bounce or a delay warning (lower case, substrings).
pub const BOUNCE_SUBJECTS: &[&str] = &[
    "undeliver",
    "undelivered",
    "delivery status notification",
    "returned mail",
    "mail delivery failed",
    "failure notice",
    "delivery failure",
    "delivery failed",
    "non-delivery",
    "nondeliverable",
    "non delivery",
    "could not be delivered",
    "not delivered",
    "delivery notification",
    "warning: message",
    "delayed mail",
    "mail system error",
    "delivery problem",
    "returned to sender",
    "message delivery has failed",
    "delivery has failed",
    "mail could not be delivered",
];

/// Subjects that start an auto-reply (lower case, prefixes).
pub const AUTOREPLY_SUBJECTS: &[&str] = &[
    "auto:",
    "automatic reply",
    "autoreply",
    "auto-reply",
    "auto reply",
    "out of office",
    "out of the office",
    "vacation",
    "away from my mail",
    "自動応答",
];

/// Lines after which the returned message is quoted (lower case, substrings).
const ORIGINAL_MARKERS: &[&str] = &[
    "this is a copy of the message",
    "below this line is a copy of the message",
    "original message follows",
    "original message ---",
    "original message --",
    "unsent message below",
    "unsent message follows",
    "returned message follows",
    "------ returned message",
    "returned mail follows",
    "message header follows",
    "header of the original message",
    "headers of the original message",
    "original message headers",
    "the original message headers",
    "content-type: message/rfc822",
    "the text you sent follows",
    "copy of the original message",
    "--- message headers",
    "your message reads",
    "----- original message",
];

/// Phrases that say the notice is a delay warning, not a failure (lower case).
const DELAY_PHRASES: &[&str] = &[
    "this is a warning message only",
    "will continue trying",
    "attempts will continue",
    "will continue to be made",
    "delivery has been delayed",
    "has been delayed",
    "will be retried",
    "still trying",
    "no action is required on your part",
    "will keep trying",
    "continue to attempt",
    "warning: message",
    "delivery is delayed",
];

/// Where a notice says which program wrote it.
const SIGNATURES: &[(&str, &str)] = &[
    ("this is the qmail-send program", "qmail"),
    (
        "this message was created automatically by mail delivery software",
        "exim",
    ),
    ("this is the mail system at host", "postfix"),
    ("transcript of session follows", "sendmail"),
    ("the original message was received at", "sendmail"),
    ("sorry, we were unable to deliver your message", "yahoo"),
    ("delivery to the following recipient", "gmail"),
    ("delivery has failed to these recipients", "exchange"),
    (
        "your message did not reach some or all of the intended recipients",
        "exchange",
    ),
    ("could not be delivered to one or more", "text"),
];

/// What a notice says.
#[derive(Debug, Default, Clone)]
pub struct Notice {
    /// One entry per failed address, in order.
    pub recipients: Vec<Finding>,
    /// Which program wrote it, as far as its wording tells.
    pub detector: &'static str,
    /// The returned message quoted after the notice.
    pub original: Option<OriginalMessage>,
    /// Wording typical of a bounce was found.
    pub looks_like_bounce: bool,
    /// The notice says delivery is only delayed.
    pub delay_warning: bool,
    /// The error text when no address could be tied to it.
    pub fallback: Option<Finding>,
}

/// Whether a lower-case address belongs to a mail system rather than a person.
pub fn is_daemon_address(address: &str) -> bool {
    let local = address.split('@').next().unwrap_or("");
    matches!(
        local,
        "mailer-daemon"
            | "postmaster"
            | "mail-daemon"
            | "mailer_daemon"
            | "mdaemon"
            | "maildaemon"
            | "mailerdaemon"
    ) || local.starts_with("mailer-daemon")
}

/// Whether text holds a reply code or an enhanced status code.
pub fn has_code(text: &str) -> bool {
    smtpdoctor_knowledge::reply_code_in(text).is_some()
        || smtpdoctor_knowledge::enhanced_in(text).is_some()
}

/// The SMTP command a diagnostic says was refused.
pub fn command_in(text: &str) -> Option<String> {
    const PATTERNS: &[(&str, &str)] = &[
        ("after rcpt to", "RCPT"),
        ("in reply to rcpt to", "RCPT"),
        ("rcpt to response", "RCPT"),
        (">>> rcpt", "RCPT"),
        ("[rcpt_to]", "RCPT"),
        ("rcpt to:", "RCPT"),
        ("does not like recipient", "RCPT"),
        ("smtp:rcpt", "RCPT"),
        ("recipient name is not recognized", "RCPT"),
        ("after mail from", "MAIL"),
        ("in reply to mail from", "MAIL"),
        (">>> mail from", "MAIL"),
        ("mail from response", "MAIL"),
        ("after end of data", "DATA"),
        ("in reply to end of data", "DATA"),
        ("after data", "DATA"),
        ("in reply to data", "DATA"),
        (">>> data", "DATA"),
        ("data response", "DATA"),
        ("after end of message", "DATA"),
        ("after helo", "HELO"),
        ("after ehlo", "EHLO"),
        ("in reply to helo", "HELO"),
        ("in reply to ehlo", "EHLO"),
        ("after initial connection", "CONN"),
        ("connected but greeting failed", "CONN"),
        ("after starttls", "STARTTLS"),
        ("in reply to starttls", "STARTTLS"),
    ];
    let lower = text.to_ascii_lowercase();
    PATTERNS
        .iter()
        .filter_map(|(p, c)| lower.find(p).map(|at| (at, *c)))
        .min_by_key(|(at, _)| *at)
        .map(|(_, c)| c.to_string())
}

/// Header-like `Name: value` fields of a report part, folded lines joined.
pub fn fields(text: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for line in text.lines() {
        if (line.starts_with(' ') || line.starts_with('\t')) && !line.trim().is_empty() {
            if let Some(last) = out.last_mut() {
                last.1.push(' ');
                last.1.push_str(line.trim());
            }
            continue;
        }
        if let Some((name, value)) = line.split_once(':')
            && !name.is_empty()
            && !name.contains(' ')
        {
            out.push((name.trim().to_string(), value.trim().to_string()));
        }
    }
    out
}

/// A rough plain-text rendering of an HTML notice: tags dropped, common entities decoded.
pub fn html_to_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => {
                in_tag = false;
                out.push(' ');
            }
            _ if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&nbsp;", " ")
        .replace("&quot;", "\"")
        .replace("&amp;", "&")
}

/// An address at the start of `line` (after a label), and the rest of the line.
fn lead_address(line: &str) -> Option<(String, &str)> {
    // Bullets before an address in a list.
    let mut t = line
        .trim_start()
        .trim_start_matches(['*', '-', '•'])
        .trim_start();
    for label in [
        "recipient address:",
        "original-recipient:",
        "final-recipient:",
        "failed recipient:",
        "recipient:",
        "address:",
        "rcpt to:",
        "to:",
    ] {
        if t.get(..label.len())
            .is_some_and(|h| h.eq_ignore_ascii_case(label))
        {
            if label == "to:" {
                return None;
            }
            t = t[label.len()..].trim_start();
            t = t.strip_prefix("rfc822;").unwrap_or(t).trim_start();
            break;
        }
    }
    let (candidate, rest) = if let Some(inner) = t.strip_prefix('<') {
        let end = inner.find('>')?;
        (&inner[..end], &inner[end + 1..])
    } else {
        let end = t
            .find(|c: char| {
                c.is_whitespace() || matches!(c, ':' | ',' | ';' | '(' | '<' | '>' | '"')
            })
            .unwrap_or(t.len());
        let token = &t[..end];
        let token = token.strip_suffix("...").unwrap_or(token);
        (token, &t[end..])
    };
    let candidate = candidate.trim().trim_matches(['"', '\'']);
    let candidate = candidate.strip_prefix("mailto:").unwrap_or(candidate);
    if !is_address(candidate) {
        return None;
    }
    let rest = rest.trim_start_matches(['.', ':', ' ', '\t', ',']).trim();
    Some((candidate.to_string(), rest))
}

/// Whether a token is a plausible mail address.
fn is_address(s: &str) -> bool {
    let Some((local, domain)) = s.rsplit_once('@') else {
        return false;
    };
    // List addresses in footers (mailto links, -request and -owner) are never the failed ones.
    let lower_local = local.to_ascii_lowercase();
    if s.contains('?')
        || domain.ends_with('.')
        || lower_local.ends_with("-request")
        || lower_local.ends_with("-owner")
        || lower_local.starts_with("owner-")
        || lower_local.ends_with("-bounces")
    {
        return false;
    }
    !local.is_empty()
        && domain.contains('.') | domain.starts_with('[')
        && !domain.starts_with('.')
        && s.len() <= 254
        && s.chars().all(|c| {
            c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~.@[]".contains(c) || !c.is_ascii()
        })
}

/// A short label, a colon and an address ending the line: `Unknown user: a@b`.
fn labelled_address(line: &str) -> Option<(&str, String)> {
    let (label, rest) = line.split_once(':')?;
    let label = label.trim();
    if label.is_empty() || label.len() > 48 || label.contains('@') || label.contains('<') {
        return None;
    }
    // A single word is a header name (Message-ID, Reply-To), not an explanation.
    if !label.contains(' ')
        && !["recipient", "address", "mailbox", "user", "rcpt"]
            .contains(&label.to_ascii_lowercase().as_str())
    {
        return None;
    }
    let (address, after) = lead_address(rest)?;
    after.is_empty().then_some((label, address))
}

/// An SMTP transcript reply naming the address: `550 5.1.1 <a@b>... User unknown`.
fn reply_with_address(line: &str) -> Option<String> {
    let t = line.trim_start().trim_start_matches("<<<").trim_start();
    let code = t.get(..3)?;
    if !code.bytes().all(|b| b.is_ascii_digit()) || !matches!(code.as_bytes()[0], b'4' | b'5') {
        return None;
    }
    let rest = t[3..].trim_start_matches(['-', ' ']);
    let rest =
        match smtpdoctor_knowledge::enhanced_in(rest.get(..rest.len().min(12)).unwrap_or(rest)) {
            Some(e) if rest.starts_with(&e) => rest[e.len()..].trim_start(),
            _ => rest,
        };
    let (address, _) = lead_address(rest)?;
    Some(address)
}

/// Reads a notice.
pub fn read(notice: &str, headers: &Headers, original: Option<&OriginalMessage>) -> Notice {
    let lower_all = notice.to_ascii_lowercase();
    let mut out = Notice {
        detector: SIGNATURES
            .iter()
            .find(|(s, _)| lower_all.contains(s))
            .map_or("text", |(_, d)| d),
        ..Notice::default()
    };
    out.looks_like_bounce = SIGNATURES.iter().any(|(s, _)| lower_all.contains(s))
        || [
            "could not be delivered",
            "delivery to the following",
            "following address",
            "permanent error",
            "user unknown",
            "undeliverable",
            "delivery failed",
            "was not delivered",
            "couldn't be delivered",
            "unable to deliver",
            "failed to deliver",
            "delivery has failed",
            "permanent fatal errors",
        ]
        .iter()
        .any(|p| lower_all.contains(p));

    // Cut the notice where the returned message starts.
    let mut cut = notice.len();
    let mut offset = 0;
    for line in notice.split_inclusive('\n') {
        let l = line.to_ascii_lowercase();
        if ORIGINAL_MARKERS.iter().any(|m| l.contains(m)) {
            cut = offset;
            let quoted = &notice[offset + line.len()..];
            out.original = quoted_original(quoted);
            break;
        }
        offset += line.len();
    }
    let body = &notice[..cut];
    let lower = &lower_all[..cut];
    out.delay_warning = DELAY_PHRASES.iter().any(|p| lower.contains(p));

    // Addresses that are not recipients: the bounce's own, and the returned message's sender.
    let mut not_recipients: Vec<String> = [headers.to.as_deref(), headers.from.as_deref()]
        .into_iter()
        .flatten()
        .map(str::to_ascii_lowercase)
        .collect();
    for o in [original, out.original.as_ref()].into_iter().flatten() {
        if let Some(from) = &o.from {
            not_recipients.push(from.to_ascii_lowercase());
        }
    }
    let skip = |a: &str| {
        let a = a.to_ascii_lowercase();
        is_daemon_address(&a) || not_recipients.contains(&a)
    };

    let mut current: Option<usize> = None;
    let mut last_line = String::new();
    let mut error_lines: Vec<&str> = Vec::new();
    for line in body.lines() {
        let trimmed = line.trim();
        if trimmed.is_empty() {
            current = None;
            continue;
        }
        let lower_line = trimmed.to_ascii_lowercase();
        let previous = std::mem::replace(&mut last_line, lower_line.clone());
        if lower_line.starts_with("from:")
            || lower_line.starts_with("return-path:")
            || lower_line.starts_with("received:")
        {
            continue;
        }
        // ">>> RCPT To:<a@b>" starts a transcript exchange about that address.
        if let Some(cmd) = trimmed.strip_prefix(">>>") {
            let cmd = cmd.trim();
            let verb = cmd
                .split([' ', ':'])
                .next()
                .unwrap_or("")
                .to_ascii_uppercase();
            current = None;
            if verb == "RCPT" {
                if let Some(open) = cmd.find('<')
                    && let Some((address, _)) = lead_address(&cmd[open..])
                    && !skip(&address)
                {
                    let i = entry(&mut out.recipients, &address);
                    out.recipients[i]
                        .command
                        .get_or_insert_with(|| "RCPT".into());
                    current = Some(i);
                }
            } else if !verb.is_empty() {
                // A refused MAIL or DATA applies to every recipient named so far.
                pending_command(&mut out.recipients, &verb);
            }
            continue;
        }
        if let Some(address) = reply_with_address(trimmed)
            && !skip(&address)
        {
            let i = entry(&mut out.recipients, &address);
            append(
                &mut out.recipients[i],
                trimmed.trim_start_matches("<<<").trim(),
            );
            current = Some(i);
            continue;
        }
        if let Some((address, rest)) = lead_address(line)
            && !skip(&address)
            && !previous.ends_with("sent by")
        {
            let i = entry(&mut out.recipients, &address);
            if !rest.is_empty() {
                append(&mut out.recipients[i], rest);
            }
            current = Some(i);
            continue;
        }
        if let Some((label, address)) = labelled_address(trimmed)
            && !skip(&address)
        {
            // "Unknown user: a@b", "Could not be delivered to: <a@b>".
            let i = entry(&mut out.recipients, &address);
            append(&mut out.recipients[i], label);
            current = Some(i);
            continue;
        }
        if current.is_none()
            && let Some(last) = out.recipients.last()
            && last
                .diagnostic
                .as_deref()
                .is_none_or(|d| d.ends_with(':') || (d.starts_with('(') && d.ends_with(')')))
            && !trimmed.starts_with("-----")
        {
            // The explanation follows the address after a blank line.
            current = Some(out.recipients.len() - 1);
        }
        if let Some(i) = current {
            if !trimmed.starts_with("-----") {
                let text = trimmed.trim_start_matches("<<<").trim();
                append(&mut out.recipients[i], text);
            }
        } else if error_lines.len() < 50
            && (has_code(trimmed) || lower_line.contains("error") || lower_line.contains("fail"))
        {
            error_lines.push(trimmed);
        }
    }
    // Error text that sits apart from the addresses (e.g. a transcript below the list) belongs
    // to the addresses that have none of their own.
    let shared = error_lines
        .iter()
        .filter(|l| has_code(l))
        .copied()
        .collect::<Vec<_>>()
        .join(" ");
    for f in &mut out.recipients {
        if f.diagnostic.as_deref().is_none_or(|d| !has_code(d)) && !shared.is_empty() {
            append(f, &shared);
        }
        if f.command.is_none() {
            f.command = f.diagnostic.as_deref().and_then(command_in);
        }
    }
    if error_lines.is_empty() {
        // No line looks like an error: the notice's own words are the best evidence there is.
        let words: String = body
            .lines()
            .map(str::trim)
            .filter(|l| {
                !l.is_empty()
                    && !l.starts_with("--")
                    && !l.to_ascii_lowercase().starts_with("content-")
            })
            .take(12)
            .collect::<Vec<_>>()
            .join(" ");
        if !words.is_empty() {
            out.fallback = Some(Finding {
                command: command_in(&words),
                diagnostic: Some(words.chars().take(1000).collect()),
                ..Finding::default()
            });
        }
    } else {
        let text = error_lines.join(" ");
        out.fallback = Some(Finding {
            command: command_in(&text),
            diagnostic: Some(text),
            ..Finding::default()
        });
    }
    out
}

fn entry(list: &mut Vec<Finding>, address: &str) -> usize {
    if let Some(i) = list.iter().position(|f| {
        f.recipient
            .as_deref()
            .is_some_and(|r| r.eq_ignore_ascii_case(address))
    }) {
        return i;
    }
    list.push(Finding {
        recipient: Some(address.to_string()),
        ..Finding::default()
    });
    list.len() - 1
}

fn append(f: &mut Finding, text: &str) {
    const MAX: usize = 2000;
    let d = f.diagnostic.get_or_insert_with(String::new);
    if d.len() >= MAX || d.contains(text) {
        return;
    }
    if !d.is_empty() {
        d.push(' ');
    }
    d.push_str(text);
}

fn pending_command(list: &mut [Finding], verb: &str) {
    let command = match verb {
        "MAIL" => "MAIL",
        "DATA" => "DATA",
        "HELO" => "HELO",
        "EHLO" => "EHLO",
        _ => return,
    };
    for f in list.iter_mut() {
        if f.command.is_none() {
            f.command = Some(command.to_string());
        }
    }
}

/// The headers of a message quoted after the notice.
fn quoted_original(quoted: &str) -> Option<OriginalMessage> {
    let start = quoted.trim_start_matches(['\n', ' ']);
    let first = start.lines().next()?;
    let (name, _) = first.split_once(':')?;
    if name.is_empty() || name.contains(' ') {
        return None;
    }
    let head_end = start.find("\n\n").map_or(start.len(), |i| i + 2);
    let m = MessageParser::default().parse_headers(&start.as_bytes()[..head_end])?;
    Some(crate::original_of(&m))
}
