//! Postfix messages, per daemon: smtpd, postscreen, cleanup, qmgr, the delivery agents (smtp,
//! lmtp, local, virtual, pipe, error, retry, discard), bounce, pickup, and the warnings, fatal
//! errors and panics any of them writes.

use crate::scan::{
    after, dsn_at, find, has, host_ip, kv, kvs, paren_tail, postfix_qid, reply_codes, value, word,
};
use crate::{Event, Kind, Level, Reason, Server};

/// Reads the message of a Postfix `daemon` (the last part of the program name:
/// `postfix/submission/smtpd` → `smtpd`).
pub fn parse<'a>(daemon: &'a str, message: &'a str) -> Option<Event<'a>> {
    let mut e = Event::new(Server::Postfix, daemon);
    fill(&mut e, daemon, message).then_some(e)
}

/// [`parse`] into an event made by the caller (no copy of it on the way back); whether the
/// line was read.
pub(crate) fn fill<'a>(e: &mut Event<'a>, daemon: &'a str, message: &'a str) -> bool {
    let e = &mut *e;
    let mut m = message;
    if let Some((qid, rest)) = postfix_qid(m) {
        e.queue_id = Some(qid);
        m = rest;
    } else if let Some(rest) = m.strip_prefix("NOQUEUE: ") {
        m = rest;
    }
    match daemon {
        "smtpd" => smtpd(e, m),
        "postscreen" | "tlsproxy" => postscreen(e, m),
        "cleanup" => cleanup(e, m),
        "qmgr" | "nqmgr" | "oqmgr" => qmgr(e, m),
        "smtp" | "lmtp" | "local" | "virtual" | "pipe" | "error" | "retry" | "discard"
        | "relay" => delivery(e, m),
        "bounce" => bounce(e, m),
        "pickup" => {
            if let Some(from) = kv(m, "from") {
                e.from = Some(from);
                e.user = kv(m, "uid");
                e.set(Kind::Received, Level::Info);
            } else {
                general(e, m);
            }
        }
        _ => general(e, m),
    }
    e.kind.is_some()
}

/// The daemon a message body without its program name most likely came from, by its shape.
pub fn guess_daemon(message: &str) -> &'static str {
    let m = postfix_qid(message).map_or(message, |(_, r)| r);
    if m.starts_with("to=")
        || m.starts_with("connect to ")
        || m.starts_with("host ")
        || m.starts_with("lost connection with ")
        || m.starts_with("conversation with ")
        || m.starts_with("SSL_connect")
    {
        "smtp"
    } else if m.starts_with("from=") || m == "removed" {
        "qmgr"
    } else if m.starts_with("client=")
        || m.starts_with("connect from ")
        || m.starts_with("disconnect from ")
    {
        "smtpd"
    } else if m.starts_with("message-id=") || m.starts_with("resent-message-id=") {
        "cleanup"
    } else if m.starts_with("uid=") {
        "pickup"
    } else if has(m, " notification: ") {
        "bounce"
    } else if m.starts_with("PASS ")
        || m.starts_with("WHITELISTED ")
        || m.starts_with("CONNECT from [")
    {
        "postscreen"
    } else {
        "master"
    }
}

