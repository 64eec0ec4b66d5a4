//! The support report of `check` (`--report FILE`): one self-contained document, Markdown or
//! HTML, that a support engineer can act on without asking back.
//!
//! It is built from the same [`Report`] the other renderers print, first as a small document
//! model of plain strings, then written as Markdown or as HTML (everything escaped, inline CSS,
//! no external resource). With [`Options::redact_identity`] every string of the model passes
//! through a [`Masker`] first, so the two formats mask alike. The transcript inside is the one the
//! session layer already scrubbed of secrets; the caller adds a last check before writing
//! (docs/report.md).

use smtpdoctor_report::check::{CheckBody, StepStatus};
use smtpdoctor_report::{Direction, Report, Severity, Status};
use std::collections::HashMap;
use std::fmt::Write;

/// The two formats of a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Markdown (CommonMark with pipe tables).
    Markdown,
    /// One HTML page with inline CSS.
    Html,
}

impl Format {
    /// HTML when the file name ends in `.html` or `.htm` (any case), Markdown otherwise.
    pub fn for_path(path: &std::path::Path) -> Format {
        match path.extension().and_then(|e| e.to_str()) {
            Some(e) if e.eq_ignore_ascii_case("html") || e.eq_ignore_ascii_case("htm") => {
                Format::Html
            }
            _ => Format::Markdown,
        }
    }
}

/// How to write a report.
#[derive(Debug, Clone, Copy)]
pub struct Options<'a> {
    /// Markdown or HTML.
    pub format: Format,
    /// Mask the username, envelope addresses, host names and IP addresses.
    pub redact_identity: bool,
    /// Host names kept when masking (well-known providers' public servers).
    pub public_hosts: &'a [&'a str],
}

/// One block of the document.
#[derive(Debug, Clone)]
pub(crate) enum Block {
    Heading(u8, String),
    Para(String),
    List(Vec<String>),
    Ordered(Vec<String>),
    /// Header row, then rows.
    Table(Vec<String>, Vec<Vec<String>>),
    Code(String),
}

impl Block {
    pub(crate) fn strings_mut(&mut self) -> Vec<&mut String> {
        match self {
            Block::Heading(_, s) | Block::Para(s) | Block::Code(s) => vec![s],
            Block::List(items) | Block::Ordered(items) => items.iter_mut().collect(),
            Block::Table(head, rows) => head
                .iter_mut()
                .chain(rows.iter_mut().flat_map(|r| r.iter_mut()))
                .collect(),
        }
    }
}

/// Renders a check report as a support report.
pub fn check(report: &Report<CheckBody>, options: &Options<'_>) -> String {
    crate::terminal_safe(&check_text(report, options), crate::Palette::PLAIN)
}

fn check_text(report: &Report<CheckBody>, options: &Options<'_>) -> String {
    let mut blocks = model(report, options.redact_identity);
    if options.redact_identity {
        let mut masker = Masker::for_report(report, options.public_hosts);
        for block in &mut blocks {
            for s in block.strings_mut() {
                *s = masker.mask(s);
            }
        }
    }
    match options.format {
        Format::Markdown => markdown(&blocks),
        Format::Html => html(&blocks),
    }
}

fn target_str(report: &Report<CheckBody>, key: &str) -> Option<String> {
    match report.target.get(key)? {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Null => None,
        v => Some(v.to_string()),
    }
}

/// The public address the user gave (`--public-ip`), recorded as their word: smtpdoctor never
/// looks it up.
pub(crate) fn public_ip(target: &serde_json::Value) -> Option<String> {
    target
        .get("public_ip")?
        .get("address")?
        .as_str()
        .map(String::from)
}

/// The summary line for the public address, when the user gave it.
pub(crate) fn public_ip_line(target: &serde_json::Value) -> Option<String> {
    public_ip(target).map(|ip| {
        format!("Public address: {ip} (given by the user with --public-ip; not looked up)")
    })
}

pub(crate) fn status_word(s: Status) -> &'static str {
    match s {
        Status::Ok => "OK",
        Status::Problem => "PROBLEM",
        Status::Inconclusive => "INCONCLUSIVE",
    }
}

