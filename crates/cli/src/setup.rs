//! `smtpdoctor setup ADDRESS`: discovery (session), candidates and trust (rules), a check of
//! every candidate (the `check` ladder, several at once; a host's trusted candidates in turn so
//! that the password is tried at most once per host), then the ranking, the verdict and the
//! output.

use crate::args::{Format, SetupArgs, TlsArg};
use crate::{UsageError, report, secrets, spinner, validate_address};
use smtpdoctor_diagnose::setup::{self as rules, Found};
use smtpdoctor_render::Palette;
use smtpdoctor_report::check::TlsMode;
use smtpdoctor_report::setup::{CandidateCheck, Setting, SetupBody, SourceKind, SourceStatus};
use smtpdoctor_report::{ExitCode, Report, SCHEMA_VERSION};
use smtpdoctor_session::autoconfig::Ispdb;
use smtpdoctor_session::redact::Redactor;
use smtpdoctor_session::target::{self, Resolution};
use smtpdoctor_session::{CheckOptions, Credential, Trust, run_check_redacting};
use std::collections::HashSet;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn seconds(name: &str, v: f64) -> Result<Duration, UsageError> {
    if v.is_finite() && v > 0.0 && v <= 86_400.0 {
        Ok(Duration::from_secs_f64(v))
    } else {
        Err(UsageError(format!(
            "{name} {v}: give a number of seconds above 0"
        )))
    }
}

/// The `--server` entries as settings the user vouches for.
fn user_servers(args: &SetupArgs) -> Result<Vec<Setting>, UsageError> {
    args.servers
        .iter()
        .map(|text| {
            let (host, port) = target::parse_host_port(text).map_err(UsageError)?;
            let port = port.ok_or_else(|| {
                UsageError(format!(
                    "--server {text}: give HOST:PORT (for example smtp.example.com:465)"
                ))
            })?;
            let security = match args.server_tls {
                Some(TlsArg::Implicit) => TlsMode::Implicit,
                Some(TlsArg::Starttls) => TlsMode::Starttls,
                Some(TlsArg::None) => TlsMode::None,
                // Without --server-tls the test finds out, as `check --tls auto` does.
                Some(TlsArg::Auto) | None => TlsMode::Auto,
            };
            Ok(Setting {
                host: host_key(&host),
                port,
                security,
                username: args.user.clone(),
                auth: Vec::new(),
                note: None,
            })
        })
        .collect()
}

