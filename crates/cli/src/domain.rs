//! `smtpdoctor domain`: one domain (human or JSON), or many with `--domains` (JSON lines, a few
//! at once, in input order, the summary on stderr).

use crate::UsageError;
use crate::args::{DomainArgs, DomainFormat};
use smtpdoctor_diagnose::diagnose_domain;
use smtpdoctor_render::Palette;
use smtpdoctor_report::domain::DomainBody;
use smtpdoctor_report::{Category, ExitCode, Report, SCHEMA_VERSION, Status};
use smtpdoctor_session::domain::{self, DEFAULT_DNSBL, DEFAULT_RHSBL, DomainOptions};
use smtpdoctor_session::target::{self, Resolution};
use smtpdoctor_session::{Trust, dnssec::Anchors};
use smtpdoctor_spf::HickoryResolver;
use std::collections::BTreeMap;
use std::io::{BufRead, Write};
use std::sync::Arc;
use std::time::Duration;

/// The exit code of one domain: problems are 1 (a failing check, contract), DNS failures 10.
fn exit_code(report: &Report<DomainBody>) -> ExitCode {
    match (report.verdict.status, report.verdict.category) {
        (Status::Ok, _) => ExitCode::Ok,
        (Status::Inconclusive, _) => ExitCode::Inconclusive,
        (Status::Problem, Some(Category::Dns)) => ExitCode::Network,
        (Status::Problem, _) => ExitCode::Problem,
    }
}

fn valid_domain(text: &str) -> Result<String, UsageError> {
    let bad = |why: &str| UsageError(format!("'{text}' is not a domain: {why}"));
    let (host, port) = target::parse_host_port(text).map_err(UsageError)?;
    if port.is_some() {
        return Err(bad("give the domain without a port"));
    }
    if host.parse::<std::net::IpAddr>().is_ok() {
        return Err(bad(
            "give a domain name, not an address (use --ip for addresses)",
        ));
    }
    let d = host.trim_end_matches('.').to_ascii_lowercase();
    if !d.contains('.') && d != "localhost" {
        return Err(bad("a mail domain has at least two labels"));
    }
    Ok(d)
}

fn options(args: &DomainArgs, domain: String) -> Result<DomainOptions, UsageError> {
    let secs = |name: &str, v: f64| {
        if v.is_finite() && v > 0.0 && v <= 86_400.0 {
            Ok(Duration::from_secs_f64(v))
        } else {
            Err(UsageError(format!(
                "{name} {v}: give a number of seconds above 0"
            )))
        }
    };
    let timeout = secs("--timeout", args.net.timeout)?;
    secs("--deadline", args.net.deadline)?;
    let anchors = match &args.net.trust_anchor {
        Some(path) => Anchors::load(path).map_err(UsageError)?,
        None => Anchors::default(),
    };
    let family = match (args.net.ipv4, args.net.ipv6) {
        (true, false) => Some(target::Family::V4),
        (false, true) => Some(target::Family::V6),
        _ => None,
    };
    let zones = |given: &[String], default: &[&str]| -> Result<Vec<String>, UsageError> {
        let list: Vec<String> = if given.is_empty() {
            default.iter().map(|z| z.to_string()).collect()
        } else {
            given.to_vec()
        };
        for z in &list {
            valid_domain(z)?;
        }
        Ok(list)
    };
    if let Some(h) = &args.helo {
        target::parse_host_port(h).map_err(UsageError)?;
    }
    for s in &args.dkim_selectors {
        let ok = !s.is_empty()
            && s.len() <= 63 * 4
            && s.split('.').all(|l| {
                !l.is_empty()
                    && l.len() <= 63
                    && l.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            });
        if !ok {
            return Err(UsageError(format!(
                "--dkim-selector '{s}' is not a DNS label (letters, digits, '-', '_')"
            )));
        }
    }
    Ok(DomainOptions {
        domain,
        ips: args.ips.clone(),
        helo: args.helo.clone(),
        selectors: args
            .dkim_selectors
            .iter()
            .map(|s| s.to_ascii_lowercase())
            .collect(),
        dnsbl: zones(&args.dnsbl, DEFAULT_DNSBL)?,
        rhsbl: zones(&args.rhsbl, DEFAULT_RHSBL)?,
        resolution: Resolution {
            overrides: args.net.resolve.clone(),
            connect_to: args.net.connect_to.clone(),
            dns: args.net.dns,
            family,
        },
        trust: Trust::load(args.net.ca_file.as_deref()).map_err(UsageError)?,
        anchors,
        timeout,
        shared: Default::default(),
    })
}