/// Warnings, fatal errors and panics of any daemon, and the few lines every daemon shares.
fn general<'a>(e: &mut Event<'a>, m: &'a str) {
    if let Some(w) = m.strip_prefix("warning: ") {
        warning(e, w);
    } else if m.starts_with("fatal: ") || m.starts_with("panic: ") || m.starts_with("error: ") {
        e.reply = Some(m);
        e.set(Kind::Fatal, Level::Info);
    } else if m.starts_with("statistics:") || m.starts_with("daemon started") {
        e.set(Kind::Other, Level::Info);
        if let Some(svc) = after(m, " for (") {
            // anvil: `for (smtpd:1.2.3.4)` or, for an inet service, `(127.0.0.1:2525:1.2.3.4)`
            let svc = &svc[..svc.find(')').unwrap_or(svc.len())];
            let cut = if svc.starts_with(|c: char| c.is_ascii_alphabetic()) {
                svc.find(':')
            } else {
                svc.find(':')
                    .and_then(|i| svc[i + 1..].find(':').map(|j| i + 1 + j))
            };
            if let Some(c) = cut {
                e.ip = Some(&svc[c + 1..]);
            }
        }
    } else if let Some(a) = m.strip_prefix("addr ") {
        // dnsblog: `addr 1.2.3.4 listed by domain zen.example as 127.0.0.2`
        e.ip = Some(word(a));
        e.reason = Some(Reason::Rbl);
        e.reply = Some(m);
        e.set(Kind::Blocked, Level::Info);
    } else {
        e.set(Kind::Other, Level::Info);
    }
}

fn warning<'a>(e: &mut Event<'a>, w: &'a str) {
    let w = match postfix_qid(w) {
        Some((qid, rest)) => {
            e.queue_id = Some(qid);
            rest
        }
        None => w,
    };
    e.reply = Some(w);
    if let Some(at) = find(w, ": SASL ") {
        // `host[ip](:port)?: SASL LOGIN authentication failed: reason(, sasl_username=u)?`
        if let Some((host, ip, port, _)) = host_ip(&w[..at]) {
            e.host = Some(host);
            e.ip = Some(ip);
            e.port = port;
        }
        let rest = &w[at + 7..];
        e.method = Some(word(rest));
        e.user = kv(rest, "sasl_username");
        if has(rest, "authentication failed") {
            let why = after(rest, "authentication failed:").unwrap_or("").trim();
            e.reply = Some(why);
            if has(why, "Connection lost to authentication server") {
                // The server's own authentication backend failed, not the client.
                e.set(Kind::Warning, Level::Info);
            } else if has(why, "Invalid authentication mechanism") {
                e.set(Kind::AuthFailed, Level::Suspicious);
            } else {
                e.set(Kind::AuthFailed, Level::Failure);
            }
            return;
        }
        e.set(Kind::Warning, Level::Info);
        return;
    }
    if let Some(rest) = w.strip_prefix("hostname ") {
        // `hostname bad.example.com does not resolve to address 192.0.2.44: ...`
        e.host = Some(word(rest));
        if let Some(a) = after(rest, "to address ") {
            e.ip = Some(a.split([':', ' ']).next().unwrap_or(a));
            if a.contains(':') && !has(a, ": ") {
                e.ip = Some(word(a));
            }
        }
        e.set(Kind::DnsMismatch, Level::Suspicious);
        return;
    }
    if has(w, "rate limit exceeded") || has(w, "count limit exceeded") {
        if let Some(f) = after(w, " from ")
            && let Some((host, ip, port, _)) = host_ip(f)
        {
            e.host = Some(host);
            e.ip = Some(ip);
            e.port = port;
        }
        e.set(Kind::RateLimited, Level::Failure);
        return;
    }
    if has(w, "TLS library problem") || has(w, "SSL_accept error") || has(w, "TLS handshake") {
        tls_failure(e, w);
        return;
    }
    if let Some(h) = w.strip_prefix("non-SMTP command from ") {
        client(e, h);
        e.set(Kind::Protocol, Level::Failure);
        return;
    }
    if let Some((host, ip, port, rest)) = host_ip(w)
        && !host.contains(':')
        && rest.starts_with(':')
    {
        e.host = Some(host);
        e.ip = Some(ip);
        e.port = port;
    }
    e.set(Kind::Warning, Level::Info);
}

fn tls_failure<'a>(e: &mut Event<'a>, w: &'a str) {
    e.reply = Some(w);
    if let Some(f) = after(w, " from ").or_else(|| after(w, " to ")) {
        client(e, f);
    }
    e.set(Kind::TlsFailed, Level::Suspicious);
}

