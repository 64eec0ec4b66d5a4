//! The rules of `check`: read the evidence of every connection and name the earliest blocking
//! problem on the ladder, with the proof and the fix.

use crate::dane::{self, DaneInput, dane_status};
use smtpdoctor_knowledge::{self as knowledge, Stage};
use smtpdoctor_report::check::*;
use smtpdoctor_report::{
    Category, Confidence, Finding, Retry, Severity, Status, Transcript, Verdict,
};

/// Days before expiry from which a certificate earns a warning.
const EXPIRY_WARNING_DAYS: i64 = 21;
/// A greeting slower than this earns a warning (many clients give up after 30 s).
const SLOW_BANNER_MS: u64 = 5_000;

/// Everything the rules look at.
#[derive(Debug, Clone, Copy)]
pub struct CheckInput<'a> {
    /// What was asked.
    pub target: &'a CheckTarget,
    /// Name resolution.
    pub resolve: Option<&'a ResolveEvidence>,
    /// Every connection, in order.
    pub sessions: &'a [SessionEvidence],
    /// Every line.
    pub transcript: &'a Transcript,
    /// Whether credentials were given.
    pub credentials_given: bool,
    /// Whether the platform had no trust anchors.
    pub trust_platform_missing: bool,
    /// Whether the run's deadline cut it short.
    pub deadline_reached: bool,
    /// The port matrix, when one ran.
    pub ports: &'a [PortProbe],
    /// A policy (MTA-STS enforce) makes an unverified certificate a problem even on port 25.
    pub strict_tls: bool,
    /// `check --mx`: the host's DANE (TLSA) evidence.
    pub dane: Option<DaneInput<'a>>,
}

/// The rules' answer.
#[derive(Debug, Clone)]
pub struct CheckDiagnosis {
    /// The verdict.
    pub verdict: Verdict,
    /// Every finding, problems first in ladder order.
    pub findings: Vec<Finding>,
    /// Settings proven to work.
    pub working: Option<WorkingSettings>,
    /// What DANE means for the host, when its TLSA records were looked up.
    pub dane: Option<DaneStatus>,
}

struct Rules<'a> {
    input: CheckInput<'a>,
    findings: Vec<Finding>,
    inconclusive: Option<(String, Vec<String>)>,
    dane: Option<DaneStatus>,
}

/// Judges a check run.
pub fn diagnose_check(input: CheckInput<'_>) -> CheckDiagnosis {
    let mut rules = Rules {
        input,
        findings: Vec::new(),
        inconclusive: None,
        dane: None,
    };
    let working = rules.run();
    rules.general_warnings();
    let verdict = rules.verdict(working.as_ref());
    // A host the ladder stopped at before EHLO still has its DNS side of DANE.
    let dane = rules
        .dane
        .or_else(|| input.dane.map(|d| dane_status(d, None)));
    let mut findings = rules.findings;
    // Stable order: problems (in ladder order), then warnings, then info.
    findings.sort_by_key(|f| std::cmp::Reverse(f.severity));
    CheckDiagnosis {
        verdict,
        findings,
        working,
        dane,
    }
}

fn conn_ref(s: &SessionEvidence) -> String {
    format!("conn:{}", s.conn)
}

fn step_ref(name: &str, s: &SessionEvidence) -> String {
    format!("step:{name}@{}", s.conn)
}

fn mode_setting(mode: TlsMode, port: u16) -> String {
    match mode {
        TlsMode::Implicit => {
            format!("security SSL/TLS (implicit TLS) on port {port} — smtpdoctor: --tls implicit")
        }
        TlsMode::Starttls => {
            format!("security STARTTLS on port {port} — smtpdoctor: --tls starttls")
        }
        TlsMode::None => format!("no encryption on port {port} — smtpdoctor: --tls none"),
        TlsMode::Auto => format!("port {port}"),
    }
}

impl<'a> Rules<'a> {
    fn push(&mut self, finding: Finding) {
        if !self
            .findings
            .iter()
            .any(|f| f.id == finding.id && f.summary == finding.summary)
        {
            self.findings.push(finding);
        }
    }

    fn problem(
        &self,
        id: &str,
        category: Category,
        retry: Retry,
        summary: impl Into<String>,
    ) -> Finding {
        Finding::new(id, Severity::Problem, Some(category), summary).retry(retry)
    }

