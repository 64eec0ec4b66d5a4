//! `smtpdoctor domain` against the rig's NSD zones (scripts/rig: auth.test has everything right,
//! bad.test and its subdomains one planted problem each, test holds the blocklists with their
//! IPv4 and IPv6 test entries, mail.test the MX cases and the MTA-STS domains, the signed
//! dane.test the DANE cases, and 2.0.192.in-addr.arpa the reverse DNS of TEST-NET-1), the
//! MTA-STS policy from the lab's HTTPS server, DANE and MTA-STS against the rig's Postfix (its
//! ports reached with --connect-to), and DNS faults from in-process responders.

use crate::dns::{Answer, fake_dns};
use crate::*;

/// The checks' statuses by name.
fn statuses(json: &Value) -> HashMap<String, String> {
    json["checks"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v["status"].as_str().unwrap().to_string()))
        .collect()
}

fn status(json: &Value, check: &str) -> String {
    json["checks"][check]["status"]
        .as_str()
        .unwrap()
        .to_string()
}

fn check_ids(json: &Value, check: &str) -> Vec<String> {
    json["checks"][check]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_str().unwrap().to_string())
        .collect()
}

fn severity(json: &Value, check: &str, id: &str) -> String {
    json["checks"][check]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == id)
        .unwrap_or_else(|| panic!("{id} not in {check}: {:?}", check_ids(json, check)))["severity"]
        .as_str()
        .unwrap()
        .to_string()
}

/// Runs `domain` as JSON against the rig's DNS, with the test blocklists.
fn domain(rig: &HashMap<String, String>, name: &str, more: &[&str]) -> Run {
    let mut args = vec![
        "domain",
        name,
        "--dns",
        &rig["RM_DNS"],
        "--format",
        "json",
        "--timeout",
        "5",
        "--dnsbl",
        "bl.test",
        "--rhsbl",
        "dbl.test",
    ];
    args.extend_from_slice(more);
    smtpdoctor(&args, &[])
}

/// Validates and returns the report, asserting the verdict.
fn report(run: &Run, verdict: &str, category: Option<&str>, exit: i32) -> Value {
    assert_verdict(run, verdict, category, exit)
}

/// The MTA-STS policy of auth.test, served over HTTPS by a test CA.
struct Policy {
    _runtime: tokio::runtime::Runtime,
    ca_file: std::path::PathBuf,
    connect_to: String,
}

impl Policy {
    fn serve(host: &str, body: &str) -> Policy {
        Policy::respond(
            host,
            format!(
                "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            ),
        )
    }
    /// Serves `response` (a whole HTTP response: status line, headers, body) as `host`.
    fn respond(host: &str, response: String) -> Policy {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let (addr, ca, _task) = runtime
            .block_on(smtpdoctor_lab::https_responder(host, response))
            .unwrap();
        let ca_file = std::env::temp_dir().join(format!(
            "smtpdoctor-domain-ca-{}-{}.pem",
            std::process::id(),
            addr.port()
        ));
        std::fs::write(&ca_file, ca).unwrap();
        Policy {
            _runtime: runtime,
            ca_file,
            connect_to: format!("{host}:443:127.0.0.1:{}", addr.port()),
        }
    }
    /// The policy server's options, and port 25 of mx.auth.test (192.0.2.25 in the zone, which
    /// a policy in mode enforce makes the run connect to) sent to a closed loopback port: tests
    /// never leave loopback.
    fn args(&self) -> Vec<String> {
        vec![
            "--connect-to".into(),
            self.connect_to.clone(),
            "--ca-file".into(),
            self.ca_file.to_string_lossy().into_owned(),
            "--connect-to".into(),
            "mx.auth.test:25:127.0.0.1:1".into(),
        ]
    }
}

impl Drop for Policy {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.ca_file);
    }
}

const GOOD_POLICY: &str = "version: STSv1\nmode: enforce\nmx: mx.auth.test\nmax_age: 604800\n";

#[test]
fn a_domain_with_everything_right_passes_every_check() {
    let Some(rig) = rig() else { return };
    let policy = Policy::serve("mta-sts.auth.test", GOOD_POLICY);
    let extra = policy.args();
    let mut more: Vec<&str> = vec![
        "--ip",
        "192.0.2.25",
        "--helo",
        "mx.auth.test",
        "--dkim-selector",
        "rig",
    ];
    more.extend(extra.iter().map(String::as_str));
    let run = domain(&rig, "auth.test", &more);
    let json = report(&run, "ok", None, 0);
    let s = statuses(&json);
    for check in [
        "mx", "spf", "dkim", "dmarc", "mta_sts", "tls_rpt", "ptr", "dnsbl",
    ] {
        assert_eq!(s[check], "pass", "{check}: {}", json["checks"][check]);
    }
    assert_eq!(s["dane"], "none");
    assert_eq!(json["domain"], "auth.test");
    assert_eq!(json["resolver"], rig["RM_DNS"]);
    let spf = &json["checks"]["spf"]["details"];
    assert_eq!(spf["lookups"], 2, "include + a: {spf}");
    assert_eq!(spf["results"][0]["result"], "pass");
    assert_eq!(spf["tree"][0]["term"], "include:_spf.auth.test");
    let dkim = &json["checks"]["dkim"]["details"]["selectors"][0];
    assert_eq!(
        (dkim["selector"].as_str(), dkim["key_bits"].as_u64()),
        (Some("rig"), Some(2048))
    );
    assert_eq!(dkim["guessed"], false);
    let dmarc = &json["checks"]["dmarc"]["details"];
    assert_eq!(dmarc["record"]["p"], "reject");
    assert_eq!(dmarc["report_authorisation"][0]["authorised"], true);
    assert!(check_ids(&json, "dmarc").contains(&"dmarc.report_authorised".to_string()));
    let sts = &json["checks"]["mta_sts"]["details"];
    assert_eq!(sts["mx_coverage"][0]["covered"], true);
    assert_eq!(sts["fetch"]["status"], 200);
    assert_eq!(sts["policy"]["mode"], "enforce");
    // The policy names mx.auth.test, so its port 25 is tried (here a closed port: no finding
    // beyond an info, outbound port 25 is often blocked).
    assert_eq!(sts["mx_tls"][0]["host"], "mx.auth.test");
    assert_eq!(sts["mx_tls"][0]["tls"], "no connection");
    let ptr = &json["checks"]["ptr"]["details"]["addresses"][0];
    assert_eq!(ptr["ptr"][0], "mx.auth.test");
    assert_eq!(ptr["forward"][0]["matches"], true);
    assert_eq!(ptr["helo"]["matches"], true);
    let bl = &json["checks"]["dnsbl"]["details"];
    assert_eq!(bl["zones"][0]["test_listed"]["codes"][0], "127.0.0.2");
    assert_eq!(bl["queries"][0]["answer"]["outcome"], "nx_domain");

    // The human form: one line per check, and the verdict.
    let mut args = vec![
        "domain",
        "auth.test",
        "--dns",
        &rig["RM_DNS"],
        "--dnsbl",
        "bl.test",
        "--rhsbl",
        "dbl.test",
        "--ip",
        "192.0.2.25",
        "--dkim-selector",
        "rig",
    ];
    args.extend(extra.iter().map(String::as_str));
    let human = smtpdoctor(&args, &[]);
    assert_eq!(human.code, 0, "{}", human.stdout);
    for label in [
        "MX", "SPF", "DKIM", "DMARC", "MTA-STS", "TLS-RPT", "DANE", "PTR", "DNSBL",
    ] {
        assert!(
            human
                .stdout
                .lines()
                .any(|l| l.trim_start().starts_with(label)),
            "{label}:\n{}",
            human.stdout
        );
    }
    assert!(human.stdout.contains("OK: auth.test"), "{}", human.stdout);
}

