//! The human rendering of `setup`: each source and what it said, each candidate and what its
//! test showed, the settings to copy into a mail client, then the verdict and the findings.

use crate::Palette;
use crate::human::{clip, verdict_head};
use smtpdoctor_report::check::TlsMode;
use smtpdoctor_report::setup::{Outcome, SetupBody, SourceStatus};
use smtpdoctor_report::{Direction, Report, Status};
use std::fmt::Write;

/// How a mail client's settings screen calls a TLS mode.
pub fn client_words(mode: TlsMode) -> &'static str {
    match mode {
        TlsMode::Implicit => "SSL/TLS (implicit TLS)",
        TlsMode::Starttls => "STARTTLS",
        TlsMode::None => "none (not encrypted)",
        TlsMode::Auto => "automatic",
    }
}

/// How a mail client calls an AUTH mechanism.
pub fn auth_words(mechanism: &str) -> String {
    match mechanism {
        "PLAIN" | "LOGIN" => format!("normal password ({mechanism})"),
        "CRAM-MD5" => "encrypted password (CRAM-MD5)".into(),
        "XOAUTH2" | "OAUTHBEARER" => format!("OAuth2 ({mechanism})"),
        other => other.to_string(),
    }
}

/// One word for a test's outcome.
pub fn outcome_words(o: Outcome) -> &'static str {
    match o {
        Outcome::Confirmed => "login works",
        Outcome::Reachable => "answers, AUTH offered (login not tried)",
        Outcome::LoginFailed => "answers, login refused",
        Outcome::NoAuth => "answers, but offers no AUTH",
        Outcome::Failed => "fails",
        Outcome::NotTested => "not tested",
    }
}

/// Renders a setup report for a terminal.
pub fn human(report: &Report<SetupBody>, p: Palette, show_transcript: bool) -> String {
    crate::terminal_safe(&human_text(report, p, show_transcript), p)
}

