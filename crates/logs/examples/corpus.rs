//! Scores the log reader against the shared log corpora (expectations written by others),
//! reading them in place:
//! * fail2ban's annotated mail lines (postfix, exim, exim-spam, sendmail-auth, sendmail-reject,
//!   dovecot): marked lines should come out as failure events with fail2ban's IP and user;
//!   unmarked ones should not be reported as failures. Lines fail2ban marks only in its
//!   aggressive mode are a tier of their own;
//! * postfix-grok-patterns: the fields each case's captures name;
//! * Lightmeter's tracking scenarios: per-message delivery results (count, status, sender,
//!   recipient, Message-ID, client name);
//! * msimerson/postfix-parser: the parsed object per line;
//! * Exim's test-suite logs: the events `derived-events.tsv` derives from Exim's log flags.
//!
//! `cargo run -p smtpdoctor-logs --example corpus -- [DIR] [--failures] [--min-recall P]
//! [--min-ip P] [--min-precision P] [--min-grok P] [--min-tracking P] [--min-msimerson P]
//! [--min-exim P]`
//!
//! Prints the figures; exits 1 when one is below its floor, 0 with a note when the corpora are
//! not there.

use serde_json::Value;
use smtpdoctor_logs::clock::Clock;
use smtpdoctor_logs::input::Source;
use smtpdoctor_logs::track::{Message, Tracker};
use smtpdoctor_logs::{Event, Kind, Level, Line, parse};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

fn pct(n: usize, d: usize) -> f64 {
    if d == 0 {
        100.0
    } else {
        100.0 * n as f64 / d as f64
    }
}