#[test]
fn planted_problems_at_the_apex_each_get_their_finding() {
    let Some(rig) = rig() else { return };
    let run = domain(
        &rig,
        "bad.test",
        &[
            "--ip",
            "192.0.2.26",
            "--dkim-selector",
            "weak",
            "--dkim-selector",
            "revoked",
        ],
    );
    // The listed domain names the category: receivers judge reputation before authentication.
    let json = report(&run, "problem", Some("blacklisted_ip"), 1);
    let s = statuses(&json);
    assert_eq!(s["spf"], "fail");
    assert_eq!(severity(&json, "spf", "spf.pass_all"), "problem");
    assert_eq!(severity(&json, "dkim", "dkim.key_weak"), "warning");
    assert_eq!(severity(&json, "dkim", "dkim.revoked"), "warning");
    assert_eq!(s["dkim"], "warn");
    assert_eq!(s["dmarc"], "none");
    assert_eq!(severity(&json, "dmarc", "dmarc.none"), "warning");
    assert_eq!(s["mta_sts"], "fail");
    assert!(check_ids(&json, "mta_sts").contains(&"mtasts.record_syntax".to_string()));
    assert_eq!(s["tls_rpt"], "fail");
    assert_eq!(
        severity(&json, "tls_rpt", "tlsrpt.http_uri"),
        "warning",
        "lost reports never block mail"
    );
    assert_eq!(s["ptr"], "fail");
    assert_eq!(severity(&json, "ptr", "ptr.not_confirmed"), "problem");
    assert_eq!(
        json["checks"]["ptr"]["details"]["addresses"][0]["forward"][0]["outcome"],
        "no_data"
    );
    assert_eq!(s["dnsbl"], "fail");
    let f = json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == "dnsbl.domain_listed")
        .unwrap();
    assert_eq!(f["category"], "blacklisted_ip");
    // The top-level findings are every check's, problems first.
    assert_eq!(json["findings"][0]["severity"], "problem");
    let key = &json["checks"]["dkim"]["details"]["selectors"];
    assert_eq!(key[0]["key_bits"], 1024);
    assert_eq!(key[1]["revoked"], true);
}

#[test]
fn spf_two_records_too_many_lookups_and_a_syntax_error_are_permerrors() {
    let Some(rig) = rig() else { return };
    for (name, id) in [
        ("twospf.bad.test", "spf.multiple_records"),
        ("manylookups.bad.test", "spf.too_many_lookups"),
        ("syntax.bad.test", "spf.syntax"),
    ] {
        let json = report(
            &domain(&rig, name, &["--ip", "192.0.2.1"]),
            "problem",
            Some("sender_auth_failure"),
            1,
        );
        assert_eq!(status(&json, "spf"), "fail", "{name}");
        assert_eq!(severity(&json, "spf", id), "problem", "{name}");
        assert_eq!(
            json["checks"]["spf"]["details"]["results"][0]["result"], "permerror",
            "{name}"
        );
    }
    let json = domain(&rig, "manylookups.bad.test", &[]).json();
    assert_eq!(json["checks"]["spf"]["details"]["lookups"], 11);
    let json = domain(&rig, "syntax.bad.test", &[]).json();
    let f = json["checks"]["spf"]["findings"][0].clone();
    assert!(f["summary"].as_str().unwrap().contains("at byte 11"), "{f}");
    // An address the policy does not list: fail for that IP.
    let json = report(
        &domain(&rig, "auth.test", &["--ip", "203.0.113.9"]),
        "problem",
        Some("sender_auth_failure"),
        1,
    );
    assert_eq!(severity(&json, "spf", "spf.ip_fail"), "problem");
}

#[test]
fn dmarc_none_invalid_missing_and_inherited() {
    let Some(rig) = rig() else { return };
    let json = domain(&rig, "dmarcnone.bad.test", &[]).json();
    assert_schema(&json);
    assert_eq!(status(&json, "dmarc"), "warn");
    assert_eq!(severity(&json, "dmarc", "dmarc.policy_none"), "warning");
    let json = domain(&rig, "dmarcbad.bad.test", &[]).json();
    assert_schema(&json);
    assert_eq!(status(&json, "dmarc"), "fail");
    assert_eq!(severity(&json, "dmarc", "dmarc.syntax"), "problem");
    // The walk reaches the test zone, which answers NXDOMAIN: no record anywhere.
    let json = domain(&rig, "twospf.bad.test", &[]).json();
    assert_eq!(status(&json, "dmarc"), "none");
    let queried = json["checks"]["dmarc"]["details"]["queried"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(queried.len(), 3, "{queried:?}");
    assert_eq!(queried[2]["name"], "_dmarc.test");
    // A subdomain without a record of its own: auth.test's applies.
    let json = domain(&rig, "mx.auth.test", &[]).json();
    assert_schema(&json);
    assert_eq!(status(&json, "dmarc"), "pass");
    assert!(check_ids(&json, "dmarc").contains(&"dmarc.inherited".to_string()));
    assert_eq!(
        json["checks"]["dmarc"]["details"]["found_at"],
        "_dmarc.auth.test"
    );
}

#[test]
fn dkim_given_selector_without_key_fails_guesses_do_not() {
    let Some(rig) = rig() else { return };
    let json = report(
        &domain(
            &rig,
            "auth.test",
            &["--dkim-selector", "nothere", "--ip", "192.0.2.25"],
        ),
        "problem",
        Some("sender_auth_failure"),
        1,
    );
    assert_eq!(status(&json, "dkim"), "fail");
    assert_eq!(severity(&json, "dkim", "dkim.none"), "problem");
    // No selector given: the common ones are tried, and none found is no problem.
    let json = domain(&rig, "auth.test", &[]).json();
    assert_eq!(status(&json, "dkim"), "none");
    assert_eq!(check_ids(&json, "dkim"), vec!["dkim.no_key_found"]);
    assert!(
        json["checks"]["dkim"]["details"]["guessed_tried"]
            .as_u64()
            .unwrap()
            > 10
    );
}

#[test]
fn blocklists_listed_refused_unreliable_and_defunct() {
    let Some(rig) = rig() else { return };
    let run = smtpdoctor(
        &[
            "domain",
            "auth.test",
            "--dns",
            &rig["RM_DNS"],
            "--format",
            "json",
            "--timeout",
            "5",
            "--dnsbl",
            "bl.test,refuse.test,world.test,dnsbl.sorbs.net",
            "--rhsbl",
            "dbl.test",
            "--ip",
            "192.0.2.66",
            "--ip",
            "192.0.2.77",
            "--ip",
            "192.0.2.25",
        ],
        &[],
    );
    let json = report(&run, "problem", Some("blacklisted_ip"), 1);
    assert_eq!(status(&json, "dnsbl"), "fail");
    let ids = check_ids(&json, "dnsbl");
    let listed: Vec<&Value> = json["checks"]["dnsbl"]["details"]["listed"]
        .as_array()
        .unwrap()
        .iter()
        .collect();
    assert_eq!(listed.len(), 1, "only 192.0.2.66 is listed: {listed:?}");
    assert_eq!(listed[0]["subject"], "192.0.2.66");
    assert_eq!(
        listed[0]["txt"][0],
        "listed: see http://bl.test/lookup?192.0.2.66"
    );
    // 127.255.255.254 is the list refusing the resolver, never a listing: for one query, and
    // for a whole zone's self-test.
    let refused: Vec<&Value> = json["checks"]["dnsbl"]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["id"] == "dnsbl.refused")
        .collect();
    assert_eq!(refused.len(), 2, "{ids:?}");
    assert!(
        refused
            .iter()
            .any(|f| f["summary"].as_str().unwrap().contains("192.0.2.77"))
    );
    assert!(
        refused
            .iter()
            .any(|f| f["summary"].as_str().unwrap().starts_with("refuse.test"))
    );
    assert!(
        ids.contains(&"dnsbl.lists_everything".to_string()),
        "{ids:?}"
    );
    assert!(ids.contains(&"dnsbl.defunct".to_string()), "{ids:?}");
    let zones = json["checks"]["dnsbl"]["details"]["zones"]
        .as_array()
        .unwrap();
    let sorbs = zones
        .iter()
        .find(|z| z["zone"] == "dnsbl.sorbs.net")
        .unwrap();
    assert!(sorbs["skipped"].as_str().unwrap().contains("2024"));
    assert!(
        sorbs.get("test_listed").is_none(),
        "a defunct list is never queried"
    );
    assert!(
        json["checks"]["dnsbl"]["details"]["queries"]
            .as_array()
            .unwrap()
            .iter()
            .all(|q| q["zone"] != "world.test" || q["answer"]["codes"][0] == "127.0.0.2")
    );
    assert_eq!(
        json["checks"]["dnsbl"]["details"]["resolver"],
        rig["RM_DNS"]
    );
}

