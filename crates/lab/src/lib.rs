//! The lab: practice SMTP servers on loopback, inside the process, each with one known fault.
//!
//! They let anyone see smtpdoctor's diagnoses without a mail server, and they give the tests the
//! faults no real server produces on demand (a tarpit, garbage, a drop mid-session, a 10 MB line).
//! Every server is bounded: reads stop at a line limit and sessions end when the client leaves.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;

/// The lab's login name.
pub const LAB_USER: &str = "lab@lab.test";
/// The lab's password: a public practice value, not a secret.
pub const LAB_PASSWORD: &str = "lab-practice-only";
/// The lab's OAuth token that XOAUTH2 accepts.
pub const LAB_TOKEN: &str = "lab-practice-token";
/// The longest line a lab server reads.
const MAX_LINE: usize = 16 * 1024;
/// How long a lab server holds a silent connection.
const HOLD: Duration = Duration::from_secs(600);

/// One known fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// A healthy STARTTLS submission server (the baseline).
    Healthy,
    /// Implicit TLS only: plaintext clients hear nothing.
    ImplicitTlsOnly,
    /// STARTTLS required before AUTH and MAIL.
    StarttlsRequired,
    /// Accepts the connection and never says a word.
    Tarpit,
    /// 421 at greeting.
    Greeting421,
    /// STARTTLS with a self-signed certificate nobody trusts.
    UntrustedCert,
    /// Closes the connection at MAIL FROM.
    DropMidSession,
    /// Sends its greeting one byte a second.
    OneByteASecond,
    /// Greets only after three seconds (an anti-spam greeting pause), then works, without TLS.
    DelayedGreeting,
    /// Sends a 10 MB line.
    HugeLine,
    /// A multi-line greeting that never ends.
    EndlessMultiline,
    /// Binary garbage instead of a greeting.
    Garbage,
    /// Answers the TLS ClientHello with a fatal alert.
    TlsAlert,
    /// Implicit TLS with XOAUTH2 and OAUTHBEARER, refusing any token but [`LAB_TOKEN`] with the
    /// providers' 334 error exchange.
    Xoauth2,
    /// Implicit TLS, every AUTH mechanism, refuses every login and echoes what it got back.
    EchoAuth,
}

impl Fault {
    /// The practice servers `smtpdoctor lab` starts.
    pub const LAB: [Fault; 7] = [
        Fault::Healthy,
        Fault::ImplicitTlsOnly,
        Fault::StarttlsRequired,
        Fault::Tarpit,
        Fault::Greeting421,
        Fault::UntrustedCert,
        Fault::DropMidSession,
    ];

    /// A short name.
    pub fn name(self) -> &'static str {
        match self {
            Fault::Healthy => "healthy",
            Fault::ImplicitTlsOnly => "implicit-tls-only",
            Fault::StarttlsRequired => "starttls-required",
            Fault::Tarpit => "tarpit",
            Fault::Greeting421 => "greeting-421",
            Fault::UntrustedCert => "untrusted-cert",
            Fault::DropMidSession => "drop-mid-session",
            Fault::OneByteASecond => "one-byte-a-second",
            Fault::DelayedGreeting => "delayed-greeting",
            Fault::HugeLine => "huge-line",
            Fault::EndlessMultiline => "endless-multiline",
            Fault::Garbage => "garbage",
            Fault::TlsAlert => "tls-alert",
            Fault::Xoauth2 => "xoauth2",
            Fault::EchoAuth => "echo-auth",
        }
    }

    /// What is wrong with it, in one line.
    pub fn describe(self) -> &'static str {
        match self {
            Fault::Healthy => "a working STARTTLS submission server with AUTH PLAIN LOGIN",
            Fault::ImplicitTlsOnly => "speaks implicit TLS only (like port 465)",
            Fault::StarttlsRequired => "requires STARTTLS before AUTH and MAIL",
            Fault::Tarpit => "accepts connections and never greets",
            Fault::Greeting421 => "greets with 421 (service not available)",
            Fault::UntrustedCert => "offers STARTTLS with a self-signed certificate",
            Fault::DropMidSession => "drops the connection at MAIL FROM",
            Fault::OneByteASecond => "sends its greeting one byte a second",
            Fault::DelayedGreeting => "greets after a three-second pause",
            Fault::HugeLine => "sends a 10 MB line",
            Fault::EndlessMultiline => "sends a multi-line greeting that never ends",
            Fault::Garbage => "sends binary garbage",
            Fault::TlsAlert => "aborts the TLS handshake with an alert",
            Fault::Xoauth2 => "implicit TLS with XOAUTH2/OAUTHBEARER",
            Fault::EchoAuth => "refuses every login and echoes the payload back",
        }
    }
}

