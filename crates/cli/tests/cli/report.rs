//! `check --report FILE`: the support report, against the lab's fault servers and the rig.
//! Snapshots live in `snapshots/`; `UPDATE_SNAPSHOTS=1` rewrites them after a deliberate change.

use crate::faults::TestLab;
use crate::secrets::{PASSWORD, forbidden};
use crate::*;
use smtpdoctor_lab::{Fault, LAB_USER};
use std::path::PathBuf;

/// A report file in a fresh directory of its own, removed afterwards.
struct ReportFile {
    dir: PathBuf,
    path: PathBuf,
}

impl ReportFile {
    fn new(tag: &str, name: &str) -> ReportFile {
        let dir = std::env::temp_dir().join(format!(
            "smtpdoctor-report-{tag}-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        ReportFile { dir, path }
    }
    fn arg(&self) -> String {
        self.path.to_string_lossy().into_owned()
    }
    fn read(&self) -> String {
        std::fs::read_to_string(&self.path).expect("the report was written")
    }
}

impl Drop for ReportFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Replaces what changes from run to run: times, durations, ports, versions.
fn normalise(report: &str, json: &Value) -> String {
    let mut text = report.to_string();
    let mut swaps: Vec<(String, String)> = vec![
        (
            json["started_at"].as_str().unwrap().to_string(),
            "STARTED".into(),
        ),
        (
            json["knowledge_version"].as_str().unwrap().to_string(),
            "KNOWLEDGE".into(),
        ),
        (
            format!("smtpdoctor {}", json["tool_version"].as_str().unwrap()),
            "smtpdoctor VERSION".into(),
        ),
        (
            format!("| {} |", json["tool_version"].as_str().unwrap()),
            "| VERSION |".into(),
        ),
    ];
    for session in json["sessions"].as_array().unwrap() {
        for c in session["connects"].as_array().unwrap() {
            if let Some(local) = c["local"].as_str() {
                let port = local.rsplit(':').next().unwrap();
                swaps.push((format!(":{port}"), ":LOCALPORT".into()));
            }
        }
    }
    let port = json["target"]["port"].as_u64().unwrap();
    swaps.push((format!(":{port}"), ":PORT".into()));
    swaps.push((format!("port {port}"), "port PORT".into()));
    swaps.push((format!("| {port} |"), "| PORT |".into()));
    for (from, to) in swaps {
        text = text.replace(&from, &to);
    }
    // The lab's certificates are made afresh for each run: their fingerprints change.
    text = text
        .lines()
        .filter(|l| !l.starts_with("| SHA-256 |") && !l.starts_with("| SPKI SHA-256 |"))
        .map(|l| format!("{l}\n"))
        .collect();
    durations(&text)
}

/// Every duration (`  12ms`, `12 ms`) becomes `N ms`.
pub(crate) fn durations(text: &str) -> String {
    // Every duration: `  12ms`, `12 ms`.
    let mut out = String::new();
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let mut j = i;
        while j < chars.len() && chars[j] == ' ' {
            j += 1;
        }
        let digits = j;
        while j < chars.len() && chars[j].is_ascii_digit() {
            j += 1;
        }
        let unit = if chars[j..].starts_with(&['m', 's']) {
            Some(2)
        } else if chars[j..].starts_with(&[' ', 'm', 's']) {
            Some(3)
        } else {
            None
        };
        let boundary = i == 0 || !chars[i - 1].is_ascii_alphanumeric();
        match unit {
            Some(n) if j > digits && boundary => {
                if digits > i {
                    out.push(' ');
                }
                out.push_str("N ms");
                i = j + n;
            }
            _ => {
                out.push(chars[i]);
                i += 1;
            }
        }
    }
    out
}

/// Compares with `snapshots/NAME`, or writes it with UPDATE_SNAPSHOTS=1.
pub(crate) fn assert_snapshot(name: &str, actual: &str) {
    let path = format!("{}/tests/cli/snapshots/{name}", env!("CARGO_MANIFEST_DIR"));
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{path}: {e} (UPDATE_SNAPSHOTS=1 writes it)"));
    assert!(
        expected == actual,
        "{name} differs from the snapshot (UPDATE_SNAPSHOTS=1 rewrites it):\n--- expected\n{expected}\n--- actual\n{actual}"
    );
}

#[cfg(unix)]
fn assert_owner_only(path: &std::path::Path) {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "{}", path.display());
}

