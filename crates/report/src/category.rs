//! The root-cause categories: a public, stable interface (docs/categories.md).

use serde::{Deserialize, Serialize};
use std::fmt;

/// One root cause. The serialised names never change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
#[allow(missing_docs)] // each variant is described in docs/categories.md and by `describe`
pub enum Category {
    NetworkUnreachable,
    Dns,
    ConnectionRefused,
    TimeoutOrBlockedPort,
    TlsMismatch,
    TlsCertificate,
    AuthRequired,
    AuthFailed,
    AuthMechanism,
    AuthDisabledByProvider,
    RelayDenied,
    SenderRejected,
    RecipientUnknown,
    MailboxFull,
    MailboxDisabled,
    GreylistingOrRateLimit,
    ServerUnavailable,
    SpamOrPolicyBlock,
    BlacklistedIp,
    SenderAuthFailure,
    MessageTooLarge,
    SyntaxProtocol,
    ContentRejected,
    Other,
}

impl Category {
    /// Every category, in the documented order.
    pub const ALL: [Category; 24] = [
        Category::NetworkUnreachable,
        Category::Dns,
        Category::ConnectionRefused,
        Category::TimeoutOrBlockedPort,
        Category::TlsMismatch,
        Category::TlsCertificate,
        Category::AuthRequired,
        Category::AuthFailed,
        Category::AuthMechanism,
        Category::AuthDisabledByProvider,
        Category::RelayDenied,
        Category::SenderRejected,
        Category::RecipientUnknown,
        Category::MailboxFull,
        Category::MailboxDisabled,
        Category::GreylistingOrRateLimit,
        Category::ServerUnavailable,
        Category::SpamOrPolicyBlock,
        Category::BlacklistedIp,
        Category::SenderAuthFailure,
        Category::MessageTooLarge,
        Category::SyntaxProtocol,
        Category::ContentRejected,
        Category::Other,
    ];

    /// The stable serialised name, e.g. `tls_mismatch`.
    pub fn name(self) -> &'static str {
        match self {
            Category::NetworkUnreachable => "network_unreachable",
            Category::Dns => "dns",
            Category::ConnectionRefused => "connection_refused",
            Category::TimeoutOrBlockedPort => "timeout_or_blocked_port",
            Category::TlsMismatch => "tls_mismatch",
            Category::TlsCertificate => "tls_certificate",
            Category::AuthRequired => "auth_required",
            Category::AuthFailed => "auth_failed",
            Category::AuthMechanism => "auth_mechanism",
            Category::AuthDisabledByProvider => "auth_disabled_by_provider",
            Category::RelayDenied => "relay_denied",
            Category::SenderRejected => "sender_rejected",
            Category::RecipientUnknown => "recipient_unknown",
            Category::MailboxFull => "mailbox_full",
            Category::MailboxDisabled => "mailbox_disabled",
            Category::GreylistingOrRateLimit => "greylisting_or_rate_limit",
            Category::ServerUnavailable => "server_unavailable",
            Category::SpamOrPolicyBlock => "spam_or_policy_block",
            Category::BlacklistedIp => "blacklisted_ip",
            Category::SenderAuthFailure => "sender_auth_failure",
            Category::MessageTooLarge => "message_too_large",
            Category::SyntaxProtocol => "syntax_protocol",
            Category::ContentRejected => "content_rejected",
            Category::Other => "other",
        }
    }

    /// The cause in one line, for people.
    pub fn describe(self) -> &'static str {
        match self {
            Category::NetworkUnreachable => "no route to the server at all",
            Category::Dns => "the name does not resolve, or resolves wrongly",
            Category::ConnectionRefused => {
                "nothing listens there, or a firewall rejects the connection"
            }
            Category::TimeoutOrBlockedPort => {
                "packets vanish: a firewall or the ISP drops the port, or the server is gone"
            }
            Category::TlsMismatch => {
                "client and server disagree on how TLS starts (implicit TLS, STARTTLS or none)"
            }
            Category::TlsCertificate => "the server's certificate cannot be trusted",
            Category::AuthRequired => "the server wants authentication that was not sent",
            Category::AuthFailed => "the credentials were sent and refused",
            Category::AuthMechanism => "no authentication mechanism in common",
            Category::AuthDisabledByProvider => {
                "the provider forbids this kind of login for this account"
            }
            Category::RelayDenied => "the server will not relay to this recipient for this client",
            Category::SenderRejected => "the sender address or domain is refused",
            Category::RecipientUnknown => "the recipient mailbox or domain does not exist",
            Category::MailboxFull => "the recipient's mailbox is over quota",
            Category::MailboxDisabled => {
                "the recipient exists but is disabled or not accepting mail"
            }
            Category::GreylistingOrRateLimit => "a temporary refusal to slow the sender down",
            Category::ServerUnavailable => "the server is overloaded, in maintenance or broken",
            Category::SpamOrPolicyBlock => {
                "the receiver's policy or filter refuses the client or message"
            }
            Category::BlacklistedIp => "the client IP or domain is on a blocklist",
            Category::SenderAuthFailure => "SPF, DKIM or DMARC of the sending domain fails",
            Category::MessageTooLarge => "the message exceeds the server's size limit",
            Category::SyntaxProtocol => "the client broke the SMTP protocol",
            Category::ContentRejected => "the content itself is refused",
            Category::Other => "none of the known causes",
        }
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Whether the same attempt, unchanged, may succeed later.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Retry {
    /// It may succeed later without anyone fixing anything.
    Temporary,
    /// Something must change first.
    Permanent,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_serde_and_are_unique() {
        let mut seen = std::collections::HashSet::new();
        for c in Category::ALL {
            let json = serde_json::to_string(&c).unwrap();
            assert_eq!(json, format!("\"{}\"", c.name()));
            assert!(seen.insert(c.name()));
            assert!(!c.describe().is_empty());
        }
    }
}
