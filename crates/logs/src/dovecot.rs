//! Dovecot: login processes (`imap-login: Aborted login (auth failed, 1 attempts ...): user=<u>,
//! method=PLAIN, rip=ip`), the auth processes in their quiet and verbose forms
//! (`auth-worker(123): pam(u,ip): unknown user`, `auth(u,ip,sasl:login)<s>: Info: sql: Password
//! mismatch`, PAM's `authentication failure; ... rhost=ip user=u`), logins, and LMTP and LDA
//! deliveries.

use crate::scan::{after, has, kv, word};
use crate::{Event, Kind, Level, Server};

/// Reads a Dovecot message; `program` is the syslog program (`dovecot`, `imap-login`,
/// `auth-worker(123)`, ...).
pub fn parse<'a>(program: &'a str, message: &'a str) -> Option<Event<'a>> {
    let mut daemon = program;
    let mut m = message;
    // `dovecot: imap-login: ...`: the real process is in the message.
    if program.starts_with("dovecot") && !program.starts_with("dovecot-auth") {
        if let Some(i) = m.find(": ")
            && !m[..i].contains(' ')
        {
            daemon = &m[..i];
            m = &m[i + 2..];
        }
        if daemon == "dovecot"
            && let Some(i) = m.find(": ")
            && !m[..i].contains(' ')
        {
            daemon = &m[..i];
            m = &m[i + 2..];
        }
    }
    let mut e = Event::new(Server::Dovecot, daemon);
    for p in ["Info: ", "info: ", "Warning: ", "Error: "] {
        if let Some(r) = m.strip_prefix(p) {
            m = r;
        }
    }
    // `auth(user,ip,sasl:login)<session>:` as the process names the attempt.
    if let Some(args) = daemon.strip_prefix("auth(").filter(|a| a.contains(',')) {
        auth_args(&mut e, args);
        auth_result(&mut e, m);
        return Some(e);
    }
    if daemon.ends_with("-login") || daemon == "submission-login" {
        login(&mut e, m);
        return Some(e);
    }
    if has(m, "pam_unix(") && has(m, "authentication failure") {
        // PAM's own line: `... ruser=x rhost=ip  user=u`
        e.ip = kv(m, "rhost").filter(|ip| !ip.is_empty() && crate::scan::is_ip(ip));
        if let Some(i) = m.rfind("rhost=") {
            let ip = word(&m[i + 6..]);
            if crate::scan::is_ip(ip) {
                e.ip = Some(ip);
            }
        }
        e.user = kv(m, "user").filter(|u| !u.is_empty());
        e.reply = Some(m);
        e.set(Kind::AuthFailed, Level::Failure);
        return Some(e);
    }
    if daemon.starts_with("auth") || daemon.starts_with("dovecot-auth") {
        // `conn unix:auth-worker (pid=..,uid=..): auth-worker<55>: pam(u,ip): reason`
        if let Some((args, rest)) = driver_args(m) {
            auth_args(&mut e, args);
            auth_result(&mut e, rest);
        } else {
            e.set(Kind::Other, Level::Info);
        }
        return Some(e);
    }
    if daemon.starts_with("lmtp") || daemon.starts_with("lda") || daemon.starts_with("deliver") {
        if let Some(u) = daemon
            .split_once('(')
            .map(|(_, r)| &r[..r.find(')').unwrap_or(r.len())])
        {
            e.to = Some(u);
        }
        e.message_id = after(m, "msgid=<").map(|r| &r[..r.find('>').unwrap_or(r.len())]);
        if has(m, "saved mail to") || has(m, "stored mail into mailbox") {
            e.status = Some("sent");
            e.set(Kind::Delivered, Level::Info);
        } else if has(m, "rejected") || has(m, "Quota exceeded") || has(m, "quota exceeded") {
            e.reply = Some(m);
            e.reason = Some(crate::Reason::of(m));
            e.set(Kind::Bounced, Level::Failure);
        } else {
            e.set(Kind::Other, Level::Info);
        }
        return Some(e);
    }
    e.set(Kind::Other, Level::Info);
    Some(e)
}