#[test]
fn markdown_snapshot_of_a_starttls_required_server() {
    let lab = TestLab::start(&[Fault::StarttlsRequired]);
    let file = ReportFile::new("md", "support.md");
    let run = lab.check(
        Fault::StarttlsRequired,
        &[
            "--tls",
            "none",
            "--helo",
            "client.test",
            "--from",
            "me@client.test",
            "--to",
            "you@example.test",
            "--report",
            &file.arg(),
        ],
        &[],
    );
    let json = run.json();
    assert_owner_only(&file.path);
    let report = file.read();
    assert_snapshot("starttls-required.md", &normalise(&report, &json));
    // No temporary file is left beside it.
    let names: Vec<_> = std::fs::read_dir(&file.dir).unwrap().collect();
    assert_eq!(names.len(), 1);
}

#[test]
fn markdown_snapshot_with_identity_redacted() {
    let lab = TestLab::start(&[Fault::Healthy]);
    let file = ReportFile::new("redacted", "support.md");
    let run = lab.check(
        Fault::Healthy,
        &[
            "--helo",
            "client.corp.example",
            "--user",
            LAB_USER,
            "--password-env",
            "SECRET",
            "--to",
            "friend@lab.test",
            "--report",
            &file.arg(),
            "--redact-identity",
        ],
        &[("SECRET", smtpdoctor_lab::LAB_PASSWORD)],
    );
    let json = assert_verdict(&run, "ok", None, 0);
    let report = file.read();
    for identity in [
        LAB_USER,
        "friend@lab.test",
        "lab.test",
        "127.0.0.1",
        "client.corp.example",
    ] {
        assert!(!report.contains(identity), "{identity} in\n{report}");
    }
    assert_snapshot("healthy-redacted.md", &normalise(&report, &json));
}

/// `--public-ip` is the user's word: in the JSON as such, in the report's summary and run
/// section, masked by --redact-identity; never looked up.
#[test]
fn the_public_address_is_shown_only_as_given() {
    let lab = TestLab::start(&[Fault::Healthy]);
    for (masked, name) in [(false, "plain.md"), (true, "masked.md")] {
        let file = ReportFile::new("public-ip", name);
        let mut args = vec![
            "--public-ip",
            "203.0.113.77",
            "--format",
            "json",
            "--report",
        ];
        let arg = file.arg();
        args.push(&arg);
        if masked {
            args.push("--redact-identity");
        }
        let run = lab.check(Fault::Healthy, &args, &[]);
        let json: Value = serde_json::from_str(&run.stdout).unwrap();
        assert_eq!(
            json["target"]["public_ip"],
            serde_json::json!({"address": "203.0.113.77", "source": "user"})
        );
        let report = file.read();
        if masked {
            assert!(!report.contains("203.0.113.77"), "{report}");
            assert!(report.contains("Public address: ipv4-"), "{report}");
        } else {
            assert!(
                report.contains("Public address: 203.0.113.77 (given by the user with --public-ip; not looked up)"),
                "{report}"
            );
            assert!(
                report.contains(
                    "| Public address | 203.0.113.77 (given by the user; not looked up) |"
                ),
                "{report}"
            );
        }
    }
    // Without it, nothing is said and nothing is looked up.
    let file = ReportFile::new("public-ip", "none.md");
    let run = lab.check(
        Fault::Healthy,
        &["--format", "json", "--report", &file.arg()],
        &[],
    );
    let json: Value = serde_json::from_str(&run.stdout).unwrap();
    assert!(json["target"].get("public_ip").is_none());
    assert!(!file.read().contains("Public address"));
    let run = smtpdoctor(
        &["check", "127.0.0.1:9", "--public-ip", "my.host.test"],
        &[],
    );
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("is not an IP address"),
        "{}",
        run.stderr
    );
}

