//! Reading the facts out of pasted text: the reply code, the enhanced status code, and the text
//! itself, from a bare reply, a client's wrapped error, or a whole bounce.

use smtpdoctor_report::check::Reply;

/// What an input says, as far as codes go.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Facts {
    /// The basic reply code (RFC 5321), when one is found.
    pub reply_code: Option<u16>,
    /// The enhanced status code (RFC 3463), when one is found.
    pub enhanced: Option<String>,
    /// The text matched against (the most telling part of the input).
    pub text: String,
    /// What the reporting MTA decided, when the input is its log line (`status=deferred`).
    pub mta_status: Option<MtaStatus>,
    /// Where the innermost cause starts in `text`, after "caused by:" or "nested exception is".
    pub cause_start: Option<usize>,
}

/// What an MTA's log line says it did with the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MtaStatus {
    /// It will try again (`status=deferred`).
    Deferred,
    /// It gave up (`status=bounced`).
    Bounced,
}

/// Phrases that introduce the underlying cause of a wrapped error.
const CAUSE_MARKERS: [&str; 5] = [
    "nested exception is",
    "caused by:",
    "inner exception",
    "---> ",
    "underlying error:",
];

fn mta_status(lower: &str) -> Option<MtaStatus> {
    if lower.contains("status=deferred") {
        Some(MtaStatus::Deferred)
    } else if lower.contains("status=bounced") {
        Some(MtaStatus::Bounced)
    } else {
        None
    }
}

fn cause_start(lower: &str) -> Option<usize> {
    CAUSE_MARKERS
        .iter()
        .filter_map(|m| lower.rfind(m).map(|i| i + m.len()))
        .max()
}

/// The longest input read; a pasted bounce longer than this is cut.
const MAX_INPUT: usize = 256 * 1024;

impl Facts {
    /// Facts of a parsed reply.
    pub fn from_reply(reply: &Reply) -> Facts {
        let text = format!("{} {}", reply.code, reply.lines.join(" "));
        Facts {
            reply_code: Some(reply.code),
            enhanced: reply.enhanced.clone(),
            text,
            mta_status: None,
            cause_start: None,
        }
    }

    /// Facts of free text.
    pub fn read(input: &str) -> Facts {
        let mut end = input.len().min(MAX_INPUT);
        while !input.is_char_boundary(end) {
            end -= 1;
        }
        let input = &input[..end];
        // A bounce (DSN) names the cause in its Diagnostic-Code and Status fields: prefer them.
        let diagnostic = field(input, "diagnostic-code:").map(|v| {
            v.split_once(';')
                .map_or(v.as_str(), |(_, rest)| rest)
                .trim()
                .to_string()
        });
        let status = field(input, "status:").and_then(|v| enhanced_in(&v));
        let text = match &diagnostic {
            Some(d) => format!("{d}\n{input}"),
            None => input.to_string(),
        };
        let focus = diagnostic.as_deref().unwrap_or(input);
        let reply_code = reply_code_in(focus).or_else(|| reply_code_in(input));
        let enhanced = enhanced_in(focus).or(status).or_else(|| enhanced_in(input));
        let lower = text.to_ascii_lowercase();
        let mta_status = mta_status(&lower);
        let cause_start = cause_start(&lower);
        Facts {
            reply_code,
            enhanced,
            text,
            mta_status,
            cause_start,
        }
    }
}

/// The value of a header-like field (`Diagnostic-Code: smtp; 550 ...`), with continuation lines.
fn field(input: &str, name: &str) -> Option<String> {
    let mut lines = input.lines().peekable();
    while let Some(line) = lines.next() {
        if line
            .get(..name.len())
            .is_some_and(|head| head.eq_ignore_ascii_case(name))
        {
            let mut value = line[name.len()..].trim().to_string();
            while let Some(next) = lines.peek() {
                if next.starts_with(' ') || next.starts_with('\t') {
                    value.push(' ');
                    value.push_str(next.trim());
                    lines.next();
                } else {
                    break;
                }
            }
            return Some(value);
        }
    }
    None
}

fn is_boundary_before(bytes: &[u8], i: usize) -> bool {
    i == 0
        || !(bytes[i - 1].is_ascii_alphanumeric()
            || matches!(
                bytes[i - 1],
                b'.' | b'-' | b':' | b'/' | b'_' | b'=' | b'+' | b'#'
            ))
}

