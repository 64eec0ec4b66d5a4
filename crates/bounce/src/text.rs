//! The human-readable notice of a bounce: which addresses it names as failed and what it says
//! about each, in the shapes MTAs write without a DSN (Exim, qmail, Postfix, Sendmail, Yahoo,
//! Exchange, ...), and the returned message quoted after it.

use crate::{Finding, Headers};
use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use smtpdoctor_report::bounce::OriginalMessage;
use std::collections::HashMap;

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
    "start of returned message",
    "original message as received",
    "lines of your original message",
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
    "will continue to try",
    "has been postponed",
];

/// Wording typical of a bounce (lower case, substrings).
const BOUNCE_WORDS: &[&str] = &[
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
    "error sending your mail",
    // A mailing list manager refusing the post (FML, Mailman, Google Groups).
    "not a member of this mailing list",
    "you are not a member",
    "duplicated message-id",
];

/// The phrase lists above, each compiled once into one automaton: a notice is scanned once per
/// list rather than once per phrase.
struct Scanners {
    signatures: AhoCorasick,
    bounce_words: AhoCorasick,
    original_markers: AhoCorasick,
    delay_phrases: AhoCorasick,
    /// Leftmost match first, ties to the earlier pattern; ASCII case ignored.
    commands: AhoCorasick,
}

fn scanners() -> &'static Scanners {
    static S: std::sync::OnceLock<Scanners> = std::sync::OnceLock::new();
    S.get_or_init(|| {
        let any = |patterns: &[&str]| AhoCorasick::new(patterns).expect("phrases compile");
        Scanners {
            signatures: any(&SIGNATURES.iter().map(|(s, _)| *s).collect::<Vec<_>>()),
            bounce_words: any(BOUNCE_WORDS),
            original_markers: any(ORIGINAL_MARKERS),
            delay_phrases: any(DELAY_PHRASES),
            commands: AhoCorasickBuilder::new()
                .match_kind(MatchKind::LeftmostFirst)
                .ascii_case_insensitive(true)
                .build(COMMAND_PATTERNS.iter().map(|(p, _)| *p))
                .expect("command phrases compile"),
        }
    })
}

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

/// Whether text holds a failure reply code or a failure enhanced status code.
pub fn has_code(text: &str) -> bool {
    // Only failure codes are evidence: "Size (in bytes): 222" is not a reply.
    smtpdoctor_knowledge::reply_code_in(text).is_some_and(|c| c >= 400)
        || smtpdoctor_knowledge::enhanced_in(text).is_some_and(|e| !e.starts_with('2'))
}

/// The SMTP command a diagnostic says was refused.
pub fn command_in(text: &str) -> Option<String> {
    // The earliest phrase in the text names the command; at one place, the one listed first.
    scanners()
        .commands
        .find(text)
        .map(|m| COMMAND_PATTERNS[m.pattern().as_usize()].1.to_string())
}