#[test]
fn html_report_is_escaped_and_self_contained() {
    let lab = TestLab::start(&[Fault::Healthy]);
    let file = ReportFile::new("html", "support.HTML");
    let run = lab.check(
        Fault::Healthy,
        &[
            "--user",
            LAB_USER,
            "--password-env",
            "SECRET",
            "--from",
            "a&b@lab.test",
            "--to",
            "friend@lab.test",
            "--report",
            &file.arg(),
        ],
        &[("SECRET", smtpdoctor_lab::LAB_PASSWORD)],
    );
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert_owner_only(&file.path);
    let page = file.read();
    assert!(page.starts_with("<!DOCTYPE html>"), "{page}");
    // The envelope's angle brackets and the ampersand are text, not markup.
    assert!(
        page.contains("MAIL FROM:&lt;a&amp;b@lab.test&gt;"),
        "{page}"
    );
    assert!(!page.contains("<a&b"));
    for outside in [
        "<script", "<link", "src=", "href=", "http://", "https://", "url(",
    ] {
        assert!(!page.contains(outside), "{outside} in the page");
    }
}

#[test]
fn no_secret_in_the_report_even_when_echoed() {
    let lab = TestLab::start(&[Fault::EchoAuth]);
    let port: u16 = lab
        .addr(Fault::EchoAuth)
        .rsplit(':')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let forms = forbidden(PASSWORD, LAB_USER, "127.0.0.1", port);
    for name in ["r.md", "r.html"] {
        for mech in ["PLAIN", "LOGIN", "CRAM-MD5"] {
            let file = ReportFile::new("echo", name);
            let run = lab.check(
                Fault::EchoAuth,
                &[
                    "--tls",
                    "implicit",
                    "--user",
                    LAB_USER,
                    "--password-env",
                    "SECRET",
                    "--auth-mech",
                    mech,
                    "--report",
                    &file.arg(),
                ],
                &[("SECRET", PASSWORD)],
            );
            assert_eq!(run.code, 12, "{mech}: {}{}", run.stdout, run.stderr);
            let report = file.read();
            assert!(report.contains("[redacted]"), "{mech}: {report}");
            for form in &forms {
                assert!(!report.contains(form.as_str()), "{mech} {name}: {form:?}");
            }
        }
    }
}

#[test]
fn report_usage_errors() {
    let run = smtpdoctor(&["check", "127.0.0.1:9", "--redact-identity"], &[]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    let run = smtpdoctor(
        &[
            "check",
            "127.0.0.1:9",
            "--report",
            "/nonexistent-dir-of-smtpdoctor/r.md",
        ],
        &[],
    );
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("--report"), "{}", run.stderr);
}

#[test]
fn rig_report_never_holds_the_password() {
    let Some(rig) = rig() else { return };
    let (user, pass) = (rig["RM_USER"].clone(), rig["RM_PASS"].clone());
    let sub = rig["RM_SUBMISSION"].clone();
    let port: u16 = sub.rsplit(':').next().unwrap().parse().unwrap();
    let forms = forbidden(&pass, &user, "127.0.0.1", port);
    for name in ["rig.md", "rig.html"] {
        for redact in [false, true] {
            let file = ReportFile::new("rig", name);
            let report_arg = file.arg();
            let mut args = vec![
                "check",
                &sub,
                "--user",
                &user,
                "--password-env",
                "RIG_PASSWORD",
                "--auth-mech",
                "PLAIN",
                "--ca-file",
                &rig["RM_SELFSIGNED"],
                "--to",
                &user,
                "--format",
                "json",
                "--report",
                &report_arg,
            ];
            if redact {
                args.push("--redact-identity");
            }
            let run = smtpdoctor(&args, &[("RIG_PASSWORD", pass.as_str())]);
            assert_verdict(&run, "ok", None, 0);
            assert_owner_only(&file.path);
            let report = file.read();
            assert!(report.contains("AUTH PLAIN [redacted]"), "{report}");
            for form in &forms {
                assert!(!report.contains(form.as_str()), "{name}: {form:?}");
            }
            if redact {
                for identity in [user.as_str(), "127.0.0.1"] {
                    assert!(
                        !report.contains(identity),
                        "{name}: {identity} in\n{report}"
                    );
                }
                assert!(report.contains("user-1") && report.contains("ipv4-1"));
            } else {
                assert!(report.contains(&user) && report.contains("127.0.0.1"));
            }
        }
    }
}
