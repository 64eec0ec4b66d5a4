//! The `check` ladder: resolve, connect, banner, EHLO, TLS, AUTH, MAIL, RCPT, DATA, QUIT.
//!
//! Each step is bounded by the step timeout and the run's deadline, timed, and recorded as
//! evidence. The ladder never judges: when the first attempt shows the wrong TLS mode, it makes a
//! second connection that tries the other mode, so the rules can state what works with proof.

use crate::auth::{self, Credential};
use crate::conn::{Conn, Io, ReadError, Tap};
use crate::record::Recorder;
use crate::redact::Redactor;
use crate::target::{self, Resolution};
use crate::tls::{self, Trust};
use rustls::pki_types::ServerName;
use smtpdoctor_report::Transcript;
use smtpdoctor_report::check::*;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::time::Instant;

/// What to check and how.
#[derive(Debug, Clone)]
pub struct CheckOptions {
    /// The server's name or address.
    pub host: String,
    /// The port.
    pub port: u16,
    /// The TLS mode asked for.
    pub tls: TlsMode,
    /// The EHLO name; the machine's FQDN or the local address literal when none.
    pub helo: Option<String>,
    /// The login name.
    pub user: Option<String>,
    /// The password or token.
    pub credential: Option<Credential>,
    /// A mechanism to use instead of the best one offered.
    pub auth_mechanism: Option<String>,
    /// Envelope sender.
    pub from: Option<String>,
    /// Envelope recipients.
    pub to: Vec<String>,
    /// Send a real test message.
    pub send: bool,
    /// Trust anchors.
    pub trust: Trust,
    /// Continue past a certificate failure (still reported).
    pub insecure: bool,
    /// How the name becomes addresses.
    pub resolution: Resolution,
    /// The bound on each step.
    pub timeout: Duration,
    /// The bound on the whole run.
    pub deadline: Duration,
    /// How long a silent port is given before a second connection tries implicit TLS on it.
    pub sniff_after: Duration,
    /// The port matrix: when not empty, these ports are probed first and the full ladder runs
    /// on the best one that answers (`port` is then ignored).
    pub ports: Vec<u16>,
    /// A second, independent host whose port 25 tells an outbound block from the server's firewall.
    pub control: Option<String>,
    /// A SOCKS5 proxy (host, port) every SMTP connection goes through; it resolves the host.
    pub proxy: Option<(String, u16)>,
    /// The certificate must verify even on port 25 (an enforcing MTA-STS policy covers this MX).
    pub require_verified_tls: bool,
    /// TLSA records to compare the presented chain with (`check --mx`: the MX host's DANE).
    pub tlsa: Vec<TlsaRecord>,
}

/// Everything a check gathered.
#[derive(Debug, Clone)]
pub struct CheckRun {
    /// What was examined.
    pub target: CheckTarget,
    /// Name resolution.
    pub resolve: Option<ResolveEvidence>,
    /// Every connection, in order.
    pub sessions: Vec<SessionEvidence>,
    /// The ladder as shown to people.
    pub steps: Vec<Step>,
    /// Every line.
    pub transcript: Transcript,
    /// When the run started (RFC 3339).
    pub started_at: String,
    /// How long it took.
    pub duration_ms: u64,
    /// Whether the platform had no trust anchors.
    pub trust_platform_missing: bool,
    /// The overall deadline was reached.
    pub deadline_reached: bool,
    /// The port matrix, when one ran.
    pub ports: Vec<PortProbe>,
}

/// Receives the name of each step as it starts (for a spinner).
pub type Progress = dyn Fn(&str) + Send + Sync;

struct Ladder<'a> {
    opts: &'a CheckOptions,
    rec: Arc<Recorder>,
    run_deadline: Instant,
    steps: Vec<Step>,
    addrs: Vec<SocketAddr>,
    helo: Option<String>,
    auth_attempted: bool,
    sessions: Vec<SessionEvidence>,
    progress: &'a Progress,
    /// A bound on a mode probe's connect and handshake: the greeting wait it runs inside.
    cap: Option<Instant>,
    /// The SOCKS5 proxy's address, when connections go through one.
    proxy_addr: Option<SocketAddr>,
}

/// Runs the whole ladder. Never fails: every failure is evidence in the result.
pub async fn run_check(opts: &CheckOptions, progress: &Progress) -> CheckRun {
    run_check_redacting(opts, progress, Redactor::default()).await
}

/// Runs the whole ladder with a redactor that already knows secrets this check may never send
/// (`setup`: the password another connection of the run carried, which a server can echo back
/// here). The check's own credential is added to it.
pub async fn run_check_redacting(
    opts: &CheckOptions,
    progress: &Progress,
    mut redactor: Redactor,
) -> CheckRun {
    let started_at = tls::rfc3339(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0),
    );
    if let Some(cred) = &opts.credential {
        redactor.add_secret(cred.secret());
    }
    let rec = Arc::new(Recorder::new(redactor));
    // With a port matrix, probe every port first and run the ladder on the best one.
    let mut matrix = Vec::new();
    let chosen;
    let opts = if opts.ports.is_empty() {
        opts
    } else {
        progress("ports");
        let t = rec.now_ms();
        let (probes, resolve) = crate::ports::probe_ports(opts, &rec).await;
        let best = crate::ports::best_port(&probes);
        rec.note(
            0,
            false,
            format!(
                "port matrix done in {} ms: best port {}",
                rec.now_ms() - t,
                best.map_or("none".into(), |p| p.to_string())
            ),
        );
        matrix = probes;
        chosen = CheckOptions {
            port: best.unwrap_or(opts.port),
            ..opts.clone()
        };
        if best.is_none() {
            return CheckRun {
                target: target_of(&chosen, None),
                resolve,
                sessions: Vec::new(),
                steps: Vec::new(),
                transcript: rec.transcript(),
                started_at,
                duration_ms: rec.now_ms(),
                trust_platform_missing: chosen.trust.platform_missing,
                deadline_reached: false,
                ports: matrix,
            };
        }
        &chosen
    };
    let mut ladder = Ladder {
        opts,
        rec: rec.clone(),
        run_deadline: Instant::now() + opts.deadline,
        steps: Vec::new(),
        addrs: Vec::new(),
        helo: opts.helo.clone(),
        auth_attempted: false,
        sessions: Vec::new(),
        progress,
        cap: None,
        proxy_addr: None,
    };
    let resolve = ladder.resolve().await;
    if !ladder.addrs.is_empty() {
        ladder.run_sessions().await;
    }
    ladder.sessions.sort_by_key(|s| s.conn);
    // Steps in the order they started (a probe runs while the first connection waits).
    ladder.steps.sort_by_key(|s| s.started_ms);
    let deadline_reached = Instant::now() >= ladder.run_deadline;
    CheckRun {
        target: target_of(opts, ladder.helo.clone()),
        resolve: Some(resolve),
        sessions: ladder.sessions,
        steps: ladder.steps,
        transcript: rec.transcript(),
        started_at,
        duration_ms: rec.now_ms(),
        trust_platform_missing: opts.trust.platform_missing,
        deadline_reached,
        ports: matrix,
    }
}