/// The local address the run connected from: the last connection made, with its family.
fn local_address(body: &CheckBody) -> Option<(String, &'static str)> {
    let local = body
        .sessions
        .iter()
        .flat_map(|s| s.connects.iter())
        .filter_map(|c| c.local.clone())
        .next_back()?;
    let family = match local.parse::<std::net::SocketAddr>() {
        Ok(std::net::SocketAddr::V4(_)) => "IPv4",
        Ok(std::net::SocketAddr::V6(_)) => "IPv6",
        Err(_) => "unknown",
    };
    Some((local, family))
}

pub(crate) fn retry_words(v: &smtpdoctor_report::Verdict) -> &'static str {
    match v.retry {
        Some(smtpdoctor_report::Retry::Temporary) => "temporary: retrying later may help",
        Some(smtpdoctor_report::Retry::Permanent) => {
            "permanent: retrying will not help until something changes"
        }
        None => "not applicable",
    }
}

pub(crate) fn model(report: &Report<CheckBody>, masked: bool) -> Vec<Block> {
    let body = &report.body;
    let v = &report.verdict;
    let host = target_str(report, "host")
        .or_else(|| target_str(report, "domain"))
        .unwrap_or_default();
    let port = target_str(report, "port").unwrap_or_default();
    let tls = target_str(report, "tls").unwrap_or_default();
    let user = target_str(report, "user");
    let auth_used = body
        .sessions
        .iter()
        .filter_map(|s| s.auth.as_ref())
        .find_map(|a| a.mechanism.clone());
    let local = local_address(body);
    let category = v.category.map(|c| format!(" [{c}]")).unwrap_or_default();
    let mut blocks = vec![Block::Heading(
        1,
        format!("smtpdoctor report: check {host}:{port}"),
    )];

    // What support needs to know, first.
    blocks.push(Block::Heading(2, "What support needs to know".into()));
    let mut summary = vec![
        format!(
            "Result: {}{category} — {}",
            status_word(v.status),
            v.summary
        ),
        format!(
            "Server: {host} port {port}, TLS {tls}, AUTH {}, username {}",
            auth_used.as_deref().unwrap_or("not used"),
            user.as_deref().unwrap_or("not given")
        ),
        format!(
            "Connected from: {}",
            local
                .as_ref()
                .map(|(a, f)| format!("{a} ({f})"))
                .unwrap_or_else(|| "no connection was made".into())
        ),
        format!(
            "When: {} (took {} ms)",
            report.started_at, report.duration_ms
        ),
    ];
    if let Some(line) = public_ip_line(&report.target) {
        summary.insert(3, line);
    }
    if v.status != Status::Ok {
        summary.push(format!("Retry: {}", retry_words(v)));
    }
    if let Some(fix) = v.fix.first() {
        summary.push(format!(
            "{}: {fix}",
            if v.status == Status::Ok {
                "Settings"
            } else {
                "First fix"
            }
        ));
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

    // The run.
    blocks.push(Block::Heading(2, "Run".into()));
    let kv = |k: &str, v: String| vec![k.to_string(), v];
    let mut run = vec![
        kv("Started (RFC 3339)", report.started_at.clone()),
        kv("Duration", format!("{} ms", report.duration_ms)),
        kv("Tool version", report.tool_version.clone()),
        kv("Knowledge version", report.knowledge_version.clone()),
    ];
    match &local {
        Some((a, f)) => {
            run.push(kv("Local address", a.clone()));
            run.push(kv("Address family", f.to_string()));
        }
        None => run.push(kv("Local address", "not recorded (no connection)".into())),
    }
    if let Some(ip) = public_ip(&report.target) {
        run.push(kv(
            "Public address",
            format!("{ip} (given by the user; not looked up)"),
        ));
    }
    run.push(kv("Round trips", body.round_trips.to_string()));
    blocks.push(Block::Table(vec!["".into(), "".into()], run));

    // The settings tried.
    blocks.push(Block::Heading(2, "Settings tried".into()));
    let mut settings = vec![
        kv("Host", host.clone()),
        kv("Port", port.clone()),
        kv("TLS mode", tls.clone()),
    ];
    let asked_mech = body
        .sessions
        .iter()
        .filter_map(|s| s.auth.as_ref())
        .find_map(|a| {
            a.mechanism
                .clone()
                .or(a.skipped.as_ref().map(|why| format!("none ({why})")))
        });
    settings.push(kv(
        "AUTH mechanism",
        asked_mech.unwrap_or_else(|| "none".into()),
    ));
    if let Some(u) = &user {
        settings.push(kv("Username", u.clone()));
    }
    for key in ["helo", "from"] {
        if let Some(value) = target_str(report, key) {
            settings.push(kv(
                if key == "helo" { "EHLO name" } else { "Sender" },
                value,
            ));
        }
    }
    if let Some(to) = report.target.get("to").and_then(|t| t.as_array())
        && !to.is_empty()
    {
        let to: Vec<&str> = to.iter().filter_map(|t| t.as_str()).collect();
        settings.push(kv("Recipients", to.join(", ")));
    }
    for key in ["send", "insecure", "mx"] {
        if report.target.get(key).and_then(|b| b.as_bool()) == Some(true) {
            settings.push(kv(key, "yes".into()));
        }
    }
    blocks.push(Block::Table(
        vec!["Setting".into(), "Value".into()],
        settings,
    ));
    if let Some(w) = &body.working_settings {
        blocks.push(Block::Para(format!(
            "Settings proven to work: {} port {}, TLS {}{}",
            w.host,
            w.port,
            w.tls.name(),
            w.auth_mechanism
                .as_ref()
                .map(|m| format!(", AUTH {m}"))
                .unwrap_or_default()
        )));
    }

    // Name resolution and the port matrix, when there were any.
    if let Some(r) = &body.resolve {
        blocks.push(Block::Heading(2, "Name resolution".into()));
        let mut items = vec![format!(
            "{} via {}{}: {} ({} ms)",
            r.name,
            r.source,
            r.server
                .as_ref()
                .map(|s| format!(" (server {s})"))
                .unwrap_or_default(),
            if r.addresses.is_empty() {
                "no address".to_string()
            } else {
                r.addresses.join(", ")
            },
            r.ms
        )];
        if let Some(f) = r.failure {
            items.push(format!(
                "failed: {f:?} {}",
                r.detail.clone().unwrap_or_default()
            ));
        }
        blocks.push(Block::List(items));
    }
    if !body.ports.is_empty() {
        blocks.push(Block::Heading(2, "Ports".into()));
        let rows = body
            .ports
            .iter()
            .map(|p| {
                vec![
                    p.port.to_string(),
                    p.address.clone(),
                    p.failure
                        .map(|f| format!("{f:?}").to_lowercase())
                        .unwrap_or_else(|| "open".into()),
                    p.speaks
                        .map(|s| format!("{s:?}").to_lowercase())
                        .unwrap_or_default(),
                    format!("{} ms", p.ms),
                    p.banner.clone().unwrap_or_default(),
                ]
            })
            .collect();
        blocks.push(Block::Table(
            ["Port", "Address", "Answer", "Speaks", "Time", "Greeting"]
                .map(String::from)
                .to_vec(),
            rows,
        ));
    }
    if let Some(mx) = &body.mx {
        blocks.push(Block::Heading(2, format!("MX records of {}", mx.domain)));
        blocks.push(Block::List(
            mx.records
                .iter()
                .map(|r| {
                    let hop = body.hops.iter().find(|h| h.host == r.host);
                    format!(
                        "{} {} ({}){}",
                        r.preference,
                        r.host,
                        r.addresses.join(", "),
                        hop.map(|h| format!(": {} — {}", status_word(h.status), h.summary))
                            .unwrap_or_default()
                    )
                })
                .collect(),
        ));
    }

    // Each step.
    blocks.push(Block::Heading(2, "Steps".into()));
    let mut steps: Vec<_> = body.steps.iter().collect();
    steps.sort_by_key(|s| (s.conn, s.started_ms));
    let rows = steps
        .iter()
        .map(|s| {
            vec![
                s.conn.to_string(),
                s.name.clone(),
                match s.status {
                    StepStatus::Ok => "ok",
                    StepStatus::Warning => "warning",
                    StepStatus::Failed => "failed",
                    StepStatus::Skipped => "skipped",
                }
                .to_string(),
                format!("{} ms", s.started_ms),
                format!("{} ms", s.ms),
                s.summary.clone(),
            ]
        })
        .collect();
    blocks.push(Block::Table(
        ["Conn", "Step", "Status", "At", "Took", "Summary"]
            .map(String::from)
            .to_vec(),
        rows,
    ));

    // The verdict and the fix.
    blocks.push(Block::Heading(2, "Verdict".into()));
    let mut verdict = vec![
        format!("Status: {}{category}", status_word(v.status)),
        format!("Summary: {}", v.summary),
        format!("Retry: {}", retry_words(v)),
        format!(
            "Confidence: {}",
            format!("{:?}", v.confidence).to_lowercase()
        ),
    ];
    if !v.alternatives.is_empty() {
        let alts: Vec<String> = v.alternatives.iter().map(|c| c.to_string()).collect();
        verdict.push(format!("Could also be: {}", alts.join(", ")));
    }
    if !v.evidence.is_empty() {
        verdict.push(format!("Evidence: {}", v.evidence.join(", ")));
    }
    blocks.push(Block::List(verdict));
    if !v.fix.is_empty() {
        blocks.push(Block::Para(
            if v.status == Status::Ok {
                "Settings:"
            } else {
                "Fix:"
            }
            .into(),
        ));
        blocks.push(Block::Ordered(v.fix.clone()));
    }

    // Every finding with its evidence.
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
        blocks.push(Block::Heading(
            3,
            format!(
                "{} ({severity}{})",
                f.id,
                f.category.map(|c| format!(", {c}")).unwrap_or_default()
            ),
        ));
        blocks.push(Block::Para(f.summary.clone()));
        if !f.detail.is_empty() {
            blocks.push(Block::Para(f.detail.clone()));
        }
        if !f.fix.is_empty() {
            blocks.push(Block::Ordered(f.fix.clone()));
        }
        if !f.evidence.is_empty() {
            blocks.push(Block::Para(format!("Evidence: {}", f.evidence.join(", "))));
        }
    }

    // Certificates, per connection that reached TLS.
    blocks.push(Block::Heading(2, "Certificates".into()));
    let mut any_tls = false;
    for s in &body.sessions {
        let Some(t) = &s.tls else { continue };
        any_tls = true;
        blocks.push(Block::Heading(3, format!("Connection {}", s.conn)));
        let mut items = vec![format!(
            "TLS {} {} (handshake {} ms), SNI {}",
            t.version.as_deref().unwrap_or("not negotiated"),
            t.cipher.as_deref().unwrap_or(""),
            t.ms,
            t.sni.as_deref().unwrap_or("none")
        )];
        if let Some(ver) = &t.verification {
            items.push(format!(
                "Verification for {}: {}{} (trust: {})",
                ver.name,
                if ver.verified { "verified" } else { "FAILED" },
                ver.problem.map(|p| format!(", {p:?}")).unwrap_or_default()
                    + &ver
                        .detail
                        .as_ref()
                        .map(|d| format!(": {d}"))
                        .unwrap_or_default(),
                ver.trust.join(", ")
            ));
        }
        if let Some(f) = t.failure {
            items.push(format!(
                "Handshake failed: {f:?}{}",
                t.detail
                    .as_ref()
                    .map(|d| format!(": {d}"))
                    .unwrap_or_default()
            ));
        }
        blocks.push(Block::List(items));
        for (i, c) in t.chain.iter().enumerate() {
            blocks.push(Block::Table(
                vec![format!("Certificate {i}"), "".into()],
                vec![
                    kv("Subject", c.subject.clone()),
                    kv("Issuer", c.issuer.clone()),
                    kv("Names", c.sans.join(", ")),
                    kv("Valid", format!("{} to {}", c.not_before, c.not_after)),
                    kv("Key", format!("{} {} bits", c.key_algorithm, c.key_bits)),
                    kv(
                        "Kind",
                        format!(
                            "{}{}",
                            if c.is_ca { "CA" } else { "end entity" },
                            if c.self_issued { ", self-issued" } else { "" }
                        ),
                    ),
                    kv("SHA-256", c.sha256.clone()),
                    kv("SPKI SHA-256", c.spki_sha256.clone()),
                ],
            ));
        }
    }
    if !any_tls {
        blocks.push(Block::Para("No TLS handshake took place.".into()));
    }

    // The whole transcript, as the session layer recorded it (secrets already replaced).
    blocks.push(Block::Heading(2, "Transcript".into()));
    blocks.push(Block::Para(
        "Every line sent (C) and received (S), with milliseconds since the start, the connection \
         number and TLS (T); secrets show as [redacted]."
            .into(),
    ));
    let mut text = String::new();
    for e in &body.transcript.entries {
        let dir = match e.dir {
            Direction::Sent => "C:",
            Direction::Received => "S:",
            Direction::Note => "--",
        };
        let _ = writeln!(
            text,
            "{:>7}ms #{} {} {dir} {}",
            e.t_ms,
            e.conn,
            if e.tls { "T" } else { " " },
            e.text
        );
    }
    blocks.push(Block::Code(text));
    blocks
}

