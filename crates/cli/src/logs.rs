//! `smtpdoctor logs`: reads mail-server logs line by line (files in the order given, plain or
//! gzip, or standard input) and reports what the server saw: failures by client IP and login,
//! each message's life by queue id, and pflogsumm-like totals.
//!
//! Streaming: one line is held at a time; the tracker holds the open messages, the summary the
//! distinct IPs, logins and addresses (each table capped), and the JSON document at most
//! [`JSON_EVENTS`] events and messages. JSON lines are written as they are read.

use crate::UsageError;
use crate::args::{LogsArgs, LogsFormat};
use serde::Serialize;
use smtpdoctor_logs::clock::{self, Clock};
use smtpdoctor_logs::input::Source;
use smtpdoctor_logs::summary::{IpStats, Summary, UserStats, When, top_by};
use smtpdoctor_logs::track::{Message, Outcome, Tracker};
use smtpdoctor_logs::{Event, Kind, Level, Line, Reason};
use smtpdoctor_render::Palette;
use smtpdoctor_report::{
    Category, Confidence, ExitCode, Finding, Report, Retry, SCHEMA_VERSION, Severity, Status,
    Verdict,
};
use std::collections::{BTreeMap, HashMap};
use std::io::{BufWriter, Write};

/// Most events and messages kept for the JSON document (JSON lines has no limit).
pub const JSON_EVENTS: usize = 10_000;
/// Failures listed in the human output.
const HUMAN_EVENTS: usize = 20;

/// One event as written in JSON.
#[derive(Serialize)]
struct EventRecord<'a> {
    file: &'a str,
    line: u64,
    time: Option<String>,
    kind: &'static str,
    level: Level,
    server: smtpdoctor_logs::Server,
    daemon: &'a str,
    ip: Option<&'a str>,
    host: Option<&'a str>,
    user: Option<&'a str>,
    queue_id: Option<&'a str>,
    message_id: Option<&'a str>,
    from: Option<&'a str>,
    to: Option<&'a str>,
    status: Option<&'a str>,
    dsn: Option<&'a str>,
    relay: Option<&'a str>,
    delay: Option<&'a str>,
    stage: Option<&'a str>,
    reason: Option<&'static str>,
    reply: Option<&'a str>,
    category: Option<Category>,
    retry: Option<Retry>,
    fix: Option<&'a str>,
}

/// One message's life as written in JSON.
#[derive(Serialize)]
struct MessageRecord<'a> {
    file: &'a str,
    line: u64,
    time: Option<String>,
    end: Option<String>,
    kind: &'static str,
    ip: Option<&'a str>,
    host: Option<&'a str>,
    user: Option<&'a str>,
    queue_id: &'a str,
    message_id: Option<&'a str>,
    from: Option<&'a str>,
    size: Option<u64>,
    outcome: Outcome,
    recipients: Vec<&'a smtpdoctor_logs::track::Attempt>,
    attempts: u32,
    parent: Option<&'a str>,
    reused: bool,
    rejected: Option<&'a str>,
    category: Option<Category>,
    retry: Option<Retry>,
}

/// The command-specific part of the JSON document.
#[derive(Serialize, Default)]
struct LogsBody {
    files: Vec<String>,
    events: Vec<serde_json::Value>,
    messages: Vec<serde_json::Value>,
    truncated: bool,
    summary: Option<serde_json::Value>,
}

/// What the explain engine says of a text, cached by text (bounded).
#[derive(Default)]
struct Causes {
    /// Ask the explain engine (not in --summary, where the kind and reason decide).
    deep: bool,
    cache: HashMap<String, (Category, Retry, Option<String>)>,
    /// Failures per category.
    counts: BTreeMap<Category, u64>,
    /// A fix per category (the first seen).
    fixes: BTreeMap<Category, String>,
}