/// `host[ip]:port` where a client is named.
fn client<'a>(e: &mut Event<'a>, s: &'a str) {
    if let Some((host, ip, port, _)) = host_ip(s) {
        e.host = Some(host);
        e.ip = Some(ip);
        e.port = port;
    }
}

fn smtpd<'a>(e: &mut Event<'a>, m: &'a str) {
    if let Some(c) = m.strip_prefix("client=") {
        client(e, c);
        [e.user, e.method] = kvs(m, ["sasl_username", "sasl_method"]);
        e.set(Kind::Received, Level::Info);
    } else if let Some(c) = m.strip_prefix("connect from ") {
        client(e, c);
        e.set(Kind::Connect, Level::Info);
    } else if let Some(c) = m.strip_prefix("disconnect from ") {
        client(e, c);
        // `ehlo=1 auth=0/1 quit=1 commands=2/3`: a command that failed as often as it was tried
        // (`auth=0/1`) is a failed session.
        let failed_auth = after(c, " auth=0/").is_some();
        e.stage = after(c, "] ").or_else(|| after(c, " "));
        e.set(
            Kind::Disconnect,
            if failed_auth {
                Level::Suspicious
            } else {
                Level::Info
            },
        );
    } else if let Some(r) = m
        .strip_prefix("lost connection after ")
        .or_else(|| m.strip_prefix("timeout after "))
    {
        e.stage = Some(word(r));
        if let Some(f) = after(r, " from ") {
            client(e, f);
        }
        e.reply = Some(m);
        e.set(Kind::LostConnection, Level::Suspicious);
    } else if m.starts_with("improper command pipelining after ")
        || m.starts_with("too many errors after ")
        || m.starts_with("bare <LF> received after ")
    {
        let r = &m[find(m, " after ").unwrap_or(0) + 7..];
        e.stage = Some(word(r));
        if let Some(f) = after(r, " from ") {
            client(e, f);
        }
        e.reply = Some(m);
        e.reason = Some(Reason::Protocol);
        e.set(Kind::Protocol, Level::Failure);
    } else if let Some(r) = action(m) {
        reject(e, r.0, r.1);
    } else if let Some(t) = tls_established(m) {
        client(e, t);
        tls_params(e, m);
        e.set(Kind::Tls, Level::Info);
    } else if m.starts_with("SSL_accept error from ") || m.starts_with("TLS handshake failed") {
        tls_failure(e, m);
    } else {
        general(e, m);
    }
}

/// `reject: ...`, `milter-reject: ...` and the other access-table actions.
fn action(m: &str) -> Option<(&str, &str)> {
    for a in [
        "reject: ",
        "milter-reject: ",
        "reject_warning: ",
        "discard: ",
        "hold: ",
        "milter-discard: ",
        "milter-hold: ",
        "filter: ",
        "redirect: ",
        "prepend: ",
        "warning: header ",
    ] {
        if let Some(r) = m.strip_prefix(a) {
            return Some((a.trim_end_matches([' ', ':']), r));
        }
    }
    None
}

