//! Faults no real server gives on demand, from the in-process lab servers. Each must end within
//! its bound with a finding, and with bounded memory.

use crate::*;
use smtpdoctor_lab::{Fault, LAB_PASSWORD, LAB_TOKEN, LAB_USER, Lab};

/// A running lab and the file holding its CA.
pub struct TestLab {
    pub lab: Lab,
    pub ca_file: std::path::PathBuf,
    _runtime: tokio::runtime::Runtime,
}

impl TestLab {
    pub fn start(faults: &[Fault]) -> TestLab {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let lab = runtime.block_on(Lab::start(faults)).expect("lab starts");
        let ca_file = std::env::temp_dir().join(format!(
            "smtpdoctor-test-ca-{}-{}.pem",
            std::process::id(),
            lab.servers[0].addr.port()
        ));
        std::fs::write(&ca_file, &lab.certs.ca_pem).unwrap();
        TestLab {
            lab,
            ca_file,
            _runtime: runtime,
        }
    }

    pub fn addr(&self, fault: Fault) -> String {
        self.lab.server(fault).unwrap().addr.to_string()
    }

    pub fn check(&self, fault: Fault, extra: &[&str], env: &[(&str, &str)]) -> Run {
        let addr = self.addr(fault);
        let ca = self.ca_file.to_string_lossy().into_owned();
        let mut args = vec!["check", &addr, "--ca-file", &ca];
        for (option, default) in [
            ("--timeout", "2"),
            ("--deadline", "20"),
            ("--format", "json"),
        ] {
            if !extra.contains(&option) {
                args.extend_from_slice(&[option, default]);
            }
        }
        args.extend_from_slice(extra);
        smtpdoctor(&args, env)
    }
}

impl Drop for TestLab {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.ca_file);
    }
}

/// The bound proving no hang: a 2 s step timeout must finish well within this.
const BOUND: Duration = Duration::from_secs(12);
/// Memory a run may use, whatever the server sends.
const MAX_KIB: u64 = 64 * 1024;

fn assert_bounded(run: &Run) {
    assert!(run.elapsed < BOUND, "took {:?}", run.elapsed);
    assert!(run.peak_kib < MAX_KIB, "used {} KiB", run.peak_kib);
}

#[test]
fn tarpit() {
    let lab = TestLab::start(&[Fault::Tarpit]);
    let run = lab.check(Fault::Tarpit, &[], &[]);
    assert_bounded(&run);
    let json = assert_verdict(&run, "problem", Some("server_unavailable"), 14);
    assert_finding(&json, "banner.timeout");
    assert_schema(&json);
}

#[test]
fn the_run_deadline_bounds_everything() {
    let lab = TestLab::start(&[Fault::Tarpit]);
    let run = lab.check(Fault::Tarpit, &["--timeout", "30", "--deadline", "3"], &[]);
    assert!(
        run.elapsed < Duration::from_secs(8),
        "took {:?}",
        run.elapsed
    );
    assert_verdict(&run, "problem", Some("server_unavailable"), 14);
}

#[test]
fn greeting_421() {
    let lab = TestLab::start(&[Fault::Greeting421]);
    let run = lab.check(Fault::Greeting421, &[], &[]);
    assert_bounded(&run);
    let json = assert_verdict(&run, "problem", Some("server_unavailable"), 14);
    assert_finding(&json, "banner.rejected");
    assert_eq!(json["verdict"]["retry"], "temporary");
}

#[test]
fn drop_mid_session() {
    let lab = TestLab::start(&[Fault::DropMidSession]);
    let run = lab.check(
        Fault::DropMidSession,
        &["--from", "a@lab.test", "--to", "b@lab.test"],
        &[],
    );
    assert_bounded(&run);
    let json = assert_verdict(&run, "problem", Some("server_unavailable"), 14);
    assert_finding(&json, "session.dropped");
}

#[test]
fn one_byte_a_second() {
    let lab = TestLab::start(&[Fault::OneByteASecond]);
    let run = lab.check(Fault::OneByteASecond, &[], &[]);
    assert_bounded(&run);
    let json = assert_verdict(&run, "problem", Some("server_unavailable"), 14);
    assert_finding(&json, "banner.incomplete");
}