impl Causes {
    fn of(&mut self, e: &Event<'_>) -> Option<(Category, Retry, Option<String>)> {
        if e.level == Level::Info {
            return None;
        }
        let kind = e.kind?;
        let fallback = || -> Option<Category> {
            Some(match (kind, e.reason) {
                (Kind::AuthFailed, _) => Category::AuthFailed,
                (Kind::Protocol, _) | (_, Some(Reason::Protocol)) => Category::SyntaxProtocol,
                (Kind::RateLimited, _) | (_, Some(Reason::Greylist)) => {
                    Category::GreylistingOrRateLimit
                }
                (Kind::Blocked, _) | (_, Some(Reason::Rbl)) => Category::BlacklistedIp,
                (_, Some(Reason::Relay)) => Category::RelayDenied,
                (_, Some(Reason::UnknownUser)) => Category::RecipientUnknown,
                (_, Some(Reason::Sender)) => Category::SenderRejected,
                (_, Some(Reason::Spf)) => Category::SenderAuthFailure,
                (_, Some(Reason::Content)) => Category::ContentRejected,
                (_, Some(Reason::Size)) => Category::MessageTooLarge,
                (_, Some(Reason::Quota)) => Category::MailboxFull,
                (_, Some(Reason::Client | Reason::Helo)) => Category::SpamOrPolicyBlock,
                (Kind::DnsMismatch, _) => Category::Dns,
                (Kind::TlsFailed, _) => Category::TlsMismatch,
                (Kind::LostConnection | Kind::NoAuth, _) => return None,
                _ => Category::Other,
            })
        };
        let text = e.reply.unwrap_or("");
        let found = if text.is_empty() || !self.deep {
            None
        } else if let Some(c) = self.cache.get(text) {
            Some(c.clone())
        } else {
            let m = smtpdoctor_knowledge::explain(text);
            let v = (m.category, m.retry, m.fix.first().cloned());
            if self.cache.len() >= 4096 {
                self.cache.clear();
            }
            self.cache.insert(text.to_owned(), v.clone());
            Some(v)
        };
        let answer = match found {
            Some((Category::Other, _, _)) | None => {
                let c = fallback()?;
                let retry = if matches!(kind, Kind::Deferred)
                    || e.dsn.is_some_and(|d| d.starts_with('4'))
                {
                    Retry::Temporary
                } else {
                    Retry::Permanent
                };
                (c, retry, None)
            }
            Some(v) => v,
        };
        if e.level == Level::Failure {
            *self.counts.entry(answer.0).or_default() += 1;
            if let Some(f) = &answer.2 {
                self.fixes.entry(answer.0).or_insert_with(|| f.clone());
            }
        }
        Some(answer)
    }
}

/// The filters of the command line.
struct Filter {
    ip: Option<String>,
    user: Option<String>,
    from: Option<String>,
    to: Option<String>,
    queue_id: Option<String>,
    message_id: Option<String>,
    since: Option<jiff::Timestamp>,
    until: Option<jiff::Timestamp>,
}

fn contains_ci(hay: Option<&str>, needle: &str) -> bool {
    hay.is_some_and(|h| h.to_ascii_lowercase().contains(needle))
}

impl Filter {
    fn time_ok(&self, t: Option<jiff::Timestamp>) -> bool {
        match t {
            Some(t) => self.since.is_none_or(|s| t >= s) && self.until.is_none_or(|u| t <= u),
            None => self.since.is_none() && self.until.is_none(),
        }
    }

    fn event(&self, e: &Event<'_>, t: Option<jiff::Timestamp>) -> bool {
        self.time_ok(t)
            && self
                .ip
                .as_deref()
                .is_none_or(|ip| e.ip.is_some_and(|x| x.eq_ignore_ascii_case(ip)))
            && self
                .user
                .as_deref()
                .is_none_or(|u| e.user.is_some_and(|x| x.eq_ignore_ascii_case(u)))
            && self.from.as_deref().is_none_or(|f| contains_ci(e.from, f))
            && self
                .to
                .as_deref()
                .is_none_or(|f| contains_ci(e.to, f) || contains_ci(e.orig_to, f))
            && self
                .queue_id
                .as_deref()
                .is_none_or(|q| e.queue_id == Some(q))
            && self
                .message_id
                .as_deref()
                .is_none_or(|m| e.message_id == Some(m))
    }

    fn message(&self, m: &Message) -> bool {
        self.time_ok(m.first.or(m.last))
            && self
                .ip
                .as_deref()
                .is_none_or(|ip| m.ip.as_deref().is_some_and(|x| x.eq_ignore_ascii_case(ip)))
            && self
                .user
                .as_deref()
                .is_none_or(|u| m.user.as_deref().is_some_and(|x| x.eq_ignore_ascii_case(u)))
            && self
                .from
                .as_deref()
                .is_none_or(|f| contains_ci(m.from.as_deref(), f))
            && self
                .to
                .as_deref()
                .is_none_or(|f| m.attempts.iter().any(|a| contains_ci(Some(&a.to), f)))
            && self.queue_id.as_deref().is_none_or(|q| m.queue_id == q)
            && self
                .message_id
                .as_deref()
                .is_none_or(|id| m.message_id.as_deref() == Some(id))
    }
}

