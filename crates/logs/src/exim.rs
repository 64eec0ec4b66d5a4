//! Exim's main and reject logs: the message flags (`<=` arrival, `=>` delivery, `->` another
//! address of the same delivery, `*>` suppressed, `**` failed, `==` deferred, `Completed`),
//! rejections (`rejected RCPT`, `rejected after DATA`, `sender verify fail`, ACL drops),
//! authenticator failures, protocol errors, TLS errors and lost connections.

use crate::scan::{after, find, has, kv, reply_codes, strip_v6, word};
use crate::{Event, Kind, Level, Reason, Server};

/// Reads an Exim log message (after the time stamp and the optional `[pid]`).
pub fn parse(message: &str) -> Option<Event<'_>> {
    let mut e = Event::new(Server::Exim, "exim");
    let mut m = message;
    // A journald or syslog copy may repeat the stamp and `[pid]` in the message.
    if let (crate::Stamp::Civil { .. }, rest) = crate::prefix::stamp(m) {
        m = rest.trim_start();
    }
    if m.starts_with('[')
        && let Some(end) = m.find("] ")
        && m[1..end].bytes().all(|c| c.is_ascii_digit())
    {
        m = &m[end + 2..];
    }
    if let Some((id, rest)) = message_id(m) {
        e.queue_id = Some(id);
        m = rest;
        if flagged(&mut e, m) {
            return Some(e);
        }
    }
    other(&mut e, m);
    e.kind.is_some().then_some(e)
}

/// An Exim message id at the start: `1UlasQ-0003fr-45` (6-6-2) or `10HmaX-000000005vi-0000`
/// (6-11-4).
pub fn message_id(s: &str) -> Option<(&str, &str)> {
    let b = s.as_bytes();
    for (len, d1, d2) in [(16usize, 6usize, 13usize), (23, 6, 18)] {
        if b.len() >= len
            && b[d1] == b'-'
            && b[d2] == b'-'
            && b.get(len).is_none_or(|&c| c == b' ')
            && b[..len]
                .iter()
                .enumerate()
                .all(|(i, c)| i == d1 || i == d2 || c.is_ascii_alphanumeric())
        {
            return Some((&s[..len], s.get(len + 1..).unwrap_or("")));
        }
    }
    None
}

/// The flag lines of a message. `false` when the line is not one.
fn flagged<'a>(e: &mut Event<'a>, m: &'a str) -> bool {
    let (flag, rest) = (m.get(..2).unwrap_or(""), m.get(3..).unwrap_or(""));
    match flag {
        "<=" | "(=" => {
            e.from = Some(word(rest).trim_matches(['<', '>']));
            if e.from == Some("<>") {
                e.from = Some("");
            }
            host_of(e, rest);
            e.size = kv(rest, "S").and_then(|s| s.parse().ok());
            e.message_id = kv(rest, "id");
            if let Some(a) = kv(rest, "A") {
                e.user = Some(a.split_once(':').map_or(a, |(_, u)| u));
                e.method = Some(a.split_once(':').map_or(a, |(m, _)| m));
            }
            if e.user.is_none() {
                e.user = kv(rest, "U");
            }
            e.set(Kind::Received, Level::Info);
        }
        "=>" | "->" | "*>" | ">>" => {
            recipient(e, rest);
            e.relay = kv(rest, "T");
            host_of(e, rest);
            e.reply = after(rest, "C=\"").map(|c| c.trim_end_matches('"'));
            if let Some(c) = e.reply {
                e.dsn = reply_codes(c).1;
                e.queued_as = after(c, "queued as ").map(word);
            }
            e.status = Some("sent");
            e.set(Kind::Delivered, Level::Info);
        }
        "**" => {
            recipient(e, rest);
            e.relay = kv(rest, "T");
            host_of(e, rest);
            let why = reason(rest);
            e.reply = Some(why);
            e.dsn = dsn_in(why);
            e.reason = Some(Reason::of(why));
            e.status = Some("bounced");
            e.set(Kind::Bounced, Level::Failure);
        }
        "==" => {
            recipient(e, rest);
            e.relay = kv(rest, "T");
            host_of(e, rest);
            let why = reason(rest);
            e.reply = Some(why);
            e.dsn = dsn_in(why);
            e.reason = Some(Reason::of(why));
            e.status = Some("deferred");
            e.set(Kind::Deferred, Level::Failure);
        }
        _ => {
            if m.starts_with("Completed") {
                e.set(Kind::Removed, Level::Info);
            } else if m.starts_with("Frozen") || m.starts_with("Message is frozen") {
                e.reply = Some(m);
                e.set(Kind::Frozen, Level::Info);
            } else if m.starts_with("SA: Action: ") {
                e.reply = Some(m);
                if let Some(h) = after(m, "(host=") {
                    bracket_ip(e, h);
                }
                e.reason = Some(Reason::Content);
                e.set(Kind::Rejected, Level::Failure);
            } else {
                return false;
            }
        }
    }
    true
}

