//! SMTP replies on the wire: an incremental, bounded parser with no I/O.
//!
//! Accepts partial input and keeps everything a diagnosis needs (every line, unknown EHLO
//! keywords). Hostile input is bounded: a line or a reply past the limits is an error, never an
//! allocation without end.

use smtpdoctor_report::check::{Capability, Reply};

/// The longest reply line accepted (RFC 5321 allows 512; real servers send more in EHLO).
pub const MAX_LINE: usize = 8 * 1024;
/// The most lines one reply may have.
pub const MAX_LINES: usize = 512;

/// Why bytes could not be read as a reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WireError {
    /// A line longer than [`MAX_LINE`], or a reply of more than [`MAX_LINES`] lines.
    TooLong(String),
    /// Not an SMTP reply line; carries the offending line (lossy, cut short).
    Malformed(String),
}

/// One parsed line.
#[derive(Debug, Clone)]
pub struct RawLine {
    /// The bytes of the line without CRLF.
    pub bytes: Vec<u8>,
}

/// Accumulates reply lines from a byte buffer.
#[derive(Debug, Default)]
pub struct ReplyParser {
    lines: Vec<(u16, Option<String>, String)>,
    raw: Vec<RawLine>,
}

/// What one call to [`ReplyParser::feed`] found.
#[derive(Debug)]
pub enum Parsed {
    /// A complete reply, and the raw lines it was made of.
    Reply(Reply, Vec<RawLine>),
    /// More bytes are needed.
    NeedMore,
}

impl ReplyParser {
    /// Consumes complete lines from the front of `buf`; returns a reply when its last line is in.
    /// Lines already consumed are kept across calls, so the caller may read more and call again.
    pub fn feed(&mut self, buf: &mut Vec<u8>) -> Result<Parsed, WireError> {
        loop {
            let Some(end) = buf.iter().position(|&b| b == b'\n') else {
                if buf.len() > MAX_LINE {
                    return Err(WireError::TooLong(format!(
                        "a line of more than {MAX_LINE} bytes without an end"
                    )));
                }
                return Ok(Parsed::NeedMore);
            };
            if end > MAX_LINE {
                return Err(WireError::TooLong(format!("a line of {end} bytes")));
            }
            let mut line: Vec<u8> = buf.drain(..=end).collect();
            line.pop();
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            let (code, last, text) = match parse_line(&line) {
                Ok(parsed) => parsed,
                Err(e) => {
                    // Keep the offending line: the transcript shows what the server sent.
                    self.raw.push(RawLine { bytes: line });
                    return Err(e);
                }
            };
            if let Some((first, _, _)) = self.lines.first()
                && *first != code
            {
                return Err(WireError::Malformed(format!(
                    "reply lines with different codes ({first} then {code})"
                )));
            }
            let enhanced = enhanced_code(code, &text);
            self.raw.push(RawLine { bytes: line });
            self.lines.push((code, enhanced, text));
            if self.lines.len() > MAX_LINES {
                return Err(WireError::TooLong(format!(
                    "a reply of more than {MAX_LINES} lines"
                )));
            }
            if last {
                let lines = std::mem::take(&mut self.lines);
                let raw = std::mem::take(&mut self.raw);
                let code = lines[0].0;
                let enhanced = lines[0].1.clone();
                let reply = Reply {
                    code,
                    enhanced,
                    lines: lines.into_iter().map(|(_, _, text)| text).collect(),
                };
                return Ok(Parsed::Reply(reply, raw));
            }
        }
    }

    /// Whether part of a reply has been read.
    pub fn is_partial(&self) -> bool {
        !self.lines.is_empty()
    }
}

fn parse_line(line: &[u8]) -> Result<(u16, bool, String), WireError> {
    let bad = || {
        let shown: String = String::from_utf8_lossy(&line[..line.len().min(80)])
            .escape_debug()
            .to_string();
        WireError::Malformed(shown)
    };
    if line.len() < 3 || !line[..3].iter().all(u8::is_ascii_digit) {
        return Err(bad());
    }
    let code: u16 = std::str::from_utf8(&line[..3])
        .map_err(|_| bad())?
        .parse()
        .map_err(|_| bad())?;
    if !(200..=599).contains(&code) {
        return Err(bad());
    }
    let (last, text) = match line.get(3) {
        None => (true, &line[3..3]),
        Some(b' ') => (true, &line[4..]),
        Some(b'-') => (false, &line[4..]),
        Some(_) => return Err(bad()),
    };
    Ok((code, last, String::from_utf8_lossy(text).into_owned()))
}