/// `RCPT from host[ip]: 554 5.7.1 <x>: Relay access denied; from=<a> to=<b> proto=ESMTP helo=<h>`
/// (and cleanup's `header Subject: ... from host[ip]; from=<a> to=<b> ...: 5.7.1 text`).
fn reject<'a>(e: &mut Event<'a>, action: &'a str, r: &'a str) {
    let (kind, level) = match action {
        "reject" | "milter-reject" => (Kind::Rejected, Level::Failure),
        "reject_warning" => (Kind::RejectWarning, Level::Info),
        "discard" | "milter-discard" | "hold" | "milter-hold" => (Kind::Discarded, Level::Info),
        _ => (Kind::Other, Level::Info),
    };
    e.stage = Some(word(r));
    if let Some(f) = after(r, " from ") {
        client(e, f);
        // The reply follows `host[ip]: ` (smtpd) or `host[ip]:port: ` (postscreen).
        if let Some(close) = f.find(']') {
            let mut rest = &f[close + 1..];
            if let Some(p) = rest.strip_prefix(':') {
                let n = p.bytes().take_while(u8::is_ascii_digit).count();
                rest = &p[n..];
            }
            let rest = rest.trim_start_matches([':', ';', ' ']);
            let end = find(rest, "; from=").unwrap_or(rest.len());
            let text = &rest[..end];
            if !text.is_empty() {
                e.reply = Some(text);
            }
        }
    }
    [e.from, e.to, e.helo] = kvs(r, ["from", "to", "helo"]);
    if e.reply.is_none() || action == "milter-reject" && !has(e.reply.unwrap_or(""), " ") {
        // cleanup: `...; from=<a> to=<b> proto=ESMTP helo=<h>: 5.7.1 text`
        if let Some(h) = after(r, " helo=<")
            && let Some(t) = find(h, ">: ")
        {
            e.reply = Some(&h[t + 3..]);
        }
    }
    if let Some(text) = e.reply {
        let (_, dsn) = reply_codes(text);
        e.dsn = dsn.or_else(|| {
            let i = text.find(|c: char| c.is_ascii_digit())?;
            dsn_at(&text[i..])
        });
        e.reason = Some(Reason::of(text));
    }
    if kind == Kind::Rejected && e.reason == Some(Reason::Rbl) {
        e.set(Kind::Rejected, level);
    } else {
        e.set(kind, level);
    }
}

fn tls_established(m: &str) -> Option<&str> {
    let i = find(m, " TLS connection established ")?;
    let r = &m[i + 28..];
    r.strip_prefix("from ").or_else(|| r.strip_prefix("to "))
}

fn tls_params<'a>(e: &mut Event<'a>, m: &'a str) {
    if let Some(i) = find(m, " with cipher ") {
        let before = &m[..i];
        // A loop back from the end (the version is the last word): `rfind` would set up a
        // reverse search over the whole line's start.
        let start = before.bytes().rposition(|c| c == b' ').map_or(0, |j| j + 1);
        e.tls_version = Some(&before[start..]);
        e.tls_cipher = Some(word(&m[i + 13..]));
    }
}

fn postscreen<'a>(e: &mut Event<'a>, m: &'a str) {
    let head = word(m);
    let tail = &m[head.len()..].trim_start();
    let from_client = |e: &mut Event<'a>, s: &'a str| {
        // `from [ip]:port`, `OLD [ip]:port`, `rank 3 for [ip]:port`
        let at = find(s, " [").map_or(0, |i| i + 1);
        let at = if s.starts_with('[') { 0 } else { at };
        client(e, &s[at..]);
    };
    match head {
        "CONNECT" => {
            from_client(e, tail);
            e.set(Kind::Connect, Level::Info);
        }
        "DISCONNECT" | "PASS" | "WHITELISTED" | "ALLOWLISTED" | "WHITELIST" | "ALLOWLIST" => {
            from_client(e, tail);
            e.set(Kind::Other, Level::Info);
        }
        "PREGREET" | "HANGUP" | "BARE" | "NON-SMTP" | "COMMAND" => {
            from_client(e, tail);
            e.reply = Some(m);
            e.reason = Some(Reason::Protocol);
            e.stage = after(m, " after ").map(|a| word(a).trim_end_matches(':'));
            e.set(Kind::Protocol, Level::Suspicious);
            if head == "COMMAND" || head == "NON-SMTP" || head == "BARE" {
                e.set(Kind::Protocol, Level::Failure);
            }
        }
        "DNSBL" => {
            from_client(e, tail);
            e.reply = Some(m);
            e.reason = Some(Reason::Rbl);
            e.set(Kind::Blocked, Level::Suspicious);
        }
        "BLACKLISTED" | "DENYLISTED" => {
            from_client(e, tail);
            e.reply = Some(m);
            e.reason = Some(Reason::Client);
            e.set(Kind::Blocked, Level::Failure);
        }
        _ => {
            if let Some((a, r)) = action(m) {
                reject(e, a, r);
                // postscreen separates its fields with commas.
                e.from = kv(r, "from");
                e.to = kv(r, "to");
            } else if m.starts_with("warning: ") && has(m, "too many connections") {
                e.set(Kind::RateLimited, Level::Suspicious);
            } else {
                general(e, m);
            }
        }
    }
}