    fn main(&self) -> Option<&'a SessionEvidence> {
        self.input
            .sessions
            .iter()
            .find(|s| s.purpose == Purpose::Requested)
    }

    fn probe(&self, mode: TlsMode) -> Option<&'a SessionEvidence> {
        self.input
            .sessions
            .iter()
            .find(|s| s.purpose == Purpose::ModeProbe && s.mode == mode)
    }

    /// Runs the ladder's rules; returns the settings proven to work.
    fn run(&mut self) -> Option<WorkingSettings> {
        if !self.input.ports.is_empty() && !self.port_rules() {
            return None;
        }
        if !self.resolve_rules() {
            return None;
        }
        let main = self.main()?;
        if !self.connect_rules(main) {
            return None;
        }
        // Which session carries the rest of the ladder: the requested one, or in auto mode (and
        // for explicit mismatches, as extra evidence) the probe that found the working mode.
        let effective = self.mode_rules(main);
        let session = effective?;
        if !self.banner_rules(session) {
            return None;
        }
        if !self.ehlo_rules(session) {
            return None;
        }
        self.dane_rules(session);
        if !self.tls_rules(session) {
            return None;
        }
        self.auth_rules(session);
        self.envelope_rules(session);
        self.interruption_rules(session);
        self.capability_warnings(session);
        let blocked = self
            .findings
            .iter()
            .any(|f| f.severity == Severity::Problem);
        let auth_ok = session.authenticated
            || session
                .auth
                .as_ref()
                .is_none_or(|a| a.skipped.as_deref() == Some("no_credentials"));
        (session.greeted()
            && session.last_ehlo().is_some()
            && session.interrupted.is_none()
            && auth_ok
            && (!blocked || session.purpose == Purpose::ModeProbe))
            .then(|| WorkingSettings {
                host: self.input.target.host.clone(),
                port: session.port,
                tls: session.mode,
                auth_mechanism: session
                    .authenticated
                    .then(|| session.auth.as_ref().and_then(|a| a.mechanism.clone()))
                    .flatten(),
            })
    }

    /// The port matrix: which ports answered; false when none did (nothing more to judge).
    fn port_rules(&mut self) -> bool {
        let control: Vec<&PortProbe> = self.input.ports.iter().filter(|p| p.control).collect();
        let ports: Vec<&PortProbe> = self.input.ports.iter().filter(|p| !p.control).collect();
        let answered = |port: u16| ports.iter().any(|p| p.port == port && p.failure.is_none());
        let mut listed: Vec<u16> = Vec::new();
        for p in &ports {
            if !listed.contains(&p.port) {
                listed.push(p.port);
            }
        }
        let open: Vec<String> = listed
            .iter()
            .filter(|p| answered(**p))
            .map(|p| p.to_string())
            .collect();
        for &port in &listed {
            let probes: Vec<&PortProbe> =
                ports.iter().filter(|p| p.port == port).copied().collect();
            if probes.iter().all(|p| p.failure.is_some()) && !open.is_empty() {
                // "Unreachable" on one port while others answer is a firewall rejecting it.
                let (how, category) = match probes[0].failure {
                    Some(ConnectFailure::Refused) => ("refused", Some(Category::ConnectionRefused)),
                    Some(ConnectFailure::Timeout) => {
                        ("dropped (no answer)", Some(Category::TimeoutOrBlockedPort))
                    }
                    Some(ConnectFailure::HostUnreachable)
                    | Some(ConnectFailure::NetworkUnreachable) => (
                        "rejected by a firewall (host unreachable while other ports answer)",
                        Some(Category::ConnectionRefused),
                    ),
                    _ => ("unreachable", None),
                };
                let dropped = probes
                    .iter()
                    .all(|p| p.failure == Some(ConnectFailure::Timeout));
                if port == 25 && dropped {
                    let evidence = format!("conn:{}", probes[0].conn);
                    let open = open.join(", ");
                    let finding = if control.is_empty() {
                        Finding::new("net.port25.blocked", Severity::Warning, Some(Category::TimeoutOrBlockedPort), format!("Port 25 is dropped while port {open} answers"))
                            .detail("Connections to port 25 got no answer at all, while the submission port(s) of the same host did. Many ISPs and cloud providers block outbound port 25; the server's own firewall can do the same. Without a second, independent host to compare with, these cannot be told apart.")
                            .fix("Send through the submission port (587 with STARTTLS or 465 with SSL/TLS) and log in: that is what mail clients and apps should use anyway.")
                            .fix("To tell your network from the server's firewall: add --control with another, independent mail server (for example your provider's MX); if its port 25 is dropped too, your network or ISP blocks port 25.")
                    } else if control
                        .iter()
                        .all(|c| c.failure == Some(ConnectFailure::Timeout))
                    {
                        Finding::new("net.port25.blocked_outbound", Severity::Warning, Some(Category::TimeoutOrBlockedPort), "Your network or ISP blocks outbound port 25")
                            .detail(format!("Port 25 is dropped both here and on the independent control host {}, while port {open} of this host answers: the block sits on your side (local firewall, router or ISP).", control[0].address))
                            .fix("Send through the submission port (587 with STARTTLS or 465 with SSL/TLS) and log in, or through your provider's relay.")
                            .fix("If you need port 25 (running a mail server), ask the ISP or cloud provider to lift the block, or relay through a smarthost.")
                            .evidence(format!("conn:{}", control[0].conn))
                    } else {
                        Finding::new("net.port25.server_firewall", Severity::Warning, Some(Category::TimeoutOrBlockedPort), "This server drops port 25; your network does not")
                            .detail(format!("Port 25 of the independent control host {} answers from here, so outbound port 25 is open; this server's firewall drops it while port {open} answers.", control[0].address))
                            .fix("Use the submission port (587 with STARTTLS or 465 with SSL/TLS).")
                            .fix("If you run the server and want port 25, open it in its firewall.")
                            .evidence(format!("conn:{}", control[0].conn))
                    };
                    self.push(finding.evidence(evidence));
                } else {
                    self.push(
                        Finding::new(
                            "net.port.closed",
                            Severity::Info,
                            category,
                            format!("Port {port}: {how}"),
                        )
                        .detail(
                            probes
                                .iter()
                                .map(|p| {
                                    format!(
                                        "{}: {}",
                                        p.address,
                                        p.detail.clone().unwrap_or_default()
                                    )
                                })
                                .collect::<Vec<_>>()
                                .join("; "),
                        )
                        .evidence(format!("conn:{}", probes[0].conn)),
                    );
                }
            }
        }
        // A whole address family failing on every port while the other answers.
        let v6 = |p: &&PortProbe| p.address.contains(':');
        let (six, four): (Vec<&PortProbe>, Vec<&PortProbe>) = ports.iter().copied().partition(v6);
        for (broken, other, failed, fine) in
            [("IPv6", "IPv4", &six, &four), ("IPv4", "IPv6", &four, &six)]
        {
            if !failed.is_empty()
                && failed.iter().all(|p| p.failure.is_some())
                && fine.iter().any(|p| p.failure.is_none())
            {
                self.push(
                    Finding::new("net.family.broken", Severity::Warning, None, format!("{broken} does not work to this server; {other} does"))
                        .detail(format!("No {broken} address answered on any port, while {other} did. A client that tries {broken} first waits for its timeout on every send, or fails."))
                        .fix(format!("Until it is fixed, force {other} in the client (smtpdoctor: -{}).", if other == "IPv4" { 4 } else { 6 }))
                        .evidence(format!("conn:{}", failed[0].conn)),
                );
            }
        }
        if !open.is_empty() {
            return true;
        }
        // No port answered: the cause is how they failed.
        let all = |f: ConnectFailure| ports.iter().all(|p| p.failure == Some(f));
        let ports = &ports;
        let names = listed
            .iter()
            .map(u16::to_string)
            .collect::<Vec<_>>()
            .join(", ");
        let finding = if ports.is_empty() {
            return false;
        } else if all(ConnectFailure::Refused) {
            self.problem("net.connect.refused", Category::ConnectionRefused, Retry::Permanent, format!("Every port refused the connection ({names})"))
                .detail("Each port answered with a reset: nothing listens there, or a firewall rejects the connections.")
                .fix("Check the server name: this host runs no mail service on the usual ports.")
                .fix("If you run the server, check that it listens (ss -ltn) and that its firewall allows the ports.")
        } else if ports
            .iter()
            .any(|p| p.failure == Some(ConnectFailure::Timeout))
        {
            self.problem("net.connect.timeout", Category::TimeoutOrBlockedPort, Retry::Permanent, format!("No port answered ({names}): the packets vanish"))
                .detail("Connections got no answer at all: a firewall drops them (yours, your network's, or the server's), or the host is down.")
                .fix("Check your own firewall and try from another network (a phone hotspot): if it works there, your network blocks mail ports.")
                .fix("Check that the server name and address are right, and that the server is up.")
                .confidence(Confidence::Medium, &[Category::NetworkUnreachable])
        } else {
            self.problem("net.connect.unreachable", Category::NetworkUnreachable, Retry::Temporary, format!("No route to the server on any port ({names})"))
                .detail(ports.iter().filter_map(|p| p.detail.clone()).next().unwrap_or_default())
                .fix("Check that this machine is online and that the address family (IPv4/IPv6) works here; try -4 or -6.")
        };
        self.push(finding.evidence(format!("conn:{}", ports[0].conn)));
        false
    }

    fn resolve_rules(&mut self) -> bool {
        let Some(r) = self.input.resolve else {
            return true;
        };
        if !r.addresses.is_empty() {
            return true;
        }
        let host = &r.name;
        let finding = match r.failure {
            Some(failure) => dns_failure(
                host,
                failure,
                r.detail.as_deref().unwrap_or_default(),
                Named::Server,
            ),
            None => self
                .problem(
                    "dns.no_address_in_family",
                    Category::NetworkUnreachable,
                    Retry::Permanent,
                    format!("{host} has no address of the family asked for"),
                )
                .detail(format!(
                    "Addresses left out by -4/-6: {}",
                    r.filtered.join(", ")
                ))
                .fix("Drop -4/-6, or use a network with the other address family."),
        };
        self.push(finding.evidence("step:resolve"));
        false
    }

    fn connect_rules(&mut self, main: &SessionEvidence) -> bool {
        let failed: Vec<&ConnectAttempt> = main
            .connects
            .iter()
            .filter(|c| c.failure.is_some())
            .collect();
        if main.connected() {
            // A whole address family failing while the other works: clients that prefer it stall.
            let family = |a: &str| {
                if a.starts_with('[') || a.matches(':').count() > 1 {
                    "IPv6"
                } else {
                    "IPv4"
                }
            };
            let worked = main.connects.last().map(|c| family(&c.address));
            if let Some(broken) = failed.first().map(|c| family(&c.address))
                && failed.iter().all(|c| family(&c.address) == broken)
                && worked != Some(broken)
            {
                let other = worked.unwrap_or("the other family");
                self.push(
                    Finding::new("net.family.broken", Severity::Warning, None, format!("{broken} does not work to this server; {other} does"))
                        .detail(format!(
                            "Every {broken} address failed ({}) while {other} connected. A client that tries {broken} first waits for its timeout on every send, or fails outright.",
                            failed.iter().map(|c| c.address.as_str()).collect::<Vec<_>>().join(", ")
                        ))
                        .fix(format!("Until it is fixed, force {other} in the client (smtpdoctor: -{}).", if other == "IPv4" { 4 } else { 6 }))
                        .fix(format!("If you run the server, make it listen on its {broken} address, or remove the {} record.", if broken == "IPv6" { "AAAA" } else { "A" }))
                        .evidence(conn_ref(main)),
                );
            }
            for attempt in failed {
                self.push(
                    Finding::new("net.address.failed", Severity::Warning, None, format!("Address {} did not answer; another one did", attempt.address))
                        .detail(format!("{:?}: {}", attempt.failure, attempt.detail.clone().unwrap_or_default()))
                        .fix("Clients that try this address first may hang or fail; check that address family's network path.")
                        .evidence(conn_ref(main)),
                );
            }
            return true;
        }
        let Some(last) = main.connects.last() else {
            return false;
        };
        let port = self.input.target.port;
        let all_refused = failed
            .iter()
            .all(|c| c.failure == Some(ConnectFailure::Refused));
        let any_timeout = failed
            .iter()
            .any(|c| c.failure == Some(ConnectFailure::Timeout));
        let addresses = failed
            .iter()
            .map(|c| c.address.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        let finding = if all_refused {
            self.problem("net.connect.refused", Category::ConnectionRefused, Retry::Permanent, format!("Connection refused on port {port}: nothing listens there, or a firewall rejects it"))
                .detail(format!("Every address ({addresses}) answered the connection with a reset (ECONNREFUSED)."))
                .fix(format!("Check the port: submission is usually 587 (STARTTLS) or 465 (SSL/TLS); {port} may be wrong."))
                .fix("If you run the server, check that it listens on this port and address (ss -ltn) and that its firewall allows it.")
        } else if any_timeout {
            let mut f = self
                .problem("net.connect.timeout", Category::TimeoutOrBlockedPort, Retry::Permanent, format!("No answer on port {port}: a firewall drops the connection, or the server is down"))
                .detail(format!("Connecting to {addresses} got no answer within the timeout: the packets vanished."));
            if port == 25 {
                f = f.fix("Many ISPs and cloud providers block outbound port 25: use your provider's submission port 587 or 465 instead.");
            }
            f.fix("Check your own firewall (Linux: sudo iptables -L -n or nft list ruleset; macOS: System Settings > Network > Firewall; Windows: Windows Defender Firewall > Outbound rules).")
                .fix("Try another network (a phone hotspot): if it works there, your network or ISP blocks the port.")
                .fix("If you run the server, check that its firewall accepts the port.")
                .confidence(Confidence::Medium, &[Category::NetworkUnreachable])
        } else {
            match last.failure {
                Some(ConnectFailure::HostUnreachable) | Some(ConnectFailure::NetworkUnreachable) => self
                    .problem("net.connect.unreachable", Category::NetworkUnreachable, Retry::Temporary, format!("No route to {addresses}"))
                    .detail(last.detail.clone().unwrap_or_default())
                    .fix("Check that this machine is online and that the address family (IPv4/IPv6) works here; try -4 or -6.")
                    .fix("A firewall answering 'host unreachable' or 'administratively prohibited' looks the same: check it."),
                _ => self
                    .problem("net.connect.failed", Category::NetworkUnreachable, Retry::Temporary, format!("Could not connect to {addresses}"))
                    .detail(last.detail.clone().unwrap_or_default())
                    .fix("Check the network connection.")
                    .confidence(Confidence::Low, &[Category::ConnectionRefused, Category::TimeoutOrBlockedPort]),
            }
        };
        self.push(finding.evidence(conn_ref(main)));
        false
    }

    /// Decides the TLS mode question; returns the session the later rules read.
    fn mode_rules(&mut self, main: &'a SessionEvidence) -> Option<&'a SessionEvidence> {
        let asked = self.input.target.tls;
        let port = self.input.target.port;
        // Implicit TLS tried on a port that answered in plaintext.
        if main.mode == TlsMode::Implicit
            && let Some(tls) = &main.tls
            && tls.version.is_none()
        {
            let probe = self.probe(TlsMode::Starttls).filter(|p| p.greeted());
            let plaintext = tls.failure == Some(TlsFailure::PlaintextReply);
            if let Some(probe) = probe.filter(|_| {
                plaintext
                    || matches!(
                        tls.failure,
                        Some(TlsFailure::Closed) | Some(TlsFailure::Other)
                    )
            }) {
                let starttls = probe.ehlo.as_ref().is_some_and(|e| e.has("STARTTLS"));
                let works = if starttls {
                    TlsMode::Starttls
                } else {
                    TlsMode::None
                };
                if asked == TlsMode::Auto {
                    self.push(
                        Finding::new("tls.mode.detected", Severity::Info, None, format!("Port {port} speaks plain SMTP{}, not implicit TLS", if starttls { " with STARTTLS" } else { "" }))
                            .detail("A TLS handshake got an SMTP greeting in plaintext; a second connection confirmed it.")
                            .evidence(conn_ref(main))
                            .evidence(conn_ref(probe)),
                    );
                    return Some(probe);
                }
                let seen = first_line(tls.plaintext_seen.as_deref().unwrap_or_default());
                let f = self
                    .problem("tls.mode.starttls_expected", Category::TlsMismatch, Retry::Permanent, format!("Port {port} does not speak implicit TLS (SSL/TLS): it {}", if starttls { "expects STARTTLS" } else { "speaks plain SMTP" }))
                    .detail(format!(
                        "The TLS handshake on connection {} got a plaintext SMTP greeting instead ({seen:?}). Connection {} then spoke plain SMTP and {}.",
                        main.conn,
                        probe.conn,
                        if starttls { "the server offered STARTTLS" } else { "the server offered no STARTTLS" }
                    ))
                    .fix(if starttls { format!("Use {}.", mode_setting(works, port)) } else { format!("This port offers no TLS at all; find the provider's TLS port (465 for SSL/TLS, 587 for STARTTLS). Plain {}", mode_setting(works, port)) })
                    .fix("Or keep SSL/TLS and change the port to 465, if the provider offers it.")
                    .evidence(step_ref("tls", main))
                    .evidence(conn_ref(probe));
                self.push(f);
                return Some(probe);
            }
            return Some(main);
        }
        // A plain port that never greeted, while a TLS handshake on it succeeded.
        if main.mode != TlsMode::Implicit
            && main
                .banner
                .as_ref()
                .is_some_and(|b| b.reply.is_none() && b.first_byte_ms.is_none())
            && let Some(probe) = self.probe(TlsMode::Implicit).filter(|p| {
                p.tls
                    .as_ref()
                    .is_some_and(|t| t.version.is_some() || !t.chain.is_empty())
            })
        {
            let waited = main.banner.as_ref().map_or(0, |b| b.ms);
            if asked == TlsMode::Auto {
                self.push(
                    Finding::new("tls.mode.detected", Severity::Info, None, format!("Port {port} speaks implicit TLS (SSL/TLS)"))
                        .detail(format!("No plaintext greeting came in {waited} ms; a TLS handshake on a second connection succeeded."))
                        .evidence(conn_ref(main))
                        .evidence(conn_ref(probe)),
                );
                return Some(probe);
            }
            let f = self
                .problem("tls.mode.implicit_expected", Category::TlsMismatch, Retry::Permanent, format!("Port {port} expects implicit TLS (SSL/TLS) from the first byte, not {}", asked.describe()))
                .detail(format!(
                    "Connection {} waited {waited} ms and got no greeting: the server was waiting for a TLS handshake. Connection {} started TLS at once and {}.",
                    main.conn,
                    probe.conn,
                    if probe.greeted() {
                        "got the greeting inside TLS"
                    } else if probe.tls.as_ref().is_some_and(|t| t.version.is_some()) {
                        "completed the TLS handshake"
                    } else {
                        "received the server's TLS certificate"
                    }
                ))
                .fix(format!("Use {}.", mode_setting(TlsMode::Implicit, port)))
                .fix("Or keep STARTTLS and change the port to 587, if the provider offers it.")
                .evidence(step_ref("banner", main))
                .evidence(conn_ref(probe));
            self.push(f);
            return Some(probe);
        }
        Some(main)
    }

    fn banner_rules(&mut self, s: &SessionEvidence) -> bool {
        // Implicit TLS failures come before the greeting.
        if s.mode == TlsMode::Implicit && s.tls.as_ref().is_some_and(|t| t.version.is_none()) {
            self.tls_failure(s);
            return false;
        }
        if s.mode == TlsMode::Implicit && !self.cert_rules(s) {
            return false;
        }
        let Some(banner) = &s.banner else {
            return false;
        };
        if let Some(reply) = &banner.reply {
            if reply.code == 220 {
                if banner.ms > SLOW_BANNER_MS {
                    self.push(
                        Finding::new("banner.slow", Severity::Warning, None, format!("The greeting took {:.1} s", banner.ms as f64 / 1000.0))
                            .detail("A greeting delay this long is a deliberate anti-spam pause or an overloaded server; impatient clients give up.")
                            .evidence(step_ref("banner", s)),
                    );
                }
                return true;
            }
            let meaning = knowledge::classify(reply, Stage::Greeting);
            let category = match meaning.category {
                Category::BlacklistedIp
                | Category::GreylistingOrRateLimit
                | Category::SpamOrPolicyBlock => meaning.category,
                _ => Category::ServerUnavailable,
            };
            let mut f = self
                .problem(
                    "banner.rejected",
                    category,
                    meaning.retry,
                    format!(
                        "The server refused the session at the greeting: {}",
                        reply.one_line()
                    ),
                )
                .detail(
                    format!(
                        "{} {}",
                        meaning.meaning,
                        if reply.code == 554 {
                            "A 554 greeting means this server will not talk to this client at all."
                        } else {
                            ""
                        }
                    )
                    .trim()
                    .to_string(),
                )
                .evidence(step_ref("banner", s));
            for fix in meaning.fix {
                f = f.fix(fix);
            }
            self.push(f);
            return false;
        }
        let probe_tls = self.probe(TlsMode::Implicit).and_then(|p| p.tls.as_ref());
        let ms = banner.ms;
        let f = match banner.failure {
            Some(ReadFailure::Timeout) | Some(ReadFailure::Deadline) if banner.first_byte_ms.is_none() => {
                let mut f = self
                    .problem("banner.timeout", Category::ServerUnavailable, Retry::Temporary, format!("Connected, but the server sent no greeting in {:.1} s", ms as f64 / 1000.0))
                    .detail(format!(
                        "TCP connected, then nothing came: a tarpit, a hung server, or a proxy that accepts and stalls.{}",
                        match probe_tls {
                            Some(t) => format!(" A TLS handshake on the same port failed too ({}), so it is not an implicit-TLS port.", t.detail.clone().unwrap_or_default()),
                            None => String::new(),
                        }
                    ))
                    .fix("Try again later; if it lasts, the server's administrator should check it (or its greeting delay).")
                    .fix("Check for an antivirus or firewall on this machine that intercepts mail connections.")
                    .evidence(step_ref("banner", s));
                f = f.confidence(Confidence::Medium, &[Category::TlsMismatch, Category::TimeoutOrBlockedPort]);
                f
            }
            Some(ReadFailure::Timeout) | Some(ReadFailure::Deadline) => self
                .problem("banner.incomplete", Category::ServerUnavailable, Retry::Temporary, "The greeting started but never finished")
                .detail("Some bytes of a greeting arrived, then nothing before the timeout: a very slow or stalling server.")
                .fix("Try again later; if it lasts, the server's administrator should check it.")
                .evidence(step_ref("banner", s)),
            Some(ReadFailure::Closed) | Some(ReadFailure::Reset) => self
                .problem("banner.closed", Category::ServerUnavailable, Retry::Temporary, "The server closed the connection before greeting")
                .detail("TCP connected, then the server hung up without a word: overloaded, limiting connections, or refusing this client.")
                .fix("Try again later; if it lasts, ask the server's administrator whether your address is blocked or rate-limited.")
                .confidence(Confidence::Medium, &[Category::GreylistingOrRateLimit, Category::BlacklistedIp])
                .evidence(step_ref("banner", s)),
            Some(ReadFailure::Malformed) => self
                .problem("banner.not_smtp", Category::ServerUnavailable, Retry::Permanent, format!("The service on port {} does not speak SMTP", s.port))
                .detail("The first bytes were not an SMTP greeting (another protocol, binary data, or a broken server).")
                .fix("Check the port number: it may belong to another service.")
                .confidence(Confidence::Medium, &[Category::Other])
                .evidence(step_ref("banner", s)),
            Some(ReadFailure::TooLong) => self.too_long(s, "banner"),
            _ => return false,
        };
        self.push(f);
        false
    }

    fn too_long(&self, s: &SessionEvidence, step: &str) -> Finding {
        self.problem("reply.too_long", Category::ServerUnavailable, Retry::Permanent, format!("The server's reply at {step} was too long to be SMTP"))
            .detail(format!(
                "{}: smtpdoctor stops reading at {} bytes a line or {} lines a reply, as a mail client would choke.",
                s.interrupted.as_ref().map(|i| i.detail.clone()).unwrap_or_default(),
                8 * 1024,
                512
            ))
            .fix("The server is broken or hostile; its administrator must fix it.")
            .evidence(step_ref(step, s))
    }

    fn ehlo_rules(&mut self, s: &SessionEvidence) -> bool {
        let plain = s.ehlo.as_ref();
        if let Some(ehlo) = plain.filter(|e| e.command == "HELO" && e.reply.code == 250) {
            self.push(
                Finding::new("ehlo.not_supported", Severity::Warning, None, "The server refused EHLO; only HELO works")
                    .detail(format!("Without EHLO there is no STARTTLS, AUTH, SIZE or PIPELINING. HELO answered: {}", ehlo.reply.one_line()))
                    .evidence(step_ref("ehlo", s)),
            );
        }
        for (name, e) in [("ehlo", s.ehlo.as_ref()), ("ehlo_tls", s.ehlo_tls.as_ref())] {
            if let Some(e) = e.filter(|e| e.reply.code != 250) {
                let meaning = knowledge::classify(&e.reply, Stage::Ehlo);
                let mut f = self
                    .problem("ehlo.rejected", meaning.category, meaning.retry, format!("The server refused the client's greeting (EHLO {}): {}", self.input.target.helo, e.reply.one_line()))
                    .detail(meaning.meaning)
                    .confidence(meaning.confidence.min(Confidence::Medium), &meaning.alternatives)
                    .fix("Set a proper client name with --helo (a fully qualified name that resolves to this machine's public address).")
                    .evidence(step_ref(name, s));
                for fix in meaning.fix {
                    f = f.fix(fix);
                }
                self.push(f);
                return false;
            }
        }
        if let Some(i) = &s.interrupted
            && (i.step == "ehlo" || i.step == "ehlo_tls")
        {
            self.interruption_rules(s);
            return false;
        }
        true
    }

    fn tls_failure(&mut self, s: &SessionEvidence) {
        let Some(tls) = &s.tls else { return };
        let detail = tls.detail.clone().unwrap_or_default();
        // A signature failure with a weak key is the key's fault.
        if (tls.failure == Some(TlsFailure::Certificate) || tls.chain.first().is_some_and(is_weak))
            && !self.cert_rules(s)
        {
            return;
        }
        let f = match tls.failure {
            Some(TlsFailure::Timeout) => self
                .problem("tls.handshake.timeout", Category::ServerUnavailable, Retry::Temporary, "The TLS handshake got no answer")
                .detail("The server accepted the connection but did not answer the TLS ClientHello in time.")
                .fix("If the port should speak STARTTLS, use --tls starttls; otherwise the server is stalled.")
                .confidence(Confidence::Medium, &[Category::TlsMismatch, Category::TimeoutOrBlockedPort]),
            Some(TlsFailure::Alert) => self
                .problem("tls.handshake.alert", Category::TlsMismatch, Retry::Permanent, "The server aborted the TLS handshake with an alert")
                .detail(format!("{detail}. Client and server found no TLS version or cipher in common, or the server's TLS set-up is broken."))
                .fix("If you run the server, check its TLS configuration (certificate and key files, protocol versions); smtpdoctor offers TLS 1.2 and 1.3.")
                .confidence(Confidence::Medium, &[Category::TlsCertificate, Category::ServerUnavailable]),
            Some(TlsFailure::PlaintextReply) => self
                .problem("tls.mode.starttls_expected", Category::TlsMismatch, Retry::Permanent, format!("Port {} answered in plaintext, not TLS", s.port))
                .detail(format!("The server sent {:?} during the TLS handshake.", first_line(tls.plaintext_seen.as_deref().unwrap_or_default())))
                .fix(format!("Use {}.", mode_setting(TlsMode::Starttls, s.port))),
            Some(TlsFailure::Closed) => self
                .problem("tls.handshake.closed", Category::TlsMismatch, Retry::Permanent, "The server closed the connection during the TLS handshake")
                .detail(detail)
                .fix("Check the TLS mode and port (465 = SSL/TLS, 587 = STARTTLS).")
                .confidence(Confidence::Medium, &[Category::ServerUnavailable]),
            _ => self
                .problem("tls.handshake.failed", Category::TlsMismatch, Retry::Permanent, "The TLS handshake failed")
                .detail(detail)
                .fix("Check the TLS mode and port (465 = SSL/TLS, 587 = STARTTLS).")
                .confidence(Confidence::Medium, &[Category::TlsCertificate, Category::Other]),
        };
        self.push(f.evidence(step_ref("tls", s)));
    }

    /// Certificate rules; false when the certificate blocks the ladder.
    fn cert_rules(&mut self, s: &SessionEvidence) -> bool {
        let Some(tls) = &s.tls else { return true };
        let leaf = tls.chain.first();
        let mut blocked = false;
        if let Some(leaf) = leaf.filter(|c| is_weak(c)) {
            let f = self.problem("tls.cert.weak_key", Category::TlsCertificate, Retry::Permanent, format!("The server's certificate has a weak {}-bit {} key", leaf.key_bits, leaf.key_algorithm))
                    .detail(format!("{} uses a {}-bit {} key; current clients require at least 2048-bit RSA or 256-bit EC keys and refuse it.", leaf.subject, leaf.key_bits, leaf.key_algorithm))
                    .fix("The server's administrator must issue a new certificate with a 2048-bit (or larger) RSA key or an EC key.")
                    .evidence(step_ref("tls", s));
            if self.opportunistic(s) {
                self.push(opportunistic(f));
            } else {
                self.push(f);
                blocked = true;
            }
        }
        // DANE authenticated the certificate: senders that use DANE do not ask a CA, and the
        // others deliver opportunistically, so an untrusted certificate is nothing to report.
        let dane_authenticated = self.dane == Some(DaneStatus::Authenticated);
        if let Some(v) = tls
            .verification
            .as_ref()
            .filter(|v| !v.verified && !dane_authenticated)
        {
            let name = &v.name;
            let detail = v.detail.clone().unwrap_or_default();
            let sans = leaf.map(|c| c.sans.join(", ")).unwrap_or_default();
            let f = match v.problem {
                Some(CertProblem::Expired) => {
                    let when = leaf.map(|c| c.not_after.clone()).unwrap_or_default();
                    self.problem("tls.cert.expired", Category::TlsCertificate, Retry::Permanent, format!("The server's certificate expired on {when}"))
                        .detail(format!("{detail}. Mail clients refuse an expired certificate."))
                        .fix("The server's administrator must renew the certificate (and reload the mail server).")
                        .fix("If the date is far off, check this machine's clock.")
                }
                Some(CertProblem::NotYetValid) => {
                    let when = leaf.map(|c| c.not_before.clone()).unwrap_or_default();
                    self.problem("tls.cert.not_yet_valid", Category::TlsCertificate, Retry::Permanent, format!("The server's certificate is not valid until {when}"))
                        .detail(format!("{detail}."))
                        .fix("Check this machine's date and time: a clock in the past makes new certificates look not yet valid.")
                        .fix("If the clock is right, the server's administrator installed a certificate dated in the future.")
                }
                Some(CertProblem::NameMismatch) => {
                    let suggestion = leaf.and_then(|c| c.sans.iter().find_map(|s| s.strip_prefix("DNS:")).map(str::to_string));
                    let mut f = self
                        .problem("tls.cert.name_mismatch", Category::TlsCertificate, Retry::Permanent, format!("The certificate is not valid for the name {name}"))
                        .detail(format!("{detail}. The certificate names: {sans}."));
                    if let Some(s) = suggestion {
                        f = f.fix(format!("Connect with a name the certificate carries, e.g. {s}, as the server name."));
                    }
                    f.fix("Or the server's administrator must add this name to the certificate.")
                }
                Some(CertProblem::UnknownIssuer) => {
                    let only_leaf = tls.chain.len() == 1;
                    let self_signed = leaf.is_some_and(|c| c.self_issued);
                    if self_signed {
                        self.problem("tls.cert.self_signed", Category::TlsCertificate, Retry::Permanent, "The server's certificate is self-signed: nothing vouches for it")
                            .detail(format!("{detail}. Subject and issuer are both {}.", leaf.map(|c| c.subject.as_str()).unwrap_or("")))
                            .fix("The server's administrator should use a certificate from a public CA (e.g. Let's Encrypt).")
                            .fix("If you trust this server, give its certificate with --ca-file (mail clients have a similar exception).")
                    } else if only_leaf && tls.issuer_in_trust_store != Some(true) {
                        let issuer = leaf.map(|c| c.issuer.clone()).unwrap_or_default();
                        let confidence = if tls.issuer_in_trust_store == Some(false) { Confidence::High } else { Confidence::Medium };
                        self.problem("tls.cert.incomplete_chain", Category::TlsCertificate, Retry::Permanent, "The server sends only its own certificate, without the intermediate CA")
                            .detail(format!("{detail}. The chain has one certificate, issued by {issuer}, which is not a trusted root: the intermediate certificate that links them is missing."))
                            .fix("The server's administrator must configure the full chain (leaf plus intermediates, e.g. fullchain.pem) in the mail server.")
                            .confidence(confidence, &[])
                    } else {
                        let issuer = leaf.map(|c| c.issuer.clone()).unwrap_or_default();
                        self.problem("tls.cert.untrusted", Category::TlsCertificate, Retry::Permanent, format!("The server's certificate is issued by an untrusted CA ({issuer})"))
                            .detail(format!("{detail}."))
                            .fix("The server's administrator should use a certificate from a public CA.")
                            .fix("If it is a private CA you trust, give its certificate with --ca-file.")
                    }
                }
                _ => self
                    .problem("tls.cert.invalid", Category::TlsCertificate, Retry::Permanent, "The server's certificate does not verify")
                    .detail(detail)
                    .fix("The server's administrator must install a valid certificate for this name."),
            };
            let mut f = f.evidence(step_ref("tls", s));
            if self.input.target.insecure {
                f.detail
                    .push_str(" (--insecure: smtpdoctor went on anyway to gather more evidence.)");
            }
            if self.opportunistic(s) {
                f = opportunistic(f);
            } else {
                blocked = true;
            }
            self.push(f);
        }
        if let Some(leaf) = leaf
            && !blocked
            && leaf.expires_in_s < EXPIRY_WARNING_DAYS * 86_400
        {
            let days = leaf.expires_in_s / 86_400;
            self.push(
                Finding::new(
                    "tls.cert.expires_soon",
                    Severity::Warning,
                    Some(Category::TlsCertificate),
                    format!(
                        "The certificate expires in {days} days ({})",
                        leaf.not_after
                    ),
                )
                .fix("Renew it before then; check that automatic renewal works.")
                .evidence(step_ref("tls", s)),
            );
        }
        !blocked || self.input.target.insecure
    }

    /// DANE (`check --mx`): what the host's TLSA records mean to senders that use them.
    fn dane_rules(&mut self, s: &SessionEvidence) {
        let Some(input) = self.input.dane else { return };
        let status = dane_status(input, Some(s));
        self.dane = Some(status);
        let (e, host) = (input.evidence, input.host);
        let records = e
            .records
            .iter()
            .map(dane::describe)
            .collect::<Vec<_>>()
            .join("; ");
        let tls = s.tls.as_ref().filter(|t| !t.chain.is_empty());
        let with_tls = |f: Finding| match tls {
            Some(_) => f.evidence("mx").evidence(step_ref("tls", s)),
            None => f.evidence("mx"),
        };
        // What the server presented, digest by digest: the evidence any TLSA claim rests on.
        let presented = tls
            .and_then(|t| t.chain.first())
            .map(|leaf| {
                format!(
                    "The server presented {} (public key SHA-256 {}, certificate SHA-256 {}).",
                    leaf.subject, leaf.spki_sha256, leaf.sha256
                )
            })
            .unwrap_or_default();
        match status {
            DaneStatus::Authenticated => {
                let Some(check) = tls.and_then(|t| dane::authenticating(&e.records, &t.tlsa)) else {
                    return;
                };
                let record = &e.records[check.record];
                let target = match record.selector {
                    0 => dane::cert_name(check.cert),
                    _ => format!("the public key of {}", dane::cert_name(check.cert)),
                };
                let value = check
                    .digest
                    .as_deref()
                    .map(|d| format!(" ({d})"))
                    .unwrap_or_default();
                let chain = if record.usage == 2 {
                    format!(", and the chain from the server's certificate up to it verifies for {host}")
                } else {
                    String::new()
                };
                self.push(with_tls(
                    Finding::new("dane.authenticated", Severity::Info, None, format!("DANE authenticates {host}: TLSA {} matches {target}", record.short()))
                        .detail(format!("The TLSA records at {} are DNSSEC-validated, as are the MX and address records. {} equals {target}{value}{chain}. Senders that use DANE deliver over TLS to this server; whether a public CA vouches for the certificate does not matter to them.", e.name, dane::describe(record))),
                ));
            }
            DaneStatus::Mismatch => {
                let mut detail = format!("The TLSA records at {} are DNSSEC-validated, so senders that use DANE accept only a certificate one of them describes: {records}. {presented}", e.name);
                for c in tls.iter().flat_map(|t| t.tlsa.iter()).filter(|c| c.matched && c.chain_verified == Some(false)) {
                    detail.push_str(&format!(" {} matches {}, but the chain to it does not verify: {}.", e.records[c.record].short(), dane::cert_name(c.cert), c.chain_detail.clone().unwrap_or_default()));
                }
                let spki = tls.and_then(|t| t.chain.first()).map(|l| l.spki_sha256.clone()).unwrap_or_default();
                self.push(with_tls(
                    self.problem("dane.mismatch", Category::TlsCertificate, Retry::Permanent, format!("No TLSA record of {host} matches the certificate it presents: senders that use DANE will not deliver"))
                        .detail(detail)
                        .fix(format!("Publish a TLSA record for the certificate in use: {}. IN TLSA 3 1 1 {spki} (or put back the certificate the records describe).", e.name.trim_end_matches('.')))
                        .fix("When replacing a certificate, publish the new record next to the old one a few TTLs before the switch; a 3 1 1 record survives renewals that keep the key."),
                ));
            }
            DaneStatus::NoTls => self.push(with_tls(
                self.problem("dane.no_tls", Category::TlsMismatch, Retry::Permanent, format!("{host} publishes DANE TLSA records but does not offer STARTTLS: senders that use DANE will not deliver"))
                    .detail(format!("The TLSA records at {} are DNSSEC-validated ({records}); with them, DANE senders require TLS and never fall back to plaintext (RFC 7672 section 2.2). The server's EHLO reply has no STARTTLS.", e.name))
                    .fix("Enable STARTTLS on the server (Postfix: smtpd_tls_security_level = may, with the certificate the TLSA records describe), or remove the TLSA records.")
                    .evidence(step_ref("ehlo", s)),
            )),
            DaneStatus::NotApplied => {
                let why = if input.mx_dnssec != Some(Dnssec::Secure) {
                    format!("the MX records of {} are not DNSSEC-validated ({})", input.domain, dnssec_word(input.mx_dnssec))
                } else {
                    format!("the address records of {host} are not DNSSEC-validated ({})", dnssec_word(e.address_dnssec))
                };
                self.push(
                    Finding::new("dane.not_applied", Severity::Warning, Some(Category::Dns), format!("The TLSA records of {host} validate, but senders ignore them: {why}"))
                        .detail(format!("Records: {records}. DANE applies only when the MX records and the MX host's address records are DNSSEC-validated too (RFC 7672 sections 2.2.1 and 2.2.2): otherwise an attacker could steer senders to another host, so they use opportunistic TLS instead."))
                        .fix(format!("Sign the zone of {} with DNSSEC and publish its DS record at the parent (the registrar).", if input.mx_dnssec != Some(Dnssec::Secure) { input.domain } else { host }))
                        .evidence("mx"),
                );
            }
            DaneStatus::Unsigned => {
                let matches = tls.map(|t| {
                    if dane::authenticating(&e.records, &t.tlsa).is_some() {
                        " They do match the certificate the server presented."
                    } else {
                        " They do not match the certificate the server presented either."
                    }
                });
                let why = e.detail.clone().unwrap_or_else(|| "The answer is insecure: the zone is not DNSSEC-signed, or its parent has no DS record for it".into());
                self.push(with_tls(
                    Finding::new("dane.unsigned", Severity::Warning, Some(Category::Dns), format!("The TLSA records of {host} are not DNSSEC-signed: senders ignore them"))
                        .detail(format!("Records at {}: {records}. {why}. Senders use TLSA only from DNSSEC-validated answers, so these do nothing.{}", e.name, matches.unwrap_or_default()))
                        .fix("Sign the zone with DNSSEC and publish its DS record at the parent (the registrar), or remove the TLSA records."),
                ));
            }
            DaneStatus::Bogus => {
                let why = e.detail.clone().unwrap_or_else(|| "DNSSEC validation failed".into());
                self.push(
                    self.problem("dane.bogus", Category::Dns, Retry::Permanent, format!("The TLSA answer for {host} fails DNSSEC validation: senders that use DANE will not deliver to it"))
                        .detail(format!("{why}. Validating resolvers answer SERVFAIL for it, so DANE senders treat the host as unusable (RFC 7672 section 2.2) and defer; senders whose resolver validates may not even find its address.{}", if records.is_empty() { String::new() } else { format!(" Records at {} (unvalidated): {records}.", e.name) }))
                        .fix("Re-sign the zone: expired signatures are the usual cause (check the signing job).")
                        .fix("Check that the DS record at the parent matches the zone's key-signing key.")
                        .evidence("mx"),
                );
            }
            DaneStatus::LookupFailed => {
                let failure = e.failure.map(|f| format!("{f:?}").to_lowercase()).unwrap_or_default();
                let hint = if e.failure == Some(DnsFailure::ServerFailure) {
                    " A resolver that validates DNSSEC answers SERVFAIL for bogus data too."
                } else {
                    ""
                };
                self.push(
                    Finding::new("dane.lookup_failed", Severity::Warning, Some(Category::Dns), format!("The TLSA look-up for {host} failed ({failure}): senders that use DANE defer mail for it until it answers"))
                        .detail(format!("{}{hint}", e.detail.clone().unwrap_or_default()))
                        .fix(format!("The name servers of {host}'s zone must answer TLSA queries for {}, also when there is no record (NODATA).", e.name))
                        .evidence("mx"),
                );
            }
            DaneStatus::Unusable | DaneStatus::None | DaneStatus::NotChecked => {}
        }
        // Records SMTP cannot use, next to usable ones or alone.
        let unusable: Vec<String> = e
            .records
            .iter()
            .filter(|r| !dane::usable(r))
            .map(dane::describe)
            .collect();
        if !unusable.is_empty()
            && matches!(
                status,
                DaneStatus::Authenticated
                    | DaneStatus::Mismatch
                    | DaneStatus::Unusable
                    | DaneStatus::NotChecked
            )
        {
            let alone = status == DaneStatus::Unusable;
            self.push(
                Finding::new("dane.unusable", Severity::Warning, Some(Category::TlsCertificate), format!("TLSA records of {host} that SMTP cannot use: {}", unusable.join("; ")))
                    .detail(format!("RFC 7672 section 3.1.3: PKIX-TA(0) and PKIX-EE(1) records, and unknown selectors or matching types, are unusable for SMTP. {}", if alone { "With nothing else published, DANE senders still require TLS but authenticate nothing." } else { "Senders ignore them; the other records count." }))
                    .fix("Publish DANE-EE (3 1 1) or DANE-TA (2 1 1) records instead.")
                    .evidence("mx"),
            );
        }
    }

    /// Port 25 without credentials is server-to-server delivery: senders use TLS opportunistically
    /// and accept certificates they cannot verify (unless DANE or MTA-STS applies).
    fn opportunistic(&self, s: &SessionEvidence) -> bool {
        s.port == 25 && !self.input.credentials_given && !self.input.strict_tls
    }

    fn tls_rules(&mut self, s: &SessionEvidence) -> bool {
        if s.mode != TlsMode::Starttls {
            return true;
        }
        let port = s.port;
        let offered = s.ehlo.as_ref().is_some_and(|e| e.has("STARTTLS"));
        if !offered {
            if self.input.target.tls == TlsMode::Starttls {
                self.push(
                    self.problem("tls.starttls.not_offered", Category::TlsMismatch, Retry::Permanent, format!("The server does not offer STARTTLS on port {port}"))
                        .detail("Its EHLO reply has no STARTTLS keyword, so the session cannot be encrypted on this port.")
                        .fix("Use the provider's implicit-TLS port (465, --tls implicit) if it has one.")
                        .fix("If you run the server, enable TLS (Postfix: smtpd_tls_security_level = may, with a certificate).")
                        .evidence(step_ref("ehlo", s)),
                );
                return false;
            }
            return true;
        }
        if let Some(reply) = s.starttls.as_ref().filter(|r| r.code != 220) {
            self.push(
                self.problem("tls.starttls.refused", Category::ServerUnavailable, knowledge::classify(reply, Stage::Starttls).retry, format!("The server offered STARTTLS but refused it: {}", reply.one_line()))
                    .detail("smtpdoctor never falls back to plaintext after a refused STARTTLS.")
                    .fix("Try again later; if it lasts, the server's TLS set-up is broken (its administrator must check the certificate and key files).")
                    .evidence(step_ref("starttls", s)),
            );
            return false;
        }
        if s.starttls.is_none() {
            if s.interrupted.as_ref().is_some_and(|i| i.step == "starttls") {
                self.interruption_rules(s);
                return false;
            }
            return true;
        }
        if s.tls.as_ref().is_some_and(|t| t.version.is_none()) {
            self.tls_failure(s);
            return false;
        }
        self.cert_rules(s)
    }

    fn auth_rules(&mut self, s: &SessionEvidence) {
        let Some(auth) = &s.auth else {
            // No AUTH advertised and no credentials: nothing to judge here.
            if self.input.credentials_given {
                self.no_auth_offered(s);
            }
            return;
        };
        let port = s.port;
        match auth.skipped.as_deref() {
            Some("no_tls")
                if self.probe(TlsMode::Starttls).is_some_and(|p| {
                    p.ehlo_tls
                        .as_ref()
                        .is_some_and(|e| e.auth_mechanisms().is_empty())
                }) =>
            {
                // Even inside TLS the server offers no login: the mode is not the problem.
                if let Some(probe) = self.probe(TlsMode::Starttls) {
                    self.no_auth_offered(probe);
                }
            }
            Some("no_tls") => {
                let probe = self.probe(TlsMode::Starttls).filter(|p| {
                    p.ehlo_tls
                        .as_ref()
                        .is_some_and(|e| !e.auth_mechanisms().is_empty())
                });
                if let Some(probe) = probe {
                    self.push(
                        self.problem("auth.starttls_required", Category::TlsMismatch, Retry::Permanent, format!("Port {port} needs STARTTLS before login"))
                            .detail(format!(
                                "Without TLS the server offers {}; connection {} issued STARTTLS and the server then offered AUTH {}. smtpdoctor does not send credentials unencrypted.",
                                if auth.offered.is_empty() { "no AUTH".to_string() } else { format!("AUTH {}", auth.offered.join(" ")) },
                                probe.conn,
                                probe.ehlo_tls.as_ref().map(|e| e.auth_mechanisms().join(" ")).unwrap_or_default()
                            ))
                            .fix(format!("Set the connection security to STARTTLS on port {port} (--tls starttls)."))
                            .evidence(step_ref("ehlo", s))
                            .evidence(conn_ref(probe)),
                    );
                } else {
                    let starttls = s.ehlo.as_ref().is_some_and(|e| e.has("STARTTLS"));
                    self.push(
                        self.problem("auth.credentials_withheld", Category::TlsMismatch, Retry::Permanent, "Credentials withheld: the session is not encrypted")
                            .detail(if starttls { "The server offers STARTTLS but the session ran without it; smtpdoctor sends no password in plaintext." } else { "The server offers no TLS on this port; smtpdoctor sends no password in plaintext." })
                            .fix(if starttls { format!("Use STARTTLS on port {port} (--tls starttls).") } else { "Use the provider's TLS port: 465 (SSL/TLS) or 587 (STARTTLS).".to_string() })
                            .fix("Only on a network you trust: --insecure sends them anyway.")
                            .confidence(Confidence::Medium, &[Category::AuthRequired])
                            .evidence(step_ref("auth", s)),
                    );
                }
            }
            Some("not_offered") => self.no_auth_offered(s),
            Some("no_common_mechanism") | Some("forced_not_offered") => {
                let forced = auth.skipped.as_deref() == Some("forced_not_offered");
                self.push(
                    self.problem(if forced { "auth.mechanism_not_offered" } else { "auth.no_common_mechanism" }, Category::AuthMechanism, Retry::Permanent, format!("No authentication mechanism in common (the server offers {})", auth.offered.join(" ")))
                        .detail(format!("smtpdoctor speaks {}; the server offers {}.", crate_mechanisms(), auth.offered.join(" ")))
                        .fix(format!("Choose one of the server's mechanisms in the client: {}.", auth.offered.join(", ")))
                        .fix("OAuth-only providers need an OAuth token (--oauth-token-env) instead of a password.")
                        .evidence(step_ref("auth", s)),
                );
            }
            Some("already_attempted") => {
                self.push(Finding::new("auth.not_repeated", Severity::Info, None, "Login was not tried again on the second connection").detail("One AUTH attempt per host per run: providers lock accounts after repeated failures."));
            }
            _ => {}
        }
        if let Some(reply) = auth.reply.as_ref().filter(|r| r.code != 235) {
            let meaning = knowledge::classify(reply, Stage::Auth);
            let id = match meaning.category {
                Category::AuthFailed => "auth.failed",
                Category::AuthDisabledByProvider => "auth.disabled_by_provider",
                _ => "auth.rejected",
            };
            let mut f = self
                .problem(
                    id,
                    meaning.category,
                    meaning.retry,
                    format!(
                        "Login refused ({}): {}",
                        auth.mechanism.clone().unwrap_or_default(),
                        reply.one_line()
                    ),
                )
                .detail(meaning.meaning)
                .confidence(meaning.confidence, &meaning.alternatives)
                .evidence(step_ref("auth", s));
            for fix in meaning.fix {
                f = f.fix(fix);
            }
            self.push(f);
        }
        if s.ehlo
            .as_ref()
            .is_some_and(|e| !e.auth_mechanisms().is_empty())
            && s.ehlo_tls.is_none()
            && !s.secured
        {
            self.push(
                Finding::new("auth.offered_before_tls", Severity::Warning, None, "The server offers AUTH without encryption")
                    .detail("A client set to 'no encryption' would send the password in the clear on this port.")
                    .fix("If you run the server, offer AUTH only after STARTTLS (Postfix: smtpd_tls_auth_only = yes).")
                    .evidence(step_ref("ehlo", s)),
            );
        }
    }

    fn no_auth_offered(&mut self, s: &SessionEvidence) {
        let port = s.port;
        if !s.secured && s.ehlo.as_ref().is_some_and(|e| e.has("STARTTLS")) {
            let probe = self.probe(TlsMode::Starttls);
            let mut f = self
                .problem(
                    "auth.starttls_required",
                    Category::TlsMismatch,
                    Retry::Permanent,
                    format!("Port {port} offers login only after STARTTLS"),
                )
                .detail("Without TLS the EHLO reply lists no AUTH, but it offers STARTTLS.")
                .fix(format!(
                    "Set the connection security to STARTTLS on port {port} (--tls starttls)."
                ))
                .evidence(step_ref("ehlo", s));
            if let Some(p) = probe {
                f = f.evidence(conn_ref(p));
                if let Some(mechs) = p
                    .ehlo_tls
                    .as_ref()
                    .map(|e| e.auth_mechanisms())
                    .filter(|m| !m.is_empty())
                {
                    f.detail.push_str(&format!(
                        " Connection {} proved it: after STARTTLS the server offered AUTH {}.",
                        p.conn,
                        mechs.join(" ")
                    ));
                }
            }
            self.push(f);
            return;
        }
        self.push(
            self.problem("auth.not_offered", Category::AuthMechanism, Retry::Permanent, format!("The server offers no login (AUTH) on port {port}"))
                .detail("Its EHLO reply has no AUTH keyword: this looks like a receiving (MX) or relay port, not a submission port.")
                .fix("Use the provider's submission port: 587 (STARTTLS) or 465 (SSL/TLS).")
                .fix("If this server relays by IP address instead, drop the credentials.")
                .confidence(Confidence::Medium, &[Category::RelayDenied])
                .evidence(step_ref("ehlo", s)),
        );
    }

    fn envelope_rules(&mut self, s: &SessionEvidence) {
        let authenticated = s.authenticated;
        if let Some(mail) = s.mail.as_ref().filter(|r| !r.is_positive()) {
            self.reply_problem("mail", Stage::Mail, mail, s, None, authenticated);
            return;
        }
        for (to, reply) in s.rcpt.iter().filter(|(_, r)| !r.is_positive()) {
            self.reply_problem("rcpt", Stage::Rcpt, reply, s, Some(to), authenticated);
        }
        if let Some(data) = s.data.as_ref().filter(|r| r.code != 354) {
            // After refused recipients, a refused DATA says nothing new.
            if s.rcpt.iter().any(|(_, r)| r.is_positive()) {
                self.reply_problem("data", Stage::Data, data, s, None, authenticated);
            }
        }
        if let Some(msg) = s.message.as_ref().filter(|r| !r.is_positive()) {
            self.reply_problem("message", Stage::Message, msg, s, None, authenticated);
        }
        if let (Some(msg), Some(id)) = (
            s.message.as_ref().filter(|r| r.is_positive()),
            &s.message_id,
        ) {
            self.push(
                Finding::new("message.accepted", Severity::Info, None, format!("The test message was accepted: {}", msg.one_line()))
                    .detail(format!("Message-ID {id}. Acceptance is not delivery: look for it in the recipient's mailbox (and spam folder)."))
                    .evidence(step_ref("message", s)),
            );
        }
        // No credentials and nothing sent: the run could not say whether sending works.
        let unauth_with_offer = s
            .auth
            .as_ref()
            .is_some_and(|a| a.skipped.as_deref() == Some("no_credentials"));
        if unauth_with_offer
            && s.mail.is_none()
            && !self
                .findings
                .iter()
                .any(|f| f.severity == Severity::Problem)
        {
            self.inconclusive = Some((
                format!("The server works up to login, which it offers ({}), but no credentials were given", s.auth.as_ref().map(|a| a.offered.join(" ")).unwrap_or_default()),
                vec![
                    "Add --user NAME with the password from --password-env VAR, --password-file FILE or the prompt, to test the login.".into(),
                    "Add --from and --to to test the envelope as well.".into(),
                ],
            ));
        }
    }

    fn reply_problem(
        &mut self,
        step: &str,
        stage: Stage,
        reply: &Reply,
        s: &SessionEvidence,
        to: Option<&String>,
        authenticated: bool,
    ) {
        let meaning = knowledge::classify(reply, stage);
        let mut category = meaning.category;
        let mut confidence = meaning.confidence;
        let mut alternatives = meaning.alternatives.clone();
        // "Access denied" to a client that did log in is not about logging in.
        if category == Category::AuthRequired && authenticated {
            category = Category::SpamOrPolicyBlock;
            confidence = Confidence::Low;
            alternatives = vec![Category::SenderRejected, Category::RelayDenied];
        }
        let (id, what) = match step {
            "mail" => (
                "mail.rejected",
                format!(
                    "The server refused the sender {}",
                    self.input.target.from.clone().unwrap_or_default()
                ),
            ),
            "rcpt" => (
                "rcpt.rejected",
                format!(
                    "The server refused the recipient {}",
                    to.cloned().unwrap_or_default()
                ),
            ),
            "data" => (
                "data.rejected",
                "The server refused to take the message (DATA)".to_string(),
            ),
            _ => (
                "message.rejected",
                "The server refused the message after receiving it".to_string(),
            ),
        };
        let mut f = self
            .problem(
                id,
                category,
                meaning.retry,
                format!("{what}: {}", reply.one_line()),
            )
            .detail(match meaning.entry {
                Some(e) => format!("{} (knowledge entry {})", meaning.meaning, e.id),
                None => format!(
                    "{} (no knowledge entry matched; judged from the reply codes)",
                    meaning.meaning
                ),
            })
            .confidence(confidence, &alternatives)
            .evidence(step_ref(step, s));
        let mut fixes = meaning.fix;
        if category == Category::AuthRequired && !self.input.credentials_given {
            fixes.insert(0, "Log in: add --user and a password (this port accepts mail only from authenticated users).".into());
        }
        if category == Category::TlsMismatch {
            fixes.insert(
                0,
                format!("Use STARTTLS on port {} (--tls starttls).", s.port),
            );
        }
        for fix in fixes {
            f = f.fix(fix);
        }
        self.push(f);
    }

    fn interruption_rules(&mut self, s: &SessionEvidence) {
        let Some(i) = &s.interrupted else { return };
        if i.step == "banner" {
            return;
        }
        let f = match i.failure {
            ReadFailure::TooLong => self.too_long(s, &i.step),
            ReadFailure::Malformed => self
                .problem("reply.malformed", Category::ServerUnavailable, Retry::Permanent, format!("The server answered {} with something that is not SMTP", i.step))
                .detail(i.detail.clone())
                .fix("The server (or something between, such as an antivirus proxy) is broken; its administrator must fix it.")
                .confidence(Confidence::Medium, &[Category::Other]),
            ReadFailure::Closed | ReadFailure::Reset => self
                .problem("session.dropped", Category::ServerUnavailable, Retry::Temporary, format!("The server dropped the connection during {}", i.step))
                .detail(format!("{}: the server hung up without a final reply.", i.detail))
                .fix("Try again later; if it lasts, the server's administrator should check its logs for this time.")
                .confidence(Confidence::Medium, &[Category::SpamOrPolicyBlock, Category::GreylistingOrRateLimit]),
            ReadFailure::Timeout => self
                .problem("session.timeout", Category::ServerUnavailable, Retry::Temporary, format!("The server did not answer {} in time", i.step))
                .detail(i.detail.clone())
                .fix("Try again later; if it lasts, the server is overloaded or stalled.")
                .confidence(Confidence::Medium, &[Category::TimeoutOrBlockedPort]),
            ReadFailure::Deadline => self
                .problem("run.deadline", Category::ServerUnavailable, Retry::Temporary, format!("The run's deadline passed during {}", i.step))
                .detail(i.detail.clone())
                .fix("Raise --deadline, or look at which step was slow in the transcript.")
                .confidence(Confidence::Low, &[Category::TimeoutOrBlockedPort]),
        };
        self.push(f.evidence(step_ref(&i.step, s)));
    }

    fn capability_warnings(&mut self, s: &SessionEvidence) {
        if !s.secured && s.greeted() {
            let offered = s.ehlo.as_ref().is_some_and(|e| e.has("STARTTLS"));
            self.push(
                Finding::new(
                    "tls.none",
                    Severity::Warning,
                    None,
                    "The session ran without encryption",
                )
                .detail(if offered {
                    "The server offers STARTTLS, but it was not used: everything, including any message, crossed the network in the clear."
                } else {
                    "The server offers no STARTTLS on this port: everything, including any message, crosses the network in the clear."
                })
                .fix(if offered {
                    "Use STARTTLS (--tls starttls)."
                } else {
                    "Prefer the provider's TLS port: 465 (SSL/TLS) or 587 (STARTTLS)."
                })
                .evidence(step_ref("ehlo", s)),
            );
        }
        let Some(ehlo) = s.last_ehlo().filter(|e| e.command == "EHLO") else {
            return;
        };
        if !ehlo.has("PIPELINING") {
            self.push(
                Finding::new("ehlo.no_pipelining", Severity::Warning, None, "The server does not offer PIPELINING")
                    .detail("Every command then costs a full round trip; sending is slower, especially over long distances (RFC 2920).")
                    .evidence(step_ref(if ehlo.tls { "ehlo_tls" } else { "ehlo" }, s)),
            );
        }
        if let Some(size) = ehlo
            .capability("SIZE")
            .and_then(|c| c.params.first())
            .and_then(|p| p.parse::<u64>().ok())
            .filter(|n| *n > 0)
        {
            self.push(Finding::new("ehlo.size_limit", Severity::Info, None, format!("The server accepts messages up to {:.1} MB", size as f64 / 1_048_576.0)).detail("Attachments grow by a third when encoded: the usable size is about three quarters of this."));
        }
    }

    fn general_warnings(&mut self) {
        if self.input.trust_platform_missing {
            self.push(
                Finding::new("trust.platform_roots_missing", Severity::Warning, None, "This machine has no trusted root certificates; smtpdoctor used its bundled ones")
                    .fix("Install the system CA bundle (Debian: apt-get install ca-certificates)."),
            );
        }
        if self.input.target.insecure {
            self.push(Finding::new(
                "tls.insecure_used",
                Severity::Info,
                None,
                "--insecure: certificate failures were reported but did not stop the run",
            ));
        }
    }

    fn verdict(&self, working: Option<&WorkingSettings>) -> Verdict {
        if let Some(p) = self
            .findings
            .iter()
            .find(|f| f.severity == Severity::Problem)
        {
            let mut evidence = p.evidence.clone();
            evidence.push(format!("finding:{}", p.id));
            let mut fix = p.fix.clone();
            // A second connection proved settings that work: say so next to the fix, unless the
            // fix already names them.
            if let Some(w) = working {
                let setting = mode_setting(w.tls, w.port);
                let auth = w
                    .auth_mechanism
                    .as_ref()
                    .map(|m| format!(" Login with {m} worked there."))
                    .unwrap_or_default();
                match fix.iter_mut().find(|f| f.contains(&setting)) {
                    Some(existing) => {
                        existing.push_str(" (verified on a second connection.");
                        existing.push_str(&auth);
                        existing.push(')');
                    }
                    None => fix.push(format!("Verified on a second connection: {setting}.{auth}")),
                }
            }
            return Verdict {
                status: Status::Problem,
                category: p.category,
                retry: p.retry.or(Some(Retry::Permanent)),
                confidence: p.confidence,
                alternatives: p.alternatives.clone(),
                summary: p.summary.clone(),
                fix,
                evidence,
            };
        }
        if let Some((summary, fix)) = &self.inconclusive {
            return Verdict {
                status: Status::Inconclusive,
                category: None,
                retry: None,
                confidence: Confidence::High,
                alternatives: vec![],
                summary: summary.clone(),
                fix: fix.clone(),
                evidence: vec![],
            };
        }
        if self.input.deadline_reached {
            return Verdict {
                status: Status::Inconclusive,
                category: None,
                retry: None,
                confidence: Confidence::Low,
                alternatives: vec![],
                summary: "The run's deadline passed before the ladder finished".into(),
                fix: vec!["Raise --deadline.".into()],
                evidence: vec![],
            };
        }
        let Some(w) = working else {
            return Verdict {
                status: Status::Inconclusive,
                category: None,
                retry: None,
                confidence: Confidence::Low,
                alternatives: vec![],
                summary: "The run ended without a clear result; see the transcript".into(),
                fix: vec![],
                evidence: vec![],
            };
        };
        let t = self.input.target;
        let mut parts = vec![format!("{}:{} with {}", t.host, w.port, w.tls.describe())];
        if let Some(m) = &w.auth_mechanism {
            parts.push(format!("login with {m} works"));
        }
        let session = self
            .input
            .sessions
            .iter()
            .rev()
            .find(|s| s.port == w.port && s.mode == w.tls && s.greeted());
        if let Some(s) = session {
            if s.message.as_ref().is_some_and(Reply::is_positive) {
                parts.push("the test message was accepted".into());
            } else if !s.rcpt.is_empty() && s.rcpt.iter().all(|(_, r)| r.is_positive()) {
                parts.push(format!("{} recipient(s) accepted", s.rcpt.len()));
            } else if s.mail.as_ref().is_some_and(Reply::is_positive) {
                parts.push("the sender was accepted".into());
            }
        }
        let mut fix = Vec::new();
        if t.tls == TlsMode::Auto {
            fix.push(format!("Use {}.", mode_setting(w.tls, w.port)));
        }
        Verdict {
            status: Status::Ok,
            category: None,
            retry: None,
            confidence: Confidence::High,
            alternatives: vec![],
            summary: format!("Mail can be sent: {}", parts.join("; ")),
            fix,
            evidence: vec![],
        }
    }
}

/// Demotes a certificate problem to a warning for opportunistic TLS on port 25.
fn opportunistic(mut f: Finding) -> Finding {
    f.severity = Severity::Warning;
    f.retry = None;
    f.summary = format!("Opportunistic TLS on port 25: {}", f.summary);
    f.detail.push_str(
        " On port 25 sending servers accept an unverified certificate and deliver anyway, unless the \
         domain publishes DANE (TLSA) or an enforcing MTA-STS policy; mail clients on 587/465 do not.",
    );
    f
}

/// The greeting line of plaintext seen during a handshake (what follows is the server's
/// complaint about our ClientHello, and arrives or not depending on timing).
fn first_line(text: &str) -> String {
    text.lines().next().unwrap_or("").trim_end().to_string()
}

/// Whose name failed to resolve: the server's, or a mail domain's (`check --mx`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Named {
    Server,
    MailDomain,
}

