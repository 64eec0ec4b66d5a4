//! `bounce` output: a table and details for people, and the JSON document written as records
//! arrive (so a mailbox of any size never has to be held), plus one line per record for JSON
//! lines.

use crate::Palette;
use crate::human::{clip, verdict_head};
use serde::Serialize;
use smtpdoctor_report::bounce::{BounceBody, BounceKind, BounceRecord, KINDS, PrintedRecord};
use smtpdoctor_report::{Report, Severity};
use std::fmt::Write as _;
use std::io::{self, Write};

/// Most rows of the human table; the counts still cover every record.
pub const TABLE_ROWS: usize = 200;
/// Most records shown with their details in human output.
pub const DETAILED: usize = 20;

/// Renders a bounce report for a terminal. `report.body.records` holds the first records (at
/// most [`TABLE_ROWS`] are shown); the summary counts all of them.
pub fn human(report: &Report<BounceBody>, p: Palette) -> String {
    crate::terminal_safe(&human_text(report, p), p)
}

fn human_text(report: &Report<BounceBody>, p: Palette) -> String {
    let mut out = String::new();
    let b = &report.body;
    let paths: Vec<String> = report.target["paths"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let _ = writeln!(out, "{} {}", p.bold("smtpdoctor bounce"), paths.join(" "));
    let shown: Vec<&BounceRecord> = b.records.iter().take(TABLE_ROWS).collect();
    if !shown.is_empty() {
        table(&mut out, &shown, p);
        if b.summary.records > shown.len() {
            let _ = writeln!(
                out,
                "  {}",
                p.dim(&format!(
                    "… {} more records (--format jsonl lists every one)",
                    b.summary.records - shown.len()
                ))
            );
        }
        for (i, r) in shown.iter().take(DETAILED).enumerate() {
            out.push('\n');
            details(&mut out, i + 1, r, b.truncated.contains(&r.file), p);
        }
        if shown.len() > DETAILED {
            let _ = writeln!(
                out,
                "\n  {}",
                p.dim(&format!(
                    "Details of the first {DETAILED} records only; --format jsonl or json gives every field of every record."
                ))
            );
        }
    }
    out.push('\n');
    let v = &report.verdict;
    let words = if v.category.is_none() {
        ["NO FAILURE", "NOT A BOUNCE", "INCONCLUSIVE"]
    } else {
        ["NO FAILURE", "PROBLEM", "INCONCLUSIVE"]
    };
    verdict_head(&mut out, v, words, &v.summary, p);
    if !v.fix.is_empty() {
        let _ = writeln!(out, "  Fix:");
        for (i, fix) in v.fix.iter().enumerate() {
            let _ = writeln!(out, "    {}. {fix}", i + 1);
        }
    }
    out.push('\n');
    for line in summary_lines(b) {
        let _ = writeln!(out, "  {line}");
    }
    let mut findings = report.findings.iter().peekable();
    if findings.peek().is_some() {
        out.push('\n');
    }
    for f in findings {
        let mark = p.severity_mark(f.severity);
        let _ = writeln!(
            out,
            "  {mark} {} {}",
            f.summary,
            p.dim(&format!("({})", f.id))
        );
        // Each cause's own fix: the details above show only the first records.
        if f.severity != Severity::Info
            && f.category.is_some()
            && let Some(fix) = f.fix.first()
        {
            let _ = writeln!(out, "      fix: {fix}");
        }
    }
    out
}

/// The counts in words: messages and records by kind, then by reason and by category.
pub fn summary_lines(b: &BounceBody) -> Vec<String> {
    let s = &b.summary;
    let kinds: Vec<String> = KINDS
        .iter()
        .filter(|k| s.by_kind.get(**k) > 0)
        .map(|k| format!("{} {}", k.as_str(), s.by_kind.get(*k)))
        .collect();
    let mut lines = vec![format!(
        "{} {}, {} {}{}",
        b.messages,
        if b.messages == 1 {
            "message"
        } else {
            "messages"
        },
        s.records,
        if s.records == 1 { "record" } else { "records" },
        if kinds.is_empty() {
            String::new()
        } else {
            format!(": {}", kinds.join(", "))
        }
    )];
    let by = |counts: Vec<(String, usize)>| {
        let mut counts = counts;
        counts.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        counts
            .iter()
            .map(|(k, n)| format!("{k} {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    if !s.by_reason.is_empty() {
        lines.push(format!(
            "by reason: {}",
            by(s.by_reason.iter().map(|(k, n)| (k.clone(), *n)).collect())
        ));
    }
    if !s.by_category.is_empty() {
        lines.push(format!(
            "by category: {}",
            by(s.by_category
                .iter()
                .map(|(k, n)| (k.to_string(), *n))
                .collect())
        ));
    }
    lines
}

fn table(out: &mut String, rows: &[&BounceRecord], p: Palette) {
    let recipient = |r: &BounceRecord| clip(r.recipient.as_deref().unwrap_or("-"), 40);
    let status = |r: &BounceRecord| r.status.clone().unwrap_or_else(|| "-".into());
    let code = |r: &BounceRecord| r.reply_code.map_or("-".into(), |c| c.to_string());
    let category = |r: &BounceRecord| r.category.map_or("-".into(), |c| c.to_string());
    let width = |f: &dyn Fn(&BounceRecord) -> String, head: &str| {
        rows.iter()
            .map(|r| f(r).chars().count())
            .chain([head.len()])
            .max()
            .unwrap_or(0)
    };
    let wn = rows.len().to_string().len().max(1);
    let wr = width(&recipient, "recipient");
    let wk = width(&|r| r.kind.as_str().to_string(), "kind");
    let ws = width(&status, "status");
    let wc = width(&code, "code");
    let wre = width(&|r| r.reason.clone(), "reason");
    let head = format!(
        "{:>wn$}  {:<wr$}  {:<wk$}  {:<ws$}  {:<wc$}  {:<wre$}  category",
        "#", "recipient", "kind", "status", "code", "reason"
    );
    let _ = writeln!(out, "  {}", p.dim(&head));
    for (i, r) in rows.iter().enumerate() {
        let kind = format!("{:<wk$}", r.kind.as_str());
        let kind = match r.kind {
            BounceKind::Bounce => p.bad(&kind),
            BounceKind::Delay => p.warn(&kind),
            BounceKind::Success => p.good(&kind),
            _ => p.dim(&kind),
        };
        let line = format!(
            "{:>wn$}  {:<wr$}  {kind}  {:<ws$}  {:<wc$}  {:<wre$}  {}",
            i + 1,
            recipient(r),
            status(r),
            code(r),
            r.reason,
            category(r)
        );
        let _ = writeln!(out, "  {}", line.trim_end());
    }
}

fn details(out: &mut String, n: usize, r: &BounceRecord, truncated: bool, p: Palette) {
    let who = r.recipient.as_deref().unwrap_or("(no recipient)");
    let _ = writeln!(
        out,
        "  {} {who} · {} · {}",
        p.bold(&format!("#{n}")),
        r.kind.as_str(),
        p.dim(&r.file)
    );
    let mut field = |name: &str, value: Option<String>| {
        if let Some(v) = value.filter(|v| !v.trim().is_empty()) {
            let _ = writeln!(out, "     {:<13} {}", name, clip(&v, 400));
        }
    };
    field(
        if r.kind == BounceKind::Autoreply {
            "subject"
        } else {
            "diagnostic"
        },
        r.diagnostic.clone(),
    );
    field("action", r.action.clone());
    field("command", r.command.clone());
    field("feedback type", r.feedback_type.clone());
    field("remote MTA", r.remote_mta.clone());
    field("reporting MTA", r.reporting_mta.clone());
    field("arrived", r.arrival_date.clone());
    field("last attempt", r.last_attempt_date.clone());
    let o = &r.original;
    field(
        "original",
        o.subject.as_ref().map(|s| format!("\"{s}\"")).or_else(|| {
            (o.message_id.is_some() || o.from.is_some()).then(|| "(no subject)".to_string())
        }),
    );
    field(
        "  message-id",
        o.message_id.as_ref().map(|m| format!("<{m}>")),
    );
    field("  from", o.from.clone());
    field("  to", o.to.clone());
    field(
        "retry",
        r.retry.map(|t| {
            match t {
                smtpdoctor_report::Retry::Temporary => "temporary (may work later unchanged)",
                smtpdoctor_report::Retry::Permanent => "permanent (something must change first)",
            }
            .to_string()
        }),
    );
    field("fix", r.fix.clone());
    field(
        "read by",
        Some(r.detector.clone()).filter(|d| d.as_str() != "none"),
    );
    if truncated {
        field(
            "note",
            Some("the message was over 4 MiB: only its start was read".into()),
        );
    }
}

/// The summary of a `--format jsonl` run, for stderr: the counts, the verdict, and the warnings
/// a reader of the lines would otherwise miss (paths that could not be read are said on stderr
/// as they happen, so not again here).
pub fn brief(report: &Report<BounceBody>) -> String {
    crate::terminal_safe(&brief_text(report), crate::Palette::PLAIN)
}

fn brief_text(report: &Report<BounceBody>) -> String {
    let mut out = String::new();
    let mut lines = summary_lines(&report.body).into_iter();
    if let Some(first) = lines.next() {
        let _ = writeln!(out, "smtpdoctor bounce: {first}");
    }
    for line in lines {
        let _ = writeln!(out, "  {line}");
    }
    let v = &report.verdict;
    let category = v.category.map(|c| format!(" [{c}]")).unwrap_or_default();
    let _ = writeln!(
        out,
        "  verdict: {}{category} {}",
        match v.status {
            smtpdoctor_report::Status::Ok => "ok",
            smtpdoctor_report::Status::Problem => "problem",
            smtpdoctor_report::Status::Inconclusive => "inconclusive",
        },
        v.summary
    );
    if !report.body.truncated.is_empty() {
        let _ = writeln!(
            out,
            "  {} over 4 MiB: only their start was read (records with \"truncated\": true)",
            if report.body.truncated.len() == 1 {
                "1 message was".to_string()
            } else {
                format!("{} messages were", report.body.truncated.len())
            }
        );
    }
    out
}

/// Writes one record as one JSON line.
pub fn json_line<W: Write>(out: &mut W, record: &BounceRecord, truncated: bool) -> io::Result<()> {
    serde_json::to_writer(&mut *out, &PrintedRecord { record, truncated })?;
    out.write_all(b"\n")
}

/// The `--format json` document, written as it goes: the shared fields first, then each record
/// as it is read, then the verdict, findings and counts once everything is read. The result is
/// the same JSON as serialising the whole [`Report`] (keys in another order), without ever
/// holding every record.
pub struct JsonStream<W: Write> {
    out: W,
    records: usize,
}

fn field<W: Write, T: Serialize + ?Sized>(
    out: &mut W,
    key: &str,
    value: &T,
    first: bool,
) -> io::Result<()> {
    let text = serde_json::to_string_pretty(value)?;
    // Pretty JSON never has a raw newline inside a string, so indenting every line is safe.
    write!(
        out,
        "{}\n  \"{key}\": {}",
        if first { "" } else { "," },
        text.replace('\n', "\n  ")
    )
}

impl<W: Write> JsonStream<W> {
    /// Writes the opening: the fields known before anything is read (`schema_version` to
    /// `started_at`) and the start of `records`. The rest of `head` is written by [`finish`].
    ///
    /// [`finish`]: JsonStream::finish
    pub fn begin(mut out: W, head: &Report<BounceBody>) -> io::Result<JsonStream<W>> {
        out.write_all(b"{")?;
        field(&mut out, "schema_version", &head.schema_version, true)?;
        field(&mut out, "command", &head.command, false)?;
        field(&mut out, "tool_version", &head.tool_version, false)?;
        field(
            &mut out,
            "knowledge_version",
            &head.knowledge_version,
            false,
        )?;
        field(&mut out, "target", &head.target, false)?;
        field(&mut out, "started_at", &head.started_at, false)?;
        out.write_all(b",\n  \"records\": [")?;
        Ok(JsonStream { out, records: 0 })
    }

    /// Writes one record.
    pub fn record(&mut self, record: &BounceRecord, truncated: bool) -> io::Result<()> {
        let text = serde_json::to_string_pretty(&PrintedRecord { record, truncated })?;
        write!(
            self.out,
            "{}\n    {}",
            if self.records == 0 { "" } else { "," },
            text.replace('\n', "\n    ")
        )?;
        self.records += 1;
        Ok(())
    }

    /// Closes `records` and writes the fields known at the end; `report.body.records` is not
    /// written again.
    pub fn finish(mut self, report: &Report<BounceBody>) -> io::Result<W> {
        self.out
            .write_all(if self.records == 0 { b"]" } else { b"\n  ]" })?;
        let out = &mut self.out;
        field(out, "duration_ms", &report.duration_ms, false)?;
        field(out, "verdict", &report.verdict, false)?;
        field(out, "findings", &report.findings, false)?;
        let b = &report.body;
        field(out, "messages", &b.messages, false)?;
        field(out, "summary", &b.summary, false)?;
        field(out, "truncated", &b.truncated, false)?;
        field(out, "unreadable", &b.unreadable, false)?;
        if !b.internal_errors.is_empty() {
            field(out, "internal_errors", &b.internal_errors, false)?;
        }
        out.write_all(b"\n}\n")?;
        self.out.flush()?;
        Ok(self.out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use smtpdoctor_report::bounce::{OriginalMessage, Unreadable};
    use smtpdoctor_report::{Category, Confidence, Retry, Status, Verdict};

    fn record(n: usize, kind: BounceKind) -> BounceRecord {
        BounceRecord {
            file: format!("box:{n}"),
            kind,
            recipient: Some(format!("user{n}@example.org")),
            action: Some("failed".into()),
            status: Some("5.1.1".into()),
            reply_code: Some(550),
            reason: "userunknown".into(),
            category: Some(Category::RecipientUnknown),
            retry: Some(Retry::Permanent),
            fix: Some("Check the recipient address.".into()),
            diagnostic: Some("550 5.1.1 \"quoted\"\nUser unknown".into()),
            command: Some("RCPT".into()),
            remote_mta: Some("mx.example.org".into()),
            reporting_mta: None,
            arrival_date: None,
            last_attempt_date: None,
            feedback_type: None,
            detector: "rfc3464".into(),
            original: OriginalMessage {
                subject: Some("Hello".into()),
                ..Default::default()
            },
        }
    }

    fn report(records: Vec<BounceRecord>) -> Report<BounceBody> {
        let mut body = BounceBody {
            messages: records.len(),
            truncated: vec!["box:2".into()],
            unreadable: vec![Unreadable {
                path: "gone".into(),
                error: "No such file".into(),
            }],
            ..Default::default()
        };
        for r in &records {
            body.summary.add(r);
        }
        body.records = records;
        Report {
            schema_version: 1,
            command: "bounce".into(),
            tool_version: "0.1.0".into(),
            knowledge_version: "k".into(),
            target: serde_json::json!({ "paths": ["box"] }),
            started_at: "2026-01-01T00:00:00Z".into(),
            duration_ms: 3,
            verdict: Verdict {
                status: Status::Problem,
                category: Some(Category::RecipientUnknown),
                retry: Some(Retry::Permanent),
                confidence: Confidence::High,
                alternatives: vec![],
                summary: "2 recipients bounced".into(),
                fix: vec!["Check the recipient address.".into()],
                evidence: vec!["record:0".into()],
            },
            findings: vec![],
            body,
        }
    }

    fn streamed(report: &Report<BounceBody>) -> String {
        let mut s = JsonStream::begin(Vec::new(), report).unwrap();
        for r in &report.body.records {
            s.record(r, r.file == "box:2").unwrap();
        }
        String::from_utf8(s.finish(report).unwrap()).unwrap()
    }

    #[test]
    fn the_stream_is_the_report() {
        for records in [
            vec![],
            vec![record(1, BounceKind::Bounce), record(2, BounceKind::Delay)],
        ] {
            let report = report(records);
            let text = streamed(&report);
            let got: serde_json::Value = serde_json::from_str(&text).unwrap();
            let mut want = serde_json::to_value(&report).unwrap();
            // The stream adds `truncated: true` to records of cut messages.
            if let Some(r) = want["records"].as_array_mut().and_then(|a| a.get_mut(1)) {
                r["truncated"] = true.into();
            }
            assert_eq!(got, want, "{text}");
            assert!(text.starts_with("{\n  \"schema_version\": 1,\n"), "{text}");
        }
    }

    #[test]
    fn human_output_has_the_table_details_and_counts() {
        let text = human(
            &report(vec![
                record(1, BounceKind::Bounce),
                record(2, BounceKind::Delay),
            ]),
            Palette::PLAIN,
        );
        assert!(text.contains("#  recipient"), "{text}");
        assert!(
            text.contains(
                "1  user1@example.org  bounce  5.1.1   550   userunknown  recipient_unknown"
            ),
            "{text}"
        );
        assert!(
            text.contains("#2 user2@example.org · delay · box:2"),
            "{text}"
        );
        assert!(text.contains("only its start was read"), "{text}");
        assert!(
            text.contains("2 messages, 2 records: bounce 1, delay 1"),
            "{text}"
        );
        assert!(text.contains("by category: recipient_unknown 2"), "{text}");
        assert!(!text.contains('\x1b'));
    }

    #[test]
    fn long_inputs_are_cut_in_human_output() {
        let records: Vec<_> = (0..TABLE_ROWS + 5)
            .map(|i| record(i, BounceKind::Bounce))
            .collect();
        let mut r = report(records);
        r.body.records.truncate(TABLE_ROWS);
        r.body.summary.records = TABLE_ROWS + 5;
        let text = human(&r, Palette::PLAIN);
        assert!(text.contains("… 5 more records"), "{text}");
        assert_eq!(text.matches(" · bounce · ").count(), DETAILED);
    }
}