fn recipient<'a>(e: &mut Event<'a>, rest: &'a str) {
    let to = word(rest);
    e.to = Some(to.trim_matches(['<', '>']));
    if let Some(o) = rest[to.len()..].trim_start().strip_prefix('<') {
        e.orig_to = Some(&o[..o.find('>').unwrap_or(o.len())]);
    }
}

/// The reason after the last field of a `**` or `==` line: `... : reason` or `defer (-44): reason`.
fn reason(rest: &str) -> &str {
    if let Some(i) = find(rest, "): ") {
        return &rest[i + 3..];
    }
    if let Some(i) = find(rest, ": ") {
        return &rest[i + 2..];
    }
    rest
}

/// The first enhanced status code in a reason (`... 550 5.1.1 unknown` → `5.1.1`).
fn dsn_in(s: &str) -> Option<&str> {
    let b = s.as_bytes();
    (0..b.len())
        .filter(|&i| {
            matches!(b[i], b'4' | b'5') && (i == 0 || matches!(b[i - 1], b' ' | b'-' | b'(' | b'#'))
        })
        .find_map(|i| reply_codes(&s[i..]).1)
}

/// `H=name (helo) [ip]:port` (and Sendmail-style `name [ip]`): the client's name, HELO and IP.
fn host_of<'a>(e: &mut Event<'a>, s: &'a str) {
    if let Some(h) = after(s, "H=") {
        if !h.starts_with('[') && !h.starts_with('(') {
            e.host = Some(word(h));
        }
        if let Some(o) = h.find('(')
            && o < h.find('[').unwrap_or(usize::MAX)
        {
            let r = &h[o + 1..];
            e.helo = Some(&r[..r.find(')').unwrap_or(r.len())]);
        }
        bracket_ip(e, h);
    }
}

/// The first `[ip]` outside parentheses, and the `:port` after it.
fn bracket_ip<'a>(e: &mut Event<'a>, s: &'a str) -> bool {
    let b = s.as_bytes();
    let mut depth = 0i32;
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'(' => depth += 1,
            b')' => depth -= 1,
            b'"' => return false,
            b'[' if depth <= 0 && (i == 0 || matches!(b[i - 1], b' ' | b'=')) => {
                if i >= 2 && &b[i - 2..i] == b"I=" {
                    i += 1;
                    continue;
                }
                if let Some(close) = s[i..].find(']') {
                    let ip = strip_v6(&s[i + 1..i + close]);
                    if crate::scan::is_ip(ip) {
                        e.ip = Some(ip);
                        let after = &s[i + close + 1..];
                        if let Some(p) = after.strip_prefix(':') {
                            let n = p.bytes().take_while(u8::is_ascii_digit).count();
                            if n > 0 {
                                e.port = Some(&p[..n]);
                            }
                        }
                        return true;
                    }
                }
            }
            _ => {}
        }
        i += 1;
    }
    false
}