/// Certificates the lab serves.
#[derive(Debug, Clone)]
pub struct LabCerts {
    /// The lab CA, PEM: trust it with `--ca-file` for every server but `untrusted-cert`.
    pub ca_pem: String,
    chain: Vec<CertificateDer<'static>>,
    key: Vec<u8>,
    untrusted_chain: Vec<CertificateDer<'static>>,
    untrusted_key: Vec<u8>,
}

fn rc(e: rcgen::Error) -> io::Error {
    io::Error::other(e.to_string())
}

impl LabCerts {
    /// Makes a CA and a leaf for `localhost`/127.0.0.1, plus an unrelated self-signed leaf.
    pub fn generate() -> io::Result<LabCerts> {
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).map_err(rc)?;
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "smtpdoctor lab CA");
        let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().map_err(rc)?)
            .map_err(rc)?;
        let names = vec![
            "localhost".to_string(),
            "lab.test".to_string(),
            "127.0.0.1".to_string(),
            "::1".to_string(),
        ];
        let mut leaf_params = CertificateParams::new(names.clone()).map_err(rc)?;
        leaf_params
            .distinguished_name
            .push(DnType::CommonName, "lab.test");
        let leaf_key = KeyPair::generate().map_err(rc)?;
        let leaf = leaf_params.signed_by(&leaf_key, &ca).map_err(rc)?;
        let mut odd_params = CertificateParams::new(names).map_err(rc)?;
        odd_params
            .distinguished_name
            .push(DnType::CommonName, "untrusted.lab.test");
        let odd_key = KeyPair::generate().map_err(rc)?;
        let odd = odd_params.self_signed(&odd_key).map_err(rc)?;
        Ok(LabCerts {
            ca_pem: ca.pem(),
            chain: vec![leaf.der().clone(), ca.der().clone()],
            key: leaf_key.serialize_der(),
            untrusted_chain: vec![odd.der().clone()],
            untrusted_key: odd_key.serialize_der(),
        })
    }

    fn acceptor(&self, untrusted: bool) -> io::Result<TlsAcceptor> {
        let (chain, key) = if untrusted {
            (&self.untrusted_chain, &self.untrusted_key)
        } else {
            (&self.chain, &self.key)
        };
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.clone()));
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map_err(io::Error::other)?
        .with_no_client_auth()
        .with_single_cert(chain.clone(), key)
        .map_err(io::Error::other)?;
        Ok(TlsAcceptor::from(Arc::new(config)))
    }
}

/// A running practice server.
#[derive(Debug)]
pub struct LabServer {
    /// Its fault.
    pub fault: Fault,
    /// Where it listens.
    pub addr: SocketAddr,
    task: JoinHandle<()>,
}

impl Drop for LabServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Several practice servers and their certificates.
#[derive(Debug)]
pub struct Lab {
    /// The servers, in the order asked for.
    pub servers: Vec<LabServer>,
    /// Their certificates.
    pub certs: LabCerts,
}

impl Lab {
    /// Starts one server per fault on 127.0.0.1, each on a free port.
    pub async fn start(faults: &[Fault]) -> io::Result<Lab> {
        let certs = LabCerts::generate()?;
        let mut servers = Vec::new();
        for &fault in faults {
            let listener = TcpListener::bind("127.0.0.1:0").await?;
            let addr = listener.local_addr()?;
            let trusted = certs.acceptor(false)?;
            let untrusted = certs.acceptor(true)?;
            let task = tokio::spawn(async move {
                loop {
                    let Ok((stream, _)) = listener.accept().await else {
                        continue;
                    };
                    let _ = stream.set_nodelay(true);
                    let acceptor = if fault == Fault::UntrustedCert {
                        untrusted.clone()
                    } else {
                        trusted.clone()
                    };
                    tokio::spawn(async move {
                        let _ = tokio::time::timeout(HOLD, serve(fault, stream, acceptor)).await;
                    });
                }
            });
            servers.push(LabServer { fault, addr, task });
        }
        Ok(Lab { servers, certs })
    }