/// Phrases that name the refused SMTP command (lower case).
const COMMAND_PATTERNS: &[(&str, &str)] = &[
    ("after rcpt to", "RCPT"),
    ("after rcpt command", "RCPT"),
    ("in reply to rcpt to", "RCPT"),
    ("rcpt to response", "RCPT"),
    (">>> rcpt", "RCPT"),
    ("[rcpt_to]", "RCPT"),
    ("rcpt to:", "RCPT"),
    ("does not like recipient", "RCPT"),
    ("smtp transmission failure", "DATA"),
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

/// A rough plain-text rendering of an HTML notice, lines as a browser shows them: source line
/// breaks are spaces, `<br>` and block tags end a line, the head, styles and scripts are left
/// out, common entities decoded.
pub fn html_to_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut in_tag = false;
    let mut name = String::new();
    let mut name_done = false;
    // Inside <head>, <title>, <style> or <script>: the element whose end is awaited.
    let mut hidden: Option<&'static str> = None;
    let mut in_pre = false;
    for c in html.chars() {
        if in_tag {
            if c == '>' {
                in_tag = false;
                let closing = name.starts_with('/');
                let bare = name.trim_start_matches('/').trim_end_matches('/');
                match hidden {
                    Some(h) if closing && bare == h => hidden = None,
                    Some(_) => {}
                    None => {
                        if bare == "pre" {
                            in_pre = !closing;
                        }
                        if !closing
                            && let Some(h) = ["head", "title", "style", "script"]
                                .into_iter()
                                .find(|h| *h == bare)
                        {
                            hidden = Some(h);
                        }
                        let block = matches!(
                            bare,
                            "br" | "p"
                                | "div"
                                | "tr"
                                | "li"
                                | "ul"
                                | "ol"
                                | "table"
                                | "h1"
                                | "h2"
                                | "h3"
                                | "h4"
                                | "h5"
                                | "h6"
                                | "pre"
                                | "blockquote"
                                | "hr"
                        );
                        out.push(if block { '\n' } else { ' ' });
                    }
                }
            } else if !name_done {
                if c.is_whitespace() || name.len() >= 16 {
                    name_done = true;
                } else {
                    name.push(c.to_ascii_lowercase());
                }
            }
            continue;
        }
        if c == '<' {
            in_tag = true;
            name.clear();
            name_done = false;
        } else if hidden.is_some() {
        } else if c.is_whitespace() && !in_pre {
            // Line breaks in the source are spaces on the screen.
            if !out.ends_with([' ', '\n']) {
                out.push(' ');
            }
        } else {
            out.push(c);
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
    } else if let Some(inner) = t.strip_prefix('"') {
        // `"a@b":`, `"a@b"` alone, or a display name before the address: `"A B" <a@b>`.
        let end = inner.find('"')?;
        let after = inner[end + 1..].trim_start();
        match after
            .strip_prefix('<')
            .and_then(|a| a.find('>').map(|e| (a, e)))
        {
            Some((a, e)) => (&a[..e], &a[e + 1..]),
            None => (&inner[..end], after),
        }
    } else {
        let end = t
            .find(|c: char| {
                c.is_whitespace() || matches!(c, ':' | ',' | ';' | '(' | ')' | '<' | '>' | '"')
            })
            .unwrap_or(t.len());
        // A top-level domain never mixes scripts: "a@example.jp您好" is an address followed by
        // words with no space between (CJK text), so the address ends where the script changes.
        let end = t[..end]
            .rfind('.')
            .and_then(|dot| {
                let label = &t[dot + 1..end];
                let ascii = label.find(|c: char| !c.is_ascii())?;
                (ascii > 0 && label[..ascii].bytes().all(|b| b.is_ascii_alphabetic()))
                    .then_some(dot + 1 + ascii)
            })
            .unwrap_or(end);
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
        || lower_local.ends_with("-ctl")
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
    if label.is_empty()
        || label.len() > 48
        || label.contains('@')
        || label.contains('<')
        || label.contains('>')
    {
        return None;
    }
    // `MAIL FROM: a@b`, `Envelope sender: a@b`: the sender, never a failed recipient.
    let lower_label = label.to_ascii_lowercase();
    if lower_label.contains("from") || lower_label.contains("sender") {
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
    let scan = scanners();
    // The signature listed first wins, wherever it stands in the notice.
    let signature = scan
        .signatures
        .find_overlapping_iter(&lower_all)
        .map(|m| m.pattern().as_usize())
        .min();
    let mut out = Notice {
        detector: signature.map_or("text", |i| SIGNATURES[i].1),
        ..Notice::default()
    };
    out.looks_like_bounce = signature.is_some() || scan.bounce_words.is_match(&lower_all);

    // Cut the notice where the returned message starts: at the first line with a marker (no
    // marker spans lines, and lower case keeps every byte offset).
    let mut cut = notice.len();
    if let Some(m) = scan.original_markers.find(&lower_all) {
        let start = notice[..m.start()].rfind('\n').map_or(0, |i| i + 1);
        let end = notice[m.end()..]
            .find('\n')
            .map_or(notice.len(), |i| m.end() + i + 1);
        cut = start;
        out.original = quoted_original(&notice[end..]);
    }
    let body = &notice[..cut];
    let lower = &lower_all[..cut];
    out.delay_warning = scan.delay_phrases.is_match(lower);

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

    let mut book = Book::default();
    let mut current: Option<usize> = None;
    let mut last_line = String::new();
    // The previous line of the same paragraph (empty after a blank line), lower case.
    let mut para_prev = String::new();
    // The same line as written, and the explanation seen just before each address.
    let mut para_prev_line = String::new();
    let mut explained: HashMap<usize, String> = HashMap::new();
    let mut error_lines: Vec<&str> = Vec::new();
    // `<a@b> (expanded from` wrapped before the alias: the address waiting for it.
    let mut pending_expansion: Option<String> = None;
    // Final-Recipient and Original-Recipient fields of a DSN block quoted in the text.
    let mut block_final: Option<String> = None;
    let mut block_original: Option<String> = None;
    // A heading such as "Not delivered to the following recipients:" was the last text.
    let mut heading_open = false;
    let mut phrased: Vec<Finding> = Vec::new();
    let mut bare: Vec<(String, String)> = Vec::new();
    let (mut saw_rcpt_line, mut saw_reply_line) = (false, false);
    for raw_line in body.lines() {
        let line = unquote(raw_line);
        let trimmed = line.trim();
        if trimmed.is_empty() {
            current = None;
            para_prev.clear();
            para_prev_line.clear();
            pending_expansion = None;
            block_final = None;
            block_original = None;
            continue;
        }
        let lower_line = trimmed.to_ascii_lowercase();
        let previous = std::mem::replace(&mut last_line, lower_line.clone());
        let paragraph_previous = std::mem::replace(&mut para_prev, lower_line.clone());
        let explained_before = std::mem::replace(&mut para_prev_line, trimmed.to_string());
        let heading_before = std::mem::replace(&mut heading_open, false);
        if lower_line.starts_with("from:")
            || lower_line.starts_with("return-path:")
            || lower_line.starts_with("received:")
            || lower_line.starts_with("subject:")
        {
            // The returned message's own header lines, echoed: the sender's words, not errors.
            continue;
        }
        let is_reply = reply_code_at_start(trimmed);
        saw_reply_line |= is_reply;
        if phrased.len() < MAX_PHRASED {
            for address in phrase_addresses(&paragraph_previous, trimmed, is_reply) {
                if phrased.len() < MAX_PHRASED
                    && !skip(&address)
                    && !phrased.iter().any(|f| {
                        f.recipient
                            .as_deref()
                            .is_some_and(|r| r.eq_ignore_ascii_case(&address))
                    })
                {
                    phrased.push(Finding {
                        recipient: Some(address),
                        diagnostic: Some(trimmed.chars().take(1000).collect()),
                        ..Finding::default()
                    });
                }
            }
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
                    let i = book.entry(&address);
                    book.list[i].command.get_or_insert_with(|| "RCPT".into());
                    current = Some(i);
                }
            } else if !verb.is_empty() {
                // A refused MAIL or DATA applies to every recipient named so far.
                // Each entry is visited once, however many commands the transcript has.
                let from = book.commands_given.min(book.list.len());
                if pending_command(&mut book.list[from..], &verb) {
                    book.commands_given = book.list.len();
                }
            }
            continue;
        }
        // Sendmail puts the alias the sender wrote under the address it led to:
        // "a@host\n    (expanded from: a@b)".
        if let Some(after) = strip_prefix_ci(trimmed, "(expanded from") {
            if let Some((alias, _)) = lead_address(after.trim_start_matches([':', ' ']))
                && let Some(reached) = current
                    .or_else(|| book.last_live())
                    .and_then(|i| book.list[i].recipient.clone())
            {
                current = Some(book.link(&reached, &alias));
            }
            continue;
        }
        if let Some(address) = reply_with_address(trimmed)
            && !skip(&address)
        {
            let i = book.entry(&address);
            append(&mut book.list[i], trimmed.trim_start_matches("<<<").trim());
            current = Some(i);
            continue;
        }
        // Exim's local deliveries: "pipe to |command" or "save to /file", then "generated by a@b"
        // naming the address that led there; the reasons follow, indented.
        if let Some(target) = strip_prefix_ci(trimmed, "pipe to ")
            .or_else(|| strip_prefix_ci(trimmed, "save to "))
            .map(str::trim)
            .filter(|t| t.starts_with('|') || t.starts_with('/'))
        {
            let i = book.entry(target);
            if target.starts_with('|') {
                append(&mut book.list[i], trimmed);
            }
            current = Some(i);
            continue;
        }
        if let Some(i) = current
            && let Some(by) = strip_prefix_ci(trimmed, "generated by ")
            && let Some(target) = book.list[i].recipient.clone()
            && (target.starts_with('|') || target.starts_with('/'))
            && let Some((address, _)) = lead_address(by)
        {
            current = Some(book.link(&target, &address));
            continue;
        }
        if let Some((address, rest)) = x400_address(trimmed)
            && !skip(&address)
        {
            // Exchange names the failed recipient by its X.400 form: "c=US;...;SMTP=a@b; on ...".
            let i = book.entry(&address);
            if !rest.is_empty() {
                append(&mut book.list[i], rest);
            }
            current = Some(i);
            continue;
        }
        if let Some((address, rest)) = lead_address(line)
            // A postmaster can be the failed recipient too, when the line says why.
            && (!skip(&address) || (!rest.is_empty() && is_daemon_address(&address.to_ascii_lowercase()) && !not_recipients.contains(&address.to_ascii_lowercase())))
            && !previous.ends_with("sent by")
            && (current.is_some() || !runs_on(&paragraph_previous, rest))
        {
            saw_rcpt_line |= lower_line.starts_with("rcpt to:");
            let mut rest = rest;
            let i = if let Some(reached) = pending_expansion.take() {
                // "(expanded from" ended the line before: this is the alias the sender wrote.
                rest = rest.trim_start_matches([')', ':', ' ']);
                book.link(&reached, &address)
            } else if let Some(after) = strip_prefix_ci(rest, "(expanded from") {
                let after = after.trim_start_matches([':', ' ']);
                match lead_address(after) {
                    Some((alias, tail)) => {
                        rest = tail.trim_start_matches([')', ':', ' ']);
                        book.link(&address, &alias)
                    }
                    None => {
                        pending_expansion = Some(address.clone());
                        rest = "";
                        book.entry(&address)
                    }
                }
            } else if let Some(field) = dsn_field(&lower_line) {
                // A DSN quoted as text: its Original-Recipient is the address to report.
                if field == "final" {
                    block_final = Some(address.clone());
                } else {
                    block_original = Some(address.clone());
                }
                match (&block_final, &block_original) {
                    (Some(f), Some(o)) => {
                        let (f, o) = (f.clone(), o.clone());
                        book.link(&f, &o)
                    }
                    _ => book.entry(&address),
                }
            } else {
                book.entry(&address)
            };
            if !rest.is_empty() {
                append(&mut book.list[i], rest);
            } else if !explained_before.is_empty()
                && !explained_before.ends_with(':')
                && !explained_before.starts_with('-')
                && explained.len() < 1000
            {
                // Some notices (Lotus Notes, Japanese carriers) give the reason on the line before
                // the address: "User not listed in public Name & Address Book" then "a@b".
                explained.entry(i).or_insert(explained_before);
            }
            current = Some(i);
            continue;
        }
        if let Some((label, address)) = labelled_address(trimmed)
            && !skip(&address)
        {
            // "Unknown user: a@b", "Could not be delivered to: <a@b>".
            let i = book.entry(&address);
            append(&mut book.list[i], label);
            current = Some(i);
            continue;
        }
        if heading_before
            && current.is_none()
            && bare.len() < MAX_BARE
            && let Some((local, rest)) = bare_local(trimmed)
        {
            // A bare name in the list under the heading: qualified below, if nothing better.
            bare.push((local.to_string(), rest.to_string()));
            heading_open = true;
            continue;
        }
        if trimmed.ends_with(':')
            && ["recipient", "following", "addressee"]
                .iter()
                .any(|w| lower_line.contains(w))
        {
            heading_open = true;
        }
        if current.is_none()
            && let Some(last) = book.last_live().map(|i| &book.list[i])
            && last
                .diagnostic
                .as_deref()
                .is_none_or(|d| d.ends_with(':') || (d.starts_with('(') && d.ends_with(')')))
            && !trimmed.starts_with("-----")
        {
            // The explanation follows the address after a blank line.
            current = book.last_live();
        }
        if let Some(i) = current {
            if !trimmed.starts_with("-----") {
                let text = trimmed.trim_start_matches("<<<").trim();
                append(&mut book.list[i], text);
            }
        } else if error_lines.len() < 50
            && (has_code(trimmed) || lower_line.contains("error") || lower_line.contains("fail"))
        {
            error_lines.push(trimmed);
        }
    }
    for (i, words) in explained {
        if let Some(f) = book.list.get_mut(i)
            && f.diagnostic.is_none()
        {
            f.diagnostic = Some(words);
        }
    }
    out.recipients = book.into_findings();
    if out.recipients.is_empty() {
        // No list, transcript or field names an address: the notice's sentences may
        // ("could not deliver your message to a@b", "mailbox a@b is unavailable").
        out.recipients = phrased;
    }
    if out.recipients.is_empty() {
        // Only bare names under the heading: the returned message or the reporting system
        // tells their domain.
        let quoted = &lower_all[cut..];
        let from_domain = headers
            .from
            .as_deref()
            .and_then(|f| f.rsplit_once('@'))
            .map(|(_, d)| d.to_ascii_lowercase());
        for (local, rest) in &bare {
            if let Some(address) = qualify(local, quoted, from_domain.as_deref())
                && !skip(&address)
            {
                let i = entry(&mut out.recipients, &address);
                if !rest.is_empty() {
                    append(&mut out.recipients[i], rest);
                }
            }
        }
    }
    if !out.looks_like_bounce && saw_rcpt_line && saw_reply_line {
        // "RCPT TO: a@b" beside an SMTP error reply: a report of a refused recipient.
        out.looks_like_bounce = true;
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
            let words: String = words.chars().take(1000).collect();
            // Addresses listed under a heading, with the reason in the notice's opening words.
            for f in &mut out.recipients {
                if f.diagnostic.is_none() {
                    f.diagnostic = Some(words.clone());
                    f.command = command_in(&words);
                }
            }
            out.fallback = Some(Finding {
                command: command_in(&words),
                diagnostic: Some(words),
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

/// Most addresses taken from running text, and most bare names, per notice.
const MAX_PHRASED: usize = 100;
const MAX_BARE: usize = 5;
/// Most aliases remembered per notice.
const MAX_ALIASES: usize = 10_000;

/// The failed addresses a notice names, indexed so each look-up takes constant time, with the
/// aliases that fold the address a message reached into the one its sender wrote
/// (`a@host (expanded from a@b)`, Final- and Original-Recipient).
#[derive(Default)]
struct Book {
    list: Vec<Finding>,
    /// Lower-case address → position in `list`.
    index: HashMap<String, usize>,
    /// Lower-case reached address → lower-case written address.
    alias: HashMap<String, String>,
    /// Entries before this one were given a refused MAIL/DATA command already.
    commands_given: usize,
}

impl Book {
    /// The entry for an address (or for the address it is an alias of), added if new.
    fn entry(&mut self, address: &str) -> usize {
        let key = address.to_ascii_lowercase();
        let (key, shown) = match self.alias.get(&key) {
            Some(written) => (written.clone(), written.clone()),
            None => (key, address.to_string()),
        };
        if let Some(&i) = self.index.get(&key) {
            return i;
        }
        self.list.push(Finding {
            recipient: Some(shown),
            ..Finding::default()
        });
        self.index.insert(key, self.list.len() - 1);
        self.list.len() - 1
    }

    /// Says that `reached` is where `written` led: one recipient, reported as `written`.
    fn link(&mut self, reached: &str, written: &str) -> usize {
        let from = reached.to_ascii_lowercase();
        let to = written.to_ascii_lowercase();
        if from == to || self.alias.contains_key(&to) {
            return self.entry(reached);
        }
        if self.alias.len() < MAX_ALIASES {
            self.alias.insert(from.clone(), to.clone());
        }
        match (self.index.get(&from).copied(), self.index.get(&to).copied()) {
            (Some(i), None) => {
                self.index.remove(&from);
                self.index.insert(to, i);
                self.list[i].recipient = Some(written.to_string());
                i
            }
            (Some(i), Some(j)) => {
                // Both were listed: the reached one's words join the written one's.
                self.index.remove(&from);
                let moved = std::mem::take(&mut self.list[i]);
                if let Some(d) = moved.diagnostic {
                    append(&mut self.list[j], &d);
                }
                if self.list[j].command.is_none() {
                    self.list[j].command = moved.command;
                }
                // Emptied entries at the end go, so the last one standing is found at once.
                while self.list.last().is_some_and(|f| f.recipient.is_none()) {
                    self.list.pop();
                }
                j
            }
            (None, Some(j)) => j,
            (None, None) => self.entry(written),
        }
    }

    /// The last entry still standing (merged ones are emptied).
    fn last_live(&self) -> Option<usize> {
        self.list.iter().rposition(|f| f.recipient.is_some())
    }

    fn into_findings(self) -> Vec<Finding> {
        self.list
            .into_iter()
            .filter(|f| f.recipient.is_some())
            .collect()
    }
}

/// A line of a forwarded bounce without its quote mark: "> text" → "text".
fn unquote(line: &str) -> &str {
    if line == ">" {
        ""
    } else if let Some(rest) = line.strip_prefix("> ") {
        rest
    } else if line.starts_with(">>>>") {
        // A quoted transcript command (">>> DATA").
        &line[1..]
    } else {
        line
    }
}

/// `text` without `prefix`, compared without regard to ASCII case.
fn strip_prefix_ci<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    text.get(..prefix.len())
        .filter(|h| h.eq_ignore_ascii_case(prefix))
        .map(|_| &text[prefix.len()..])
}

/// Whether a line starts with an SMTP error reply code: `550 ...`, `452-...`.
fn reply_code_at_start(line: &str) -> bool {
    let b = line.as_bytes();
    b.len() >= 4
        && matches!(b[0], b'4' | b'5')
        && b[1].is_ascii_digit()
        && b[2].is_ascii_digit()
        && matches!(b[3], b' ' | b'-')
}

/// Which DSN recipient field a line is, when it is one.
fn dsn_field(lower_line: &str) -> Option<&'static str> {
    let t = lower_line.trim_start_matches(['*', '-', '•', ' ']);
    if t.starts_with("final-recipient:") {
        Some("final")
    } else if t.starts_with("original-recipient:") {
        Some("original")
    } else {
        None
    }
}

/// An Exchange X.400 form naming the SMTP address: `c=US;a= ;p=Org;dda:SMTP=a@b; on ...`.
fn x400_address(line: &str) -> Option<(String, &str)> {
    // It starts with an attribute: one or two letters and '=' (`c=`, `/o=`, `dda:`...).
    let t = line.trim_start_matches('/');
    let attribute = t.split(['=', ':']).next().unwrap_or("");
    if attribute.is_empty()
        || attribute.len() > 3
        || !attribute.bytes().all(|b| b.is_ascii_alphabetic())
        || t.len() == attribute.len()
    {
        return None;
    }
    let lower = line.to_ascii_lowercase();
    let at = lower.find("smtp=")?;
    if at > 0 && !matches!(lower.as_bytes()[at - 1], b':' | b';' | b'/') {
        return None;
    }
    let value = &line[at + 5..];
    let end = value
        .find(|c: char| c == ';' || c == '/' || c.is_whitespace())
        .unwrap_or(value.len());
    let candidate = &value[..end];
    is_address(candidate).then(|| {
        let rest = value[end..].trim_start_matches([';', ' ']).trim();
        (candidate.to_string(), rest)
    })
}

/// Whether an address at the start of a line only continues a sentence ("..., e.g., if\n
/// a@b fails, try ..."), rather than heading an entry of a list. (Inside a list, where the
/// line before explains the previous entry, a new address is a new entry whatever follows.)
fn runs_on(paragraph_previous: &str, rest: &str) -> bool {
    paragraph_previous.len() >= 30
        && paragraph_previous
            .bytes()
            .last()
            .is_some_and(|b| b.is_ascii_lowercase() || b == b',')
        && rest.bytes().next().is_some_and(|b| b.is_ascii_lowercase())
}

/// Words that, right before an address in a sentence, say it is the one that failed.
const PHRASE_TRIGGERS: &[&str] = &[
    "deliver to",
    "delivered to",
    "delivery to",
    "delivering to",
    "undeliverable to",
    "addressed to",
    "was addressed",
    "your message to",
    "your mail to",
    "your email to",
    "your e-mail to",
    "the message to",
    "this message to",
    "mailbox",
    "recipient",
    "user",
    "address",
    "addressee",
];

/// Addresses a sentence names as failed: "unable to deliver your message to a@b", "Local
/// mailbox a@b is unavailable", "The address to which your message was addressed, a@b, did
/// not ...". In an SMTP reply, "for a@b" counts too ("552 Quota violation for a@b").
fn phrase_addresses(paragraph_previous: &str, line: &str, is_reply: bool) -> Vec<String> {
    let mut out = Vec::new();
    let is_delimiter = |c: char| c.is_whitespace() || "<>()\"',;:".contains(c);
    let mut start: Option<usize> = None;
    for (at, c) in line
        .char_indices()
        .chain(std::iter::once((line.len(), ' ')))
    {
        if !is_delimiter(c) {
            start.get_or_insert(at);
            continue;
        }
        let Some(s) = start.take() else { continue };
        let token = line[s..at].trim_end_matches('.');
        if !token.contains('@') || !is_address(token) {
            continue;
        }
        let before = line[..s].trim_end_matches(|c: char| is_delimiter(c));
        let before = if before.is_empty() {
            paragraph_previous
        } else {
            before
        };
        if phrase_before(before, is_reply) {
            out.push(token.to_string());
        }
        if out.len() >= 10 {
            break;
        }
    }
    out
}

/// Whether the text before an address ends with one of the trigger phrases.
fn phrase_before(before: &str, is_reply: bool) -> bool {
    let mut from = before.len().saturating_sub(48);
    while !before.is_char_boundary(from) {
        from += 1;
    }
    let tail = before[from..]
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_ascii_lowercase();
    let ends_with_word = |w: &str| {
        tail.strip_suffix(w).is_some_and(|head| {
            head.bytes()
                .last()
                .is_none_or(|b| !b.is_ascii_alphanumeric() && b != b'-')
        })
    };
    PHRASE_TRIGGERS.iter().any(|w| ends_with_word(w)) || (is_reply && ends_with_word("for"))
}

/// A bare local part heading a line of a list, alone or set off from its explanation by a tab
/// or two spaces: `someone    No such name`.
fn bare_local(line: &str) -> Option<(&str, &str)> {
    let end = line.find(char::is_whitespace).unwrap_or(line.len());
    let (token, rest) = line.split_at(end);
    let plausible = !token.is_empty()
        && token.len() <= 64
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._+-=".contains(&b))
        && token.bytes().any(|b| b.is_ascii_alphabetic())
        && !token.starts_with(['.', '-', '='])
        && !token.ends_with(['.', '-', '=']);
    (plausible && (rest.is_empty() || rest.starts_with('\t') || rest.starts_with("  ")))
        .then(|| (token, rest.trim()))
}

/// A bare local part made an address: with the domain the returned message gives it
/// (`for <name@domain>`), else the reporting system's.
fn qualify(local: &str, quoted_lower: &str, from_domain: Option<&str>) -> Option<String> {
    let local = local.to_ascii_lowercase();
    let needle = format!("{local}@");
    for (at, _) in quoted_lower.match_indices(&needle).take(20) {
        let boundary = quoted_lower[..at]
            .bytes()
            .last()
            .is_none_or(|b| !(b.is_ascii_alphanumeric() || b"._+-=".contains(&b)));
        if !boundary {
            continue;
        }
        let domain: String = quoted_lower[at + needle.len()..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '.' || *c == '-')
            .take(253)
            .collect();
        let domain = domain.trim_end_matches('.');
        let address = format!("{local}@{domain}");
        if is_address(&address) {
            return Some(address);
        }
    }
    let domain = from_domain?;
    let address = format!("{local}@{domain}");
    (!domain.starts_with('[') && is_address(&address)).then_some(address)
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

/// Gives a refused MAIL, DATA, HELO or EHLO to the entries without a command; whether the verb
/// was one of those.
fn pending_command(list: &mut [Finding], verb: &str) -> bool {
    let command = match verb {
        "MAIL" => "MAIL",
        "DATA" => "DATA",
        "HELO" => "HELO",
        "EHLO" => "EHLO",
        _ => return false,
    };
    for f in list.iter_mut() {
        if f.command.is_none() {
            f.command = Some(command.to_string());
        }
    }
    true
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
    let m = crate::parser().parse_headers(&start.as_bytes()[..head_end])?;
    Some(crate::original_of(&m))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addresses(notice: &str, headers: &Headers) -> Vec<String> {
        read(notice, headers, None)
            .recipients
            .into_iter()
            .filter_map(|f| f.recipient)
            .map(|r| r.to_ascii_lowercase())
            .collect()
    }

    fn plain(notice: &str) -> Vec<String> {
        addresses(notice, &Headers::default())
    }

    #[test]
    fn a_local_delivery_is_reported_under_the_address_that_led_there() {
        let notice = "This message was created automatically by mail delivery software.\n\n\
                      A message that you sent could not be delivered to one or more of its\n\
                      recipients. This is a permanent error. The following address(es) failed:\n\n\
                        pipe to |/usr/local/bin/filter carol@example.org\n\
                          generated by carol@example.org\n\
                          local delivery failed\n";
        let n = read(notice, &Headers::default(), None);
        assert_eq!(n.recipients.len(), 1);
        assert_eq!(
            n.recipients[0].recipient.as_deref(),
            Some("carol@example.org")
        );
        let d = n.recipients[0].diagnostic.as_deref().unwrap();
        assert!(d.starts_with("pipe to |/usr/local/bin/filter"), "{d}");
        assert!(d.contains("local delivery failed"), "{d}");
    }

    #[test]
    fn the_reason_on_the_line_before_the_address() {
        let notice = "------- Failure Reasons  --------\n\n\
                      User not listed in the directory\n\
                      dave@example.org\n\n\
                      ------- Returned Message --------\n";
        let n = read(notice, &Headers::default(), None);
        assert_eq!(n.recipients.len(), 1);
        assert_eq!(
            n.recipients[0].diagnostic.as_deref(),
            Some("User not listed in the directory")
        );
    }

    #[test]
    fn an_alias_on_the_next_line_is_the_address_reported() {
        let notice = "   ----- The following addresses had permanent fatal errors -----\n\
                      bob@mail.example.net\n    (expanded from: bob@example.org)\n\n\
                         ----- Transcript of session follows -----\n\
                      550 5.1.1 bob@mail.example.net... User unknown\n";
        let n = read(notice, &Headers::default(), None);
        assert_eq!(n.recipients.len(), 1);
        assert_eq!(
            n.recipients[0].recipient.as_deref(),
            Some("bob@example.org")
        );
        assert!(
            n.recipients[0]
                .diagnostic
                .as_deref()
                .is_some_and(|d| d.contains("User unknown"))
        );
    }

    #[test]
    fn a_wrapped_alias_and_a_quoted_dsn_make_one_recipient() {
        let notice = "<carol@host.example.net> (expanded from\n    <carol@example.org>): host \
                      mx.example.net said: 550 5.1.1 unknown user\n\n\
                      Final-Recipient: rfc822; carol@host.example.net\n\
                      Original-Recipient: rfc822;carol@host.example.net\nAction: failed\n";
        let n = read(notice, &Headers::default(), None);
        assert_eq!(n.recipients.len(), 1);
        assert_eq!(
            n.recipients[0].recipient.as_deref(),
            Some("carol@example.org")
        );
        assert!(
            n.recipients[0]
                .diagnostic
                .as_deref()
                .is_some_and(|d| d.starts_with("host mx.example.net said: 550"))
        );
        // The same alias on one line.
        assert_eq!(
            plain("<dan@host.example.net> (expanded from <dan@example.org>): mailbox full\n"),
            ["dan@example.org"]
        );
    }

    #[test]
    fn dsn_fields_in_text_report_the_original_recipient() {
        assert_eq!(
            plain(
                "Final-Recipient: rfc822; x1@relay.example.net\n\
                 Original-Recipient: rfc822; x1@example.org\nStatus: 5.1.1\n"
            ),
            ["x1@example.org"]
        );
        assert_eq!(
            plain(
                "Original-Recipient: rfc822; x2@example.org\n\
                 Final-Recipient: rfc822; x2@relay.example.net\nStatus: 5.1.1\n"
            ),
            ["x2@example.org"]
        );
    }

    #[test]
    fn an_address_ends_where_the_script_changes() {
        assert_eq!(
            lead_address("kijitora@example.jp您好，").map(|(a, _)| a),
            Some("kijitora@example.jp".to_string())
        );
        // An internationalised domain keeps its own script.
        assert_eq!(
            lead_address("neko@例え.テスト").map(|(a, _)| a),
            Some("neko@例え.テスト".to_string())
        );
    }

    #[test]
    fn quoted_addresses_and_display_names() {
        let notice = "The following address failed:\n\n\"dave@example.net\":\n\
                      SMTP error from remote server after RCPT command:\n\
                      5.1.1 <dave@example.net>... User Unknown\n\"erin@example.net\":\n\
                      5.2.2 <erin@example.net>... Mailbox Full\n";
        assert_eq!(plain(notice), ["dave@example.net", "erin@example.net"]);
        assert_eq!(
            plain("could not be delivered to the following user:\n\n\"Fay F\" <fay@example.net>\n"),
            ["fay@example.net"]
        );
        assert_eq!(
            plain(
                "Delivery of email to this address\n\n\"gus@example.net\"\n\nhas been postponed.\n"
            ),
            ["gus@example.net"]
        );
    }

    #[test]
    fn exchange_x400_form_names_the_smtp_address() {
        let notice = "did not reach the following recipient(s):\n\n\
                      c=US;a= ;p=Example;o=Site;dda:SMTP=Frank@Example.COM; on Mon, 1 Jan 2024\n\
                      \x20   The recipient name is not recognized\n";
        let n = read(notice, &Headers::default(), None);
        assert_eq!(n.recipients.len(), 1);
        assert_eq!(
            n.recipients[0].recipient.as_deref(),
            Some("Frank@Example.COM")
        );
        assert!(
            n.recipients[0]
                .diagnostic
                .as_deref()
                .is_some_and(|d| d.contains("not recognized"))
        );
        assert!(x400_address("Name: SMTP=a@example.com").is_none());
    }

    #[test]
    fn sentences_name_the_failed_address_when_nothing_else_does() {
        let mut got = plain(
            "Sorry, unable to deliver your message to gina@example.net for\n\
             the following reason:\n\n 552 Quota exceeded for hank@example.net\n",
        );
        got.sort();
        assert_eq!(got, ["gina@example.net", "hank@example.net"]);
        assert_eq!(
            plain(
                "The address to which your message was addressed, ivan@example.org, did not\n\
                 match any user here.\n"
            ),
            ["ivan@example.org"]
        );
        assert_eq!(
            plain("undeliverable  to judy@example.com\n"),
            ["judy@example.com"]
        );
        assert_eq!(
            plain("The message, addressed to 'kai@example.com',\nfailed: not collected\n"),
            ["kai@example.com"]
        );
        assert_eq!(
            plain("Local mailbox lou@example.com is unavailable: user not found\n"),
            ["lou@example.com"]
        );
        // A help address is not a failed recipient; "for" counts only in an SMTP reply.
        assert!(plain("Delivery failed. For help write to help@example.com.\n").is_empty());
        assert!(plain("Delivery failed, sorry for mia@example.com.\n").is_empty());
    }

    #[test]
    fn an_address_continuing_a_sentence_is_not_a_list_entry() {
        let notice = "Message not delivered.\n\nThe usual cause is a typing error; \
                      for instance, if\nnoa@example.edu fails, try another form.\n";
        assert!(plain(notice).is_empty());
        // Inside a list, a line explaining the entry before does not hide the next entry.
        let list = "did not reach the following recipient(s):\n\n\
                    one@example.com on Mon, 1 Jan 2024\n    Unknown Recipient\n\
                    two@example.com on Mon, 1 Jan 2024\n    Unknown Recipient\n";
        assert_eq!(plain(list), ["one@example.com", "two@example.com"]);
    }

    #[test]
    fn bare_names_under_a_heading_are_qualified() {
        let headers = Headers {
            from: Some("MAILER-DAEMON@Example.com".into()),
            ..Headers::default()
        };
        let notice = "Your mail to the following recipients could not be delivered:\n\tpat\n";
        assert_eq!(addresses(notice, &headers), ["pat@example.com"]);
        // The returned message tells the domain better than the reporting host.
        let notice = "Message not delivered to the following:\n\n quinn.q    No matches\n\n\
                      --- Unsent message below:\nReceived: from a by b\n\tfor <quinn.q@example.org>; Mon\n";
        assert_eq!(addresses(notice, &headers), ["quinn.q@example.org"]);
        // Prose under a heading is no name.
        assert!(addresses("Recipients:\nnobody could be reached\n", &headers).is_empty());
    }

    #[test]
    fn a_forwarded_bounce_is_read_without_its_quote_marks() {
        let notice = "Forwarded:\n\n> From: Mail Delivery Subsystem <MAILER-DAEMON>\n\
                      > Message-Id: <123.456@mx.example.jp>\n>\n\
                      >    ----- The following addresses had permanent fatal errors -----\n\
                      > <rae@example.com>\n>     (reason: 550 5.1.1 User unknown)\n>\n\
                      >>>> DATA\n> <<< 550 5.1.1 <rae@example.com>... User unknown\n";
        let n = read(notice, &Headers::default(), None);
        assert_eq!(n.recipients.len(), 1);
        assert_eq!(
            n.recipients[0].recipient.as_deref(),
            Some("rae@example.com")
        );
        assert_eq!(n.recipients[0].command.as_deref(), Some("DATA"));
    }

    #[test]
    fn rcpt_to_beside_an_error_reply_is_a_bounce() {
        let notice = "Error: Invalid user address\n\nError message below:\n\
                      550 - Requested action not taken: no such user here\n\n\
                      Message details:\n  MAIL FROM: sam@example.com\n  RCPT TO: tia@example.net\n";
        let n = read(notice, &Headers::default(), None);
        assert!(n.looks_like_bounce);
        let got: Vec<_> = n
            .recipients
            .iter()
            .filter_map(|f| f.recipient.clone())
            .collect();
        assert_eq!(got, ["tia@example.net"]);
        assert!(
            !read(
                "Hello\nRCPT TO: tia@example.net\n",
                &Headers::default(),
                None
            )
            .looks_like_bounce
        );
    }

    #[test]
    fn notice_markers_and_delay_wording() {
        let n = read(
            "The following message, addressed to 'uma@example.com',\nfailed.\n\n\
             ---- START OF RETURNED MESSAGE ----\nTo: list@example.org\n\n\
             Send submissions to\n\tlist@example.org\n",
            &Headers::default(),
            None,
        );
        let got: Vec<_> = n
            .recipients
            .iter()
            .filter_map(|f| f.recipient.clone())
            .collect();
        assert_eq!(got, ["uma@example.com"]);
        assert!(
            read(
                "We will continue to try to deliver your message.\n",
                &Headers::default(),
                None
            )
            .delay_warning
        );
    }

    #[test]
    fn html_lines_as_a_browser_shows_them() {
        let t = html_to_text(
            "<html><head><title>Undeliverable 2.0.1</title></head><body><p>Your message\n\
             to<br>\n<br>\n&nbsp; vic@example.com<BR>\n</body></html>",
        );
        assert!(!t.contains("Undeliverable"));
        let lines: Vec<&str> = t.lines().map(str::trim).collect();
        assert!(lines.contains(&"Your message to"));
        assert!(lines.contains(&""));
        assert!(lines.contains(&"vic@example.com"));
    }

    #[test]
    fn hostile_notices_stay_linear() {
        let mut notice = String::new();
        for i in 0..40_000 {
            notice.push_str(&format!(
                "a{i}@example.com (expanded from <b{i}@example.org>)\n>>> DATA\n"
            ));
        }
        notice.push_str(&"user x@example.com ".repeat(50_000));
        notice.push('\n');
        notice.push_str(&"@".repeat(500_000));
        notice.push_str("\nRecipients:\n");
        for _ in 0..5 {
            notice.push_str("zed\n");
        }
        notice.push_str(&"zed@".repeat(100_000));
        let started = std::time::Instant::now();
        let n = read(&notice, &Headers::default(), None);
        assert_eq!(n.recipients.len(), 40_000);
        // Not a timing assertion on the product: a guard against quadratic blow-ups.
        assert!(started.elapsed() < std::time::Duration::from_secs(20));
    }
}