/// Lines that are not a message's flags.
fn other<'a>(e: &mut Event<'a>, m: &'a str) {
    if let Some(i) = find(m, " authenticator failed") {
        let r = m[i + 21..].trim_start();
        let r = r.strip_prefix("for ").unwrap_or(r);
        let r = r.strip_prefix("H=").unwrap_or(r);
        e.method = Some(word(m));
        if !r.starts_with('(') && !r.starts_with('[') {
            e.host = Some(word(r));
        }
        bracket_ip(e, r);
        e.user = after(r, "(set_id=").map(|u| &u[..u.find(')').unwrap_or(u.len())]);
        let text = r
            .find("]: ")
            .map(|j| &r[j + 3..])
            .or_else(|| after(r, ": "));
        e.reply = text;
        e.reason = Some(Reason::Other);
        e.set(Kind::AuthFailed, Level::Failure);
        return;
    }
    if (has(m, "H=") || has(m, "U=") || m.starts_with("rejected "))
        && (has(m, "rejected ") || has(m, "sender verify fail") || has(m, " dropped by "))
        && !has(m, "SMTP protocol")
    {
        host_of(e, m);
        e.from = after(m, " F=").map(|f| word(f).trim_matches(['<', '>']));
        if let Some(r) = after(m, "rejected RCPT ") {
            e.stage = Some("RCPT");
            e.to = Some(word(r).trim_matches(['<', '>', ':']));
        } else if let Some(r) = after(m, "rejected ") {
            let w = word(r);
            e.stage = Some(if w == "after" {
                "DATA"
            } else {
                w.trim_end_matches(':')
            });
        }
        let text = m
            .find("rejected ")
            .and_then(|i| m[i..].find(": ").map(|j| &m[i + j + 2..]))
            .or_else(|| after(m, "sender verify fail"))
            .or_else(|| after(m, " dropped by "))
            .unwrap_or(m);
        e.reply = Some(text);
        e.reason = Some(if has(m, "sender verify fail") {
            Reason::Sender
        } else {
            Reason::of(m)
        });
        let level = if has(m, " dropped by 'connect' ACL")
            || has(m, "rejected connection") && !has(m, "synchronization")
        {
            Level::Suspicious
        } else {
            Level::Failure
        };
        e.set(Kind::Rejected, level);
        return;
    }
    if has(m, "SMTP protocol synchronization error")
        || has(m, "SMTP protocol error in")
        || has(m, "SMTP syntax error in")
    {
        if !host_in(e, m) {
            bracket_ip(e, m);
        }
        e.reply = Some(m);
        e.reason = Some(Reason::Protocol);
        e.set(Kind::Protocol, Level::Failure);
        return;
    }
    if let Some(r) = m.strip_prefix("SMTP call from ") {
        bracket_ip(e, r);
        e.reply = Some(m);
        e.reason = Some(Reason::Protocol);
        if has(m, " dropped: ") {
            e.set(Kind::Protocol, Level::Failure);
        } else {
            e.set(Kind::Other, Level::Info);
        }
        return;
    }
    if let Some(r) = m.strip_prefix("SMTP connection from ") {
        bracket_ip(e, r);
        e.reply = Some(m);
        if has(m, "closed by DROP in ACL") || has(m, "dropped") {
            e.set(Kind::Rejected, Level::Failure);
        } else if has(m, " lost") || has(m, "timeout") || has(m, "closed by QUIT") {
            if has(m, "closed by QUIT") {
                e.set(Kind::Disconnect, Level::Info);
            } else {
                e.set(Kind::LostConnection, Level::Suspicious);
            }
        } else {
            e.set(Kind::Connect, Level::Info);
        }
        return;
    }
    if let Some(r) = m
        .strip_prefix("no MAIL in SMTP connection from ")
        .or_else(|| m.strip_prefix("no MAIL in SMTPS connection from "))
    {
        bracket_ip(e, r);
        e.reply = Some(m);
        e.set(Kind::NoAuth, Level::Suspicious);
        return;
    }
    if m.starts_with("SMTP command timeout on")
        || m.starts_with("SMTP data timeout")
        || m.starts_with("unexpected disconnection while reading SMTP command from ")
    {
        if let Some(f) = after(m, " from ") {
            bracket_ip(e, f);
        }
        e.reply = Some(m);
        e.set(Kind::LostConnection, Level::Suspicious);
        return;
    }
    if has(m, "TLS error on connection") || has(m, "TLS session: ") && has(m, "error") {
        if let Some(f) = after(m, "TLS error on connection from ")
            .or_else(|| after(m, "TLS error on connection to "))
        {
            if !f.starts_with('[') && !f.starts_with('(') {
                e.host = Some(word(f));
            }
            bracket_ip(e, f);
        } else {
            host_of(e, m);
        }
        e.reply = Some(m);
        e.set(Kind::TlsFailed, Level::Suspicious);
        return;
    }
    if let Some(ip) = m.strip_prefix("no host name found for IP address ") {
        e.ip = Some(word(ip));
        e.set(Kind::DnsMismatch, Level::Suspicious);
        return;
    }
    if m.starts_with("no IP address found for host ")
        || has(m, "does not match") && has(m, "IP address")
    {
        if let Some(f) = after(m, "connection from ") {
            bracket_ip(e, f);
        }
        e.set(Kind::DnsMismatch, Level::Suspicious);
        return;
    }
    if has(m, "rejected by local_scan()") || has(m, "rejected after DATA") {
        host_of(e, m);
        e.from = after(m, " F=").map(|f| word(f).trim_matches(['<', '>']));
        e.reply = after(m, ": ").or(Some(m));
        e.reason = Some(Reason::Content);
        e.set(Kind::Rejected, Level::Failure);
        return;
    }
    if m.starts_with("Start queue run")
        || m.starts_with("End queue run")
        || m.starts_with("exim ")
        || m.starts_with("cwd=")
    {
        e.set(Kind::Other, Level::Info);
    }
}

/// `H=...` in a line: true when it named an IP.
fn host_in<'a>(e: &mut Event<'a>, m: &'a str) -> bool {
    // The last `H=` names the client (a quoted command may contain a forged one).
    if let Some(i) = m.rfind(" H=") {
        host_of(e, &m[i..]);
        return e.ip.is_some();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_and_failures() {
        let e = parse("10HmaX-000000005vi-0000 <= someone@some.domain H=(x) [192.0.2.1]:25 P=esmtpa A=login:bob S=1234 id=abc@x").unwrap();
        assert_eq!(e.kind, Some(Kind::Received));
        assert_eq!(
            (e.from, e.ip, e.user, e.size),
            (
                Some("someone@some.domain"),
                Some("192.0.2.1"),
                Some("bob"),
                Some(1234)
            )
        );
        let e = parse("1UlasQ-0003fr-45 ** a@b.example R=dnslookup T=remote_smtp H=mx.b.example [198.51.100.1]: SMTP error from remote mail server after RCPT TO:<a@b.example>: 550 5.1.1 unknown").unwrap();
        assert_eq!(e.kind, Some(Kind::Bounced));
        assert_eq!(e.dsn, Some("5.1.1"));
        let e = parse("login authenticator failed for h.example (USER) [192.0.2.9]:587 I=[10.0.0.1]:587: 535 Incorrect authentication data (set_id=bob)").unwrap();
        assert_eq!(
            (e.kind, e.ip, e.user),
            (Some(Kind::AuthFailed), Some("192.0.2.9"), Some("bob"))
        );
    }
}
