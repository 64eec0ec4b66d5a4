//! Secrets and their redaction: passwords and tokens never reach any output.
//!
//! A [`Secret`] cannot be printed, serialised or debugged into view. The [`Redactor`] knows every
//! form a secret can take on the wire — the plain text, each base64 alignment of it (an AUTH
//! payload puts it at any byte offset), and the exact payloads and CRAM-MD5 responses sent — and
//! scrubs them from every line before it is recorded, including lines a server echoes back.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use zeroize::Zeroizing;

/// What replaces a secret in any output.
pub const REDACTED: &str = "[redacted]";

/// A password or token. Its contents are only reachable through [`Secret::expose`].
#[derive(Clone)]
pub struct Secret(Zeroizing<String>);

impl Secret {
    /// Wraps a secret, dropping one trailing newline (as read from a file or prompt).
    pub fn new(mut value: String) -> Self {
        if value.ends_with('\n') {
            value.pop();
            if value.ends_with('\r') {
                value.pop();
            }
        }
        Secret(Zeroizing::new(value))
    }

    /// The secret itself, for building AUTH payloads only.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether it is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

/// The shortest piece of a base64 alignment worth scrubbing: shorter runs would hit innocent text.
const MIN_PATTERN: usize = 4;

/// Scrubs every known form of the run's secrets from text.
#[derive(Default, Clone)]
pub struct Redactor {
    patterns: Vec<Zeroizing<String>>,
}

impl std::fmt::Debug for Redactor {
    // The patterns are the secrets themselves: show how many, never what.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Redactor({} patterns)", self.patterns.len())
    }
}

impl Redactor {
    /// Adds a secret: its plain form and the base64 characters it determines at each alignment.
    pub fn add_secret(&mut self, secret: &Secret) {
        let bytes = secret.expose().as_bytes();
        if bytes.is_empty() {
            return;
        }
        self.add_pattern(secret.expose().to_string(), 1);
        for core in base64_cores(bytes) {
            self.add_pattern(core, MIN_PATTERN);
        }
    }

    /// Adds a derived value that must not appear either (an AUTH payload as sent, a CRAM-MD5
    /// response and its digest).
    pub fn add_derived(&mut self, value: String) {
        self.add_pattern(value, MIN_PATTERN);
    }

    fn add_pattern(&mut self, value: String, min: usize) {
        if value.len() >= min && !self.patterns.iter().any(|p| **p == value) {
            self.patterns.push(Zeroizing::new(value));
            // Longest first, so a payload is replaced whole rather than around its core.
            self.patterns.sort_by_key(|p| std::cmp::Reverse(p.len()));
        }
    }

    /// Returns the text with every secret form replaced, and whether anything was.
    pub fn scrub(&self, text: &str) -> (String, bool) {
        let mut out = text.to_string();
        let mut hit = false;
        for pattern in &self.patterns {
            if out.contains(pattern.as_str()) {
                out = out.replace(pattern.as_str(), REDACTED);
                hit = true;
            }
        }
        (out, hit)
    }

    /// Whether any secret form occurs in raw bytes.
    pub fn occurs_in(&self, bytes: &[u8]) -> bool {
        self.patterns.iter().any(|p| contains(bytes, p.as_bytes()))
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

/// For each of the three byte alignments, the base64 characters whose six bits come only from the
/// secret: whatever surrounds the secret in a payload, these characters appear in its encoding.
pub fn base64_cores(secret: &[u8]) -> Vec<String> {
    (0..3usize)
        .map(|offset| {
            let mut buf = vec![0u8; offset];
            buf.extend_from_slice(secret);
            buf.extend_from_slice(&[0, 0, 0]);
            let encoded = STANDARD.encode(&buf);
            let first = (8 * offset).div_ceil(6);
            let end_bits = 8 * (offset + secret.len());
            let last = end_bits / 6; // exclusive: char i is inside when 6i + 6 <= end_bits
            if last > first {
                encoded[first..last].to_string()
            } else {
                String::new()
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scrubs_plain_and_every_alignment() {
        let secret = Secret::new("Hunter-2-Correct-Horse\n".into());
        assert_eq!(secret.expose(), "Hunter-2-Correct-Horse");
        assert_eq!(format!("{secret:?}"), "Secret([redacted])");
        let mut r = Redactor::default();
        r.add_secret(&secret);
        for prefix in ["", "\0", "\0u\0", "user=me\x01auth=Bearer ", "ab"] {
            let payload = format!("{prefix}{}\x01\x01", secret.expose());
            let b64 = STANDARD.encode(payload);
            let (scrubbed, hit) = r.scrub(&format!("535 5.7.8 {b64} rejected"));
            assert!(hit, "{prefix:?}");
            assert!(!scrubbed.contains(&b64));
            for core in base64_cores(secret.expose().as_bytes()) {
                assert!(!scrubbed.contains(&core));
            }
        }
        let (scrubbed, _) = r.scrub("echo Hunter-2-Correct-Horse");
        assert_eq!(scrubbed, "echo [redacted]");
    }

    #[test]
    fn leaves_innocent_text_alone() {
        let mut r = Redactor::default();
        r.add_secret(&Secret::new("Hunter-2-Correct-Horse".into()));
        assert_eq!(r.scrub("250 2.0.0 Ok"), ("250 2.0.0 Ok".to_string(), false));
    }
}
