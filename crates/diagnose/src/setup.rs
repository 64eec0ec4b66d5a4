//! Rules of `setup ADDRESS`: which sources to believe, which candidate settings to test (and
//! which may carry the password), what each test showed, the settings to recommend, where the
//! sources disagree, and the verdict. Pure functions: discovery and the tests are done by the
//! caller and handed in.

use smtpdoctor_knowledge::presets::{self, Provider, Security};
use smtpdoctor_report::check::{SessionEvidence, TlsMode};
use smtpdoctor_report::setup::{
    Candidate, Claim, Disagreement, Outcome, PresetInfo, Recommended, Setting, SetupBody,
    SourceKind, SourceReport, SourceStatus,
};
use smtpdoctor_report::{Category, Confidence, Finding, Retry, Severity, Status, Verdict};

/// The ports guessed on each guessed host, in the order tried (RFC 8314 prefers 465).
pub const GUESS_PORTS: [u16; 4] = [465, 587, 25, 2525];

pub use smtpdoctor_records::autoconfig::on_domain;

fn preset_source(
    kind: SourceKind,
    provider: &Provider,
    matched: String,
    address: &str,
) -> SourceReport {
    let username = smtpdoctor_records::autoconfig::expand(provider.username, address);
    let settings = provider
        .servers
        .iter()
        .filter(|s| !s.host.contains('{'))
        .map(|s| Setting {
            host: s.host.to_string(),
            port: s.port,
            security: match s.security {
                Security::Implicit => TlsMode::Implicit,
                Security::Starttls => TlsMode::Starttls,
            },
            username: Some(username.clone()),
            auth: s.auth.iter().map(|a| a.to_string()).collect(),
            note: (!s.note.is_empty()).then(|| s.note.to_string()),
        })
        .collect::<Vec<_>>();
    let regional = provider.servers.iter().any(|s| s.host.contains('{'));
    let mut detail = format!(
        "{} ({}): {}",
        provider.name,
        matched,
        settings
            .iter()
            .map(|s| format!("{}:{} {}", s.host, s.port, s.security.name()))
            .collect::<Vec<_>>()
            .join(", ")
    );
    if regional {
        detail.push_str(&format!(
            "; regional hosts ({}) are not guessed",
            provider.regions.join(", ")
        ));
    }
    SourceReport {
        kind,
        query: format!("preset {}", provider.id),
        status: if settings.is_empty() {
            SourceStatus::None
        } else {
            SourceStatus::Found
        },
        detail,
        settings,
        srv: Vec::new(),
        fetch: None,
        autoconfig: None,
        preset: Some(PresetInfo {
            id: provider.id.to_string(),
            name: provider.name.to_string(),
            kind: match provider.kind {
                presets::Kind::Mailbox => "mailbox",
                presets::Kind::Relay => "relay",
                presets::Kind::Bridge => "bridge",
            }
            .to_string(),
            policy: provider.policy.name().to_string(),
            policy_note: provider.policy_note.to_string(),
            sources: provider
                .sources
                .iter()
                .map(|s| format!("{} (read {})", s.url, s.checked))
                .collect(),
            matched,
        }),
        scope: None,
        ms: 0,
    }
}

fn plain_source(
    kind: SourceKind,
    query: String,
    status: SourceStatus,
    detail: String,
) -> SourceReport {
    SourceReport {
        kind,
        query,
        status,
        detail,
        settings: Vec::new(),
        srv: Vec::new(),
        fetch: None,
        autoconfig: None,
        preset: None,
        scope: None,
        ms: 0,
    }
}

/// What discovery found, as the caller hands it over.
#[derive(Debug, Clone, Default)]
pub struct Found {
    /// SRV and autoconfig sources (from the session layer).
    pub sources: Vec<SourceReport>,
    /// MX hosts by preference.
    pub mx_hosts: Vec<String>,
    /// The MX look-up in a line.
    pub mx_detail: String,
    /// How long it took.
    pub mx_ms: u64,
    /// SPF include and redirect domains.
    pub spf_includes: Vec<String>,
    /// The SPF look-up in a line.
    pub spf_detail: String,
    /// How long it took.
    pub spf_ms: u64,
}

/// Every source in trust order: the user's servers, the address's own preset, SRV, autoconfig,
/// the providers behind the MX and SPF records, and the guesses.
pub fn sources(address: &str, user: &[Setting], found: Found) -> Vec<SourceReport> {
    let domain = address.rsplit_once('@').map_or(address, |(_, d)| d);
    let mut out = Vec::new();
    if !user.is_empty() {
        let mut s = plain_source(
            SourceKind::User,
            "--server".into(),
            SourceStatus::Found,
            user.iter()
                .map(|s| format!("{}:{}", s.host, s.port))
                .collect::<Vec<_>>()
                .join(", "),
        );
        s.settings = user.to_vec();
        out.push(s);
    }
    let own = presets::for_domain(domain);
    out.push(match own {
        Some(p) => preset_source(
            SourceKind::Preset,
            p,
            format!("address domain {domain}"),
            address,
        ),
        None => plain_source(
            SourceKind::Preset,
            format!("preset for {domain}"),
            SourceStatus::None,
            "no built-in preset for this domain".into(),
        ),
    });
    out.extend(found.sources);
    // The providers behind the MX: an inference (the settings a hosted domain's users usually
    // need), so their hosts never get the password. Skipped when the address's own preset is it.
    let mut mx_providers: Vec<(&String, &Provider)> = Vec::new();
    for host in &found.mx_hosts {
        for p in presets::for_mx(host) {
            if !mx_providers.iter().any(|(_, q)| q.id == p.id) {
                mx_providers.push((host, p));
            }
        }
    }
    let mut any_mx = false;
    for (host, p) in &mx_providers {
        if own.is_some_and(|o| o.id == p.id) {
            continue;
        }
        let mut s = preset_source(
            SourceKind::MxProvider,
            p,
            format!("MX host {host}"),
            address,
        );
        s.ms = found.mx_ms;
        out.push(s);
        any_mx = true;
    }
    if !any_mx {
        let mut s = match mx_providers.first() {
            Some((host, p)) => plain_source(
                SourceKind::MxProvider,
                format!("MX {domain}"),
                SourceStatus::Skipped,
                format!("MX host {host} is {}'s, as the preset above", p.name),
            ),
            None => plain_source(
                SourceKind::MxProvider,
                format!("MX {domain}"),
                SourceStatus::None,
                if found.mx_hosts.is_empty() {
                    found.mx_detail.clone()
                } else {
                    format!("{}: no known provider", found.mx_detail)
                },
            ),
        };
        s.ms = found.mx_ms;
        out.push(s);
    }
    let mut spf_found = false;
    for include in &found.spf_includes {
        for p in presets::for_spf_include(include) {
            if own.is_some_and(|o| o.id == p.id)
                || out
                    .iter()
                    .any(|s| s.preset.as_ref().is_some_and(|x| x.id == p.id))
            {
                continue;
            }
            let mut s = preset_source(
                SourceKind::SpfProvider,
                p,
                format!("SPF include:{include}"),
                address,
            );
            s.ms = found.spf_ms;
            out.push(s);
            spf_found = true;
        }
    }
    if !spf_found {
        let mut s = plain_source(
            SourceKind::SpfProvider,
            format!("SPF {domain}"),
            SourceStatus::None,
            if found.spf_includes.is_empty() && found.spf_detail.starts_with("v=spf1") {
                format!("{}: includes no sending service", found.spf_detail)
            } else if found.spf_includes.is_empty() {
                found.spf_detail.clone()
            } else {
                format!(
                    "includes {}: no other known sending service",
                    found.spf_includes.join(", ")
                )
            },
        );
        s.ms = found.spf_ms;
        out.push(s);
    }
    let mut guesses = plain_source(
        SourceKind::Guess,
        format!("smtp.{domain}, mail.{domain}, {domain}"),
        SourceStatus::Found,
        format!(
            "each host on ports {}: what mail clients try when nothing else answers",
            GUESS_PORTS.map(|p| p.to_string()).join(", ")
        ),
    );
    for host in [
        format!("smtp.{domain}"),
        format!("mail.{domain}"),
        domain.to_string(),
    ] {
        for port in GUESS_PORTS {
            guesses.settings.push(Setting {
                host: host.clone(),
                port,
                security: TlsMode::Auto,
                username: None,
                auth: Vec::new(),
                note: None,
            });
        }
    }
    out.push(guesses);
    out
}