enum Sink {
    Human(Vec<String>),
    Json,
    Jsonl(BufWriter<std::io::StdoutLock<'static>>),
}

pub fn run(args: LogsArgs, _palette: Palette) -> Result<ExitCode, UsageError> {
    let started = std::time::Instant::now();
    let paths = crate::input_paths(args.paths.clone(), "the log files to read (in time order)")?;
    let tz = match &args.tz {
        Some(z) => clock::zone(z).map_err(UsageError)?,
        None => jiff::tz::TimeZone::system(),
    };
    let (mut since, mut until) = (None, None);
    if let Some(s) = &args.since {
        since = Some(clock::parse_time(s, &tz).map_err(|e| UsageError(format!("--since: {e}")))?);
    }
    if let Some(s) = &args.until {
        until = Some(clock::parse_time(s, &tz).map_err(|e| UsageError(format!("--until: {e}")))?);
    }
    if let Some(a) = &args.around {
        let t = clock::parse_time(a, &tz).map_err(|e| UsageError(format!("--around: {e}")))?;
        let w = clock::parse_duration(&args.window)
            .map_err(|e| UsageError(format!("--window: {e}")))?;
        since = Some(t - jiff::SignedDuration::from_secs(w));
        until = Some(t + jiff::SignedDuration::from_secs(w));
    }
    let filter = Filter {
        ip: args.ip.clone(),
        user: args.user.clone(),
        from: args.from.as_deref().map(str::to_ascii_lowercase),
        to: args.to.as_deref().map(str::to_ascii_lowercase),
        queue_id: args.queue_id.clone(),
        message_id: args
            .message_id
            .as_deref()
            .map(|m| m.trim_matches(['<', '>']).to_owned()),
        since,
        until,
    };
    let filtered = filter.ip.is_some()
        || filter.user.is_some()
        || filter.from.is_some()
        || filter.to.is_some()
        || filter.queue_id.is_some()
        || filter.message_id.is_some();
    let mut sink = match args.format {
        LogsFormat::Human => Sink::Human(Vec::new()),
        LogsFormat::Json => Sink::Json,
        LogsFormat::Jsonl => {
            Sink::Jsonl(BufWriter::with_capacity(1 << 16, std::io::stdout().lock()))
        }
    };
    let detail = !args.summary;
    let mut body = LogsBody::default();
    let mut clock = Clock::new(tz, args.year);
    let mut tracker = Tracker::new();
    // Totals with no filter show nothing of a message but its outcome.
    tracker.lean = !detail && !filtered;
    let mut summary = Summary::default();
    let mut causes = Causes {
        deep: !args.summary,
        ..Causes::default()
    };
    let mut unreadable = Vec::new();
    let mut write_error: Option<std::io::Error> = None;
    let names: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
    let mut closed: Vec<Message> = Vec::new();
    // The day and hour of the last second seen (lines come many to a second).
    let mut when_cache: Option<(i64, When)> = None;
    for (index, path) in paths.iter().enumerate() {
        let mut src = match Source::open(path) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("smtpdoctor: error: {}: {e}", path.display());
                unreadable.push(path.display().to_string());
                continue;
            }
        };
        clock.start_file(src.modified);
        let file = names[index].as_str();
        loop {
            let (number, bytes) = match src.next_bytes() {
                Ok(Some(l)) => l,
                Ok(None) => break,
                Err(e) => {
                    eprintln!("smtpdoctor: error: {file}: {e}");
                    unreadable.push(file.to_owned());
                    break;
                }
            };
            summary.lines += 1;
            let text = match std::str::from_utf8(bytes) {
                Ok(t) => std::borrow::Cow::Borrowed(t),
                Err(_) => String::from_utf8_lossy(bytes),
            };
            // Both borrowed, not moved out of their Options (copies of a few hundred bytes).
            let envelope = Line::parse(&text);
            let Some(line) = envelope.as_ref() else {
                continue;
            };
            let mut parsed = None;
            smtpdoctor_logs::parse_into(line, &mut parsed);
            let Some(event) = parsed.as_ref() else {
                continue;
            };
            let time = clock.resolve(line.stamp);
            let at = (index, number);
            tracker.feed(event, at, time, &mut |m| closed.push(m));
            if filter.event(event, time) {
                let when = time.map(|t| {
                    let sec = t.as_second();
                    match when_cache {
                        Some((s, w)) if s == sec => w,
                        _ => {
                            let z = t.to_zoned(clock.zone().clone());
                            let w = When {
                                day: z.date(),
                                hour: z.hour() as u8,
                            };
                            when_cache = Some((sec, w));
                            w
                        }
                    }
                });
                summary.add(event, when);
                let listed = detail && (args.all || !event.kind.is_some_and(Kind::is_routine));
                if listed || event.level == Level::Failure {
                    let cause = causes.of(event);
                    if listed {
                        let rec = event_record(event, file, at.1, time, &clock, cause.as_ref());
                        emit(&mut sink, &mut body, &rec, event, &mut write_error);
                    }
                }
            }
            for m in closed.drain(..) {
                message_out(
                    &m,
                    &names,
                    &filter,
                    &clock,
                    &mut summary,
                    &mut causes,
                    &mut sink,
                    &mut body,
                    detail,
                    filtered,
                    &mut write_error,
                );
            }
            if write_error.is_some() {
                break;
            }
        }
        if write_error.is_some() {
            break;
        }
    }
    tracker.finish(&mut |m| closed.push(m));
    for m in closed.drain(..) {
        message_out(
            &m,
            &names,
            &filter,
            &clock,
            &mut summary,
            &mut causes,
            &mut sink,
            &mut body,
            detail,
            filtered,
            &mut write_error,
        );
    }
    if let Some(e) = write_error {
        return Ok(write_failed(e));
    }
    if unreadable.len() == paths.len() {
        return Ok(ExitCode::Usage);
    }
    let (verdict, findings) = judge(&summary, &causes);
    let code = if !unreadable.is_empty() {
        ExitCode::Usage
    } else {
        ExitCode::for_verdict(verdict.status, verdict.category)
    };
    let summary_json = summary_value(&summary);
    let written = match sink {
        Sink::Jsonl(mut out) => {
            let r = out.flush();
            eprint!("{}", human_summary(&summary, &verdict, &[], filtered));
            r
        }
        Sink::Human(lines) => {
            let mut out = std::io::stdout().lock();
            out.write_all(human_summary(&summary, &verdict, &lines, filtered).as_bytes())
        }
        Sink::Json => {
            body.files = names.clone();
            body.summary = Some(summary_json);
            let report = Report {
                schema_version: SCHEMA_VERSION,
                command: "logs".into(),
                tool_version: env!("CARGO_PKG_VERSION").into(),
                knowledge_version: crate::KNOWLEDGE.into(),
                target: serde_json::json!({ "paths": names }),
                started_at: crate::explain::now_rfc3339(),
                duration_ms: started.elapsed().as_millis() as u64,
                verdict,
                findings,
                body,
            };
            let mut out = BufWriter::new(std::io::stdout().lock());
            serde_json::to_writer_pretty(&mut out, &report)
                .map_err(std::io::Error::other)
                .and_then(|_| out.write_all(b"\n"))
                .and_then(|_| out.flush())
        }
    };
    if let Err(e) = written {
        return Ok(write_failed(e));
    }
    Ok(code)
}

