//! The README's examples are real output: this test runs each one (against the real rig where
//! an example needs it, else on its own, e.g. on the bounce fixtures) and compares it with the
//! README, numbers that change from run to run aside. Without a rig only the examples that need
//! none are checked. `UPDATE_README=1 cargo test -p smtpdoctor --test readme` rewrites them.
#![allow(missing_docs)] // a test, not an API

use std::collections::HashMap;
use std::process::{Command, Stdio};

/// One example: its name, the command shown to the reader, the arguments really run (`{KEY}`
/// is replaced from the rig's env file, `{KEY.port}` by the port of its ADDR:PORT value),
/// whether it needs the rig, and the directory it runs in (relative to this crate), so that file
/// names in its output read as in the command shown.
struct Example {
    name: &'static str,
    shown: &'static str,
    args: &'static [&'static str],
    rig: bool,
    dir: Option<&'static str>,
}

const EXAMPLES: &[Example] = &[
    Example {
        name: "explain",
        shown: "smtpdoctor explain '554 5.7.1 <friend@example.org>: Relay access denied'",
        args: &[
            "explain",
            "554 5.7.1 <friend@example.org>: Relay access denied",
        ],
        rig: false,
        dir: None,
    },
    Example {
        name: "bounce",
        shown: "smtpdoctor bounce postfix-two-recipients.eml",
        args: &["bounce", "postfix-two-recipients.eml"],
        rig: false,
        dir: Some("tests/fixtures/bounce"),
    },
    Example {
        name: "logs",
        shown: "smtpdoctor logs --tz UTC --year 2025 mail.log",
        args: &["logs", "--tz", "UTC", "--year", "2025", "mail.log"],
        rig: false,
        dir: Some("tests/fixtures/logs"),
    },
    Example {
        name: "check-ok",
        shown: "smtpdoctor check mail.test:2587 --user user@mail.test --password-env SMTP_PASSWORD --to user@mail.test --ca-file rig-ca.pem",
        args: &[
            "check",
            "mail.test:{RM_SUBMISSION.port}",
            "--resolve",
            "mail.test:127.0.0.1",
            "--user",
            "{RM_USER}",
            "--password-env",
            "SMTP_PASSWORD",
            "--to",
            "{RM_USER}",
            "--ca-file",
            "{RM_SELFSIGNED}",
        ],
        rig: true,
        dir: None,
    },
    Example {
        name: "check-wrong-mode",
        shown: "smtpdoctor check mail.test:2587 --tls implicit --user user@mail.test --password-env SMTP_PASSWORD --ca-file rig-ca.pem",
        args: &[
            "check",
            "mail.test:{RM_SUBMISSION.port}",
            "--resolve",
            "mail.test:127.0.0.1",
            "--tls",
            "implicit",
            "--user",
            "{RM_USER}",
            "--password-env",
            "SMTP_PASSWORD",
            "--ca-file",
            "{RM_SELFSIGNED}",
        ],
        rig: true,
        dir: None,
    },
    Example {
        name: "check-untrusted",
        shown: "smtpdoctor check mail.test:2587 --user user@mail.test --password-env SMTP_PASSWORD",
        args: &[
            "check",
            "mail.test:{RM_SUBMISSION.port}",
            "--resolve",
            "mail.test:127.0.0.1",
            "--user",
            "{RM_USER}",
            "--password-env",
            "SMTP_PASSWORD",
        ],
        rig: true,
        dir: None,
    },
    Example {
        name: "check-transcript",
        shown: "smtpdoctor check mail.test:2587 --user user@mail.test --password-env WRONG_PASSWORD --ca-file rig-ca.pem --transcript",
        args: &[
            "check",
            "mail.test:{RM_SUBMISSION.port}",
            "--resolve",
            "mail.test:127.0.0.1",
            "--user",
            "{RM_USER}",
            "--password-env",
            "WRONG_PASSWORD",
            "--ca-file",
            "{RM_SELFSIGNED}",
            "--transcript",
        ],
        rig: true,
        dir: None,
    },
    Example {
        name: "setup",
        shown: "smtpdoctor setup user@mail.test --password-env SMTP_PASSWORD --no-guess --no-ispdb --dns 127.0.0.1:5353 --ca-file rig-ca.pem",
        args: &[
            "setup",
            "{RM_USER}",
            "--password-env",
            "SMTP_PASSWORD",
            "--no-guess",
            "--no-ispdb",
            "--dns",
            "{RM_DNS}",
            "--ca-file",
            "{RM_SELFSIGNED}",
        ],
        rig: true,
        dir: None,
    },
    Example {
        name: "domain",
        shown: "smtpdoctor domain bad.test --ip 192.0.2.26 --dkim-selector weak --dnsbl bl.test --rhsbl dbl.test",
        args: &[
            "domain",
            "bad.test",
            "--dns",
            "{RM_DNS}",
            "--ip",
            "192.0.2.26",
            "--dkim-selector",
            "weak",
            "--dnsbl",
            "bl.test",
            "--rhsbl",
            "dbl.test",
        ],
        rig: true,
        dir: None,
    },
];

fn rig_env() -> Option<HashMap<String, String>> {
    let path =
        std::env::var("SMTPDOCTOR_RIG_ENV").unwrap_or_else(|_| "/tmp/smtpdoctor-rig/env".into());
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) => {
            assert!(
                std::env::var("SMTPDOCTOR_REQUIRE_RIG").is_err(),
                "no rig env at {path}: {e}"
            );
            eprintln!(
                "no rig ({path}): only the examples that need none are checked; scripts/test starts one"
            );
            return None;
        }
    };
    Some(
        text.lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    )
}