/// The first basic reply code: three digits 2xx–5xx standing alone (not a port, an address or a
/// longer number), preferring one followed by an enhanced code.
pub fn reply_code_in(text: &str) -> Option<u16> {
    let bytes = text.as_bytes();
    let mut first = None;
    let mut i = 0;
    while i + 3 <= bytes.len() {
        let window = &bytes[i..i + 3];
        if matches!(window[0], b'2'..=b'5')
            && window[1].is_ascii_digit()
            && window[2].is_ascii_digit()
            && is_boundary_before(bytes, i)
        {
            let next = bytes.get(i + 3).copied();
            let standalone = matches!(
                next,
                None | Some(b' ' | b'-' | b',' | b'"' | b'\'' | b')' | b'\r' | b'\n' | b']')
            );
            // A few bytes back suffice to see "port", "port:" or "port=" (and keep this linear).
            let mut back = &bytes[..i];
            while back.last().is_some_and(|b| b.is_ascii_whitespace()) {
                back = &back[..back.len() - 1];
            }
            let back = back
                .strip_suffix(b":")
                .or_else(|| back.strip_suffix(b"="))
                .unwrap_or(back);
            let is_port = back.len() >= 4 && back[back.len() - 4..].eq_ignore_ascii_case(b"port");
            if standalone && !is_port {
                let code: u16 = std::str::from_utf8(window).ok()?.parse().ok()?;
                let rest = text[i + 3..]
                    .trim_start_matches([' ', '-', '"', '\'', ','])
                    .trim_start_matches("b'");
                if enhanced_in(rest.get(..rest.len().min(12)).unwrap_or(rest))
                    .is_some_and(|e| rest.starts_with(&e))
                {
                    return Some(code);
                }
                first.get_or_insert(code);
            }
        }
        i += 1;
    }
    first
}

/// The first enhanced status code: class 2, 4 or 5, then subject and detail of 1–3 digits.
pub fn enhanced_in(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if matches!(bytes[i], b'2' | b'4' | b'5')
            && (i == 0 || !(bytes[i - 1].is_ascii_digit() || bytes[i - 1] == b'.'))
            && bytes.get(i + 1) == Some(&b'.')
        {
            let mut j = i + 2;
            let subject_start = j;
            while j < bytes.len() && bytes[j].is_ascii_digit() {
                j += 1;
            }
            let subject_len = j - subject_start;
            if (1..=3).contains(&subject_len) && bytes.get(j) == Some(&b'.') {
                let detail_start = j + 1;
                let mut k = detail_start;
                while k < bytes.len() && bytes[k].is_ascii_digit() {
                    k += 1;
                }
                let detail_len = k - detail_start;
                let after_ok = bytes.get(k).is_none_or(|b| {
                    !(b.is_ascii_digit()
                        || *b == b'.' && bytes.get(k + 1).is_some_and(u8::is_ascii_digit))
                });
                if (1..=3).contains(&detail_len) && after_ok {
                    return Some(text[i..k].to_string());
                }
            }
        }
        i += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_in_the_wild() {
        let f = Facts::read("535 5.7.8 Username and Password not accepted");
        assert_eq!(
            (f.reply_code, f.enhanced.as_deref()),
            (Some(535), Some("5.7.8"))
        );
        let f = Facts::read(
            "smtplib.SMTPSenderRefused: (530, b'5.7.0 Must issue a STARTTLS command first', 'x@y')",
        );
        assert_eq!(
            (f.reply_code, f.enhanced.as_deref()),
            (Some(530), Some("5.7.0"))
        );
        let f =
            Facts::read("Error Number: 0x800CCC1A - Protocol: SMTP, Port: 587, Secure(SSL): No");
        assert_eq!(f.reply_code, None);
        let f = Facts::read(
            "host mx.example.com[192.0.2.1] said: 550 5.1.1 <a@b>: User unknown (in reply to RCPT TO command)",
        );
        assert_eq!(
            (f.reply_code, f.enhanced.as_deref()),
            (Some(550), Some("5.1.1"))
        );
        let f = Facts::read("Sorry, no mailbox here by that name. (#5.1.1)");
        assert_eq!((f.reply_code, f.enhanced.as_deref()), (None, Some("5.1.1")));
        let f = Facts::read(
            "Expected response code \"250\" but got code \"530\", with message \"530 5.7.1 Authentication required\"",
        );
        assert_eq!(f.enhanced.as_deref(), Some("5.7.1"));
        assert_eq!(f.reply_code, Some(530));
        let f = Facts::read("connect to 192.0.2.1 port 25: timed out at 2019-04-03");
        assert_eq!((f.reply_code, f.enhanced), (None, None));
    }

    #[test]
    fn bounce_fields_win() {
        let bounce = "From: MAILER-DAEMON\nSubject: Undelivered\n\nI'm sorry.\n\nAction: failed\nStatus: 5.1.1\nDiagnostic-Code: smtp; 550 5.1.1 <x@example.org>: Recipient address\n rejected: User unknown\n";
        let f = Facts::read(bounce);
        assert_eq!(
            (f.reply_code, f.enhanced.as_deref()),
            (Some(550), Some("5.1.1"))
        );
        assert!(
            f.text
                .starts_with("550 5.1.1 <x@example.org>: Recipient address rejected")
        );
    }

    #[test]
    fn any_text_is_read_without_panic() {
        let pieces = [
            "└──",
            "550",
            " ",
            "5.7.1",
            "é",
            "\n",
            "Diagnostic-Code:",
            "Status:",
            "port ",
            "ü550",
            "5.",
            "٣",
            "\t",
            ";",
            "-",
            "2",
        ];
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..20_000 {
            let mut text = String::new();
            for _ in 0..(state % 12) {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                text.push_str(pieces[(state % pieces.len() as u64) as usize]);
            }
            state = state.wrapping_add(1);
            let _ = Facts::read(&text);
        }
    }
}
