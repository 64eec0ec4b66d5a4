//! `smtpdoctor domain` for people: the verdict, one line per check with its status, then each
//! check's findings with their fixes.

use crate::Palette;
use smtpdoctor_report::domain::{CheckStatus, DomainBody};
use smtpdoctor_report::{Report, Severity, Status};
use std::fmt::Write;

fn status_word(s: CheckStatus, p: Palette) -> String {
    let w = format!("{:<5}", s.name());
    match s {
        CheckStatus::Pass => p.good(&w),
        CheckStatus::Warn => p.warn(&w),
        CheckStatus::Fail | CheckStatus::Error => p.bad(&w),
        CheckStatus::None => p.dim(&w),
    }
}

fn label(name: &str) -> &'static str {
    match name {
        "mx" => "MX",
        "spf" => "SPF",
        "dkim" => "DKIM",
        "dmarc" => "DMARC",
        "mta_sts" => "MTA-STS",
        "tls_rpt" => "TLS-RPT",
        "dane" => "DANE",
        "ptr" => "PTR",
        _ => "DNSBL",
    }
}

/// The report of one domain.
pub fn domain(report: &Report<DomainBody>, p: Palette) -> String {
    crate::terminal_safe(&domain_text(report, p), p)
}

fn domain_text(report: &Report<DomainBody>, p: Palette) -> String {
    let mut out = String::new();
    let b = &report.body;
    let _ = writeln!(
        out,
        "{} {}   {}",
        p.bold("smtpdoctor domain"),
        b.domain,
        p.dim(&format!("(DNS: {})", b.resolver))
    );
    out.push('\n');
    for (name, c) in b.checks.iter() {
        let _ = writeln!(
            out,
            "  {:<8} {}  {}",
            label(name),
            status_word(c.status, p),
            c.summary
        );
    }
    let mut any = false;
    for (name, c) in b.checks.iter() {
        let shown: Vec<_> = c
            .findings
            .iter()
            .filter(|f| f.severity != Severity::Info || c.findings.len() <= 3)
            .collect();
        if shown.is_empty() {
            continue;
        }
        if !any {
            out.push('\n');
            any = true;
        }
        let _ = writeln!(out, "{}", p.bold(label(name)));
        for f in shown {
            let mark = p.severity_mark(f.severity);
            let _ = writeln!(
                out,
                "  {mark} {} {}",
                f.summary,
                p.dim(&format!("[{}]", f.id))
            );
            for fix in &f.fix {
                let _ = writeln!(out, "      fix: {fix}");
            }
        }
    }
    out.push('\n');
    let v = &report.verdict;
    let head = match v.status {
        Status::Ok => p.good("OK"),
        Status::Problem => p.bad("PROBLEM"),
        Status::Inconclusive => p.warn("INCONCLUSIVE"),
    };
    let category = v.category.map(|c| format!(" ({c})")).unwrap_or_default();
    let _ = writeln!(out, "{head}{category}: {}", v.summary);
    for (i, step) in v.fix.iter().enumerate() {
        let _ = writeln!(out, "  {}. {step}", i + 1);
    }
    out
}
