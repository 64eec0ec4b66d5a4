//! Against the real Postfix + Dovecot (+ NSD) started by scripts/rig.

use crate::*;

struct Rig {
    env: HashMap<String, String>,
}

impl Rig {
    fn get() -> Option<Rig> {
        rig().map(|env| Rig { env })
    }
    /// The port part of an ADDR:PORT setting.
    fn port(&self, key: &str) -> String {
        self.v(key).rsplit(':').next().unwrap().to_string()
    }
    fn v(&self, key: &str) -> &str {
        self.env
            .get(key)
            .map(String::as_str)
            .unwrap_or_else(|| panic!("rig env has no {key}"))
    }
    /// Runs check with the rig's password in an environment variable.
    fn check(&self, args: &[&str]) -> Run {
        let mut all = vec!["check"];
        all.extend_from_slice(args);
        all.extend_from_slice(&["--format", "json", "--timeout", "5"]);
        smtpdoctor(
            &all,
            &[
                ("RIG_PASSWORD", self.v("RM_PASS")),
                ("WRONG_PASSWORD", "Not-The-Password-4711"),
            ],
        )
    }
    fn login(&self) -> Vec<&str> {
        vec![
            "--user",
            self.v("RM_USER"),
            "--password-env",
            "RIG_PASSWORD",
        ]
    }
}

macro_rules! rig_test {
    ($name:ident, |$rig:ident| $body:block) => {
        #[test]
        fn $name() {
            let Some($rig) = Rig::get() else { return };
            $body
        }
    };
}

