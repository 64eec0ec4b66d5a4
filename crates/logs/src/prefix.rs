//! A log line's envelope: its time stamp, host, program and pid, and the message after them.
//!
//! Shapes read:
//! * classic syslog (RFC 3164): `Mar  7 02:09:33 host prog[pid]: msg` (fractions allowed);
//! * RFC 3339 stamps (rsyslog's high-precision format, Postfix `maillog_file`):
//!   `2024-03-07T02:09:33.123456+01:00 host prog[pid]: msg`;
//! * Exim's own logs: `2024-03-07 02:09:33[.fff] [+0100] [pid] msg` (no host, no program);
//! * Dovecot's own log: a stamp, then `prog: msg` with no host;
//! * multilog: `@4000000065e9a1d2... prog: msg`;
//! * a `<pri>` or `<mail.info>` tag before or after the stamp;
//! * `journalctl -o json`: one JSON object per line (see [`Line::journal`]).

use std::borrow::Cow;

/// When a line was written, as the line gives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Stamp {
    /// No time stamp.
    #[default]
    None,
    /// Classic syslog: no year and no zone.
    Classic {
        /// 1–12.
        month: u8,
        /// 1–31.
        day: u8,
        /// Seconds since midnight.
        secs: u32,
        /// Nanoseconds.
        nanos: u32,
    },
    /// A calendar date and time, with its UTC offset in seconds when the line gives one.
    Civil {
        /// Year.
        year: i16,
        /// 1–12.
        month: u8,
        /// 1–31.
        day: u8,
        /// Seconds since midnight.
        secs: u32,
        /// Nanoseconds.
        nanos: u32,
        /// Seconds east of UTC.
        offset: Option<i32>,
    },
    /// An absolute time (journald, multilog).
    Unix {
        /// Seconds since 1970 (UTC).
        secs: i64,
        /// Nanoseconds.
        nanos: u32,
    },
}

/// One line's envelope and message.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Line<'a> {
    /// When it was written.
    pub stamp: Stamp,
    /// The host that wrote it.
    pub host: Option<Cow<'a, str>>,
    /// The program (`postfix/smtpd`, `exim`, `dovecot`, `imap-login`).
    pub program: Option<Cow<'a, str>>,
    /// The process id.
    pub pid: Option<u32>,
    /// The message after the envelope.
    pub message: Cow<'a, str>,
}