    /// The server with this fault.
    pub fn server(&self, fault: Fault) -> Option<&LabServer> {
        self.servers.iter().find(|s| s.fault == fault)
    }
}

async fn serve(fault: Fault, mut stream: TcpStream, acceptor: TlsAcceptor) -> io::Result<()> {
    match fault {
        Fault::Tarpit => hold(stream).await,
        Fault::Greeting421 => {
            stream
                .write_all(
                    b"421 4.3.2 lab.test Service not available, closing transmission channel\r\n",
                )
                .await?;
            stream.shutdown().await
        }
        Fault::OneByteASecond => {
            for byte in b"220 lab.test ESMTP this greeting takes a while\r\n" {
                stream.write_all(&[*byte]).await?;
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            hold(stream).await
        }
        Fault::HugeLine => {
            stream.write_all(b"220-").await?;
            let chunk = vec![b'x'; 64 * 1024];
            for _ in 0..160 {
                stream.write_all(&chunk).await?;
            }
            stream.write_all(b"\r\n220 done\r\n").await?;
            hold(stream).await
        }
        Fault::EndlessMultiline => {
            let line = b"220-lab.test this greeting has no last line\r\n".repeat(64);
            loop {
                stream.write_all(&line).await?;
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
        Fault::Garbage => {
            let mut state: u32 = 0x9e37_79b9;
            let garbage: Vec<u8> = (0..4096)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 17;
                    state ^= state << 5;
                    (state >> 24) as u8
                })
                .collect();
            stream.write_all(&garbage).await?;
            hold(stream).await
        }
        Fault::TlsAlert => {
            let mut buf = [0u8; 512];
            let _ = tokio::io::AsyncReadExt::read(&mut stream, &mut buf).await?;
            // A fatal handshake_failure alert (TLS record type 21).
            stream
                .write_all(&[0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28])
                .await?;
            stream.shutdown().await
        }
        Fault::ImplicitTlsOnly | Fault::Xoauth2 | Fault::EchoAuth => {
            let tls = acceptor.accept(stream).await?;
            dialogue(fault, tls, true).await.map(|_| ())
        }
        Fault::DelayedGreeting => {
            tokio::time::sleep(Duration::from_secs(3)).await;
            dialogue(fault, &mut stream, false).await.map(|_| ())
        }
        Fault::Healthy | Fault::StarttlsRequired | Fault::UntrustedCert | Fault::DropMidSession => {
            if dialogue(fault, &mut stream, false).await? == After::Starttls {
                let tls = acceptor.accept(stream).await?;
                // No second greeting after STARTTLS: the client speaks first (EHLO).
                dialogue(fault, tls, true).await?;
            }
            Ok(())
        }
    }
}

async fn hold(mut stream: TcpStream) -> io::Result<()> {
    let mut buf = [0u8; 1024];
    while tokio::io::AsyncReadExt::read(&mut stream, &mut buf).await? > 0 {}
    Ok(())
}

#[derive(Debug, PartialEq, Eq)]
enum After {
    Quit,
    Starttls,
}

async fn read_line<R: AsyncRead + Unpin>(reader: &mut BufReader<R>) -> io::Result<Option<String>> {
    let mut line = Vec::new();
    let n = (&mut *reader)
        .take(MAX_LINE as u64)
        .read_until(b'\n', &mut line)
        .await?;
    if n == 0 {
        return Ok(None);
    }
    while line.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
        line.pop();
    }
    Ok(Some(String::from_utf8_lossy(&line).into_owned()))
}

use tokio::io::AsyncReadExt as _;