fn event_record<'a>(
    e: &'a Event<'a>,
    file: &'a str,
    line: u64,
    time: Option<jiff::Timestamp>,
    clock: &Clock,
    cause: Option<&'a (Category, Retry, Option<String>)>,
) -> EventRecord<'a> {
    EventRecord {
        file,
        line,
        time: time.map(|t| clock.format(t)),
        kind: e.kind.map_or("other", Kind::as_str),
        level: e.level,
        server: e.server,
        daemon: e.daemon,
        ip: e.ip,
        host: e.host,
        user: e.user,
        queue_id: e.queue_id,
        message_id: e.message_id,
        from: e.from,
        to: e.to,
        status: e.status,
        dsn: e.dsn,
        relay: e.relay,
        delay: e.delay,
        stage: e.stage,
        reason: e.reason.map(Reason::as_str),
        reply: e.reply,
        category: cause.map(|c| c.0),
        retry: cause.map(|c| c.1),
        fix: cause.and_then(|c| c.2.as_deref()),
    }
}

fn emit(
    sink: &mut Sink,
    body: &mut LogsBody,
    rec: &impl Serialize,
    e: &Event<'_>,
    err: &mut Option<std::io::Error>,
) {
    match sink {
        Sink::Jsonl(out) => {
            let r = serde_json::to_writer(&mut *out, rec)
                .map_err(std::io::Error::other)
                .and_then(|_| out.write_all(b"\n"));
            if let Err(x) = r {
                *err = Some(x);
            }
        }
        Sink::Json => {
            if body.events.len() + body.messages.len() < JSON_EVENTS {
                if let Ok(v) = serde_json::to_value(rec) {
                    body.events.push(v);
                }
            } else {
                body.truncated = true;
            }
        }
        Sink::Human(lines) => {
            if e.level == Level::Failure
                && lines.len() < HUMAN_EVENTS
                && let Ok(v) = serde_json::to_value(rec)
            {
                let s = |k: &str| v[k].as_str().unwrap_or("").to_owned();
                lines.push(format!(
                    "  {} {:<14} {:<15} {:<20} {}",
                    s("time"),
                    s("kind"),
                    s("ip"),
                    s("user"),
                    s("reply").chars().take(90).collect::<String>()
                ));
            }
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn message_out(
    m: &Message,
    names: &[String],
    filter: &Filter,
    clock: &Clock,
    summary: &mut Summary,
    causes: &mut Causes,
    sink: &mut Sink,
    body: &mut LogsBody,
    detail: bool,
    filtered: bool,
    err: &mut Option<std::io::Error>,
) {
    if !filter.message(m) {
        return;
    }
    summary.message(m);
    if !detail || matches!(sink, Sink::Human(_)) && !filtered {
        return;
    }
    let finals = m.final_attempts();
    let failed = finals.iter().rev().find(|a| a.status != Kind::Delivered);
    let cause = failed.and_then(|a| a.reply.as_deref()).map(|t| {
        let meaning = smtpdoctor_knowledge::explain(t);
        (meaning.category, meaning.retry)
    });
    let _ = causes;
    let rec = MessageRecord {
        file: names.get(m.at.0).map_or("", String::as_str),
        line: m.at.1,
        time: m.first.map(|t| clock.format(t)),
        end: m.last.map(|t| clock.format(t)),
        kind: "message",
        ip: m.ip.as_deref(),
        host: m.host.as_deref(),
        user: m.user.as_deref(),
        queue_id: &m.queue_id,
        message_id: m.message_id.as_deref(),
        from: m.from.as_deref(),
        size: m.size,
        outcome: m.outcome,
        recipients: finals,
        attempts: m.attempt_count,
        parent: m.parent.as_deref(),
        reused: m.reused,
        rejected: m.rejected.as_deref(),
        category: cause.map(|c| c.0),
        retry: cause.map(|c| c.1),
    };
    match sink {
        Sink::Jsonl(out) => {
            let r = serde_json::to_writer(&mut *out, &rec)
                .map_err(std::io::Error::other)
                .and_then(|_| out.write_all(b"\n"));
            if let Err(x) = r {
                *err = Some(x);
            }
        }
        Sink::Json => {
            if body.events.len() + body.messages.len() < JSON_EVENTS {
                if let Ok(v) = serde_json::to_value(&rec) {
                    body.messages.push(v);
                }
            } else {
                body.truncated = true;
            }
        }
        Sink::Human(lines) => {
            if lines.len() < HUMAN_EVENTS * 2 {
                let to: Vec<String> = rec
                    .recipients
                    .iter()
                    .map(|a| format!("{} {}", a.to, a.status.as_str()))
                    .collect();
                lines.push(format!(
                    "  message {} {} from <{}> from {} → {} [{}]",
                    m.queue_id,
                    rec.time.as_deref().unwrap_or(""),
                    m.from.as_deref().unwrap_or(""),
                    m.ip.as_deref().unwrap_or("?"),
                    to.join(", "),
                    m.outcome.as_str()
                ));
            }
        }
    }
}

fn summary_value(s: &Summary) -> serde_json::Value {
    let top = |c: &smtpdoctor_logs::summary::Counts| -> Vec<serde_json::Value> {
        c.top(20)
            .into_iter()
            .map(|(k, n)| serde_json::json!({"address": k, "count": n}))
            .collect()
    };
    let ips = top_by(s.ips.iter().collect(), 100, ip_order);
    let users = top_by(s.users.iter().collect(), 100, user_order);
    serde_json::json!({
        "lines": s.lines,
        "recognised": s.recognised,
        "received": s.received,
        "delivered": s.delivered,
        "forwarded": s.forwarded,
        "deferred": s.deferred,
        "deferrals": s.deferrals,
        "bounced": s.bounced,
        "expired": s.expired,
        "rejected": s.rejected,
        "reject_warnings": s.reject_warnings,
        "discarded": s.discarded,
        "auth_failed": s.auth_failed,
        "tls_failed": s.tls_failed,
        "lost_connections": s.lost_connections,
        "protocol": s.protocol,
        "bytes_received": s.bytes_received,
        "bytes_delivered": s.bytes_delivered,
        "warnings": s.warnings,
        "fatal": s.fatal,
        "per_day": s.per_day.iter().map(|(d, v)| serde_json::json!({"date": d.to_string(), "received": v[0], "delivered": v[1], "deferred": v[2], "bounced": v[3], "rejected": v[4]})).collect::<Vec<_>>(),
        "delays": s.delays,
        "recipient_domains": top_by(s.recipient_domains.iter().collect(), 20, |a, b| b.1.delivered.cmp(&a.1.delivered).then(b.1.deferrals.cmp(&a.1.deferrals)).then(a.0.cmp(b.0))).into_iter().map(|(d, st)| { let mut v = serde_json::to_value(st).unwrap_or_default(); v["domain"] = serde_json::json!(d); v }).collect::<Vec<_>>(),
        "distinct_recipient_domains": s.recipient_domains.len(),
        "sender_domains": top_by(s.sender_domains.iter().collect(), 20, |a, b| b.1.messages.cmp(&a.1.messages).then(a.0.cmp(b.0))).into_iter().map(|(d, st)| { let mut v = serde_json::to_value(st).unwrap_or_default(); v["domain"] = serde_json::json!(d); v }).collect::<Vec<_>>(),
        "distinct_sender_domains": s.sender_domains.len(),
        "per_hour": s.per_hour.iter().enumerate().map(|(h, v)| serde_json::json!({"hour": h, "received": v[0], "delivered": v[1], "deferred": v[2], "bounced": v[3], "rejected": v[4]})).collect::<Vec<_>>(),
        "reject_reasons": s.reject_reasons,
        "outcomes": s.outcome_counts(),
        "top_senders": top(&s.senders),
        "top_recipients": top(&s.recipients),
        "ips": ips.iter().map(|(ip, st)| { let mut v = serde_json::to_value(st).unwrap_or_default(); v["ip"] = serde_json::json!(ip); v }).collect::<Vec<_>>(),
        "users": users.iter().map(|(u, st)| { let mut v = serde_json::to_value(st).unwrap_or_default(); v["user"] = serde_json::json!(u); v }).collect::<Vec<_>>(),
        "distinct_ips": s.ips.len() as u64 + s.other_ips,
        "distinct_users": s.users.len() as u64 + s.other_users,
    })
}

/// Client IPs by failures, then suspicious events, then address.
fn ip_order(a: &(&str, &IpStats), b: &(&str, &IpStats)) -> std::cmp::Ordering {
    b.1.failures
        .cmp(&a.1.failures)
        .then(b.1.suspicious.cmp(&a.1.suspicious))
        .then(a.0.cmp(b.0))
}

/// Logins by failed logins, then messages sent, then name.
fn user_order(a: &(&str, &UserStats), b: &(&str, &UserStats)) -> std::cmp::Ordering {
    b.1.auth_failed
        .cmp(&a.1.auth_failed)
        .then(b.1.received.cmp(&a.1.received))
        .then(a.0.cmp(b.0))
}

fn judge(s: &Summary, causes: &Causes) -> (Verdict, Vec<Finding>) {
    let mut findings = Vec::new();
    let mut add = |id: &str, n: u64, what: &str, category: Option<Category>, severity: Severity| {
        let retry = if matches!(id, "logs.deferred" | "logs.lost_connections") {
            Retry::Temporary
        } else {
            Retry::Permanent
        };
        if n > 0 {
            findings.push(Finding {
                id: id.into(),
                category,
                severity,
                summary: format!("{n} {what}"),
                detail: format!("{n} {what} in {} lines read.", s.lines),
                fix: category
                    .and_then(|c| causes.fixes.get(&c).cloned())
                    .into_iter()
                    .collect(),
                evidence: Vec::new(),
                retry: Some(retry),
                confidence: Confidence::High,
                alternatives: Vec::new(),
            });
        }
    };
    add(
        "logs.auth_failed",
        s.auth_failed,
        "failed logins",
        Some(Category::AuthFailed),
        Severity::Problem,
    );
    add(
        "logs.rejected",
        s.rejected,
        "refusals",
        Some(Category::Other),
        Severity::Problem,
    );
    add(
        "logs.bounced",
        s.bounced,
        "bounced recipients",
        Some(Category::Other),
        Severity::Problem,
    );
    add(
        "logs.expired",
        s.expired,
        "expired messages",
        Some(Category::Other),
        Severity::Problem,
    );
    add(
        "logs.deferred",
        s.deferred,
        "deferred messages",
        Some(Category::Other),
        Severity::Warning,
    );
    add(
        "logs.tls_failed",
        s.tls_failed,
        "TLS failures",
        Some(Category::TlsMismatch),
        Severity::Warning,
    );
    add(
        "logs.lost_connections",
        s.lost_connections,
        "lost connections",
        Some(Category::Other),
        Severity::Info,
    );
    add(
        "logs.protocol",
        s.protocol,
        "protocol violations",
        Some(Category::SyntaxProtocol),
        Severity::Warning,
    );
    let top = causes
        .counts
        .iter()
        .max_by_key(|(c, n)| (**n, std::cmp::Reverse(**c)));
    let verdict = match top {
        Some((&category, &n)) => {
            let alternatives: Vec<Category> = causes
                .counts
                .keys()
                .copied()
                .filter(|c| *c != category)
                .take(3)
                .collect();
            Verdict {
                status: Status::Problem,
                category: Some(category),
                retry: Some(if category == Category::GreylistingOrRateLimit {
                    Retry::Temporary
                } else {
                    Retry::Permanent
                }),
                confidence: if alternatives.is_empty() {
                    Confidence::High
                } else {
                    Confidence::Medium
                },
                alternatives,
                summary: format!(
                    "{n} failures are {}, the most common cause in these logs",
                    category.name()
                ),
                fix: causes.fixes.get(&category).cloned().into_iter().collect(),
                evidence: Vec::new(),
            }
        }
        None => Verdict {
            status: Status::Ok,
            category: None,
            retry: None,
            confidence: Confidence::High,
            alternatives: Vec::new(),
            summary: "no failures in these logs".into(),
            fix: Vec::new(),
            evidence: Vec::new(),
        },
    };
    (verdict, findings)
}

fn human_summary(s: &Summary, verdict: &Verdict, lines: &[String], filtered: bool) -> String {
    let mut o = String::new();
    use std::fmt::Write as _;
    let _ = writeln!(
        o,
        "Grand totals ({} lines, {} recognised)",
        s.lines, s.recognised
    );
    for (n, what) in [
        (s.received, "received"),
        (s.delivered, "delivered"),
        (s.forwarded, "forwarded"),
        (s.deferred, "deferred"),
        (s.deferrals, "deferrals"),
        (s.bounced, "bounced"),
        (s.expired, "expired"),
        (s.rejected, "rejected"),
        (s.reject_warnings, "reject warnings"),
        (s.discarded, "discarded or held"),
        (s.auth_failed, "failed logins"),
        (s.tls_failed, "TLS failures"),
        (s.lost_connections, "lost connections"),
        (s.protocol, "protocol violations"),
        (s.warnings, "warnings"),
        (s.fatal, "fatal errors and panics"),
    ] {
        let _ = writeln!(o, "  {n:>10}  {what}");
    }
    let _ = writeln!(
        o,
        "  {:>10}  bytes received\n  {:>10}  bytes delivered",
        s.bytes_received, s.bytes_delivered
    );
    if s.per_day.len() > 1 {
        let _ = writeln!(
            o,
            "\nPer day (received, delivered, deferred, bounced, rejected)"
        );
        for (d, v) in &s.per_day {
            let _ = writeln!(
                o,
                "  {d}  {:>9} {:>9} {:>9} {:>9} {:>9}",
                v[0], v[1], v[2], v[3], v[4]
            );
        }
    }
    if s.delays.count > 0 {
        let q = |p| seconds(s.delays.quantile(p).unwrap_or(0));
        let _ = writeln!(
            o,
            "\nDelivery delays: median {}, 90% {}, 99% {}, longest {} ({} delivered)",
            q(0.5),
            q(0.9),
            q(0.99),
            seconds(s.delays.max_ms),
            s.delays.count
        );
    }
    if s.recipient_domains.len() > 1 {
        let _ = writeln!(
            o,
            "\nRecipient domains (delivered, deferrals, bounced, average and longest delay)"
        );
        let top = top_by(s.recipient_domains.iter().collect(), 5, |a, b| {
            b.1.delivered
                .cmp(&a.1.delivered)
                .then(b.1.deferrals.cmp(&a.1.deferrals))
                .then(a.0.cmp(b.0))
        });
        for (d, v) in top {
            let avg = v.delay_total_ms.checked_div(v.delivered).unwrap_or(0);
            let _ = writeln!(
                o,
                "  {:>10} {:>6} {:>6} {:>9} {:>9}  {d}",
                v.delivered,
                v.deferrals,
                v.bounced,
                seconds(avg),
                seconds(v.delay_max_ms)
            );
        }
    }
    if s.sender_domains.len() > 1 {
        let _ = writeln!(o, "\nSender domains (messages, bytes)");
        let top = top_by(s.sender_domains.iter().collect(), 5, |a, b| {
            b.1.messages.cmp(&a.1.messages).then(a.0.cmp(b.0))
        });
        for (d, v) in top {
            let _ = writeln!(o, "  {:>10} {:>12}  {d}", v.messages, v.bytes);
        }
    }
    if !s.reject_reasons.is_empty() {
        let _ = writeln!(o, "\nRefusals by reason");
        for (r, n) in &s.reject_reasons {
            let _ = writeln!(o, "  {n:>10}  {r}");
        }
    }
    let outcomes = s.outcome_counts();
    if !outcomes.is_empty() {
        let _ = writeln!(o, "\nMessages by outcome");
        for (r, n) in &outcomes {
            let _ = writeln!(o, "  {n:>10}  {r}");
        }
    }
    let ips = top_by(
        s.ips
            .iter()
            .filter(|(_, v)| v.failures + v.suspicious > 0)
            .collect(),
        15,
        ip_order,
    );
    if !ips.is_empty() {
        let _ = writeln!(
            o,
            "\nClient IPs with failures (failures, suspicious, refusals, failed logins, users)"
        );
        for (ip, v) in &ips {
            let _ = writeln!(
                o,
                "  {ip:<40} {:>6} {:>6} {:>6} {:>6}  {}",
                v.failures,
                v.suspicious,
                v.rejected,
                v.auth_failed,
                v.users.join(",")
            );
        }
    }
    let users = top_by(s.users.iter().collect(), 15, user_order);
    if !users.is_empty() {
        let _ = writeln!(o, "\nLogins (failed logins, messages sent, logins, IPs)");
        for (u, v) in &users {
            let _ = writeln!(
                o,
                "  {u:<40} {:>6} {:>6} {:>6}  {}",
                v.auth_failed,
                v.received,
                v.logins,
                v.ips.join(",")
            );
        }
    }
    if s.senders.len() > 1 || s.recipients.len() > 1 {
        let _ = writeln!(o, "\nTop senders");
        for (a, n) in s.senders.top(5) {
            let _ = writeln!(o, "  {n:>10}  {a}");
        }
        let _ = writeln!(o, "\nTop recipients");
        for (a, n) in s.recipients.top(5) {
            let _ = writeln!(o, "  {n:>10}  {a}");
        }
    }
    if !lines.is_empty() {
        let _ = writeln!(
            o,
            "\n{}",
            if filtered {
                "Events and messages"
            } else {
                "First failures"
            }
        );
        for l in lines {
            let _ = writeln!(o, "{l}");
        }
    }
    let _ = writeln!(
        o,
        "\n{}: {}",
        match verdict.status {
            Status::Ok => "ok",
            Status::Problem => "problem",
            Status::Inconclusive => "inconclusive",
        },
        verdict.summary
    );
    for f in &verdict.fix {
        let _ = writeln!(o, "  fix: {f}");
    }
    o
}

/// Milliseconds as seconds for people (`0.5s`, `12s`, `3m20s`, `2h05m`).
fn seconds(ms: u64) -> String {
    let s = ms / 1000;
    if s < 60 {
        let tenths = ms / 100;
        if tenths.is_multiple_of(10) || s >= 10 {
            format!("{s}s")
        } else {
            format!("{}.{}s", tenths / 10, tenths % 10)
        }
    } else if s < 3600 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{}h{:02}m", s / 3600, s / 60 % 60)
    }
}

fn write_failed(e: std::io::Error) -> ExitCode {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        ExitCode::Ok
    } else {
        eprintln!("smtpdoctor: error: cannot write the output: {e}");
        ExitCode::Internal
    }
}
