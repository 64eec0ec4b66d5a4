//! `smtpdoctor explain`: text, stdin and --lines, checked against the explain schema.

use crate::*;
use std::io::Write;

fn explain_schema(json: &Value, def: Option<&str>) {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/schema/explain.schema.json"
    );
    let mut schema: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    if let Some(def) = def {
        // Validate against one definition, keeping the others reachable.
        let defs = schema["$defs"].clone();
        schema = defs[def].clone();
        schema["$defs"] = defs;
    }
    let validator = jsonschema::validator_for(&schema).expect("the schema compiles");
    let errors: Vec<String> = validator
        .iter_errors(json)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "{json}\ndoes not match explain.schema.json:\n{}",
        errors.join("\n")
    );
}

fn explain_stdin(input: &str, args: &[&str]) -> Run {
    let started = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_smtpdoctor"))
        .arg("explain")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    Run::from_output(out, started)
}

#[test]
fn a_reply_line_from_the_command_line() {
    let run = smtpdoctor(
        &[
            "explain", "535", "5.7.8", "Username", "and", "Password", "not", "accepted",
            "--format", "json",
        ],
        &[],
    );
    let json = run.json();
    explain_schema(&json, None);
    assert_eq!(run.code, 12, "auth class exit code");
    assert_eq!(json["category"], "auth_failed");
    assert_eq!(json["retry"], "permanent");
    assert_eq!(json["reply_code"], 535);
    assert_eq!(json["enhanced_code"], "5.7.8");
    assert_eq!(json["verdict"]["category"], "auth_failed");
    assert!(!json["fixes"].as_array().unwrap().is_empty());
    // Each matched entry says why: here a phrase of the reply, or its enhanced code.
    let why = json["matched"].to_string();
    assert!(
        why.contains("username and password not accepted") || why.contains("5.7.8"),
        "{why}"
    );
}

#[test]
fn a_whole_bounce_on_stdin() {
    let bounce = "From: MAILER-DAEMON@mail.example\nSubject: Undelivered Mail Returned to Sender\nContent-Type: multipart/report; report-type=delivery-status\n\nThis is the mail system.\n\nFinal-Recipient: rfc822; nobody@example.org\nAction: failed\nStatus: 5.1.1\nDiagnostic-Code: smtp; 550 5.1.1 <nobody@example.org>: Recipient address\n    rejected: User unknown in local recipient table\n";
    let run = explain_stdin(bounce, &["-", "--format", "json"]);
    let json = run.json();
    explain_schema(&json, None);
    assert_eq!(json["category"], "recipient_unknown");
    assert_eq!(run.code, 13);
}

#[test]
fn positive_and_unreadable_inputs_are_honest() {
    let json = smtpdoctor(
        &[
            "explain",
            "250 2.0.0 Ok: queued as 4XyZ",
            "--format",
            "json",
        ],
        &[],
    )
    .json();
    explain_schema(&json, None);
    assert_eq!(json["verdict"]["status"], "ok");
    assert_eq!(json["category"], Value::Null);
    let run = smtpdoctor(
        &["explain", "the printer is on fire", "--format", "json"],
        &[],
    );
    let json = run.json();
    explain_schema(&json, None);
    assert_eq!(json["verdict"]["status"], "inconclusive");
    assert_eq!(json["confidence"], "low");
    assert_eq!(run.code, 15);
}

#[test]
fn lines_mode_writes_one_json_object_per_line() {
    let input = "530 5.7.0 Must issue a STARTTLS command first\n\n554 5.7.1 <x@example.net>: Relay access denied\n421 4.7.0 Too many connections, slow down\nnot an error at all\n";
    let run = explain_stdin(input, &["--lines", "-"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let records: Vec<Value> = run
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(records.len(), 4, "the empty line is skipped");
    for r in &records {
        explain_schema(r, Some("record"));
    }
    assert_eq!(records[0]["line"], 1);
    assert_eq!(records[0]["category"], "tls_mismatch");
    assert_eq!(records[1]["line"], 3);
    assert_eq!(records[1]["category"], "relay_denied");
    assert_eq!(records[2]["category"], "greylisting_or_rate_limit");
    assert_eq!(records[2]["retry"], "temporary");
    assert!(
        run.stderr.contains("4 lines explained"),
        "the summary goes to stderr: {}",
        run.stderr
    );
}

#[test]
fn bad_input_is_named() {
    let run = explain_stdin("", &["-"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("empty"));
    let run = smtpdoctor(&["explain", "--lines", "/nonexistent/errors.txt"], &[]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("/nonexistent/errors.txt"));
}