fn target_of(opts: &CheckOptions, helo: Option<String>) -> CheckTarget {
    CheckTarget {
        host: opts.host.clone(),
        port: opts.port,
        tls: opts.tls,
        helo: helo.unwrap_or_default(),
        user: opts.user.clone(),
        from: opts.from.clone(),
        to: opts.to.clone(),
        send: opts.send,
        insecure: opts.insecure,
    }
}

impl Ladder<'_> {
    fn deadline(&self) -> Instant {
        let step = (Instant::now() + self.opts.timeout).min(self.run_deadline);
        self.cap.map_or(step, |cap| step.min(cap))
    }

    fn step(
        &mut self,
        name: &str,
        conn: u32,
        status: StepStatus,
        started_ms: u64,
        summary: impl Into<String>,
    ) {
        let ms = self.rec.now_ms().saturating_sub(started_ms);
        self.steps.push(Step {
            name: name.to_string(),
            conn,
            status,
            started_ms,
            ms,
            summary: summary.into(),
        });
    }

    fn begin(&self, name: &str) -> u64 {
        (self.progress)(name);
        self.rec.now_ms()
    }

    async fn resolve(&mut self) -> ResolveEvidence {
        let t = self.begin("resolve");
        if let Some((proxy_host, proxy_port)) = self.opts.proxy.clone() {
            // The proxy resolves the SMTP host (socks5h); only the proxy's own name is looked up here.
            let (mut evidence, addrs) = target::resolve(
                &proxy_host,
                proxy_port,
                &self.opts.resolution,
                self.opts.timeout,
            )
            .await;
            let summary = match addrs.first() {
                Some(a) => format!("{} is resolved by the SOCKS5 proxy {a}", self.opts.host),
                None => format!(
                    "the proxy {proxy_host} does not resolve: {}",
                    describe_resolve(&evidence)
                ),
            };
            self.rec.note(0, false, format!("resolve: {summary}"));
            self.step(
                "resolve",
                0,
                if addrs.is_empty() {
                    StepStatus::Failed
                } else {
                    StepStatus::Ok
                },
                t,
                summary,
            );
            self.proxy_addr = addrs.first().copied();
            self.addrs = addrs.into_iter().take(1).collect();
            evidence.source = "proxy".into();
            return evidence;
        }
        let (evidence, addrs) = target::resolve(
            &self.opts.host,
            self.opts.port,
            &self.opts.resolution,
            self.opts.timeout,
        )
        .await;
        self.rec.note(
            0,
            false,
            format!("resolve {}: {}", evidence.name, describe_resolve(&evidence)),
        );
        let status = if addrs.is_empty() {
            StepStatus::Failed
        } else {
            StepStatus::Ok
        };
        self.step("resolve", 0, status, t, describe_resolve(&evidence));
        self.addrs = addrs;
        evidence
    }

    async fn run_sessions(&mut self) {
        let implicit_first = self.opts.tls == TlsMode::Implicit
            || (self.opts.tls == TlsMode::Auto && self.opts.port == 465);
        let first_mode = if implicit_first {
            TlsMode::Implicit
        } else if self.opts.tls == TlsMode::None {
            TlsMode::None
        } else {
            TlsMode::Starttls
        };
        let main = self.session(first_mode, Purpose::Requested).await;
        let probe_starttls = match first_mode {
            TlsMode::Implicit => {
                main.connected()
                    && main.tls.as_ref().is_some_and(|t| {
                        t.version.is_none()
                            && matches!(
                                t.failure,
                                Some(TlsFailure::PlaintextReply)
                                    | Some(TlsFailure::Closed)
                                    | Some(TlsFailure::Other)
                            )
                    })
            }
            TlsMode::None => {
                main.ehlo.as_ref().is_some_and(|e| e.has("STARTTLS"))
                    && (main
                        .ehlo
                        .as_ref()
                        .is_some_and(|e| e.auth_mechanisms().is_empty())
                        || [
                            main.mail.as_ref(),
                            main.auth.as_ref().and_then(|a| a.reply.as_ref()),
                        ]
                        .into_iter()
                        .flatten()
                        .chain(main.rcpt.iter().map(|(_, r)| r))
                        .any(|r| r.code == 530))
            }
            _ => false,
        };
        self.sessions.push(main);
        if probe_starttls && Instant::now() < self.run_deadline {
            let probe = self.session(TlsMode::Starttls, Purpose::ModeProbe).await;
            self.sessions.push(probe);
        }
    }

    async fn connect(&mut self, id: u32, ev: &mut SessionEvidence) -> Option<Tap> {
        for addr in self.addrs.clone() {
            let t = self.begin("connect");
            // Through a proxy, say where to and through what: the proxy's refusal is not the server's.
            let addr_shown = if self.proxy_addr == Some(addr) {
                format!(
                    "{}:{} via SOCKS5 proxy {addr}",
                    self.opts.host, self.opts.port
                )
            } else {
                addr.to_string()
            };
            let addr = Shown(addr, addr_shown);
            self.rec.note(id, false, format!("connecting to {addr}"));
            let result = tokio::time::timeout_at(self.deadline(), self.dial(addr.0)).await;
            let ms = self.rec.now_ms() - t;
            match result {
                Ok(Ok(stream)) => {
                    let _ = stream.set_nodelay(true);
                    let local = stream.local_addr().ok();
                    self.rec.note(
                        id,
                        false,
                        format!(
                            "connected to {addr} from {}",
                            local.map_or("?".into(), |l| l.to_string())
                        ),
                    );
                    ev.connects.push(ConnectAttempt {
                        address: addr.to_string(),
                        failure: None,
                        detail: None,
                        local: local.map(|l| l.to_string()),
                        ms,
                    });
                    self.step("connect", id, StepStatus::Ok, t, format!("{addr}"));
                    if self.helo.is_none() {
                        self.helo = Some(default_helo(local));
                    }
                    return Some(Tap::new(stream));
                }
                Ok(Err(e)) => {
                    let failure = target::connect_failure(&e);
                    self.rec
                        .note(id, false, format!("connect to {addr} failed: {e}"));
                    ev.connects.push(ConnectAttempt {
                        address: addr.to_string(),
                        failure: Some(failure),
                        detail: Some(e.to_string()),
                        local: None,
                        ms,
                    });
                    self.step("connect", id, StepStatus::Failed, t, format!("{addr}: {e}"));
                }
                Err(_) => {
                    self.rec.note(
                        id,
                        false,
                        format!(
                            "connect to {addr}: no answer within {} s",
                            self.opts.timeout.as_secs_f32()
                        ),
                    );
                    ev.connects.push(ConnectAttempt {
                        address: addr.to_string(),
                        failure: Some(ConnectFailure::Timeout),
                        detail: Some("no answer in time".into()),
                        local: None,
                        ms,
                    });
                    self.step(
                        "connect",
                        id,
                        StepStatus::Failed,
                        t,
                        format!("{addr}: no answer in time"),
                    );
                }
            }
            if Instant::now() >= self.run_deadline {
                break;
            }
        }
        None
    }

    /// A TCP connection to `addr`, or through the SOCKS5 proxy at `addr` to the SMTP host.
    async fn dial(&self, addr: SocketAddr) -> std::io::Result<TcpStream> {
        if self.proxy_addr == Some(addr) {
            return crate::socks::dial(addr, &self.opts.host, self.opts.port).await;
        }
        TcpStream::connect(addr).await
    }

    /// One connection, as far as it goes.
    async fn session(&mut self, mode: TlsMode, purpose: Purpose) -> SessionEvidence {
        let id = self.rec.next_conn();
        let mut ev = SessionEvidence::new(id, purpose, mode, self.opts.port);
        let Some(tap) = self.connect(id, &mut ev).await else {
            return ev;
        };
        let mut conn = Conn::new(Io::Plain(tap), id, self.rec.clone());
        if mode == TlsMode::Implicit {
            match self.handshake(conn, &mut ev).await {
                Some(c) => conn = c,
                None => return ev,
            }
            if !self.cert_acceptable(&ev) {
                return ev;
            }
        }
        // Greeting; a silent plain port may be an implicit-TLS port: a second connection tells.
        let t = self.begin("banner");
        let full = self.deadline();
        let sniff = mode != TlsMode::Implicit && purpose == Purpose::Requested;
        let first_wait = if sniff {
            (Instant::now() + self.opts.sniff_after).min(full)
        } else {
            full
        };
        // Waiting for the first byte only, so a greeting that starts late but completes within
        // the step's timeout is still read whole below.
        if sniff && !conn.wait_for_bytes(first_wait).await {
            self.rec.note(
                id,
                false,
                format!(
                    "no greeting after {} ms: trying implicit TLS on a second connection",
                    self.rec.now_ms() - t
                ),
            );
            // The probe's connect and handshake share the greeting's time budget.
            self.cap = Some(full);
            let probe = Box::pin(self.session(TlsMode::Implicit, Purpose::ModeProbe)).await;
            self.cap = None;
            // A server that sent a certificate speaks TLS here, even if the handshake then failed.
            let tls_works = probe
                .tls
                .as_ref()
                .is_some_and(|t| t.version.is_some() || !t.chain.is_empty());
            self.sessions.push(probe);
            if tls_works {
                ev.banner = Some(BannerEvidence {
                    reply: None,
                    failure: Some(ReadFailure::Timeout),
                    first_byte_ms: None,
                    ms: self.rec.now_ms() - t,
                });
                self.step(
                    "banner",
                    id,
                    StepStatus::Failed,
                    t,
                    "no greeting: this port expects TLS first",
                );
                ev.interrupted = Some(Interruption {
                    step: "banner".into(),
                    failure: ReadFailure::Timeout,
                    detail: "no greeting; the port speaks implicit TLS".into(),
                });
                conn.close().await;
                return ev;
            }
        }
        let banner = conn.read_reply(full).await;
        let banner_ms = self.rec.now_ms() - t;
        match banner {
            Ok(reply) => {
                let ok = reply.code == 220;
                ev.banner = Some(BannerEvidence {
                    reply: Some(reply.clone()),
                    failure: None,
                    first_byte_ms: conn.first_byte_ms.map(|f| f.saturating_sub(t)),
                    ms: banner_ms,
                });
                self.step(
                    "banner",
                    id,
                    if ok {
                        StepStatus::Ok
                    } else {
                        StepStatus::Failed
                    },
                    t,
                    reply.one_line(),
                );
                if !ok {
                    self.quit(&mut conn, &mut ev).await;
                    conn.close().await;
                    return ev;
                }
            }
            Err(e) => {
                ev.banner = Some(BannerEvidence {
                    reply: None,
                    failure: Some(self.failure_kind(&e)),
                    first_byte_ms: conn.first_byte_ms.map(|f| f.saturating_sub(t)),
                    ms: banner_ms,
                });
                self.interrupt(&mut ev, "banner", &e, t);
                conn.close().await;
                return ev;
            }
        }
        let Some(ehlo) = self.ehlo(&mut conn, &mut ev).await else {
            conn.close().await;
            return ev;
        };
        let tls_now = conn.is_tls();
        if tls_now {
            ev.ehlo_tls = Some(ehlo);
        } else {
            ev.ehlo = Some(ehlo);
        }
        if mode == TlsMode::Starttls {
            let offered = ev.ehlo.as_ref().is_some_and(|e| e.has("STARTTLS"));
            if offered {
                let t = self.begin("starttls");
                let result = async {
                    conn.send(&["STARTTLS"], self.deadline()).await?;
                    conn.read_reply(self.deadline()).await
                }
                .await;
                match result {
                    Ok(reply) if reply.code == 220 => {
                        self.step("starttls", id, StepStatus::Ok, t, reply.one_line());
                        ev.starttls = Some(reply);
                        match self.handshake(conn, &mut ev).await {
                            Some(c) => conn = c,
                            None => return ev,
                        }
                        if !self.cert_acceptable(&ev) {
                            return ev;
                        }
                        let Some(ehlo) = self.ehlo(&mut conn, &mut ev).await else {
                            conn.close().await;
                            return ev;
                        };
                        ev.ehlo_tls = Some(ehlo);
                    }
                    Ok(reply) => {
                        // Never fall back to plaintext after a refused STARTTLS.
                        self.step("starttls", id, StepStatus::Failed, t, reply.one_line());
                        ev.starttls = Some(reply);
                        self.quit(&mut conn, &mut ev).await;
                        conn.close().await;
                        return ev;
                    }
                    Err(e) => {
                        self.interrupt(&mut ev, "starttls", &e, t);
                        conn.close().await;
                        return ev;
                    }
                }
            } else if self.opts.tls == TlsMode::Starttls {
                let t = self.begin("starttls");
                self.step(
                    "starttls",
                    id,
                    StepStatus::Failed,
                    t,
                    "the server does not offer STARTTLS",
                );
                self.quit(&mut conn, &mut ev).await;
                conn.close().await;
                return ev;
            } else {
                // Auto: the port has no TLS to offer; go on in plaintext, without credentials.
                ev.mode = TlsMode::None;
                let t = self.begin("starttls");
                self.step(
                    "starttls",
                    id,
                    StepStatus::Warning,
                    t,
                    "not offered: continuing without encryption (no credentials will be sent)",
                );
            }
        }
        ev.secured = conn.is_tls();
        if !self.authenticate(&mut conn, &mut ev).await {
            conn.close().await;
            return ev;
        }
        self.envelope(&mut conn, &mut ev).await;
        conn.close().await;
        ev
    }

    fn cert_acceptable(&mut self, ev: &SessionEvidence) -> bool {
        let verified = ev
            .tls
            .as_ref()
            .and_then(|t| t.verification.as_ref())
            .is_none_or(|v| v.verified);
        // Port 25 is server-to-server opportunistic TLS: an unverified certificate is normal
        // there, so the ladder goes on (credentials are still only sent over verified TLS).
        verified || self.opts.insecure || (ev.port == 25 && !self.opts.require_verified_tls)
    }

    fn tls_verified(ev: &SessionEvidence) -> bool {
        ev.tls
            .as_ref()
            .and_then(|t| t.verification.as_ref())
            .is_some_and(|v| v.verified)
    }

    fn failure_kind(&self, e: &ReadError) -> ReadFailure {
        if e.failure == ReadFailure::Timeout && Instant::now() >= self.run_deadline {
            ReadFailure::Deadline
        } else {
            e.failure
        }
    }

    fn interrupt(&mut self, ev: &mut SessionEvidence, step: &str, e: &ReadError, t: u64) {
        let failure = self.failure_kind(e);
        self.rec
            .note(ev.conn, false, format!("{step}: {}", e.detail));
        self.step(step, ev.conn, StepStatus::Failed, t, e.detail.clone());
        ev.interrupted = Some(Interruption {
            step: step.to_string(),
            failure,
            detail: e.detail.clone(),
        });
    }

    async fn handshake(&mut self, conn: Conn, ev: &mut SessionEvidence) -> Option<Conn> {
        let t = self.begin("tls");
        let (mut tap, rec, id) = conn.into_plain()?;
        let (config, captured) = match tls::client_config(&self.opts.trust) {
            Ok(c) => c,
            Err(e) => {
                ev.tls = Some(TlsEvidence {
                    failure: Some(TlsFailure::Other),
                    detail: Some(e.clone()),
                    ..Default::default()
                });
                self.step("tls", id, StepStatus::Failed, t, e);
                return None;
            }
        };
        let (name, sni) = match self.opts.host.parse::<std::net::IpAddr>() {
            Ok(ip) => (ServerName::IpAddress(ip.into()), None),
            Err(_) => match ServerName::try_from(self.opts.host.clone()) {
                Ok(n) => (n, Some(self.opts.host.clone())),
                Err(e) => {
                    ev.tls = Some(TlsEvidence {
                        failure: Some(TlsFailure::Other),
                        detail: Some(e.to_string()),
                        ..Default::default()
                    });
                    self.step(
                        "tls",
                        id,
                        StepStatus::Failed,
                        t,
                        format!("not a usable TLS name: {e}"),
                    );
                    return None;
                }
            },
        };
        let seen = tap.start_tap();
        rec.note(
            id,
            false,
            match &sni {
                Some(s) => format!("TLS handshake, SNI {s}"),
                None => format!("TLS handshake, no SNI (address {})", self.opts.host),
            },
        );
        let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
        let result = tokio::time::timeout_at(self.deadline(), connector.connect(name, tap)).await;
        let ms = self.rec.now_ms() - t;
        let run_start = now_unix() - (self.rec.now_ms() / 1000) as i64;
        let captured = captured.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let chain: Vec<CertificateInfo> = captured
            .chain
            .iter()
            .filter_map(|c| tls::certificate_info(c, run_start))
            .collect();
        let issuer_in_trust_store = captured
            .chain
            .first()
            .and_then(|leaf| self.opts.trust.issuer_is_extra_anchor(leaf));
        let tlsa = crate::dane::compare(
            &self.opts.tlsa,
            &captured.chain,
            &self.opts.host,
            rustls::pki_types::UnixTime::now(),
        );
        let mut evidence = TlsEvidence {
            sni: sni.clone(),
            chain,
            verification: captured.verification.clone(),
            issuer_in_trust_store,
            tlsa,
            ms,
            ..Default::default()
        };
        match result {
            Ok(Ok(mut stream)) => {
                self.cap = None;
                stream.get_mut().0.stop_tap();
                let session = stream.get_ref().1;
                evidence.version = session.protocol_version().map(|v| match v {
                    rustls::ProtocolVersion::TLSv1_3 => "TLSv1.3".to_string(),
                    rustls::ProtocolVersion::TLSv1_2 => "TLSv1.2".to_string(),
                    other => format!("{other:?}"),
                });
                evidence.cipher = session
                    .negotiated_cipher_suite()
                    .map(|c| format!("{:?}", c.suite()));
                let cert_text = match &evidence.verification {
                    Some(v) if v.verified => "certificate verified".to_string(),
                    Some(v) => format!(
                        "certificate NOT trusted: {}",
                        v.detail.clone().unwrap_or_default()
                    ),
                    None => "no certificate".to_string(),
                };
                let leaf = evidence
                    .chain
                    .first()
                    .map(|c| c.subject.clone())
                    .unwrap_or_default();
                // Which TLSA record matches is evidence worth a glance; what it is worth (DNSSEC,
                // usage) is for the rules.
                let dane_text = evidence
                    .tlsa
                    .iter()
                    .find(|c| c.matched && c.chain_verified != Some(false))
                    .and_then(|c| self.opts.tlsa.get(c.record))
                    .map(|r| format!(", TLSA {} matches", r.short()))
                    .unwrap_or_default();
                let summary = format!(
                    "{} {}, {leaf}, {cert_text}{dane_text}",
                    evidence.version.clone().unwrap_or_default(),
                    evidence.cipher.clone().unwrap_or_default()
                );
                rec.note(id, true, format!("TLS established: {summary}"));
                let verified = evidence.verification.as_ref().is_none_or(|v| v.verified);
                self.step(
                    "tls",
                    id,
                    match (verified, ev.port) {
                        (true, _) => StepStatus::Ok,
                        // Opportunistic TLS between servers: unverified is normal on port 25.
                        (false, 25) => StepStatus::Warning,
                        (false, _) => StepStatus::Failed,
                    },
                    t,
                    summary,
                );
                ev.tls = Some(evidence);
                ev.secured = true;
                if !verified
                    && !self.opts.insecure
                    && ev.port == 25
                    && !self.opts.require_verified_tls
                {
                    rec.note(
                        id,
                        true,
                        "going on: opportunistic TLS on port 25 (no credentials will be sent over it)",
                    );
                } else if !verified && !self.opts.insecure {
                    rec.note(id, true, "stopping: the certificate is not trusted (use --insecure to go on for more evidence)");
                    let mut conn = Conn::new(Io::Tls(Box::new(stream)), id, rec);
                    // Nothing is sent to an unverified server; close cleanly.
                    ev.secured = true;
                    let _ = &mut conn;
                    conn.close().await;
                    return None;
                }
                Some(Conn::new(Io::Tls(Box::new(stream)), id, rec))
            }
            Ok(Err(e)) => {
                let plaintext = seen.lock().unwrap_or_else(|e| e.into_inner()).clone();
                let inner = e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>());
                let failure = if looks_like_smtp(&plaintext) {
                    TlsFailure::PlaintextReply
                } else {
                    match inner {
                        Some(rustls::Error::AlertReceived(_)) => TlsFailure::Alert,
                        Some(rustls::Error::InvalidCertificate(_)) => TlsFailure::Certificate,
                        _ if e.kind() == std::io::ErrorKind::UnexpectedEof
                            || e.kind() == std::io::ErrorKind::ConnectionReset =>
                        {
                            TlsFailure::Closed
                        }
                        _ => TlsFailure::Other,
                    }
                };
                if failure == TlsFailure::PlaintextReply {
                    for line in plaintext.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
                        let line = line.strip_suffix(b"\r").unwrap_or(line);
                        rec.line(id, smtpdoctor_report::Direction::Received, false, line);
                    }
                    evidence.plaintext_seen = Some(
                        rec.scrub(&String::from_utf8_lossy(&plaintext))
                            .trim_end()
                            .to_string(),
                    );
                }
                rec.note(id, false, format!("TLS handshake failed: {e}"));
                evidence.failure = Some(failure);
                evidence.detail = Some(e.to_string());
                self.step(
                    "tls",
                    id,
                    StepStatus::Failed,
                    t,
                    format!("handshake failed: {e}"),
                );
                ev.tls = Some(evidence);
                None
            }
            Err(_) => {
                rec.note(id, false, "TLS handshake: no answer in time");
                evidence.failure = Some(TlsFailure::Timeout);
                evidence.detail = Some("no TLS answer in time".into());
                self.step(
                    "tls",
                    id,
                    StepStatus::Failed,
                    t,
                    "handshake: no answer in time",
                );
                ev.tls = Some(evidence);
                None
            }
        }
    }

    async fn ehlo(&mut self, conn: &mut Conn, ev: &mut SessionEvidence) -> Option<EhloEvidence> {
        let t = self.begin("ehlo");
        let helo = self.helo.clone().unwrap_or_else(|| "[127.0.0.1]".into());
        for command in ["EHLO", "HELO"] {
            let line = format!("{command} {helo}");
            let result = async {
                conn.send(&[&line], self.deadline()).await?;
                conn.read_reply(self.deadline()).await
            }
            .await;
            match result {
                Ok(reply) => {
                    let ok = reply.code == 250;
                    let caps = if command == "EHLO" && ok {
                        crate::wire::capabilities(&reply)
                    } else {
                        Vec::new()
                    };
                    let summary = if ok {
                        let names: Vec<&str> = caps.iter().map(|c| c.keyword.as_str()).collect();
                        format!(
                            "{} {}",
                            reply.lines.first().cloned().unwrap_or_default(),
                            if names.is_empty() {
                                String::new()
                            } else {
                                format!("[{}]", names.join(" "))
                            }
                        )
                    } else {
                        reply.one_line()
                    };
                    let evidence = EhloEvidence {
                        command: command.into(),
                        reply: reply.clone(),
                        capabilities: caps,
                        tls: conn.is_tls(),
                    };
                    if ok {
                        self.step(
                            if conn.is_tls() { "ehlo_tls" } else { "ehlo" },
                            conn.id,
                            StepStatus::Ok,
                            t,
                            summary,
                        );
                        return Some(evidence);
                    }
                    self.step(
                        if conn.is_tls() { "ehlo_tls" } else { "ehlo" },
                        conn.id,
                        StepStatus::Failed,
                        t,
                        summary,
                    );
                    // Only a server that does not know EHLO gets HELO.
                    if command == "HELO" || !matches!(reply.code, 500 | 502) {
                        if conn.is_tls() {
                            ev.ehlo_tls = Some(evidence)
                        } else {
                            ev.ehlo = Some(evidence)
                        }
                        self.quit(conn, ev).await;
                        return None;
                    }
                    if conn.is_tls() {
                        ev.ehlo_tls = Some(evidence)
                    } else {
                        ev.ehlo = Some(evidence)
                    }
                }
                Err(e) => {
                    self.interrupt(ev, if conn.is_tls() { "ehlo_tls" } else { "ehlo" }, &e, t);
                    return None;
                }
            }
        }
        None
    }

    /// Returns false when the session cannot go on.
    async fn authenticate(&mut self, conn: &mut Conn, ev: &mut SessionEvidence) -> bool {
        let offered = ev
            .last_ehlo()
            .map(|e| e.auth_mechanisms())
            .unwrap_or_default();
        let Some(credential) = self.opts.credential.clone() else {
            if !offered.is_empty() {
                ev.auth = Some(AuthEvidence {
                    offered,
                    mechanism: None,
                    reply: None,
                    skipped: Some("no_credentials".into()),
                });
            }
            return true;
        };
        let user = self.opts.user.clone().unwrap_or_default();
        let skip = |why: &str, offered: Vec<String>| AuthEvidence {
            offered,
            mechanism: None,
            reply: None,
            skipped: Some(why.into()),
        };
        let t = self.begin("auth");
        if conn.is_tls() && !Self::tls_verified(ev) && !self.opts.insecure {
            ev.auth = Some(skip("unverified_tls", offered));
            self.step(
                "auth",
                conn.id,
                StepStatus::Skipped,
                t,
                "credentials withheld: the certificate is not verified",
            );
            return true;
        }
        if !conn.is_tls() && !self.opts.insecure {
            ev.auth = Some(skip("no_tls", offered));
            self.step(
                "auth",
                conn.id,
                StepStatus::Skipped,
                t,
                "credentials withheld: the session is not encrypted",
            );
            return true;
        }
        if self.auth_attempted {
            ev.auth = Some(skip("already_attempted", offered));
            self.step(
                "auth",
                conn.id,
                StepStatus::Skipped,
                t,
                "one login attempt per host per run: already made",
            );
            return true;
        }
        if offered.is_empty() {
            ev.auth = Some(skip("not_offered", offered));
            self.step(
                "auth",
                conn.id,
                StepStatus::Failed,
                t,
                "the server offers no AUTH here",
            );
            return true;
        }
        let mechanism = match &self.opts.auth_mechanism {
            Some(forced) => offered
                .iter()
                .find(|m| m.eq_ignore_ascii_case(forced))
                .cloned(),
            None => credential
                .mechanisms()
                .iter()
                .find(|m| offered.iter().any(|o| o == *m))
                .map(|m| m.to_string()),
        };
        let Some(mechanism) = mechanism else {
            let why = if self.opts.auth_mechanism.is_some() {
                "forced_not_offered"
            } else {
                "no_common_mechanism"
            };
            self.step(
                "auth",
                conn.id,
                StepStatus::Failed,
                t,
                format!("no usable mechanism among {}", offered.join(" ")),
            );
            ev.auth = Some(skip(why, offered));
            return true;
        };
        self.auth_attempted = true;
        let result = self.sasl(conn, &mechanism, &user, &credential).await;
        match result {
            Ok(reply) => {
                let ok = reply.code == 235;
                ev.authenticated = ok;
                self.step(
                    "auth",
                    conn.id,
                    if ok {
                        StepStatus::Ok
                    } else {
                        StepStatus::Failed
                    },
                    t,
                    format!("{mechanism}: {}", reply.one_line()),
                );
                ev.auth = Some(AuthEvidence {
                    offered,
                    mechanism: Some(mechanism),
                    reply: Some(reply),
                    skipped: None,
                });
                true
            }
            Err(e) => {
                ev.auth = Some(AuthEvidence {
                    offered,
                    mechanism: Some(mechanism),
                    reply: None,
                    skipped: None,
                });
                self.interrupt(ev, "auth", &e, t);
                false
            }
        }
    }

    /// One SASL exchange; the returned reply is the final one (235, 535, ...).
    async fn sasl(
        &mut self,
        conn: &mut Conn,
        mechanism: &str,
        user: &str,
        credential: &Credential,
    ) -> Result<Reply, ReadError> {
        let secret = credential.secret();
        let rec = self.rec.clone();
        match mechanism {
            "PLAIN" => {
                let payload = auth::plain(user, secret);
                rec.add_derived_secret(payload.to_string());
                conn.send_secret(
                    "AUTH PLAIN [redacted]",
                    format!("AUTH PLAIN {}", payload.as_str()).as_bytes(),
                    self.deadline(),
                )
                .await?;
                conn.read_reply(self.deadline()).await
            }
            "XOAUTH2" | "OAUTHBEARER" => {
                let payload = if mechanism == "XOAUTH2" {
                    auth::xoauth2(user, secret)
                } else {
                    auth::oauthbearer(user, &self.opts.host, self.opts.port, secret)
                };
                rec.add_derived_secret(payload.to_string());
                conn.send_secret(
                    &format!("AUTH {mechanism} [redacted]"),
                    format!("AUTH {mechanism} {}", payload.as_str()).as_bytes(),
                    self.deadline(),
                )
                .await?;
                let reply = conn.read_reply(self.deadline()).await?;
                if reply.code == 334 {
                    // The server sent an error document; an empty answer (or ^A) ends the exchange.
                    let answer = if mechanism == "XOAUTH2" { "" } else { "AQ==" };
                    conn.send(&[answer], self.deadline()).await?;
                    return conn.read_reply(self.deadline()).await;
                }
                Ok(reply)
            }
            "LOGIN" => {
                conn.send(&["AUTH LOGIN"], self.deadline()).await?;
                let reply = conn.read_reply(self.deadline()).await?;
                if reply.code != 334 {
                    return Ok(reply);
                }
                let user_b64 = auth::b64(user.as_bytes());
                conn.send(&[user_b64.as_str()], self.deadline()).await?;
                let reply = conn.read_reply(self.deadline()).await?;
                if reply.code != 334 {
                    return Ok(reply);
                }
                let pass_b64 = auth::b64(secret.expose().as_bytes());
                rec.add_derived_secret(pass_b64.to_string());
                conn.send_secret("[redacted]", pass_b64.as_bytes(), self.deadline())
                    .await?;
                conn.read_reply(self.deadline()).await
            }
            "CRAM-MD5" => {
                conn.send(&["AUTH CRAM-MD5"], self.deadline()).await?;
                let reply = conn.read_reply(self.deadline()).await?;
                if reply.code != 334 {
                    return Ok(reply);
                }
                let challenge = reply.lines.first().cloned().unwrap_or_default();
                let Some((answer, digest)) = auth::cram_md5(user, secret, &challenge) else {
                    conn.send(&["*"], self.deadline()).await?;
                    return conn.read_reply(self.deadline()).await;
                };
                rec.add_derived_secret(answer.to_string());
                rec.add_derived_secret(digest.to_string());
                conn.send_secret("[redacted]", answer.as_bytes(), self.deadline())
                    .await?;
                conn.read_reply(self.deadline()).await
            }
            other => Ok(Reply {
                code: 504,
                enhanced: None,
                lines: vec![format!("smtpdoctor does not speak {other}")],
            }),
        }
    }

    async fn envelope(&mut self, conn: &mut Conn, ev: &mut SessionEvidence) {
        let auth_failed = ev
            .auth
            .as_ref()
            .is_some_and(|a| a.reply.as_ref().is_some_and(|r| r.code != 235));
        let Some(from) = self.opts.from.clone().filter(|_| !auth_failed) else {
            self.quit(conn, ev).await;
            return;
        };
        let ehlo = ev.last_ehlo().cloned();
        let pipelining = ehlo.as_ref().is_some_and(|e| e.has("PIPELINING"));
        let send = self.opts.send && !self.opts.to.is_empty();
        let message_id = crate::message::message_id(&from);
        let body = send.then(|| {
            crate::message::build(
                &from,
                &self.opts.to,
                &message_id,
                self.helo.as_deref().unwrap_or(""),
            )
        });
        let mut mail = format!("MAIL FROM:<{from}>");
        if let (Some(body), true) = (&body, ehlo.as_ref().is_some_and(|e| e.has("SIZE"))) {
            mail.push_str(&format!(" SIZE={}", body.len()));
        }
        let rcpts: Vec<String> = self
            .opts
            .to
            .iter()
            .map(|t| format!("RCPT TO:<{t}>"))
            .collect();
        let last = if send { "DATA" } else { "QUIT" };
        let t = self.begin("mail");
        let id = conn.id;
        if pipelining {
            let mut lines: Vec<&str> = vec![&mail];
            lines.extend(rcpts.iter().map(String::as_str));
            lines.push(last);
            if let Err(e) = conn.send(&lines, self.deadline()).await {
                self.interrupt(ev, "mail", &e, t);
                return;
            }
            match conn.read_reply(self.deadline()).await {
                Ok(r) => {
                    self.step("mail", id, status_of(&r), t, r.one_line());
                    ev.mail = Some(r);
                }
                Err(e) => return self.interrupt(ev, "mail", &e, t),
            }
            for to in &self.opts.to {
                match conn.read_reply(self.deadline()).await {
                    Ok(r) => {
                        self.step(
                            "rcpt",
                            id,
                            status_of(&r),
                            t,
                            format!("{to}: {}", r.one_line()),
                        );
                        ev.rcpt.push((to.clone(), r));
                    }
                    Err(e) => return self.interrupt(ev, "rcpt", &e, t),
                }
            }
            match conn.read_reply(self.deadline()).await {
                Ok(r) if send => {
                    self.step("data", id, status_of(&r), t, r.one_line());
                    ev.data = Some(r);
                }
                Ok(r) => {
                    self.step("quit", id, StepStatus::Ok, t, r.one_line());
                    ev.quit = Some(r);
                    return;
                }
                Err(e) if !send => {
                    // A server that closes right after QUIT has said all it needed to.
                    ev.quit = None;
                    self.step("quit", id, StepStatus::Warning, t, e.detail);
                    return;
                }
                Err(e) => return self.interrupt(ev, "data", &e, t),
            }
        } else {
            let steps: Vec<(&str, String)> = std::iter::once(("mail", mail.clone()))
                .chain(rcpts.iter().map(|r| ("rcpt", r.clone())))
                .collect();
            for (i, (name, line)) in steps.iter().enumerate() {
                let t = self.begin(name);
                let result = async {
                    conn.send(&[line], self.deadline()).await?;
                    conn.read_reply(self.deadline()).await
                }
                .await;
                match result {
                    Ok(r) => {
                        if *name == "mail" {
                            self.step("mail", id, status_of(&r), t, r.one_line());
                            let failed = !r.is_positive();
                            ev.mail = Some(r);
                            if failed {
                                break;
                            }
                        } else {
                            let to = self.opts.to[i - 1].clone();
                            self.step(
                                "rcpt",
                                id,
                                status_of(&r),
                                t,
                                format!("{to}: {}", r.one_line()),
                            );
                            ev.rcpt.push((to, r));
                        }
                    }
                    Err(e) => return self.interrupt(ev, name, &e, t),
                }
            }
            let accepted = ev.mail.as_ref().is_some_and(Reply::is_positive)
                && ev.rcpt.iter().any(|(_, r)| r.is_positive());
            if send && accepted {
                let t = self.begin("data");
                let result = async {
                    conn.send(&["DATA"], self.deadline()).await?;
                    conn.read_reply(self.deadline()).await
                }
                .await;
                match result {
                    Ok(r) => {
                        self.step("data", id, status_of(&r), t, r.one_line());
                        ev.data = Some(r);
                    }
                    Err(e) => return self.interrupt(ev, "data", &e, t),
                }
            }
        }
        match (&ev.data, body) {
            (Some(data), Some(body)) if data.code == 354 => {
                let t = self.begin("message");
                let summary = format!("message of {} bytes, Message-ID {message_id}", body.len());
                let result = async {
                    conn.send_body(&body, &summary, self.deadline()).await?;
                    if pipelining {
                        conn.send(&["QUIT"], self.deadline()).await?;
                    }
                    conn.read_reply(self.deadline()).await
                }
                .await;
                match result {
                    Ok(r) => {
                        self.step("message", id, status_of(&r), t, r.one_line());
                        ev.message = Some(r);
                        ev.message_id = Some(message_id);
                    }
                    Err(e) => return self.interrupt(ev, "message", &e, t),
                }
                if pipelining {
                    let t = self.rec.now_ms();
                    match conn.read_reply(self.deadline()).await {
                        Ok(r) => {
                            self.step("quit", id, StepStatus::Ok, t, r.one_line());
                            ev.quit = Some(r);
                        }
                        Err(e) => self.step("quit", id, StepStatus::Warning, t, e.detail),
                    }
                    return;
                }
            }
            _ => {}
        }
        self.quit(conn, ev).await;
    }

    async fn quit(&mut self, conn: &mut Conn, ev: &mut SessionEvidence) {
        let t = self.begin("quit");
        // QUIT is a courtesy: give it a short bound of its own.
        let deadline =
            (Instant::now() + self.opts.timeout.min(Duration::from_secs(3))).min(self.run_deadline);
        let result = async {
            conn.send(&["QUIT"], deadline).await?;
            conn.read_reply(deadline).await
        }
        .await;
        match result {
            Ok(r) => {
                self.step("quit", conn.id, StepStatus::Ok, t, r.one_line());
                ev.quit = Some(r);
            }
            Err(e) => self.step("quit", conn.id, StepStatus::Warning, t, e.detail),
        }
    }
}