/// Replaces identities with stable placeholders: the username with `user-1`, other email
/// addresses with `address-N`, host names with `host-N`, IPv4 addresses with `ipv4-N` and IPv6
/// addresses with `ipv6-N`, numbered in order of first appearance. The same value always gets the
/// same placeholder within one report; ports are kept.
#[derive(Debug, Default)]
pub struct Masker {
    /// Known identities, longest first, and their placeholders.
    names: Vec<(String, String)>,
    ips: HashMap<String, String>,
    counts: HashMap<&'static str, usize>,
}

impl Masker {
    /// A masker for the identities a check report holds; `public_hosts` are left alone.
    pub fn for_report(report: &Report<CheckBody>, public_hosts: &[&str]) -> Masker {
        let mut m = Masker::default();
        let body = &report.body;
        let public = |h: &str| {
            public_hosts
                .iter()
                .any(|p| p.eq_ignore_ascii_case(h.trim_end_matches('.')))
        };
        if let Some(user) = target_str(report, "user") {
            m.add_name(&user, "user");
        }
        let mut addresses: Vec<String> = target_str(report, "from").into_iter().collect();
        if let Some(to) = report.target.get("to").and_then(|t| t.as_array()) {
            addresses.extend(to.iter().filter_map(|t| t.as_str().map(String::from)));
        }
        let mut hosts: Vec<String> = Vec::new();
        for a in &addresses {
            m.add_name(a, "address");
            if let Some((_, domain)) = a.rsplit_once('@') {
                hosts.push(domain.to_string());
            }
        }
        if let Some(user) = target_str(report, "user")
            && let Some((_, domain)) = user.rsplit_once('@')
        {
            hosts.push(domain.to_string());
        }
        hosts.extend(
            ["host", "domain", "helo"]
                .iter()
                .filter_map(|k| target_str(report, k)),
        );
        hosts.extend(body.resolve.iter().map(|r| r.name.clone()));
        hosts.extend(body.working_settings.iter().map(|w| w.host.clone()));
        if let Some(mx) = &body.mx {
            hosts.push(mx.domain.clone());
            hosts.extend(mx.records.iter().map(|r| r.host.clone()));
            hosts.extend(mx.records.iter().filter_map(|r| r.cname.clone()));
        }
        hosts.extend(body.hops.iter().map(|h| h.host.clone()));
        for s in &body.sessions {
            // The server names itself first in its greeting and EHLO reply.
            let replies = s
                .banner
                .iter()
                .filter_map(|b| b.reply.as_ref())
                .chain(s.ehlo.iter().map(|e| &e.reply))
                .chain(s.ehlo_tls.iter().map(|e| &e.reply));
            for r in replies {
                if let Some(word) = r.lines.first().and_then(|l| l.split_whitespace().next()) {
                    hosts.push(word.to_string());
                }
            }
            if let Some(t) = &s.tls {
                hosts.extend(t.sni.clone());
                hosts.extend(t.verification.iter().map(|v| v.name.clone()));
                for c in &t.chain {
                    hosts.extend(
                        c.sans
                            .iter()
                            .filter_map(|n| n.strip_prefix("DNS:"))
                            .map(|n| n.trim_start_matches("*.").to_string()),
                    );
                }
            }
        }
        for h in hosts {
            let h = h.trim_end_matches('.').trim_matches(['[', ']']);
            // Address literals are masked as addresses; a word without a dot is no host name.
            if h.contains('.') && h.parse::<std::net::IpAddr>().is_err() && !public(h) {
                m.add_name(h, "host");
            }
        }
        m
    }

