//! End-to-end tests of the `smtpdoctor` binary: against the real Postfix + Dovecot + NSD rig
//! (scripts/rig) and against the in-process fault servers of `smtpdoctor-lab`.
#![allow(missing_docs)] // test helpers, not an API

mod bounce;
mod dns;
mod domain;
mod explain;
mod faults;
mod logs;
mod netns;
mod report;
mod rig;
mod secrets;
mod setup;
mod usage;

use serde_json::Value;
use std::collections::HashMap;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// What one run of the binary gave.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
    /// Peak resident memory seen, in KiB (sampled from /proc).
    pub peak_kib: u64,
}

impl Run {
    /// A finished process's outcome (memory not sampled).
    pub fn from_output(out: std::process::Output, started: Instant) -> Run {
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            elapsed: started.elapsed(),
            peak_kib: 0,
        }
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!("not JSON ({e}):\n{}\nstderr:\n{}", self.stdout, self.stderr)
        })
    }
}

/// Runs the binary with arguments and extra environment, stdin closed.
pub fn smtpdoctor(args: &[&str], env: &[(&str, &str)]) -> Run {
    let started = Instant::now();
    let child = Command::new(env!("CARGO_BIN_EXE_smtpdoctor"))
        .args(args)
        // A proxy from the environment would carry the tests' HTTPS fetches off the machine.
        .env_remove("HTTPS_PROXY")
        .env_remove("https_proxy")
        .env_remove("HTTP_PROXY")
        .env_remove("http_proxy")
        .envs(env.iter().copied())
        .env_remove("NO_COLOR")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary runs");
    let pid = child.id();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let sampler = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut peak = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                if let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) {
                    for line in status.lines() {
                        if let Some(v) = line.strip_prefix("VmHWM:") {
                            peak = peak
                                .max(v.trim().trim_end_matches("kB").trim().parse().unwrap_or(0));
                        }
                    }
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            peak
        })
    };
    let out = child.wait_with_output().expect("the binary finishes");
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let peak_kib = sampler.join().unwrap_or(0);
    Run {
        peak_kib,
        ..Run::from_output(out, started)
    }
}

/// The ids of all findings.
pub fn finding_ids(json: &Value) -> Vec<String> {
    json["findings"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|f| f["id"].as_str().map(str::to_string))
        .collect()
}

/// Asserts the verdict's status and category, with the whole report on failure.
pub fn assert_verdict(run: &Run, status: &str, category: Option<&str>, exit: i32) -> Value {
    let json = run.json();
    let v = &json["verdict"];
    let ok = v["status"] == status && v["category"].as_str() == category && run.code == exit;
    assert!(
        ok,
        "expected {status}/{category:?}/exit {exit}, got {}/{}/exit {}: {}\nfindings: {:?}\n{}",
        v["status"],
        v["category"],
        run.code,
        v["summary"],
        finding_ids(&json),
        run.stderr
    );
    // Every report a test looks at must also match the published schema.
    assert_schema(&json);
    json
}

/// Asserts a finding is present.
pub fn assert_finding(json: &Value, id: &str) {
    let ids = finding_ids(json);
    assert!(
        ids.iter().any(|i| i == id),
        "finding {id} missing; got {ids:?}; verdict {}",
        json["verdict"]
    );
}

/// The rig's KEY=VALUE settings, or None (test skipped) when no rig runs and none is required.
pub fn rig() -> Option<HashMap<String, String>> {
    let path =
        std::env::var("SMTPDOCTOR_RIG_ENV").unwrap_or_else(|_| "/tmp/smtpdoctor-rig/env".into());
    match std::fs::read_to_string(&path) {
        Ok(text) => Some(
            text.lines()
                .filter_map(|l| l.split_once('='))
                .map(|(k, v)| (k.trim().to_string(), v.trim().trim_matches('"').to_string()))
                .collect(),
        ),
        Err(e) => {
            assert!(
                std::env::var("SMTPDOCTOR_REQUIRE_RIG").is_err(),
                "SMTPDOCTOR_REQUIRE_RIG is set but the rig's env file {path} cannot be read: {e}"
            );
            eprintln!("skipped: no rig ({path}: {e}); scripts/test starts one");
            None
        }
    }
}