/// The finding for a failed DNS look-up, the same ids whatever was looked up; a mistyped
/// well-known host gets its likely spelling first.
fn dns_failure(name: &str, failure: DnsFailure, detail: &str, named: Named) -> Finding {
    let problem = |id: &str, retry: Retry, summary: String| {
        Finding::new(id, Severity::Problem, Some(Category::Dns), summary)
            .retry(retry)
            .detail(detail)
    };
    let spelling = match named {
        Named::Server => format!(
            "Check the spelling of the server name '{name}' against your provider's documentation."
        ),
        Named::MailDomain => format!("Check the spelling of '{name}' (the part after the @)."),
    };
    let mut f = match failure {
        DnsFailure::NxDomain => problem("dns.nxdomain", Retry::Permanent, format!("The name {name} does not exist in DNS"))
            .fix(spelling)
            .fix(if named == Named::Server { "Run `smtpdoctor setup you@yourdomain` to find the right server name." } else { "Ask the recipient for their current address." }),
        DnsFailure::NoData => match named {
            Named::Server => problem("dns.no_address", Retry::Permanent, format!("{name} exists but has no address (no A or AAAA record)"))
                .fix(format!("Check that '{name}' is the server name (not the mail domain itself)."))
                .fix("If you run the domain, add an A or AAAA record for it."),
            Named::MailDomain => problem("dns.no_address", Retry::Permanent, format!("{name} has no MX record and no address: it cannot receive mail"))
                .fix(spelling)
                .fix("If you run the domain, publish MX records for it."),
        },
        DnsFailure::InvalidName => problem("dns.invalid_name", Retry::Permanent, format!("'{name}' is not a valid host name"))
            .fix("Remove spaces, 'smtp://' prefixes or typing mistakes from the name."),
        DnsFailure::Timeout => problem("dns.timeout", Retry::Temporary, format!("No DNS answer for {name} in time"))
            .fix("Check the network connection and the DNS resolver (try another resolver with --dns).")
            .confidence(Confidence::Medium, &[Category::NetworkUnreachable]),
        DnsFailure::Refused => problem("dns.refused", Retry::Permanent, format!("The DNS server refused to look up {name}"))
            .fix("The resolver does not answer this client or this name (REFUSED): use another resolver (--dns), or your network's own.")
            .fix("If the resolver is yours, allow recursion for this network."),
        DnsFailure::ServerFailure => problem("dns.server_failure", Retry::Temporary, format!("The DNS resolver failed to look up {name}"))
            .fix("Try again later or with another resolver (--dns); if you run the domain, check its DNS servers and DNSSEC."),
        DnsFailure::Other => problem("dns.error", Retry::Temporary, format!("Could not look up {name}"))
            .fix("Check the network connection and the DNS configuration.")
            .confidence(Confidence::Medium, &[Category::NetworkUnreachable]),
    };
    if let Some(known) = smtpdoctor_knowledge::hosts::did_you_mean(name) {
        if failure == DnsFailure::NxDomain {
            f.summary = format!("The name {name} does not exist in DNS: did you mean {known}?");
        }
        f.fix.insert(
            0,
            format!("Did you mean {known}? '{name}' looks like a typo of it."),
        );
    }
    f
}