fn jsonl(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

fn event_of(line: &str, f: impl FnOnce(Option<&Event<'_>>)) {
    match Line::parse(line) {
        Some(l) => {
            let e = parse(&l);
            f(e.as_ref())
        }
        None => f(None),
    }
}

const IN_SCOPE: [&str; 6] = [
    "postfix",
    "exim",
    "exim-spam",
    "sendmail-auth",
    "sendmail-reject",
    "dovecot",
];

/// Whether fail2ban's filter options name only the aggressive mode.
fn aggressive_only(opts: &Value) -> bool {
    let modes: Vec<&Value> = match opts {
        Value::Array(a) => a.iter().collect(),
        Value::Object(_) => vec![opts],
        _ => return false,
    };
    !modes.is_empty()
        && modes
            .iter()
            .all(|m| m.get("mode").and_then(Value::as_str) == Some("aggressive"))
}

#[derive(Default)]
struct Tier {
    marked: usize,
    found: usize,
    found_strict: usize,
    ip_checked: usize,
    ip_right: usize,
    user_checked: usize,
    user_right: usize,
}

fn fail2ban(dir: &Path, show: bool, figures: &mut BTreeMap<&'static str, f64>) {
    let rows = jsonl(&dir.join("fail2ban/fail2ban-mail-lines.jsonl"));
    if rows.is_empty() {
        println!("fail2ban: not found — skipped");
        return;
    }
    let mut tiers: [Tier; 2] = Default::default();
    let (mut unmarked, mut fp, mut fp_any) = (0, 0, 0);
    for r in &rows {
        let file = r["file"].as_str().unwrap_or("");
        if !IN_SCOPE.contains(&file) {
            continue;
        }
        let line = r["line"].as_str().unwrap_or("");
        let exp = &r["expected"];
        let matched = exp["match"].as_bool().unwrap_or(false);
        let tier = usize::from(aggressive_only(&r["filterOptions"]));
        event_of(line, |e| {
            let level = e.map_or(Level::Info, |e| e.level);
            // fail2ban's `errors` mode is narrower than the default one: what it leaves out is
            // still a failure by default.
            let narrower = r["filterOptions"] == serde_json::json!([{"mode": "errors"}]);
            if !matched && narrower {
                return;
            }
            if !matched {
                unmarked += 1;
                if level == Level::Failure {
                    fp_any += 1;
                    if e.is_some_and(|e| e.ip.is_some()) {
                        fp += 1;
                    }
                    if show {
                        println!("  fail2ban false positive [{file}]: {line}");
                    }
                }
                return;
            }
            let t = &mut tiers[tier];
            t.marked += 1;
            if level >= Level::Suspicious {
                t.found += 1;
            } else if show {
                println!("  fail2ban missed [{file}]: {line}");
            }
            if level == Level::Failure {
                t.found_strict += 1;
            }
            if level >= Level::Suspicious {
                if let Some(host) = exp["host"].as_str() {
                    t.ip_checked += 1;
                    if e.and_then(|e| e.ip)
                        .is_some_and(|ip| ip.eq_ignore_ascii_case(host))
                    {
                        t.ip_right += 1;
                    } else if show {
                        println!(
                            "  fail2ban wrong IP (want {host}, got {:?}) [{file}]: {line}",
                            e.and_then(|e| e.ip)
                        );
                    }
                }
                if let Some(user) = exp["user"].as_str() {
                    t.user_checked += 1;
                    if e.and_then(|e| e.user) == Some(user) {
                        t.user_right += 1;
                    } else if show {
                        println!("  fail2ban wrong user (want {user}) [{file}]: {line}");
                    }
                }
            }
        });
    }
    let [n, a] = &tiers;
    println!(
        "fail2ban normal modes: {} marked lines; found {:.1}% (as failures {:.1}%), IP right {:.1}% of {}, user right {}/{}",
        n.marked,
        pct(n.found, n.marked),
        pct(n.found_strict, n.marked),
        pct(n.ip_right, n.ip_checked),
        n.ip_checked,
        n.user_right,
        n.user_checked
    );
    println!(
        "fail2ban aggressive-only: {} marked lines; found {:.1}%, IP right {:.1}% of {}",
        a.marked,
        pct(a.found, a.marked),
        pct(a.ip_right, a.ip_checked),
        a.ip_checked
    );
    println!(
        "fail2ban unmarked lines: {unmarked}; reported as failures with an IP {fp} ({:.1}% precision on them), as failures at all {fp_any}",
        pct(unmarked - fp, unmarked)
    );
    figures.insert("recall", pct(n.found, n.marked));
    figures.insert("aggressive", pct(a.found, a.marked));
    figures.insert(
        "ip",
        pct(n.ip_right + a.ip_right, n.ip_checked + a.ip_checked),
    );
    figures.insert("precision", pct(unmarked - fp, unmarked));
}

fn grok(dir: &Path, show: bool, figures: &mut BTreeMap<&'static str, f64>) {
    let rows = jsonl(&dir.join("postfix-grok-patterns/postfix-grok-cases.jsonl"));
    if rows.is_empty() {
        println!("grok: not found — skipped");
        return;
    }
    let mut per: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    for r in &rows {
        let pattern = r["pattern"].as_str().unwrap_or("");
        let daemon = pattern
            .trim_start_matches("^%{POSTFIX_")
            .split('}')
            .next()
            .unwrap_or("")
            .to_ascii_lowercase();
        let data = r["data"].as_str().unwrap_or("");
        let e = smtpdoctor_logs::postfix::parse(&daemon, data);
        let relay = e.as_ref().and_then(|e| e.relay).and_then(|r| {
            let r = r.strip_prefix("none").unwrap_or(r);
            let open = r.find('[')?;
            let close = r.find(']')?;
            Some((
                &r[..open],
                &r[open + 1..close],
                r[close + 1..].strip_prefix(':'),
            ))
        });
        let Some(caps) = r["expected_captures"].as_object() else {
            continue;
        };
        for (k, v) in caps {
            let want = match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            let got: Option<String> = match k.as_str() {
                "postfix_client_ip" => e.as_ref().and_then(|e| e.ip).map(str::to_owned),
                "postfix_client_hostname" => e.as_ref().and_then(|e| e.host).map(str::to_owned),
                "postfix_client_port" => e.as_ref().and_then(|e| e.port).map(str::to_owned),
                "postfix_queueid" => e.as_ref().and_then(|e| e.queue_id).map(str::to_owned),
                "postfix_relay_hostname" => relay.map(|r| r.0.to_owned()),
                "postfix_relay_ip" => relay.map(|r| r.1.to_owned()),
                "postfix_relay_port" => relay.and_then(|r| r.2).map(str::to_owned),
                "postfix_status" => e.as_ref().and_then(|e| e.status).map(str::to_owned),
                "postfix_smtp_stage" => e.as_ref().and_then(|e| e.stage).map(str::to_owned),
                "postfix_status_code" => e
                    .as_ref()
                    .and_then(|e| e.reply)
                    .map(|r| r.get(..3).unwrap_or("").to_owned()),
                "postfix_status_code_enhanced" => e.as_ref().and_then(|e| e.dsn).map(str::to_owned),
                "postfix_tls_version" => e.as_ref().and_then(|e| e.tls_version).map(str::to_owned),
                "postfix_tls_cipher" => e.as_ref().and_then(|e| e.tls_cipher).map(str::to_owned),
                "postfix_message-id" => e.as_ref().and_then(|e| e.message_id).map(str::to_owned),
                "postfix_from" => e.as_ref().and_then(|e| e.from).map(str::to_owned),
                "postfix_bounce_queueid" => e.as_ref().and_then(|e| e.queued_as).map(str::to_owned),
                _ => continue,
            };
            let want = if k == "postfix_smtp_stage" {
                want.split(' ').next().unwrap_or("").to_owned()
            } else {
                want
            };
            let want = want
                .trim_start_matches('<')
                .trim_end_matches('>')
                .to_owned();
            // NOQUEUE is Postfix's word for no queue id: we give none.
            let got = if k == "postfix_queueid" && want == "NOQUEUE" && got.is_none() {
                Some(want.clone())
            } else {
                got
            };
            let ok = got.as_deref() == Some(want.as_str());
            let slot = per.entry(k.as_str()).or_default();
            slot.0 += 1;
            if ok {
                slot.1 += 1;
            } else if show {
                println!("  grok {k}: want {want:?}, got {got:?} [{daemon}] {data}");
            }
        }
    }
    let (n, ok) = per.values().fold((0, 0), |a, v| (a.0 + v.0, a.1 + v.1));
    println!(
        "grok: {} fields over {} cases, {:.1}% right",
        n,
        rows.len(),
        pct(ok, n)
    );
    let detail: Vec<String> = per
        .iter()
        .map(|(k, (n, ok))| format!("{}={}/{}", k.trim_start_matches("postfix_"), ok, n))
        .collect();
    println!("  {}", detail.join(" "));
    figures.insert("grok", pct(ok, n));
}

/// Runs one file through the tracker: the closed messages in order of their first line.
fn track_file(path: &Path) -> Vec<Message> {
    let mut src = match Source::open(path) {
        Ok(s) => s,
        Err(_) => return Vec::new(),
    };
    let mut clock = Clock::new(jiff::tz::TimeZone::UTC, Some(2020));
    clock.start_file(None);
    let mut tracker = Tracker::new();
    let mut out = Vec::new();
    let mut buf = Vec::new();
    while src.next_line(&mut buf).unwrap_or(false) {
        let text = String::from_utf8_lossy(&buf);
        let Some(line) = Line::parse(&text) else {
            continue;
        };
        let time = clock.resolve(line.stamp);
        if let Some(e) = parse(&line) {
            tracker.feed(&e, (0, src.line), time, &mut |m| out.push(m));
        }
    }
    tracker.finish(&mut |m| out.push(m));
    out
}

fn lightmeter(dir: &Path, show: bool, figures: &mut BTreeMap<&'static str, f64>) {
    let rows = jsonl(&dir.join("lightmeter/tracking-expectations.jsonl"));
    if rows.is_empty() {
        println!("lightmeter: not found — skipped");
        return;
    }
    let base = dir.join("lightmeter/test_files/postfix_logs/individual_files");
    let (mut files, mut counts_right, mut asserts, mut asserts_right) = (0, 0, 0, 0);
    for r in &rows {
        let Some(file) = r["file"].as_str() else {
            continue;
        };
        let path = base.join(file);
        if !path.exists() {
            continue;
        }
        let messages = track_file(&path);
        // A result per delivery attempt, in log order, hand-offs to a content filter left out.
        let mut results: Vec<(&Message, &smtpdoctor_logs::track::Attempt)> = messages
            .iter()
            .flat_map(|m| {
                m.attempts
                    .iter()
                    .filter(|a| a.handed_to.is_none())
                    .map(move |a| (m, a))
            })
            .collect();
        results.sort_by_key(|(_, a)| a.at);
        if let Some(n) = r["n_results"].as_u64() {
            files += 1;
            if results.len() as u64 == n {
                counts_right += 1;
            } else if show {
                println!("  lightmeter {file}: {} results, want {n}", results.len());
            }
        }
        for a in r["asserts"].as_array().into_iter().flatten() {
            let idx = a["idx"].as_u64().unwrap_or(0) as usize;
            let key = a["key"].as_str().unwrap_or("");
            let want = a["value"].as_str().unwrap_or("");
            let Some((m, at)) = results.get(idx) else {
                asserts += 1;
                continue;
            };
            let local = |s: &Option<String>| {
                s.as_deref()
                    .map(|s| s.rsplit_once('@').map_or(s, |x| x.0).to_owned())
            };
            let domain = |s: &Option<String>| {
                s.as_deref()
                    .and_then(|s| s.rsplit_once('@').map(|x| x.1.to_owned()))
            };
            let to = Some(at.to.clone());
            let got: Option<String> = match key {
                "ResultStatusKey" => Some(
                    match at.status {
                        Kind::Delivered => "parser.SentStatus",
                        Kind::Deferred => "parser.DeferredStatus",
                        Kind::Bounced => "parser.BouncedStatus",
                        Kind::Expired => "parser.ExpiredStatus",
                        _ => "?",
                    }
                    .to_owned(),
                ),
                "ResultRecipientLocalPartKey" => local(&to),
                "ResultRecipientDomainPartKey" => domain(&to),
                "QueueSenderLocalPartKey" => local(&m.from),
                "QueueSenderDomainPartKey" => domain(&m.from),
                "QueueMessageIDKey" => m.message_id.clone(),
                "ConnectionClientHostnameKey" => m.host.clone(),
                _ => continue,
            };
            asserts += 1;
            if got.as_deref() == Some(want) {
                asserts_right += 1;
            } else if show {
                println!("  lightmeter {file} #{idx} {key}: want {want:?}, got {got:?}");
            }
        }
    }
    println!(
        "lightmeter: result counts right in {counts_right}/{files} scenarios; {asserts_right}/{asserts} asserts right ({:.1}%)",
        pct(asserts_right, asserts)
    );
    figures.insert(
        "tracking",
        pct(counts_right + asserts_right, files + asserts),
    );
}

fn msimerson(dir: &Path, show: bool, figures: &mut BTreeMap<&'static str, f64>) {
    let rows = jsonl(&dir.join("msimerson-postfix-parser/postfix-parser-cases.jsonl"));
    if rows.is_empty() {
        println!("msimerson: not found — skipped");
        return;
    }
    let (mut cases, mut exact) = (0, 0);
    for r in &rows {
        let line = r["line"].as_str().unwrap_or("");
        let obj = &r["obj"];
        cases += 1;
        let name = r["name"].as_str().unwrap_or("");
        let full = Line::parse(line).filter(|l| l.program.is_some());
        let owned;
        let event = match &full {
            Some(l) => parse(l),
            None => {
                // A message body given with its program name only.
                owned = line.to_owned();
                let daemon = smtpdoctor_logs::postfix::guess_daemon(line);
                smtpdoctor_logs::postfix::parse(daemon, &owned)
            }
        };
        let ok = if obj.is_null() {
            event.as_ref().is_none_or(|e| e.kind == Some(Kind::Other))
        } else {
            let e = event.as_ref();
            let mut all = e.is_some();
            for (k, v) in obj.as_object().into_iter().flatten() {
                let want = v
                    .as_str()
                    .map(str::to_owned)
                    .unwrap_or_else(|| v.to_string());
                let got: Option<String> = match k.as_str() {
                    "qid" => e.and_then(|e| e.queue_id).map(str::to_owned),
                    "host" => match &full {
                        Some(l) => l.host.as_deref().map(str::to_owned),
                        None => e.and_then(|e| e.relay).map(str::to_owned),
                    },
                    "prog" => full
                        .as_ref()
                        .and_then(|l| l.program.as_deref().map(str::to_owned)),
                    "pid" => full.as_ref().and_then(|l| l.pid.map(|p| p.to_string())),
                    "to" => e.and_then(|e| e.to).map(str::to_owned),
                    "from" => e.and_then(|e| e.from).map(str::to_owned),
                    "relay" => e.and_then(|e| e.relay).map(str::to_owned),
                    "delay" => e.and_then(|e| e.delay).map(str::to_owned),
                    "delays" => e.and_then(|e| e.delays).map(str::to_owned),
                    "dsn" => e.and_then(|e| e.dsn).map(str::to_owned),
                    "orig_to" => e.and_then(|e| e.orig_to).map(str::to_owned),
                    "status" => e.and_then(|e| e.status).map(str::to_owned),
                    "size" => e.and_then(|e| e.size).map(|s| s.to_string()),
                    "nrcpt" => e.and_then(|e| e.nrcpt).map(|s| s.to_string()),
                    "message-id" => e.and_then(|e| e.message_id).map(str::to_owned),
                    "sasl_username" => e.and_then(|e| e.user).map(str::to_owned),
                    "sasl_method" => e.and_then(|e| e.method).map(str::to_owned),
                    _ => continue,
                };
                let want = match k.as_str() {
                    "status" if want == "forwarded" => "sent".to_owned(),
                    "status" => want.split(' ').next().unwrap_or("").to_owned(),
                    _ => want,
                };
                if got.as_deref() != Some(want.as_str()) {
                    all = false;
                    if show {
                        println!("  msimerson {name} {k}: want {want:?}, got {got:?}");
                    }
                }
            }
            all
        };
        if ok {
            exact += 1;
        }
    }
    println!(
        "msimerson: {exact}/{cases} lines give every field the parser's object has ({:.1}%)",
        pct(exact, cases)
    );
    figures.insert("msimerson", pct(exact, cases));
}

fn exim(dir: &Path, show: bool, figures: &mut BTreeMap<&'static str, f64>) {
    let tsv = dir.join("exim-testsuite/derived-events.tsv");
    let Ok(text) = std::fs::read_to_string(&tsv) else {
        println!("exim: not found — skipped");
        return;
    };
    let mut per: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for row in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.starts_with("file\t"))
    {
        let cols: Vec<&str> = row.splitn(5, '\t').collect();
        if cols.len() < 5 {
            continue;
        }
        let label = cols[3];
        // The derived file quotes lines holding a double quote, CSV style.
        let unquoted;
        let line = match cols[4].strip_prefix('"').and_then(|l| l.strip_suffix('"')) {
            Some(inner) => {
                unquoted = inner.replace("\"\"", "\"");
                unquoted.as_str()
            }
            None => cols[4],
        };
        let want = match label {
            "arrival" | "fakereject" => Kind::Received,
            "delivered" | "delivered_additional" | "suppressed_delivery" | "cutthrough" => {
                Kind::Delivered
            }
            "failed" => Kind::Bounced,
            "deferred" => Kind::Deferred,
            "completed" => Kind::Removed,
            "rejected" => Kind::Rejected,
            "tls_error" => Kind::TlsFailed,
            "auth_failed" => Kind::AuthFailed,
            "frozen" => Kind::Frozen,
            "protocol_error" => Kind::Protocol,
            _ => continue,
        };
        let mut ok = false;
        event_of(line, |e| ok = e.and_then(|e| e.kind) == Some(want));
        let slot = per.entry(label.to_owned()).or_default();
        slot.0 += 1;
        if ok {
            slot.1 += 1;
        } else if show && slot.0 - slot.1 <= 3 {
            println!("  exim {label}: {line}");
        }
    }
    // Every mainlog line goes through without a panic.
    let mut lines = 0;
    if let Ok(entries) = std::fs::read_dir(dir.join("exim-testsuite/log")) {
        for entry in entries.flatten() {
            if let Ok(t) = std::fs::read(entry.path()) {
                for l in String::from_utf8_lossy(&t).lines() {
                    lines += 1;
                    event_of(l, |_| {});
                }
            }
        }
    }
    let (n, ok) = per.values().fold((0, 0), |a, v| (a.0 + v.0, a.1 + v.1));
    println!(
        "exim: {}/{} derived events recognised ({:.1}%) over {lines} mainlog lines",
        ok,
        n,
        pct(ok, n)
    );
    let detail: Vec<String> = per
        .iter()
        .map(|(k, (n, ok))| format!("{k}={ok}/{n}"))
        .collect();
    println!("  {}", detail.join(" "));
    figures.insert("exim", pct(ok, n));
}

fn main() {
    let mut args = std::env::args().skip(1);
    let mut dir = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/corpora/logs"
    ));
    let mut show = false;
    let mut floors: BTreeMap<String, f64> = BTreeMap::new();
    while let Some(a) = args.next() {
        match a.as_str() {
            "--failures" => show = true,
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
    if !dir.join("README.md").exists() {
        println!(
            "log corpora: not found at {} — skipped (they ship in ../shared)",
            dir.display()
        );
        return;
    }
    let started = Instant::now();
    let mut figures = BTreeMap::new();
    fail2ban(&dir, show, &mut figures);
    grok(&dir, show, &mut figures);
    lightmeter(&dir, show, &mut figures);
    msimerson(&dir, show, &mut figures);
    exim(&dir, show, &mut figures);
    println!("({} ms)", started.elapsed().as_millis());
    let mut failed = false;
    for (k, floor) in &floors {
        let Some(v) = figures.get(k.as_str()) else {
            eprintln!(
                "unknown figure --min-{k} (known: {:?})",
                figures.keys().collect::<Vec<_>>()
            );
            std::process::exit(2);
        };
        if *v + 1e-9 < *floor {
            eprintln!("{k}: {v:.1}% is below the floor {floor}%");
            failed = true;
        }
    }
    if failed {
        std::process::exit(1);
    }
}