/// Runs `setup`.
pub async fn run(args: SetupArgs, palette: Palette) -> Result<ExitCode, UsageError> {
    if args.password_argv.is_some() {
        return Err(UsageError(
            "passwords are never taken from the command line (other users can read it): use --password-env VAR, --password-file FILE or --ask-password".into(),
        ));
    }
    let address = args.address.trim().to_string();
    validate_address(&address)?;
    let Some((local, domain)) = address.rsplit_once('@') else {
        return Err(UsageError(format!(
            "'{address}' is not an email address (local@domain)"
        )));
    };
    // DNS and the sources know the domain in A-labels: `a@bücher.de` is asked as xn--bcher-kva.de.
    let domain = smtpdoctor_session::autoconfig::mail_domain(domain)
        .map_err(|e| UsageError(format!("'{address}' is not a usable email address: {e}")))?;
    let address = format!("{local}@{domain}");
    if let Some(path) = &args.report {
        report::check_path(path).map_err(UsageError)?;
    }
    if args.net.trust_anchor.is_some() {
        return Err(UsageError(
            "--trust-anchor is for DANE (check --mx); setup does not use it".into(),
        ));
    }
    let user_settings = user_servers(&args)?;
    let ispdb = if args.no_ispdb {
        None
    } else {
        Some(Ispdb::parse(args.ispdb.as_deref().unwrap_or(Ispdb::DEFAULT)).map_err(UsageError)?)
    };
    let credential = secrets::read(
        &secrets::Sources {
            password_env: args.password_env.as_deref(),
            password_file: args.password_file.as_deref(),
            oauth_token_env: args.oauth_token_env.as_deref(),
            oauth_token_file: args.oauth_token_file.as_deref(),
        },
        (args.ask_password || args.user.is_some())
            .then(|| args.user.as_deref().unwrap_or(&address)),
    )?;
    let trust = Trust::load(args.net.ca_file.as_deref()).map_err(UsageError)?;
    let timeout = seconds("--timeout", args.net.timeout)?;
    let deadline = seconds("--deadline", args.net.deadline)?;
    let resolution = Resolution {
        overrides: args.net.resolve.clone(),
        connect_to: args.net.connect_to.clone(),
        dns: args.net.dns,
        family: match (args.net.ipv4, args.net.ipv6) {
            (true, false) => Some(target::Family::V4),
            (false, true) => Some(target::Family::V6),
            _ => None,
        },
    };
    let started = Instant::now();
    let started_at = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    let spinner = spinner(args.format == Format::Human);
    spinner.set_message("looking for settings (SRV, autoconfig, ISP database, MX, SPF)…");
    let options = smtpdoctor_session::discover::Options {
        ispdb,
        psl: smtpdoctor_session::discover::system_psl(),
    };
    // Every look-up is bounded (at most twice the step timeout; the MX's domain is asked after
    // the MX); each source is also cut off on its own at this bound, which keeps discovery inside
    // the run's deadline. A source cut off says so; the others are kept.
    let discovery = smtpdoctor_session::discover::discover(
        &address,
        &domain,
        &resolution,
        &trust,
        timeout,
        &options,
        Instant::now() + deadline.min(timeout * 4),
    )
    .await;
    let found = Found {
        sources: discovery.sources,
        mx_hosts: discovery.mx_hosts,
        mx_detail: discovery.mx_detail,
        mx_ms: discovery.mx_ms,
        spf_includes: discovery.spf_includes,
        spf_detail: discovery.spf_detail,
        spf_ms: discovery.spf_ms,
    };
    let mut sources = rules::sources(&address, &user_settings, found);
    if args.no_guess {
        for s in sources.iter_mut().filter(|s| s.kind == SourceKind::Guess) {
            s.status = SourceStatus::Skipped;
            s.detail = "not tried (--no-guess)".into();
            s.settings.clear();
        }
    }
    let mut candidates = rules::candidates(&address, args.user.as_deref(), &sources);
    spinner.set_message(format!("testing {} candidate settings…", candidates.len()));
    let base = CheckOptions {
        host: String::new(),
        port: 0,
        tls: TlsMode::Auto,
        helo: args.helo.clone(),
        user: None,
        credential: None,
        auth_mechanism: None,
        from: None,
        to: Vec::new(),
        send: false,
        trust,
        insecure: false,
        resolution,
        timeout,
        deadline,
        sniff_after: Duration::from_secs(2).min(timeout),
        ports: Vec::new(),
        control: None,
        proxy: None,
        // A client sends its password over this: the certificate must verify, port 25 included.
        require_verified_tls: true,
        tlsa: Vec::new(),
    };
    let Ok(results) = test_all(
        &candidates,
        &base,
        credential.clone(),
        started + deadline,
        args.jobs as usize,
    )
    .await
    else {
        return Ok(ExitCode::Internal);
    };
    for (i, (check, sent)) in results {
        candidates[i].check = Some(check);
        candidates[i].credentials_sent = sent;
    }
    spinner.finish_and_clear();
    let mut body = SetupBody {
        sources,
        candidates,
        recommended: None,
        disagreements: Vec::new(),
    };
    let diagnosis = rules::judge(&address, credential.is_some(), &mut body);
    let mut report = Report {
        schema_version: SCHEMA_VERSION,
        command: "setup".into(),
        tool_version: env!("CARGO_PKG_VERSION").into(),
        knowledge_version: crate::KNOWLEDGE.into(),
        target: serde_json::json!({
            "address": address,
            "domain": domain,
            "user": args.user,
            "servers": args.servers,
            "credentials": credential.as_ref().map(|c| match c {
                Credential::Password(_) => "password",
                Credential::Token(_) => "token",
            }),
        }),
        started_at,
        duration_ms: started.elapsed().as_millis() as u64,
        verdict: diagnosis.verdict,
        findings: diagnosis.findings,
        body,
    };
    crate::add_public_ip(&mut report.target, args.public_ip);
    match args.format {
        Format::Json => println!("{}", smtpdoctor_render::json(&report)),
        Format::Human => print!(
            "{}",
            smtpdoctor_render::setup::human(&report, palette, args.transcript)
        ),
    }
    if let Some(path) = &args.report {
        // Providers' public servers say nothing about the user: they stay readable when masked.
        let mut public: Vec<&str> = smtpdoctor_knowledge::hosts::WELL_KNOWN_HOSTS.to_vec();
        public.extend(
            smtpdoctor_knowledge::presets::PROVIDERS
                .iter()
                .flat_map(|p| p.servers.iter().map(|s| s.host)),
        );
        let text = smtpdoctor_render::setup::report(
            &report,
            &smtpdoctor_render::report::Options {
                format: smtpdoctor_render::report::Format::for_path(path),
                redact_identity: args.redact_identity,
                public_hosts: &public,
            },
        );
        if let Err((code, message)) = report::write_text(path, &text, credential.as_ref()) {
            eprintln!("smtpdoctor: error: {message}");
            return Ok(code);
        }
    }
    Ok(ExitCode::for_verdict(
        report.verdict.status,
        report.verdict.category,
    ))
}