/// A DNSSEC status in words.
fn dnssec_word(status: Option<Dnssec>) -> &'static str {
    match status {
        Some(Dnssec::Secure) => "secure",
        Some(Dnssec::Insecure) => "unsigned",
        Some(Dnssec::Bogus) => "bogus",
        None => "not looked up",
    }
}

fn crate_mechanisms() -> &'static str {
    "PLAIN, LOGIN, CRAM-MD5, XOAUTH2 and OAUTHBEARER"
}

fn is_weak(cert: &CertificateInfo) -> bool {
    match cert.key_algorithm.as_str() {
        "RSA" | "DSA" => cert.key_bits > 0 && cert.key_bits < 2048,
        "EC" => cert.key_bits > 0 && cert.key_bits < 224,
        _ => false,
    }
}

/// The rules of `check --mx`: what the MX records say, before any host is contacted. Returns the
/// findings, and a problem that ends the check when no host can be tried.
/// Used by `check --mx` for each MX host's strictness, too.
pub fn diagnose_mx(mx: &MxEvidence) -> (Vec<Finding>, bool) {
    let domain = &mx.domain;
    let mut findings = Vec::new();
    let problem = |id: &str, category: Category, retry: Retry, summary: String| {
        Finding::new(id, Severity::Problem, Some(category), summary).retry(retry)
    };
    if let Some(failure) = mx.failure {
        let f = dns_failure(domain, failure, "", Named::MailDomain);
        findings.push(f.evidence("mx"));
        return (findings, true);
    }
    if mx.null_mx {
        findings.push(
            problem("mx.null", Category::RecipientUnknown, Retry::Permanent, format!("{domain} accepts no mail: it publishes a null MX"))
                .detail("Its only MX record is '0 .', which RFC 7505 defines as 'this domain receives no email'. Senders reject mail to it at once (556 5.1.10).")
                .fix(format!("Check the recipient's address: nobody can receive mail at {domain}."))
                .fix("If you run the domain and want mail, replace the null MX with real MX records.")
                .evidence("mx"),
        );
        return (findings, true);
    }
    if mx.implicit {
        findings.push(
            Finding::new("mx.implicit", Severity::Info, None, format!("{domain} has no MX record: mail goes to its own address"))
                .detail("Without MX records, senders deliver to the domain's A/AAAA address (RFC 5321 section 5.1). It works, but an explicit MX record is clearer and lets you move the web site without moving mail.")
                .evidence("mx"),
        );
    }
    for r in &mx.records {
        if let Some(target) = &r.cname {
            findings.push(
                Finding::new("mx.cname", Severity::Warning, Some(Category::Dns), format!("MX host {} is an alias (CNAME to {target})", r.host))
                    .detail("RFC 5321 section 5.1 and RFC 2181 forbid an MX that points to a CNAME; most senders follow it, some refuse.")
                    .fix(format!("Point the MX record at {target} directly.", ))
                    .evidence("mx"),
            );
        }
        if r.host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok()
        {
            findings.push(
                Finding::new("mx.literal", Severity::Warning, Some(Category::Dns), format!("MX host {} is an address, not a host name", r.host))
                    .detail("An MX record names a host (RFC 1035 section 3.3.9, RFC 5321 section 5.1); senders look the address up as a name and find nothing, or refuse the record as malformed.")
                    .fix(format!("Give the server a name (mx.{domain} IN A {}) and point the MX record at it.", r.host.trim_start_matches('[').trim_end_matches(']')))
                    .evidence("mx"),
            );
        }
        let unreachable: Vec<String> = r
            .addresses
            .iter()
            .filter_map(|a| a.parse::<std::net::IpAddr>().ok())
            .filter_map(|a| not_public(a).map(|why| format!("{a} ({why})")))
            .collect();
        if !unreachable.is_empty() {
            findings.push(
                Finding::new("mx.private_address", Severity::Warning, Some(Category::Dns), format!("MX host {} resolves to an address senders on the Internet cannot reach: {}", r.host, unreachable.join(", ")))
                    .detail("Senders try every address of an MX host; a loopback, private or link-local one fails (or, for loopback, makes the sender deliver to itself), so mail waits or bounces when no other address works. Split-horizon DNS that shows internal addresses to the world does this.")
                    .fix(format!("Publish only the public addresses of {} in the zone the Internet sees.", r.host))
                    .evidence("mx"),
            );
        }
        if r.failure.is_some() {
            findings.push(
                Finding::new("mx.dangling", Severity::Warning, Some(Category::Dns), format!("MX host {} does not resolve", r.host))
                    .detail(format!("The MX record (preference {}) names a host with no A or AAAA record ({:?}); senders skip it.", r.preference, r.failure))
                    .fix(format!("Give {} an address, or remove the MX record.", r.host))
                    .evidence("mx"),
            );
        }
    }
    if let Some(sts) = &mx.mta_sts {
        match (&sts.failure, sts.mode.as_deref()) {
            (Some(why), _) => findings.push(
                Finding::new("mta_sts.fetch_failed", Severity::Warning, Some(Category::TlsCertificate), format!("{domain} announces MTA-STS but its policy cannot be read"))
                    .detail(format!("{} ({}). Senders then act as if there were no policy.", why, sts.url))
                    .fix("Serve the policy at https://mta-sts.DOMAIN/.well-known/mta-sts.txt as text/plain, with a trusted certificate for mta-sts.DOMAIN and no redirect.")
                    .evidence("mx"),
            ),
            (None, Some(mode)) => {
                findings.push(
                    Finding::new("mta_sts.policy", Severity::Info, None, format!("MTA-STS policy in mode {mode} ({})", sts.mx.join(", ")))
                        .detail(if mode == "enforce" { "Senders that implement MTA-STS deliver only over TLS with a verified certificate to an MX the policy names." } else { "Not enforcing: senders report failures but still deliver." })
                        .evidence("mx"),
                );
                for r in mx.records.iter().filter(|r| !r.addresses.is_empty()) {
                    if !sts.mx.iter().any(|p| mta_sts_covers(p, &r.host)) {
                        let enforce = mode == "enforce";
                        let f = Finding::new("mta_sts.mx_not_covered", if enforce { Severity::Problem } else { Severity::Warning }, Some(Category::TlsCertificate), format!("MX host {} is not named by the MTA-STS policy", r.host))
                            .detail(format!("The policy's mx patterns are {}; senders that enforce it will not deliver to {}.", sts.mx.join(", "), r.host))
                            .fix("Add the MX host to the policy's mx lines (and bump the id in the _mta-sts TXT record).")
                            .evidence("mx");
                        findings.push(if enforce { f.retry(Retry::Permanent) } else { f });
                    }
                }
            }
            _ => {}
        }
    }
    if mx.dnssec == Some(Dnssec::Bogus) {
        let what = if mx.implicit {
            format!("address records of {domain} (it has no MX)")
        } else {
            format!("MX records of {domain}")
        };
        findings.push(
            problem("mx.dnssec_bogus", Category::Dns, Retry::Permanent, format!("The {what} fail DNSSEC validation"))
                .detail("Validating resolvers answer SERVFAIL for them, so senders whose resolver validates DNSSEC cannot find where to deliver and defer the mail; senders without validation are not affected.")
                .fix("Re-sign the zone: expired signatures are the usual cause (check the signing job).")
                .fix("Check that the DS record at the parent matches the zone's key-signing key.")
                .evidence("mx"),
        );
    }
    if mx.records.iter().all(|r| r.addresses.is_empty()) {
        findings.push(
            problem(
                "mx.unreachable",
                Category::Dns,
                Retry::Permanent,
                format!("No MX host of {domain} resolves to an address"),
            )
            .fix("The domain's MX records must name hosts that have A or AAAA records.")
            .evidence("mx"),
        );
        return (findings, true);
    }
    (findings, false)
}