/// A small SMTP dialogue with the fault's quirks.
async fn dialogue<S: AsyncRead + AsyncWrite + Unpin>(
    fault: Fault,
    stream: S,
    tls: bool,
) -> io::Result<After> {
    let mut io = BufReader::new(stream);
    let offers_starttls = !tls
        && matches!(
            fault,
            Fault::Healthy | Fault::StarttlsRequired | Fault::UntrustedCert
        );
    let auth_here = match fault {
        Fault::Healthy | Fault::StarttlsRequired | Fault::UntrustedCert => tls,
        Fault::ImplicitTlsOnly => true,
        _ => false,
    };
    let mechs = match fault {
        Fault::Xoauth2 => "XOAUTH2 OAUTHBEARER",
        Fault::EchoAuth => "PLAIN LOGIN CRAM-MD5 XOAUTH2 OAUTHBEARER",
        _ if auth_here => "PLAIN LOGIN",
        _ => "",
    };
    let mut authenticated = false;
    let mut in_transaction = false;
    let after_starttls = tls
        && matches!(
            fault,
            Fault::Healthy | Fault::StarttlsRequired | Fault::UntrustedCert
        );
    if !after_starttls {
        send(&mut io, "220 lab.test ESMTP smtpdoctor lab").await?;
    }
    while let Some(line) = read_line(&mut io).await? {
        let upper = line.to_ascii_uppercase();
        let verb = upper.split_whitespace().next().unwrap_or("").to_string();
        match verb.as_str() {
            "EHLO" => {
                let mut caps = vec![
                    "250-lab.test".to_string(),
                    "250-PIPELINING".into(),
                    "250-SIZE 10240000".into(),
                    "250-8BITMIME".into(),
                ];
                if offers_starttls {
                    caps.push("250-STARTTLS".into());
                }
                if !mechs.is_empty() {
                    caps.push(format!("250-AUTH {mechs}"));
                }
                caps.push("250 SMTPUTF8".into());
                send(&mut io, &caps.join("\r\n")).await?;
            }
            "HELO" => send(&mut io, "250 lab.test").await?,
            "STARTTLS" if offers_starttls => {
                send(&mut io, "220 2.0.0 Ready to start TLS").await?;
                return Ok(After::Starttls);
            }
            "AUTH" if !mechs.is_empty() => {
                authenticated = auth(fault, &mut io, &line).await?;
            }
            "MAIL" if fault == Fault::DropMidSession => return Ok(After::Quit),
            "RCPT" | "DATA" if !in_transaction => {
                send(&mut io, "503 5.5.1 Error: need MAIL command").await?
            }
            "MAIL" if fault == Fault::StarttlsRequired && !tls => {
                send(&mut io, "530 5.7.0 Must issue a STARTTLS command first").await?
            }
            "MAIL" if auth_here && !authenticated => {
                send(&mut io, "530 5.7.0 Authentication required").await?
            }
            "MAIL" => {
                in_transaction = true;
                send(&mut io, "250 2.1.0 Ok").await?
            }
            "RCPT" if upper.contains("@UNKNOWN.") || upper.contains("NOBODY@") => {
                send(
                    &mut io,
                    "550 5.1.1 Recipient address rejected: User unknown",
                )
                .await?
            }
            "RCPT" => send(&mut io, "250 2.1.5 Ok").await?,
            "DATA" => {
                send(&mut io, "354 End data with <CR><LF>.<CR><LF>").await?;
                let mut size = 0usize;
                while let Some(l) = read_line(&mut io).await? {
                    if l == "." {
                        break;
                    }
                    size += l.len();
                    if size > 20_000_000 {
                        return Ok(After::Quit);
                    }
                }
                in_transaction = false;
                send(&mut io, "250 2.0.0 Ok: queued as LAB1").await?;
            }
            "RSET" | "NOOP" => send(&mut io, "250 2.0.0 Ok").await?,
            "QUIT" => {
                send(&mut io, "221 2.0.0 Bye").await?;
                return Ok(After::Quit);
            }
            _ => send(&mut io, "502 5.5.2 Error: command not recognized").await?,
        }
    }
    Ok(After::Quit)
}

async fn send<S: AsyncRead + AsyncWrite + Unpin>(
    io: &mut BufReader<S>,
    text: &str,
) -> io::Result<()> {
    // One write per reply: a reply split over two writes waits on Nagle and delayed ACKs.
    let w = io.get_mut();
    let mut out = Vec::with_capacity(text.len() + 2);
    out.extend_from_slice(text.as_bytes());
    out.extend_from_slice(b"\r\n");
    w.write_all(&out).await?;
    w.flush().await
}