    fn next(&mut self, kind: &'static str) -> String {
        let n = self.counts.entry(kind).or_default();
        *n += 1;
        format!("{kind}-{n}")
    }

    pub(crate) fn add_name(&mut self, name: &str, kind: &'static str) {
        if name.is_empty() || self.names.iter().any(|(n, _)| n.eq_ignore_ascii_case(name)) {
            return;
        }
        let placeholder = self.next(kind);
        self.names.push((name.to_string(), placeholder));
        // Longest first, so `rm@rig.test` goes whole before `rig.test` inside it.
        self.names.sort_by_key(|(n, _)| std::cmp::Reverse(n.len()));
    }

    /// Takes over another masker's names (its placeholders are renumbered in this one).
    pub(crate) fn absorb(&mut self, other: &Masker) {
        let mut names: Vec<&(String, String)> = other.names.iter().collect();
        // In the order the other masker numbered them, so numbering stays by first appearance.
        names.sort_by_key(|(_, p)| {
            let (kind, n) = p.rsplit_once('-').unwrap_or((p, "0"));
            (kind.to_string(), n.parse::<usize>().unwrap_or(0))
        });
        for (name, placeholder) in names {
            let kind = match placeholder.rsplit_once('-').map(|(k, _)| k) {
                Some("user") => "user",
                Some("address") => "address",
                _ => "host",
            };
            self.add_name(name, kind);
        }
    }

