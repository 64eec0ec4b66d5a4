//! `smtpdoctor domain`: one domain (human or JSON), or many with `--domains` (JSON lines, a few
//! at once, in input order, the summary on stderr).

use crate::UsageError;
use crate::args::{DkimGuess, DomainArgs, DomainFormat};
use smtpdoctor_diagnose::{Unfinished, diagnose_domain, diagnose_unfinished};
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
        guess_selectors: args.dkim_guess == DkimGuess::Common,
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

/// With `--domains`, the most one domain may take, in steps of `--timeout`: room for its
/// longest chain of dependent look-ups (MX, addresses, DNSSEC, TLSA, a port-25 session) so that
/// one silent name server cannot hold a slot for the whole run.
const STEPS_PER_DOMAIN: u32 = 8;

fn report(
    diagnosis: smtpdoctor_diagnose::DomainDiagnosis,
    target: &smtpdoctor_report::domain::DomainTarget,
    started_at: String,
    duration_ms: u64,
) -> Report<DomainBody> {
    Report {
        schema_version: SCHEMA_VERSION,
        command: "domain".into(),
        tool_version: env!("CARGO_PKG_VERSION").into(),
        knowledge_version: crate::KNOWLEDGE.into(),
        target: serde_json::to_value(target).unwrap_or_default(),
        started_at,
        duration_ms,
        verdict: diagnosis.verdict,
        findings: diagnosis.findings,
        body: diagnosis.body,
    }
}

fn now_rfc3339() -> String {
    smtpdoctor_session::tls::rfc3339(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0),
    )
}

/// A domain that was not judged: its bound passed, or the run's did before it started.
fn unfinished(opts: &DomainOptions, why: Unfinished, bound: Duration) -> Report<DomainBody> {
    let target = domain::target(opts);
    let diagnosis = diagnose_unfinished(&target.domain, &domain::resolver_name(opts), why, bound);
    let ms = if why == Unfinished::Deadline {
        bound.as_millis() as u64
    } else {
        0
    };
    report(diagnosis, &target, now_rfc3339(), ms)
}

/// Probes and judges one domain within `bound`; when it passes first, the report says so
/// (inconclusive) instead of judging half the evidence.
async fn one(
    opts: &DomainOptions,
    resolver: &HickoryResolver,
    bound: Duration,
) -> Report<DomainBody> {
    let started = std::time::Instant::now();
    let Ok(evidence) = tokio::time::timeout(bound, domain::probe(opts, resolver)).await else {
        return unfinished(opts, Unfinished::Deadline, bound);
    };
    let diagnosis = diagnose_domain(&evidence);
    report(
        diagnosis,
        &evidence.target,
        evidence.started_at.clone(),
        started.elapsed().as_millis() as u64,
    )
}

pub async fn run(args: DomainArgs, palette: Palette) -> Result<ExitCode, UsageError> {
    let deadline = Duration::from_secs_f64(args.net.deadline.clamp(0.001, 86_400.0));
    // One resolver (one cache) for every probe of the run: this process runs one command.
    target::share_resolvers();
    if let Some(path) = args.domains.clone() {
        let domains = read_domains(&path)?;
        let base = options(&args, String::new())?;
        // A batch is many independent look-ups: every core helps (one domain uses one thread).
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        let jobs = usize::from(args.jobs);
        return std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(threads)
                .enable_all()
                .build()
                .map_err(|e| UsageError(format!("cannot start the runtime: {e}")))?;
            runtime.block_on(many(domains, base, jobs, deadline))
        })
        .join()
        .unwrap_or(Ok(ExitCode::Internal));
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

/// `--domains FILE`: at most `jobs` domains at once, one JSON line each in input order (a line
/// waits for the ones before it), and the tally on stderr. The whole run is bounded by
/// `--deadline`, each domain by [`STEPS_PER_DOMAIN`] × `--timeout` within it; every domain gets
/// its line, also one that the run's deadline left unchecked.
async fn many(
    domains: Vec<String>,
    base: DomainOptions,
    jobs: usize,
    deadline: Duration,
) -> Result<ExitCode, UsageError> {
    let base = Arc::new(base);
    let resolver = domain::resolver(&base).map_err(UsageError)?;
    let started = std::time::Instant::now();
    let run_ends = started + deadline;
    let per_domain = base.timeout * STEPS_PER_DOMAIN;
    let mut set = tokio::task::JoinSet::new();
    let mut pending: BTreeMap<usize, Report<DomainBody>> = BTreeMap::new();
    let mut next = 0;
    let (mut ok, mut problems, mut dns, mut unfinished_count) = (0usize, 0usize, 0usize, 0usize);
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
        while set.len() < jobs {
            let Some((i, d)) = queue.next() else { break };
            let opts = DomainOptions {
                domain: d.clone(),
                ..(*base).clone()
            };
            let now = std::time::Instant::now();
            if now >= run_ends {
                pending.insert(i, unfinished(&opts, Unfinished::NotStarted, deadline));
                continue;
            }
            let bound = per_domain.min(run_ends - now);
            let resolver = resolver.clone();
            set.spawn(async move { (i, one(&opts, &resolver, bound).await) });
        }
        let done = set.join_next().await;
        if let Some(done) = done {
            let Ok((i, report)) = done else {
                return Ok(ExitCode::Internal);
            };
            pending.insert(i, report);
        }
        while let Some(report) = pending.remove(&next) {
            match exit_code(&report) {
                ExitCode::Ok => ok += 1,
                ExitCode::Network => dns += 1,
                ExitCode::Inconclusive => unfinished_count += 1,
                _ => problems += 1,
            }
            write(&report);
            next += 1;
        }
        if set.is_empty() && next >= domains.len() {
            break;
        }
    }
    let secs = started.elapsed().as_secs_f64();
    let unfinished_words = if unfinished_count > 0 {
        format!(
            ", {unfinished_count} not finished in time (--deadline {:.0} s, at most {:.0} s a domain)",
            deadline.as_secs_f64(),
            per_domain.as_secs_f64()
        )
    } else {
        String::new()
    };
    eprintln!(
        "smtpdoctor domain: {} domain(s) in {:.1} s ({:.1}/s): {ok} ok, {problems} with problems, {dns} with DNS failures{unfinished_words}",
        domains.len(),
        secs,
        domains.len() as f64 / secs.max(0.001)
    );
    Ok(if problems > 0 {
        ExitCode::Problem
    } else if dns > 0 {
        ExitCode::Network
    } else if unfinished_count > 0 {
        ExitCode::Inconclusive
    } else {
        ExitCode::Ok
    })
}
