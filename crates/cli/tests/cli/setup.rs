//! `setup ADDRESS` against the rig: SRV records in its NSD, autoconfig files served here over
//! HTTPS (a test CA) and plain HTTP, candidates tested against the real Postfix + Dovecot.

use crate::secrets::forbidden;
use crate::*;
use std::path::PathBuf;

/// Servers of autoconfig files for one test: HTTPS with a fresh CA, and plain HTTP; plus a CA
/// file that trusts both the rig's SMTP certificate and the test CA.
struct Web {
    runtime: tokio::runtime::Runtime,
    ca_file: PathBuf,
    rig_ca: String,
    connect_to: Vec<String>,
}

impl Web {
    fn new(rig: &HashMap<String, String>, tag: &str) -> Web {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let ca_file = std::env::temp_dir().join(format!(
            "smtpdoctor-setup-ca-{tag}-{}.pem",
            std::process::id()
        ));
        let rig_ca = std::fs::read_to_string(&rig["RM_SELFSIGNED"]).unwrap();
        std::fs::write(&ca_file, &rig_ca).unwrap();
        Web {
            runtime,
            ca_file,
            rig_ca,
            connect_to: Vec::new(),
        }
    }

    /// Serves `response` (a whole HTTP response) over HTTPS as `host`.
    fn https(&mut self, host: &str, response: String) {
        let (addr, ca, _task) = self
            .runtime
            .block_on(smtpdoctor_lab::https_responder(host, response))
            .unwrap();
        let mut pem = std::fs::read_to_string(&self.ca_file).unwrap();
        pem.push_str(&ca);
        std::fs::write(&self.ca_file, pem).unwrap();
        self.connect_to
            .push(format!("{host}:443:127.0.0.1:{}", addr.port()));
    }

    /// Serves `response` over plain HTTP as `host`.
    fn http(&mut self, host: &str, response: String) {
        let listener = self
            .runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let port = listener.local_addr().unwrap().port();
        self.runtime.spawn(async move {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            loop {
                let Ok((mut s, _)) = listener.accept().await else {
                    continue;
                };
                let response = response.clone();
                tokio::spawn(async move {
                    let mut buf = [0u8; 4096];
                    let _ = s.read(&mut buf).await;
                    let _ = s.write_all(response.as_bytes()).await;
                    let _ = s.shutdown().await;
                });
            }
        });
        self.connect_to.push(format!("{host}:80:127.0.0.1:{port}"));
    }

    /// An HTTP CONNECT proxy that tunnels `host:443` to the HTTPS server serving it (refuses
    /// anything else); returns its URL for HTTPS_PROXY.
    fn connect_proxy(&mut self, host: &str) -> String {
        let to: u16 = self
            .connect_to
            .iter()
            .find_map(|c| c.strip_prefix(&format!("{host}:443:127.0.0.1:")))
            .and_then(|p| p.parse().ok())
            .expect("the host is served");
        let listener = self
            .runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let port = listener.local_addr().unwrap().port();
        let wanted = format!("CONNECT {host}:443 ");
        self.runtime.spawn(async move {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            loop {
                let Ok((mut s, _)) = listener.accept().await else {
                    continue;
                };
                let wanted = wanted.clone();
                tokio::spawn(async move {
                    let mut head = Vec::new();
                    let mut byte = [0u8; 1];
                    while !head.ends_with(b"\r\n\r\n") && head.len() < 8192 {
                        match s.read(&mut byte).await {
                            Ok(1) => head.push(byte[0]),
                            _ => return,
                        }
                    }
                    if !head.starts_with(wanted.as_bytes()) {
                        let _ = s.write_all(b"HTTP/1.1 403 Forbidden\r\n\r\n").await;
                        return;
                    }
                    let Ok(mut up) = tokio::net::TcpStream::connect(("127.0.0.1", to)).await else {
                        return;
                    };
                    let _ = s
                        .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
                        .await;
                    let _ = tokio::io::copy_bidirectional(&mut s, &mut up).await;
                });
            }
        });
        format!("http://127.0.0.1:{port}")
    }

    /// A server for `host:443` that accepts connections and never says a word.
    fn silent(&mut self, host: &str) {
        let listener = self
            .runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let port = listener.local_addr().unwrap().port();
        self.runtime.spawn(async move {
            let mut held = Vec::new();
            while let Ok((s, _)) = listener.accept().await {
                held.push(s);
            }
        });
        self.connect_to.push(format!("{host}:443:127.0.0.1:{port}"));
    }

    fn args(&self) -> Vec<String> {
        let mut args = vec![
            "--ca-file".to_string(),
            self.ca_file.to_string_lossy().into_owned(),
        ];
        for c in &self.connect_to {
            args.push("--connect-to".into());
            args.push(c.clone());
        }
        args
    }
}

impl Drop for Web {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.ca_file);
        let _ = &self.rig_ca;
    }
}