#[test]
fn reverse_dns_missing_mismatched_and_helo() {
    let Some(rig) = rig() else { return };
    let json = domain(
        &rig,
        "auth.test",
        &[
            "--ip",
            "192.0.2.30",
            "--ip",
            "192.0.2.99",
            "--helo",
            "mx.auth.test",
        ],
    )
    .json();
    assert_schema(&json);
    assert_eq!(status(&json, "ptr"), "fail");
    let addresses = json["checks"]["ptr"]["details"]["addresses"]
        .as_array()
        .unwrap();
    assert_eq!(addresses[0]["ptr"][0], "mx.auth.test");
    assert_eq!(addresses[0]["forward"][0]["matches"], false);
    assert_eq!(addresses[1]["outcome"], "nx_domain");
    assert_eq!(addresses[2]["source"], "mx mx.auth.test");
    let ids = check_ids(&json, "ptr");
    for id in [
        "ptr.not_confirmed",
        "ptr.missing",
        "ptr.helo_mismatch",
        "ptr.confirmed",
    ] {
        assert!(ids.contains(&id.to_string()), "{id}: {ids:?}");
    }
    let f = json["checks"]["ptr"]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == "ptr.missing")
        .unwrap();
    assert_eq!(f["category"], "spam_or_policy_block");
}

#[test]
fn mta_sts_policy_that_misses_the_mx_or_cannot_be_fetched() {
    let Some(rig) = rig() else { return };
    let policy = Policy::serve(
        "mta-sts.auth.test",
        "version: STSv1\nmode: enforce\nmx: mx.elsewhere.test\nmax_age: 604800\n",
    );
    let extra = policy.args();
    let more: Vec<&str> = extra.iter().map(String::as_str).collect();
    let json = report(
        &domain(&rig, "auth.test", &more),
        "problem",
        Some("tls_certificate"),
        1,
    );
    assert_eq!(status(&json, "mta_sts"), "fail");
    assert_eq!(
        severity(&json, "mta_sts", "mtasts.mx_not_covered"),
        "problem"
    );
    assert_eq!(
        json["checks"]["mta_sts"]["details"]["mx_coverage"][0]["covered"],
        false
    );
    // No server behind mta-sts.auth.test (its address is 127.0.0.1:443, where nothing listens).
    let json = report(
        &domain(&rig, "auth.test", &[]),
        "problem",
        Some("tls_certificate"),
        1,
    );
    assert!(check_ids(&json, "mta_sts").contains(&"mtasts.policy_fetch".to_string()));
    // A certificate the run does not trust: named as such.
    let policy = Policy::serve("mta-sts.auth.test", GOOD_POLICY);
    let json = report(
        &domain(&rig, "auth.test", &["--connect-to", &policy.connect_to]),
        "problem",
        Some("tls_certificate"),
        1,
    );
    assert!(
        check_ids(&json, "mta_sts").contains(&"mtasts.policy_certificate".to_string()),
        "{:?}",
        check_ids(&json, "mta_sts")
    );
}

#[test]
fn dane_reuses_the_mx_check_against_the_real_postfix() {
    let Some(rig) = rig() else { return };
    let smtp = format!(":25:{}", rig["RM_SMTP"]);
    let args = [
        "--trust-anchor",
        rig["RM_TRUST_ANCHOR"].as_str(),
        "--connect-to",
        smtp.as_str(),
    ];
    let json = domain(&rig, "dane.test", &args).json();
    assert_schema(&json);
    assert_eq!(status(&json, "dane"), "pass", "{}", json["checks"]["dane"]);
    assert!(check_ids(&json, "dane").contains(&"dane.authenticated".to_string()));
    let host = &json["checks"]["dane"]["details"]["hosts"][0];
    assert_eq!(host["status"], "authenticated");
    assert_eq!(host["dnssec"], "secure");
    assert_eq!(host["presented_spki_sha256"], host["records"][0]["data"]);
    // DANE without a TLS-RPT record: nobody hears about failed deliveries.
    assert_eq!(status(&json, "tls_rpt"), "warn");
    assert_eq!(severity(&json, "tls_rpt", "tlsrpt.none"), "warning");
    let json = report(
        &domain(&rig, "bad.dane.test", &args),
        "problem",
        Some("tls_certificate"),
        1,
    );
    assert_eq!(status(&json, "dane"), "fail");
    assert_eq!(severity(&json, "dane", "dane.mismatch"), "problem");
    // Without the anchor the same TLSA is unsigned: a warning, senders ignore it.
    let json = domain(&rig, "dane.test", &["--connect-to", smtp.as_str()]).json();
    assert_eq!(status(&json, "dane"), "warn");
    assert_eq!(severity(&json, "dane", "dane.unsigned"), "warning");
}