impl<'a> Line<'a> {
    /// Reads one line (without its line ending). A line starting with `{` is read as
    /// journald JSON; anything else as text. `None` for blank lines, comments and lines that are
    /// neither.
    pub fn parse(s: &'a str) -> Option<Line<'a>> {
        // `trim_end_matches(['\r', '\n'])`, byte by byte (both are ASCII, so the cut is on a
        // character boundary).
        let b = s.as_bytes();
        let mut end = b.len();
        while end > 0 && matches!(b[end - 1], b'\r' | b'\n') {
            end -= 1;
        }
        let s = &s[..end];
        if s.starts_with('{') {
            return Line::journal(s);
        }
        Line::text(s)
    }

    /// A text line.
    pub fn text(s: &'a str) -> Option<Line<'a>> {
        if let Some(line) = classic(s) {
            return Some(line);
        }
        Line::general(s)
    }

    /// A text line of any shape (see the module's list).
    fn general(s: &'a str) -> Option<Line<'a>> {
        let mut rest = trim_start(s);
        if rest.is_empty() || rest.starts_with('#') {
            return None;
        }
        rest = skip_tag(rest);
        let (stamp, after) = stamp(rest);
        rest = skip_tag(trim_start(after));
        // Exim: an optional zone and `[pid]` after its stamp.
        let mut pid = None;
        let mut stamp = stamp;
        if let Stamp::Civil { offset: None, .. } = stamp
            && let Some((off, r)) = zone_token(rest)
        {
            if let Stamp::Civil { offset, .. } = &mut stamp {
                *offset = Some(off);
            }
            rest = r;
        }
        let (t1, r1) = token(rest);
        if crate::exim::message_id(t1).is_some() {
            // Exim's own log: a message id, then the message.
            return Some(Line {
                stamp,
                host: None,
                program: None,
                pid,
                message: Cow::Borrowed(rest),
            });
        }
        if let Some((prog, p)) = program(t1) {
            return Some(Line {
                stamp,
                host: None,
                program: Some(Cow::Borrowed(prog)),
                pid: p,
                message: Cow::Borrowed(r1),
            });
        }
        let (t2, r2) = token(r1);
        if !t1.is_empty()
            && !t1.starts_with('[')
            && let Some((prog, p)) = program(t2)
        {
            return Some(Line {
                stamp,
                host: Some(Cow::Borrowed(t1)),
                program: Some(Cow::Borrowed(prog)),
                pid: p,
                message: Cow::Borrowed(r2),
            });
        }
        if stamp == Stamp::None {
            return None;
        }
        // No program: Exim's own log (with an optional `[pid]`).
        if let Some(inner) = t1.strip_prefix('[').and_then(|t| t.strip_suffix(']'))
            && let Ok(n) = inner.parse()
        {
            pid = Some(n);
            rest = r1;
        }
        Some(Line {
            stamp,
            host: None,
            program: None,
            pid,
            message: Cow::Borrowed(rest),
        })
    }

    /// A `journalctl -o json` line: `MESSAGE`, `SYSLOG_IDENTIFIER` (or `_COMM`), `_PID`,
    /// `_HOSTNAME`, `__REALTIME_TIMESTAMP` (microseconds). A message logged with its own
    /// syslog envelope inside (as some containers do) is read through that envelope.
    pub fn journal(s: &'a str) -> Option<Line<'a>> {
        #[derive(serde::Deserialize)]
        struct J<'a> {
            #[serde(rename = "MESSAGE", borrow, default)]
            message: Option<Message<'a>>,
            #[serde(rename = "SYSLOG_IDENTIFIER", borrow, default)]
            ident: Option<Cow<'a, str>>,
            #[serde(rename = "_COMM", borrow, default)]
            comm: Option<Cow<'a, str>>,
            #[serde(rename = "SYSLOG_PID", borrow, default)]
            syslog_pid: Option<Cow<'a, str>>,
            #[serde(rename = "_PID", borrow, default)]
            pid: Option<Cow<'a, str>>,
            #[serde(rename = "_HOSTNAME", borrow, default)]
            host: Option<Cow<'a, str>>,
            #[serde(rename = "__REALTIME_TIMESTAMP", borrow, default)]
            realtime: Option<Cow<'a, str>>,
        }
        #[derive(serde::Deserialize)]
        #[serde(untagged)]
        enum Message<'a> {
            Text(#[serde(borrow)] Cow<'a, str>),
            Bytes(Vec<u8>),
        }
        let j: J<'a> = serde_json::from_str(s).ok()?;
        let message = match j.message? {
            Message::Text(t) => t,
            Message::Bytes(b) => Cow::Owned(String::from_utf8_lossy(&b).into_owned()),
        };
        let stamp = j
            .realtime
            .and_then(|t| t.parse::<i64>().ok())
            .map_or(Stamp::None, |us| Stamp::Unix {
                secs: us.div_euclid(1_000_000),
                nanos: (us.rem_euclid(1_000_000) * 1000) as u32,
            });
        Some(Line {
            stamp,
            host: j.host,
            program: j.ident.or(j.comm),
            pid: j.syslog_pid.or(j.pid).and_then(|p| p.parse().ok()),
            message,
        })
    }
}

/// The usual line, `Mmm dd hh:mm:ss host prog[pid]: msg`, read at fixed places: the same
/// result as the general reader in [`Line::text`], or `None` on anything less usual (a one-digit
/// day after one space, fractions, tags, a host that could be something else, no pid), which
/// the general reader then takes. Most lines of a Postfix log are this shape.
fn classic(s: &str) -> Option<Line<'_>> {
    let b = s.as_bytes();
    if b.len() < 17 || b[3] != b' ' || b[6] != b' ' || b[9] != b':' || b[12] != b':' {
        return None;
    }
    // A fraction or a zone after the seconds fails this: the general reader takes those.
    if b[15] != b' ' {
        return None;
    }
    let month = match &b[..3] {
        b"Jan" => 1,
        b"Feb" => 2,
        b"Mar" => 3,
        b"Apr" => 4,
        b"May" => 5,
        b"Jun" => 6,
        b"Jul" => 7,
        b"Aug" => 8,
        b"Sep" => 9,
        b"Oct" => 10,
        b"Nov" => 11,
        b"Dec" => 12,
        _ => return None,
    };
    // Each digit's value, or above 9 (wrapping below `0`) when it is no digit.
    let d = |i: usize| u32::from(b[i].wrapping_sub(b'0'));
    let day = match (b[4], d(5)) {
        (b' ', v) if v <= 9 => v,
        (_, v) if v <= 9 && d(4) <= 9 => d(4) * 10 + v,
        _ => return None,
    };
    let (h1, h2, m1, m2, s1, s2) = (d(7), d(8), d(10), d(11), d(13), d(14));
    if h1 > 9 || h2 > 9 || m1 > 9 || m2 > 9 || s1 > 9 || s2 > 9 {
        return None;
    }
    let (h, m, sec) = (h1 * 10 + h2, m1 * 10 + m2, s1 * 10 + s2);
    // The limits of `clock`, the leap second read as 59 as there.
    if h > 23 || m > 59 || sec > 60 {
        return None;
    }
    // The host: the general reader trims (Unicode) white space and skips a `<tag>` first.
    let rest = &s[16..];
    let first = *rest.as_bytes().first()?;
    if !first.is_ascii_graphic() || matches!(first, b'<' | b'[') {
        return None;
    }
    let (host, after) = token(rest);
    // A host token the general reader would take for an Exim id or a program.
    if host.ends_with(':') || crate::exim::message_id(host).is_some() {
        return None;
    }
    let (prog, message) = token(after);
    // `name[digits]:`, the name starting with a letter or `/`, as `program` reads it.
    let t = prog.strip_suffix("]:")?.as_bytes();
    // The digits back from the end, then the `[` (the last one, as `program` takes).
    let n = t.iter().rev().take_while(|c| c.is_ascii_digit()).count();
    if !(1..=9).contains(&n) || t.len() <= n || t[t.len() - n - 1] != b'[' {
        return None;
    }
    let open = t.len() - n - 1;
    let (name, digits) = (&t[..open], &t[open + 1..]);
    let n = *name.first()?;
    if !(n.is_ascii_alphabetic() || n == b'/') {
        return None;
    }
    Some(Line {
        stamp: Stamp::Classic {
            month: month as u8,
            day: day as u8,
            secs: h * 3600 + m * 60 + sec.min(59),
            nanos: 0,
        },
        host: Some(Cow::Borrowed(host)),
        program: Some(Cow::Borrowed(&prog[..open])),
        pid: Some(num(digits)),
        message: Cow::Borrowed(message),
    })
}

/// `str::trim_start`, with a quick answer for the usual case of nothing to trim (a line that
/// starts with a printable ASCII character).
fn trim_start(s: &str) -> &str {
    match s.as_bytes().first() {
        Some(c) if c.is_ascii_graphic() => s,
        _ => s.trim_start(),
    }
}

/// Skips a `<13>` priority or a `<mail.info>` facility tag.
fn skip_tag(s: &str) -> &str {
    if let Some(r) = s.strip_prefix('<')
        && let Some(end) = r.find('>')
        && end < 24
        && !r[..end].contains(' ')
        && !r[..end].contains('@')
    {
        return r[end + 1..].trim_start();
    }
    s
}

/// The first space-separated token and the rest (spaces skipped).
fn token(s: &str) -> (&str, &str) {
    let b = s.as_bytes();
    match space(b) {
        Some(i) => {
            let mut j = i + 1;
            while b.get(j) == Some(&b' ') {
                j += 1;
            }
            (&s[..i], &s[j..])
        }
        None => (s, ""),
    }
}

/// The first space in `b` (see [`crate::scan::byte_at`]).
fn space(b: &[u8]) -> Option<usize> {
    crate::scan::byte_at(b' ', b)
}

/// `prog[pid]:`, `prog:`, `prog(args):`, `prog(args)<session>:`: the program and pid.
fn program(t: &str) -> Option<(&str, Option<u32>)> {
    let t = t.strip_suffix(':')?;
    let first = *t.as_bytes().first()?;
    if !(first.is_ascii_alphabetic() || first == b'/') {
        return None;
    }
    if let Some(name) = t.strip_suffix(']')
        && let Some(open) = name.bytes().rposition(|c| c == b'[')
    {
        let pid = name[open + 1..].parse().ok();
        return Some((&name[..open], pid));
    }
    // A name of letters, digits and `/._-`, or one followed by `(...)` (Dovecot).
    let name_len = t
        .bytes()
        .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, b'/' | b'.' | b'_' | b'-'))
        .count();
    if name_len == t.len() {
        // `Info:` and the like are not programs; hosts do not end in a colon.
        return (!t.bytes().all(|c| c.is_ascii_digit())).then_some((t, None));
    }
    if t.as_bytes()[name_len] == b'(' {
        return Some((t, None));
    }
    None
}

