//! Scores the bounce reader against the shared bounce corpus (expectations written by others:
//! Sisimai's test suite and flufl.bounce's), reading it in place.
//!
//! `cargo run -p smtpdoctor-bounce --example corpus -- [CORPUS_DIR] [--failures] [--rows]
//! [--min-reply P] [--min-status P] [--min-reason P] [--min-recipients P] [--min-count P]`
//!
//! `--failures` lists every miss (with Sisimai's engine and whether its versions agree) and the
//! commonest reason confusions; `--rows` prints every row's expected and found reason, for diffing
//! two runs.
//!
//! Prints the figures; exits 1 when one falls below its floor, 0 with a note when the corpus is
//! not there.

use smtpdoctor_bounce::input::Messages;
use smtpdoctor_report::bounce::{BounceKind, BounceRecord};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Instant;

struct Row {
    index: usize,
    status: String,
    reply: String,
    reason: String,
    p5: String,
    engine: String,
}

fn read_file(path: &Path) -> Vec<BounceRecord> {
    let mut out = Vec::new();
    for item in Messages::new(&[path.to_path_buf()]) {
        match item {
            Ok(item) => out.extend(smtpdoctor_bounce::read(&item.bytes, &item.name)),
            Err(e) => panic!("{e}"),
        }
    }
    out
}

fn reported(records: &[BounceRecord]) -> Vec<&BounceRecord> {
    records
        .iter()
        .filter(|r| r.kind != BounceKind::NotBounce)
        .collect()
}

