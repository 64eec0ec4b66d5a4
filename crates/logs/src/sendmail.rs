//! Sendmail: envelope lines (`from=`, `to=` with `stat=`), `ruleset=` rejections, AUTH
//! failures, `possible SMTP attack`, EXPN/VRFY refusals, pregreeting, clients that never sent
//! MAIL, lost input channels and STARTTLS errors.

use crate::scan::{after, find, has, kv, postfix_qid, reply_codes, strip_v6, word};
use crate::{Event, Kind, Level, Reason, Server};

/// Reads a Sendmail message.
pub fn parse<'a>(program: &'a str, message: &'a str) -> Option<Event<'a>> {
    let mut e = Event::new(Server::Sendmail, program);
    let mut m = message;
    if let Some((qid, rest)) = sendmail_qid(m) {
        e.queue_id = Some(qid);
        m = rest;
    }
    if m.starts_with("from=") {
        e.from = kv(m, "from");
        e.size = kv(m, "size").and_then(|s| s.parse().ok());
        e.nrcpt = kv(m, "nrcpts").and_then(|s| s.parse().ok());
        e.message_id = kv(m, "msgid");
        relay(&mut e, m);
        if e.nrcpt == Some(0) {
            // Every recipient was refused (the refusals are logged before, often without the
            // client's address).
            // Suspicious only: the refusals were counted on their own lines.
            e.reply = Some("no recipient accepted");
            e.set(Kind::Rejected, Level::Suspicious);
        } else {
            e.set(Kind::Received, Level::Info);
        }
    } else if m.starts_with("to=") {
        e.to = kv(m, "to");
        e.delay = kv(m, "delay");
        e.dsn = kv(m, "dsn");
        relay(&mut e, m);
        e.relay = kv(m, "relay");
        let stat = after(m, "stat=").unwrap_or("");
        e.reply = Some(stat);
        let (kind, level, status) = if stat.starts_with("Sent") {
            (Kind::Delivered, Level::Info, "sent")
        } else if stat.starts_with("Deferred") || e.dsn.is_some_and(|d| d.starts_with('4')) {
            (Kind::Deferred, Level::Failure, "deferred")
        } else {
            (Kind::Bounced, Level::Failure, "bounced")
        };
        e.status = Some(status);
        if level == Level::Failure {
            e.reason = Some(Reason::of(stat));
        }
        e.set(kind, level);
    } else if m.starts_with("ruleset=") {
        let ruleset = kv(m, "ruleset").unwrap_or("");
        let arg1 = kv(m, "arg1");
        match ruleset {
            "check_rcpt" => e.to = arg1,
            "check_mail" => e.from = arg1,
            "check_relay" => e.ip = kv(m, "arg2"),
            _ => {}
        }
        relay(&mut e, m);
        let text = after(m, "reject=").unwrap_or(m);
        e.reply = Some(text);
        e.dsn = reply_codes(text).1;
        e.reason = Some(Reason::of(text));
        e.stage = Some(match ruleset {
            "check_rcpt" => "RCPT",
            "check_mail" => "MAIL",
            "check_relay" => "CONNECT",
            _ => ruleset,
        });
        let kind = if has(text, "rate limit") {
            Kind::RateLimited
        } else {
            Kind::Rejected
        };
        e.set(kind, Level::Failure);
    } else if let Some(r) = m.strip_prefix("AUTH failure (") {
        e.method = Some(&r[..r.find(')').unwrap_or(0)]);
        e.user = kv(m, "user");
        // The last `relay=` is the client (a forged one may come first).
        if let Some(i) = m.rfind("relay=") {
            host_and_ip(&mut e, &m[i + 6..]);
        }
        e.reply = Some(m);
        e.set(Kind::AuthFailed, Level::Failure);
    } else if let Some(i) = find(m, "possible SMTP attack") {
        host_and_ip(&mut e, &m[..i]);
        e.reply = Some(&m[i..]);
        let kind = if has(m, "command=AUTH") {
            Kind::AuthFailed
        } else {
            Kind::Protocol
        };
        e.set(kind, Level::Failure);
    } else if let Some(i) = find(m, " did not issue MAIL/EXPN/VRFY/ETRN") {
        host_and_ip(&mut e, &m[..i]);
        e.reply = Some(m);
        e.set(Kind::NoAuth, Level::Suspicious);
    } else if let Some(r) = m.strip_prefix("lost input channel from ") {
        host_and_ip(&mut e, r);
        e.stage = after(r, " after ").map(word);
        e.reply = Some(m);
        e.set(Kind::LostConnection, Level::Suspicious);
    } else if let Some(r) = m.strip_prefix("rejecting commands from ") {
        host_and_ip(&mut e, r);
        e.reply = Some(m);
        e.reason = Some(Reason::Protocol);
        e.set(Kind::Protocol, Level::Failure);
    } else if m.ends_with("[rejected]")
        && (has(m, "EXPN") || has(m, "VRFY") || has(m, "expn") || has(m, "vrfy"))
    {
        host_and_ip(&mut e, m);
        e.reply = Some(m);
        e.stage = Some(if has(m, "EXPN") || has(m, "expn") {
            "EXPN"
        } else {
            "VRFY"
        });
        e.reason = Some(Reason::Protocol);
        e.set(Kind::Rejected, Level::Failure);
    } else if m.starts_with("STARTTLS") && has(m, "error") {
        relay(&mut e, m);
        e.reply = Some(m);
        e.set(Kind::TlsFailed, Level::Suspicious);
    } else if let Some(r) = m.strip_prefix("timeout waiting for input from ") {
        host_and_ip(&mut e, r);
        e.reply = Some(m);
        e.set(Kind::LostConnection, Level::Suspicious);
    } else if m.starts_with('<') && has(m, ">... ") {
        // `<user@example>... User unknown`: a refused recipient (the client is on another line).
        let to = &m[1..m.find('>').unwrap_or(1)];
        e.to = Some(to);
        let text = after(m, "... ").unwrap_or(m);
        e.reply = Some(text);
        e.reason = Some(Reason::of(text));
        e.set(Kind::Rejected, Level::Failure);
    } else if m.starts_with("STARTTLS=") {
        e.set(Kind::Tls, Level::Info);
    } else {
        e.set(Kind::Other, Level::Info);
    }
    Some(e)
}