fn ok_xml(body: &str) -> String {
    format!(
        "HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}

fn autoconfig(servers: &[(&str, u16, &str)]) -> String {
    autoconfig_with(servers, "%EMAILADDRESS%", "")
}

fn autoconfig_with(servers: &[(&str, u16, &str)], username: &str, extra: &str) -> String {
    let mut xml = String::from(
        "<?xml version=\"1.0\"?>\n<clientConfig version=\"1.1\"><emailProvider id=\"mail.test\"><domain>mail.test</domain><displayName>Rig mail</displayName>",
    );
    for (host, port, socket) in servers {
        xml.push_str(&format!(
            "<outgoingServer type=\"smtp\"><hostname>{host}</hostname><port>{port}</port><socketType>{socket}</socketType><username>{username}</username><authentication>password-cleartext</authentication></outgoingServer>"
        ));
    }
    xml.push_str(extra);
    xml.push_str("</emailProvider></clientConfig>\n");
    xml
}

/// Runs `setup` as JSON against the rig's DNS.
fn setup(
    rig: &HashMap<String, String>,
    address: &str,
    more: &[String],
    env: &[(&str, &str)],
) -> Run {
    let mut args: Vec<String> = [
        "setup",
        address,
        "--dns",
        &rig["RM_DNS"],
        "--timeout",
        "3",
        "--deadline",
        "60",
        "--helo",
        "client.test",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    if !more.iter().any(|a| a == "--format") {
        args.push("--format".into());
        args.push("json".into());
    }
    // Thunderbird's ISP database is outside: a test asks only the one it serves.
    if !more.iter().any(|a| a == "--ispdb" || a == "--no-ispdb") {
        args.push("--no-ispdb".into());
    }
    if !more.iter().any(|a| a == "--ca-file") {
        args.push("--ca-file".into());
        args.push(rig["RM_SELFSIGNED"].clone());
    }
    args.extend(more.iter().cloned());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    smtpdoctor(&args, env)
}

fn candidate<'a>(json: &'a Value, address: &str, security: &str) -> &'a Value {
    json["candidates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| {
            format!("{}:{}", c["host"].as_str().unwrap(), c["port"]) == address
                && c["security"] == security
        })
        .unwrap_or_else(|| panic!("no candidate {address} {security}: {}", json["candidates"]))
}

fn source<'a>(json: &'a Value, kind: &str) -> Vec<&'a Value> {
    json["sources"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["kind"] == kind)
        .collect()
}