/// `+0100`, `-05:00` or `Z` as a token of its own after an Exim stamp.
fn zone_token(s: &str) -> Option<(i32, &str)> {
    let (t, rest) = token(s);
    let b = t.as_bytes();
    if b.len() == 5 && matches!(b[0], b'+' | b'-') && b[1..].iter().all(u8::is_ascii_digit) {
        let h: i32 = t[1..3].parse().ok()?;
        let m: i32 = t[3..5].parse().ok()?;
        let sign = if b[0] == b'-' { -1 } else { 1 };
        return Some((sign * (h * 3600 + m * 60), rest));
    }
    None
}

const MONTHS: [&[u8; 3]; 12] = [
    b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec",
];

/// The time stamp at the start of `s` and the rest.
pub fn stamp(s: &str) -> (Stamp, &str) {
    let b = s.as_bytes();
    if b.len() >= 15
        && let Some(m) = MONTHS.iter().position(|m| b[..3] == m[..])
    {
        // `Mar  7 02:09:33` or `Mar 07 02:09:33` or `Mar 7 02:09:33`
        let mut i = 3;
        while b.get(i) == Some(&b' ') {
            i += 1;
        }
        let d = b[i..].iter().take_while(|c| c.is_ascii_digit()).count();
        if (1..=2).contains(&d) && b.get(i + d) == Some(&b' ') {
            let day = num(&b[i..i + d]) as u8;
            let j = i + d + 1;
            if let Some((secs, nanos, end)) = clock(b, j) {
                return (
                    Stamp::Classic {
                        month: m as u8 + 1,
                        day,
                        secs,
                        nanos,
                    },
                    &s[end..],
                );
            }
        }
    }
    if b.len() >= 19
        && b[..4].iter().all(u8::is_ascii_digit)
        && b[4] == b'-'
        && b[7] == b'-'
        && matches!(b[10], b'T' | b' ')
        && let Some((secs, nanos, mut end)) = clock(b, 11)
    {
        let year = num(&b[..4]) as i16;
        let month = num(&b[5..7]) as u8;
        let day = num(&b[8..10]) as u8;
        let mut offset = None;
        match b.get(end) {
            Some(b'Z') => {
                offset = Some(0);
                end += 1;
            }
            Some(&c @ (b'+' | b'-'))
                if b.len() >= end + 6
                    && b[end + 3] == b':'
                    && b[end + 1..end + 3].iter().all(u8::is_ascii_digit)
                    && b[end + 4..end + 6].iter().all(u8::is_ascii_digit) =>
            {
                let h = num(&b[end + 1..end + 3]) as i32;
                let m = num(&b[end + 4..end + 6]) as i32;
                let sign = if c == b'-' { -1 } else { 1 };
                offset = Some(sign * (h * 3600 + m * 60));
                end += 6;
            }
            _ => {}
        }
        if (1..=12).contains(&month) && (1..=31).contains(&day) {
            return (
                Stamp::Civil {
                    year,
                    month,
                    day,
                    secs,
                    nanos,
                    offset,
                },
                &s[end..],
            );
        }
    }
    // multilog TAI64N: `@4000000065e9a1d2 0a1b2c3d`
    if b.len() >= 25 && b[0] == b'@' && b[1..25].iter().all(u8::is_ascii_hexdigit) {
        let tai = u64::from_str_radix(&s[1..17], 16).unwrap_or(0);
        let nanos = u32::from_str_radix(&s[17..25], 16).unwrap_or(0);
        let secs = tai.wrapping_sub(1 << 62) as i64 - 10;
        return (Stamp::Unix { secs, nanos }, &s[25..]);
    }
    (Stamp::None, s)
}

