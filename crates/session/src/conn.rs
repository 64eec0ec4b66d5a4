//! One SMTP connection: bounded reads of replies, recorded writes, and the switch to TLS.

use crate::record::Recorder;
use crate::wire::{Parsed, RawLine, ReplyParser, WireError};
use smtpdoctor_report::Direction;
use smtpdoctor_report::check::{ReadFailure, Reply};
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::Instant;

/// How much plaintext a TLS attempt keeps when the server answers in the clear.
const TAP_LIMIT: usize = 512;

/// A TCP stream that remembers the first bytes it reads while tapping is on (to show the
/// plaintext greeting a server sent when TLS was expected).
#[derive(Debug)]
pub struct Tap {
    inner: TcpStream,
    seen: Arc<Mutex<Vec<u8>>>,
    active: bool,
}

impl Tap {
    /// Wraps a connected stream.
    pub fn new(inner: TcpStream) -> Self {
        Tap {
            inner,
            seen: Arc::default(),
            active: false,
        }
    }

    /// Starts keeping the bytes read, returning where they go.
    pub fn start_tap(&mut self) -> Arc<Mutex<Vec<u8>>> {
        self.active = true;
        self.seen.clone()
    }

    /// Stops keeping bytes.
    pub fn stop_tap(&mut self) {
        self.active = false;
    }

    /// The local address.
    pub fn local_addr(&self) -> io::Result<std::net::SocketAddr> {
        self.inner.local_addr()
    }

    /// Acknowledges the next segments at once. A server that sends a small record (a TLS 1.3
    /// session ticket) and then its reply would otherwise hold the reply back under Nagle's
    /// algorithm until our delayed ACK fires, about 40 ms later. Linux resets the flag on its
    /// own, so it is set again before each reply is awaited.
    pub fn quick_ack(&self) {
        #[cfg(any(target_os = "linux", target_os = "android"))]
        let _ = socket2::SockRef::from(&self.inner).set_tcp_quickack(true);
    }
}

impl AsyncRead for Tap {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let result = Pin::new(&mut self.inner).poll_read(cx, buf);
        if self.active && matches!(result, Poll::Ready(Ok(()))) {
            let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
            let room = TAP_LIMIT.saturating_sub(seen.len());
            let new = &buf.filled()[before..];
            seen.extend_from_slice(&new[..new.len().min(room)]);
        }
        result
    }
}

impl AsyncWrite for Tap {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// The transport under an SMTP session.
pub enum Io {
    /// Plain TCP.
    Plain(Tap),
    /// Inside TLS.
    Tls(Box<tokio_rustls::client::TlsStream<Tap>>),
}

/// A read that did not give a reply.
#[derive(Debug, Clone)]
pub struct ReadError {
    /// What happened.
    pub failure: ReadFailure,
    /// In words.
    pub detail: String,
    /// Whether any byte arrived.
    pub got_bytes: bool,
}

/// One SMTP connection with its buffer and recorder.
pub struct Conn {
    /// The transport.
    pub io: Io,
    /// The transcript's connection number.
    pub id: u32,
    rec: Arc<Recorder>,
    buf: Vec<u8>,
    parser: ReplyParser,
    /// When the first byte arrived.
    pub first_byte_ms: Option<u64>,
    /// The peer closed (or the read failed) while waiting for the first byte.
    eof: bool,
}

impl Conn {
    /// Wraps a connected transport.
    pub fn new(io: Io, id: u32, rec: Arc<Recorder>) -> Self {
        Conn {
            io,
            id,
            rec,
            buf: Vec::new(),
            parser: ReplyParser::default(),
            first_byte_ms: None,
            eof: false,
        }
    }

    /// Whether the connection runs inside TLS.
    pub fn is_tls(&self) -> bool {
        matches!(self.io, Io::Tls(_))
    }