/// What the run learnt about password attempts, shared by every candidate's task.
#[derive(Default)]
struct Attempts {
    /// A login was accepted or refused for good somewhere: a wrong password is wrong on every
    /// host of the provider, and a right one needs no second proof, so it is not sent again.
    settled: bool,
    /// Every address of each host that had an attempt: the same server under another name
    /// (`localhost`, `127.0.0.1`, a CNAME) gets none.
    addresses: HashSet<IpAddr>,
}

/// A host name as one server: lower case, without the root's dot or an IP literal's brackets.
fn host_key(host: &str) -> String {
    host.trim_end_matches('.')
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_ascii_lowercase()
}

/// Whether an AUTH reply settles the password: accepted (2xx) or refused for good (5xx), but not
/// a mechanism the server does not know (504) or a demand for encryption (538).
fn settles(code: u16) -> bool {
    (200..300).contains(&code) || ((500..600).contains(&code) && code != 504 && code != 538)
}

/// Tests every candidate, at most `jobs` at once. The password goes to trusted candidates only,
/// one attempt at a time (a run-wide lock), at most once per server (by resolved address, so two
/// names for one machine share the attempt) and not at all once a login was accepted or refused
/// for good. The trusted candidates of one host run in turn, best first, so the attempt goes to
/// its best port. Every check scrubs the run's secret, whether or not it sent it: a server can
/// echo the password on any connection. Returns each tested candidate's index, its check, and
/// whether the password was really sent; `Err` when a task panicked.
async fn test_all(
    candidates: &[smtpdoctor_report::setup::Candidate],
    base: &CheckOptions,
    credential: Option<Credential>,
    until: Instant,
    jobs: usize,
) -> Result<Vec<(usize, (CandidateCheck, bool))>, ()> {
    // In the candidates' order: a trusted host's chain where its first candidate stands.
    let mut order: Vec<(Option<String>, Vec<usize>)> = Vec::new();
    for (i, c) in candidates.iter().enumerate() {
        let key = host_key(&c.host);
        if !c.trusted {
            order.push((None, vec![i]));
        } else if let Some((_, chain)) = order
            .iter_mut()
            .find(|(host, _)| host.as_deref() == Some(key.as_str()))
        {
            chain.push(i);
        } else {
            order.push((Some(key), vec![i]));
        }
    }
    let mut redactor = Redactor::default();
    if let Some(c) = &credential {
        redactor.add_secret(c.secret());
    }
    let gate = Arc::new(tokio::sync::Mutex::new(Attempts::default()));
    let limit = Arc::new(tokio::sync::Semaphore::new(jobs.max(1)));
    let mut set = tokio::task::JoinSet::new();
    for (_, indices) in order {
        let plan: Vec<(usize, smtpdoctor_report::setup::Candidate)> = indices
            .into_iter()
            .map(|i| (i, candidates[i].clone()))
            .collect();
        let (base, credential, limit) = (base.clone(), credential.clone(), limit.clone());
        let (gate, redactor) = (gate.clone(), redactor.clone());
        set.spawn(async move {
            let Ok(_permit) = limit.acquire_owned().await else {
                return Vec::new();
            };
            let left = || {
                until
                    .checked_duration_since(Instant::now())
                    .filter(|d| !d.is_zero())
            };
            let mut out = Vec::new();
            let mut auth_tried = false;
            for (i, c) in plan {
                let wants =
                    c.trusted && !auth_tried && c.security != TlsMode::None && credential.is_some();
                // Held for the whole check that may carry the password: attempts never overlap,
                // so each one knows what the others showed.
                let mut held = if wants {
                    Some(gate.clone().lock_owned().await)
                } else {
                    None
                };
                let Some(remaining) = left() else { break };
                let mut addresses: Vec<IpAddr> = Vec::new();
                if let Some(state) = &held {
                    if !state.settled {
                        let (_, resolved) = target::resolve(
                            &c.host,
                            c.port,
                            &base.resolution,
                            base.timeout.min(remaining),
                        )
                        .await;
                        addresses = resolved.iter().map(|a| a.ip()).collect();
                    }
                    if state.settled || addresses.iter().any(|a| state.addresses.contains(a)) {
                        held = None;
                    }
                }
                let carry = held.is_some();
                let Some(remaining) = left() else { break };
                let opts = CheckOptions {
                    host: c.host.clone(),
                    port: c.port,
                    tls: c.security,
                    user: if carry { c.username.clone() } else { None },
                    credential: if carry { credential.clone() } else { None },
                    deadline: remaining,
                    ..base.clone()
                };
                let run = run_check_redacting(&opts, &|_: &str| {}, redactor.clone()).await;
                let (report, _) = crate::build_report(&opts, run, None);
                let attempts: Vec<_> = report
                    .body
                    .sessions
                    .iter()
                    .filter(|s| s.auth.as_ref().is_some_and(|a| a.mechanism.is_some()))
                    .collect();
                let sent = !attempts.is_empty();
                if let Some(state) = held.as_mut()
                    && sent
                {
                    auth_tried = true;
                    state.addresses.extend(addresses);
                    state.addresses.extend(attempts.iter().flat_map(|s| {
                        s.connects
                            .iter()
                            .filter_map(|a| a.address.parse::<SocketAddr>().ok())
                            .map(|a| a.ip())
                    }));
                    state.settled |= attempts.iter().any(|s| {
                        s.auth
                            .as_ref()
                            .and_then(|a| a.reply.as_ref())
                            .is_some_and(|r| settles(r.code))
                    });
                }
                drop(held);
                out.push((
                    i,
                    (
                        CandidateCheck {
                            verdict: report.verdict,
                            findings: report.findings,
                            steps: report.body.steps,
                            sessions: report.body.sessions,
                            transcript: report.body.transcript,
                            duration_ms: report.duration_ms,
                        },
                        sent,
                    ),
                ));
            }
            out
        });
    }
    let mut all = Vec::new();
    while let Some(done) = set.join_next().await {
        match done {
            Ok(results) => all.extend(results),
            // The panic hook has printed it; a lost candidate must not pass for an untested one.
            Err(e) if e.is_panic() => return Err(()),
            Err(_) => {}
        }
    }
    Ok(all)
}
