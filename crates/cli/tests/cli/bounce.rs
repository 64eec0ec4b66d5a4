//! `smtpdoctor bounce`: the fixtures' records, every output format against the schema, stdin,
//! directories, Maildirs, mbox files, unreadable paths, a 100 MB mbox in bounded memory, a huge
//! message capped, and garbage that gets an answer instead of a panic.

use crate::*;
use std::io::Write;
use std::path::{Path, PathBuf};

fn fixture(name: &str) -> String {
    format!(
        "{}/tests/fixtures/bounce/{name}",
        env!("CARGO_MANIFEST_DIR")
    )
}

fn fixtures_dir() -> String {
    fixture("")
}

/// Runs `smtpdoctor bounce ARGS` with `input` on stdin.
fn bounce_stdin(input: &[u8], args: &[&str]) -> Run {
    let started = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_smtpdoctor"))
        .arg("bounce")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    // Written from a thread: a large input must not block while the child's output fills up.
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    Run::from_output(out, started)
}

/// A temporary directory removed when dropped, also when the test fails.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let dir =
            std::env::temp_dir().join(format!("smtpdoctor-test-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.0.join(rel)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn records(json: &Value) -> &Vec<Value> {
    json["records"].as_array().expect("records is an array")
}

/// What a record must say: kind, recipient, status, reply code, reason (None: not checked) and
/// category.
type Expected = (
    &'static str,
    Option<&'static str>,
    Option<&'static str>,
    Option<u64>,
    Option<&'static str>,
    Option<&'static str>,
);

fn assert_record(r: &Value, want: &Expected, context: &str) {
    let (kind, recipient, status, code, reason, category) = want;
    let got = (
        r["kind"].as_str(),
        r["recipient"].as_str(),
        r["status"].as_str(),
        r["reply_code"].as_u64(),
        r["category"].as_str(),
    );
    assert_eq!(
        got,
        (Some(*kind), *recipient, *status, *code, *category),
        "{context}: {r:#}"
    );
    if let Some(reason) = reason {
        assert_eq!(r["reason"], *reason, "{context}: {r:#}");
    }
}

/// Runs one file in JSON, checks the schema, the exit code and the records.
fn run_fixture(name: &str, exit: i32, want: &[Expected]) -> Value {
    let run = smtpdoctor(&["bounce", &fixture(name), "--format", "json"], &[]);
    let json = run.json();
    assert_schema(&json);
    assert_eq!(
        run.code, exit,
        "{name}: exit code; verdict {}",
        json["verdict"]
    );
    let got = records(&json);
    assert_eq!(got.len(), want.len(), "{name}: {got:#?}");
    for (r, w) in got.iter().zip(want) {
        assert_record(r, w, name);
    }
    json
}

#[test]
fn a_postfix_dsn_gives_one_record_per_recipient() {
    let json = run_fixture(
        "postfix-two-recipients.eml",
        13,
        &[
            (
                "bounce",
                Some("nobody@example.org"),
                Some("5.1.1"),
                Some(550),
                Some("userunknown"),
                Some("recipient_unknown"),
            ),
            (
                "bounce",
                Some("full@example.net"),
                Some("5.2.2"),
                Some(552),
                Some("mailboxfull"),
                Some("mailbox_full"),
            ),
        ],
    );
    let r = &records(&json)[0];
    assert_eq!(r["action"], "failed");
    assert_eq!(r["retry"], "permanent");
    assert_eq!(r["remote_mta"], "mx.example.org");
    assert_eq!(r["reporting_mta"], "mail.example.com");
    assert!(r["arrival_date"].as_str().unwrap().contains("3 Jun 2025"));
    assert!(r["diagnostic"].as_str().unwrap().contains("User unknown"));
    assert!(!r["fix"].as_str().unwrap_or("").is_empty());
    assert_eq!(
        r["original"]["message_id"],
        "20250603100001.quarterly@example.com"
    );
    assert_eq!(r["original"]["from"], "alice@example.com");
    assert_eq!(r["original"]["subject"], "Quarterly figures");
    assert!(
        r["file"]
            .as_str()
            .unwrap()
            .ends_with("postfix-two-recipients.eml")
    );
    let v = &json["verdict"];
    assert_eq!(v["status"], "problem");
    assert_eq!(v["category"], "recipient_unknown");
    assert_eq!(v["retry"], "permanent");
    assert_eq!(
        v["evidence"],
        serde_json::json!(["record:0", "finding:bounce.failed"])
    );
    assert_eq!(json["messages"], 1);
    assert_eq!(json["summary"]["by_kind"]["bounce"], 2);
    assert_eq!(json["summary"]["by_category"]["mailbox_full"], 1);
    assert_eq!(json["summary"]["by_reason"]["userunknown"], 1);
    let failed: Vec<&Value> = json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["id"] == "bounce.failed")
        .collect();
    assert_eq!(failed.len(), 2, "one finding per category");
    assert_eq!(failed[1]["evidence"], serde_json::json!(["record:1"]));
}

