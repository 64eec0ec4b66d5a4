//! The recorder: builds the transcript as bytes cross the wire, redacting as it goes.

use crate::redact::Redactor;
use crate::wire::RawLine;
use base64::Engine;
use smtpdoctor_report::{Direction, Entry, Transcript};
use std::sync::Mutex;
use std::time::Instant;

/// The longest text kept for one transcript line; the rest is summarised.
const MAX_RECORDED: usize = 2048;

/// Shared by every connection of a run.
#[derive(Debug)]
pub struct Recorder {
    start: Instant,
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    transcript: Transcript,
    redactor: Redactor,
    next_conn: u32,
}

impl Recorder {
    /// Starts the clock.
    pub fn new(redactor: Redactor) -> Self {
        Recorder {
            start: Instant::now(),
            inner: Mutex::new(Inner {
                redactor,
                ..Default::default()
            }),
        }
    }

    /// Milliseconds since the run started.
    pub fn now_ms(&self) -> u64 {
        self.start.elapsed().as_millis() as u64
    }

    /// A new connection number.
    pub fn next_conn(&self) -> u32 {
        let mut inner = self.lock();
        inner.next_conn += 1;
        inner.next_conn
    }

    /// Adds a derived secret form (payload, CRAM-MD5 response) to scrub from now on.
    pub fn add_derived_secret(&self, value: String) {
        self.lock().redactor.add_derived(value);
    }

    /// Records one line (without CRLF) sent or received.
    pub fn line(&self, conn: u32, dir: Direction, tls: bool, bytes: &[u8]) {
        let t_ms = self.now_ms();
        let mut inner = self.lock();
        let (text, bytes_b64) = match std::str::from_utf8(bytes) {
            Ok(text) => (text.to_string(), None),
            Err(_) => (
                String::from_utf8_lossy(bytes).into_owned(),
                (!inner.redactor.occurs_in(bytes)).then(|| {
                    base64::engine::general_purpose::STANDARD
                        .encode(&bytes[..bytes.len().min(MAX_RECORDED)])
                }),
            ),
        };
        let (mut text, redacted) = inner.redactor.scrub(&text);
        if text.len() > MAX_RECORDED {
            let mut cut = MAX_RECORDED;
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            let total = text.len();
            text.truncate(cut);
            text.push_str(&format!(" … [{total} bytes in all]"));
        }
        log::trace!(
            "conn {conn} {dir:?}{} {text}",
            if tls { " tls" } else { "" }
        );
        inner.transcript.entries.push(Entry {
            t_ms,
            conn,
            dir,
            tls,
            text,
            bytes_b64,
            redacted,
        });
    }

    /// Records a line the caller has already redacted (an AUTH command), marked as redacted.
    pub fn sent_redacted(&self, conn: u32, tls: bool, shown: &str) {
        let t_ms = self.now_ms();
        log::trace!("conn {conn} Sent{} {shown}", if tls { " tls" } else { "" });
        self.lock().transcript.entries.push(Entry {
            t_ms,
            conn,
            dir: Direction::Sent,
            tls,
            text: shown.to_string(),
            bytes_b64: None,
            redacted: true,
        });
    }

    /// Records received lines.
    pub fn received(&self, conn: u32, tls: bool, lines: &[RawLine]) {
        for line in lines {
            self.line(conn, Direction::Received, tls, &line.bytes);
        }
    }

    /// Records smtpdoctor's own note about a connection.
    pub fn note(&self, conn: u32, tls: bool, text: impl AsRef<str>) {
        self.line(conn, Direction::Note, tls, text.as_ref().as_bytes());
    }

    /// Scrubs a text that is not a transcript line (an error message quoting the server).
    pub fn scrub(&self, text: &str) -> String {
        self.lock().redactor.scrub(text).0
    }

    /// The transcript so far.
    pub fn transcript(&self) -> Transcript {
        self.lock().transcript.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves plain data behind; keep going with it.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}