/// The port of one of the rig's ADDR:PORT settings (`RM_SMTPS`, `RM_SUBMISSION`, ...): the rig
/// takes its ports from its environment, so no test may assume the defaults.
pub fn rig_port(rig: &HashMap<String, String>, key: &str) -> u16 {
    let value = rig
        .get(key)
        .unwrap_or_else(|| panic!("the rig's env file has no {key}"));
    value
        .rsplit_once(':')
        .and_then(|(_, port)| port.parse().ok())
        .unwrap_or_else(|| panic!("{key}={value} is not ADDR:PORT"))
}

/// The rig's default ports (scripts/rig), which snapshots show.
const RIG_DEFAULT_PORTS: &[(&str, u16)] = &[
    ("RM_SMTP", 2525),
    ("RM_SMTP_CHAIN", 2526),
    ("RM_SMTP_NOTLS", 2527),
    ("RM_SUBMISSION", 2587),
    ("RM_SMTPS", 2465),
    ("RM_CHAIN_OK", 2466),
    ("RM_CHAIN_LEAFONLY", 2467),
    ("RM_CERT_EXPIRED", 2468),
    ("RM_CERT_NOTYET", 2469),
    ("RM_CERT_WEAK", 2470),
    ("RM_DNS", 5353),
];

/// `text` with the rig's ports written as its defaults (whole numbers only), so that a snapshot
/// taken on the default rig matches a rig started on other ports.
pub fn with_default_rig_ports(text: &str, rig: &HashMap<String, String>) -> String {
    let moved: HashMap<String, String> = RIG_DEFAULT_PORTS
        .iter()
        .filter(|(key, _)| rig.contains_key(*key))
        .map(|(key, default)| (rig_port(rig, key).to_string(), default.to_string()))
        .filter(|(port, default)| port != default)
        .collect();
    let mut out = String::new();
    let mut digits = String::new();
    for c in text.chars().map(Some).chain([None]) {
        if let Some(d) = c.filter(char::is_ascii_digit) {
            digits.push(d);
            continue;
        }
        out.push_str(moved.get(&digits).unwrap_or(&digits));
        digits.clear();
        out.extend(c);
    }
    out
}

/// Validates a report against the repository's JSON Schema for its command
/// (`docs/schema/<command>.schema.json`; `check` when the command is not named).
pub fn assert_schema(json: &Value) {
    let file = match json["command"].as_str() {
        Some(c @ ("bounce" | "explain" | "domain" | "setup")) => format!("{c}.schema.json"),
        _ => "check.schema.json".to_string(),
    };
    assert_matches_schema(json, &file, None);
}

/// Validates a value against `docs/schema/FILE`, or against one of its `$defs` (the others kept
/// reachable).
pub fn assert_matches_schema(json: &Value, file: &str, def: Option<&str>) {
    let schema_path = format!("{}/../../docs/schema/{file}", env!("CARGO_MANIFEST_DIR"));
    let mut schema: Value =
        serde_json::from_str(&std::fs::read_to_string(&schema_path).expect("the schema exists"))
            .expect("the schema is JSON");
    if let Some(def) = def {
        let defs = schema["$defs"].clone();
        schema = defs[def].clone();
        schema["$defs"] = defs;
    }
    let validator = jsonschema::validator_for(&schema).expect("the schema compiles");
    let errors: Vec<String> = validator
        .iter_errors(json)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "{json}\ndoes not match docs/schema/{file}{}:\n{}",
        def.map(|d| format!(" ($defs/{d})")).unwrap_or_default(),
        errors.join("\n")
    );
}