    /// Sends lines in one write (one pipelined flight), recording each.
    pub async fn send(&mut self, lines: &[&str], deadline: Instant) -> Result<(), ReadError> {
        let mut out = Vec::new();
        for line in lines {
            self.rec
                .line(self.id, Direction::Sent, self.is_tls(), line.as_bytes());
            out.extend_from_slice(line.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        self.write_all(&out, deadline).await
    }

    /// Sends a line that carries a secret: the wire gets `actual`, the transcript `shown`.
    pub async fn send_secret(
        &mut self,
        shown: &str,
        actual: &[u8],
        deadline: Instant,
    ) -> Result<(), ReadError> {
        self.rec.sent_redacted(self.id, self.is_tls(), shown);
        let mut out = Vec::with_capacity(actual.len() + 2);
        out.extend_from_slice(actual);
        out.extend_from_slice(b"\r\n");
        let result = self.write_all(&out, deadline).await;
        zeroize::Zeroize::zeroize(&mut out);
        result
    }

    /// Sends raw bytes (a message body), recording a summary line instead of every line.
    pub async fn send_body(
        &mut self,
        body: &[u8],
        summary: &str,
        deadline: Instant,
    ) -> Result<(), ReadError> {
        self.rec.note(self.id, self.is_tls(), summary);
        self.write_all(body, deadline).await
    }

    async fn write_all(&mut self, bytes: &[u8], deadline: Instant) -> Result<(), ReadError> {
        let write = async {
            match &mut self.io {
                Io::Plain(s) => {
                    s.write_all(bytes).await?;
                    s.flush().await
                }
                Io::Tls(s) => {
                    s.write_all(bytes).await?;
                    s.flush().await
                }
            }
        };
        match tokio::time::timeout_at(deadline, write).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(io_error(&e, false)),
            Err(_) => Err(ReadError {
                failure: ReadFailure::Timeout,
                detail: "the server did not take our data in time".into(),
                got_bytes: false,
            }),
        }
    }

    /// Waits until at least one byte has arrived (true), or the deadline passed with none
    /// (false). A closed or failed connection counts as an answer: `read_reply` reports it.
    pub async fn wait_for_bytes(&mut self, deadline: Instant) -> bool {
        if !self.buf.is_empty() || self.eof {
            return true;
        }
        let mut chunk = [0u8; 4096];
        let read = async {
            match &mut self.io {
                Io::Plain(s) => s.read(&mut chunk).await,
                Io::Tls(s) => s.read(&mut chunk).await,
            }
        };
        match tokio::time::timeout_at(deadline, read).await {
            Err(_) => false,
            Ok(Ok(0)) | Ok(Err(_)) => {
                self.eof = true;
                true
            }
            Ok(Ok(n)) => {
                self.first_byte_ms = Some(self.rec.now_ms());
                self.buf.extend_from_slice(&chunk[..n]);
                true
            }
        }
    }

    /// Reads one complete reply before the deadline. Cancel-safe: bytes read stay buffered.
    pub async fn read_reply(&mut self, deadline: Instant) -> Result<Reply, ReadError> {
        loop {
            match self.parser.feed(&mut self.buf) {
                Ok(Parsed::Reply(mut reply, raw)) => {
                    self.rec.received(self.id, self.is_tls(), &raw);
                    // The reply becomes evidence everywhere (steps, findings): scrub it here, once,
                    // so a server echoing a payload back cannot leak it through any of them.
                    for line in &mut reply.lines {
                        *line = self.rec.scrub(line);
                    }
                    return Ok(reply);
                }
                Ok(Parsed::NeedMore) => {}
                Err(e) => {
                    let (failure, detail) = match e {
                        WireError::TooLong(d) => (ReadFailure::TooLong, d),
                        WireError::Malformed(line) => (
                            ReadFailure::Malformed,
                            format!("not an SMTP reply: {}", self.rec.scrub(&line)),
                        ),
                    };
                    self.record_leftover();
                    return Err(ReadError {
                        failure,
                        detail,
                        got_bytes: true,
                    });
                }
            }
            if self.eof {
                return Err(self.closed());
            }
            let mut chunk = [0u8; 4096];
            match &self.io {
                Io::Plain(s) => s.quick_ack(),
                Io::Tls(s) => s.get_ref().0.quick_ack(),
            }
            let read = async {
                match &mut self.io {
                    Io::Plain(s) => s.read(&mut chunk).await,
                    Io::Tls(s) => s.read(&mut chunk).await,
                }
            };
            match tokio::time::timeout_at(deadline, read).await {
                Ok(Ok(0)) => return Err(self.closed()),
                Ok(Ok(n)) => {
                    if self.first_byte_ms.is_none() {
                        self.first_byte_ms = Some(self.rec.now_ms());
                    }
                    self.buf.extend_from_slice(&chunk[..n]);
                }
                Ok(Err(e)) => {
                    let got = self.first_byte_ms.is_some();
                    self.record_leftover();
                    return Err(io_error(&e, got));
                }
                Err(_) => {
                    let got = self.parser.is_partial() || !self.buf.is_empty();
                    self.record_leftover();
                    return Err(ReadError {
                        failure: ReadFailure::Timeout,
                        detail: if got {
                            "the reply did not complete in time".into()
                        } else {
                            "no reply in time".into()
                        },
                        got_bytes: got,
                    });
                }
            }
        }
    }

    /// The error for a connection the server closed, after recording what it sent before.
    fn closed(&mut self) -> ReadError {
        let got_bytes =
            self.parser.is_partial() || !self.buf.is_empty() || self.first_byte_ms.is_some();
        self.record_leftover();
        ReadError {
            failure: ReadFailure::Closed,
            detail: "the server closed the connection".into(),
            got_bytes,
        }
    }

    /// Records what arrived of an incomplete reply, so the transcript shows it.
    fn record_leftover(&mut self) {
        let partial = std::mem::take(&mut self.parser);
        let mut lines: Vec<RawLine> = partial.into_raw();
        if !self.buf.is_empty() {
            let take = self.buf.len().min(crate::wire::MAX_LINE);
            for line in self.buf[..take].split_inclusive(|&b| b == b'\n') {
                let line = line.strip_suffix(b"\n").unwrap_or(line);
                let line = line.strip_suffix(b"\r").unwrap_or(line);
                lines.push(RawLine {
                    bytes: line.to_vec(),
                });
            }
            self.buf.clear();
        }
        self.rec.received(self.id, self.is_tls(), &lines);
    }

    /// Closes the connection without waiting.
    pub async fn close(mut self) {
        let shutdown = async {
            match &mut self.io {
                Io::Plain(s) => s.shutdown().await,
                Io::Tls(s) => s.shutdown().await,
            }
        };
        let _ = tokio::time::timeout(std::time::Duration::from_millis(200), shutdown).await;
    }

    /// Takes the plain transport out for a TLS handshake.
    pub fn into_plain(self) -> Option<(Tap, Arc<Recorder>, u32)> {
        match self.io {
            Io::Plain(tap) => Some((tap, self.rec, self.id)),
            Io::Tls(_) => None,
        }
    }
}

fn io_error(e: &io::Error, got_bytes: bool) -> ReadError {
    let failure = match e.kind() {
        io::ErrorKind::ConnectionReset
        | io::ErrorKind::BrokenPipe
        | io::ErrorKind::ConnectionAborted => ReadFailure::Reset,
        io::ErrorKind::UnexpectedEof => ReadFailure::Closed,
        io::ErrorKind::InvalidData => ReadFailure::Malformed,
        _ => ReadFailure::Reset,
    };
    ReadError {
        failure,
        detail: e.to_string(),
        got_bytes,
    }
}