/// Probes and judges one domain; the run is bounded by `deadline` whatever happens inside.
async fn one(
    opts: &DomainOptions,
    resolver: &HickoryResolver,
    deadline: Duration,
) -> Report<DomainBody> {
    let started = std::time::Instant::now();
    let evidence = match tokio::time::timeout(deadline, domain::probe(opts, resolver)).await {
        Ok(e) => e,
        Err(_) => {
            // Every query and step is bounded; this only guards against a bug.
            eprintln!(
                "smtpdoctor: internal error: {} overran its deadline; this is a bug",
                opts.domain
            );
            std::process::exit(ExitCode::Internal.code() as i32);
        }
    };
    let diagnosis = diagnose_domain(&evidence);
    Report {
        schema_version: SCHEMA_VERSION,
        command: "domain".into(),
        tool_version: env!("CARGO_PKG_VERSION").into(),
        knowledge_version: crate::KNOWLEDGE.into(),
        target: serde_json::to_value(&evidence.target).unwrap_or_default(),
        started_at: evidence.started_at.clone(),
        duration_ms: started.elapsed().as_millis() as u64,
        verdict: diagnosis.verdict,
        findings: diagnosis.findings,
        body: diagnosis.body,
    }
}

pub async fn run(args: DomainArgs, palette: Palette) -> Result<ExitCode, UsageError> {
    let deadline = Duration::from_secs_f64(args.net.deadline.clamp(0.001, 86_400.0))
        + Duration::from_secs_f64(args.net.timeout.clamp(0.001, 86_400.0)) * 2
        + Duration::from_secs(5);
    if let Some(path) = args.domains.clone() {
        return many(args, &path, deadline).await;
    }
    let domain = valid_domain(args.domain.as_deref().unwrap_or_default())?;
    let opts = options(&args, domain)?;
    let resolver = domain::resolver(&opts).map_err(UsageError)?;
    let spinner = crate::spinner(args.format == DomainFormat::Human);
    spinner.set_message(format!("{}…", opts.domain));
    let report = one(&opts, &resolver, deadline).await;
    spinner.finish_and_clear();
    match args.format {
        DomainFormat::Json => println!("{}", smtpdoctor_render::json(&report)),
        DomainFormat::Jsonl => println!("{}", serde_json::to_string(&report).unwrap_or_default()),
        DomainFormat::Human => print!("{}", smtpdoctor_render::domain::domain(&report, palette)),
    }
    Ok(exit_code(&report))
}

fn read_domains(path: &std::path::Path) -> Result<Vec<String>, UsageError> {
    let reader: Box<dyn BufRead> = if path.as_os_str() == "-" {
        Box::new(std::io::stdin().lock())
    } else {
        let f = std::fs::File::open(path)
            .map_err(|e| UsageError(format!("--domains {}: {e}", path.display())))?;
        Box::new(std::io::BufReader::new(f))
    };
    let mut out = Vec::new();
    for (n, line) in reader.lines().enumerate() {
        let line = line.map_err(|e| UsageError(format!("--domains {}: {e}", path.display())))?;
        let text = line.split('#').next().unwrap_or("").trim();
        if text.is_empty() {
            continue;
        }
        let d = valid_domain(text).map_err(|UsageError(e)| {
            UsageError(format!("--domains {} line {}: {e}", path.display(), n + 1))
        })?;
        out.push(d);
    }
    Ok(out)
}

/// `--domains FILE`: at most `--jobs` domains at once, one JSON line each in input order (a
/// line waits for the ones before it), and the tally on stderr.
async fn many(
    args: DomainArgs,
    path: &std::path::Path,
    deadline: Duration,
) -> Result<ExitCode, UsageError> {
    let domains = read_domains(path)?;
    let base = Arc::new(options(&args, String::new())?);
    let resolver = domain::resolver(&base).map_err(UsageError)?;
    let started = std::time::Instant::now();
    let mut set = tokio::task::JoinSet::new();
    let mut pending: BTreeMap<usize, Report<DomainBody>> = BTreeMap::new();
    let mut next = 0;
    let (mut ok, mut problems, mut dns) = (0usize, 0usize, 0usize);
    let stdout = std::io::stdout();
    let write = |report: &Report<DomainBody>| {
        let mut lock = stdout.lock();
        let _ = writeln!(
            lock,
            "{}",
            serde_json::to_string(report).unwrap_or_default()
        );
        let _ = lock.flush();
    };
    let mut queue = domains.iter().enumerate();
    loop {
        while set.len() < usize::from(args.jobs) {
            let Some((i, d)) = queue.next() else { break };
            let opts = DomainOptions {
                domain: d.clone(),
                ..(*base).clone()
            };
            let resolver = resolver.clone();
            set.spawn(async move { (i, one(&opts, &resolver, deadline).await) });
        }
        let Some(done) = set.join_next().await else {
            break;
        };
        let Ok((i, report)) = done else {
            return Ok(ExitCode::Internal);
        };
        pending.insert(i, report);
        while let Some(report) = pending.remove(&next) {
            match exit_code(&report) {
                ExitCode::Ok => ok += 1,
                ExitCode::Network => dns += 1,
                _ => problems += 1,
            }
            write(&report);
            next += 1;
        }
    }
    let secs = started.elapsed().as_secs_f64();
    eprintln!(
        "smtpdoctor domain: {} domain(s) in {:.1} s ({:.1}/s): {ok} ok, {problems} with problems, {dns} with DNS failures",
        domains.len(),
        secs,
        domains.len() as f64 / secs.max(0.001)
    );
    Ok(if problems > 0 {
        ExitCode::Problem
    } else if dns > 0 {
        ExitCode::Network
    } else {
        ExitCode::Ok
    })
}