fn cleanup<'a>(e: &mut Event<'a>, m: &'a str) {
    if let Some(id) = m.strip_prefix("message-id=") {
        let id = id.trim_end();
        e.message_id = Some(if id.starts_with('<') { value(id) } else { id });
        e.set(Kind::MessageId, Level::Info);
    } else if let Some((a, r)) = action(m) {
        reject(e, a, r);
    } else if m.starts_with("resent-message-id=") {
        e.set(Kind::Other, Level::Info);
    } else {
        general(e, m);
    }
}

fn qmgr<'a>(e: &mut Event<'a>, m: &'a str) {
    if m == "removed" {
        e.set(Kind::Removed, Level::Info);
    } else if m.starts_with("from=") {
        let [from, size, nrcpt] = kvs(m, ["from", "size", "nrcpt"]);
        e.from = from;
        if has(m, "status=expired") {
            e.status = Some("expired");
            e.reply = paren_tail(m).or(Some("message expired"));
            e.set(Kind::Expired, Level::Failure);
        } else {
            e.size = size.and_then(|s| s.parse().ok());
            e.nrcpt = nrcpt.and_then(|s| s.parse().ok());
            e.set(Kind::Queued, Level::Info);
        }
    } else if m.starts_with("to=") {
        delivery(e, m);
    } else {
        general(e, m);
    }
}

fn delivery<'a>(e: &mut Event<'a>, m: &'a str) {
    if !m.starts_with("to=") {
        // smtp's own lines: connection failures, TLS, the remote's reply before the status.
        if let Some(r) = m.strip_prefix("connect to ") {
            client(e, r);
            e.relay = Some(relay_of(r));
            e.reply = Some(m);
            e.set(Kind::ConnectFailed, Level::Info);
        } else if m.starts_with("lost connection with ") || m.starts_with("conversation with ") {
            let r = &m[find(m, " with ").unwrap_or(0) + 6..];
            client(e, r);
            e.relay = Some(relay_of(r));
            e.reply = Some(m);
            e.set(Kind::LostConnection, Level::Info);
        } else if let Some(t) = tls_established(m) {
            client(e, t);
            e.relay = Some(relay_of(t));
            tls_params(e, m);
            e.set(Kind::Tls, Level::Info);
        } else if m.starts_with("SSL_connect error to ")
            || m.starts_with("certificate verification failed for ")
            || m.starts_with("server certificate verification failed for ")
        {
            tls_failure(e, m);
            if let Some(r) = after(m, " to ").or_else(|| after(m, " for ")) {
                e.relay = Some(relay_of(r));
            }
        } else if let Some(r) = after(m, "; server ")
            .or_else(|| after(m, " workarounds: ").and_then(|w| after(w, " for ")))
        {
            client(e, r);
            e.relay = Some(relay_of(r));
            e.reply = after(r, " said: ");
            e.set(
                if has(m, "SASL authentication failed") {
                    Kind::AuthFailed
                } else {
                    Kind::Other
                },
                Level::Info,
            );
        } else if let Some(r) = m.strip_prefix("host ") {
            client(e, r);
            e.relay = Some(relay_of(r));
            e.reply = after(r, " said: ").or_else(|| after(r, " refused to talk to me: "));
            e.stage = after(r, "(in reply to ").map(word);
            e.set(Kind::Other, Level::Info);
        } else {
            general(e, m);
        }
        return;
    }
    let [to, orig_to, relay, delay, delays, dsn, status] = kvs(
        m,
        ["to", "orig_to", "relay", "delay", "delays", "dsn", "status"],
    );
    e.to = to;
    e.orig_to = orig_to;
    e.relay = relay;
    if let Some(relay) = e.relay
        && let Some((_, ip, port, _)) = host_ip(relay)
    {
        e.ip = Some(ip);
        e.port = port;
    }
    e.delay = delay;
    e.delays = delays;
    e.dsn = dsn;
    e.status = status;
    if let Some(s) = after(m, "status=") {
        let text = paren_tail(s);
        e.reply = text;
        if let Some(t) = text {
            e.queued_as = after(t, "queued as ").map(|q| q.trim_end_matches([')', ' ', '.']));
            e.stage = after(t, "(in reply to ").map(word);
        }
    }
    let (kind, level) = match status {
        Some("sent") | Some("delivered") => (Kind::Delivered, Level::Info),
        Some("deferred") => (Kind::Deferred, Level::Failure),
        Some("bounced") | Some("undeliverable") => (Kind::Bounced, Level::Failure),
        Some("expired") => (Kind::Expired, Level::Failure),
        Some(_) => (Kind::Other, Level::Info),
        None => (Kind::Other, Level::Info),
    };
    if level == Level::Failure
        && let Some(t) = e.reply
    {
        e.reason = Some(Reason::of(t));
    }
    e.set(kind, level);
}