/// An address with the words to show for it.
struct Shown(SocketAddr, String);

impl std::fmt::Display for Shown {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.1)
    }
}

fn status_of(reply: &Reply) -> StepStatus {
    if reply.is_positive() {
        StepStatus::Ok
    } else {
        StepStatus::Failed
    }
}

fn looks_like_smtp(bytes: &[u8]) -> bool {
    bytes.len() >= 4
        && bytes[..3].iter().all(u8::is_ascii_digit)
        && matches!(bytes[3], b' ' | b'-' | b'\r' | b'\n')
}

fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn describe_resolve(r: &ResolveEvidence) -> String {
    match (&r.failure, r.addresses.is_empty()) {
        (Some(f), _) => format!("{:?}: {}", f, r.detail.clone().unwrap_or_default()),
        (None, true) if !r.filtered.is_empty() => {
            format!("only {} (excluded by -4/-6)", r.filtered.join(", "))
        }
        (None, true) => "no address".into(),
        (None, false) => format!("{} ({})", r.addresses.join(", "), r.source),
    }
}

/// The machine's fully qualified name when it has one, else the address literal of the local
/// address (RFC 5321 4.1.4): never `localhost`, which receivers distrust.
pub fn default_helo(local: Option<SocketAddr>) -> String {
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .unwrap_or_default();
    let name = name.trim();
    let lower = name.to_ascii_lowercase();
    if name.contains('.')
        && !lower.starts_with("localhost")
        && !lower.ends_with(".localdomain")
        && !lower.ends_with(".local")
    {
        return name.to_string();
    }
    match local.map(|l| l.ip()) {
        Some(std::net::IpAddr::V4(ip)) => format!("[{ip}]"),
        Some(std::net::IpAddr::V6(ip)) => format!("[IPv6:{ip}]"),
        None => "[127.0.0.1]".into(),
    }
}
