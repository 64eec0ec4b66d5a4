//! Exit codes shared by every command (docs/exit-codes.md).

use crate::{Category, Status};

/// A process exit code with a documented meaning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum ExitCode {
    /// Nothing blocking was found.
    Ok = 0,
    /// A problem outside the classes below.
    Problem = 1,
    /// Bad option, unreadable file, malformed argument.
    Usage = 2,
    /// A bug in smtpdoctor.
    Internal = 3,
    /// Network or DNS.
    Network = 10,
    /// TLS mode or certificate.
    Tls = 11,
    /// Authentication.
    Auth = 12,
    /// Envelope or policy.
    Policy = 13,
    /// Server busy or unavailable.
    Busy = 14,
    /// The run could not decide.
    Inconclusive = 15,
}

impl ExitCode {
    /// The exit code for a verdict.
    pub fn for_verdict(status: Status, category: Option<Category>) -> ExitCode {
        match status {
            Status::Ok => ExitCode::Ok,
            Status::Inconclusive => ExitCode::Inconclusive,
            Status::Problem => category.map_or(ExitCode::Problem, ExitCode::for_category),
        }
    }

    /// The class of a category.
    pub fn for_category(category: Category) -> ExitCode {
        use Category::*;
        match category {
            NetworkUnreachable | Dns | ConnectionRefused | TimeoutOrBlockedPort => {
                ExitCode::Network
            }
            TlsMismatch | TlsCertificate => ExitCode::Tls,
            AuthRequired | AuthFailed | AuthMechanism | AuthDisabledByProvider => ExitCode::Auth,
            RelayDenied | SenderRejected | RecipientUnknown | MailboxFull | MailboxDisabled
            | SpamOrPolicyBlock | BlacklistedIp | SenderAuthFailure | MessageTooLarge
            | SyntaxProtocol | ContentRejected => ExitCode::Policy,
            GreylistingOrRateLimit | ServerUnavailable => ExitCode::Busy,
            Other => ExitCode::Problem,
        }
    }

    /// The numeric code.
    pub fn code(self) -> u8 {
        self as u8
    }
}