/// One AUTH exchange; true when it succeeded.
async fn auth<S: AsyncRead + AsyncWrite + Unpin>(
    fault: Fault,
    io: &mut BufReader<S>,
    line: &str,
) -> io::Result<bool> {
    let mut words = line.split_whitespace().skip(1);
    let mech = words.next().unwrap_or("").to_ascii_uppercase();
    let initial = words.next().map(str::to_string);
    let echo = fault == Fault::EchoAuth;
    let decode = |s: &str| {
        String::from_utf8_lossy(&STANDARD.decode(s.trim()).unwrap_or_default()).into_owned()
    };
    let refuse = |got: &str| {
        if echo {
            format!(
                "535 5.7.8 Authentication failed for {got} ({})",
                decode(got).replace(['\0', '\x01'], " ")
            )
        } else {
            "535 5.7.8 Username and Password not accepted".to_string()
        }
    };
    let ok = match mech.as_str() {
        "PLAIN" => {
            let payload = match initial {
                Some(p) => p,
                None => {
                    send(io, "334 ").await?;
                    read_line(io).await?.unwrap_or_default()
                }
            };
            let good = !echo && decode(&payload) == format!("\0{LAB_USER}\0{LAB_PASSWORD}");
            if !good {
                send(io, &refuse(&payload)).await?;
            }
            good
        }
        "LOGIN" => {
            send(io, "334 VXNlcm5hbWU6").await?;
            let user = read_line(io).await?.unwrap_or_default();
            send(io, "334 UGFzc3dvcmQ6").await?;
            let pass = read_line(io).await?.unwrap_or_default();
            let good = !echo && decode(&user) == LAB_USER && decode(&pass) == LAB_PASSWORD;
            if !good {
                send(io, &refuse(&pass)).await?;
            }
            good
        }
        "CRAM-MD5" => {
            send(
                io,
                &format!("334 {}", STANDARD.encode("<1896.697170952@lab.test>")),
            )
            .await?;
            let answer = read_line(io).await?.unwrap_or_default();
            send(io, &refuse(&answer)).await?;
            false
        }
        "XOAUTH2" | "OAUTHBEARER" => {
            let payload = initial.unwrap_or_default();
            let good = !echo && decode(&payload).contains(&format!("auth=Bearer {LAB_TOKEN}\x01"));
            if !good {
                let error = STANDARD.encode(
                    r#"{"status":"401","schemes":"Bearer","scope":"https://mail.lab.test/"}"#,
                );
                send(io, &format!("334 {error}")).await?;
                let _ = read_line(io).await?;
                send(io, &refuse(&payload)).await?;
            }
            good
        }
        _ => {
            send(io, "504 5.5.4 Unrecognized authentication type").await?;
            false
        }
    };
    if ok {
        send(io, "235 2.7.0 Authentication successful").await?;
    }
    Ok(ok)
}

/// An HTTPS server on 127.0.0.1 that answers every request with `body` as text/plain, with a
/// certificate for `name` from a fresh CA. Returns its address, the CA (PEM, for `--ca-file`) and
/// the task (aborted when dropped by the caller).
pub async fn https_server(
    name: &str,
    body: String,
) -> io::Result<(SocketAddr, String, JoinHandle<()>)> {
    let response = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    https_responder(name, response).await
}

/// Like [`https_server`], but every request gets `response` as it is (status line, headers
/// and body): for redirects, errors and odd servers.
pub async fn https_responder(
    name: &str,
    response: String,
) -> io::Result<(SocketAddr, String, JoinHandle<()>)> {
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).map_err(rc)?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "smtpdoctor lab HTTPS CA");
    let ca =
        CertifiedIssuer::self_signed(ca_params, KeyPair::generate().map_err(rc)?).map_err(rc)?;
    let leaf_key = KeyPair::generate().map_err(rc)?;
    let leaf = CertificateParams::new(vec![name.to_string()])
        .map_err(rc)?
        .signed_by(&leaf_key, &ca)
        .map_err(rc)?;
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der()));
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(io::Error::other)?
    .with_no_client_auth()
    .with_single_cert(vec![leaf.der().clone(), ca.der().clone()], key)
    .map_err(io::Error::other)?;
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let task = tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let (acceptor, response) = (acceptor.clone(), response.clone());
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(stream).await else {
                    return;
                };
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") && head.len() < 8192 {
                    match tokio::io::AsyncReadExt::read(&mut tls, &mut byte).await {
                        Ok(1) => head.push(byte[0]),
                        _ => return,
                    }
                }
                let _ = tls.write_all(response.as_bytes()).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    Ok((addr, ca.pem(), task))
}