/// `hh:mm:ss[.frac]` at `i`: seconds since midnight, nanoseconds, and the end.
fn clock(b: &[u8], i: usize) -> Option<(u32, u32, usize)> {
    let t = b.get(i..i + 8)?;
    if !(t[2] == b':' && t[5] == b':') {
        return None;
    }
    let digits = [t[0], t[1], t[3], t[4], t[6], t[7]];
    if !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let (h, m, s) = (num(&t[0..2]), num(&t[3..5]), num(&t[6..8]));
    if h > 23 || m > 59 || s > 60 {
        return None;
    }
    let mut end = i + 8;
    let mut nanos = 0u32;
    if matches!(b.get(end), Some(b'.') | Some(b',')) {
        let n = b[end + 1..]
            .iter()
            .take_while(|c| c.is_ascii_digit())
            .count();
        let mut scale = 100_000_000u32;
        for &c in &b[end + 1..end + 1 + n.min(9)] {
            nanos += u32::from(c - b'0') * scale;
            scale /= 10;
        }
        end += 1 + n;
    }
    Some((h * 3600 + m * 60 + s.min(59), nanos, end))
}

fn num(b: &[u8]) -> u32 {
    b.iter().fold(0, |n, c| n * 10 + u32::from(c - b'0'))
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_broken_offset_with_multibyte_text_is_no_stamp() {
        // Found by fuzzing: "+00:" followed by non-ASCII bytes once sliced inside a character.
        let line = "2026-11-28T10:15:02+00:\u{fffd}\u{fffd}00  stfix/smtp[1]: x";
        let _ = stamp(line);
        let _ = Line::parse(line);
    }

    use super::*;

    #[test]
    fn space_finds_the_first() {
        let texts = [
            "",
            " ",
            "a",
            "abcdefgh",
            "abcdefg ",
            "abcdefgh ",
            "a b c",
            "\u{a0} x",
            "ÿÿÿÿ   ",
        ];
        for t in texts {
            assert_eq!(space(t.as_bytes()), t.find(' '), "{t:?}");
        }
        let long = "x".repeat(40);
        for i in 0..40 {
            let mut s = long.clone().into_bytes();
            s[i] = b' ';
            s[(i + 3).min(39)] = b' ';
            assert_eq!(space(&s), Some(i));
        }
    }

    #[test]
    fn classic_reads_as_the_general_reader() {
        let lines = [
            "Mar  7 02:09:33 mx postfix/smtpd[27246]: connect from x[1.2.3.4]",
            "Mar 17 23:59:60 mx postfix/qmgr[1]: ABCDE12345: removed",
            "Dec 07 00:00:00 mx.example.org /usr/sbin/postfix[123456789]: x",
            "Jan  1 00:00:01 mx postfix/smtpd[10886]:",
            "Jan  1 00:00:01 mx postfix/smtpd[10886]:   spaced",
            "Jan  1 00:00:01 mx  postfix/smtpd[10886]: two spaces",
            "Jan  1 00:00:01  mx postfix/smtpd[10886]: two spaces",
            "Jan  1 24:00:01 mx postfix/smtpd[10886]: bad hour",
            "Jan  1 00:60:01 mx postfix/smtpd[10886]: bad minute",
            "Jan 1 00:00:01 mx postfix/smtpd[10886]: one space",
            "Jan  1 00:00:01.5 mx postfix/smtpd[10886]: fraction",
            "Jan  1 00:00:01 <mail.info> mx postfix/smtpd[10886]: tag",
            "Jan  1 00:00:01 [mx] postfix/smtpd[10886]: bracket",
            "Jan  1 00:00:01 mx: postfix/smtpd[10886]: colon",
            "Jan  1 00:00:01 1pABCD-000123-AB postfix/smtpd[1]: exim id",
            "Jan  1 00:00:01 mx postfix/smtpd[+1]: plus",
            "Jan  1 00:00:01 mx postfix/smtpd[1234567890]: long pid",
            "Jan  1 00:00:01 mx postfix/smtpd[]: no pid",
            "Jan  1 00:00:01 mx [x][1]: bracket name",
            "Jan  1 00:00:01 mx 9x[1]: digit name",
            "Jan  1 00:00:01 mx a[b][1]: two brackets",
            "Jan  1 00:00:01 mx dovecot: imap-login: no pid",
            "Jxn  1 00:00:01 mx postfix/smtpd[1]: month",
            "Jan  x 00:00:01 mx postfix/smtpd[1]: day",
            "Jan x1 00:00:01 mx postfix/smtpd[1]: day",
            "Jan  1 0a:00:01 mx postfix/smtpd[1]: clock",
            "Jan  1 00:00:01 mx",
            "Jan  1 00:00:01 mx\u{a0}postfix/smtpd[1]: non-ASCII",
        ];
        let mut fast = 0;
        for l in lines {
            if let Some(c) = classic(l) {
                fast += 1;
                assert_eq!(Some(c), Line::general(l), "{l}");
            }
        }
        assert_eq!(fast, 7);
    }

    #[test]
    fn envelopes() {
        let l = Line::parse("Mar  7 02:09:33 mx postfix/smtpd[27246]: connect from x[1.2.3.4]")
            .unwrap();
        assert_eq!(l.host.as_deref(), Some("mx"));
        assert_eq!(l.program.as_deref(), Some("postfix/smtpd"));
        assert_eq!(l.pid, Some(27246));
        assert_eq!(l.message, "connect from x[1.2.3.4]");
        assert!(matches!(
            l.stamp,
            Stamp::Classic {
                month: 3,
                day: 7,
                secs: 7773,
                ..
            }
        ));

        let l =
            Line::parse("2024-03-07T02:09:33.250+01:00 mx postfix/qmgr[1]: ABCDE12345: removed")
                .unwrap();
        assert!(matches!(
            l.stamp,
            Stamp::Civil {
                offset: Some(3600),
                nanos: 250_000_000,
                ..
            }
        ));
        assert_eq!(l.message, "ABCDE12345: removed");

        let l = Line::parse("2013-06-10 18:33:32 [10099] H=(x) [1.2.3.4] rejected").unwrap();
        assert_eq!(l.program, None);
        assert_eq!(l.pid, Some(10099));
        assert_eq!(l.message, "H=(x) [1.2.3.4] rejected");

        let l = Line::parse("Jan 29 09:33:58 pop3-login: Info: Aborted login").unwrap();
        assert_eq!(l.program.as_deref(), Some("pop3-login"));
        assert_eq!(l.host, None);

        let l = Line::parse("Jun 17 14:37:39 <mail.notice> robin sm-mta[2794]: x").unwrap();
        assert_eq!(l.program.as_deref(), Some("sm-mta"));

        let l = Line::parse(r#"{"MESSAGE":"connect from a[1.2.3.4]","SYSLOG_IDENTIFIER":"postfix/smtpd","_PID":"7","_HOSTNAME":"mx","__REALTIME_TIMESTAMP":"1700000000123456"}"#).unwrap();
        assert_eq!(
            l.stamp,
            Stamp::Unix {
                secs: 1_700_000_000,
                nanos: 123_456_000
            }
        );
        assert_eq!(l.program.as_deref(), Some("postfix/smtpd"));
        assert_eq!(l.pid, Some(7));
    }
}