#[test]
fn text_bounces_of_exim_and_qmail() {
    let json = run_fixture(
        "exim.eml",
        13,
        &[(
            "bounce",
            Some("someone@example.net"),
            Some("5.7.1"),
            Some(550),
            Some("blocked"),
            Some("blacklisted_ip"),
        )],
    );
    let r = &records(&json)[0];
    assert!(
        r["diagnostic"]
            .as_str()
            .unwrap()
            .contains("zen.spamhaus.org")
    );
    assert_eq!(r["original"]["subject"], "Lunch on Friday?");
    assert_eq!(r["detector"], "exim");
    let json = run_fixture(
        "qmail.eml",
        13,
        &[(
            "bounce",
            Some("nosuch@qmail.example.com"),
            Some("5.1.1"),
            None,
            Some("userunknown"),
            Some("recipient_unknown"),
        )],
    );
    assert_eq!(
        records(&json)[0]["original"]["message_id"],
        "photos-trip-7@example.com"
    );
}

#[test]
fn a_delay_warning_is_temporary() {
    let json = run_fixture(
        "delay.eml",
        14,
        &[(
            "delay",
            Some("slow@example.org"),
            Some("4.7.1"),
            Some(451),
            None,
            Some("greylisting_or_rate_limit"),
        )],
    );
    assert_eq!(records(&json)[0]["action"], "delayed");
    assert_eq!(records(&json)[0]["retry"], "temporary");
    assert_eq!(json["verdict"]["retry"], "temporary");
    assert_finding(&json, "bounce.delayed");
}

#[test]
fn feedback_reports_autoreplies_and_other_mail_are_not_bounces() {
    for (name, want, finding) in [
        (
            "arf.eml",
            (
                "feedback",
                Some("reader@example.net"),
                None,
                None,
                Some("feedback"),
                None,
            ),
            "bounce.feedback",
        ),
        (
            "autoreply.eml",
            (
                "autoreply",
                Some("dave@example.org"),
                None,
                None,
                Some("vacation"),
                None,
            ),
            "bounce.autoreply",
        ),
        (
            "not-bounce.eml",
            ("not_bounce", None, None, None, None, None),
            "bounce.not_bounce",
        ),
    ] {
        let json = run_fixture(name, 1, &[want]);
        let v = &json["verdict"];
        assert_eq!(v["status"], "problem", "{name}");
        assert_eq!(v["category"], Value::Null, "{name}");
        assert!(
            v["summary"]
                .as_str()
                .unwrap()
                .starts_with("No bounce in 1 message"),
            "{name}: {}",
            v["summary"]
        );
        assert_finding(&json, finding);
        assert_eq!(json["summary"]["by_category"], serde_json::json!({}));
    }
    let json = run_fixture(
        "arf.eml",
        1,
        &[(
            "feedback",
            Some("reader@example.net"),
            None,
            None,
            None,
            None,
        )],
    );
    assert_eq!(records(&json)[0]["feedback_type"], "abuse");
    assert_eq!(records(&json)[0]["original"]["subject"], "Spring sale");
}

