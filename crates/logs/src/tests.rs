//! Whole lines through envelope and daemon parsers.

use crate::{Kind, Level, Line, parse};

fn ev(line: &str) -> (Option<Kind>, Level, Option<String>, Option<String>) {
    let l = Line::parse(line).expect("envelope");
    let e = parse(&l).expect("event");
    (
        e.kind,
        e.level,
        e.ip.map(str::to_owned),
        e.user.map(str::to_owned),
    )
}

#[test]
fn one_line_per_server() {
    assert_eq!(
        ev(
            "Mar  1 10:00:00 mx postfix/submission/smtpd[9]: warning: unknown[192.0.2.4]: SASL PLAIN authentication failed: , sasl_username=carol"
        ),
        (
            Some(Kind::AuthFailed),
            Level::Failure,
            Some("192.0.2.4".into()),
            Some("carol".into())
        )
    );
    assert_eq!(
        ev("2026-03-01 10:00:00 [77] H=(helo.example) [192.0.2.5]:4000 I=[10.0.0.1]:25 F=<a@b.example> rejected RCPT <c@d.example>: relay not permitted").0,
        Some(Kind::Rejected)
    );
    assert_eq!(
        ev(
            "Mar  1 10:00:00 mx dovecot: auth: sql(dave@example.org,192.0.2.6,<abc>): Password mismatch"
        ),
        (
            Some(Kind::AuthFailed),
            Level::Failure,
            Some("192.0.2.6".into()),
            Some("dave@example.org".into())
        )
    );
}

#[test]
fn a_password_written_into_the_log_is_not_repeated() {
    for line in [
        "Mar  1 10:00:00 mx dovecot: auth: passwd-file(dave,192.0.2.6): Password mismatch (given password: hunter2)",
        "Mar  1 10:00:00 mx dovecot: auth: Debug: sql(dave,192.0.2.6): query result password=hunter2",
    ] {
        let l = Line::parse(line).expect("envelope");
        if let Some(e) = parse(&l) {
            assert!(!e.reply.unwrap_or("").contains("hunter2"), "{line}");
        }
    }
    let l = Line::parse("Mar  1 10:00:00 mx dovecot: auth: passwd-file(dave,192.0.2.6): Password mismatch (given password: hunter2)").unwrap();
    assert_eq!(
        parse(&l).expect("an auth failure").reply,
        Some("Password mismatch")
    );
}