fn pct(n: usize, d: usize) -> f64 {
    if d == 0 {
        100.0
    } else {
        100.0 * n as f64 / d as f64
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let mut dir = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/corpora/bounces"
    ));
    let mut failures = false;
    let mut rows_out = false;
    let mut floors: BTreeMap<String, f64> = BTreeMap::new();
    while let Some(a) = args.next() {
        match a.as_str() {
            "--failures" => failures = true,
            "--rows" => rows_out = true,
            s if s.starts_with("--min-") => {
                let v: f64 = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .expect("a number after --min-*");
                floors.insert(s.trim_start_matches("--min-").to_string(), v);
            }
            s => dir = PathBuf::from(s),
        }
    }
    if !dir.join("expected.tsv").exists() {
        println!(
            "bounce corpus: not found at {} — skipped (it ships in ../shared)",
            dir.display()
        );
        return;
    }
    let started = Instant::now();
    let mut messages = 0usize;

    // Sisimai's expectations.
    let mut expected: BTreeMap<String, Vec<Row>> = BTreeMap::new();
    for line in std::fs::read_to_string(dir.join("expected.tsv"))
        .unwrap()
        .lines()
    {
        if line.starts_with('#') || line.starts_with("file\t") {
            continue;
        }
        let f: Vec<&str> = line.split('\t').collect();
        if f.len() < 12 {
            continue;
        }
        expected.entry(f[0].to_string()).or_default().push(Row {
            index: f[1].parse().unwrap_or(1),
            status: f[2].to_string(),
            reply: f[3].to_string(),
            reason: f[4].to_string(),
            p5: f[11].to_string(),
            engine: f[9].to_string(),
        });
    }
    let (mut count_ok, mut files) = (0, 0);
    let (
        mut reply_ok,
        mut status_ok,
        mut reason_ok,
        mut reason_agreed,
        mut reason_agreed_ok,
        mut rows,
    ) = (0, 0, 0, 0, 0, 0);
    let mut reason_confusion: BTreeMap<(String, String), usize> = BTreeMap::new();
    for (file, rows_expected) in &expected {
        files += 1;
        let records = read_file(&dir.join(file));
        messages += 1;
        let got = reported(&records);
        if got.len() == rows_expected.len() {
            count_ok += 1;
        } else if failures {
            println!(
                "COUNT {file}: expected {} records, got {}",
                rows_expected.len(),
                got.len()
            );
        }
        for row in rows_expected {
            rows += 1;
            let r = got.get(row.index - 1);
            let reply = r
                .and_then(|r| r.reply_code)
                .map(|c| c.to_string())
                .unwrap_or_default();
            if reply == row.reply {
                reply_ok += 1;
            } else if failures {
                println!(
                    "REPLY {file}#{}: expected {:?}, got {reply:?} ({:?})",
                    row.index,
                    row.reply,
                    r.and_then(|r| r.diagnostic.clone())
                );
            }
            let status = r.and_then(|r| r.status.clone()).unwrap_or_default();
            let pseudo = row.status.len() > 5 && row.status[2..].starts_with("0.9");
            let status_good = if pseudo {
                status.is_empty() || status.as_bytes()[0] == row.status.as_bytes()[0]
            } else {
                status == row.status
            };
            if status_good {
                status_ok += 1;
            } else if failures {
                println!(
                    "STATUS {file}#{}: expected {:?}, got {status:?} ({:?})",
                    row.index,
                    row.status,
                    r.and_then(|r| r.diagnostic.clone())
                );
            }
            let reason = r.map(|r| r.reason.clone()).unwrap_or_default();
            let good = reason == row.reason;
            if rows_out {
                println!(
                    "ROW {file}#{}\t{}\t{reason}\t{}",
                    row.index, row.reason, row.p5
                );
            }
            if good {
                reason_ok += 1;
            }
            if row.p5 == "same" {
                reason_agreed += 1;
                if good {
                    reason_agreed_ok += 1;
                }
            }
            if !good {
                *reason_confusion
                    .entry((row.reason.clone(), reason.clone()))
                    .or_default() += 1;
                if failures {
                    println!(
                        "REASON {file}#{}: expected {}, got {reason} [{}] engine={} p5={} status={:?} cmd={:?} ({:?})",
                        row.index,
                        row.reason,
                        r.map(|r| r.detector.as_str()).unwrap_or("-"),
                        row.engine,
                        row.p5,
                        r.and_then(|r| r.status.clone()),
                        r.and_then(|r| r.command.clone()),
                        r.and_then(|r| r.diagnostic.clone())
                            .map(|d| d.chars().take(300).collect::<String>())
                    );
                }
            }
        }
    }

    // CRLF and CR copies must read exactly like their LF originals.
    let (mut copies, mut copies_same) = (0, 0);
    if let Ok(text) = std::fs::read_to_string(dir.join("expected-crlf-cr.tsv")) {
        let mut seen = BTreeSet::new();
        for line in text
            .lines()
            .filter(|l| !l.starts_with('#') && !l.starts_with("file\t"))
        {
            let file = line.split('\t').next().unwrap_or("");
            if !seen.insert(file.to_string()) {
                continue;
            }
            let base = Path::new(file).file_name().unwrap();
            let original = dir.join("set-of-emails/maildir/bsd").join(base);
            let strip = |rs: Vec<BounceRecord>| {
                rs.into_iter()
                    .map(|mut r| {
                        r.file = String::new();
                        serde_json::to_string(&r).unwrap()
                    })
                    .collect::<Vec<_>>()
            };
            copies += 1;
            messages += 1;
            if strip(read_file(&dir.join(file))) == strip(read_file(&original)) {
                copies_same += 1;
            } else if failures {
                println!("COPY {file} differs from its LF original");
            }
        }
    }

    // flufl.bounce: the exact set of failed addresses per message.
    let (mut sets, mut sets_ok) = (0, 0);
    if let Ok(text) = std::fs::read_to_string(dir.join("flufl-bounce/expected-flufl.tsv")) {
        for line in text
            .lines()
            .filter(|l| !l.starts_with('#') && !l.starts_with("file\t"))
        {
            let f: Vec<&str> = line.split('\t').collect();
            if f.len() < 4 {
                continue;
            }
            sets += 1;
            messages += 1;
            let want: BTreeSet<String> = f[3]
                .split_whitespace()
                .map(str::to_ascii_lowercase)
                .collect();
            let kind = if f[2] == "temporary" {
                BounceKind::Delay
            } else {
                BounceKind::Bounce
            };
            let records = read_file(&dir.join(f[0]));
            let got: BTreeSet<String> = records
                .iter()
                .filter(|r| r.kind == kind)
                .filter_map(|r| r.recipient.clone())
                .collect();
            if got == want {
                sets_ok += 1;
            } else if failures {
                println!(
                    "RECIPIENTS {} ({}): expected {want:?}, got {got:?}",
                    f[0], f[2]
                );
            }
        }
    }

    // Robustness: every file of err/ and not/ gets an answer; not/ is not a bounce; the mbox splits.
    let mut robust_notes = Vec::new();
    for sub in ["err", "not"] {
        let d = dir.join("set-of-emails/maildir").join(sub);
        let records = read_file(&d);
        messages += records
            .iter()
            .map(|r| r.file.clone())
            .collect::<BTreeSet<_>>()
            .len();
        if sub == "not" && records.iter().any(|r| r.kind != BounceKind::NotBounce) {
            robust_notes.push("a message in not/ was read as a bounce".to_string());
        }
    }
    let mbox = Messages::new(&[dir.join("set-of-emails/mailbox/mbox-0")]).count();
    if mbox != 37 {
        robust_notes.push(format!("mbox-0 split into {mbox} messages, not 37"));
    }
    let elapsed = started.elapsed();

    let figures = [
        (
            "count",
            pct(count_ok, files),
            format!("{count_ok}/{files} files with the right number of records"),
        ),
        (
            "reply",
            pct(reply_ok, rows),
            format!("{reply_ok}/{rows} reply codes"),
        ),
        (
            "status",
            pct(status_ok, rows),
            format!("{status_ok}/{rows} statuses"),
        ),
        (
            "reason",
            pct(reason_agreed_ok, reason_agreed),
            format!(
                "{reason_agreed_ok}/{reason_agreed} reasons where Sisimai's versions agree ({reason_ok}/{rows} of all rows)"
            ),
        ),
        (
            "copies",
            pct(copies_same, copies),
            format!("{copies_same}/{copies} CRLF/CR copies read exactly like the LF original"),
        ),
        (
            "recipients",
            pct(sets_ok, sets),
            format!(
                "{sets_ok}/{sets} flufl.bounce messages with exactly the right failed addresses"
            ),
        ),
    ];
    println!("bounce corpus ({}):", dir.display());
    let mut below = Vec::new();
    for (name, value, what) in &figures {
        println!("  {name:<10} {value:6.1}%  {what}");
        if let Some(floor) = floors.get(*name)
            && value < floor
        {
            below.push(format!("{name} {value:.1}% < floor {floor}%"));
        }
    }
    println!(
        "  robustness: {}",
        if robust_notes.is_empty() {
            "err/ and not/ answered, not/ not a bounce, mbox-0 = 37 messages".to_string()
        } else {
            robust_notes.join("; ")
        }
    );
    println!("  {messages} messages in {:.2} s", elapsed.as_secs_f64());
    if failures {
        let mut top: Vec<_> = reason_confusion.into_iter().collect();
        top.sort_by_key(|e| std::cmp::Reverse(e.1));
        for ((want, got), n) in top.iter().take(25) {
            println!("  confusion {want} -> {got}: {n}");
        }
    }
    if !robust_notes.is_empty() {
        below.push("robustness".into());
    }
    if !below.is_empty() {
        eprintln!("below the floor: {}", below.join(", "));
        std::process::exit(1);
    }
}
