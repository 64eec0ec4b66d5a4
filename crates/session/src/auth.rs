//! SASL payloads for SMTP AUTH: PLAIN, LOGIN, CRAM-MD5, XOAUTH2 and OAUTHBEARER.
//!
//! Every payload is built here and nowhere else, so every derived secret can be handed to the
//! redactor before the payload leaves the process.

use crate::redact::Secret;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use zeroize::Zeroizing;

/// What the user proves their identity with.
#[derive(Debug, Clone)]
pub enum Credential {
    /// A password (PLAIN, LOGIN, CRAM-MD5).
    Password(Secret),
    /// An OAuth 2 access token (XOAUTH2, OAUTHBEARER).
    Token(Secret),
}

impl Credential {
    /// The secret inside.
    pub fn secret(&self) -> &Secret {
        match self {
            Credential::Password(s) | Credential::Token(s) => s,
        }
    }

    /// The mechanisms this credential can use, best first.
    pub fn mechanisms(&self) -> &'static [&'static str] {
        match self {
            Credential::Password(_) => &["PLAIN", "LOGIN", "CRAM-MD5"],
            Credential::Token(_) => &["XOAUTH2", "OAUTHBEARER"],
        }
    }
}

/// Every mechanism smtpdoctor speaks.
pub const SUPPORTED: [&str; 5] = ["PLAIN", "LOGIN", "CRAM-MD5", "XOAUTH2", "OAUTHBEARER"];

/// Base64 of bytes, kept in zeroising memory.
pub fn b64(bytes: &[u8]) -> Zeroizing<String> {
    Zeroizing::new(STANDARD.encode(bytes))
}

/// `\0user\0password`.
pub fn plain(user: &str, password: &Secret) -> Zeroizing<String> {
    let raw = Zeroizing::new(format!("\0{user}\0{}", password.expose()));
    b64(raw.as_bytes())
}

/// `user=U^Aauth=Bearer T^A^A` (Google and Microsoft's XOAUTH2).
pub fn xoauth2(user: &str, token: &Secret) -> Zeroizing<String> {
    let raw = Zeroizing::new(format!(
        "user={user}\x01auth=Bearer {}\x01\x01",
        token.expose()
    ));
    b64(raw.as_bytes())
}

/// RFC 7628 OAUTHBEARER initial response.
pub fn oauthbearer(user: &str, host: &str, port: u16, token: &Secret) -> Zeroizing<String> {
    let user = user.replace('=', "=3D").replace(',', "=2C");
    let raw = Zeroizing::new(format!(
        "n,a={user},\x01host={host}\x01port={port}\x01auth=Bearer {}\x01\x01",
        token.expose()
    ));
    b64(raw.as_bytes())
}

/// The CRAM-MD5 answer to a base64 challenge: base64 of `user hex(HMAC-MD5(password, challenge))`,
/// and the hex digest alone (both must be redacted). None when the challenge is not base64.
pub fn cram_md5(
    user: &str,
    password: &Secret,
    challenge_b64: &str,
) -> Option<(Zeroizing<String>, Zeroizing<String>)> {
    let challenge = STANDARD.decode(challenge_b64.trim()).ok()?;
    let mut mac = Hmac::<md5::Md5>::new_from_slice(password.expose().as_bytes()).ok()?;
    mac.update(&challenge);
    let digest: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let digest = Zeroizing::new(digest);
    let answer = Zeroizing::new(format!("{user} {}", digest.as_str()));
    Some((b64(answer.as_bytes()), digest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc2195_example() {
        // RFC 2195 section 2: tim / tanstaaftanstaaf.
        let (answer, digest) = cram_md5(
            "tim",
            &Secret::new("tanstaaftanstaaf".into()),
            "PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+",
        )
        .unwrap();
        assert_eq!(digest.as_str(), "b913a602c7eda7a495b4e6e7334d3890");
        assert_eq!(
            answer.as_str(),
            "dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw"
        );
    }

    #[test]
    fn plain_payload() {
        assert_eq!(
            plain("u", &Secret::new("p".into())).as_str(),
            STANDARD.encode("\0u\0p")
        );
    }
}
