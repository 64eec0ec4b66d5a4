//! Provider presets for `setup`: the submission settings and account policy of large mail
//! providers and sending services, as reviewed data (`data/presets.toml`), each entry with the
//! page it comes from, the day it was read and the sentence it relies on.
//!
//! An address is matched by its domain (the provider hosts it), a custom domain by its MX hosts
//! (a Google Workspace domain has Google's MX) or by its SPF includes (a domain that sends
//! through SendGrid includes `sendgrid.net`). Only the first is the provider's own word about the
//! address; the other two are inferences, and `setup` treats them so.

/// What sort of service a preset describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// People's mail accounts.
    Mailbox,
    /// A transactional or bulk sending service.
    Relay,
    /// A local bridge application (Proton Mail Bridge).
    Bridge,
}

/// What must be true of the account before SMTP AUTH can work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    /// The account's own password.
    Password,
    /// An app password (usually once two-step verification is on).
    AppPassword,
    /// OAuth 2 only: passwords are refused.
    OauthOnly,
    /// SMTP AUTH is switched off until an administrator or the user turns it on.
    AuthDisabledByDefault,
    /// An API key is the password.
    ApiKey,
    /// The bridge application's own generated password.
    BridgePassword,
    /// Generated SMTP credentials (Amazon SES style), not the console login.
    SmtpCredentials,
}

impl Policy {
    /// The name used in the data and in JSON.
    pub fn name(self) -> &'static str {
        match self {
            Policy::Password => "password",
            Policy::AppPassword => "app_password",
            Policy::OauthOnly => "oauth_only",
            Policy::AuthDisabledByDefault => "auth_disabled_by_default",
            Policy::ApiKey => "api_key",
            Policy::BridgePassword => "bridge_password",
            Policy::SmtpCredentials => "smtp_credentials",
        }
    }
}

/// How TLS starts on a preset's server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    /// TLS from the first byte ("SSL/TLS").
    Implicit,
    /// A plain greeting, then STARTTLS.
    Starttls,
}

/// One submission server of a provider.
#[derive(Debug)]
pub struct Server {
    /// Host name; may hold `{region}` (then the provider lists its regions).
    pub host: &'static str,
    /// Port.
    pub port: u16,
    /// How TLS starts.
    pub security: Security,
    /// SASL mechanisms the provider documents (may be empty).
    pub auth: &'static [&'static str],
    /// A remark, e.g. "relay for Workspace only".
    pub note: &'static str,
    /// A server for only some of the provider's accounts (Google's Workspace relay, Zoho's
    /// server for paid organisations): `setup` tests it but never sends it the password, which
    /// goes to the main servers only (a consumer password there could only fail, and every
    /// failure counts against the account).
    pub alternative: bool,
}

/// Where a preset's facts come from.
#[derive(Debug)]
pub struct Source {
    /// The page (https).
    pub url: &'static str,
    /// The day it was read (YYYY-MM-DD).
    pub checked: &'static str,
    /// The sentence(s) relied on, verbatim (shortened with " ... ").
    pub quote: &'static str,
    /// Which facts it backs: server, policy, username, auth, domains, mx.
    pub covers: &'static [&'static str],
}

/// One provider or sending service.
#[derive(Debug)]
pub struct Provider {
    /// Stable id (`[a-z0-9_]`).
    pub id: &'static str,
    /// As users call it.
    pub name: &'static str,
    /// Mailbox, relay or bridge.
    pub kind: Kind,
    /// Address domains the provider hosts itself.
    pub domains: &'static [&'static str],
    /// MX host suffixes (leading dot) that show a custom domain uses the provider.
    pub mx_suffixes: &'static [&'static str],
    /// SPF include domains that show a domain sends through the service.
    pub spf_includes: &'static [&'static str],
    /// The account policy.
    pub policy: Policy,
    /// The policy in a sentence.
    pub policy_note: &'static str,
    /// The login name: a Thunderbird placeholder (`%EMAILADDRESS%`) or a literal.
    pub username: &'static str,
    /// Regions, when a host holds `{region}`.
    pub regions: &'static [&'static str],
    /// Submission servers, most recommended first.
    pub servers: &'static [Server],
    /// Where the facts come from.
    pub sources: &'static [Source],
}

include!(concat!(env!("OUT_DIR"), "/presets.rs"));

fn lower(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

/// The provider that hosts addresses at `domain` itself (`gmail.com`).
pub fn for_domain(domain: &str) -> Option<&'static Provider> {
    let domain = lower(domain);
    PROVIDERS
        .iter()
        .find(|p| p.domains.iter().any(|d| *d == domain))
}

/// The providers whose MX hosts end like `mx_host` (`aspmx.l.google.com` → Google), in file
/// order: one MX can stand for more than one offer (Proton's bridge and its SMTP submission).
pub fn for_mx(mx_host: &str) -> Vec<&'static Provider> {
    let host = lower(mx_host);
    PROVIDERS
        .iter()
        .filter(|p| {
            p.mx_suffixes.iter().any(|s| {
                let bare = s.trim_start_matches('.');
                host == bare || host.ends_with(&format!(".{bare}"))
            })
        })
        .collect()
}

