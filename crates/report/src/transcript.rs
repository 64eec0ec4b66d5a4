//! The transcript: every line sent and received, in order, with time, connection and TLS state.
//!
//! It is the spine of every networked command. Secrets never enter it: the session layer redacts
//! before it records (see `smtpdoctor_session::redact`), so no renderer can leak them.

use serde::{Deserialize, Serialize};

/// Who produced a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// smtpdoctor sent it.
    Sent,
    /// The server sent it.
    Received,
    /// smtpdoctor's own note about the connection (connect, TLS handshake, close).
    Note,
}

/// One line of the dialogue.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Entry {
    /// Milliseconds since the run started.
    pub t_ms: u64,
    /// Which connection of the run (1-based).
    pub conn: u32,
    /// Who produced it.
    pub dir: Direction,
    /// Whether the line travelled inside TLS.
    pub tls: bool,
    /// The line without its CRLF; invalid UTF-8 replaced (see `bytes_b64`).
    pub text: String,
    /// The raw bytes, base64, when they are not valid UTF-8.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub bytes_b64: Option<String>,
    /// Whether part of the line was replaced because it carried a secret.
    #[serde(skip_serializing_if = "std::ops::Not::not", default)]
    pub redacted: bool,
}

/// All lines of a run.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Transcript {
    /// In the order they happened.
    pub entries: Vec<Entry>,
}

impl Transcript {
    /// Counts round trips: each switch from sending to receiving on a connection is one wait for
    /// the peer. TLS handshakes are counted from their notes by the session layer, not here.
    pub fn round_trips(&self) -> usize {
        let mut trips = 0;
        let mut last_sent: std::collections::HashMap<u32, bool> = Default::default();
        for entry in &self.entries {
            match entry.dir {
                Direction::Sent => {
                    last_sent.insert(entry.conn, true);
                }
                Direction::Received => {
                    if last_sent.insert(entry.conn, false) == Some(true) {
                        trips += 1;
                    }
                }
                Direction::Note => {}
            }
        }
        trips
    }
}