/// A login process's line.
fn login<'a>(e: &mut Event<'a>, m: &'a str) {
    e.ip = kv(m, "rip");
    e.user = kv(m, "user").filter(|u| !u.is_empty());
    e.method = kv(m, "method");
    e.reply = Some(m);
    if m.starts_with("Login: ") {
        e.set(Kind::Login, Level::Info);
    } else if has(m, "auth failed")
        || has(m, "(tried to use disabled")
        || has(m, "(tried to use disallowed")
        || has(m, "(auth_failed)")
    {
        e.set(Kind::AuthFailed, Level::Failure);
    } else if has(m, "(no auth attempts")
        || has(m, "(disconnected before auth was ready")
        || has(m, "(client didn't finish SASL auth")
        || has(m, "(disconnected during TLS handshake")
        || has(m, "(tls_handshake_not_finished)")
        || has(m, "(no_auth_attempts)")
    {
        e.set(Kind::NoAuth, Level::Suspicious);
    } else if has(m, "SSL_accept() failed") || has(m, "TLS handshaking") {
        e.set(Kind::TlsFailed, Level::Suspicious);
    } else if m.starts_with("Disconnected")
        || m.starts_with("Aborted login")
        || m.starts_with("Login aborted")
    {
        e.set(Kind::Disconnect, Level::Info);
    } else {
        e.set(Kind::Other, Level::Info);
    }
}

/// `driver(user,ip[,<session>]): rest` anywhere in the line: the arguments and the rest.
fn driver_args(m: &str) -> Option<(&str, &str)> {
    let mut from = 0;
    while let Some(i) = m[from..].find("): ") {
        let close = from + i;
        let open = m[..close].rfind('(')?;
        let name = &m[..open];
        let name = &name[name.rfind(' ').map_or(0, |j| j + 1)..];
        let args = &m[open + 1..close];
        if !name.is_empty()
            && args.contains(',')
            && name
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
        {
            return Some((args, &m[close + 3..]));
        }
        from = close + 3;
    }
    None
}

fn auth_args<'a>(e: &mut Event<'a>, args: &'a str) {
    let args = args.split(')').next().unwrap_or(args);
    let mut parts = args.split(',');
    e.user = parts.next().filter(|u| !u.is_empty() && *u != "?");
    e.ip = parts.next().filter(|ip| crate::scan::is_ip(ip));
}

fn auth_result<'a>(e: &mut Event<'a>, m: &'a str) {
    e.reply = Some(m);
    if has(m, "unknown user")
        || has(m, "Password mismatch")
        || has(m, "password mismatch")
        || has(m, "pam_authenticate() failed")
        || has(m, "invalid credentials")
        || has(m, "Invalid credentials")
        || has(m, "authentication failure")
    {
        e.set(Kind::AuthFailed, Level::Failure);
    } else {
        e.set(Kind::Other, Level::Info);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dovecot_lines() {
        let e = parse("dovecot", "imap-login: Disconnected (auth failed, 2 attempts): user=<bob>, method=PLAIN, rip=192.0.2.8, lip=192.0.2.1, TLS").unwrap();
        assert_eq!(
            (e.kind, e.ip, e.user, e.daemon),
            (
                Some(Kind::AuthFailed),
                Some("192.0.2.8"),
                Some("bob"),
                "imap-login"
            )
        );
        let e = parse("auth-worker(5787)", "conn unix:auth-worker (pid=27359,uid=97): auth-worker<55>: pam(web,192.0.2.7): unknown user").unwrap();
        assert_eq!(
            (e.kind, e.ip, e.user),
            (Some(Kind::AuthFailed), Some("192.0.2.7"), Some("web"))
        );
        let e = parse(
            "dovecot",
            "lmtp(bob@example.org)<19423><I861F>: msgid=<a@b>: saved mail to INBOX",
        )
        .unwrap();
        assert_eq!(
            (e.kind, e.to, e.message_id),
            (Some(Kind::Delivered), Some("bob@example.org"), Some("a@b"))
        );
    }
}