#[test]
fn the_mx_analysis_is_check_mx_s() {
    let Some(rig) = rig() else { return };
    let json = domain(&rig, "nullmx.mail.test", &[]).json();
    assert_schema(&json);
    assert_eq!(status(&json, "mx"), "fail");
    assert!(check_ids(&json, "mx").contains(&"mx.null".to_string()));
    let json = domain(&rig, "viacname.mail.test", &[]).json();
    assert!(check_ids(&json, "mx").contains(&"mx.cname".to_string()));
    // A domain that does not exist: NXDOMAIN kept apart from other failures.
    let json = domain(&rig, "nothere.auth.test", &[]).json();
    assert_schema(&json);
    assert_eq!(status(&json, "mx"), "fail");
    assert_eq!(json["checks"]["mx"]["details"]["failure"], "nx_domain");
}

#[test]
fn many_domains_one_json_line_each_in_input_order() {
    let Some(rig) = rig() else { return };
    let list = std::env::temp_dir().join(format!("smtpdoctor-domains-{}.txt", std::process::id()));
    std::fs::write(&list, "# a comment\nauth.test\nbad.test\n\ntwospf.bad.test  # two SPF records\nnothere.auth.test\n").unwrap();
    let run = smtpdoctor(
        &[
            "domain",
            "--domains",
            &list.to_string_lossy(),
            "--dns",
            &rig["RM_DNS"],
            "--timeout",
            "5",
            "-j",
            "3",
            "--dnsbl",
            "bl.test",
            "--rhsbl",
            "dbl.test",
        ],
        &[],
    );
    let _ = std::fs::remove_file(&list);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let lines: Vec<Value> = run
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect();
    let names: Vec<&str> = lines
        .iter()
        .map(|j| j["domain"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "auth.test",
            "bad.test",
            "twospf.bad.test",
            "nothere.auth.test"
        ]
    );
    for j in &lines {
        assert_schema(j);
        assert!(j["verdict"]["category"].is_string() || j["verdict"]["status"] == "ok");
    }
    assert!(run.stderr.contains("4 domain(s)"), "{}", run.stderr);
    assert!(
        !run.stderr.contains('{'),
        "the summary is not JSON: {}",
        run.stderr
    );
}

#[test]
fn dns_failures_are_kept_apart_and_bounded() {
    let dns = fake_dns(Answer::ServFail);
    let run = smtpdoctor(
        &[
            "domain",
            "example.test",
            "--dns",
            &dns,
            "--format",
            "json",
            "--timeout",
            "2",
            "--dnsbl",
            "bl.test",
            "--rhsbl",
            "dbl.test",
        ],
        &[],
    );
    let json = assert_verdict(&run, "problem", Some("dns"), 10);
    assert_eq!(json["verdict"]["retry"], "temporary");
    for check in ["spf", "dmarc", "tls_rpt", "mta_sts"] {
        assert_eq!(status(&json, check), "error", "{check}");
    }
    assert_eq!(
        json["checks"]["dmarc"]["details"]["queried"][0]["outcome"],
        "serv_fail"
    );
    let dns = fake_dns(Answer::Silence);
    let run = smtpdoctor(
        &[
            "domain",
            "example.test",
            "--dns",
            &dns,
            "--format",
            "json",
            "--timeout",
            "1",
            "--dnsbl",
            "bl.test",
            "--rhsbl",
            "dbl.test",
        ],
        &[],
    );
    assert!(
        run.elapsed < Duration::from_secs(15),
        "took {:?}",
        run.elapsed
    );
    let json = assert_verdict(&run, "problem", Some("dns"), 10);
    assert_eq!(
        json["checks"]["tls_rpt"]["details"]["lookup"]["outcome"],
        "timeout"
    );
}

#[test]
fn usage_errors() {
    for args in [
        vec!["domain"],
        vec!["domain", "192.0.2.1"],
        vec!["domain", "example.test:25"],
        vec!["domain", "example.test", "--dkim-selector", "bad selector"],
        vec!["domain", "--domains", "/nonexistent/list"],
    ] {
        let run = smtpdoctor(&args, &[]);
        assert_eq!(run.code, 2, "{args:?}: {}", run.stderr);
    }
}

#[test]
fn the_deadline_bounds_one_domain_and_a_whole_batch() {
    // A name server that never answers: every look-up takes the whole --timeout.
    let dns = fake_dns(Answer::Silence);
    let run = smtpdoctor(
        &[
            "domain",
            "example.test",
            "--dns",
            &dns,
            "--format",
            "json",
            "--timeout",
            "5",
            "--deadline",
            "1",
            "--dnsbl",
            "bl.test",
            "--rhsbl",
            "dbl.test",
        ],
        &[],
    );
    assert!(
        run.elapsed < Duration::from_secs(10),
        "took {:?}",
        run.elapsed
    );
    let json = assert_verdict(&run, "inconclusive", None, 15);
    assert_finding(&json, "domain.deadline");
    assert_eq!(status(&json, "spf"), "error");
    assert_eq!(json["checks"]["mx"]["details"]["unfinished"], "deadline");

    // A batch: the first domain uses the run's deadline up, the others are never started, and
    // still every domain gets its line, in input order.
    let list = std::env::temp_dir().join(format!(
        "smtpdoctor-domains-deadline-{}.txt",
        std::process::id()
    ));
    std::fs::write(
        &list,
        "one.example.test\ntwo.example.test\nthree.example.test\n",
    )
    .unwrap();
    let run = smtpdoctor(
        &[
            "domain",
            "--domains",
            &list.to_string_lossy(),
            "--dns",
            &dns,
            "--timeout",
            "5",
            "--deadline",
            "1",
            "-j",
            "1",
            "--dnsbl",
            "bl.test",
            "--rhsbl",
            "dbl.test",
        ],
        &[],
    );
    let _ = std::fs::remove_file(&list);
    assert!(
        run.elapsed < Duration::from_secs(10),
        "took {:?}",
        run.elapsed
    );
    assert_eq!(run.code, 15, "{}", run.stderr);
    let lines: Vec<Value> = run
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect();
    assert_eq!(lines.len(), 3, "{}", run.stdout);
    for (j, (name, id)) in lines.iter().zip([
        ("one.example.test", "domain.deadline"),
        ("two.example.test", "domain.not_checked"),
        ("three.example.test", "domain.not_checked"),
    ]) {
        assert_schema(j);
        assert_eq!(j["domain"], name);
        assert_eq!(j["verdict"]["status"], "inconclusive");
        assert_finding(j, id);
    }
    assert!(run.stderr.contains("3 not finished"), "{}", run.stderr);
}

#[test]
fn mta_sts_names_an_mx_whose_certificate_does_not_verify() {
    let Some(rig) = rig() else { return };
    // The rig's Postfix stands in for mx.auth.test: its certificate names mail.test, so senders
    // that apply the policy (mode enforce) refuse to deliver there.
    let policy = Policy::serve("mta-sts.auth.test", GOOD_POLICY);
    let smtp = format!("mx.auth.test:25:{}", rig["RM_SMTP"]);
    let ca = policy.ca_file.to_string_lossy().into_owned();
    let json = report(
        &domain(
            &rig,
            "auth.test",
            &[
                "--connect-to",
                &policy.connect_to,
                "--ca-file",
                &ca,
                "--connect-to",
                &smtp,
            ],
        ),
        "problem",
        Some("tls_certificate"),
        1,
    );
    assert_eq!(status(&json, "mta_sts"), "fail");
    assert_eq!(
        severity(&json, "mta_sts", "mtasts.mx_certificate"),
        "problem"
    );
    let tls = &json["checks"]["mta_sts"]["details"]["mx_tls"][0];
    assert_eq!(tls["host"], "mx.auth.test");
    assert_eq!(tls["tls"], "not verified");
    // No TLSA records for it: DANE has nothing to say.
    assert_eq!(status(&json, "dane"), "none");
}