    /// The text with every known name and every IP address replaced.
    pub fn mask(&mut self, text: &str) -> String {
        let mut out = text.to_string();
        for (name, placeholder) in &self.names {
            out = replace_ignore_ascii_case(&out, name, placeholder);
        }
        self.mask_ips(&out)
    }

    fn mask_ips(&mut self, text: &str) -> String {
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        // Candidates are maximal runs of hex digits, dots and colons; a run that parses as an
        // address, or ends in `:PORT` after one, is replaced.
        while let Some(start) = rest.find(|c: char| c.is_ascii_hexdigit() || c == ':') {
            out.push_str(&rest[..start]);
            let tail = &rest[start..];
            let len = tail
                .find(|c: char| !(c.is_ascii_hexdigit() || c == ':' || c == '.'))
                .unwrap_or(tail.len());
            let token = &tail[..len];
            // A token glued to a word (`v1.2.3.4x`, `host-1`) is not an address.
            let glued = (!token.starts_with(':')
                && out
                    .chars()
                    .last()
                    .is_some_and(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'))
                || tail[len..]
                    .chars()
                    .next()
                    .is_some_and(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
            out.push_str(&if glued {
                token.to_string()
            } else {
                self.mask_token(token)
            });
            rest = &tail[len..];
        }
        out.push_str(rest);
        out
    }

    fn mask_token(&mut self, token: &str) -> String {
        let trimmed = token.trim_end_matches(['.', ':']);
        let suffix = &token[trimmed.len()..];
        let (addr, port) = match trimmed.rsplit_once(':') {
            // `1.2.3.4:25`: an IPv4 address with a port.
            Some((a, p)) if a.parse::<std::net::Ipv4Addr>().is_ok() => (a, Some(p)),
            _ => (trimmed, None),
        };
        let kind = match addr.parse::<std::net::IpAddr>() {
            Ok(std::net::IpAddr::V4(_)) => "ipv4",
            Ok(std::net::IpAddr::V6(_)) => "ipv6",
            // `IP:::1` (a certificate's name): the first colon is a separator.
            Err(_) if token.starts_with(':') && token.len() > 1 => {
                return format!(":{}", self.mask_token(&token[1..]));
            }
            Err(_) => return token.to_string(),
        };
        let key = addr.to_ascii_lowercase();
        let placeholder = match self.ips.get(&key) {
            Some(p) => p.clone(),
            None => {
                let p = self.next(kind);
                self.ips.insert(key, p.clone());
                p
            }
        };
        match port {
            Some(p) => format!("{placeholder}:{p}{suffix}"),
            None => format!("{placeholder}{suffix}"),
        }
    }
}

fn replace_ignore_ascii_case(text: &str, needle: &str, with: &str) -> String {
    if needle.is_empty() {
        return text.to_string();
    }
    let lower = text.to_ascii_lowercase();
    let needle = needle.to_ascii_lowercase();
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    // ASCII lower-casing keeps byte offsets, so matches in `lower` index `text` too.
    // Whole words only: a short login name (`rm`) must not eat into `form`.
    let word = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
    for (i, _) in lower.match_indices(&needle) {
        let end = i + needle.len();
        if i < last || word(text[..i].chars().next_back()) || word(text[end..].chars().next()) {
            continue;
        }
        out.push_str(&text[last..i]);
        out.push_str(with);
        last = i + needle.len();
    }
    out.push_str(&text[last..]);
    out
}

/// Escapes text for Markdown's inline context: the characters that would start markup.
fn md_inline(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '|' | '#' | '!' | '~' => {
                out.push('\\');
                out.push(c);
            }
            '\n' | '\r' => out.push(' '),
            _ => out.push(c),
        }
    }
    out
}

pub(crate) fn markdown(blocks: &[Block]) -> String {
    let mut out = String::new();
    for block in blocks {
        match block {
            Block::Heading(level, text) => {
                let _ = writeln!(out, "{} {}\n", "#".repeat(*level as usize), md_inline(text));
            }
            Block::Para(text) => {
                let _ = writeln!(out, "{}\n", md_inline(text));
            }
            Block::List(items) => {
                for item in items {
                    let _ = writeln!(out, "- {}", md_inline(item));
                }
                out.push('\n');
            }
            Block::Ordered(items) => {
                for (i, item) in items.iter().enumerate() {
                    let _ = writeln!(out, "{}. {}", i + 1, md_inline(item));
                }
                out.push('\n');
            }
            Block::Table(head, rows) => {
                let row = |cells: &[String]| {
                    let cells: Vec<String> = cells.iter().map(|c| md_inline(c)).collect();
                    format!("| {} |", cells.join(" | "))
                };
                let _ = writeln!(out, "{}", row(head));
                let _ = writeln!(out, "|{}", "---|".repeat(head.len()));
                for r in rows {
                    let _ = writeln!(out, "{}", row(r));
                }
                out.push('\n');
            }
            Block::Code(text) => {
                // A fence longer than any run of backticks inside, so no line can close it.
                let mut longest = 0;
                let mut run = 0;
                for c in text.chars() {
                    run = if c == '`' { run + 1 } else { 0 };
                    longest = longest.max(run);
                }
                let fence = "`".repeat((longest + 1).max(3));
                let _ = write!(out, "{fence}text\n{text}{fence}\n\n");
            }
        }
    }
    out
}

/// Escapes text for HTML content and attribute values.
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

const CSS: &str = "body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;line-height:1.4}\
table{border-collapse:collapse;margin:.5rem 0}td,th{border:1px solid #ccc;padding:.2rem .5rem;text-align:left;vertical-align:top}\
pre{background:#f4f4f4;padding:.5rem;overflow-x:auto;white-space:pre-wrap}";

pub(crate) fn html(blocks: &[Block]) -> String {
    let title = blocks
        .iter()
        .find_map(|b| match b {
            Block::Heading(1, t) => Some(t.as_str()),
            _ => None,
        })
        .unwrap_or("smtpdoctor report");
    let mut out = format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\n\
         <title>{}</title>\n<style>{CSS}</style>\n</head>\n<body>\n",
        escape_html(title)
    );
    for block in blocks {
        match block {
            Block::Heading(level, text) => {
                let _ = writeln!(out, "<h{level}>{}</h{level}>", escape_html(text));
            }
            Block::Para(text) => {
                let _ = writeln!(out, "<p>{}</p>", escape_html(text));
            }
            Block::List(items) | Block::Ordered(items) => {
                let tag = if matches!(block, Block::List(_)) {
                    "ul"
                } else {
                    "ol"
                };
                let _ = writeln!(out, "<{tag}>");
                for item in items {
                    let _ = writeln!(out, "<li>{}</li>", escape_html(item));
                }
                let _ = writeln!(out, "</{tag}>");
            }
            Block::Table(head, rows) => {
                out.push_str("<table>\n<tr>");
                for h in head {
                    let _ = write!(out, "<th>{}</th>", escape_html(h));
                }
                out.push_str("</tr>\n");
                for r in rows {
                    out.push_str("<tr>");
                    for c in r {
                        let _ = write!(out, "<td>{}</td>", escape_html(c));
                    }
                    out.push_str("</tr>\n");
                }
                out.push_str("</table>\n");
            }
            Block::Code(text) => {
                let _ = writeln!(out, "<pre>{}</pre>", escape_html(text));
            }
        }
    }
    out.push_str("</body>\n</html>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_escapes_everything() {
        let blocks = vec![
            Block::Heading(1, "<script>alert('x')</script>".into()),
            Block::Para("a & b \"c\"".into()),
            Block::Table(
                vec!["<th>".into()],
                vec![vec!["<img src=x onerror=alert(1)>".into()]],
            ),
            Block::Code("S: 550 <bad@example> & </pre>".into()),
        ];
        let page = html(&blocks);
        assert!(!page.contains("<script>"));
        assert!(!page.contains("<img"));
        assert!(!page.contains("</pre> &"));
        assert!(page.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"));
        assert!(page.contains("a &amp; b &quot;c&quot;"));
        assert!(page.contains("550 &lt;bad@example&gt; &amp; &lt;/pre&gt;"));
        // Self-contained: no link, script or remote reference of any kind.
        let plain = html(&[Block::Heading(1, "r".into()), Block::Code("x".into())]);
        for outside in [
            "<link", "<script", "src=", "href=", "http://", "https://", "url(",
        ] {
            assert!(!plain.contains(outside), "{outside}");
        }
    }

    #[test]
    fn markdown_fence_outlasts_backticks() {
        let out = markdown(&[Block::Code("S: ```\n".into())]);
        assert!(out.starts_with("````text\n"), "{out}");
    }

    #[test]
    fn masks_addresses_stably() {
        let mut m = Masker::default();
        m.add_name("me@corp.example", "user");
        m.add_name("corp.example", "host");
        m.add_name("rm", "user");
        assert_eq!(
            m.mask("me@corp.example from 127.0.0.1:50412 to [::1]:25, again 127.0.0.1; mx.corp.example v1.2.3.4x"),
            "user-1 from ipv4-1:50412 to [ipv6-1]:25, again ipv4-1; mx.host-1 v1.2.3.4x"
        );
        assert_eq!(m.mask("2001:db8::1 and 10.0.0.1."), "ipv6-2 and ipv4-2.");
        assert_eq!(m.mask("rm, form"), "user-2, form");
        assert_eq!(m.mask("250-corp.example IP:::1"), "250-host-1 IP:ipv6-1");
        // Times and version numbers are no addresses.
        assert_eq!(m.mask("09:23:03 5.7.1 1.2.3"), "09:23:03 5.7.1 1.2.3");
    }

    #[test]
    fn format_from_the_file_name() {
        assert_eq!(
            Format::for_path(std::path::Path::new("r.HTML")),
            Format::Html
        );
        assert_eq!(
            Format::for_path(std::path::Path::new("r.md")),
            Format::Markdown
        );
        assert_eq!(
            Format::for_path(std::path::Path::new("r")),
            Format::Markdown
        );
    }
}