#[test]
fn an_mbox_is_split_into_its_messages() {
    let json = run_fixture(
        "mixed.mbox",
        13,
        &[
            (
                "bounce",
                Some("grace@example.net"),
                Some("5.7.1"),
                Some(550),
                Some("spamdetected"),
                Some("spam_or_policy_block"),
            ),
            (
                "success",
                Some("heidi@example.org"),
                Some("2.0.0"),
                Some(250),
                Some("delivered"),
                None,
            ),
            ("not_bounce", None, None, None, None, None),
            (
                "bounce",
                Some("kim@gmail.example"),
                Some("5.7.26"),
                Some(550),
                None,
                Some("sender_auth_failure"),
            ),
        ],
    );
    assert_eq!(json["messages"], 4);
    let files: Vec<&str> = records(&json)
        .iter()
        .map(|r| r["file"].as_str().unwrap())
        .collect();
    for (i, f) in files.iter().enumerate() {
        assert!(f.ends_with(&format!("mixed.mbox:{}", i + 1)), "{files:?}");
    }
    // The escaped ">From now on" line stays in its message instead of starting a new one.
    assert_eq!(
        records(&json)[2]["original"]["subject"],
        "Notes from the call"
    );
    assert_eq!(json["summary"]["by_kind"]["success"], 1);
}

#[test]
fn success_notices_alone_are_ok() {
    let mbox = std::fs::read_to_string(fixture("mixed.mbox")).unwrap();
    let success = mbox
        .split("\nFrom ")
        .find(|m| m.contains("Action: delivered"))
        .unwrap();
    let message = success.split_once('\n').unwrap().1;
    let run = bounce_stdin(message.as_bytes(), &["-", "--format", "json"]);
    let json = assert_verdict(&run, "ok", None, 0);
    assert_eq!(records(&json)[0]["kind"], "success");
    assert_eq!(records(&json)[0]["file"], "-");
}

