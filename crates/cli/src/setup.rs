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
use smtpdoctor_session::target::{self, Resolution};
use smtpdoctor_session::{CheckOptions, Credential, Trust, run_check};
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
                host: host.to_ascii_lowercase(),
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
    let Some((_, domain)) = address.rsplit_once('@') else {
        return Err(UsageError(format!(
            "'{address}' is not an email address (local@domain)"
        )));
    };
    let domain = domain.trim_end_matches('.').to_ascii_lowercase();
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
    // the MX, within three); this bound only keeps discovery inside the run's deadline.
    let discovery = tokio::time::timeout(
        deadline.min(timeout * 4),
        smtpdoctor_session::discover::discover(
            &address,
            &domain,
            &resolution,
            &trust,
            timeout,
            &options,
        ),
    )
    .await
    .ok();
    let found = match discovery {
        Some(d) => Found {
            sources: d.sources,
            mx_hosts: d.mx_hosts,
            mx_detail: d.mx_detail,
            mx_ms: d.mx_ms,
            spf_includes: d.spf_includes,
            spf_detail: d.spf_detail,
            spf_ms: d.spf_ms,
        },
        None => Found {
            mx_detail: "not finished before the deadline".into(),
            spf_detail: "not finished before the deadline".into(),
            ..Default::default()
        },
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
    let results = test_all(
        &candidates,
        &base,
        credential.clone(),
        started + deadline,
        args.jobs as usize,
    )
    .await;
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

/// Tests every candidate, at most `jobs` at once. The trusted candidates of one host are tested
/// in turn, best first, so that the password goes there at most once (until one AUTH attempt was
/// made); every other candidate never carries it and is tested on its own. Returns each tested
/// candidate's index, its check, and whether it carried the password.
async fn test_all(
    candidates: &[smtpdoctor_report::setup::Candidate],
    base: &CheckOptions,
    credential: Option<Credential>,
    until: Instant,
    jobs: usize,
) -> Vec<(usize, (CandidateCheck, bool))> {
    // In the candidates' order: a trusted host's chain where its first candidate stands.
    let mut order: Vec<(Option<String>, Vec<usize>)> = Vec::new();
    for (i, c) in candidates.iter().enumerate() {
        if !c.trusted {
            order.push((None, vec![i]));
        } else if let Some((_, chain)) = order
            .iter_mut()
            .find(|(host, _)| host.as_deref() == Some(c.host.as_str()))
        {
            chain.push(i);
        } else {
            order.push((Some(c.host.clone()), vec![i]));
        }
    }
    let limit = Arc::new(tokio::sync::Semaphore::new(jobs.max(1)));
    let mut set = tokio::task::JoinSet::new();
    for (_, indices) in order {
        let plan: Vec<(usize, smtpdoctor_report::setup::Candidate)> = indices
            .into_iter()
            .map(|i| (i, candidates[i].clone()))
            .collect();
        let (base, credential, limit) = (base.clone(), credential.clone(), limit.clone());
        set.spawn(async move {
            let Ok(_permit) = limit.acquire_owned().await else {
                return Vec::new();
            };
            let mut out = Vec::new();
            let mut auth_tried = false;
            for (i, c) in plan {
                let Some(left) = until
                    .checked_duration_since(Instant::now())
                    .filter(|d| !d.is_zero())
                else {
                    break;
                };
                let carry =
                    c.trusted && !auth_tried && c.security != TlsMode::None && credential.is_some();
                let opts = CheckOptions {
                    host: c.host.clone(),
                    port: c.port,
                    tls: c.security,
                    user: if carry { c.username.clone() } else { None },
                    credential: if carry { credential.clone() } else { None },
                    deadline: left,
                    ..base.clone()
                };
                let run = run_check(&opts, &|_: &str| {}).await;
                let (report, _) = crate::build_report(&opts, run, None);
                if carry
                    && report
                        .body
                        .sessions
                        .iter()
                        .any(|s| s.auth.as_ref().is_some_and(|a| a.mechanism.is_some()))
                {
                    auth_tried = true;
                }
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
                        carry,
                    ),
                ));
            }
            out
        });
    }
    let mut all = Vec::new();
    while let Some(done) = set.join_next().await {
        if let Ok(results) = done {
            all.extend(results);
        }
    }
    all
}