#[test]
fn delayed_greeting_within_the_timeout_is_read_whole() {
    let lab = TestLab::start(&[Fault::DelayedGreeting]);
    let run = lab.check(Fault::DelayedGreeting, &["--timeout", "6"], &[]);
    assert!(run.elapsed < BOUND, "took {:?}", run.elapsed);
    let json = assert_verdict(&run, "ok", None, 0);
    let banner = json["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "banner")
        .unwrap();
    assert!(banner["ms"].as_u64().unwrap() >= 2900, "{banner}");
    // The silent start was probed for implicit TLS, which the plaintext greeting disproved.
    assert!(
        json["sessions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["purpose"] == "mode_probe")
    );
    assert_finding(&json, "tls.none");
}

#[test]
fn ten_megabyte_line() {
    let lab = TestLab::start(&[Fault::HugeLine]);
    let run = lab.check(Fault::HugeLine, &[], &[]);
    assert_bounded(&run);
    let json = assert_verdict(&run, "problem", Some("server_unavailable"), 14);
    assert_finding(&json, "reply.too_long");
    assert!(
        run.stdout.len() < 200_000,
        "the report carries the flood: {} bytes",
        run.stdout.len()
    );
}

#[test]
fn endless_multiline_reply() {
    let lab = TestLab::start(&[Fault::EndlessMultiline]);
    let run = lab.check(Fault::EndlessMultiline, &[], &[]);
    assert_bounded(&run);
    let json = assert_verdict(&run, "problem", Some("server_unavailable"), 14);
    assert_finding(&json, "reply.too_long");
}

#[test]
fn binary_garbage() {
    let lab = TestLab::start(&[Fault::Garbage]);
    let run = lab.check(Fault::Garbage, &[], &[]);
    assert_bounded(&run);
    let json = assert_verdict(&run, "problem", Some("server_unavailable"), 14);
    assert_finding(&json, "banner.not_smtp");
    // Bytes that are not UTF-8 are kept as base64, never mangled.
    assert!(
        json["transcript"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["bytes_b64"].is_string())
    );
    assert_schema(&json);
}

#[test]
fn tls_alert_mid_handshake() {
    let lab = TestLab::start(&[Fault::TlsAlert]);
    let run = lab.check(Fault::TlsAlert, &["--tls", "implicit"], &[]);
    assert_bounded(&run);
    let json = assert_verdict(&run, "problem", Some("tls_mismatch"), 11);
    assert_finding(&json, "tls.handshake.alert");
}

#[test]
fn xoauth2_exchange() {
    let lab = TestLab::start(&[Fault::Xoauth2]);
    let good = lab.check(
        Fault::Xoauth2,
        &[
            "--tls",
            "implicit",
            "--user",
            LAB_USER,
            "--oauth-token-env",
            "TOKEN",
        ],
        &[("TOKEN", LAB_TOKEN)],
    );
    assert_bounded(&good);
    let json = assert_verdict(&good, "ok", None, 0);
    assert_eq!(json["working_settings"]["auth_mechanism"], "XOAUTH2");
    for mech in ["XOAUTH2", "OAUTHBEARER"] {
        let bad = lab.check(
            Fault::Xoauth2,
            &[
                "--user",
                LAB_USER,
                "--oauth-token-env",
                "TOKEN",
                "--auth-mech",
                mech,
                "--tls",
                "implicit",
            ],
            &[("TOKEN", "expired-token-0815")],
        );
        assert_bounded(&bad);
        let json = assert_verdict(&bad, "problem", Some("auth_failed"), 12);
        assert_finding(&json, "auth.failed");
    }
}

#[test]
fn lab_practice_servers_all_diagnosed_as_expected() {
    let run = smtpdoctor(&["lab", "--demo"], &[("NO_COLOR", "1")]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("PROBLEM [tls_mismatch]"));
    assert!(
        !run.stdout.contains(LAB_PASSWORD),
        "the lab password is shown"
    );
    assert!(run.elapsed < Duration::from_secs(30));
}