/// A Sendmail queue id (`s1GNXHYB005133`, 14 characters) followed by `: `.
fn sendmail_qid(s: &str) -> Option<(&str, &str)> {
    let b = s.as_bytes();
    let n = b.iter().take_while(|c| c.is_ascii_alphanumeric()).count();
    if (12..=16).contains(&n) && b.get(n) == Some(&b':') && b.get(n + 1) == Some(&b' ') {
        return Some((&s[..n], &s[n + 2..]));
    }
    postfix_qid(s)
}

/// `relay=name [ip] (may be forged)` or `relay=[ip]`.
fn relay<'a>(e: &mut Event<'a>, m: &'a str) {
    if let Some(i) = m.rfind("relay=") {
        host_and_ip(e, &m[i + 6..]);
    }
}

/// `name [ip]`, `[ip]` or `name. [ip]`: the first bracketed address.
fn host_and_ip<'a>(e: &mut Event<'a>, s: &'a str) {
    let s = s.trim_start();
    if let Some(open) = s.find('[')
        && let Some(close) = s[open..].find(']')
    {
        let ip = strip_v6(&s[open + 1..open + close]);
        if crate::scan::is_ip(ip) {
            e.ip = Some(ip);
            let name = s[..open].trim();
            if !name.is_empty() && !name.contains(' ') {
                e.host = Some(name.trim_end_matches('.'));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sendmail_lines() {
        let e = parse("sm-mta", "s1N706jo003992: ruleset=check_rcpt, arg1=<a@b.example>, relay=[192.0.2.8], reject=550 5.7.1 <a@b.example>... Relaying denied").unwrap();
        assert_eq!(
            (e.kind, e.ip, e.to, e.reason),
            (
                Some(Kind::Rejected),
                Some("192.0.2.8"),
                Some("a@b.example"),
                Some(Reason::Relay)
            )
        );
        let e = parse("sendmail", "06I02CNi016765: AUTH failure (LOGIN): authentication failure (-13) SASL(-13): authentication failure: checkpass failed, user=bob, relay=[192.0.2.100], relay=[192.0.2.4] (may be forged)").unwrap();
        assert_eq!(
            (e.kind, e.ip, e.user),
            (Some(Kind::AuthFailed), Some("192.0.2.4"), Some("bob"))
        );
    }
}