/// A tiny authoritative DNS server on loopback (UDP) for blocklist zones: A queries for the
/// names given get their address, every other query NXDOMAIN; it counts the A queries per name
/// and keeps every name asked.
struct Blocklists {
    addr: String,
    asked: std::sync::Arc<std::sync::Mutex<HashMap<String, usize>>>,
    names: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl Blocklists {
    fn serve(listed: &[(&str, [u8; 4])]) -> Blocklists {
        let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let addr = socket.local_addr().unwrap().to_string();
        let listed: HashMap<String, [u8; 4]> = listed
            .iter()
            .map(|(n, a)| (n.to_ascii_lowercase(), *a))
            .collect();
        let asked = std::sync::Arc::new(std::sync::Mutex::new(HashMap::new()));
        let counts = asked.clone();
        let names = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let all = names.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 1500];
            while let Ok((n, from)) = socket.recv_from(&mut buf) {
                let q = &buf[..n];
                // The question: labels from offset 12, then type and class.
                let (mut i, mut labels) = (12, Vec::new());
                while i < q.len() && q[i] != 0 {
                    let len = q[i] as usize;
                    labels
                        .push(String::from_utf8_lossy(&q[i + 1..i + 1 + len]).to_ascii_lowercase());
                    i += len + 1;
                }
                let end = i + 5;
                if end > q.len() {
                    continue;
                }
                let name = labels.join(".");
                let rtype = u16::from_be_bytes([q[i + 1], q[i + 2]]);
                all.lock().unwrap().push(name.clone());
                if rtype == 1 {
                    *counts.lock().unwrap().entry(name.clone()).or_insert(0) += 1;
                }
                let mut reply = q[..end].to_vec();
                reply[2] = 0x84 | (q[2] & 0x01); // QR, AA, RD copied
                reply[3] = 0x00;
                reply[6..12].fill(0); // no answers, authority or additional records yet
                match listed.get(&name) {
                    Some(a) if rtype == 1 => {
                        reply[7] = 1;
                        reply.extend_from_slice(&[0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4]);
                        reply.extend_from_slice(a);
                    }
                    Some(_) => {}
                    None => reply[3] = 0x03, // NXDOMAIN
                }
                let _ = socket.send_to(&reply, from);
            }
        });
        Blocklists { addr, asked, names }
    }

    fn asked(&self, name: &str) -> usize {
        self.asked.lock().unwrap().get(name).copied().unwrap_or(0)
    }
}

/// The 32-nibble name of an IPv6 address under a zone (RFC 5782 section 2.4).
fn nibbles(ip: &str, zone: &str) -> String {
    let ip: std::net::Ipv6Addr = ip.parse().unwrap();
    let hex: String = ip.octets().iter().map(|b| format!("{b:02x}")).collect();
    let mut out: Vec<String> = hex.chars().rev().map(|c| c.to_string()).collect();
    out.push(zone.to_string());
    out.join(".")
}

#[test]
fn ipv6_addresses_on_blocklists_and_self_tests_once_per_run() {
    let six_test = nibbles("::ffff:7f00:2", "six.test");
    let six_listed = nibbles("2001:db8::66", "six.test");
    let four_listed6 = nibbles("2001:db8::66", "four.test");
    let dns = Blocklists::serve(&[
        ("2.0.0.127.six.test", [127, 0, 0, 2]),
        (&six_test, [127, 0, 0, 2]),
        (&six_listed, [127, 0, 0, 2]),
        ("2.0.0.127.four.test", [127, 0, 0, 2]),
        // A list without IPv6 whose wildcard-like answer must not count as a listing.
        (&four_listed6, [127, 0, 0, 2]),
    ]);
    let list =
        std::env::temp_dir().join(format!("smtpdoctor-domains-bl6-{}.txt", std::process::id()));
    std::fs::write(&list, "a.example.test\nb.example.test\nc.example.test\n").unwrap();
    let run = smtpdoctor(
        &[
            "domain",
            "--domains",
            &list.to_string_lossy(),
            "--dns",
            &dns.addr,
            "--timeout",
            "5",
            "--ip",
            "2001:db8::66",
            "--dnsbl",
            "six.test,four.test",
            "--rhsbl",
            "dbl.test",
        ],
        &[],
    );
    let _ = std::fs::remove_file(&list);
    let lines: Vec<Value> = run
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect();
    assert_eq!(lines.len(), 3, "{}", run.stderr);
    for j in &lines {
        assert_schema(j);
        let bl = &j["checks"]["dnsbl"];
        assert_eq!(bl["status"], "fail", "{bl}");
        let listed = bl["details"]["listed"].as_array().unwrap();
        assert_eq!(listed.len(), 1, "{listed:?}");
        assert_eq!(
            (listed[0]["subject"].as_str(), listed[0]["zone"].as_str()),
            (Some("2001:db8::66"), Some("six.test"))
        );
        let ids = check_ids(j, "dnsbl");
        assert!(ids.contains(&"dnsbl.no_ipv6".to_string()), "{ids:?}");
        let six = &bl["details"]["zones"][0];
        assert_eq!(six["test6_listed"]["codes"][0], "127.0.0.2");
        assert_eq!(six["test6_unlisted"]["outcome"], "nx_domain");
    }
    // The test entries and the --ip look-ups are the same for every domain: asked once.
    for name in [&six_test, &six_listed, &"2.0.0.127.six.test".to_string()] {
        assert_eq!(dns.asked(name), 1, "{name}");
    }
    // The domain itself is asked of the domain list once per domain.
    assert_eq!(dns.asked("a.example.test.dbl.test"), 1);
    assert_eq!(dns.asked("c.example.test.dbl.test"), 1);
}

#[test]
fn dkim_guess_none_asks_only_the_given_selectors() {
    let dns = Blocklists::serve(&[]);
    let run = |more: &[&str]| {
        let mut args = vec![
            "domain",
            "example.test",
            "--dns",
            &dns.addr,
            "--format",
            "json",
            "--timeout",
            "5",
            "--dnsbl",
            "four.test",
            "--rhsbl",
            "dbl.test",
        ];
        args.extend_from_slice(more);
        smtpdoctor(&args, &[]).json()
    };
    let dkim_names = || -> Vec<String> {
        let mut n: Vec<String> = dns
            .names
            .lock()
            .unwrap()
            .iter()
            .filter(|n| n.contains("_domainkey"))
            .cloned()
            .collect();
        n.sort();
        n.dedup();
        n
    };
    let json = run(&["--dkim-guess", "none", "--dkim-selector", "s9"]);
    assert_schema(&json);
    let dkim = &json["checks"]["dkim"];
    assert_eq!(dkim["details"]["guessed_tried"], 0);
    assert_eq!(dkim["details"]["selectors"].as_array().unwrap().len(), 1);
    assert_eq!(dkim["status"], "fail");
    assert_eq!(dkim_names(), vec!["s9._domainkey.example.test"]);
    // Nothing given and nothing guessed: not checked, and nothing to say about it.
    let json = run(&["--dkim-guess", "none"]);
    let dkim = &json["checks"]["dkim"];
    assert_eq!(dkim["status"], "none");
    assert!(check_ids(&json, "dkim").is_empty());
    assert_eq!(dkim_names(), vec!["s9._domainkey.example.test"]);
    // The default guesses: _domainkey does not exist here, so its NXDOMAIN stands for them all.
    let json = run(&[]);
    assert!(
        json["checks"]["dkim"]["details"]["guessed_tried"]
            .as_u64()
            .unwrap()
            > 10
    );
    assert_eq!(
        dkim_names(),
        vec!["_domainkey.example.test", "s9._domainkey.example.test"]
    );
}

