//! The human rendering of `check`: the ladder step by step, then the verdict and the fix.

use crate::Palette;
use smtpdoctor_report::check::{CheckBody, DaneStatus, Dnssec, StepStatus};
use smtpdoctor_report::{Direction, Report, Severity, Status};
use std::fmt::Write;

/// What DANE means for an MX host, in a few words of the right colour.
fn dane_word(status: DaneStatus, p: Palette) -> String {
    match status {
        DaneStatus::Authenticated => p.good("DANE ✓"),
        DaneStatus::Mismatch => p.bad("DANE ✗ no TLSA match"),
        DaneStatus::NoTls => p.bad("DANE ✗ no TLS"),
        DaneStatus::Bogus => p.bad("DANE ✗ DNSSEC bogus"),
        DaneStatus::Unusable => p.warn("DANE: unusable TLSA"),
        DaneStatus::NotApplied => p.warn("DANE: MX not signed"),
        DaneStatus::Unsigned => p.warn("DANE: TLSA unsigned"),
        DaneStatus::LookupFailed => p.warn("DANE: look-up failed"),
        DaneStatus::NotChecked => p.dim("DANE: not checked"),
        DaneStatus::None => p.dim("no TLSA"),
    }
}

/// Renders a check report for a terminal.
pub fn check(report: &Report<CheckBody>, p: Palette, show_transcript: bool) -> String {
    crate::terminal_safe(&check_text(report, p, show_transcript), p)
}