fn human_text(report: &Report<SetupBody>, p: Palette, show_transcript: bool) -> String {
    let mut out = String::new();
    let b = &report.body;
    let address = report
        .target
        .get("address")
        .and_then(|a| a.as_str())
        .unwrap_or("");
    let _ = writeln!(out, "{} {address}", p.bold("smtpdoctor setup"));
    let _ = writeln!(out, "\n{}", p.bold("Sources"));
    for s in &b.sources {
        let mark = match s.status {
            SourceStatus::Found => p.good("✓"),
            SourceStatus::Failed => p.warn("!"),
            SourceStatus::NotOffered => p.warn("–"),
            SourceStatus::None | SourceStatus::Skipped => p.dim("-"),
        };
        let _ = writeln!(
            out,
            "  {mark} {:<32} {}",
            s.kind.describe(),
            p.dim(&clip(&s.query, 90))
        );
        let _ = writeln!(out, "      {}", clip(&s.detail, 110));
    }
    let _ = writeln!(out, "\n{}", p.bold("Candidates, as tested"));
    for c in &b.candidates {
        let mark = match c.outcome {
            Outcome::Confirmed => p.good("✓"),
            Outcome::Reachable | Outcome::LoginFailed => p.warn("~"),
            Outcome::NoAuth | Outcome::NotTested => p.dim("-"),
            Outcome::Failed => p.bad("✗"),
        };
        let rank = c.rank.map(|r| format!("#{r}")).unwrap_or_default();
        let security = match (c.security, c.tls_found) {
            (TlsMode::Auto, Some(found)) => format!("{} (found)", found.name()),
            (s, _) => s.name().to_string(),
        };
        let with_password = !report.target["credentials"].is_null();
        let attempt_made = report.body.candidates.iter().any(|o| o.credentials_sent);
        let why = match (&c.check, c.outcome) {
            (Some(k), Outcome::Failed) => format!(": {}", clip(&k.verdict.summary, 70)),
            (_, Outcome::Reachable) if with_password && c.trusted && attempt_made => {
                " — one login attempt per server".to_string()
            }
            (_, Outcome::Reachable) if with_password => " — not trusted with the password".into(),
            _ => String::new(),
        };
        let _ = writeln!(
            out,
            "  {mark} {rank:>3} {:<32} {:<16} {}{why}  {}",
            c.address(),
            security,
            outcome_words(c.outcome),
            p.dim(&format!(
                "[{}{}]",
                c.sources
                    .iter()
                    .map(|s| s.describe())
                    .collect::<Vec<_>>()
                    .join(", "),
                if c.credentials_sent {
                    ", with your password"
                } else {
                    ""
                }
            ))
        );
    }
    if let Some(r) = &b.recommended {
        let _ = writeln!(
            out,
            "\n{}",
            p.bold(if r.proven {
                "Settings for your mail client (login confirmed)"
            } else {
                "Settings for your mail client (login not yet confirmed)"
            })
        );
        let _ = writeln!(out, "  Outgoing (SMTP) server:  {}", r.host);
        let _ = writeln!(out, "  Port:                    {}", r.port);
        let _ = writeln!(
            out,
            "  Connection security:     {}",
            client_words(r.security)
        );
        let _ = writeln!(out, "  Username:                {}", r.username);
        let _ = writeln!(
            out,
            "  Authentication method:   {}",
            auth_words(&r.auth_method)
        );
    }
    if !b.disagreements.is_empty() {
        let _ = writeln!(out, "\n{}", p.bold("Where sources disagree"));
        for d in &b.disagreements {
            let claims: Vec<String> = d
                .claims
                .iter()
                .map(|c| format!("{}: {}", c.source.describe(), c.says))
                .collect();
            let _ = writeln!(out, "  {} {} — {}", p.warn("!"), d.about, claims.join("; "));
            if let Some(s) = &d.settled {
                let _ = writeln!(out, "    the test shows: {s}");
            }
        }
    }
    out.push('\n');
    let v = &report.verdict;
    verdict_head(
        &mut out,
        v,
        ["OK", "PROBLEM", "INCONCLUSIVE"],
        &v.summary,
        p,
    );
    if !v.fix.is_empty() && v.status != Status::Ok {
        let _ = writeln!(out, "  Fix:");
        for (i, fix) in v.fix.iter().enumerate() {
            let _ = writeln!(out, "    {}. {fix}", i + 1);
        }
    }
    if !report.findings.is_empty() {
        out.push('\n');
    }
    for f in &report.findings {
        let _ = writeln!(
            out,
            "  {} {} {}",
            p.severity_mark(f.severity),
            f.summary,
            p.dim(&format!("({})", f.id))
        );
    }
    if show_transcript {
        let best = b
            .candidates
            .iter()
            .find(|c| c.rank == Some(1))
            .or(b.candidates.first());
        if let Some((c, k)) = best.and_then(|c| c.check.as_ref().map(|k| (c, k))) {
            let _ = writeln!(out, "\n{} {}", p.bold("Transcript of"), c.address());
            for e in &k.transcript.entries {
                let arrow = match e.dir {
                    Direction::Sent => "C:",
                    Direction::Received => "S:",
                    Direction::Note => "  ",
                };
                let _ = writeln!(
                    out,
                    "{:>7} #{} {} {arrow} {}",
                    format!("{}ms", e.t_ms),
                    e.conn,
                    if e.tls { "🔒" } else { "  " },
                    e.text
                );
            }
        }
    }
    out
}

/// The support report of `setup` (`--report FILE`): the sources, the candidates, the settings
/// to use and the verdict first, then the full test of the recommended and of every trusted
/// candidate as `check --report` writes it (transcripts already scrubbed of secrets).
pub fn report(report: &Report<SetupBody>, options: &crate::report::Options<'_>) -> String {
    crate::terminal_safe(&report_text(report, options), crate::Palette::PLAIN)
}