/// The RFC 5782 section 5 IPv6 test entries, planted in the rig's bl.test (::FFFF:7F00:2 and
/// 2001:db8::66 listed, ::FFFF:7F00:1 not) and missing from no6.test, an IPv4-only list that
/// still answers for 2001:db8::66: that answer must not count as a listing.
#[test]
fn ipv6_blocklist_entries_in_the_rig_and_a_list_without_them() {
    let Some(rig) = rig() else { return };
    let run = smtpdoctor(
        &[
            "domain",
            "auth.test",
            "--dns",
            &rig["RM_DNS"],
            "--format",
            "json",
            "--timeout",
            "5",
            "--dnsbl",
            "bl.test,no6.test",
            "--rhsbl",
            "dbl.test",
            "--ip",
            "2001:db8::66",
            "--ip",
            "2001:db8::1",
        ],
        &[],
    );
    let json = report(&run, "problem", Some("blacklisted_ip"), 1);
    let bl = &json["checks"]["dnsbl"];
    assert_eq!(bl["status"], "fail");
    let listed = bl["details"]["listed"].as_array().unwrap();
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(
        (listed[0]["subject"].as_str(), listed[0]["zone"].as_str()),
        (Some("2001:db8::66"), Some("bl.test"))
    );
    assert_eq!(
        listed[0]["txt"][0],
        "listed: see http://bl.test/lookup?2001:db8::66"
    );
    assert_eq!(severity(&json, "dnsbl", "dnsbl.listed"), "problem");
    let zones = bl["details"]["zones"].as_array().unwrap();
    let zone = |name: &str| zones.iter().find(|z| z["zone"] == name).unwrap().clone();
    let bl6 = zone("bl.test");
    assert_eq!(
        bl6["test6_listed"]["name"],
        "2.0.0.0.0.0.f.7.f.f.f.f.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.bl.test"
    );
    assert_eq!(bl6["test6_listed"]["codes"][0], "127.0.0.2");
    assert_eq!(bl6["test6_listed"]["txt"][0], "RFC 5782 IPv6 test entry");
    assert_eq!(bl6["test6_unlisted"]["outcome"], "nx_domain");
    let no6 = zone("no6.test");
    assert_eq!(no6["test_listed"]["codes"][0], "127.0.0.2");
    assert_eq!(no6["test6_listed"]["outcome"], "nx_domain");
    let f = bl["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == "dnsbl.no_ipv6")
        .unwrap_or_else(|| panic!("{:?}", check_ids(&json, "dnsbl")));
    assert_eq!(f["severity"], "info");
    assert!(
        f["summary"].as_str().unwrap().starts_with("no6.test"),
        "{f}"
    );
    // no6.test answers 127.0.0.2 for 2001:db8::66 (the queries run alongside the self-tests),
    // but a list that fails its IPv6 self-test is not used for IPv6: no listing from it.
    let q = bl["details"]["queries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["zone"] == "no6.test" && q["subject"] == "2001:db8::66")
        .unwrap_or_else(|| panic!("{}", bl["details"]["queries"]));
    assert_eq!(q["answer"]["codes"][0], "127.0.0.2");
}

#[test]
fn mx_with_a_private_address_or_an_address_literal() {
    let Some(rig) = rig() else { return };
    // mx.private.mail.test is 10.0.0.25 (DNS data only: nothing connects without TLSA or MTA-STS).
    let json = report(&domain(&rig, "private.mail.test", &[]), "ok", None, 0);
    assert_eq!(status(&json, "mx"), "warn");
    assert_eq!(severity(&json, "mx", "mx.private_address"), "warning");
    let f = &json["checks"]["mx"]["findings"][0];
    assert!(f["summary"].as_str().unwrap().contains("10.0.0.25"), "{f}");
    // "MX 10 192.0.2.25.": a name that looks like an address and resolves to nothing.
    let json = report(
        &domain(&rig, "literal.mail.test", &[]),
        "problem",
        Some("dns"),
        10,
    );
    assert_eq!(status(&json, "mx"), "fail");
    assert_eq!(severity(&json, "mx", "mx.literal"), "warning");
    assert_eq!(
        json["checks"]["mx"]["details"]["records"][0]["host"],
        "192.0.2.25"
    );
}

#[test]
fn dane_covers_only_one_of_two_mx_hosts() {
    let Some(rig) = rig() else { return };
    // partial.dane.test (signed): MX 10 mx.dane.test (TLSA that matches the rig's Postfix) and
    // MX 20 mx.notlsa.dane.test (a validated denial of TLSA).
    let smtp = format!(":25:{}", rig["RM_SMTP"]);
    let json = report(
        &domain(
            &rig,
            "partial.dane.test",
            &[
                "--trust-anchor",
                &rig["RM_TRUST_ANCHOR"],
                "--connect-to",
                &smtp,
            ],
        ),
        "ok",
        None,
        0,
    );
    assert_eq!(status(&json, "dane"), "warn");
    assert_eq!(severity(&json, "dane", "dane.partial"), "warning");
    assert!(check_ids(&json, "dane").contains(&"dane.authenticated".to_string()));
    let f = json["checks"]["dane"]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == "dane.partial")
        .unwrap();
    assert_eq!(f["category"], "tls_certificate");
    let hosts = json["checks"]["dane"]["details"]["hosts"]
        .as_array()
        .unwrap();
    assert_eq!(
        hosts.len(),
        1,
        "only the host with TLSA is tried: {hosts:?}"
    );
    assert_eq!(hosts[0]["host"], "mx.dane.test");
    assert_eq!(hosts[0]["status"], "authenticated");
}

/// `domain` for stsok.mail.test or ststest.mail.test (MX mail.test, the rig's Postfix) with a
/// policy in `mode`, port 25 of mail.test sent to the rig's port `port` (an env key), and one
/// --ca-file that holds the policy server's CA and the rig's root CA.
fn mta_sts_against_postfix(
    rig: &HashMap<String, String>,
    name: &str,
    mode: &str,
    port: &str,
) -> Run {
    let policy = Policy::serve(
        &format!("mta-sts.{name}"),
        &format!("version: STSv1\nmode: {mode}\nmx: mail.test\nmax_age: 604800\n"),
    );
    let ca = std::env::temp_dir().join(format!(
        "smtpdoctor-domain-ca-rig-{}-{name}-{mode}-{port}.pem",
        std::process::id()
    ));
    let mut pem = std::fs::read_to_string(&policy.ca_file).unwrap();
    pem.push_str(&std::fs::read_to_string(&rig["RM_ROOT_CA"]).unwrap());
    std::fs::write(&ca, pem).unwrap();
    let smtp = format!("mail.test:25:{}", rig[port]);
    let run = domain(
        rig,
        name,
        &[
            "--connect-to",
            &policy.connect_to,
            "--ca-file",
            &ca.to_string_lossy(),
            "--connect-to",
            &smtp,
        ],
    );
    let _ = std::fs::remove_file(&ca);
    run
}

#[test]
fn mta_sts_mx_certificate_verified_wrong_or_no_starttls_by_mode() {
    let Some(rig) = rig() else { return };
    // The chain port presents leaf + intermediate for mail.test under the rig's root CA.
    let json = report(
        &mta_sts_against_postfix(&rig, "stsok.mail.test", "enforce", "RM_SMTP_CHAIN"),
        "ok",
        None,
        0,
    );
    assert_eq!(
        status(&json, "mta_sts"),
        "pass",
        "{}",
        json["checks"]["mta_sts"]
    );
    assert_eq!(status(&json, "tls_rpt"), "pass");
    let tls = &json["checks"]["mta_sts"]["details"]["mx_tls"][0];
    assert_eq!(tls["host"], "mail.test");
    assert_eq!(tls["tls"], "verified", "{tls}");
    for id in [
        "mtasts.mx_certificate",
        "mtasts.mx_no_starttls",
        "mtasts.mx_tls_failed",
    ] {
        assert!(
            !check_ids(&json, "mta_sts").contains(&id.to_string()),
            "{id}"
        );
    }
    // The default port's self-signed certificate: senders that enforce refuse it; in testing
    // mode they deliver and report.
    let json = report(
        &mta_sts_against_postfix(&rig, "stsok.mail.test", "enforce", "RM_SMTP"),
        "problem",
        Some("tls_certificate"),
        1,
    );
    assert_eq!(status(&json, "mta_sts"), "fail");
    assert_eq!(
        severity(&json, "mta_sts", "mtasts.mx_certificate"),
        "problem"
    );
    let json = report(
        &mta_sts_against_postfix(&rig, "ststest.mail.test", "testing", "RM_SMTP"),
        "ok",
        None,
        0,
    );
    assert_eq!(status(&json, "mta_sts"), "warn");
    assert_eq!(
        severity(&json, "mta_sts", "mtasts.mx_certificate"),
        "warning"
    );
    assert_eq!(severity(&json, "mta_sts", "mtasts.mode_testing"), "warning");
    // A port without STARTTLS: the same by mode.
    let json = report(
        &mta_sts_against_postfix(&rig, "stsok.mail.test", "enforce", "RM_SMTP_NOTLS"),
        "problem",
        Some("tls_certificate"),
        1,
    );
    assert_eq!(
        severity(&json, "mta_sts", "mtasts.mx_no_starttls"),
        "problem"
    );
    let json = report(
        &mta_sts_against_postfix(&rig, "ststest.mail.test", "testing", "RM_SMTP_NOTLS"),
        "ok",
        None,
        0,
    );
    assert_eq!(
        severity(&json, "mta_sts", "mtasts.mx_no_starttls"),
        "warning"
    );
}

#[test]
fn tls_rpt_several_rua_uris_with_a_bad_mailto_and_a_duplicate() {
    let Some(rig) = rig() else { return };
    let json = domain(&rig, "reports.bad.test", &[]).json();
    assert_schema(&json);
    let t = &json["checks"]["tls_rpt"];
    assert_eq!(t["status"], "fail", "{t}");
    assert_eq!(
        t["details"]["record"]["rua"][0].as_array().unwrap().len(),
        4
    );
    assert_eq!(severity(&json, "tls_rpt", "tlsrpt.bad_mailto"), "warning");
    assert_eq!(severity(&json, "tls_rpt", "tlsrpt.duplicate_uri"), "info");
    let ids = check_ids(&json, "tls_rpt");
    assert!(!ids.contains(&"tlsrpt.http_uri".to_string()), "{ids:?}");
    assert!(!ids.contains(&"tlsrpt.uri_scheme".to_string()), "{ids:?}");
    // A broken TLS-RPT record loses reports, never mail: no top-level problem from it.
    assert!(
        json["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["id"].as_str().unwrap().starts_with("tlsrpt."))
            .all(|f| f["severity"] != "problem")
    );
}

#[test]
fn spf_neutral_no_all_voids_ptr_missing_target_loop_many_mx_and_a_large_answer() {
    let Some(rig) = rig() else { return };
    for (name, status_want, id, sev, result, counted) in [
        (
            "neutral.bad.test",
            "warn",
            "spf.neutral_all",
            "warning",
            "pass",
            None,
        ),
        (
            "noall.bad.test",
            "warn",
            "spf.no_all",
            "warning",
            "pass",
            None,
        ),
        (
            "voids.bad.test",
            "fail",
            "spf.too_many_void_lookups",
            "problem",
            "permerror",
            Some(("void_lookups", 3)),
        ),
        (
            "ptrmech.bad.test",
            "fail",
            "spf.ptr",
            "warning",
            "fail",
            None,
        ),
        (
            "missing.bad.test",
            "fail",
            "spf.missing_target",
            "problem",
            "permerror",
            None,
        ),
        (
            "loop.bad.test",
            "fail",
            "spf.loop",
            "problem",
            "permerror",
            None,
        ),
        (
            "manymx.bad.test",
            "fail",
            "spf.too_many_mx",
            "problem",
            "permerror",
            None,
        ),
        (
            "big.bad.test",
            "warn",
            "spf.udp_size",
            "warning",
            "pass",
            None,
        ),
    ] {
        let json = domain(&rig, name, &["--ip", "192.0.2.1"]).json();
        assert_schema(&json);
        assert_eq!(status(&json, "spf"), status_want, "{name}");
        assert_eq!(severity(&json, "spf", id), sev, "{name}");
        let details = &json["checks"]["spf"]["details"];
        assert_eq!(details["results"][0]["result"], result, "{name}");
        if let Some((field, n)) = counted {
            assert_eq!(details[field], n, "{name}");
        }
    }
}

#[test]
fn dkim_testing_flag_and_a_key_that_does_not_parse() {
    let Some(rig) = rig() else { return };
    let json = domain(
        &rig,
        "bad.test",
        &[
            "--dkim-guess",
            "none",
            "--dkim-selector",
            "testing",
            "--dkim-selector",
            "broken",
        ],
    )
    .json();
    assert_schema(&json);
    assert_eq!(status(&json, "dkim"), "fail");
    assert_eq!(severity(&json, "dkim", "dkim.testing"), "warning");
    assert_eq!(severity(&json, "dkim", "dkim.bad_key"), "problem");
    let selectors = &json["checks"]["dkim"]["details"]["selectors"];
    assert_eq!(selectors[0]["testing"], true);
    assert_eq!(selectors[0]["key_bits"], 2048);
    assert_eq!(selectors[1]["status"], "fail");
}

#[test]
fn dmarc_weaker_subdomain_policies_testing_unauthorised_reports_and_psd() {
    let Some(rig) = rig() else { return };
    let json = domain(&rig, "dmarcweak.bad.test", &[]).json();
    assert_schema(&json);
    assert_eq!(status(&json, "dmarc"), "warn");
    for id in [
        "dmarc.sp_weaker",
        "dmarc.np_weaker",
        "dmarc.testing",
        "dmarc.report_unauthorised",
    ] {
        assert_eq!(severity(&json, "dmarc", id), "warning", "{id}");
    }
    let auth = &json["checks"]["dmarc"]["details"]["report_authorisation"][0];
    assert_eq!(auth["destination"], "elsewhere.test");
    assert_eq!(auth["authorised"], false);
    assert_eq!(
        auth["query"],
        "dmarcweak.bad.test._report._dmarc.elsewhere.test"
    );
    let json = domain(&rig, "dmarcpsd.bad.test", &[]).json();
    assert_eq!(status(&json, "dmarc"), "pass");
    assert_eq!(severity(&json, "dmarc", "dmarc.psd"), "info");
}

#[test]
fn reverse_dns_with_two_ptr_records() {
    let Some(rig) = rig() else { return };
    let json = domain(&rig, "auth.test", &["--ip", "192.0.2.27"]).json();
    assert_schema(&json);
    assert_eq!(status(&json, "ptr"), "fail");
    assert_eq!(severity(&json, "ptr", "ptr.multiple"), "warning");
    assert_eq!(severity(&json, "ptr", "ptr.not_confirmed"), "problem");
    let a = &json["checks"]["ptr"]["details"]["addresses"][0];
    assert_eq!(a["ptr"].as_array().unwrap().len(), 2);
}

#[test]
fn a_zone_the_name_server_does_not_serve_is_refused_not_missing() {
    let Some(rig) = rig() else { return };
    // NSD answers REFUSED outside its zones: kept apart from NXDOMAIN and SERVFAIL.
    let json = report(
        &domain(&rig, "unserved.example", &[]),
        "problem",
        Some("dns"),
        10,
    );
    assert_eq!(json["checks"]["mx"]["details"]["failure"], "refused");
    for check in ["spf", "dmarc", "mta_sts", "tls_rpt"] {
        assert_eq!(status(&json, check), "error", "{check}");
    }
    assert_finding(&json, "dns.refused");
}

#[test]
fn dane_no_starttls_unusable_usage_bogus_zone_and_secure_denial() {
    let Some(rig) = rig() else { return };
    let anchor = rig["RM_TRUST_ANCHOR"].as_str();
    let to = |key: &str| format!(":25:{}", rig[key]);
    let (smtp, notls) = (to("RM_SMTP"), to("RM_SMTP_NOTLS"));
    // dane.test's MX, validated TLSA, sent to a port without STARTTLS: DANE senders never fall
    // back to plaintext.
    let json = report(
        &domain(
            &rig,
            "dane.test",
            &["--trust-anchor", anchor, "--connect-to", &notls],
        ),
        "problem",
        Some("tls_mismatch"),
        1,
    );
    assert_eq!(status(&json, "dane"), "fail");
    assert_eq!(severity(&json, "dane", "dane.no_tls"), "problem");
    assert_eq!(
        json["checks"]["dane"]["details"]["hosts"][0]["status"],
        "no_tls"
    );
    let args = ["--trust-anchor", anchor, "--connect-to", &smtp];
    // TLSA 1 1 1 (PKIX-EE), which SMTP cannot use.
    let json = report(&domain(&rig, "pkix.dane.test", &args), "ok", None, 0);
    assert_eq!(status(&json, "dane"), "warn");
    assert_eq!(severity(&json, "dane", "dane.unusable"), "warning");
    // Signatures that expired in 2020 under an anchored key: the MX records and TLSA are bogus.
    let json = report(
        &domain(&rig, "bogus.test", &args),
        "problem",
        Some("dns"),
        10,
    );
    assert_eq!(status(&json, "mx"), "fail");
    assert_eq!(severity(&json, "mx", "mx.dnssec_bogus"), "problem");
    assert_eq!(severity(&json, "dane", "dane.bogus"), "problem");
    // A validated denial of TLSA: nothing to say.
    let json = report(&domain(&rig, "notlsa.dane.test", &args), "ok", None, 0);
    assert_eq!(status(&json, "dane"), "none");
    assert!(check_ids(&json, "dane").is_empty());
    assert_eq!(json["checks"]["dane"]["details"]["mx_dnssec"], "secure");
}

#[test]
fn two_records_each_of_dmarc_mta_sts_tls_rpt_and_dkim() {
    let Some(rig) = rig() else { return };
    let json = report(
        &domain(
            &rig,
            "twice.bad.test",
            &["--dkim-guess", "none", "--dkim-selector", "twice"],
        ),
        "problem",
        Some("sender_auth_failure"),
        1,
    );
    for (check, id, sev) in [
        ("dkim", "dkim.multiple_records", "problem"),
        ("dmarc", "dmarc.multiple_records", "problem"),
        ("mta_sts", "mtasts.multiple_records", "problem"),
        ("tls_rpt", "tlsrpt.multiple_records", "warning"),
    ] {
        assert_eq!(status(&json, check), "fail", "{check}");
        assert_eq!(severity(&json, check, id), sev, "{check}");
    }
}

#[test]
fn mta_sts_policy_fetched_by_the_rfc_s_rules() {
    let Some(rig) = rig() else { return };
    let ok = |body: &str| {
        format!(
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
    };
    let large = format!("{GOOD_POLICY}{}", "# padding\n".repeat(7000));
    for (response, id) in [
        (
            "HTTP/1.1 301 Moved Permanently\r\nLocation: https://mta-sts.auth.test/elsewhere.txt\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_string(),
            "mtasts.policy_redirect",
        ),
        (
            "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_string(),
            "mtasts.policy_http_status",
        ),
        (
            ok(GOOD_POLICY).replace("text/plain", "text/html"),
            "mtasts.policy_content_type",
        ),
        (ok(&large), "mtasts.policy_too_large"),
        (ok("version: STSv1\nmode: strict\n"), "mtasts.policy_syntax"),
        (
            ok("version: STSv1\nmode: enforce\nmx: mx.auth.test\nmax_age: 99999999\n"),
            "mtasts.max_age_too_long",
        ),
    ] {
        let policy = Policy::respond("mta-sts.auth.test", response);
        let extra = policy.args();
        let more: Vec<&str> = extra.iter().map(String::as_str).collect();
        let json = report(
            &domain(&rig, "auth.test", &more),
            "problem",
            Some("tls_certificate"),
            1,
        );
        assert_eq!(status(&json, "mta_sts"), "fail", "{id}");
        assert_eq!(severity(&json, "mta_sts", id), "problem");
    }
    // mode none: the domain withdraws its policy, a warning.
    let policy = Policy::serve(
        "mta-sts.auth.test",
        "version: STSv1\nmode: none\nmax_age: 86400\n",
    );
    let extra = policy.args();
    let more: Vec<&str> = extra.iter().map(String::as_str).collect();
    let json = domain(&rig, "auth.test", &more).json();
    assert_schema(&json);
    assert_eq!(status(&json, "mta_sts"), "warn");
    assert_eq!(severity(&json, "mta_sts", "mtasts.mode_none"), "warning");
}