/// The password of the rig goes once to mail.test, over verified implicit TLS, and the login is
/// confirmed; the STARTTLS port of the same host is tested without it.
#[test]
fn srv_records_and_the_real_server_confirm_the_login() {
    let Some(rig) = rig() else { return };
    let smtps = rig_port(&rig, "RM_SMTPS");
    let sub = rig_port(&rig, "RM_SUBMISSION");
    let pass = rig["RM_PASS"].clone();
    let run = setup(
        &rig,
        &rig["RM_USER"],
        &[
            "--password-env".into(),
            "RIGPASS".into(),
            "--no-guess".into(),
        ],
        // Logs at every level go to stderr, which is checked for the secret too.
        &[("RIGPASS", &pass), ("RUST_LOG", "trace")],
    );
    let json = assert_verdict(&run, "ok", None, 0);
    let r = &json["recommended"];
    assert_eq!(
        (
            r["host"].as_str(),
            r["port"].as_u64(),
            r["security"].as_str()
        ),
        (Some("mail.test"), Some(u64::from(smtps)), Some("implicit"))
    );
    assert_eq!(r["proven"], true);
    assert_eq!(r["username"], rig["RM_USER"]);
    let srv = source(&json, "srv");
    assert_eq!(srv.len(), 2);
    assert!(srv.iter().all(|s| s["status"] == "found"));
    let implicit = candidate(&json, &format!("mail.test:{smtps}"), "implicit");
    assert_eq!(implicit["outcome"], "confirmed");
    assert_eq!(implicit["rank"], 1);
    assert_eq!(implicit["credentials_sent"], true);
    let starttls = candidate(&json, &format!("mail.test:{sub}"), "starttls");
    assert_eq!(starttls["outcome"], "reachable");
    assert_eq!(
        starttls["credentials_sent"], false,
        "one AUTH attempt per host"
    );
    let auths: usize = json["candidates"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|c| {
            c["check"]["transcript"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .filter(|e| e["text"].as_str().is_some_and(|t| t.starts_with("AUTH ")))
        .count();
    assert_eq!(auths, 1, "exactly one AUTH command in the whole run");
    for form in forbidden(&pass, &rig["RM_USER"], "mail.test", smtps) {
        assert!(
            !run.stdout.contains(&form) && !run.stderr.contains(&form),
            "a secret form leaked: {form}"
        );
    }
}

/// Without a password, the run is inconclusive and says how to prove the login; nothing is sent.
#[test]
fn without_a_password_the_best_candidate_is_not_yet_proven() {
    let Some(rig) = rig() else { return };
    let smtps = rig_port(&rig, "RM_SMTPS");
    // Setup guesses port 2525 whatever the rig's ports; it reaches the rig's MX port.
    let mx = [
        "--connect-to".into(),
        format!("mail.test:2525:{}", rig["RM_SMTP"]),
    ];
    let run = setup(&rig, &rig["RM_USER"], &mx, &[]);
    let json = assert_verdict(&run, "inconclusive", None, 15);
    assert_eq!(json["recommended"]["host"], "mail.test");
    assert_eq!(json["recommended"]["port"], smtps);
    assert_eq!(json["recommended"]["proven"], false);
    assert!(
        json["candidates"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["credentials_sent"] == false)
    );
    // The guesses are labelled: the rig's MX port answers as mail.test:2525, without AUTH.
    let guess = candidate(&json, "mail.test:2525", "auto");
    assert_eq!(guess["sources"], serde_json::json!(["guess"]));
    assert_eq!(guess["outcome"], "no_auth");
    assert_eq!(guess["trusted"], false);
}

/// A wrong password: the right server, the login refused, one attempt, exit 12.
#[test]
fn a_wrong_password_is_tried_once_and_named() {
    let Some(rig) = rig() else { return };
    let run = setup(
        &rig,
        &rig["RM_USER"],
        &[
            "--password-env".into(),
            "RIGPASS".into(),
            "--no-guess".into(),
        ],
        &[("RIGPASS", "not-the-password-9Q")],
    );
    let json = assert_verdict(&run, "problem", Some("auth_failed"), 12);
    assert_eq!(json["recommended"]["host"], "mail.test");
    let sent: Vec<&Value> = json["candidates"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["credentials_sent"] == true)
        .collect();
    assert_eq!(sent.len(), 1, "one attempt per host");
    assert_eq!(sent[0]["outcome"], "login_failed");
}

/// The autoconfig file over verified HTTPS is read in full and trusted; when it says SSL for the
/// STARTTLS port, the test settles the disagreement with the SRV record.
#[test]
fn autoconfig_over_https_disagrees_with_srv_and_the_test_settles_it() {
    let Some(rig) = rig() else { return };
    let smtps = rig_port(&rig, "RM_SMTPS");
    let sub = rig_port(&rig, "RM_SUBMISSION");
    let mut web = Web::new(&rig, "disagree");
    web.https(
        "autoconfig.mail.test",
        ok_xml(&autoconfig_with(
            &[("mail.test", sub, "SSL"), ("mail.test", smtps, "SSL")],
            "%EMAILLOCALPART%",
            "<enable visiturl=\"https://mail.test/app-passwords\"><instruction>Create an app password first.</instruction></enable>",
        )),
    );
    let run = setup(
        &rig,
        &rig["RM_USER"],
        &[&web.args()[..], &["--no-guess".into()]].concat(),
        &[],
    );
    let json = assert_verdict(&run, "inconclusive", None, 15);
    let ac = source(&json, "autoconfig");
    assert_eq!(ac[0]["status"], "found", "{}", ac[0]);
    assert_eq!(ac[0]["autoconfig"]["display_name"], "Rig mail");
    assert_eq!(ac[0]["autoconfig"]["outgoing"][0]["socket_type"], "SSL");
    assert_eq!(
        ac[0]["settings"][0]["username"], "user",
        "%EMAILLOCALPART% filled in"
    );
    assert_finding(&json, "setup.autoconfig.instruction");
    // The .well-known address is asked at the same time; only a file at the first would count.
    assert_eq!(ac[1]["status"], "none", "{}", ac[1]);
    assert!(
        source(&json, "autoconfig_http")
            .iter()
            .all(|s| s["status"] == "skipped")
    );
    let both = candidate(&json, &format!("mail.test:{smtps}"), "implicit");
    assert_eq!(both["sources"], serde_json::json!(["srv", "autoconfig"]));
    assert_eq!(
        both["username"], "user",
        "the source that names a login name is followed"
    );
    let wrong = candidate(&json, &format!("mail.test:{sub}"), "implicit");
    assert_eq!(wrong["outcome"], "failed");
    assert_eq!(wrong["check"]["verdict"]["category"], "tls_mismatch");
    assert_eq!(
        candidate(&json, &format!("mail.test:{sub}"), "starttls")["outcome"],
        "reachable"
    );
    assert_finding(&json, "setup.sources.disagree");
    assert_finding(&json, "setup.source.failed");
    let d = &json["disagreements"][0];
    assert_eq!(d["about"], format!("security of mail.test:{sub}"));
    assert!(d["settled"].as_str().unwrap().contains("STARTTLS"), "{d}");
}

/// HTTPS_PROXY is honoured: the autoconfig file comes through a CONNECT tunnel, its certificate
/// still verified for the autoconfig host.
#[test]
fn autoconfig_through_an_https_proxy() {
    let Some(rig) = rig() else { return };
    let smtps = rig_port(&rig, "RM_SMTPS");
    let mut web = Web::new(&rig, "proxy");
    web.https(
        "autoconfig.mail.test",
        ok_xml(&autoconfig(&[("mail.test", smtps, "SSL")])),
    );
    let proxy = web.connect_proxy("autoconfig.mail.test");
    let args = vec![
        "--ca-file".to_string(),
        web.ca_file.to_string_lossy().into_owned(),
        "--no-guess".into(),
    ];
    let run = setup(
        &rig,
        &rig["RM_USER"],
        &args,
        &[("HTTPS_PROXY", proxy.as_str())],
    );
    let json = assert_verdict(&run, "inconclusive", None, 15);
    let ac = source(&json, "autoconfig");
    assert_eq!(ac[0]["status"], "found", "{}", ac[0]);
    assert_eq!(ac[0]["fetch"]["proxy"], proxy.trim_start_matches("http://"));
    let c = candidate(&json, &format!("mail.test:{smtps}"), "implicit");
    assert_eq!(c["sources"], serde_json::json!(["srv", "autoconfig"]));
}

/// Plain HTTP is for information only: its servers never get the password.
#[test]
fn autoconfig_over_plain_http_is_never_trusted() {
    let Some(rig) = rig() else { return };
    let smtps = rig_port(&rig, "RM_SMTPS");
    let pass = rig["RM_PASS"].clone();
    let mut web = Web::new(&rig, "http");
    web.http(
        "autoconfig.nosub.mail.test",
        ok_xml(&autoconfig(&[("mail.test", smtps, "SSL")])),
    );
    let more = [
        &web.args()[..],
        &[
            "--no-guess".into(),
            "--password-env".into(),
            "RIGPASS".into(),
        ],
    ]
    .concat();
    let run = setup(&rig, "user@nosub.mail.test", &more, &[("RIGPASS", &pass)]);
    let json = assert_verdict(&run, "inconclusive", None, 15);
    let http = source(&json, "autoconfig_http");
    assert_eq!(http[0]["status"], "found");
    let c = candidate(&json, &format!("mail.test:{smtps}"), "implicit");
    assert_eq!(c["sources"], serde_json::json!(["autoconfig_http"]));
    assert_eq!(
        (c["trusted"].as_bool(), c["credentials_sent"].as_bool()),
        (Some(false), Some(false))
    );
    assert_eq!(c["outcome"], "reachable");
    assert_finding(&json, "setup.autoconfig.http_only");
    assert_finding(&json, "setup.srv.not_offered");
    assert_finding(&json, "setup.untrusted.no_password");
}

/// A redirect off the domain is not followed; an untrusted certificate makes the file unused.
#[test]
fn autoconfig_redirects_off_the_domain_and_bad_certificates_are_refused() {
    let Some(rig) = rig() else { return };
    let mut web = Web::new(&rig, "redirect");
    web.https(
        "autoconfig.mail.test",
        "HTTP/1.1 302 Found\r\nLocation: https://evil.test/config.xml\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".into(),
    );
    let run = setup(
        &rig,
        &rig["RM_USER"],
        &[&web.args()[..], &["--no-guess".into()]].concat(),
        &[],
    );
    let json = assert_verdict(&run, "inconclusive", None, 15);
    let ac = source(&json, "autoconfig");
    assert_eq!(ac[0]["status"], "failed");
    assert!(
        ac[0]["detail"].as_str().unwrap().contains("off the domain"),
        "{}",
        ac[0]
    );
    assert_finding(&json, "setup.autoconfig.redirect");
    // The same server, its CA not given: the certificate does not verify.
    let args = vec![
        "--connect-to".to_string(),
        web.connect_to[0].clone(),
        "--no-guess".into(),
    ];
    let run = setup(&rig, &rig["RM_USER"], &args, &[]);
    let json = assert_verdict(&run, "inconclusive", None, 15);
    assert_finding(&json, "setup.autoconfig.certificate");
}

/// The provider behind the MX and the service in the SPF record are labelled as inferences and
/// never get the password; their account policy is a finding.
#[test]
fn inferred_providers_are_labelled_and_get_no_password() {
    let Some(rig) = rig() else { return };
    let pass = rig["RM_PASS"].clone();
    let run = setup(
        &rig,
        "someone@gw.mail.test",
        &[
            "--password-env".into(),
            "RIGPASS".into(),
            "--no-guess".into(),
        ],
        &[("RIGPASS", &pass)],
    );
    // The rig's DNS refuses real names, so nothing outside the machine is ever reached.
    let json = assert_verdict(&run, "problem", Some("dns"), 10);
    let mx = source(&json, "mx_provider");
    assert_eq!(mx[0]["preset"]["id"], "gmail");
    assert!(
        mx[0]["preset"]["matched"]
            .as_str()
            .unwrap()
            .contains("aspmx.l.google.com")
    );
    let spf = source(&json, "spf_provider");
    assert_eq!(spf[0]["preset"]["id"], "sendgrid");
    for c in json["candidates"].as_array().unwrap() {
        assert_eq!(c["trusted"], false, "{c}");
        assert_eq!(c["credentials_sent"], false, "{c}");
    }
    assert_eq!(
        candidate(&json, "smtp.sendgrid.net:587", "starttls")["username"],
        "apikey"
    );
    assert_finding(&json, "setup.policy.app_password");
    assert_finding(&json, "setup.policy.api_key");
}

/// An SRV target outside the domain is tested without the password (RFC 6186 section 6);
/// `--server` vouches for it.
#[test]
fn an_off_domain_srv_target_needs_the_user_to_vouch() {
    let Some(rig) = rig() else { return };
    let smtps = rig_port(&rig, "RM_SMTPS");
    let pass = rig["RM_PASS"].clone();
    let env = [("RIGPASS", pass.as_str())];
    let mut more = vec![
        "--password-env".to_string(),
        "RIGPASS".into(),
        "--no-guess".into(),
        "--user".into(),
        rig["RM_USER"].clone(),
    ];
    let run = setup(&rig, "user@offsite.mail.test", &more, &env);
    let json = assert_verdict(&run, "inconclusive", None, 15);
    assert_finding(&json, "setup.srv.off_domain");
    let c = candidate(&json, &format!("mail.test:{smtps}"), "implicit");
    assert_eq!(
        (c["trusted"].as_bool(), c["credentials_sent"].as_bool()),
        (Some(false), Some(false))
    );
    more.extend(["--server".into(), format!("mail.test:{smtps}")]);
    let run = setup(&rig, "user@offsite.mail.test", &more, &env);
    let json = assert_verdict(&run, "ok", None, 0);
    let c = candidate(&json, &format!("mail.test:{smtps}"), "auto");
    assert_eq!(c["sources"], serde_json::json!(["user"]));
    assert_eq!(c["outcome"], "confirmed");
    assert_eq!(c["tls_found"], "implicit");
    assert_eq!(json["recommended"]["security"], "implicit");
}

/// An autoconfig server that never answers costs one timeout, not a hang.
#[test]
fn a_silent_autoconfig_server_is_bounded_by_the_timeout() {
    let Some(rig) = rig() else { return };
    let smtps = rig_port(&rig, "RM_SMTPS");
    let mut web = Web::new(&rig, "silent");
    web.silent("autoconfig.mail.test");
    let mut args = web.args();
    args.push("--no-guess".into()); // --timeout 3, as every test here
    let run = setup(&rig, &rig["RM_USER"], &args, &[]);
    let json = assert_verdict(&run, "inconclusive", None, 15);
    let ac = source(&json, "autoconfig");
    assert_eq!(ac[0]["status"], "failed", "{}", ac[0]);
    assert!(
        ac[0]["detail"].as_str().unwrap().contains("in time"),
        "{}",
        ac[0]
    );
    // The SRV records still count: one slow source never loses the others.
    assert_eq!(json["recommended"]["port"], smtps);
    assert!(
        run.elapsed < std::time::Duration::from_secs(15),
        "{:?}",
        run.elapsed
    );
}

/// A domain with nothing at all: no source, no guessed host; bounded and quick to say so.
#[test]
fn a_domain_with_nothing_at_all() {
    let Some(rig) = rig() else { return };
    let run = setup(&rig, "x@nothing.test", &[], &[]);
    let json = assert_verdict(&run, "problem", Some("dns"), 10);
    assert_finding(&json, "setup.nothing_found");
    assert!(json["recommended"].is_null());
    assert!(
        json["sources"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["status"] != "found" || s["kind"] == "guess")
    );
    assert!(
        run.elapsed < std::time::Duration::from_secs(30),
        "bounded: {:?}",
        run.elapsed
    );
}

/// The support report: the settings, the sources and the full test, never the password.
#[test]
fn the_support_report_holds_the_settings_and_never_the_secret() {
    let Some(rig) = rig() else { return };
    let smtps = rig_port(&rig, "RM_SMTPS");
    let pass = rig["RM_PASS"].clone();
    let dir = std::env::temp_dir().join(format!("smtpdoctor-setup-report-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    for name in ["support.md", "support.html"] {
        let path = dir.join(name);
        let run = setup(
            &rig,
            &rig["RM_USER"],
            &[
                "--password-env".into(),
                "RIGPASS".into(),
                "--no-guess".into(),
                "--report".into(),
                path.to_string_lossy().into_owned(),
            ],
            &[("RIGPASS", &pass)],
        );
        assert_verdict(&run, "ok", None, 0);
        let text = std::fs::read_to_string(&path).unwrap();
        for form in forbidden(&pass, &rig["RM_USER"], "mail.test", smtps) {
            assert!(!text.contains(&form), "{name} holds a secret form {form}");
        }
        for needed in [
            "Settings for the mail client",
            "mail.test",
            smtps.to_string().as_str(),
            "Sources",
            "Candidates",
            "235 2.7.0",
            "AUTH PLAIN [redacted]",
        ] {
            assert!(text.contains(needed), "{name} lacks {needed:?}");
        }
    }
    // --redact-identity masks the address, the domain and the addresses.
    let path = dir.join("masked.md");
    let run = setup(
        &rig,
        &rig["RM_USER"],
        &[
            "--no-guess".into(),
            "--report".into(),
            path.to_string_lossy().into_owned(),
            "--redact-identity".into(),
        ],
        &[],
    );
    assert_verdict(&run, "inconclusive", None, 15);
    let text = std::fs::read_to_string(&path).unwrap();
    for identity in [rig["RM_USER"].as_str(), "mail.test", "127.0.0.1"] {
        assert!(!text.contains(identity), "masked report holds {identity}");
    }
    assert!(text.contains("user-1") && text.contains("host-1"));
    let _ = std::fs::remove_dir_all(&dir);
}

/// Thunderbird's "forMX" step: hosted.test's MX is mx.eu.mail.test, so the autoconfig file of
/// mail.test (its domain) is asked, over HTTPS only, and trusted for hosts inside mail.test; a
/// host it names outside that domain gets no password.
#[test]
fn the_autoconfig_file_of_the_mx_domain_is_trusted_for_its_own_hosts() {
    let Some(rig) = rig() else { return };
    let smtps = rig_port(&rig, "RM_SMTPS");
    let pass = rig["RM_PASS"].clone();
    let mut web = Web::new(&rig, "formx");
    web.https(
        "autoconfig.mail.test",
        ok_xml(&autoconfig(&[
            ("mail.test", smtps, "SSL"),
            ("smtp.elsewhere.test", 587, "STARTTLS"),
        ])),
    );
    let more = [
        &web.args()[..],
        &[
            "--no-guess".into(),
            "--user".into(),
            rig["RM_USER"].clone(),
            "--password-env".into(),
            "RIGPASS".into(),
        ],
    ]
    .concat();
    let run = setup(&rig, "someone@hosted.test", &more, &[("RIGPASS", &pass)]);
    let json = assert_verdict(&run, "ok", None, 0);
    let mx = source(&json, "autoconfig_mx");
    assert_eq!(mx.len(), 2, "the base domain and one label more: {mx:?}");
    assert_eq!(
        mx[0]["query"],
        "https://autoconfig.mail.test/mail/config-v1.1.xml"
    );
    assert_eq!(mx[0]["status"], "found", "{}", mx[0]);
    assert_eq!(mx[0]["scope"], "mail.test");
    assert!(
        mx[0]["detail"]
            .as_str()
            .unwrap()
            .starts_with("MX mx.eu.mail.test")
    );
    assert_eq!(
        mx[1]["query"],
        "https://autoconfig.eu.mail.test/mail/config-v1.1.xml"
    );
    assert_eq!(mx[1]["status"], "none", "{}", mx[1]);
    // The address is not sent to the MX's domain, and no plain-HTTP form is tried there.
    assert!(
        mx.iter()
            .all(|s| !s["query"].as_str().unwrap().contains("emailaddress"))
    );
    let ispdb = source(&json, "ispdb_mx");
    assert!(ispdb.iter().all(|s| s["status"] == "skipped"), "{ispdb:?}");
    let c = candidate(&json, &format!("mail.test:{smtps}"), "implicit");
    assert_eq!(c["sources"], serde_json::json!(["autoconfig_mx"]));
    assert_eq!(
        (c["trusted"].as_bool(), c["credentials_sent"].as_bool()),
        (Some(true), Some(true))
    );
    assert_eq!(c["outcome"], "confirmed");
    let outside = candidate(&json, "smtp.elsewhere.test:587", "starttls");
    assert_eq!(
        (
            outside["trusted"].as_bool(),
            outside["credentials_sent"].as_bool()
        ),
        (Some(false), Some(false))
    );
    assert_finding(&json, "setup.mx_source.outside");
    for form in forbidden(&pass, &rig["RM_USER"], "mail.test", smtps) {
        assert!(!run.stdout.contains(&form), "a secret form leaked: {form}");
    }
    // The address's own MX domain is never asked as a third party.
    let run = setup(&rig, &rig["RM_USER"], &["--no-guess".into()], &[]);
    let json = assert_verdict(&run, "inconclusive", None, 15);
    let mx = source(&json, "autoconfig_mx");
    assert_eq!(mx[0]["status"], "skipped", "{}", mx[0]);
}

/// The ISP database (here served locally with `--ispdb`) is trusted like a preset: its server
/// gets the password and the login is confirmed; the address itself is not sent to it.
#[test]
fn the_isp_database_is_asked_and_trusted() {
    let Some(rig) = rig() else { return };
    let smtps = rig_port(&rig, "RM_SMTPS");
    let pass = rig["RM_PASS"].clone();
    let mut web = Web::new(&rig, "ispdb");
    web.https(
        "ispdb.test",
        ok_xml(&autoconfig(&[("mail.test", smtps, "SSL")])),
    );
    let more = [
        &web.args()[..],
        &[
            "--ispdb".into(),
            "https://ispdb.test/v1.1".into(),
            "--no-guess".into(),
            "--user".into(),
            rig["RM_USER"].clone(),
            "--password-env".into(),
            "RIGPASS".into(),
        ],
    ]
    .concat();
    // nosub.mail.test: SRV says "not offered", no autoconfig file; only the database knows.
    let run = setup(&rig, "user@nosub.mail.test", &more, &[("RIGPASS", &pass)]);
    let json = assert_verdict(&run, "ok", None, 0);
    let db = source(&json, "ispdb");
    assert_eq!(db[0]["query"], "https://ispdb.test/v1.1/nosub.mail.test");
    assert_eq!(db[0]["status"], "found", "{}", db[0]);
    let c = candidate(&json, &format!("mail.test:{smtps}"), "implicit");
    assert_eq!(c["sources"], serde_json::json!(["ispdb"]));
    assert_eq!(c["credentials_sent"], true);
    assert_eq!(c["outcome"], "confirmed");
    assert_eq!(json["recommended"]["sources"], serde_json::json!(["ispdb"]));
    // --no-ispdb: not asked at all.
    let run = setup(
        &rig,
        "user@nosub.mail.test",
        &["--no-ispdb".into(), "--no-guess".into()],
        &[],
    );
    let json: Value = serde_json::from_str(&run.stdout).unwrap();
    let db = source(&json, "ispdb");
    assert_eq!(db[0]["status"], "skipped");
    assert_eq!(db[0]["detail"], "not asked (--no-ispdb)");
    // A database that answers with nonsense is a finding of its own, not the domain's problem.
    let mut broken = Web::new(&rig, "ispdb-broken");
    broken.https("ispdb.test", ok_xml("<html>maintenance</html>"));
    let more = [
        &broken.args()[..],
        &[
            "--ispdb".into(),
            "https://ispdb.test/v1.1/".into(),
            "--no-guess".into(),
        ],
    ]
    .concat();
    let run = setup(&rig, "user@nosub.mail.test", &more, &[]);
    let json: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(source(&json, "ispdb")[0]["status"], "failed");
    assert_finding(&json, "setup.ispdb.failed");
}

/// `--public-ip` in setup's JSON and report, as the user's word; masked with the identity.
#[test]
fn the_public_address_goes_into_the_setup_report_as_given() {
    let Some(rig) = rig() else { return };
    let dir = std::env::temp_dir().join(format!("smtpdoctor-setup-pubip-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    for masked in [false, true] {
        let path = dir.join(format!("r-{masked}.md"));
        let mut more = vec![
            "--no-guess".to_string(),
            "--public-ip".into(),
            "2001:db8::77".into(),
            "--report".into(),
            path.to_string_lossy().into_owned(),
        ];
        if masked {
            more.push("--redact-identity".into());
        }
        let run = setup(&rig, &rig["RM_USER"], &more, &[]);
        let json = assert_verdict(&run, "inconclusive", None, 15);
        assert_eq!(json["target"]["public_ip"]["address"], "2001:db8::77");
        assert_eq!(json["target"]["public_ip"]["source"], "user");
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.contains("2001:db8::77"), !masked, "{text}");
        assert!(text.contains("Public address: "), "{text}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn usage_errors() {
    for (args, needle) in [
        (vec!["setup", "not-an-address"], "not an email address"),
        (vec!["setup", "a@."], "domain after @ is empty"),
        (vec!["setup", "a@x/y"], "not a domain name"),
        (vec!["setup", "a@[127.0.0.1]"], "address literal"),
        (vec!["setup", "a@b..test"], "not a domain name"),
        (
            vec!["setup", "a@b.test", "--password", "x"],
            "never taken from the command line",
        ),
        (
            vec!["setup", "a@b.test", "--server", "smtp.b.test"],
            "HOST:PORT",
        ),
        (
            vec![
                "setup",
                "a@b.test",
                "--password-env",
                "SMTPDOCTOR_UNSET_VAR_X",
            ],
            "not set",
        ),
        (
            vec!["setup", "a@b.test", "--ispdb", "http://ispdb.test/"],
            "https://",
        ),
        (
            vec!["setup", "a@b.test", "--ispdb", "https://ispdb.test:8443/"],
            "no port",
        ),
        (
            vec!["setup", "a@b.test", "--public-ip", "300.1.2.3"],
            "not an IP address",
        ),
    ] {
        let run = smtpdoctor(&args, &[]);
        assert_eq!(run.code, 2, "{args:?}: {}", run.stderr);
        assert!(run.stderr.contains(needle), "{args:?}: {}", run.stderr);
    }
}

/// The Markdown report of a confirmed setup, as a snapshot (times, ports, versions and the rig's
/// certificate details normalised).
#[test]
fn markdown_report_snapshot() {
    let Some(rig) = rig() else { return };
    let pass = rig["RM_PASS"].clone();
    let dir = std::env::temp_dir().join(format!("smtpdoctor-setup-snap-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("setup.md");
    let run = setup(
        &rig,
        &rig["RM_USER"],
        &[
            "--password-env".into(),
            "RIGPASS".into(),
            "--no-guess".into(),
            "--report".into(),
            path.to_string_lossy().into_owned(),
        ],
        &[("RIGPASS", &pass)],
    );
    let json = assert_verdict(&run, "ok", None, 0);
    let mut text = std::fs::read_to_string(&path).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let mut swaps = vec![
        (
            json["started_at"].as_str().unwrap().to_string(),
            "STARTED".to_string(),
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
    for c in json["candidates"].as_array().unwrap() {
        for s in c["check"]["sessions"].as_array().into_iter().flatten() {
            for a in s["connects"].as_array().into_iter().flatten() {
                if let Some(local) = a["local"].as_str() {
                    let port = local.rsplit(':').next().unwrap();
                    swaps.push((format!(":{port}"), ":LOCALPORT".into()));
                }
            }
        }
    }
    for (from, to) in swaps {
        text = text.replace(&from, &to);
    }
    let text = with_default_rig_ports(&text, &rig);
    // The rig makes its certificates at its first start: their dates and digests vary.
    let text: String = text
        .lines()
        .filter(|l| {
            !["| SHA-256 |", "| SPKI SHA-256 |", "| Valid |"]
                .iter()
                .any(|p| l.starts_with(p))
        })
        .map(|l| format!("{l}\n"))
        .collect();
    crate::report::assert_snapshot("setup-confirmed.md", &crate::report::durations(&text));
}

/// A server that echoes the password on a connection that never carried it (here: a plaintext
/// candidate, which never gets the password; the secret is told to the fake server, as if another
/// connection of the run had delivered it). Every output is scrubbed all the same: JSON, the human
/// transcript and RUST_LOG=trace. No real server echoes on demand, hence the in-process fake.
#[test]
fn a_password_echoed_on_another_connection_is_scrubbed_everywhere() {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    const SECRET: &str = "Echo-Me-Elsewhere-4417!";
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let port = listener.local_addr().unwrap().port();
    let forms = forbidden(SECRET, "me@echo.test", "127.0.0.1", port);
    let payload = forms[1].clone();
    runtime.spawn(async move {
        loop {
            let Ok((s, _)) = listener.accept().await else {
                continue;
            };
            let payload = payload.clone();
            tokio::spawn(async move {
                let (r, mut w) = s.into_split();
                let mut lines = BufReader::new(r).lines();
                let _ = w
                    .write_all(format!("220 fake ready {SECRET} {payload}\r\n").as_bytes())
                    .await;
                while let Ok(Some(line)) = lines.next_line().await {
                    let reply = if line.to_ascii_uppercase().starts_with("EHLO") {
                        format!("250-fake {SECRET}\r\n250 AUTH PLAIN {payload}\r\n")
                    } else if line.eq_ignore_ascii_case("QUIT") {
                        format!("221 bye {SECRET}\r\n")
                    } else {
                        format!("502 5.5.2 {SECRET} {payload}\r\n")
                    };
                    if w.write_all(reply.as_bytes()).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    // Nothing answers DNS: discovery fails fast and only the given server is tested.
    let dead_dns = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let dns = dead_dns.local_addr().unwrap().to_string();
    drop(dead_dns);
    let server = format!("127.0.0.1:{port}");
    for format in ["json", "human"] {
        let run = smtpdoctor(
            &[
                "setup",
                "me@echo.test",
                "--dns",
                &dns,
                "--no-ispdb",
                "--no-guess",
                "--timeout",
                "2",
                "--server",
                &server,
                "--server-tls",
                "none",
                "--password-env",
                "ECHOPW",
                "--format",
                format,
                "--transcript",
            ],
            &[("ECHOPW", SECRET), ("RUST_LOG", "trace")],
        );
        assert!(
            run.stdout.contains("fake ready [redacted]"),
            "{format}: the echo was received and scrubbed: {}",
            run.stdout
        );
        assert!(
            run.stderr.contains("[redacted]"),
            "{format}: trace logs the scrubbed line"
        );
        for form in &forms {
            assert!(
                !run.stdout.contains(form.as_str()) && !run.stderr.contains(form.as_str()),
                "{format}: a secret form leaked: {form}"
            );
        }
    }
}

/// One password attempt per server, whatever it is called: `localhost`, `127.0.0.1`,
/// `LOCALHOST.`, `[::1]` and the SRV records' `mail.test` (both ports) all lead to the rig's one
/// Postfix. Counted as the server saw it (Dovecot's log, by a login name only this test uses)
/// and in the transcripts.
#[test]
fn the_password_goes_once_to_one_server_under_every_name() {
    let Some(rig) = rig() else { return };
    let smtps = rig_port(&rig, "RM_SMTPS");
    let user = format!("names-{}@mail.test", std::process::id());
    let run = setup(
        &rig,
        &rig["RM_USER"],
        &[
            "--no-guess".into(),
            "--user".into(),
            user.clone(),
            "--password-env".into(),
            "RIGPASS".into(),
            "--server".into(),
            format!("localhost:{smtps}"),
            "--server".into(),
            format!("127.0.0.1:{smtps}"),
            "--server".into(),
            format!("LOCALHOST.:{smtps}"),
            "--server".into(),
            format!("[::1]:{smtps}"),
            "--server-tls".into(),
            "implicit".into(),
        ],
        &[("RIGPASS", "not-the-password-names")],
    );
    let json = assert_verdict(&run, "problem", Some("auth_failed"), 12);
    let candidates = json["candidates"].as_array().unwrap();
    assert!(candidates.len() >= 4, "{}", json["candidates"]);
    let auth_lines: usize = candidates
        .iter()
        .filter_map(|c| c["check"]["transcript"].as_array())
        .flatten()
        .filter(|e| {
            e["dir"] == "sent"
                && e["text"]
                    .as_str()
                    .is_some_and(|t| t.to_ascii_uppercase().starts_with("AUTH "))
        })
        .count();
    assert_eq!(auth_lines, 1, "one AUTH command in all transcripts");
    let sent: Vec<&Value> = candidates
        .iter()
        .filter(|c| c["credentials_sent"] == true)
        .collect();
    assert_eq!(sent.len(), 1, "{}", json["candidates"]);
    let log = std::fs::read_to_string(&rig["RM_DOVECOT_LOG"]).unwrap_or_default();
    if !log.is_empty() {
        let seen = log.lines().filter(|l| l.contains(&user)).count();
        assert_eq!(seen, 1, "Dovecot saw {seen} attempts for {user}");
    }
}

/// A plain-HTTP autoconfig file (anyone on the path can write it) names the user's trusted
/// server with a login name of its own and carries terminal escape sequences: the password goes
/// with the address as login name, the settings shown keep it, and no escape reaches the
/// terminal.
#[test]
fn a_plain_http_file_neither_chooses_the_login_nor_controls_the_terminal() {
    let Some(rig) = rig() else { return };
    let smtps = rig_port(&rig, "RM_SMTPS");
    let mut web = Web::new(&rig, "planted");
    web.http(
        "autoconfig.nosub.mail.test",
        ok_xml(
            &autoconfig_with(
                &[("mail.test", smtps, "SSL")],
                "chosen-by-attacker",
                "<enable visiturl=\"https://nosub.mail.test/x\"><instruction>Evil \u{1b}[2J\u{1b}]0;PWNED\u{7} done</instruction></enable>",
            )
            .replace("Rig mail", "Rig \u{1b}[8mhidden\u{1b}[0m mail"),
        ),
    );
    web.http(
        "nosub.mail.test",
        "HTTP/1.1 301 Moved\r\nLocation: ftp://\u{1b}[31mRED\u{1b}]0;PWNED\u{7}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".into(),
    );
    let more = [
        &web.args()[..],
        &[
            "--no-guess".into(),
            "--server".into(),
            format!("mail.test:{smtps}"),
            "--server-tls".into(),
            "implicit".into(),
            "--password-env".into(),
            "RIGPASS".into(),
        ],
    ]
    .concat();
    let env = [("RIGPASS", "not-the-password-planted")];
    let run = setup(&rig, "user@nosub.mail.test", &more, &env);
    let json = assert_verdict(&run, "problem", Some("auth_failed"), 12);
    let c = candidate(&json, &format!("mail.test:{smtps}"), "implicit");
    assert_eq!(c["credentials_sent"], true);
    assert_eq!(c["username"], "user@nosub.mail.test", "{c}");
    assert_eq!(json["recommended"]["username"], "user@nosub.mail.test");
    let auth = c["check"]["transcript"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["text"].as_str())
        .find(|t| t.starts_with("AUTH "))
        .unwrap()
        .to_string();
    assert!(!auth.contains("chosen"), "{auth}");
    let human = setup(
        &rig,
        "user@nosub.mail.test",
        &[
            &more[..],
            &["--format".into(), "human".into(), "--transcript".into()],
        ]
        .concat(),
        &env,
    );
    assert!(human.stdout.contains("PWNED"), "{}", human.stdout);
    assert!(!human.stdout.contains('\u{1b}'), "{:?}", human.stdout);
    assert!(!human.stdout.contains('\u{7}'));
}

/// A resolver that never answers: the sources that finished are kept, the one cut off says so,
/// and the verdict is a temporary DNS failure, not "nothing exists".
#[test]
fn a_silent_resolver_is_a_dns_failure_not_proof_of_nothing() {
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let dns = silent.local_addr().unwrap().to_string();
    for extra in [None, Some("--no-guess")] {
        let mut args = vec![
            "setup",
            "a@silent.test",
            "--dns",
            &dns,
            "--timeout",
            "1",
            "--no-ispdb",
            "--format",
            "json",
        ];
        args.extend(extra);
        let run = smtpdoctor(&args, &[]);
        let json: Value = serde_json::from_str(&run.stdout).unwrap();
        let kinds: Vec<&str> = json["sources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["kind"].as_str().unwrap())
            .collect();
        for kind in ["srv", "autoconfig", "mx_provider", "spf_provider"] {
            assert!(kinds.contains(&kind), "{kind} kept: {kinds:?}");
        }
        assert_eq!(json["verdict"]["category"], "dns", "{}", json["verdict"]);
        assert_ne!(json["verdict"]["retry"], "permanent", "{}", json["verdict"]);
        assert_ne!(json["verdict"]["confidence"], "high");
        if extra.is_some() {
            assert!(
                !json["verdict"]["summary"]
                    .as_str()
                    .unwrap()
                    .contains("no guessed host exists"),
                "{}",
                json["verdict"]
            );
        } else {
            assert_finding(&json, "setup.dns_failed");
        }
    }
    drop(silent);
}

/// An international domain is looked up in A-labels.
#[test]
fn an_international_domain_is_asked_in_a_labels() {
    let closed = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let dns = closed.local_addr().unwrap().to_string();
    drop(closed);
    let run = smtpdoctor(
        &[
            "setup",
            "me@Bücher.test",
            "--dns",
            &dns,
            "--timeout",
            "1",
            "--no-ispdb",
            "--no-guess",
            "--format",
            "json",
        ],
        &[],
    );
    assert_ne!(run.code, 2, "{}", run.stderr);
    let json: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(json["target"]["domain"], "xn--bcher-kva.test");
    assert_eq!(json["target"]["address"], "me@xn--bcher-kva.test");
    assert!(
        json["sources"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["query"] == "_submissions._tcp.xn--bcher-kva.test SRV")
    );
}

/// An OAuth token for a server that offers only password mechanisms: nothing is sent, the JSON
/// says so (credentials_sent is the evidence, not the intention), and the verdict says why.
#[test]
fn a_credential_the_server_cannot_use_is_not_reported_as_sent() {
    let Some(rig) = rig() else { return };
    let run = setup(
        &rig,
        &rig["RM_USER"],
        &[
            "--no-guess".into(),
            "--oauth-token-env".into(),
            "RIGTOKEN".into(),
        ],
        &[("RIGTOKEN", "ya29.not-a-real-token")],
    );
    let json = assert_verdict(&run, "inconclusive", None, 15);
    assert!(
        json["candidates"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["credentials_sent"] == false),
        "{}",
        json["candidates"]
    );
    let summary = json["verdict"]["summary"].as_str().unwrap();
    assert!(summary.contains("login was not tried"), "{summary}");
    assert!(summary.contains("OAuth token needs XOAUTH2"), "{summary}");
    assert!(!summary.contains("only a"), "{summary}");
}