/// The services an SPF `include:` names (`sendgrid.net` → SendGrid), in file order.
pub fn for_spf_include(include: &str) -> Vec<&'static Provider> {
    let include = lower(include);
    PROVIDERS
        .iter()
        .filter(|p| p.spf_includes.iter().any(|s| *s == include))
        .collect()
}

/// Whether `host` is one of `provider`'s alternative servers (see [`Server::alternative`]).
pub fn is_alternative(provider: &str, host: &str) -> bool {
    let host = lower(host);
    PROVIDERS.iter().filter(|p| p.id == provider).any(|p| {
        p.servers
            .iter()
            .any(|s| s.alternative && s.host.eq_ignore_ascii_case(&host))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    const COVERS: [&str; 6] = ["server", "policy", "username", "auth", "domains", "mx"];
    const MECHANISMS: [&str; 8] = [
        "PLAIN",
        "LOGIN",
        "CRAM-MD5",
        "XOAUTH2",
        "OAUTHBEARER",
        "NTLM",
        "GSSAPI",
        "DIGEST-MD5",
    ];

    fn is_date(s: &str) -> bool {
        let b = s.as_bytes();
        b.len() == 10
            && b[4] == b'-'
            && b[7] == b'-'
            && s.chars()
                .enumerate()
                .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
            && (1..=12).contains(&s[5..7].parse::<u8>().unwrap_or(0))
            && (1..=31).contains(&s[8..10].parse::<u8>().unwrap_or(0))
            && s[..4].parse::<u16>().unwrap_or(0) >= 2020
    }

    fn is_host(s: &str) -> bool {
        !s.is_empty()
            && s == s.to_ascii_lowercase()
            && s.split('.').count() >= 2
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.{}".contains(c))
    }

    #[test]
    fn every_entry_is_well_formed_and_sourced() {
        assert!(!PROVIDERS.is_empty());
        let mut ids = HashSet::new();
        for p in PROVIDERS {
            let at = format!("provider {}", p.id);
            assert!(ids.insert(p.id), "{at}: duplicate id");
            assert!(
                !p.id.is_empty()
                    && p.id
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'),
                "{at}: id must be [a-z0-9_]"
            );
            assert!(!p.name.trim().is_empty(), "{at}: no name");
            assert!(!p.username.trim().is_empty(), "{at}: no username");
            for d in p.domains.iter().chain(p.spf_includes) {
                assert!(
                    is_host(d) && !d.contains('{'),
                    "{at}: domain {d:?} must be a lower-case name"
                );
            }
            for s in p.mx_suffixes {
                assert!(
                    s.starts_with('.') && is_host(&s[1..]),
                    "{at}: MX suffix {s:?} must be a lower-case name after a dot"
                );
            }
            assert!(!p.servers.is_empty(), "{at}: no server");
            for s in p.servers {
                assert!(
                    is_host(s.host),
                    "{at}: host {:?} must be a lower-case name",
                    s.host
                );
                assert!(s.port > 0, "{at}: port 0");
                if s.host.contains('{') {
                    assert!(
                        s.host
                            .replace("{region}", "r")
                            .chars()
                            .all(|c| c != '{' && c != '}')
                            && !p.regions.is_empty(),
                        "{at}: {{region}} is the only placeholder, and needs regions"
                    );
                }
                for m in s.auth {
                    assert!(MECHANISMS.contains(m), "{at}: unknown mechanism {m}");
                }
            }
            assert!(!p.sources.is_empty(), "{at}: no source");
            let mut covered = HashSet::new();
            for s in p.sources {
                assert!(
                    s.url.starts_with("https://") && s.url.len() > "https://x.y".len(),
                    "{at}: source {} must be an https URL",
                    s.url
                );
                assert!(
                    is_date(s.checked),
                    "{at}: checked {:?} is no date",
                    s.checked
                );
                assert!(!s.quote.trim().is_empty(), "{at}: empty quote");
                assert!(s.quote.len() <= 600, "{at}: quote too long");
                assert!(!s.covers.is_empty(), "{at}: the source covers nothing");
                for c in s.covers {
                    assert!(COVERS.contains(c), "{at}: unknown fact {c}");
                    covered.insert(*c);
                }
            }
            assert!(
                covered.contains("server"),
                "{at}: no source backs the servers"
            );
        }
    }

    /// An address domain names one provider only (an MX suffix or SPF include may name
    /// several offers of one company, e.g. Proton's bridge and its SMTP submission).
    #[test]
    fn address_domains_are_unique() {
        let mut seen = std::collections::HashMap::new();
        for p in PROVIDERS {
            for d in p.domains {
                if let Some(other) = seen.insert(*d, p.id) {
                    panic!("domain {d} is in {other} and {}", p.id);
                }
            }
        }
    }

    #[test]
    fn look_ups_by_domain_mx_and_spf() {
        assert_eq!(for_domain("GMail.com.").map(|p| p.id), Some("gmail"));
        let ids = |v: Vec<&Provider>| v.iter().map(|p| p.id).collect::<Vec<_>>();
        assert_eq!(ids(for_mx("aspmx.l.google.com.")), ["gmail"]);
        assert!(for_mx("notgoogle.com").is_empty());
        assert_eq!(ids(for_spf_include("sendgrid.net")), ["sendgrid"]);
        assert_eq!(
            ids(for_mx("mail.protonmail.ch")),
            ["proton_bridge", "proton_smtp"]
        );
        assert!(for_domain("example.test").is_none());
    }
}