/// Whether a source's setting may carry the password: the source is trusted, an SRV target lies
/// inside the domain, and a host named by the MX's domain (its autoconfig file or ISP database
/// entry) lies inside that domain: the MX's operator may speak for its own servers, not for
/// anyone else's.
/// A preset's alternative servers (Google's Workspace relay, Zoho's server for paid
/// organisations) serve only some of the provider's accounts: they are tested, never trusted with
/// the password.
fn trusted(source: &SourceReport, host: &str, domain: &str) -> bool {
    let kind = source.kind;
    kind.trusted()
        && (kind != SourceKind::Srv || on_domain(host, domain))
        && (!kind.scoped() || source.scope.as_deref().is_some_and(|s| on_domain(host, s)))
        && !source
            .preset
            .as_ref()
            .is_some_and(|p| presets::is_alternative(&p.id, host))
}

/// How far a login name can be believed: the user's `--user`, a source trusted for the host, a
/// built-in preset (reviewed data); anything else (a plain-HTTP autoconfig file, an off-domain
/// SRV target) never chooses the name sent with the password or shown as the setting.
fn username_weight(source: &SourceReport, trust: bool) -> u8 {
    if trust {
        1
    } else if source.preset.is_some() {
        2
    } else {
        u8::MAX
    }
}

fn security_rank(s: TlsMode) -> u8 {
    match s {
        TlsMode::Implicit => 0,
        TlsMode::Starttls => 1,
        TlsMode::Auto => 2,
        TlsMode::None => 3,
    }
}

/// The port heuristic, except where SRV records name the candidate: RFC 2782 says their
/// priority order is the order to try, and the candidates keep it (the sort is stable).
fn source_port_rank(c: &Candidate) -> u8 {
    if c.sources.first() == Some(&SourceKind::Srv) {
        0
    } else {
        port_rank(c.port)
    }
}

fn port_rank(port: u16) -> u8 {
    match port {
        465 => 0,
        587 => 1,
        2525 => 2,
        25 => 3,
        _ => 1,
    }
}

/// The candidates the sources name, one per host, port and security (a guess on a host and
/// port a source names adds nothing), in the order they are tried: trusted first, then by how
/// many sources agree, implicit TLS before STARTTLS (RFC 8314), 465 before 587.
pub fn candidates(address: &str, user: Option<&str>, sources: &[SourceReport]) -> Vec<Candidate> {
    let domain = address.rsplit_once('@').map_or(address, |(_, d)| d);
    let mut out: Vec<Candidate> = Vec::new();
    // Per candidate: the weight of the source its login name came from (see `username_weight`).
    let mut weights: Vec<u8> = Vec::new();
    for source in sources.iter().filter(|s| s.status == SourceStatus::Found) {
        for s in &source.settings {
            let same_place =
                |c: &Candidate| c.host.eq_ignore_ascii_case(&s.host) && c.port == s.port;
            if source.kind == SourceKind::Guess && out.iter().any(same_place) {
                continue;
            }
            let trust = trusted(source, &s.host, domain);
            let weight = if s.username.is_some() {
                username_weight(source, trust)
            } else {
                u8::MAX
            };
            if let Some(i) = out
                .iter()
                .position(|c| same_place(c) && c.security == s.security)
            {
                let c = &mut out[i];
                if !c.sources.contains(&source.kind) {
                    c.sources.push(source.kind);
                }
                c.trusted |= trust;
                if weight < weights[i] {
                    c.username = s.username.clone();
                    weights[i] = weight;
                }
                continue;
            }
            let (username, weight) = match user {
                Some(u) => (Some(u.to_string()), 0),
                None if weight < u8::MAX => (s.username.clone(), weight),
                None => (None, u8::MAX),
            };
            weights.push(weight);
            out.push(Candidate {
                host: s.host.to_ascii_lowercase(),
                port: s.port,
                security: s.security,
                username,
                sources: vec![source.kind],
                trusted: trust,
                credentials_sent: false,
                outcome: Outcome::NotTested,
                tls_found: None,
                auth_offered: Vec::new(),
                auth_mechanism: None,
                rank: None,
                check: None,
            });
        }
    }
    for c in &mut out {
        c.sources.sort();
        // Sources that name no login name mean the address (RFC 6186 section 5, and every
        // client's default); guesses are left without one.
        if c.username.is_none() && c.sources.iter().any(|k| *k != SourceKind::Guess) {
            c.username = Some(address.to_string());
        }
    }
    out.sort_by_key(order_key);
    out
}

fn order_key(c: &Candidate) -> (bool, SourceKind, std::cmp::Reverse<usize>, u8, u8) {
    (
        !c.trusted,
        c.sources.first().copied().unwrap_or(SourceKind::Guess),
        std::cmp::Reverse(c.sources.len()),
        security_rank(c.security),
        source_port_rank(c),
    )
}

fn verified_session(sessions: &[SessionEvidence]) -> Option<&SessionEvidence> {
    sessions.iter().find(|s| {
        s.secured
            && s.tls
                .as_ref()
                .and_then(|t| t.verification.as_ref())
                .is_some_and(|v| v.verified)
    })
}

/// What a candidate's test showed, from its check: the outcome, the TLS mode found, the AUTH
/// mechanisms offered and the one that logged in.
pub fn outcome(candidate: &mut Candidate) {
    let Some(check) = &candidate.check else {
        candidate.outcome = Outcome::NotTested;
        return;
    };
    let sessions = &check.sessions;
    // The security the sources state must be the one that worked: a STARTTLS claim proven only
    // by the mode probe's implicit TLS is a wrong claim (the probe's session shows what is right).
    let stated = candidate.security;
    let as_stated = |s: &SessionEvidence| stated == TlsMode::Auto || s.mode == stated;
    if let Some(s) = sessions.iter().find(|s| s.authenticated) {
        candidate.tls_found = Some(s.mode);
        candidate.auth_offered = s
            .last_ehlo()
            .map(|e| e.auth_mechanisms())
            .unwrap_or_default();
        if as_stated(s) {
            candidate.outcome = Outcome::Confirmed;
            candidate.auth_mechanism = s.auth.as_ref().and_then(|a| a.mechanism.clone());
        } else {
            candidate.outcome = Outcome::Failed;
        }
        return;
    }
    let Some(s) = verified_session(sessions) else {
        candidate.outcome = Outcome::Failed;
        return;
    };
    candidate.tls_found = Some(s.mode);
    candidate.auth_offered = s
        .last_ehlo()
        .map(|e| e.auth_mechanisms())
        .unwrap_or_default();
    if !as_stated(s) {
        candidate.outcome = Outcome::Failed;
        return;
    }
    let attempted = s
        .auth
        .as_ref()
        .is_some_and(|a| a.mechanism.is_some() && a.reply.is_some());
    candidate.outcome = if attempted {
        Outcome::LoginFailed
    } else if candidate.auth_offered.is_empty() {
        Outcome::NoAuth
    } else {
        Outcome::Reachable
    };
}

fn usable(o: Outcome) -> bool {
    matches!(
        o,
        Outcome::Confirmed | Outcome::Reachable | Outcome::LoginFailed
    )
}