/// Why an address cannot receive mail from the Internet, when it cannot. Documentation ranges
/// (TEST-NET, 2001:db8::/32) are not flagged: examples and tests use them as stand-ins for
/// public addresses.
fn not_public(ip: std::net::IpAddr) -> Option<&'static str> {
    use std::net::IpAddr;
    match ip {
        IpAddr::V4(v4) if v4.is_loopback() => Some("loopback"),
        IpAddr::V4(v4) if v4.is_private() => Some("private, RFC 1918"),
        IpAddr::V4(v4) if v4.is_link_local() => Some("link-local"),
        IpAddr::V4(v4) if v4.is_unspecified() || v4.octets()[0] == 0 => Some("unspecified"),
        IpAddr::V4(v4) if v4.octets()[0] == 100 && (v4.octets()[1] & 0xc0) == 64 => {
            Some("shared address space, RFC 6598")
        }
        IpAddr::V6(v6) if v6.is_loopback() => Some("loopback"),
        IpAddr::V6(v6) if v6.is_unspecified() => Some("unspecified"),
        IpAddr::V6(v6) if (v6.segments()[0] & 0xfe00) == 0xfc00 => Some("unique local"),
        IpAddr::V6(v6) if (v6.segments()[0] & 0xffc0) == 0xfe80 => Some("link-local"),
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .and_then(|v4| not_public(IpAddr::V4(v4))),
        _ => None,
    }
}