/// The rig's default ports, which the README shows: a rig started on other ports (its
/// `RM_PORT_*` variables) runs the examples on its own ports, and its output is read back with the
/// default ones.
const DEFAULT_PORTS: &[(&str, u16)] = &[
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

/// The port of an ADDR:PORT setting of the rig.
fn port_of(env: &HashMap<String, String>, key: &str) -> Option<u16> {
    env.get(key)?.rsplit_once(':')?.1.parse().ok()
}

/// Replaces each `{KEY}` and `{KEY.port}` in `arg` from the rig's env file.
fn fill(arg: &str, env: &HashMap<String, String>) -> String {
    let mut out = String::new();
    let mut rest = arg;
    while let Some(open) = rest.find('{') {
        let close = open + rest[open..].find('}').expect("placeholder closed");
        let key = &rest[open + 1..close];
        out.push_str(&rest[..open]);
        match key.strip_suffix(".port") {
            Some(key) => out.push_str(
                &port_of(env, key)
                    .unwrap_or_else(|| panic!("rig env has no port for {key}"))
                    .to_string(),
            ),
            None => out.push_str(&env[key]),
        }
        rest = &rest[close + 1..];
    }
    out.push_str(rest);
    out
}

/// Writes the rig's ports in `text` as the defaults the README shows (whole numbers only).
fn default_ports(text: &str, env: &HashMap<String, String>) -> String {
    let moved: HashMap<String, String> = DEFAULT_PORTS
        .iter()
        .filter_map(|(key, default)| {
            let port = port_of(env, key)?;
            (port != *default).then(|| (port.to_string(), default.to_string()))
        })
        .collect();
    if moved.is_empty() {
        return text.to_string();
    }
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

fn run(example: &Example, env: &HashMap<String, String>) -> String {
    let args: Vec<String> = example.args.iter().map(|a| fill(a, env)).collect();
    let mut command = Command::new(env!("CARGO_BIN_EXE_smtpdoctor"));
    if let Some(dir) = example.dir {
        command.current_dir(format!("{}/{dir}", env!("CARGO_MANIFEST_DIR")));
    }
    let out = command
        .args(&args)
        .env(
            "SMTP_PASSWORD",
            env.get("RM_PASS").map(String::as_str).unwrap_or(""),
        )
        .env("WRONG_PASSWORD", "not-the-password")
        .env("NO_COLOR", "1")
        // A proxy from the environment would carry the examples' HTTPS fetches off the machine.
        .env_remove("HTTPS_PROXY")
        .env_remove("https_proxy")
        .env_remove("HTTP_PROXY")
        .env_remove("http_proxy")
        .stdin(Stdio::null())
        .output()
        .expect("runs");
    format!(
        "$ {}\n{}",
        example.shown,
        default_ports(String::from_utf8_lossy(&out.stdout).trim_end(), env)
    )
}

/// Numbers that change between runs (times, ephemeral ports) become `N`; spacing is collapsed.
fn normalize(text: &str) -> String {
    let mut out = String::new();
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        if chars[i].is_ascii_digit() {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '.') {
                i += 1;
            }
            let rest: String = chars[i..chars.len().min(i + 3)].iter().collect();
            let before: String = chars[start.saturating_sub(16)..start].iter().collect();
            let volatile = rest.starts_with("ms")
                || rest.starts_with(" ms")
                || rest.starts_with(" s")
                || before.ends_with("from 127.0.0.1:");
            if volatile {
                out.push('N');
            } else {
                out.extend(&chars[start..i]);
            }
            continue;
        }
        out.push(chars[i]);
        i += 1;
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn block(name: &str, body: &str) -> String {
    format!("<!-- example: {name} -->\n```console\n{body}\n```\n<!-- /example -->")
}

#[test]
fn readme_examples_are_real_output() {
    let rig = rig_env();
    let no_rig = HashMap::new();
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md");
    let mut readme = std::fs::read_to_string(path).expect("README.md");
    let update = std::env::var_os("UPDATE_README").is_some();
    let mut stale = Vec::new();
    // New examples go after the anchor, each after the one before, in the table's order.
    let mut insert_at = readme
        .find("<!-- examples:")
        .map(|i| readme[i..].find('\n').map_or(readme.len(), |n| i + n + 1));
    for example in EXAMPLES {
        let env = match (&rig, example.rig) {
            (Some(env), _) => env,
            (None, false) => &no_rig,
            (None, true) => continue,
        };
        let fresh = run(example, env);
        let start_marker = format!("<!-- example: {} -->", example.name);
        let Some(start) = readme.find(&start_marker) else {
            if update {
                let at = insert_at.expect("README has an examples anchor");
                let text = format!("\n{}\n", block(example.name, &fresh));
                readme.insert_str(at, &text);
                insert_at = Some(at + text.len());
                continue;
            }
            stale.push(format!("{} (missing)", example.name));
            continue;
        };
        let end = start
            + readme[start..]
                .find("<!-- /example -->")
                .expect("example end marker")
            + "<!-- /example -->".len();
        let current = &readme[start..end];
        let body = current
            .split_once("```console\n")
            .and_then(|(_, b)| b.rsplit_once("\n```"))
            .map(|(b, _)| b)
            .unwrap_or("");
        if normalize(body) != normalize(&fresh) {
            if update {
                readme.replace_range(start..end, &block(example.name, &fresh));
            } else {
                stale.push(format!(
                    "{}:\n--- README\n{body}\n--- now\n{fresh}",
                    example.name
                ));
            }
        }
    }
    if update {
        std::fs::write(path, readme).expect("README.md written");
    }
    assert!(
        stale.is_empty(),
        "README examples differ from real output (UPDATE_README=1 cargo test -p smtpdoctor --test readme):\n{}",
        stale.join("\n\n")
    );
}