fn with<'a>(mut base: Vec<&'a str>, more: &[&'a str]) -> Vec<&'a str> {
    base.extend_from_slice(more);
    base
}

rig_test!(starttls_port_with_correct_settings_is_ok, |rig| {
    for tls in ["starttls", "auto"] {
        let args = with(
            vec![
                rig.v("RM_SUBMISSION"),
                "--tls",
                tls,
                "--ca-file",
                rig.v("RM_SELFSIGNED"),
                "--to",
                rig.v("RM_USER"),
            ],
            &rig.login(),
        );
        let json = assert_verdict(&rig.check(&args), "ok", None, 0);
        assert_eq!(json["working_settings"]["tls"], "starttls");
        assert_eq!(json["working_settings"]["auth_mechanism"], "PLAIN");
        assert_eq!(json["verdict"]["retry"], Value::Null);
        assert_schema(&json);
    }
});

rig_test!(implicit_tls_port_with_correct_settings_is_ok, |rig| {
    for tls in ["implicit", "auto"] {
        let args = with(
            vec![
                rig.v("RM_SMTPS"),
                "--tls",
                tls,
                "--ca-file",
                rig.v("RM_SELFSIGNED"),
                "--to",
                rig.v("RM_USER"),
            ],
            &rig.login(),
        );
        let json = assert_verdict(&rig.check(&args), "ok", None, 0);
        assert_eq!(json["working_settings"]["tls"], "implicit");
        if tls == "auto" {
            assert_finding(&json, "tls.mode.detected");
        }
        assert_schema(&json);
    }
});

rig_test!(each_auth_mechanism_forced, |rig| {
    for mech in ["PLAIN", "LOGIN", "CRAM-MD5"] {
        let args = with(
            vec![
                rig.v("RM_SUBMISSION"),
                "--auth-mech",
                mech,
                "--ca-file",
                rig.v("RM_SELFSIGNED"),
            ],
            &rig.login(),
        );
        let json = assert_verdict(&rig.check(&args), "ok", None, 0);
        assert_eq!(json["working_settings"]["auth_mechanism"], mech);
        let transcript = json["transcript"].to_string();
        assert!(
            transcript.contains(&format!("AUTH {mech}")),
            "{mech} not used"
        );
    }
});

rig_test!(implicit_tls_against_starttls_port, |rig| {
    let args = with(
        vec![
            rig.v("RM_SUBMISSION"),
            "--tls",
            "implicit",
            "--ca-file",
            rig.v("RM_SELFSIGNED"),
        ],
        &rig.login(),
    );
    let json = assert_verdict(&rig.check(&args), "problem", Some("tls_mismatch"), 11);
    assert_finding(&json, "tls.mode.starttls_expected");
    // The second connection that proved it is in the evidence, and it worked with STARTTLS.
    let probe = json["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["purpose"] == "mode_probe")
        .expect("a probe");
    assert_eq!(probe["mode"], "starttls");
    assert_eq!(probe["authenticated"], true);
    assert!(json["verdict"]["fix"].to_string().contains("STARTTLS"));
    assert_schema(&json);
});

rig_test!(starttls_against_implicit_tls_port, |rig| {
    let args = with(
        vec![
            rig.v("RM_SMTPS"),
            "--tls",
            "starttls",
            "--ca-file",
            rig.v("RM_SELFSIGNED"),
        ],
        &rig.login(),
    );
    let run = rig.check(&args);
    let json = assert_verdict(&run, "problem", Some("tls_mismatch"), 11);
    assert_finding(&json, "tls.mode.implicit_expected");
    let probe = json["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["purpose"] == "mode_probe")
        .expect("a probe");
    assert_eq!(probe["mode"], "implicit");
    assert!(
        run.elapsed < Duration::from_secs(10),
        "took {:?}",
        run.elapsed
    );
});

rig_test!(plaintext_login_where_starttls_is_required, |rig| {
    let args = with(
        vec![
            rig.v("RM_SUBMISSION"),
            "--tls",
            "none",
            "--ca-file",
            rig.v("RM_SELFSIGNED"),
        ],
        &rig.login(),
    );
    let json = assert_verdict(&rig.check(&args), "problem", Some("tls_mismatch"), 11);
    assert_finding(&json, "auth.starttls_required");
    // No credentials ever went over the plaintext connection.
    let plain_auth = json["transcript"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["tls"] == false && e["text"].as_str().unwrap_or("").starts_with("AUTH"));
    assert!(!plain_auth);
});

rig_test!(plaintext_mail_where_starttls_is_required, |rig| {
    let json = assert_verdict(
        &rig.check(&[
            rig.v("RM_SUBMISSION"),
            "--tls",
            "none",
            "--from",
            rig.v("RM_USER"),
        ]),
        "problem",
        Some("tls_mismatch"),
        11,
    );
    assert!(
        json["verdict"]["summary"]
            .as_str()
            .unwrap()
            .contains("STARTTLS")
    );
});

rig_test!(wrong_password, |rig| {
    let args = [
        rig.v("RM_SUBMISSION"),
        "--user",
        rig.v("RM_USER"),
        "--password-env",
        "WRONG_PASSWORD",
        "--ca-file",
        rig.v("RM_SELFSIGNED"),
    ];
    let json = assert_verdict(&rig.check(&args), "problem", Some("auth_failed"), 12);
    assert_finding(&json, "auth.failed");
    assert_eq!(json["verdict"]["retry"], "permanent");
});

rig_test!(unknown_recipient, |rig| {
    let args = with(
        vec![
            rig.v("RM_SUBMISSION"),
            "--to",
            "nobody@mail.test",
            "--ca-file",
            rig.v("RM_SELFSIGNED"),
        ],
        &rig.login(),
    );
    let json = assert_verdict(&rig.check(&args), "problem", Some("recipient_unknown"), 13);
    assert_finding(&json, "rcpt.rejected");
});

rig_test!(relay_denied_without_auth, |rig| {
    let args = [
        rig.v("RM_SMTP"),
        "--from",
        "someone@example.org",
        "--to",
        "x@example.org",
        "--ca-file",
        rig.v("RM_SELFSIGNED"),
    ];
    assert_verdict(&rig.check(&args), "problem", Some("relay_denied"), 13);
});

rig_test!(submission_port_without_auth, |rig| {
    let args = [
        rig.v("RM_SUBMISSION"),
        "--from",
        "someone@example.org",
        "--to",
        "x@example.org",
        "--ca-file",
        rig.v("RM_SELFSIGNED"),
    ];
    assert_verdict(&rig.check(&args), "problem", Some("auth_required"), 12);
    // Without any envelope, the run says what to add instead of guessing.
    let json = assert_verdict(
        &rig.check(&[rig.v("RM_SUBMISSION"), "--ca-file", rig.v("RM_SELFSIGNED")]),
        "inconclusive",
        None,
        15,
    );
    assert!(json["verdict"]["fix"].to_string().contains("--user"));
});

rig_test!(untrusted_certificate_then_trusted_with_ca_file, |rig| {
    let json = assert_verdict(
        &rig.check(&with(vec![rig.v("RM_SUBMISSION")], &rig.login())),
        "problem",
        Some("tls_certificate"),
        11,
    );
    assert_finding(&json, "tls.cert.self_signed");
    // The chain is evidence even though verification failed, and nothing was sent after TLS.
    let session = &json["sessions"][0];
    assert!(
        session["tls"]["chain"][0]["subject"]
            .as_str()
            .unwrap()
            .contains("mail.test")
    );
    assert_eq!(session["tls"]["verification"]["verified"], false);
    assert!(session["auth"].is_null());
    // --insecure goes on and still reports the certificate.
    let json = assert_verdict(
        &rig.check(&with(
            vec![rig.v("RM_SUBMISSION"), "--insecure"],
            &rig.login(),
        )),
        "problem",
        Some("tls_certificate"),
        11,
    );
    assert_eq!(json["sessions"][0]["authenticated"], true);
    assert_verdict(
        &rig.check(&with(
            vec![rig.v("RM_SUBMISSION"), "--ca-file", rig.v("RM_SELFSIGNED")],
            &rig.login(),
        )),
        "ok",
        None,
        0,
    );
});

rig_test!(certificate_name_mismatch, |rig| {
    let port = rig.port("RM_SUBMISSION");
    let target = format!("wrong-name.test:{port}");
    let args = with(
        vec![
            &target,
            "--resolve",
            "wrong-name.test:127.0.0.1",
            "--ca-file",
            rig.v("RM_SELFSIGNED"),
        ],
        &rig.login(),
    );
    let json = assert_verdict(&rig.check(&args), "problem", Some("tls_certificate"), 11);
    assert_finding(&json, "tls.cert.name_mismatch");
    assert_eq!(json["sessions"][0]["tls"]["sni"], "wrong-name.test");
    // The right name through the same --resolve is fine.
    let target = format!("mail.test:{port}");
    let args = with(
        vec![
            &target,
            "--resolve",
            "mail.test:127.0.0.1",
            "--ca-file",
            rig.v("RM_SELFSIGNED"),
        ],
        &rig.login(),
    );
    assert_verdict(&rig.check(&args), "ok", None, 0);
});

fn cert_case(rig: &Rig, key: &str, tls: &str) -> Run {
    let port = rig.port(key);
    let target = format!("mail.test:{port}");
    rig.check(&with(
        vec![
            &target,
            "--tls",
            tls,
            "--resolve",
            "mail.test:127.0.0.1",
            "--ca-file",
            rig.v("RM_ROOT_CA"),
        ],
        &rig.login(),
    ))
}

rig_test!(certificate_chain_cases, |rig| {
    for tls in ["implicit", "auto"] {
        assert_verdict(&cert_case(&rig, "RM_CHAIN_OK", tls), "ok", None, 0);
        for (key, id) in [
            ("RM_CHAIN_LEAFONLY", "tls.cert.incomplete_chain"),
            ("RM_CERT_EXPIRED", "tls.cert.expired"),
            ("RM_CERT_NOTYET", "tls.cert.not_yet_valid"),
            ("RM_CERT_WEAK", "tls.cert.weak_key"),
        ] {
            let json = assert_verdict(
                &cert_case(&rig, key, tls),
                "problem",
                Some("tls_certificate"),
                11,
            );
            assert_eq!(json["findings"][0]["id"], id, "{key} with --tls {tls}");
        }
    }
});

rig_test!(closed_port, |rig| {
    let _ = &rig;
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let target = format!("127.0.0.1:{port}");
    let json = assert_verdict(
        &smtpdoctor(&["check", &target, "--format", "json"], &[]),
        "problem",
        Some("connection_refused"),
        10,
    );
    assert_finding(&json, "net.connect.refused");
});

rig_test!(send_delivers_a_message_to_the_maildir, |rig| {
    let args = with(
        vec![
            rig.v("RM_SUBMISSION"),
            "--ca-file",
            rig.v("RM_SELFSIGNED"),
            "--to",
            rig.v("RM_USER"),
            "--send",
        ],
        &rig.login(),
    );
    let json = assert_verdict(&rig.check(&args), "ok", None, 0);
    let id = json["sessions"][0]["message_id"]
        .as_str()
        .expect("a Message-ID")
        .to_string();
    let dir = std::path::Path::new(rig.v("RM_MAILDIR")).join("new");
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let found = std::fs::read_dir(&dir)
            .into_iter()
            .flatten()
            .flatten()
            .any(|e| {
                std::fs::read_to_string(e.path()).is_ok_and(|text| {
                    text.contains(&format!("Message-ID: {id}")) && text.contains("\nDate: ")
                })
            });
        if found {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "message {id} not delivered to {}",
            dir.display()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
});

rig_test!(the_ok_ladder_takes_five_round_trips, |rig| {
    // EHLO, STARTTLS, EHLO, AUTH PLAIN, then MAIL+RCPT+QUIT in one pipelined flight. A change that
    // adds a round trip fails here.
    let args = with(
        vec![
            rig.v("RM_SUBMISSION"),
            "--tls",
            "starttls",
            "--ca-file",
            rig.v("RM_SELFSIGNED"),
            "--to",
            rig.v("RM_USER"),
        ],
        &rig.login(),
    );
    let json = assert_verdict(&rig.check(&args), "ok", None, 0);
    assert_eq!(json["round_trips"], 5, "transcript: {}", json["transcript"]);
});

rig_test!(names_resolve_through_the_real_dns_server, |rig| {
    let dns = rig.v("RM_DNS");
    let port = rig.port("RM_SUBMISSION");
    let target = format!("mail.test:{port}");
    let args = with(
        vec![&target, "--dns", dns, "--ca-file", rig.v("RM_SELFSIGNED")],
        &rig.login(),
    );
    let json = assert_verdict(&rig.check(&args), "ok", None, 0);
    assert_eq!(json["resolve"]["source"], "dns");
    assert_eq!(json["resolve"]["addresses"][0], "127.0.0.1");
    let target = format!("no-such-host.mail.test:{port}");
    let json = assert_verdict(
        &rig.check(&[&target, "--dns", dns]),
        "problem",
        Some("dns"),
        10,
    );
    assert_finding(&json, "dns.nxdomain");
    // A name outside the server's zones: NSD answers REFUSED, a finding of its own.
    let json = assert_verdict(
        &rig.check(&["smtp.gmial.com:587", "--dns", dns]),
        "problem",
        Some("dns"),
        10,
    );
    assert_finding(&json, "dns.refused");
    let first_fix = json["verdict"]["fix"][0].as_str().unwrap_or_default();
    assert!(
        first_fix.contains("smtp.gmail.com"),
        "a typo of a well-known host gets a did-you-mean: {first_fix}"
    );
});

rig_test!(credentials_on_a_port_without_auth, |rig| {
    let args = with(
        vec![rig.v("RM_SMTP"), "--ca-file", rig.v("RM_SELFSIGNED")],
        &rig.login(),
    );
    let json = assert_verdict(&rig.check(&args), "problem", Some("auth_mechanism"), 12);
    assert_finding(&json, "auth.not_offered");
});

rig_test!(port_25_opportunistic_tls_through_connect_to, |rig| {
    // An MX on port 25, redirected to the rig with --connect-to: the untrusted certificate is a
    // warning there (opportunistic TLS), and the envelope goes on.
    let port = rig.port("RM_SMTP");
    let redirect = format!("mail.test:25:127.0.0.1:{port}");
    let args = [
        "mail.test:25",
        "--connect-to",
        &redirect,
        "--from",
        "someone@example.org",
        "--to",
        rig.v("RM_USER"),
    ];
    let json = assert_verdict(&rig.check(&args), "ok", None, 0);
    let cert = json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == "tls.cert.self_signed")
        .expect("the certificate is reported");
    assert_eq!(cert["severity"], "warning");
    assert_eq!(json["resolve"]["source"], "--connect-to");
    assert_eq!(json["sessions"][0]["rcpt"][0][1]["code"], 250);
});

rig_test!(
    plaintext_credentials_on_a_port_that_never_offers_auth,
    |rig| {
        // Even after STARTTLS the MX port offers no AUTH: the mode is not the problem.
        let args = with(
            vec![
                rig.v("RM_SMTP"),
                "--tls",
                "none",
                "--ca-file",
                rig.v("RM_SELFSIGNED"),
            ],
            &rig.login(),
        );
        let json = assert_verdict(&rig.check(&args), "problem", Some("auth_mechanism"), 12);
        assert_finding(&json, "auth.not_offered");
    }
);

rig_test!(port_matrix_finds_the_best_port, |rig| {
    // The usual ports, redirected to the rig: 25 (MX), 465 (implicit TLS), 587 (STARTTLS) and a
    // 2525 where nothing listens.
    let port = |key: &str| rig.port(key);
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let redirects = [
        format!("mail.test:25:127.0.0.1:{}", port("RM_SMTP")),
        format!("mail.test:465:127.0.0.1:{}", port("RM_SMTPS")),
        format!("mail.test:587:127.0.0.1:{}", port("RM_SUBMISSION")),
        format!("mail.test:2525:127.0.0.1:{closed}"),
    ];
    let mut args = vec![
        "mail.test",
        "--ca-file",
        rig.v("RM_SELFSIGNED"),
        "--to",
        rig.v("RM_USER"),
    ];
    for r in &redirects {
        args.extend_from_slice(&["--connect-to", r]);
    }
    let run = rig.check(&with(args.clone(), &rig.login()));
    assert!(
        run.elapsed < Duration::from_secs(10),
        "took {:?}",
        run.elapsed
    );
    let json = assert_verdict(&run, "ok", None, 0);
    assert_eq!(json["working_settings"]["port"], 587);
    let speaks = |p: u64| {
        json["ports"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["port"] == p)
            .map(|x| x["speaks"].clone())
            .unwrap()
    };
    assert_eq!(speaks(25), "starttls");
    assert_eq!(speaks(465), "implicit_tls");
    assert_eq!(speaks(587), "starttls");
    let refused = json["ports"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["port"] == 2525)
        .unwrap();
    assert_eq!(refused["failure"], "refused");
    assert_finding(&json, "net.port.closed");
    // --ports picks the ports; only 2525 and 25 here, so the ladder runs on 25.
    let json = assert_verdict(
        &rig.check(&[
            "mail.test",
            "--ports",
            "2525,25",
            "--connect-to",
            &redirects[0],
            "--connect-to",
            &redirects[3],
            "--from",
            "a@example.org",
            "--to",
            rig.v("RM_USER"),
        ]),
        "ok",
        None,
        0,
    );
    assert_eq!(json["working_settings"]["port"], 25);
});

rig_test!(port_matrix_with_nothing_listening, |rig| {
    let _ = &rig;
    let closed: Vec<u16> = (0..2)
        .map(|_| {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        })
        .collect();
    let ports = format!("{},{}", closed[0], closed[1]);
    let json = assert_verdict(
        &smtpdoctor(
            &["check", "127.0.0.1", "--ports", &ports, "--format", "json"],
            &[],
        ),
        "problem",
        Some("connection_refused"),
        10,
    );
    assert_finding(&json, "net.connect.refused");
    assert_eq!(json["ports"].as_array().unwrap().len(), 2);
});

rig_test!(mx_records_and_their_hosts, |rig| {
    // Zones served by the rig's NSD; port 25 of every MX host is redirected to the rig's MX port.
    let dns = rig.v("RM_DNS");
    let redirect = format!(":25:127.0.0.1:{}", rig.port("RM_SMTP"));
    let mx = |domain: &str, extra: &[&str]| {
        let mut args = vec!["--mx", domain, "--dns", dns, "--connect-to", &redirect];
        args.extend_from_slice(extra);
        rig.check(&args)
    };
    let json = assert_verdict(
        &mx(
            "two.mail.test",
            &["--from", "a@example.org", "--to", rig.v("RM_USER")],
        ),
        "ok",
        None,
        0,
    );
    assert_eq!(json["mx"]["records"].as_array().unwrap().len(), 2);
    assert_eq!(json["hops"][0]["host"], "mx1.two.mail.test");
    assert_eq!(json["sessions"][0]["rcpt"][0][1]["code"], 250);
    // Opportunistic TLS on port 25: the self-signed certificate is a warning.
    assert!(
        json["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["id"] == "tls.cert.self_signed" && f["severity"] == "warning")
    );
    let json = assert_verdict(
        &mx("nullmx.mail.test", &[]),
        "problem",
        Some("recipient_unknown"),
        13,
    );
    assert_finding(&json, "mx.null");
    let json = assert_verdict(&mx("implicit.mail.test", &[]), "ok", None, 0);
    assert_finding(&json, "mx.implicit");
    let json = assert_verdict(&mx("viacname.mail.test", &[]), "ok", None, 0);
    assert_finding(&json, "mx.cname");
    let json = assert_verdict(&mx("dangling.mail.test", &[]), "problem", Some("dns"), 10);
    assert_finding(&json, "mx.dangling");
    let json = assert_verdict(&mx("nowhere.mail.test", &[]), "problem", Some("dns"), 10);
    assert_finding(&json, "dns.nxdomain");
    // An MX host at 10.0.0.25 (DNS data only; the redirect sends its port 25 to the rig): it
    // works from here, but senders on the Internet cannot reach it.
    let json = assert_verdict(&mx("private.mail.test", &[]), "ok", None, 0);
    assert_finding(&json, "mx.private_address");
    // "MX 10 192.0.2.25.": an address where a host name belongs, which resolves to nothing.
    let json = assert_verdict(&mx("literal.mail.test", &[]), "problem", Some("dns"), 10);
    assert_finding(&json, "mx.literal");
    assert_eq!(json["mx"]["records"][0]["host"], "192.0.2.25");
});

/// A real SOCKS5 proxy (microsocks) on a free loopback port, stopped when dropped.
struct Socks(std::process::Child, u16);

impl Socks {
    fn start() -> Socks {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new("microsocks")
            .args(["-i", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("microsocks is installed (scripts/install-deps)");
        let deadline = Instant::now() + Duration::from_secs(5);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "microsocks did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        Socks(child, port)
    }
}

impl Drop for Socks {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

rig_test!(through_a_socks5_proxy, |rig| {
    let proxy = Socks::start();
    let url = format!("socks5://127.0.0.1:{}", proxy.1);
    // "localhost" is resolved by the proxy, not here; the certificate names localhost too.
    let port = rig.port("RM_SUBMISSION");
    let target = format!("localhost:{port}");
    let args = with(
        vec![
            &target,
            "--proxy",
            &url,
            "--ca-file",
            rig.v("RM_SELFSIGNED"),
            "--to",
            rig.v("RM_USER"),
        ],
        &rig.login(),
    );
    let json = assert_verdict(&rig.check(&args), "ok", None, 0);
    assert_eq!(json["resolve"]["source"], "proxy");
    assert!(
        json["sessions"][0]["connects"][0]["address"]
            .as_str()
            .unwrap()
            .contains("via SOCKS5 proxy")
    );
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let target = format!("localhost:{closed}");
    let json = assert_verdict(
        &rig.check(&[&target, "--proxy", &url]),
        "problem",
        Some("connection_refused"),
        10,
    );
    assert!(
        json["sessions"][0]["connects"][0]["detail"]
            .as_str()
            .unwrap()
            .contains("proxy")
    );
});

rig_test!(a_broken_address_family_is_named, |rig| {
    // dual.mail.test has AAAA ::1 (where nothing listens) and A 127.0.0.1 (the rig).
    let dns = rig.v("RM_DNS");
    let port = rig.port("RM_SMTP");
    let target = format!("dual.mail.test:{port}");
    let base = [
        &target[..],
        "--dns",
        dns,
        "--insecure",
        "--from",
        "a@example.org",
        "--to",
        rig.v("RM_USER"),
    ];
    let json = rig.check(&base).json();
    let addresses: Vec<&str> = json["sessions"][0]["connects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["address"].as_str().unwrap())
        .collect();
    assert!(
        addresses[0].starts_with("[::1]"),
        "IPv6 is tried first: {addresses:?}"
    );
    assert_finding(&json, "net.family.broken");
    assert!(json["findings"].to_string().contains("IPv6 does not work"));
    // -6 alone: nothing listens there.
    let mut six = base.to_vec();
    six.push("-6");
    assert_verdict(&rig.check(&six), "problem", Some("connection_refused"), 10);
    // -4 alone: no family warning.
    let mut four = base.to_vec();
    four.push("-4");
    let json = rig.check(&four).json();
    assert!(
        !crate::finding_ids(&json)
            .iter()
            .any(|i| i == "net.family.broken")
    );
});

rig_test!(port_matrix_through_a_socks5_proxy, |rig| {
    let proxy = Socks::start();
    let url = format!("socks5://127.0.0.1:{}", proxy.1);
    let port = rig.port("RM_SUBMISSION");
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let ports = format!("{port},{closed}");
    // Each port is one connection through the proxy; the submission port wants a login.
    let args = [
        "localhost",
        "--ports",
        &ports,
        "--proxy",
        &url,
        "--ca-file",
        rig.v("RM_SELFSIGNED"),
    ];
    let json = assert_verdict(&rig.check(&args), "inconclusive", None, 15);
    assert!(
        json["ports"][0]["address"]
            .as_str()
            .unwrap()
            .contains("via SOCKS5 proxy")
    );
    assert_eq!(json["ports"][0]["speaks"], "starttls");
    assert_eq!(json["ports"][1]["failure"], "refused");
});

rig_test!(port_matrix_names_a_broken_family, |rig| {
    let port = rig.port("RM_SMTP");
    let args = [
        "dual.mail.test",
        "--ports",
        &port,
        "--dns",
        rig.v("RM_DNS"),
        "--insecure",
        "--from",
        "a@example.org",
        "--to",
        rig.v("RM_USER"),
    ];
    let json = rig.check(&args).json();
    assert_eq!(
        json["ports"].as_array().unwrap().len(),
        2,
        "one probe per address"
    );
    let broken: Vec<&Value> = json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["id"] == "net.family.broken")
        .collect();
    assert_eq!(broken.len(), 1, "named once: {broken:?}");
});

/// A policy served over HTTPS for sts.mail.test, and the arguments that reach it.
struct Policy {
    _runtime: tokio::runtime::Runtime,
    _task: tokio::task::JoinHandle<()>,
    ca_file: std::path::PathBuf,
    connect_to: String,
}

impl Policy {
    fn serve(body: &str) -> Policy {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let (addr, ca, task) = runtime
            .block_on(smtpdoctor_lab::https_server(
                "mta-sts.sts.mail.test",
                body.to_string(),
            ))
            .unwrap();
        let ca_file = std::env::temp_dir().join(format!(
            "smtpdoctor-sts-ca-{}-{}.pem",
            std::process::id(),
            addr.port()
        ));
        std::fs::write(&ca_file, ca).unwrap();
        Policy {
            _runtime: runtime,
            _task: task,
            ca_file,
            connect_to: format!("mta-sts.sts.mail.test:443:127.0.0.1:{}", addr.port()),
        }
    }
}

impl Drop for Policy {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.ca_file);
    }
}

rig_test!(mta_sts_enforce_makes_the_mx_certificate_count, |rig| {
    let smtp = format!(":25:127.0.0.1:{}", rig.port("RM_SMTP"));
    let run = |policy: &Policy| {
        let ca = policy.ca_file.to_string_lossy().into_owned();
        rig.check(&[
            "--mx",
            "sts.mail.test",
            "--dns",
            rig.v("RM_DNS"),
            "--connect-to",
            &smtp,
            "--connect-to",
            &policy.connect_to,
            "--ca-file",
            &ca,
        ])
    };
    // Enforce, and the MX's self-signed certificate: senders refuse, so it is a problem.
    let policy =
        Policy::serve("version: STSv1\nmode: enforce\nmx: *.two.mail.test\nmax_age: 86400\n");
    let json = assert_verdict(&run(&policy), "problem", Some("tls_certificate"), 11);
    assert_eq!(json["mx"]["mta_sts"]["mode"], "enforce");
    assert_finding(&json, "mta_sts.policy");
    assert_finding(&json, "tls.cert.self_signed");
    // Testing mode: the same certificate is only a warning.
    let policy =
        Policy::serve("version: STSv1\nmode: testing\nmx: *.two.mail.test\nmax_age: 86400\n");
    assert_verdict(&run(&policy), "ok", None, 0);
    // An enforcing policy that does not name the MX.
    let policy =
        Policy::serve("version: STSv1\nmode: enforce\nmx: mx.elsewhere.example\nmax_age: 86400\n");
    let json = assert_verdict(&run(&policy), "problem", Some("tls_certificate"), 11);
    assert_finding(&json, "mta_sts.mx_not_covered");
});

/// `check --mx` against the rig's DNSSEC-signed zones (scripts/rig signs them at start): every
/// MX host's port 25 goes to the rig's MX ports, the DANE-TA one to the port with a CA chain.
fn dane(rig: &Rig, domain: &str, anchored: bool) -> Run {
    let smtp = format!(":25:127.0.0.1:{}", rig.port("RM_SMTP"));
    let chain = format!("mxta.dane.test:25:127.0.0.1:{}", rig.port("RM_SMTP_CHAIN"));
    let mut args = vec![
        "--mx",
        domain,
        "--dns",
        rig.v("RM_DNS"),
        "--connect-to",
        &chain,
        "--connect-to",
        &smtp,
    ];
    if anchored {
        args.extend_from_slice(&["--trust-anchor", rig.v("RM_TRUST_ANCHOR")]);
    }
    rig.check(&args)
}

fn severity_of(json: &Value, id: &str) -> Option<String> {
    json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == id)
        .map(|f| f["severity"].as_str().unwrap().to_string())
}

rig_test!(
    dane_validated_tlsa_against_the_presented_certificate,
    |rig| {
        // DANE-EE 3 1 1 of the MX port's key, in a zone validated from a DS trust anchor (KSK + ZSK).
        let json = assert_verdict(&dane(&rig, "dane.test", true), "ok", None, 0);
        assert_finding(&json, "dane.authenticated");
        assert_eq!(json["hops"][0]["dane"], "authenticated");
        assert_eq!(json["mx"]["dnssec"], "secure");
        let evidence = &json["mx"]["records"][0]["dane"];
        assert_eq!(evidence["dnssec"], "secure");
        assert_eq!(evidence["address_dnssec"], "secure");
        assert_eq!(evidence["records"][0]["usage"], 3);
        // The evidence names the digest compared: the presented leaf's public key.
        let tls = &json["sessions"][0]["tls"];
        assert_eq!(tls["tlsa"][0]["matched"], true);
        assert_eq!(tls["tlsa"][0]["digest"], tls["chain"][0]["spki_sha256"]);
        assert_eq!(
            evidence["records"][0]["data"],
            tls["chain"][0]["spki_sha256"]
        );
        // DANE authenticates the self-signed certificate: no longer even a warning.
        assert_eq!(severity_of(&json, "tls.cert.self_signed"), None);
        assert!(
            json["mx"]["trust_anchors"][1]
                .as_str()
                .unwrap()
                .starts_with("dane.test. (2 DNSKEY records"),
            "{}",
            json["mx"]["trust_anchors"]
        );

        // DANE-TA 2 0 1 of the intermediate CA, on the MX port that sends leaf + intermediate.
        let json = assert_verdict(&dane(&rig, "ta.dane.test", true), "ok", None, 0);
        assert_finding(&json, "dane.authenticated");
        let hit = json["sessions"][0]["tls"]["tlsa"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["matched"] == true)
            .cloned()
            .unwrap();
        assert_eq!(
            (hit["cert"].as_u64(), hit["chain_verified"].as_bool()),
            (Some(1), Some(true))
        );

        // Validated TLSA that matches nothing the server presents: DANE senders will not deliver.
        let json = assert_verdict(
            &dane(&rig, "bad.dane.test", true),
            "problem",
            Some("tls_certificate"),
            11,
        );
        assert_finding(&json, "dane.mismatch");
        assert_eq!(json["hops"][0]["dane"], "mismatch");
        assert_eq!(json["verdict"]["evidence"][0], "mx");
        assert_eq!(json["sessions"][0]["tls"]["tlsa"][0]["matched"], false);

        // A signed zone without TLSA: a validated denial, nothing to say.
        let json = assert_verdict(&dane(&rig, "notlsa.dane.test", true), "ok", None, 0);
        assert_eq!(json["hops"][0]["dane"], "none");
        assert_eq!(json["mx"]["records"][0]["dane"]["dnssec"], "secure");
        assert_eq!(json["mx"]["records"][0]["dane"]["failure"], "nx_domain");
        assert!(finding_ids(&json).iter().all(|id| !id.starts_with("dane.")));

        // Without the anchor nothing vouches for dane.test (no DS at a parent): its TLSA is ignored.
        let json = assert_verdict(&dane(&rig, "dane.test", false), "ok", None, 0);
        assert_eq!(
            severity_of(&json, "dane.unsigned").as_deref(),
            Some("warning")
        );
        assert_eq!(json["mx"]["records"][0]["dane"]["zone"]["signed"], true);
        assert_eq!(
            severity_of(&json, "tls.cert.self_signed").as_deref(),
            Some("warning")
        );
    }
);

rig_test!(dane_unsigned_not_applied_and_bogus, |rig| {
    // TLSA in the unsigned zone mail.test: a warning, senders ignore it.
    let json = assert_verdict(&dane(&rig, "unsigned.mail.test", true), "ok", None, 0);
    assert_eq!(
        severity_of(&json, "dane.unsigned").as_deref(),
        Some("warning")
    );
    assert_eq!(json["hops"][0]["dane"], "unsigned");
    let evidence = &json["mx"]["records"][0]["dane"];
    assert_eq!(evidence["dnssec"], "insecure");
    assert_eq!(evidence["zone"]["signed"], false);
    assert_eq!(
        severity_of(&json, "tls.cert.self_signed").as_deref(),
        Some("warning")
    );

    // An unsigned domain whose MX is a signed host with valid TLSA: senders do not use DANE.
    let json = assert_verdict(&dane(&rig, "viadane.mail.test", true), "ok", None, 0);
    assert_eq!(
        severity_of(&json, "dane.not_applied").as_deref(),
        Some("warning")
    );
    assert_eq!(json["mx"]["dnssec"], "insecure");
    assert_eq!(json["mx"]["records"][0]["dane"]["dnssec"], "secure");

    // A zone whose signatures expired: bogus, for the MX records and the TLSA alike.
    let json = assert_verdict(&dane(&rig, "bogus.test", true), "problem", Some("dns"), 10);
    assert_finding(&json, "mx.dnssec_bogus");
    assert_finding(&json, "dane.bogus");
    assert_eq!(json["mx"]["dnssec"], "bogus");
    assert_eq!(json["hops"][0]["dane"], "bogus");
    assert_eq!(json["mx"]["records"][0]["dane"]["zone"]["anchored"], true);
    // The records are still shown, unvalidated.
    assert_eq!(json["mx"]["records"][0]["dane"]["records"][0]["usage"], 3);
    // TLSA 1 1 1 (PKIX-EE) in the signed zone: a usage SMTP cannot use.
    let json = assert_verdict(&dane(&rig, "pkix.dane.test", true), "ok", None, 0);
    assert_eq!(
        severity_of(&json, "dane.unusable").as_deref(),
        Some("warning")
    );

    // Validated TLSA, and the MX port offers no STARTTLS: DANE senders never send in plaintext.
    let notls = format!(":25:127.0.0.1:{}", rig.port("RM_SMTP_NOTLS"));
    let json = assert_verdict(
        &rig.check(&[
            "--mx",
            "dane.test",
            "--dns",
            rig.v("RM_DNS"),
            "--connect-to",
            &notls,
            "--trust-anchor",
            rig.v("RM_TRUST_ANCHOR"),
        ]),
        "problem",
        Some("tls_mismatch"),
        11,
    );
    assert_finding(&json, "dane.no_tls");
    assert_eq!(json["hops"][0]["dane"], "no_tls");
});