/// Whether an MX host matches an MTA-STS `mx:` pattern (`*.example.org` covers one label).
pub fn mta_sts_covers(pattern: &str, host: &str) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    match pattern.strip_prefix("*.") {
        Some(suffix) => host.split_once('.').is_some_and(|(_, rest)| rest == suffix),
        None => host == pattern,
    }
}

#[cfg(test)]
mod tests {
    use super::mta_sts_covers;

    #[test]
    fn mx_hosts_with_private_addresses_or_an_address_for_a_name() {
        use smtpdoctor_report::check::{MxEvidence, MxRecord};
        let record = |host: &str, addresses: &[&str]| MxRecord {
            preference: 10,
            host: host.into(),
            cname: None,
            addresses: addresses.iter().map(|a| a.to_string()).collect(),
            failure: None,
            dane: None,
        };
        let mx = MxEvidence {
            domain: "example.test".into(),
            records: vec![
                record("mx1.example.test", &["192.0.2.25", "10.1.2.3"]),
                record("mx2.example.test", &["::1", "fe80::1", "2001:db8::25"]),
                record("192.0.2.30", &["192.0.2.30"]),
                record("mx3.example.test", &["198.51.100.7", "::ffff:192.168.1.1"]),
            ],
            null_mx: false,
            implicit: false,
            failure: None,
            mta_sts: None,
            dnssec: None,
            trust_anchors: vec![],
            ms: 0,
        };
        let (findings, blocking) = super::diagnose_mx(&mx);
        assert!(!blocking);
        let private: Vec<&str> = findings
            .iter()
            .filter(|f| f.id == "mx.private_address")
            .map(|f| f.summary.as_str())
            .collect();
        assert_eq!(private.len(), 3, "{private:?}");
        assert!(
            private[0].contains("10.1.2.3 (private, RFC 1918)")
                && !private[0].contains("192.0.2.25")
        );
        assert!(
            private[1].contains("::1 (loopback)") && private[1].contains("fe80::1 (link-local)")
        );
        assert!(private[2].contains("::ffff:192.168.1.1"));
        let literal: Vec<&str> = findings
            .iter()
            .filter(|f| f.id == "mx.literal")
            .map(|f| f.summary.as_str())
            .collect();
        assert_eq!(
            literal,
            ["MX host 192.0.2.30 is an address, not a host name"]
        );
    }

    #[test]
    fn mta_sts_mx_patterns() {
        assert!(mta_sts_covers("mx1.example.org", "MX1.example.org."));
        assert!(mta_sts_covers("*.example.org", "mx1.example.org"));
        assert!(!mta_sts_covers("*.example.org", "a.b.example.org"));
        assert!(!mta_sts_covers("*.example.org", "example.org"));
    }
}
