//! `smtpdoctor logs`: synthetic logs written here (never corpus lines): every output format
//! against the schema, filters, .gz and several files in time order, classic stamps' year and
//! zone, queue-id reuse, journald JSON on stdin, and a large log in bounded memory.

use crate::*;
use std::io::Write;
use std::path::PathBuf;

struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let dir =
            std::env::temp_dir().join(format!("smtpdoctor-logs-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    fn write(&self, name: &str, text: &str) -> String {
        let p = self.0.join(name);
        std::fs::write(&p, text).unwrap();
        p.display().to_string()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

const DAY: &str = "\
Nov 28 10:00:01 mx postfix/smtpd[100]: connect from client.example.net[192.0.2.10]
Nov 28 10:00:02 mx postfix/smtpd[100]: 1A2B3C4D5E: client=client.example.net[192.0.2.10], sasl_method=PLAIN, sasl_username=alice
Nov 28 10:00:02 mx postfix/cleanup[101]: 1A2B3C4D5E: message-id=<m1@example.net>
Nov 28 10:00:02 mx postfix/qmgr[102]: 1A2B3C4D5E: from=<alice@example.net>, size=1234, nrcpt=2 (queue active)
Nov 28 10:00:03 mx postfix/smtp[103]: 1A2B3C4D5E: to=<bob@example.org>, relay=mx.example.org[198.51.100.5]:25, delay=1.2, delays=0.1/0/0.5/0.6, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as 9F8E7D)
Nov 28 10:00:03 mx postfix/smtp[103]: 1A2B3C4D5E: to=<carol@example.com>, relay=mx.example.com[198.51.100.6]:25, delay=1.3, delays=0.1/0/0.5/0.7, dsn=5.1.1, status=bounced (host mx.example.com[198.51.100.6] said: 550 5.1.1 <carol@example.com>: Recipient address rejected: User unknown (in reply to RCPT TO command))
Nov 28 10:00:04 mx postfix/qmgr[102]: 1A2B3C4D5E: removed
Nov 28 10:05:00 mx postfix/smtpd[104]: warning: unknown[203.0.113.7]: SASL LOGIN authentication failed: authentication failure, sasl_username=bob
Nov 28 10:05:30 mx postfix/smtpd[104]: warning: unknown[203.0.113.7]: SASL LOGIN authentication failed: authentication failure, sasl_username=bob
Nov 28 10:06:00 mx postfix/smtpd[104]: NOQUEUE: reject: RCPT from unknown[203.0.113.8]: 554 5.7.1 <x@elsewhere.example>: Relay access denied; from=<spam@bad.example> to=<x@elsewhere.example> proto=ESMTP helo=<bad>
Nov 28 10:07:00 mx dovecot: imap-login: Disconnected (auth failed, 1 attempts in 2 secs): user=<dave>, method=PLAIN, rip=203.0.113.9, lip=192.0.2.1, TLS
";

fn jsonl(run: &Run) -> Vec<Value> {
    run.stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect()
}

#[test]
fn a_days_log_in_every_format() {
    let dir = TempDir::new("day");
    let log = dir.write("mail.log", DAY);
    let run = smtpdoctor(
        &[
            "logs", "--tz", "UTC", "--year", "2025", "--format", "jsonl", &log,
        ],
        &[],
    );
    assert_eq!(run.code, 12, "{}", run.stderr);
    let lines = jsonl(&run);
    for l in &lines {
        let def = if l["kind"] == "message" {
            "message"
        } else {
            "event"
        };
        assert_matches_schema(l, "logs.schema.json", Some(def));
    }
    let auth: Vec<&Value> = lines
        .iter()
        .filter(|l| l["kind"] == "auth_failed")
        .collect();
    assert_eq!(auth.len(), 3);
    assert_eq!(auth[0]["ip"], "203.0.113.7");
    assert_eq!(auth[0]["user"], "bob");
    assert_eq!(auth[0]["line"], 8);
    assert_eq!(auth[0]["time"], "2025-11-28T10:05:00+00:00");
    assert_eq!(auth[0]["category"], "auth_failed");
    let reject = lines.iter().find(|l| l["kind"] == "rejected").unwrap();
    assert_eq!(reject["category"], "relay_denied");
    assert_eq!(reject["reason"], "relay");
    let message = lines.iter().find(|l| l["kind"] == "message").unwrap();
    assert_eq!(message["queue_id"], "1A2B3C4D5E");
    assert_eq!(message["from"], "alice@example.net");
    assert_eq!(message["user"], "alice");
    assert_eq!(message["outcome"], "partial");
    assert_eq!(message["recipients"].as_array().unwrap().len(), 2);
    assert!(run.stderr.contains("Grand totals"), "{}", run.stderr);

    let run = smtpdoctor(
        &[
            "logs", "--tz", "UTC", "--year", "2025", "--format", "json", &log,
        ],
        &[],
    );
    let doc = run.json();
    assert_matches_schema(&doc, "logs.schema.json", None);
    assert_eq!(doc["summary"]["received"], 1);
    assert_eq!(doc["summary"]["delivered"], 1);
    assert_eq!(doc["summary"]["bounced"], 1);
    assert_eq!(doc["summary"]["rejected"], 1);
    assert_eq!(doc["summary"]["auth_failed"], 3);
    assert_eq!(doc["verdict"]["category"], "auth_failed");

    let run = smtpdoctor(&["logs", "--tz", "UTC", "--year", "2025", &log], &[]);
    assert!(run.stdout.contains("203.0.113.7"), "{}", run.stdout);
    assert!(run.stdout.contains("Logins"), "{}", run.stdout);
}

#[test]
fn filters_by_ip_user_and_time() {
    let dir = TempDir::new("filters");
    let log = dir.write("mail.log", DAY);
    let base = ["logs", "--tz", "UTC", "--year", "2025", "--format", "jsonl"];
    let by = |extra: &[&str]| {
        let mut a: Vec<&str> = base.to_vec();
        a.extend_from_slice(extra);
        a.push(&log);
        jsonl(&smtpdoctor(&a, &[]))
    };
    let ip = by(&["--ip", "203.0.113.7"]);
    assert_eq!(ip.len(), 2);
    assert!(ip.iter().all(|l| l["ip"] == "203.0.113.7"));
    let user = by(&["--user", "dave"]);
    assert_eq!(user.len(), 1);
    assert_eq!(user[0]["server"], "dovecot");
    let around = by(&["--around", "2025-11-28 10:06", "--window", "20s"]);
    assert_eq!(around.len(), 1, "{around:?}");
    assert_eq!(around[0]["kind"], "rejected");
    let qid = by(&["--queue-id", "1A2B3C4D5E"]);
    assert!(qid.iter().any(|l| l["kind"] == "message"));
    let to = by(&["--to", "carol@"]);
    assert!(to.iter().any(|l| l["kind"] == "bounced"));
    let bad = smtpdoctor(&["logs", "--since", "yesterday-ish", &log], &[]);
    assert_eq!(bad.code, 2);
}

#[test]
fn gzip_and_several_files_with_the_year_and_zone_inferred() {
    let dir = TempDir::new("rotate");
    // The older file is compressed; the log crosses New Year.
    let old = dir.0.join("mail.log.1.gz");
    let mut gz = flate2_writer(&old);
    gz.write_all(b"Dec 31 23:59:58 mx postfix/smtpd[1]: warning: unknown[192.0.2.50]: SASL PLAIN authentication failed: , sasl_username=eve\n").unwrap();
    drop(gz);
    let new = dir.write(
        "mail.log",
        "Jan  1 00:00:02 mx postfix/smtpd[1]: warning: unknown[192.0.2.50]: SASL PLAIN authentication failed: , sasl_username=eve\n",
    );
    let run = smtpdoctor(
        &[
            "logs",
            "--format",
            "jsonl",
            "--tz",
            "+02:00",
            "--year",
            "2025",
            old.to_str().unwrap(),
            &new,
        ],
        &[],
    );
    let lines = jsonl(&run);
    assert_eq!(lines.len(), 2, "{}", run.stderr);
    assert_eq!(lines[0]["time"], "2025-12-31T23:59:58+02:00");
    assert_eq!(lines[0]["file"], old.to_str().unwrap());
    // The second file starts again from --year: a January line after a December file.
    assert_eq!(lines[1]["line"], 1);
    // Without --year, the year comes from the file's date: a line from a month after the
    // file was written belongs to the year before.
    let run = smtpdoctor(&["logs", "--format", "jsonl", "--tz", "UTC", &new], &[]);
    let t = jsonl(&run)[0]["time"].as_str().unwrap().to_owned();
    assert!(t.ends_with("-01-01T00:00:02+00:00"), "{t}");
}

/// A gzip writer without a dev-dependency: `gzip` from the system.
fn flate2_writer(path: &std::path::Path) -> impl Write {
    struct Gz(std::process::Child);
    impl Write for Gz {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.stdin.as_mut().unwrap().write(b)
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    impl Drop for Gz {
        fn drop(&mut self) {
            drop(self.0.stdin.take());
            self.0.wait().unwrap();
        }
    }
    let out = std::fs::File::create(path).unwrap();
    Gz(Command::new("gzip")
        .arg("-c")
        .stdin(Stdio::piped())
        .stdout(out)
        .spawn()
        .unwrap())
}

#[test]
fn a_reused_queue_id_starts_a_new_message() {
    let dir = TempDir::new("reuse");
    let log = dir.write(
        "mail.log",
        "\
2025-03-01T09:00:00+00:00 mx postfix/smtpd[5]: ABCDE12345: client=a.example[192.0.2.21]
2025-03-01T09:00:00+00:00 mx postfix/qmgr[6]: ABCDE12345: from=<one@a.example>, size=10, nrcpt=1 (queue active)
2025-03-01T09:00:01+00:00 mx postfix/smtp[7]: ABCDE12345: to=<x@b.example>, relay=mx.b.example[198.51.100.9]:25, delay=1, delays=0/0/0/1, dsn=4.4.1, status=deferred (connect to mx.b.example[198.51.100.9]:25: Connection timed out)
2025-03-01T10:00:00+00:00 mx postfix/smtpd[5]: ABCDE12345: client=c.example[192.0.2.22]
2025-03-01T10:00:00+00:00 mx postfix/qmgr[6]: ABCDE12345: from=<two@c.example>, size=20, nrcpt=1 (queue active)
2025-03-01T10:00:01+00:00 mx postfix/smtp[7]: ABCDE12345: to=<y@b.example>, relay=mx.b.example[198.51.100.9]:25, delay=1, delays=0/0/0/1, dsn=2.0.0, status=sent (250 ok)
2025-03-01T10:00:01+00:00 mx postfix/qmgr[6]: ABCDE12345: removed
",
    );
    let run = smtpdoctor(&["logs", "--format", "jsonl", "--tz", "UTC", &log], &[]);
    let messages: Vec<Value> = jsonl(&run)
        .into_iter()
        .filter(|l| l["kind"] == "message")
        .collect();
    assert_eq!(messages.len(), 2, "{messages:?}");
    assert_eq!(messages[0]["from"], "one@a.example");
    assert_eq!(messages[0]["reused"], true);
    assert_eq!(messages[0]["outcome"], "deferred");
    assert_eq!(messages[1]["from"], "two@c.example");
    assert_eq!(messages[1]["outcome"], "delivered");
    assert_eq!(messages[1]["ip"], "192.0.2.22");
}

#[test]
fn journald_json_on_standard_input() {
    let input = r#"{"__REALTIME_TIMESTAMP":"1764324000000000","_HOSTNAME":"mx","SYSLOG_IDENTIFIER":"postfix/smtpd","_PID":"9","MESSAGE":"warning: unknown[192.0.2.77]: SASL LOGIN authentication failed: authentication failure, sasl_username=frank"}
{"__REALTIME_TIMESTAMP":"1764324001000000","_HOSTNAME":"mx","SYSLOG_IDENTIFIER":"exim","_PID":"10","MESSAGE":"2025-11-28 10:00:01 H=(x) [192.0.2.78] F=<a@b.example> rejected RCPT <c@d.example>: relay not permitted"}
"#;
    let started = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_smtpdoctor"))
        .args(["logs", "--format", "jsonl", "--tz", "UTC", "-"])
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
    let run = Run::from_output(child.wait_with_output().unwrap(), started);
    let lines = jsonl(&run);
    assert_eq!(lines.len(), 2, "{}", run.stderr);
    assert_eq!(lines[0]["time"], "2025-11-28T10:00:00+00:00");
    assert_eq!(
        (lines[0]["kind"].as_str(), lines[0]["user"].as_str()),
        (Some("auth_failed"), Some("frank"))
    );
    assert_eq!(
        (lines[1]["kind"].as_str(), lines[1]["ip"].as_str()),
        (Some("rejected"), Some("192.0.2.78"))
    );
    assert_eq!(lines[1]["file"], "-");
}

#[test]
fn a_large_log_is_streamed_in_bounded_memory() {
    let dir = TempDir::new("large");
    let path = dir.0.join("big.log");
    let mut out = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    let mut size = 0usize;
    let mut i = 0u64;
    while size < 60 << 20 {
        let qid = format!("{:010X}", i);
        let ip = format!("198.18.{}.{}", (i >> 8) & 255, i & 255);
        let text = format!(
            "Mar  3 12:{m:02}:{s:02} mx postfix/smtpd[1]: {qid}: client=h{i}.example[{ip}]\n\
             Mar  3 12:{m:02}:{s:02} mx postfix/qmgr[2]: {qid}: from=<u{i}@example.net>, size=2048, nrcpt=1 (queue active)\n\
             Mar  3 12:{m:02}:{s:02} mx postfix/smtp[3]: {qid}: to=<r{i}@example.org>, relay=mx.example.org[198.51.100.1]:25, delay=0.2, delays=0/0/0.1/0.1, dsn=2.0.0, status=sent (250 ok)\n\
             Mar  3 12:{m:02}:{s:02} mx postfix/qmgr[2]: {qid}: removed\n",
            m = (i / 60) % 60,
            s = i % 60
        );
        size += text.len();
        out.write_all(text.as_bytes()).unwrap();
        i += 1;
    }
    drop(out);
    let file = path.display().to_string();
    let run = smtpdoctor(
        &[
            "logs",
            "--summary",
            "--format",
            "json",
            "--tz",
            "UTC",
            "--year",
            "2025",
            &file,
        ],
        &[],
    );
    let doc = run.json();
    assert_eq!(doc["summary"]["received"], i);
    assert_eq!(doc["summary"]["delivered"], i);
    let run2 = smtpdoctor(
        &[
            "logs",
            "--format",
            "jsonl",
            "--tz",
            "UTC",
            "--year",
            "2025",
            "--ip",
            "198.18.0.7",
            &file,
        ],
        &[],
    );
    assert!(!run2.stdout.is_empty());
    eprintln!(
        "{} MB, {i} messages: peak {} KiB / {} KiB",
        size >> 20,
        run.peak_kib,
        run2.peak_kib
    );
    // Distinct senders and recipients are capped tables; nothing else grows with the input.
    for peak in [run.peak_kib, run2.peak_kib] {
        assert!(
            peak > 0 && peak < 150 * 1024,
            "peak RSS {peak} KiB for {} MB",
            size >> 20
        );
    }
}
