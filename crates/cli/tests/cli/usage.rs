//! Bad input gets a clear error naming what was wrong, exit code 2, and never a hang.

use crate::*;

fn usage_error(args: &[&str], env: &[(&str, &str)], mentions: &str) {
    let run = smtpdoctor(args, env);
    assert_eq!(
        run.code, 2,
        "{args:?}: stdout {} stderr {}",
        run.stdout, run.stderr
    );
    assert!(
        run.stderr.contains(mentions),
        "{args:?}: the error does not mention {mentions:?}: {}",
        run.stderr
    );
    assert!(run.elapsed < Duration::from_secs(5));
}

#[test]
fn malformed_arguments_are_named() {
    usage_error(&["check", "bad host:25"], &[], "bad host:25");
    usage_error(&["check", "mail.test:99999"], &[], "99999");
    usage_error(
        &["check", "mail.test", "--resolve", "mail.test"],
        &[],
        "--resolve",
    );
    usage_error(
        &["check", "mail.test", "--connect-to", "a:b"],
        &[],
        "--connect-to",
    );
    usage_error(
        &["check", "mail.test", "--tls", "sometimes"],
        &[],
        "sometimes",
    );
    usage_error(&["check", "mail.test", "--timeout", "0"], &[], "--timeout");
    usage_error(&["check", "mail.test:25", "--port", "587"], &[], "port");
    usage_error(
        &["check", "mail.test", "--to", "x@example.org"],
        &[],
        "--from",
    );
    usage_error(
        &["check", "mail.test", "--from", "a@b.example", "--send"],
        &[],
        "--to",
    );
    usage_error(
        &["check", "mail.test", "--from", "not an address"],
        &[],
        "not an address",
    );
    usage_error(
        &["check", "mail.test", "--ca-file", "/nonexistent/ca.pem"],
        &[],
        "/nonexistent/ca.pem",
    );
    usage_error(
        &[
            "check",
            "--mx",
            "mail.test",
            "--trust-anchor",
            "/nonexistent/anchors",
        ],
        &[],
        "/nonexistent/anchors",
    );
    // DANE is looked up by check --mx only.
    usage_error(
        &[
            "check",
            "mail.test:25",
            "--trust-anchor",
            "/nonexistent/anchors",
        ],
        &[],
        "--mx",
    );
    let garbage = std::env::temp_dir().join(format!("smtpdoctor-anchor-{}", std::process::id()));
    std::fs::write(&garbage, "example.test. IN A 192.0.2.1\n").unwrap();
    usage_error(
        &[
            "check",
            "--mx",
            "mail.test",
            "--trust-anchor",
            garbage.to_str().unwrap(),
        ],
        &[],
        "DS or DNSKEY",
    );
    let _ = std::fs::remove_file(&garbage);
    usage_error(
        &[
            "check",
            "mail.test",
            "--auth-mech",
            "GSSAPI",
            "--user",
            "u",
            "--password-env",
            "P",
        ],
        &[("P", "x")],
        "GSSAPI",
    );
    usage_error(
        &[
            "check",
            "mail.test",
            "--auth-mech",
            "XOAUTH2",
            "--user",
            "u",
            "--password-env",
            "P",
        ],
        &[("P", "x")],
        "XOAUTH2",
    );
}

#[test]
fn secrets_are_never_taken_from_argv() {
    usage_error(
        &["check", "mail.test", "--user", "u", "--password", "hunter2"],
        &[],
        "never taken from the command line",
    );
    usage_error(
        &[
            "check",
            "mail.test",
            "--user",
            "u",
            "--password-env",
            "SMTPDOCTOR_UNSET_VAR",
        ],
        &[],
        "SMTPDOCTOR_UNSET_VAR",
    );
    usage_error(
        &[
            "check",
            "mail.test",
            "--user",
            "u",
            "--password-file",
            "/nonexistent/pw",
        ],
        &[],
        "/nonexistent/pw",
    );
    // No terminal to prompt on: an error at once, never a hang.
    usage_error(
        &["check", "mail.test", "--user", "u"],
        &[],
        "not a terminal",
    );
    usage_error(
        &["check", "mail.test", "--password-env", "P"],
        &[("P", "x")],
        "--user",
    );
}

#[test]
fn help_and_version() {
    let run = smtpdoctor(&["--help"], &[]);
    assert_eq!(run.code, 0);
    assert!(run.stdout.contains("check"));
    let run = smtpdoctor(&["check", "--help"], &[]);
    assert!(run.stdout.contains("--password-env") && !run.stdout.contains("--password <"));
    assert_eq!(smtpdoctor(&["--version"], &[]).code, 0);
}

#[test]
fn a_password_on_argv_is_never_echoed() {
    // A value that looks like an option must not be echoed by the parser's own error either.
    for args in [
        &["check", "--password", "--Hunter2-Zq", "mail.test"][..],
        &["check", "mail.test", "--password=-Hunter2-Zq"][..],
    ] {
        let run = smtpdoctor(args, &[]);
        assert_eq!(run.code, 2);
        assert!(
            !run.stderr.contains("Hunter2-Zq") && !run.stdout.contains("Hunter2-Zq"),
            "{}",
            run.stderr
        );
    }
    usage_error(
        &["check", "127.0.0.1:1", "--tls-probe-after", "NaN"],
        &[],
        "--tls-probe-after",
    );
}