fn rank_key(c: &Candidate) -> (u8, bool, SourceKind, std::cmp::Reverse<usize>, u8, u8) {
    let outcome = match c.outcome {
        Outcome::Confirmed => 0,
        Outcome::LoginFailed
            if auth_reply(c).is_some_and(|code| code / 100 != 5 || code == 504) =>
        {
            2
        }
        Outcome::Reachable | Outcome::LoginFailed => 1,
        Outcome::NoAuth => 3,
        Outcome::Failed | Outcome::NotTested => 4,
    };
    let security = c.tls_found.unwrap_or(c.security);
    (
        outcome,
        !c.trusted,
        c.sources.first().copied().unwrap_or(SourceKind::Guess),
        std::cmp::Reverse(c.sources.len()),
        security_rank(security),
        source_port_rank(c),
    )
}

/// The code of the reply to the candidate's login attempt, when one was made.
fn auth_reply(c: &Candidate) -> Option<u16> {
    c.check.as_ref()?.sessions.iter().find_map(|s| {
        let a = s.auth.as_ref()?;
        a.mechanism.as_ref()?;
        a.reply.as_ref().map(|r| r.code)
    })
}

/// Why the password did not go to a trusted candidate although one was given.
fn why_not_sent(c: &Candidate, all: &[Candidate]) -> String {
    if let Some(other) = all.iter().find(|o| o.credentials_sent) {
        return format!(
            "your password was not sent there: a run makes one login attempt per server and stops after a definite answer, and it went to {}",
            other.address()
        );
    }
    let skipped = c.check.as_ref().and_then(|k| {
        k.sessions
            .iter()
            .find_map(|s| s.auth.as_ref().and_then(|a| a.skipped.clone()))
    });
    match skipped.as_deref() {
        Some("no_common_mechanism") => format!(
            "it offers {}, none of which your credential can use (an OAuth token needs XOAUTH2 or OAUTHBEARER; a password needs PLAIN, LOGIN or CRAM-MD5)",
            c.auth_offered.join(" ")
        ),
        Some(other) => format!("your password was not sent there ({other})"),
        None => "your password was not sent there (the login was not attempted)".to_string(),
    }
}

/// The auth method to pick in a client, from the mechanisms offered and the one that worked.
fn auth_method(c: &Candidate) -> String {
    if let Some(m) = &c.auth_mechanism {
        return m.clone();
    }
    for m in ["PLAIN", "LOGIN", "CRAM-MD5", "XOAUTH2", "OAUTHBEARER"] {
        if c.auth_offered.iter().any(|o| o == m) {
            return m.to_string();
        }
    }
    c.auth_offered
        .first()
        .cloned()
        .unwrap_or_else(|| "PLAIN".into())
}

/// Everything `setup` concludes.
#[derive(Debug, Clone)]
pub struct SetupDiagnosis {
    /// The verdict.
    pub verdict: Verdict,
    /// The findings, most severe first.
    pub findings: Vec<Finding>,
}

fn verdict_from(status: Status, summary: String, fix: Vec<String>) -> Verdict {
    Verdict {
        status,
        category: None,
        retry: None,
        confidence: Confidence::High,
        alternatives: vec![],
        summary,
        fix,
        evidence: vec![],
    }
}

fn says(c: &Candidate) -> String {
    format!("{} {}", c.address(), c.security.describe())
}