/// `host[ip]:port` at the start of `s`, as one piece.
fn relay_of(s: &str) -> &str {
    let end = s.find(']').map_or(0, |i| i + 1);
    let mut end = end;
    if s[end..].starts_with(':') {
        end += 1 + s[end + 1..].bytes().take_while(u8::is_ascii_digit).count();
    }
    &s[..end]
}

fn bounce<'a>(e: &mut Event<'a>, m: &'a str) {
    if let Some(i) = find(m, " notification: ") {
        e.queued_as = Some(m[i + 15..].trim());
        e.set(Kind::Other, Level::Info);
    } else {
        general(e, m);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smtpd_reject() {
        let e = parse("smtpd", "NOQUEUE: reject: RCPT from a.example[192.0.2.7]: 554 5.7.1 <x@y>: Relay access denied; from=<a@b> to=<x@y> proto=ESMTP helo=<a.example>").unwrap();
        assert_eq!(e.kind, Some(Kind::Rejected));
        assert_eq!(e.ip, Some("192.0.2.7"));
        assert_eq!(e.stage, Some("RCPT"));
        assert_eq!(e.reply, Some("554 5.7.1 <x@y>: Relay access denied"));
        assert_eq!(e.dsn, Some("5.7.1"));
        assert_eq!(e.reason, Some(Reason::Relay));
        assert_eq!(
            (e.from, e.to, e.helo),
            (Some("a@b"), Some("x@y"), Some("a.example"))
        );
    }

    #[test]
    fn delivery_line() {
        let e = parse("smtp", "3mPVKl0Mhjz7sXv: to=<a@b.example>, relay=mx.b.example[198.51.100.2]:25, delay=0.51, delays=0.44/0.01/0.05/0.01, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as 3mPVKl3YVXz2pS5Z)").unwrap();
        assert_eq!(e.kind, Some(Kind::Delivered));
        assert_eq!(e.queue_id, Some("3mPVKl0Mhjz7sXv"));
        assert_eq!(e.to, Some("a@b.example"));
        assert_eq!(e.relay, Some("mx.b.example[198.51.100.2]:25"));
        assert_eq!(e.ip, Some("198.51.100.2"));
        assert_eq!(e.delays, Some("0.44/0.01/0.05/0.01"));
        assert_eq!(e.queued_as, Some("3mPVKl3YVXz2pS5Z"));
    }

    #[test]
    fn sasl() {
        let e = parse("smtpd", "warning: unknown[192.0.2.152]:587: SASL LOGIN authentication failed: (reason unavailable), sasl_username=admin").unwrap();
        assert_eq!(e.kind, Some(Kind::AuthFailed));
        assert_eq!(
            (e.ip, e.user, e.port),
            (Some("192.0.2.152"), Some("admin"), Some("587"))
        );
    }
}