fn report_text(report: &Report<SetupBody>, options: &crate::report::Options<'_>) -> String {
    use crate::report::{Block, Masker, model, retry_words, status_word};
    use smtpdoctor_report::Severity;
    use smtpdoctor_report::check::CheckBody;
    let b = &report.body;
    let v = &report.verdict;
    let masked = options.redact_identity;
    let address = report
        .target
        .get("address")
        .and_then(|a| a.as_str())
        .unwrap_or("")
        .to_string();
    let kv = |k: &str, v: String| vec![k.to_string(), v];
    let category = v.category.map(|c| format!(" [{c}]")).unwrap_or_default();
    let mut blocks = vec![Block::Heading(
        1,
        format!("smtpdoctor report: setup {address}"),
    )];
    blocks.push(Block::Heading(2, "What support needs to know".into()));
    let mut summary = vec![format!(
        "Result: {}{category} — {}",
        status_word(v.status),
        v.summary
    )];
    match &b.recommended {
        Some(r) => summary.push(format!(
            "Settings to use: {} port {}, {}, username {}, {}{}",
            r.host,
            r.port,
            client_words(r.security),
            r.username,
            auth_words(&r.auth_method),
            if r.proven {
                " (login confirmed)"
            } else {
                " (login not confirmed)"
            }
        )),
        None => summary.push("Settings to use: none of the candidates works".into()),
    }
    summary.push(format!(
        "Sources asked: {}; candidates tested: {}",
        b.sources.len(),
        b.candidates.iter().filter(|c| c.check.is_some()).count()
    ));
    summary.push(format!(
        "When: {} (took {} ms)",
        report.started_at, report.duration_ms
    ));
    summary.extend(crate::report::public_ip_line(&report.target));
    if v.status != Status::Ok {
        summary.push(format!("Retry: {}", retry_words(v)));
    }
    summary.push(format!(
        "smtpdoctor {} (knowledge {}); passwords and AUTH payloads are never in this report{}",
        report.tool_version,
        report.knowledge_version,
        if masked {
            "; identity masked (--redact-identity)"
        } else {
            ""
        }
    ));
    blocks.push(Block::List(summary));
    if let Some(r) = &b.recommended {
        blocks.push(Block::Heading(2, "Settings for the mail client".into()));
        blocks.push(Block::Table(
            vec!["Setting".into(), "Value".into()],
            vec![
                kv("Outgoing (SMTP) server", r.host.clone()),
                kv("Port", r.port.to_string()),
                kv("Connection security", client_words(r.security).into()),
                kv("Username", r.username.clone()),
                kv("Authentication method", auth_words(&r.auth_method)),
                kv(
                    "Login confirmed",
                    if r.proven { "yes" } else { "no" }.into(),
                ),
                kv(
                    "Named by",
                    r.sources
                        .iter()
                        .map(|s| s.describe())
                        .collect::<Vec<_>>()
                        .join(", "),
                ),
            ],
        ));
    }
    blocks.push(Block::Heading(2, "Sources".into()));
    blocks.push(Block::Table(
        ["Source", "Asked", "Answer", "What it said", "Time"]
            .map(String::from)
            .to_vec(),
        b.sources
            .iter()
            .map(|s| {
                vec![
                    s.kind.describe().to_string(),
                    s.query.clone(),
                    format!("{:?}", s.status).to_lowercase(),
                    s.detail.clone(),
                    format!("{} ms", s.ms),
                ]
            })
            .collect(),
    ));
    blocks.push(Block::Heading(2, "Candidates".into()));
    blocks.push(Block::Table(
        [
            "Rank",
            "Server",
            "Security",
            "Named by",
            "Password sent",
            "Outcome",
            "Test",
        ]
        .map(String::from)
        .to_vec(),
        b.candidates
            .iter()
            .map(|c| {
                vec![
                    c.rank.map(|r| r.to_string()).unwrap_or_else(|| "-".into()),
                    c.address(),
                    match c.tls_found {
                        Some(f) if f != c.security => {
                            format!("{} (speaks {})", c.security.name(), f.name())
                        }
                        _ => c.security.name().to_string(),
                    },
                    c.sources
                        .iter()
                        .map(|s| s.describe())
                        .collect::<Vec<_>>()
                        .join(", "),
                    if c.credentials_sent { "yes" } else { "no" }.into(),
                    outcome_words(c.outcome).into(),
                    c.check
                        .as_ref()
                        .map(|k| {
                            format!(
                                "{}{}: {}",
                                status_word(k.verdict.status),
                                k.verdict
                                    .category
                                    .map(|c| format!(" [{c}]"))
                                    .unwrap_or_default(),
                                k.verdict.summary
                            )
                        })
                        .unwrap_or_else(|| "not tested".into()),
                ]
            })
            .collect(),
    ));
    if !b.disagreements.is_empty() {
        blocks.push(Block::Heading(2, "Where sources disagree".into()));
        blocks.push(Block::List(
            b.disagreements
                .iter()
                .map(|d| {
                    format!(
                        "{}: {}{}",
                        d.about,
                        d.claims
                            .iter()
                            .map(|c| format!("{} says {}", c.source.describe(), c.says))
                            .collect::<Vec<_>>()
                            .join("; "),
                        d.settled
                            .as_ref()
                            .map(|s| format!(" — the test shows: {s}"))
                            .unwrap_or_default()
                    )
                })
                .collect(),
        ));
    }
    blocks.push(Block::Heading(2, "Verdict".into()));
    blocks.push(Block::List(vec![
        format!("Status: {}{category}", status_word(v.status)),
        format!("Summary: {}", v.summary),
        format!("Retry: {}", retry_words(v)),
    ]));
    if !v.fix.is_empty() {
        blocks.push(Block::Para("Fix:".into()));
        blocks.push(Block::Ordered(v.fix.clone()));
    }
    blocks.push(Block::Heading(2, "Findings".into()));
    if report.findings.is_empty() {
        blocks.push(Block::Para("None.".into()));
    }
    for f in &report.findings {
        let severity = match f.severity {
            Severity::Problem => "problem",
            Severity::Warning => "warning",
            Severity::Info => "info",
        };
        blocks.push(Block::Heading(3, format!("{} ({severity})", f.id)));
        blocks.push(Block::Para(f.summary.clone()));
        if !f.detail.is_empty() {
            blocks.push(Block::Para(f.detail.clone()));
        }
        if !f.fix.is_empty() {
            blocks.push(Block::Ordered(f.fix.clone()));
        }
    }
    // The full tests: the recommended candidate's and every trusted one's.
    let mut masker = Masker::default();
    if masked {
        masker.add_name(&address, "user");
        // The autoconfig URL carries the address percent-encoded.
        let encoded: String = address
            .bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect();
        masker.add_name(&encoded, "user");
        if let Some(u) = report.target.get("user").and_then(|u| u.as_str()) {
            masker.add_name(u, "user");
        }
    }
    let public = |h: &str| {
        options
            .public_hosts
            .iter()
            .any(|p| p.eq_ignore_ascii_case(h.trim_end_matches('.')))
    };
    if masked {
        if let Some(d) = report.target.get("domain").and_then(|d| d.as_str()) {
            masker.add_name(d, "host");
        }
        for c in &b.candidates {
            if let Some(u) = &c.username {
                masker.add_name(u, "user");
            }
            if !public(&c.host) && c.host.parse::<std::net::IpAddr>().is_err() {
                masker.add_name(&c.host, "host");
            }
        }
    }
    for c in b
        .candidates
        .iter()
        .filter(|c| c.rank == Some(1) || (c.trusted && c.check.is_some()))
    {
        let Some(k) = &c.check else { continue };
        let check = Report {
            schema_version: report.schema_version,
            command: "check".into(),
            tool_version: report.tool_version.clone(),
            knowledge_version: report.knowledge_version.clone(),
            target: serde_json::json!({
                "host": c.host, "port": c.port, "tls": c.security,
                "user": if c.credentials_sent { c.username.clone() } else { None },
                "public_ip": report.target.get("public_ip"),
            }),
            started_at: report.started_at.clone(),
            duration_ms: k.duration_ms,
            verdict: k.verdict.clone(),
            findings: k.findings.clone(),
            body: CheckBody {
                steps: k.steps.clone(),
                sessions: k.sessions.clone(),
                round_trips: k.transcript.round_trips(),
                transcript: k.transcript.clone(),
                ..CheckBody::default()
            },
        };
        if masked {
            masker.absorb(&Masker::for_report(&check, options.public_hosts));
        }
        blocks.push(Block::Heading(
            2,
            format!("Test of {} ({})", c.address(), c.security.describe()),
        ));
        for block in model(&check, masked).into_iter().skip(1) {
            blocks.push(match block {
                Block::Heading(level, text) => Block::Heading(level + 1, text),
                other => other,
            });
        }
    }
    if masked {
        for block in &mut blocks {
            for s in block.strings_mut() {
                *s = masker.mask(s);
            }
        }
    }
    match options.format {
        crate::report::Format::Markdown => crate::report::markdown(&blocks),
        crate::report::Format::Html => crate::report::html(&blocks),
    }
}