fn check_text(report: &Report<CheckBody>, p: Palette, show_transcript: bool) -> String {
    let mut out = String::new();
    let target = &report.target;
    let host = target
        .get("host")
        .or_else(|| target.get("domain"))
        .and_then(|v| v.as_str())
        .unwrap_or("");
    let port = target.get("port").and_then(|v| v.as_u64()).unwrap_or(0);
    let tls = target.get("tls").and_then(|v| v.as_str()).unwrap_or("");
    // With the port matrix the target's port is only the one checked in full, if any.
    let where_ = if report.body.ports.is_empty() {
        format!("{host}:{port}")
    } else {
        let mut ports: Vec<u16> = report
            .body
            .ports
            .iter()
            .filter(|p| !p.control)
            .map(|p| p.port)
            .collect();
        ports.dedup();
        format!(
            "{host} (ports {})",
            ports
                .iter()
                .map(u16::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    let _ = writeln!(out, "{} {where_} (tls {tls})", p.bold("smtpdoctor check"));
    if let Some(mx) = &report.body.mx {
        let _ = writeln!(
            out,
            "  {}",
            p.dim(&format!(
                "MX records of {} ({} ms{})",
                mx.domain,
                mx.ms,
                match mx.dnssec {
                    Some(Dnssec::Secure) => ", DNSSEC-signed",
                    Some(Dnssec::Insecure) => ", not DNSSEC-signed",
                    Some(Dnssec::Bogus) => ", DNSSEC bogus",
                    None => "",
                }
            ))
        );
        for r in &mx.records {
            let hop = report.body.hops.iter().find(|h| h.host == r.host);
            let mark = match hop.map(|h| h.status) {
                Some(Status::Ok) => p.good("✓"),
                Some(_) => p.bad("✗"),
                None if r.addresses.is_empty() => p.bad("✗"),
                None => p.dim("-"),
            };
            let addresses = if r.addresses.is_empty() {
                "no address".to_string()
            } else {
                r.addresses.join(", ")
            };
            let alias = r
                .cname
                .as_ref()
                .map(|c| format!(" (alias of {c})"))
                .unwrap_or_default();
            let verdict = hop
                .map(|h| format!(" — {}", clip(&h.summary, 60)))
                .unwrap_or_default();
            let dane = hop
                .and_then(|h| h.dane)
                .map(|d| format!("  {}", dane_word(d, p)))
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "  {mark} {:>5} {}{alias}  {}{dane}{verdict}",
                r.preference,
                r.host,
                p.dim(&addresses)
            );
        }
    }
    if !report.body.ports.is_empty() {
        let _ = writeln!(
            out,
            "  {}",
            p.dim("port   address                  answer      speaks          time  greeting")
        );
        for probe in &report.body.ports {
            let (mark, answer) = match probe.failure {
                None => (p.good("✓"), "open".to_string()),
                Some(f) => (p.bad("✗"), format!("{f:?}").to_lowercase()),
            };
            let speaks = match probe.speaks {
                Some(smtpdoctor_report::check::PortSpeaks::Starttls) => "STARTTLS",
                Some(smtpdoctor_report::check::PortSpeaks::Plain) => "plain SMTP",
                Some(smtpdoctor_report::check::PortSpeaks::ImplicitTls) => "implicit TLS",
                Some(smtpdoctor_report::check::PortSpeaks::Silent) => "silent",
                Some(smtpdoctor_report::check::PortSpeaks::NotSmtp) => "not SMTP",
                None => "",
            };
            let mut greeting = probe
                .banner
                .as_deref()
                .map(|b| clip(b, 40))
                .unwrap_or_default();
            if probe.control {
                greeting = format!("(control host) {greeting}");
            }
            let _ = writeln!(
                out,
                "  {mark} {:<5} {:<24} {:<11} {:<13} {:>6}  {greeting}",
                probe.port,
                clip(&probe.address, 24),
                answer,
                speaks,
                format!("{} ms", probe.ms)
            );
        }
        if let Some(w) = &report.body.working_settings {
            let _ = writeln!(
                out,
                "  {}",
                p.dim(&format!("full check on port {}:", w.port))
            );
        } else if !report.body.steps.is_empty() {
            let _ = writeln!(out, "  {}", p.dim(&format!("full check on port {}:", port)));
        }
    }
    let mut last_conn = u32::MAX;
    // Grouped by connection (a probe may run while the first connection waits), in time order.
    let mut steps: Vec<_> = report.body.steps.iter().collect();
    steps.sort_by_key(|s| s.conn);
    for step in steps {
        if step.conn != last_conn && step.conn > 0 {
            let purpose = report
                .body
                .sessions
                .iter()
                .find(|s| s.conn == step.conn)
                .map(|s| match s.purpose {
                    smtpdoctor_report::check::Purpose::Requested => s.mode.describe().to_string(),
                    smtpdoctor_report::check::Purpose::ModeProbe => {
                        format!("second connection, trying {}", s.mode.describe())
                    }
                })
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "  {}",
                p.dim(&format!("connection {} — {purpose}", step.conn))
            );
            last_conn = step.conn;
        }
        let mark = match step.status {
            StepStatus::Ok => p.good("✓"),
            StepStatus::Warning => p.warn("!"),
            StepStatus::Failed => p.bad("✗"),
            StepStatus::Skipped => p.dim("-"),
        };
        let _ = writeln!(
            out,
            "  {mark} {:<9} {:<70} {}",
            step.name,
            clip(&step.summary, 70),
            p.dim(&format!("{:>5} ms", step.ms))
        );
    }
    let v = &report.verdict;
    out.push('\n');
    verdict_head(
        &mut out,
        v,
        ["OK", "PROBLEM", "INCONCLUSIVE"],
        &v.summary,
        p,
    );
    if let Some(primary) = report
        .findings
        .iter()
        .find(|f| f.severity == Severity::Problem)
        && !primary.detail.is_empty()
    {
        let _ = writeln!(out, "  Why: {}", primary.detail);
    }
    if !v.fix.is_empty() {
        let _ = writeln!(
            out,
            "  {}",
            if v.status == Status::Ok {
                "Settings:"
            } else {
                "Fix:"
            }
        );
        for (i, fix) in v.fix.iter().enumerate() {
            let _ = writeln!(out, "    {}. {fix}", i + 1);
        }
    }
    let others: Vec<_> = report
        .findings
        .iter()
        .skip_while(|f| f.severity == Severity::Problem)
        .collect();
    let more_problems: Vec<_> = report
        .findings
        .iter()
        .filter(|f| f.severity == Severity::Problem)
        .skip(1)
        .collect();
    if !more_problems.is_empty() || !others.is_empty() {
        out.push('\n');
    }
    for f in more_problems {
        let _ = writeln!(
            out,
            "  {} {} {}",
            p.bad("✗"),
            f.summary,
            p.dim(&format!("({})", f.id))
        );
    }
    for f in others {
        let mark = p.severity_mark(f.severity);
        let _ = writeln!(
            out,
            "  {mark} {} {}",
            f.summary,
            p.dim(&format!("({})", f.id))
        );
    }
    if show_transcript {
        let _ = writeln!(out, "\n{}", p.bold("Transcript"));
        for e in &report.body.transcript.entries {
            let arrow = match e.dir {
                Direction::Sent => "C:",
                Direction::Received => "S:",
                Direction::Note => "  ",
            };
            let lock = if e.tls { "🔒" } else { "  " };
            let text = if e.dir == Direction::Note {
                p.dim(&e.text)
            } else {
                e.text.clone()
            };
            let _ = writeln!(
                out,
                "{:>7} #{} {lock} {arrow} {text}",
                format!("{}ms", e.t_ms),
                e.conn
            );
        }
    }
    out
}

/// The verdict's first lines: status (in the command's words), category, summary, and for a
/// problem how sure it is and whether retrying helps.
pub(crate) fn verdict_head(
    out: &mut String,
    v: &smtpdoctor_report::Verdict,
    words: [&str; 3],
    summary: &str,
    p: Palette,
) {
    let head = match v.status {
        Status::Ok => p.good(words[0]),
        Status::Problem => p.bad(words[1]),
        Status::Inconclusive => p.warn(words[2]),
    };
    let category = v.category.map(|c| format!(" [{c}]")).unwrap_or_default();
    let _ = writeln!(out, "{head}{category} {summary}");
    // A problem without a category (a `bounce` input that holds no bounce) has nothing to retry.
    if v.status == Status::Problem && v.category.is_some() {
        let retry = match v.retry {
            Some(smtpdoctor_report::Retry::Temporary) => "retrying later may help",
            _ => "retrying will not help until something changes",
        };
        let _ = writeln!(
            out,
            "  {}",
            p.dim(&format!("confidence {:?}, {retry}", v.confidence).to_lowercase())
        );
    }
}

pub(crate) fn clip(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut s: String = text.chars().take(max - 1).collect();
    s.push('…');
    s
}

/// Renders an explain report for a terminal.
pub fn explain(report: &Report<smtpdoctor_report::explain::ExplainBody>, p: Palette) -> String {
    crate::terminal_safe(&explain_text(report, p), p)
}

fn explain_text(report: &Report<smtpdoctor_report::explain::ExplainBody>, p: Palette) -> String {
    let mut out = String::new();
    let b = &report.body;
    let first = b.input.lines().next().unwrap_or("");
    let _ = writeln!(out, "{}", p.bold(&clip(first, 100)));
    let mut codes = Vec::new();
    if let Some(c) = b.reply_code {
        codes.push(format!("reply code {c}"));
    }
    if let Some(e) = &b.enhanced_code {
        codes.push(format!("enhanced code {e}"));
    }
    if !codes.is_empty() {
        let _ = writeln!(out, "  {}", p.dim(&codes.join(" · ")));
    }
    out.push('\n');
    let v = &report.verdict;
    verdict_head(
        &mut out,
        v,
        ["NOT AN ERROR", "PROBLEM", "NOT RECOGNISED"],
        &b.title,
        p,
    );
    let _ = writeln!(out, "  {}", b.meaning);
    if !b.alternatives.is_empty() {
        let alts: Vec<String> = b.alternatives.iter().map(|c| c.to_string()).collect();
        let _ = writeln!(out, "  Could also be: {}", alts.join(", "));
    }
    if !b.causes.is_empty() {
        let _ = writeln!(out, "  Likely causes:");
        for c in &b.causes {
            let _ = writeln!(out, "    - {c}");
        }
    }
    if !b.fixes.is_empty() {
        let _ = writeln!(out, "  Fix:");
        for (i, f) in b.fixes.iter().enumerate() {
            let _ = writeln!(out, "    {}. {f}", i + 1);
        }
    }
    if !b.references.is_empty() {
        let _ = writeln!(out, "  References: {}", b.references.join("; "));
    }
    if let Some(m) = b.matched.first() {
        let _ = writeln!(
            out,
            "  {}",
            p.dim(&format!("Matched {} ({})", m.id, m.why.join(", ")))
        );
    }
    out
}