/// Ranks the tested candidates (best first), picks the recommended settings, lists the
/// disagreements, and gives the verdict and findings. `credential_given`: a password or token
/// was read for this run.
pub fn judge(address: &str, credential_given: bool, body: &mut SetupBody) -> SetupDiagnosis {
    let domain = address
        .rsplit_once('@')
        .map_or(address, |(_, d)| d)
        .to_string();
    for c in &mut body.candidates {
        outcome(c);
    }
    // A login that worked in another TLS mode than a source stated (the mode probe found it)
    // proves the candidate that states that mode for the same host and port: it never got an
    // attempt of its own, the server allows one per run.
    let proven: Vec<(String, u16, TlsMode, Option<String>)> = body
        .candidates
        .iter()
        .filter(|c| c.outcome == Outcome::Failed)
        .filter_map(|c| {
            let s = c
                .check
                .as_ref()?
                .sessions
                .iter()
                .find(|s| s.authenticated)?;
            Some((
                c.host.clone(),
                c.port,
                s.mode,
                s.auth.as_ref().and_then(|a| a.mechanism.clone()),
            ))
        })
        .collect();
    for (host, port, mode, mechanism) in proven {
        if let Some(o) = body.candidates.iter_mut().find(|o| {
            o.host == host
                && o.port == port
                && o.security == mode
                && o.outcome == Outcome::Reachable
        }) {
            o.outcome = Outcome::Confirmed;
            o.tls_found = Some(mode);
            o.auth_mechanism = mechanism;
        }
    }
    body.candidates.sort_by_key(rank_key);
    let mut n = 0;
    for c in &mut body.candidates {
        c.rank = usable(c.outcome).then(|| {
            n += 1;
            n
        });
    }
    let mut findings = Vec::new();
    // The account policy of the provider that applies.
    for (i, s) in body.sources.iter().enumerate() {
        let Some(p) = s
            .preset
            .as_ref()
            .filter(|_| s.status == SourceStatus::Found)
        else {
            continue;
        };
        if p.policy == "password" {
            continue;
        }
        let severity = match p.policy.as_str() {
            "oauth_only" | "auth_disabled_by_default" => Severity::Warning,
            _ => Severity::Info,
        };
        let whose = match s.kind {
            SourceKind::Preset => format!("{} accounts", p.name),
            SourceKind::MxProvider => format!(
                "{} ({}, if this domain's mail is hosted there)",
                p.name, p.matched
            ),
            _ => format!("{} ({})", p.name, p.matched),
        };
        let what = match p.policy.as_str() {
            "app_password" => "need an app password for SMTP",
            "oauth_only" => "accept only OAuth 2 sign-in for SMTP, not a password",
            "auth_disabled_by_default" => "have SMTP AUTH switched off until it is turned on",
            "api_key" => "log in with an API key, not an account password",
            "bridge_password" => "log in with the bridge's generated password",
            "smtp_credentials" => "log in with generated SMTP credentials, not the console login",
            _ => "have an account policy",
        };
        findings.push(
            Finding::new(
                &format!("setup.policy.{}", p.policy),
                severity,
                None,
                format!("{whose} {what}"),
            )
            .detail(format!(
                "{} Source: {}.",
                p.policy_note,
                p.sources.join("; ")
            ))
            .fix(p.policy_note.clone())
            .evidence(format!("source:{i}")),
        );
    }
    for (i, s) in body.sources.iter().enumerate() {
        let reference = format!("source:{i}");
        match (s.kind, s.status) {
            (SourceKind::Srv, SourceStatus::NotOffered) => findings.push(
                Finding::new(
                    "setup.srv.not_offered",
                    Severity::Info,
                    None,
                    format!("{}: the domain says this service is not offered", s.query),
                )
                .detail("An SRV record whose target is \".\" means the service is deliberately not offered at this domain (RFC 2782, RFC 6186 section 3).")
                .evidence(reference),
            ),
            (SourceKind::Srv, SourceStatus::Found) => {
                let off: Vec<String> = s
                    .settings
                    .iter()
                    .filter(|x| !on_domain(&x.host, &domain))
                    .map(|x| x.host.clone())
                    .collect();
                if !off.is_empty() {
                    findings.push(
                        Finding::new(
                            "setup.srv.off_domain",
                            Severity::Warning,
                            None,
                            format!("{} points outside {domain} ({}): it was tested without your password", s.query, off.join(", ")),
                        )
                        .detail("RFC 6186 section 6: without DNSSEC, a client must not trust an SRV target outside the queried domain, since a forged DNS answer could point it anywhere. smtpdoctor tests such a target without credentials.")
                        .fix(format!("If {} is really your provider's server, test your login there with `smtpdoctor setup {address} --server HOST:PORT` or `smtpdoctor check HOST:PORT --user {address}`", off.join(", ")))
                        .evidence(reference),
                    );
                }
            }
            (SourceKind::Ispdb | SourceKind::IspdbMx | SourceKind::AutoconfigMx, SourceStatus::Failed) => {
                // Someone else's server: worth knowing, not the domain's problem.
                let id = if s.kind == SourceKind::AutoconfigMx {
                    "setup.mx_source.failed"
                } else {
                    "setup.ispdb.failed"
                };
                findings.push(
                    Finding::new(id, Severity::Info, None, format!("{}: {}", s.query, s.detail))
                        .detail(format!("The {} could not be used; the other sources still count.", s.kind.describe()))
                        .evidence(reference),
                );
            }
            (SourceKind::Autoconfig, SourceStatus::Failed) => {
                let fetch = s.fetch.as_ref();
                let (id, summary) = if fetch.is_some_and(|f| f.certificate_error.is_some()) {
                    ("setup.autoconfig.certificate", format!("{}: the server's certificate is not trusted, so the file was not used", s.query))
                } else if fetch.is_some_and(|f| !f.redirects.is_empty() || f.failure.as_deref().is_some_and(|x| x.contains("redirect"))) {
                    ("setup.autoconfig.redirect", format!("{}: {}", s.query, s.detail))
                } else if s.autoconfig.is_some() || s.detail.starts_with("not a valid") {
                    ("setup.autoconfig.invalid", format!("{}: {}", s.query, s.detail))
                } else {
                    ("setup.autoconfig.failed", format!("{}: {}", s.query, s.detail))
                };
                findings.push(
                    Finding::new(id, Severity::Warning, None, summary)
                        .detail("Mail clients that look for this file (Thunderbird and others) cannot use it either, and fall back to guessing.")
                        .evidence(reference),
                );
            }
            (SourceKind::Autoconfig | SourceKind::Ispdb | SourceKind::AutoconfigMx | SourceKind::IspdbMx, SourceStatus::Found)
                if s.autoconfig.as_ref().is_some_and(|a| !a.instructions.is_empty()) =>
            {
                let file = s.autoconfig.as_ref().map(|a| (a.instructions.join(" "), a.documentation.clone())).unwrap_or_default();
                let mut f = Finding::new(
                    "setup.autoconfig.instruction",
                    Severity::Info,
                    None,
                    format!("The provider's autoconfig file says: {}", file.0),
                )
                .detail("Thunderbird shows this instruction before the account can be used (the file's <enable> element).")
                .evidence(reference);
                // A file can list any number of pages; three are enough to start from.
                for url in file.1.iter().take(3) {
                    f = f.fix(format!("See {url}"));
                }
                findings.push(f);
            }
            (SourceKind::AutoconfigHttp, SourceStatus::Found) => findings.push(
                Finding::new(
                    "setup.autoconfig.http_only",
                    Severity::Warning,
                    None,
                    format!("The autoconfig file is served only over plain HTTP ({}): shown for information, never trusted", s.query),
                )
                .detail("Anyone on the network path can change a file fetched over plain HTTP, so its servers were tested without your password. Thunderbird uses it unless told not to.")
                .fix(format!("Serve the file over HTTPS at https://autoconfig.{domain}/mail/config-v1.1.xml with a certificate for that name"))
                .evidence(reference),
            ),
            _ => {}
        }
    }
    // A file found through the MX speaks for the MX operator's own hosts only.
    for (i, s) in body.sources.iter().enumerate() {
        if !(s.kind.scoped() && s.status == SourceStatus::Found) {
            continue;
        }
        let reference = format!("source:{i}");
        let scope = s.scope.clone().unwrap_or_default();
        let outside: Vec<String> = s
            .settings
            .iter()
            .filter(|x| !on_domain(&x.host, &scope))
            .map(|x| x.host.clone())
            .collect();
        if !outside.is_empty() {
            findings.push(
                        Finding::new(
                            "setup.mx_source.outside",
                            Severity::Info,
                            None,
                            format!(
                                "The {} ({}) names {}, outside {scope}: tested without your password",
                                s.kind.describe(),
                                s.query,
                                outside.join(", ")
                            ),
                        )
                        .detail(format!("A file found through the MX is the MX operator's word about its own servers (inside {scope}); a host outside that domain could belong to anyone, so smtpdoctor does not send it the password. Thunderbird would use it."))
                        .fix(format!("If {} is really your provider's server, prove the login with `smtpdoctor setup {address} --server HOST:PORT`", outside.join(", ")))
                        .evidence(reference),
                    );
        }
    }
    // Disagreements: one host and port, several securities; trusted sources naming no common host.
    let mut disagreements = Vec::new();
    let mut seen: Vec<(String, u16)> = Vec::new();
    for c in body
        .candidates
        .iter()
        .filter(|c| c.security != TlsMode::Auto)
    {
        let key = (c.host.clone(), c.port);
        if seen.contains(&key) {
            continue;
        }
        let same: Vec<&Candidate> = body
            .candidates
            .iter()
            .filter(|o| o.host == c.host && o.port == c.port && o.security != TlsMode::Auto)
            .collect();
        if same.len() > 1 {
            seen.push(key);
            let claims = same
                .iter()
                .flat_map(|o| {
                    o.sources.iter().map(move |s| Claim {
                        source: *s,
                        says: o.security.describe().to_string(),
                    })
                })
                .collect();
            let settled = same
                .iter()
                .find(|o| usable(o.outcome))
                .or_else(|| same.iter().find(|o| o.tls_found.is_some()))
                .map(|o| {
                    format!(
                        "{} speaks {}",
                        o.address(),
                        o.tls_found.unwrap_or(o.security).describe()
                    )
                });
            disagreements.push(Disagreement {
                kind: "security".into(),
                about: format!("security of {}", c.address()),
                claims,
                settled,
            });
        }
    }
    let trusted_kinds = [
        SourceKind::Preset,
        SourceKind::Srv,
        SourceKind::Autoconfig,
        SourceKind::Ispdb,
    ];
    let hosts_of = |k: SourceKind| -> Vec<String> {
        let mut h: Vec<String> = body
            .sources
            .iter()
            .filter(|s| s.kind == k && s.status == SourceStatus::Found)
            .flat_map(|s| s.settings.iter().map(|x| x.host.clone()))
            .collect();
        h.sort();
        h.dedup();
        h
    };
    let named: Vec<(SourceKind, Vec<String>)> = trusted_kinds
        .iter()
        .map(|k| (*k, hosts_of(*k)))
        .filter(|(_, h)| !h.is_empty())
        .collect();
    // Two sources naming different servers disagree only when one side's servers were tested
    // and none works: a provider may well have two working names.
    let works = |hosts: &[String]| {
        body.candidates
            .iter()
            .any(|c| usable(c.outcome) && hosts.contains(&c.host))
    };
    let tested = |hosts: &[String]| {
        body.candidates
            .iter()
            .any(|c| c.check.is_some() && hosts.contains(&c.host))
    };
    for (i, (ka, ha)) in named.iter().enumerate() {
        for (kb, hb) in &named[i + 1..] {
            let one_fails = (tested(ha) && !works(ha)) || (tested(hb) && !works(hb));
            if !ha.iter().any(|h| hb.contains(h)) && one_fails {
                let settled = body
                    .candidates
                    .iter()
                    .find(|c| usable(c.outcome) && (ha.contains(&c.host) || hb.contains(&c.host)))
                    .map(|c| format!("{} works", c.address()));
                disagreements.push(Disagreement {
                    kind: "server".into(),
                    about: "server".into(),
                    claims: vec![
                        Claim {
                            source: *ka,
                            says: ha.join(", "),
                        },
                        Claim {
                            source: *kb,
                            says: hb.join(", "),
                        },
                    ],
                    settled,
                });
            }
        }
    }
    for d in &disagreements {
        findings.push(
            Finding::new(
                "setup.sources.disagree",
                Severity::Warning,
                None,
                format!(
                    "Sources disagree on the {}: {}",
                    d.about,
                    d.claims
                        .iter()
                        .map(|c| format!("{} says {}", c.source.describe(), c.says))
                        .collect::<Vec<_>>()
                        .join("; ")
                ),
            )
            .detail(match &d.settled {
                Some(s) => format!("The test settles it: {s}. Fix the source that says otherwise, or clients that read it will fail."),
                None => "The tests did not settle it.".to_string(),
            })
            .evidence("disagreements"),
        );
    }
    body.disagreements = disagreements;
    // A trusted claim the test disproved.
    for (i, c) in body.candidates.iter().enumerate() {
        let Some(check) = c
            .check
            .as_ref()
            .filter(|_| c.trusted && c.outcome == Outcome::Failed)
        else {
            continue;
        };
        findings.push(
            Finding::new(
                "setup.source.failed",
                Severity::Warning,
                None,
                format!(
                    "{} ({}) does not work: {}",
                    says(c),
                    c.sources.iter().map(|s| s.describe()).collect::<Vec<_>>().join(", "),
                    check.verdict.summary
                ),
            )
            .detail("A source a mail client trusts names these settings, and the test shows they fail; clients that follow it fail the same way.")
            .evidence(format!("candidate:{i}")),
        );
    }
    if let Some((i, c)) = body
        .candidates
        .iter()
        .enumerate()
        .find(|(_, c)| !c.trusted && usable(c.outcome))
    {
        findings.push(
            Finding::new(
                "setup.untrusted.no_password",
                Severity::Info,
                None,
                format!("{} answers, but it was found only by {}: it was tested without your password", c.address(), c.sources.first().map_or("guess", |s| s.describe())),
            )
            .detail("Guesses, the provider behind the MX or SPF record, off-domain SRV targets, hosts outside the MX's domain named by its files, and plain-HTTP autoconfig files are not proof that a server is your provider's, so smtpdoctor never sends them your password.")
            .fix(format!("If {} is right, prove the login with `smtpdoctor setup {address} --server {} --password-env VAR`", c.host, c.address()))
            .evidence(format!("candidate:{i}")),
        );
    }
    if body.candidates.iter().any(|c| c.security == TlsMode::None) {
        findings.push(
            Finding::new(
                "setup.plaintext",
                Severity::Warning,
                None,
                "A source names a server without encryption: it is never recommended",
            )
            .detail("A password sent without TLS can be read by anyone on the path; smtpdoctor tests such servers without credentials.")
            .evidence("candidates"),
        );
    }
    if body
        .candidates
        .iter()
        .any(|c| c.outcome == Outcome::NotTested && c.security != TlsMode::None)
    {
        findings.push(
            Finding::new(
                "setup.deadline",
                Severity::Warning,
                None,
                "Some candidates were not tested before the run's deadline",
            )
            .fix("Give a longer --deadline (or a shorter --timeout)")
            .evidence("candidates"),
        );
    }
    // The recommendation and the verdict.
    let best_index = body.candidates.iter().position(|c| usable(c.outcome));
    let best = best_index.map(|i| &body.candidates[i]);
    body.recommended = best.map(|c| Recommended {
        host: c.host.clone(),
        port: c.port,
        security: c.tls_found.unwrap_or(c.security),
        username: c.username.clone().unwrap_or_else(|| address.to_string()),
        auth_method: auth_method(c),
        proven: c.outcome == Outcome::Confirmed,
        sources: c.sources.clone(),
    });
    let settings_line = |c: &Candidate| {
        format!(
            "{} port {} with {}",
            c.host,
            c.port,
            c.tls_found.unwrap_or(c.security).describe()
        )
    };
    let verdict = match best {
        Some(c) if c.outcome == Outcome::Confirmed => verdict_from(
            Status::Ok,
            format!(
                "Use {}, username {}: the login works",
                settings_line(c),
                c.username.as_deref().unwrap_or(address)
            ),
            vec![],
        ),
        Some(c) if c.outcome == Outcome::LoginFailed => {
            let check = c.check.as_ref().map(|k| k.verdict.clone());
            let mut v =
                check.unwrap_or_else(|| verdict_from(Status::Problem, String::new(), vec![]));
            v.status = Status::Problem;
            v.evidence = vec![format!("candidate:{}", best_index.unwrap_or(0))];
            // A refusal shows the server speaks AUTH, not that it holds this account.
            let temporary = auth_reply(c).is_some_and(|code| code / 100 == 4);
            v.summary = format!(
                "{} answers and {} the login: {}",
                settings_line(c),
                if temporary {
                    "refused for now"
                } else {
                    "refused"
                },
                v.summary
            );
            if v.category.is_none() {
                v.category = Some(Category::AuthFailed);
                v.retry = Some(if temporary {
                    Retry::Temporary
                } else {
                    Retry::Permanent
                });
            }
            // Only the account policy of a provider that names this server applies.
            for p in body.sources.iter().filter(|s| {
                s.status == SourceStatus::Found
                    && c.sources.contains(&s.kind)
                    && s.settings.iter().any(|x| x.host == c.host)
            }) {
                if let Some(p) = p.preset.as_ref().filter(|p| p.policy != "password")
                    && !v.fix.contains(&p.policy_note)
                {
                    v.fix.push(p.policy_note.clone());
                }
            }
            v
        }
        Some(c) if c.trusted && !credential_given => verdict_from(
            Status::Inconclusive,
            format!(
                "{} answers with verified TLS and offers AUTH ({}); give your password to prove the login",
                settings_line(c),
                c.auth_offered.join(" ")
            ),
            vec![format!(
                "Run again with the password: --password-env VAR, --password-file FILE, or at the prompt (with --user {})",
                c.username.as_deref().unwrap_or(address)
            )],
        ),
        Some(c) if c.trusted => verdict_from(
            Status::Inconclusive,
            format!(
                "{} answers with verified TLS and offers AUTH, but the login was not tried: {}",
                settings_line(c),
                why_not_sent(c, &body.candidates)
            ),
            vec![
                if why_not_sent(c, &body.candidates).contains("none of which") {
                    "Use a credential the server accepts: an (app) password with --password-env VAR, or ask the provider which sign-in its SMTP server supports".to_string()
                } else {
                    format!(
                        "Prove the login on this server alone: `smtpdoctor check {} --tls {} --user {} --password-env VAR`",
                        c.address(),
                        match c.tls_found.unwrap_or(c.security) {
                            TlsMode::Implicit => "implicit",
                            TlsMode::Starttls => "starttls",
                            _ => "auto",
                        },
                        c.username.as_deref().unwrap_or(address)
                    )
                },
            ],
        ),
        Some(c) => verdict_from(
            Status::Inconclusive,
            format!(
                "{} answers with verified TLS and offers AUTH, but it was found only by {}: not tested with your password",
                settings_line(c),
                c.sources.first().map_or("guess", |s| s.describe())
            ),
            vec![format!(
                "If it is your provider's server, run `smtpdoctor setup {address} --server {} --password-env VAR` to prove the login",
                c.address()
            )],
        ),
        None => {
            let tested: Vec<&Candidate> = body
                .candidates
                .iter()
                .filter(|c| c.check.is_some())
                .collect();
            let named = body
                .candidates
                .iter()
                .any(|c| c.sources.iter().any(|s| *s != SourceKind::Guess));
            let dns_only = tested.iter().all(|c| {
                c.check
                    .as_ref()
                    .is_some_and(|k| k.verdict.category == Some(Category::Dns))
            });
            // Only "no such name" and "no address" prove that nothing exists; a resolver that
            // timed out or failed proves nothing, and neither does a source cut off in time.
            let proven = tested.iter().all(|c| {
                c.check
                    .as_ref()
                    .is_some_and(|k| k.verdict.retry == Some(Retry::Permanent))
            }) && !body
                .sources
                .iter()
                .any(|s| s.status == SourceStatus::Failed);
            let guessed = !tested.is_empty();
            if !named && dns_only && (proven || !guessed) {
                let (summary, detail) = if guessed {
                    (
                        format!(
                            "No source names a mail server for {domain}, and no guessed host exists"
                        ),
                        "No preset, no SRV record, no autoconfig file, and none of smtp.DOMAIN, mail.DOMAIN or DOMAIN resolves.",
                    )
                } else {
                    (
                        format!(
                            "No source names a mail server for {domain} (no host was guessed: --no-guess)"
                        ),
                        "No preset, no SRV record and no autoconfig file; the usual host names were not tried.",
                    )
                };
                let mut f = Finding::new("setup.nothing_found", Severity::Problem, Some(Category::Dns), summary.clone())
                    .detail(detail)
                    .fix("Check the address's spelling, and ask the provider for its SMTP (outgoing) server settings")
                    .evidence("sources");
                if proven {
                    f = f.retry(Retry::Permanent);
                }
                findings.push(f);
                let mut v = verdict_from(Status::Problem, if guessed { format!("Nothing found for {domain}: no source names a mail server and no guessed host exists") } else { format!("Nothing found for {domain}: no source names a mail server (no host was guessed: --no-guess)") }, vec!["Check the address's spelling, and ask the provider for its SMTP (outgoing) server settings".into()]);
                v.category = Some(Category::Dns);
                if proven {
                    v.retry = Some(Retry::Permanent);
                } else {
                    v.confidence = Confidence::Medium;
                }
                v.evidence = vec!["finding:setup.nothing_found".into()];
                v
            } else if !named && dns_only {
                let late: Vec<&str> = body
                    .sources
                    .iter()
                    .filter(|s| s.status == SourceStatus::Failed)
                    .map(|s| s.query.as_str())
                    .collect();
                let summary = format!(
                    "DNS did not answer for {domain}: nothing could be looked up, so nothing is known about its mail server"
                );
                let mut f = Finding::new("setup.dns_failed", Severity::Problem, Some(Category::Dns), summary.clone())
                    .detail(if late.is_empty() {
                        "The guessed hosts' look-ups timed out or failed (not \"no such name\")".to_string()
                    } else {
                        format!("The guessed hosts' look-ups timed out or failed, and these sources gave no answer: {}", late.join(", "))
                    })
                    .fix("Check the network connection and the DNS resolver, or try another resolver with --dns")
                    .retry(Retry::Temporary)
                    .evidence("sources");
                f.confidence = Confidence::Medium;
                findings.push(f);
                let mut v = verdict_from(Status::Problem, summary, vec!["Check the network connection and the DNS resolver, or try another resolver with --dns; then run setup again".into()]);
                v.category = Some(Category::Dns);
                v.retry = Some(Retry::Temporary);
                v.confidence = Confidence::Medium;
                v.evidence = vec!["finding:setup.dns_failed".into()];
                v
            } else {
                // The most trusted candidate's failure speaks for the run.
                let first = tested
                    .iter()
                    .find(|c| {
                        c.check
                            .as_ref()
                            .is_some_and(|k| k.verdict.category != Some(Category::Dns))
                    })
                    .or(tested.first());
                let mut nothing = Finding::new(
                    "setup.nothing_works",
                    Severity::Problem,
                    first
                        .and_then(|c| c.check.as_ref())
                        .and_then(|k| k.verdict.category),
                    format!(
                        "None of the {} candidate settings for {domain} works",
                        body.candidates.len()
                    ),
                )
                .detail(
                    "Every candidate failed its test; the verdict is that of the most trusted one.",
                )
                .evidence("candidates");
                nothing.retry = Some(
                    first
                        .and_then(|c| c.check.as_ref())
                        .and_then(|k| k.verdict.retry)
                        .unwrap_or(Retry::Permanent),
                );
                findings.push(nothing);
                match first.and_then(|c| c.check.as_ref()) {
                    Some(k) => {
                        let mut v = k.verdict.clone();
                        v.status = Status::Problem;
                        let index = first
                            .and_then(|f| body.candidates.iter().position(|c| std::ptr::eq(c, *f)));
                        v.evidence = vec![
                            "finding:setup.nothing_works".into(),
                            format!("candidate:{}", index.unwrap_or(0)),
                        ];
                        v.summary = format!(
                            "No candidate works; the most trusted, {} ({}): {}",
                            first.map(|c| says(c)).unwrap_or_default(),
                            first
                                .and_then(|c| c.sources.first())
                                .map_or("guess", |s| s.describe()),
                            v.summary
                        );
                        v
                    }
                    None => verdict_from(
                        Status::Problem,
                        format!("No candidate settings for {domain} could be tested"),
                        vec![],
                    ),
                }
            }
        }
    };
    findings.sort_by_key(|f| std::cmp::Reverse(f.severity));
    SetupDiagnosis { verdict, findings }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setting(host: &str, port: u16, security: TlsMode) -> Setting {
        Setting {
            host: host.into(),
            port,
            security,
            username: None,
            auth: vec![],
            note: None,
        }
    }

    fn source(kind: SourceKind, settings: Vec<Setting>) -> SourceReport {
        let mut s = plain_source(
            kind,
            format!("{kind:?}"),
            SourceStatus::Found,
            String::new(),
        );
        s.settings = settings;
        s
    }

    /// The MX's domain speaks for its own hosts only; the ISP database like a preset.
    #[test]
    fn mx_domain_sources_are_trusted_inside_their_scope_only() {
        let mut mx_file = source(
            SourceKind::AutoconfigMx,
            vec![
                setting("smtp.hoster.test", 465, TlsMode::Implicit),
                setting("smtp.elsewhere.test", 587, TlsMode::Starttls),
            ],
        );
        mx_file.scope = Some("hoster.test".into());
        let ispdb = source(
            SourceKind::Ispdb,
            vec![setting("smtp.other.test", 465, TlsMode::Implicit)],
        );
        let mut unscoped = source(
            SourceKind::IspdbMx,
            vec![setting("smtp.hoster.test", 587, TlsMode::Starttls)],
        );
        unscoped.scope = None;
        let c = candidates("me@a.test", None, &[mx_file, ispdb, unscoped]);
        let trust = |host: &str, port: u16| {
            c.iter()
                .find(|c| c.host == host && c.port == port)
                .unwrap()
                .trusted
        };
        assert!(trust("smtp.hoster.test", 465));
        assert!(!trust("smtp.elsewhere.test", 587));
        assert!(trust("smtp.other.test", 465), "the ISP database is trusted");
        assert!(!trust("smtp.hoster.test", 587), "no scope, no trust");
        assert_eq!(c[0].sources, [SourceKind::Ispdb]);
    }

    /// Two SRV records of one service: their priority order stands, whatever the ports.
    #[test]
    fn srv_priority_beats_the_port_heuristic() {
        let srv = source(
            SourceKind::Srv,
            vec![
                setting("first.a.test", 2525, TlsMode::Starttls),
                setting("second.a.test", 587, TlsMode::Starttls),
            ],
        );
        let c = candidates("me@a.test", None, &[srv]);
        assert_eq!(c[0].host, "first.a.test");
    }

    #[test]
    fn candidates_merge_sources_and_order_trusted_first() {
        let sources = vec![
            source(
                SourceKind::Srv,
                vec![
                    setting("mail.a.test", 587, TlsMode::Starttls),
                    setting("elsewhere.test", 465, TlsMode::Implicit),
                ],
            ),
            source(
                SourceKind::Autoconfig,
                vec![
                    setting("mail.a.test", 587, TlsMode::Starttls),
                    setting("mail.a.test", 465, TlsMode::Implicit),
                ],
            ),
            source(
                SourceKind::Guess,
                vec![
                    setting("mail.a.test", 587, TlsMode::Auto),
                    setting("smtp.a.test", 587, TlsMode::Auto),
                ],
            ),
        ];
        let c = candidates("me@a.test", None, &sources);
        let list: Vec<String> = c
            .iter()
            .map(|c| format!("{} {:?} {}", c.address(), c.sources, c.trusted))
            .collect();
        assert_eq!(
            list,
            [
                "mail.a.test:587 [Srv, Autoconfig] true",
                "mail.a.test:465 [Autoconfig] true",
                "elsewhere.test:465 [Srv] false",
                "smtp.a.test:587 [Guess] false",
            ]
        );
        assert_eq!(c[0].username.as_deref(), Some("me@a.test"));
        assert_eq!(c[3].username, None);
    }

    /// A plain-HTTP autoconfig file (anyone on the path can write it) names the trusted server
    /// with its own login name: the name sent with the password stays the trusted one.
    #[test]
    fn an_untrusted_source_never_chooses_the_login_name() {
        let mut user = setting("mail.a.test", 465, TlsMode::Implicit);
        user.username = None;
        let mut planted = setting("mail.a.test", 465, TlsMode::Implicit);
        planted.username = Some("chosen-by-attacker".into());
        let mut srv_named = setting("mail.a.test", 587, TlsMode::Starttls);
        srv_named.username = None;
        let mut planted_587 = setting("mail.a.test", 587, TlsMode::Starttls);
        planted_587.username = Some("chosen-by-attacker".into());
        let mut https = setting("mail.a.test", 587, TlsMode::Starttls);
        https.username = Some("me".into());
        let sources = vec![
            source(SourceKind::User, vec![user]),
            source(SourceKind::AutoconfigHttp, vec![planted, planted_587]),
            source(SourceKind::Srv, vec![srv_named]),
            source(SourceKind::Autoconfig, vec![https]),
        ];
        let c = candidates("me@a.test", None, &sources);
        let name = |port: u16| c.iter().find(|c| c.port == port).unwrap().username.clone();
        assert_eq!(name(465).as_deref(), Some("me@a.test"), "the default");
        assert_eq!(name(587).as_deref(), Some("me"), "the trusted file's name");
        let forced = candidates("me@a.test", Some("given"), &sources);
        assert!(
            forced
                .iter()
                .all(|c| c.username.as_deref() == Some("given"))
        );
    }

    /// Google's Workspace relay and Zoho's server for paid organisations are tested, but a
    /// consumer password goes only to the provider's main server.
    #[test]
    fn a_presets_alternative_servers_never_get_the_password() {
        for (address, main, alternative) in [
            ("me@gmail.com", "smtp.gmail.com", "smtp-relay.gmail.com"),
            ("me@zoho.com", "smtp.zoho.com", "smtppro.zoho.com"),
        ] {
            let s = sources(address, &[], Found::default());
            let c = candidates(address, None, &s);
            let named = |host: &str| -> Vec<&Candidate> {
                c.iter()
                    .filter(|c| c.host == host && c.sources.contains(&SourceKind::Preset))
                    .collect()
            };
            assert!(named(main).iter().all(|c| c.trusted) && !named(main).is_empty());
            let alt = named(alternative);
            assert!(
                !alt.is_empty() && alt.iter().all(|c| !c.trusted),
                "{address}"
            );
        }
    }

    #[test]
    fn presets_by_domain_and_inferred_providers() {
        let found = Found {
            mx_hosts: vec!["aspmx.l.google.com".into()],
            spf_includes: vec!["_spf.google.com".into(), "sendgrid.net".into()],
            ..Default::default()
        };
        let s = sources("me@corp.test", &[], found);
        let kinds: Vec<(SourceKind, SourceStatus)> = s.iter().map(|s| (s.kind, s.status)).collect();
        assert_eq!(
            kinds,
            [
                (SourceKind::Preset, SourceStatus::None),
                (SourceKind::MxProvider, SourceStatus::Found),
                (SourceKind::SpfProvider, SourceStatus::Found),
                (SourceKind::Guess, SourceStatus::Found),
            ]
        );
        assert_eq!(s[1].preset.as_ref().unwrap().id, "gmail");
        assert_eq!(s[2].preset.as_ref().unwrap().id, "sendgrid");
        assert_eq!(s[3].settings.len(), 12);
        let c = candidates("me@corp.test", None, &s);
        assert!(
            c.iter().all(|c| !c.trusted),
            "inferred and guessed hosts never get the password"
        );
        let own = sources("me@gmail.com", &[], Found::default());
        assert_eq!(own[0].status, SourceStatus::Found);
        assert!(candidates("me@gmail.com", None, &own)[0].trusted);
    }

    /// A tested candidate whose one session went as `what` says.
    fn tested(
        host: &str,
        port: u16,
        security: TlsMode,
        sources: Vec<SourceKind>,
        what: &str,
    ) -> Candidate {
        use smtpdoctor_report::check::*;
        let mut s = SessionEvidence::new(1, Purpose::Requested, security, port);
        let verified = what != "cert" && what != "refused";
        if what != "refused" {
            s.secured = true;
            s.tls = Some(TlsEvidence {
                verification: Some(CertVerification {
                    verified,
                    problem: None,
                    detail: None,
                    name: host.into(),
                    trust: vec![],
                }),
                ..Default::default()
            });
            s.ehlo_tls = Some(EhloEvidence {
                command: "EHLO".into(),
                reply: Reply {
                    code: 250,
                    enhanced: None,
                    lines: vec![host.into()],
                },
                capabilities: if what == "noauth" {
                    vec![]
                } else {
                    vec![Capability {
                        keyword: "AUTH".into(),
                        params: vec!["PLAIN".into(), "LOGIN".into()],
                    }]
                },
                tls: true,
            });
        }
        if what == "login" || what == "refusedlogin" {
            s.auth = Some(AuthEvidence {
                offered: vec!["PLAIN".into()],
                mechanism: Some("PLAIN".into()),
                reply: Some(Reply {
                    code: if what == "login" { 235 } else { 535 },
                    enhanced: None,
                    lines: vec![],
                }),
                skipped: None,
            });
            s.authenticated = what == "login";
        }
        let category = match what {
            "refused" => Some(smtpdoctor_report::Category::ConnectionRefused),
            "cert" => Some(smtpdoctor_report::Category::TlsCertificate),
            "refusedlogin" => Some(smtpdoctor_report::Category::AuthFailed),
            _ => None,
        };
        let mut verdict = verdict_from(
            if category.is_some() {
                Status::Problem
            } else {
                Status::Ok
            },
            what.into(),
            vec![],
        );
        verdict.category = category;
        Candidate {
            host: host.into(),
            port,
            security,
            username: Some("me@a.test".into()),
            trusted: sources.iter().any(|k| k.trusted() && !k.scoped()),
            sources,
            credentials_sent: what == "login" || what == "refusedlogin",
            outcome: Outcome::NotTested,
            tls_found: None,
            auth_offered: vec![],
            auth_mechanism: None,
            rank: None,
            check: Some(smtpdoctor_report::setup::CandidateCheck {
                verdict,
                findings: vec![],
                steps: vec![],
                sessions: vec![s],
                transcript: Default::default(),
                duration_ms: 1,
            }),
        }
    }

    fn judged(candidates: Vec<Candidate>, credential: bool) -> (SetupBody, SetupDiagnosis) {
        let mut body = SetupBody {
            candidates,
            ..Default::default()
        };
        let d = judge("me@a.test", credential, &mut body);
        (body, d)
    }

    #[test]
    fn a_confirmed_login_wins_over_a_more_trusted_reachable_one() {
        let (body, d) = judged(
            vec![
                tested(
                    "mail.a.test",
                    587,
                    TlsMode::Starttls,
                    vec![SourceKind::Preset],
                    "reachable",
                ),
                tested(
                    "mail.a.test",
                    465,
                    TlsMode::Implicit,
                    vec![SourceKind::Srv],
                    "login",
                ),
                tested(
                    "smtp.a.test",
                    465,
                    TlsMode::Auto,
                    vec![SourceKind::Guess],
                    "reachable",
                ),
                tested(
                    "a.test",
                    25,
                    TlsMode::Auto,
                    vec![SourceKind::Guess],
                    "noauth",
                ),
                tested(
                    "x.a.test",
                    465,
                    TlsMode::Auto,
                    vec![SourceKind::Guess],
                    "refused",
                ),
            ],
            true,
        );
        assert_eq!(d.verdict.status, Status::Ok);
        let order: Vec<(String, Option<u32>)> = body
            .candidates
            .iter()
            .map(|c| (c.address(), c.rank))
            .collect();
        assert_eq!(
            order,
            [
                ("mail.a.test:465".to_string(), Some(1)),
                ("mail.a.test:587".to_string(), Some(2)),
                ("smtp.a.test:465".to_string(), Some(3)),
                ("a.test:25".to_string(), None),
                ("x.a.test:465".to_string(), None),
            ]
        );
        let r = body.recommended.unwrap();
        assert!(r.proven);
        assert_eq!((r.port, r.auth_method.as_str()), (465, "PLAIN"));
    }

    #[test]
    fn verdicts_without_a_login() {
        // A refused login on the right server: the check's category, the provider's fix.
        let (_, d) = judged(
            vec![tested(
                "mail.a.test",
                465,
                TlsMode::Implicit,
                vec![SourceKind::Srv],
                "refusedlogin",
            )],
            true,
        );
        assert_eq!(
            (d.verdict.status, d.verdict.category),
            (
                Status::Problem,
                Some(smtpdoctor_report::Category::AuthFailed)
            )
        );
        // No password given: inconclusive, and it says what to add.
        let (_, d) = judged(
            vec![tested(
                "mail.a.test",
                465,
                TlsMode::Implicit,
                vec![SourceKind::Srv],
                "reachable",
            )],
            false,
        );
        assert_eq!(d.verdict.status, Status::Inconclusive);
        assert!(d.verdict.fix[0].contains("--password-env"));
        // Only a guess answers: inconclusive even with a password, which it never got.
        let (_, d) = judged(
            vec![tested(
                "smtp.a.test",
                465,
                TlsMode::Auto,
                vec![SourceKind::Guess],
                "reachable",
            )],
            true,
        );
        assert_eq!(d.verdict.status, Status::Inconclusive);
        assert!(
            d.findings
                .iter()
                .any(|f| f.id == "setup.untrusted.no_password")
        );
        // Nothing works: the most trusted candidate's category.
        let (body, d) = judged(
            vec![
                tested(
                    "mail.a.test",
                    465,
                    TlsMode::Implicit,
                    vec![SourceKind::Srv],
                    "cert",
                ),
                tested(
                    "smtp.a.test",
                    465,
                    TlsMode::Auto,
                    vec![SourceKind::Guess],
                    "refused",
                ),
            ],
            true,
        );
        assert!(body.recommended.is_none());
        assert_eq!(
            d.verdict.category,
            Some(smtpdoctor_report::Category::TlsCertificate)
        );
        assert!(
            d.findings
                .iter()
                .any(|f| f.id == "setup.nothing_works" && f.retry.is_some())
        );
        assert!(d.findings.iter().any(|f| f.id == "setup.source.failed"));
    }

    /// The verdict says what the evidence shows: a refusal is not proof of the right server,
    /// only the provider of the recommended server adds its policy, a trusted server that never
    /// got the password says why, and two working servers are no disagreement.
    #[test]
    fn verdicts_say_only_what_the_evidence_shows() {
        let mut srv = source(
            SourceKind::Srv,
            vec![setting("mail.a.test", 465, TlsMode::Implicit)],
        );
        srv.status = SourceStatus::Found;
        let inferred = sources(
            "me@a.test",
            &[],
            Found {
                spf_includes: vec!["sendgrid.net".into()],
                ..Default::default()
            },
        )
        .into_iter()
        .filter(|s| s.kind == SourceKind::SpfProvider)
        .collect::<Vec<_>>();
        assert!(inferred[0].preset.is_some());
        let mut body = SetupBody {
            sources: [vec![srv], inferred].concat(),
            candidates: vec![tested(
                "mail.a.test",
                465,
                TlsMode::Implicit,
                vec![SourceKind::Srv],
                "refusedlogin",
            )],
            ..Default::default()
        };
        let d = judge("me@a.test", true, &mut body);
        assert!(
            !d.verdict.summary.contains("right server"),
            "{}",
            d.verdict.summary
        );
        assert!(d.verdict.summary.contains("refused the login"));
        assert!(
            !d.verdict.fix.iter().any(|f| f.contains("API key")),
            "SendGrid's policy is not the SRV server's: {:?}",
            d.verdict.fix
        );
        // A trusted server that did not get the password: why, and no "only a guess".
        let mut reachable = tested(
            "mail.a.test",
            587,
            TlsMode::Starttls,
            vec![SourceKind::Srv],
            "reachable",
        );
        reachable.credentials_sent = false;
        let mut other = tested(
            "mx.a.test",
            465,
            TlsMode::Implicit,
            vec![SourceKind::Autoconfig],
            "cert",
        );
        other.credentials_sent = true;
        let (_, d) = judged(vec![reachable, other], true);
        assert_eq!(d.verdict.status, Status::Inconclusive);
        assert!(!d.verdict.summary.contains("only"), "{}", d.verdict.summary);
        assert!(
            d.verdict.summary.contains("mx.a.test:465"),
            "{}",
            d.verdict.summary
        );
        // SRV and autoconfig name different servers that both work: no disagreement.
        let mut ac = source(
            SourceKind::Autoconfig,
            vec![setting("smtp.a.test", 465, TlsMode::Implicit)],
        );
        ac.status = SourceStatus::Found;
        let mut srv = source(
            SourceKind::Srv,
            vec![setting("mail.a.test", 465, TlsMode::Implicit)],
        );
        srv.status = SourceStatus::Found;
        let both = |what: &str| SetupBody {
            sources: vec![srv.clone(), ac.clone()],
            candidates: vec![
                tested(
                    "mail.a.test",
                    465,
                    TlsMode::Implicit,
                    vec![SourceKind::Srv],
                    "login",
                ),
                tested(
                    "smtp.a.test",
                    465,
                    TlsMode::Implicit,
                    vec![SourceKind::Autoconfig],
                    what,
                ),
            ],
            ..Default::default()
        };
        let mut body = both("reachable");
        judge("me@a.test", true, &mut body);
        assert!(body.disagreements.is_empty(), "{:?}", body.disagreements);
        let mut body = both("cert");
        judge("me@a.test", true, &mut body);
        assert_eq!(body.disagreements[0].kind, "server");
    }

    /// A source says implicit TLS for a STARTTLS port; the mode probe logged in with STARTTLS:
    /// the candidate that says STARTTLS for that port is the proven one.
    #[test]
    fn a_login_in_the_other_mode_proves_the_sibling() {
        let mut wrong = tested(
            "mail.a.test",
            587,
            TlsMode::Implicit,
            vec![SourceKind::Autoconfig],
            "login",
        );
        wrong.check.as_mut().unwrap().sessions[0].mode = TlsMode::Starttls;
        let right = tested(
            "mail.a.test",
            587,
            TlsMode::Starttls,
            vec![SourceKind::Srv],
            "reachable",
        );
        let (body, d) = judged(vec![wrong, right], true);
        assert_eq!(d.verdict.status, Status::Ok, "{}", d.verdict.summary);
        let r = body.recommended.unwrap();
        assert_eq!(
            (r.port, r.security, r.proven),
            (587, TlsMode::Starttls, true)
        );
        assert_eq!(body.disagreements[0].kind, "security");
    }

    #[test]
    fn one_host_and_port_with_two_securities_is_a_disagreement() {
        let (body, d) = judged(
            vec![
                tested(
                    "mail.a.test",
                    587,
                    TlsMode::Starttls,
                    vec![SourceKind::Srv],
                    "reachable",
                ),
                tested(
                    "mail.a.test",
                    587,
                    TlsMode::Implicit,
                    vec![SourceKind::Autoconfig],
                    "refused",
                ),
            ],
            false,
        );
        assert_eq!(body.disagreements.len(), 1);
        assert_eq!(body.disagreements[0].about, "security of mail.a.test:587");
        assert!(
            body.disagreements[0]
                .settled
                .as_deref()
                .unwrap()
                .contains("STARTTLS")
        );
        assert!(d.findings.iter().any(|f| f.id == "setup.sources.disagree"));
    }
}