#[test]
fn jsonl_writes_one_record_per_line_and_the_summary_to_stderr() {
    let run = smtpdoctor(&["bounce", &fixtures_dir(), "--format", "jsonl"], &[]);
    assert_eq!(run.code, 13, "{}", run.stderr);
    let lines: Vec<Value> = run
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert_eq!(lines.len(), 12, "{}", run.stdout);
    for r in &lines {
        assert_matches_schema(r, "bounce.schema.json", Some("record"));
        for field in [
            "file",
            "kind",
            "recipient",
            "status",
            "reply_code",
            "reason",
            "category",
            "retry",
            "diagnostic",
            "remote_mta",
        ] {
            assert!(r.get(field).is_some(), "{field} missing: {r}");
        }
    }
    // The same records as the JSON document, in the same order.
    let json = smtpdoctor(&["bounce", &fixtures_dir(), "--format", "json"], &[]).json();
    assert_schema(&json);
    assert_eq!(&lines, records(&json));
    // Messages are read on several threads; the output keeps the input's order whatever the
    // number.
    for jobs in ["1", "3"] {
        let again = smtpdoctor(
            &[
                "bounce",
                &fixtures_dir(),
                "--format",
                "jsonl",
                "--jobs",
                jobs,
            ],
            &[],
        );
        assert_eq!(again.stdout, run.stdout, "--jobs {jobs}");
    }
    assert!(
        run.stderr.contains("smtpdoctor bounce: 11 messages, 12 records: bounce 6, delay 1, success 1, feedback 1, autoreply 1, not_bounce 2"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("verdict: problem [recipient_unknown]"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_directory_is_read_in_name_order() {
    let run = smtpdoctor(&["bounce", &fixtures_dir(), "--format", "json"], &[]);
    let json = assert_verdict(&run, "problem", Some("recipient_unknown"), 13);
    assert_eq!(json["messages"], 11);
    let names: Vec<String> = records(&json)
        .iter()
        .map(|r| {
            let f = r["file"].as_str().unwrap();
            Path::new(f)
                .file_name()
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted);
    assert_eq!(names[0], "arf.eml");
    assert_eq!(json["summary"]["by_kind"]["bounce"], 6);
    assert_eq!(json["target"]["paths"], serde_json::json!([fixtures_dir()]));
}

#[test]
fn a_maildir_gives_the_messages_in_cur_and_new_only() {
    let dir = TempDir::new("maildir");
    for d in ["md/cur", "md/new", "md/tmp", "md/.Trash/cur"] {
        std::fs::create_dir_all(dir.path(d)).unwrap();
    }
    let bounce = std::fs::read(fixture("qmail.eml")).unwrap();
    let other = std::fs::read(fixture("not-bounce.eml")).unwrap();
    std::fs::write(dir.path("md/cur/1749000000.M1P1.host:2,S"), &bounce).unwrap();
    std::fs::write(dir.path("md/new/1749000001.M2P1.host"), &bounce).unwrap();
    std::fs::write(dir.path("md/tmp/1749000002.M3P1.host"), &other).unwrap();
    std::fs::write(dir.path("md/.Trash/cur/1749000003.M4P1.host:2,S"), &other).unwrap();
    std::fs::write(dir.path("md/dovecot-uidlist"), "3 V1749000000 N4\n").unwrap();
    std::fs::write(dir.path("md/dovecot.index.cache"), [0u8, 1, 2, 3, 255]).unwrap();
    let md = dir.path("md");
    let run = smtpdoctor(&["bounce", md.to_str().unwrap(), "--format", "json"], &[]);
    let json = assert_verdict(&run, "problem", Some("recipient_unknown"), 13);
    assert_eq!(json["messages"], 2, "{:#?}", records(&json));
    assert_eq!(json["summary"]["by_kind"]["not_bounce"], 0);
    assert!(
        records(&json)[0]["file"]
            .as_str()
            .unwrap()
            .contains("/cur/")
    );
    assert!(
        records(&json)[1]["file"]
            .as_str()
            .unwrap()
            .contains("/new/")
    );
}

#[test]
fn standard_input_is_read() {
    let dsn = std::fs::read(fixture("postfix-two-recipients.eml")).unwrap();
    let run = bounce_stdin(&dsn, &["-", "--format", "json"]);
    let json = assert_verdict(&run, "problem", Some("recipient_unknown"), 13);
    assert_eq!(records(&json).len(), 2);
    assert_eq!(records(&json)[0]["file"], "-");
    assert_eq!(json["target"]["paths"], serde_json::json!(["-"]));
    // Without a path, standard input is read when it is not a terminal.
    let run = bounce_stdin(&dsn, &["--format", "jsonl"]);
    assert_eq!(run.code, 13, "{}", run.stderr);
    assert_eq!(run.stdout.lines().count(), 2);
    // An mbox on standard input is split too.
    let mbox = std::fs::read(fixture("mixed.mbox")).unwrap();
    let json = bounce_stdin(&mbox, &["-", "--format", "json"]).json();
    assert_eq!(json["messages"], 4);
    assert_eq!(records(&json)[3]["file"], "-:4");
    let run = smtpdoctor(&["bounce", "-", "-"], &[]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("only once"), "{}", run.stderr);
}

#[test]
fn an_unreadable_path_is_named_and_the_others_are_still_read() {
    let missing = "/nonexistent/smtpdoctor/bounces.mbox";
    let run = smtpdoctor(
        &["bounce", missing, &fixture("qmail.eml"), "--format", "json"],
        &[],
    );
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains(missing) && run.stderr.contains("No such file"),
        "{}",
        run.stderr
    );
    let json = run.json();
    assert_schema(&json);
    assert_eq!(json["verdict"]["category"], "recipient_unknown");
    assert_eq!(records(&json).len(), 1);
    assert_eq!(json["unreadable"][0]["path"], missing);
    assert_finding(&json, "bounce.unreadable");
    // Human output names it as well.
    let run = smtpdoctor(&["bounce", missing, &fixture("qmail.eml")], &[]);
    assert_eq!(run.code, 2);
    assert!(
        run.stdout.contains(&format!("Cannot read {missing}")),
        "{}",
        run.stdout
    );
    // Nothing readable at all: a usage error on stderr only.
    let run = smtpdoctor(&["bounce", missing, "--format", "json"], &[]);
    assert_eq!(run.code, 2);
    assert!(run.stdout.is_empty(), "{}", run.stdout);
    assert!(run.stderr.contains(missing), "{}", run.stderr);
    // A broken link under a directory is named; the files beside it are read.
    let dir = TempDir::new("broken-link");
    std::fs::copy(fixture("qmail.eml"), dir.path("a.eml")).unwrap();
    std::os::unix::fs::symlink("/nonexistent/smtpdoctor/gone.eml", dir.path("b.eml")).unwrap();
    let run = smtpdoctor(
        &["bounce", dir.0.to_str().unwrap(), "--format", "jsonl"],
        &[],
    );
    assert_eq!(run.code, 2, "{}", run.stderr);
    let broken = dir.path("b.eml");
    assert!(
        run.stderr.contains(broken.to_str().unwrap()),
        "{}",
        run.stderr
    );
    assert_eq!(run.stdout.lines().count(), 1, "{}", run.stdout);
    // An empty directory holds no bounce.
    let dir = TempDir::new("empty");
    let run = smtpdoctor(
        &["bounce", dir.0.to_str().unwrap(), "--format", "json"],
        &[],
    );
    let json = assert_verdict(&run, "problem", None, 1);
    assert_eq!(json["verdict"]["summary"], "No message found in the input");
}

#[test]
fn human_output_has_a_table_details_and_the_verdict() {
    let dir = fixtures_dir();
    let run = smtpdoctor(
        &[
            "bounce",
            &format!("{dir}postfix-two-recipients.eml"),
            &format!("{dir}arf.eml"),
        ],
        &[],
    );
    assert_eq!(run.code, 13, "{}", run.stderr);
    let out = &run.stdout;
    assert!(!out.contains('\x1b'), "no colour when not a terminal");
    for expected in [
        "#  recipient",
        "status  code  reason",
        "nobody@example.org  bounce    5.1.1   550   userunknown  recipient_unknown",
        "reader@example.net  feedback  -       -     feedback     -",
        "#1 nobody@example.org · bounce · ",
        "remote MTA    mx.example.org",
        "\"Quarterly figures\"",
        "<20250603100001.quarterly@example.com>",
        "fix           ",
        "PROBLEM [recipient_unknown] 2 recipients bounced in 2 messages: recipient_unknown 1, mailbox_full 1",
        "2 messages, 3 records: bounce 2, feedback 1",
        "by category: mailbox_full 1, recipient_unknown 1",
        "(bounce.feedback)",
    ] {
        assert!(out.contains(expected), "missing {expected:?} in:\n{out}");
    }
}

/// A bounce whose returned original carries `attachment` bytes of base64.
fn bounce_with_attachment(n: usize, attachment: usize) -> String {
    let mut m = format!(
        "From: MAILER-DAEMON@mail.example.com\nTo: alice@example.com\nSubject: Undelivered Mail Returned to Sender\nMIME-Version: 1.0\nContent-Type: multipart/report; report-type=delivery-status; boundary=\"B{n}\"\n\n--B{n}\nContent-Type: text/plain\n\nThe mail system\n\n--B{n}\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mail.example.com\n\nFinal-Recipient: rfc822; user{n}@example.org\nAction: failed\nStatus: 5.1.1\nDiagnostic-Code: smtp; 550 5.1.1 <user{n}@example.org>: User unknown\n\n--B{n}\nContent-Type: message/rfc822\n\nFrom: alice@example.com\nTo: user{n}@example.org\nSubject: Report {n}\nMessage-ID: <report-{n}@example.com>\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"I{n}\"\n\n--I{n}\nContent-Type: text/plain\n\nSee the attachment.\n--I{n}\nContent-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n\n"
    );
    let line = "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAx\n";
    for _ in 0..attachment / line.len() {
        m.push_str(line);
    }
    m.push_str(&format!("--I{n}--\n\n--B{n}--\n"));
    m
}

#[test]
fn a_100_mb_mbox_is_streamed_in_bounded_memory() {
    let dir = TempDir::new("big-mbox");
    let path = dir.path("big.mbox");
    let mut out = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    let small = std::fs::read_to_string(fixture("mixed.mbox")).unwrap();
    let mut messages = 0usize;
    let mut size = 0usize;
    let mut n = 0usize;
    // Large bounces (2 MB of returned attachment each) between runs of small ones.
    while size < 100 << 20 {
        n += 1;
        let big = bounce_with_attachment(n, 2 << 20);
        let chunk = format!("From MAILER-DAEMON Sun Jun  8 10:00:00 2025\n{big}\n{small}\n");
        out.write_all(chunk.as_bytes()).unwrap();
        size += chunk.len();
        messages += 1 + 4;
        for _ in 0..20 {
            out.write_all(small.as_bytes()).unwrap();
            out.write_all(b"\n").unwrap();
            size += small.len() + 1;
            messages += 4;
        }
    }
    out.flush().unwrap();
    drop(out);
    let run = smtpdoctor(
        &["bounce", path.to_str().unwrap(), "--format", "jsonl"],
        &[],
    );
    assert_eq!(run.code, 13, "{}", run.stderr);
    assert!(
        run.stderr
            .contains(&format!("smtpdoctor bounce: {messages} messages, ")),
        "expected {messages} messages: {}",
        run.stderr
    );
    assert_eq!(run.stdout.lines().count(), messages);
    let mut peaks = vec![("jsonl", run.peak_kib, run.elapsed)];
    // The JSON document is written as records arrive, and human output keeps only the records
    // it shows: both stay bounded too.
    let big = path.to_str().unwrap();
    let run = smtpdoctor(&["bounce", big, "--format", "json"], &[]);
    let json = run.json();
    assert_eq!(json["messages"], messages);
    assert_eq!(records(&json).len(), messages);
    peaks.push(("json", run.peak_kib, run.elapsed));
    let run = smtpdoctor(&["bounce", big], &[]);
    assert!(
        run.stdout
            .contains(&format!("{messages} messages, {messages} records")),
        "{}",
        run.stdout
    );
    peaks.push(("human", run.peak_kib, run.elapsed));
    eprintln!("{} MB, {messages} messages: {peaks:?}", size >> 20);
    for (format, peak, _) in peaks {
        assert!(peak > 0, "{format}: memory was sampled");
        assert!(
            peak < 100 * 1024,
            "{format}: peak RSS {peak} KiB for a {} MB mbox",
            size >> 20
        );
    }
}

#[test]
fn a_huge_message_is_capped_with_a_finding() {
    let dir = TempDir::new("huge");
    let path = dir.path("huge.eml");
    std::fs::write(&path, bounce_with_attachment(1, 20 << 20)).unwrap();
    let run = smtpdoctor(&["bounce", path.to_str().unwrap(), "--format", "json"], &[]);
    let json = assert_verdict(&run, "problem", Some("recipient_unknown"), 13);
    let name = path.to_str().unwrap();
    assert_eq!(json["truncated"], serde_json::json!([name]));
    assert_finding(&json, "bounce.truncated");
    let finding = json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == "bounce.truncated")
        .unwrap();
    assert!(
        finding["summary"].as_str().unwrap().contains(name),
        "{finding}"
    );
    assert_eq!(
        finding["evidence"],
        serde_json::json!([format!("input:{name}")])
    );
    let r = &records(&json)[0];
    assert_eq!(r["truncated"], true);
    assert_eq!(r["recipient"], "user1@example.org");
    assert!(run.peak_kib < 100 * 1024, "peak RSS {} KiB", run.peak_kib);
    // JSON lines mark the record and say so on stderr.
    let run = smtpdoctor(&["bounce", name, "--format", "jsonl"], &[]);
    let line: Value = serde_json::from_str(run.stdout.trim()).unwrap();
    assert_eq!(line["truncated"], true);
    assert!(
        run.stderr.contains("1 message was over 4 MiB"),
        "{}",
        run.stderr
    );
}

#[test]
fn garbage_gets_an_answer_not_a_panic() {
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut random = |n: usize| -> Vec<u8> {
        (0..n)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                seed as u8
            })
            .collect()
    };
    let mut inputs: Vec<(&str, Vec<u8>)> = vec![
        ("empty", Vec::new()),
        ("random", random(1 << 20)),
        ("zeros", vec![0u8; 100_000]),
        ("newlines", b"\n\r\n\r\r\n".repeat(10_000)),
    ];
    let mut header = b"Content-Type: multipart/report; boundary=\"x\"\n\n--x\nContent-Type: message/delivery-status\n\n".to_vec();
    header.extend(random(200_000));
    inputs.push(("report then garbage", header));
    let mut mbox = b"From x\n".to_vec();
    mbox.extend(random(300_000));
    mbox.extend(b"\n\nFrom y\nFrom: \xff\xfe\n\n\x00");
    inputs.push(("mbox of garbage", mbox));
    let mut long_line = b"Subject: ".to_vec();
    long_line.extend(vec![b'a'; 5 << 20]);
    inputs.push(("one 5 MB line", long_line));
    for (name, input) in inputs {
        let run = bounce_stdin(&input, &["-", "--format", "json"]);
        assert!(
            run.code == 1 || run.code == 13 || run.code == 0,
            "{name}: exit {} stderr {}",
            run.code,
            run.stderr
        );
        let json = run.json();
        assert_schema(&json);
        assert!(json["messages"].as_u64().unwrap() >= 1, "{name}");
        assert!(
            !run.stderr.contains("internal error"),
            "{name}: {}",
            run.stderr
        );
    }
}