pub use smtpdoctor_report::check::enhanced_code;

/// The capabilities listed by an EHLO reply (every line after the first), unknown ones too.
pub fn capabilities(reply: &Reply) -> Vec<Capability> {
    reply
        .lines
        .iter()
        .skip(1)
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            let keyword = words.next()?.to_ascii_uppercase();
            Some(Capability {
                keyword,
                params: words.map(str::to_string).collect(),
            })
        })
        .collect()
}

impl ReplyParser {
    /// The raw lines of an unfinished reply.
    pub fn into_raw(self) -> Vec<RawLine> {
        self.raw
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_all(input: &[u8]) -> Result<Parsed, WireError> {
        let mut buf = input.to_vec();
        ReplyParser::default().feed(&mut buf)
    }

    #[test]
    fn multi_line_reply() {
        let Parsed::Reply(reply, raw) =
            parse_all(b"250-mail.test\r\n250-PIPELINING\r\n250 AUTH PLAIN LOGIN\r\n").unwrap()
        else {
            panic!("incomplete")
        };
        assert_eq!(reply.code, 250);
        assert_eq!(raw.len(), 3);
        let caps = capabilities(&reply);
        assert_eq!(caps[1].keyword, "AUTH");
        assert_eq!(caps[1].params, vec!["PLAIN", "LOGIN"]);
    }

    #[test]
    fn enhanced_codes() {
        assert_eq!(
            enhanced_code(535, "5.7.8 Error: authentication failed").as_deref(),
            Some("5.7.8")
        );
        assert_eq!(enhanced_code(250, "2.1.5 Ok").as_deref(), Some("2.1.5"));
        assert_eq!(enhanced_code(550, "4.1.1 wrong class"), None);
        assert_eq!(enhanced_code(220, "mail.test ESMTP"), None);
        assert_eq!(enhanced_code(250, "1.2.3.4"), None);
    }

    #[test]
    fn partial_then_complete() {
        let mut parser = ReplyParser::default();
        let mut buf = b"220-first\r\n220 sec".to_vec();
        assert!(matches!(parser.feed(&mut buf).unwrap(), Parsed::NeedMore));
        buf.extend_from_slice(b"ond\r\n");
        let Parsed::Reply(reply, _) = parser.feed(&mut buf).unwrap() else {
            panic!()
        };
        assert_eq!(reply.lines, vec!["first", "second"]);
    }

    #[test]
    fn bare_code_and_lf_only() {
        let Parsed::Reply(reply, _) = parse_all(b"250\n").unwrap() else {
            panic!()
        };
        assert_eq!(reply.code, 250);
        assert!(reply.lines[0].is_empty());
    }

    #[test]
    fn garbage_and_limits() {
        assert!(matches!(
            parse_all(b"SSH-2.0-OpenSSH\r\n"),
            Err(WireError::Malformed(_))
        ));
        assert!(matches!(
            parse_all(b"\x16\x03\x01\x00\x05hello\n"),
            Err(WireError::Malformed(_))
        ));
        assert!(matches!(
            parse_all(b"999 nope\r\n"),
            Err(WireError::Malformed(_))
        ));
        assert!(matches!(
            parse_all(&vec![b'2'; MAX_LINE + 2]),
            Err(WireError::TooLong(_))
        ));
        let endless: Vec<u8> = b"250-x\r\n".repeat(MAX_LINES + 2);
        assert!(matches!(parse_all(&endless), Err(WireError::TooLong(_))));
        assert!(matches!(
            parse_all(b"250-a\r\n451 b\r\n"),
            Err(WireError::Malformed(_))
        ));
    }

    #[test]
    fn random_input_never_panics_and_stays_bounded() {
        let mut state: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let alphabet = b"0123456789 -\r\n250-AUTH PLAIN\xff\x00\x16";
        for _ in 0..2000 {
            let mut parser = ReplyParser::default();
            let mut buf = Vec::new();
            for _ in 0..(next() % 40) {
                let len = (next() % 300) as usize;
                buf.extend((0..len).map(|_| alphabet[(next() % alphabet.len() as u64) as usize]));
                match parser.feed(&mut buf) {
                    Ok(Parsed::Reply(reply, raw)) => {
                        assert!((200..=599).contains(&reply.code));
                        assert_eq!(reply.lines.len(), raw.len());
                    }
                    Ok(Parsed::NeedMore) => assert!(buf.len() <= MAX_LINE + 300),
                    Err(_) => break,
                }
            }
        }
    }
}
