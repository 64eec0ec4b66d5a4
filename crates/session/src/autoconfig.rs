//! The autoconfig file of Thunderbird (config-v1.1.xml): fetched the way Thunderbird fetches it
//! (`https://autoconfig.DOMAIN/mail/config-v1.1.xml?emailaddress=ADDRESS`, then
//! `https://DOMAIN/.well-known/autoconfig/mail/config-v1.1.xml`, the plain-HTTP forms only when
//! both found nothing) and parsed in full. Plain HTTP is reported as what it is: anyone on the
//! path could have written it, so its settings are shown for information and never trusted
//! with a password. The same fetch and parser serve Thunderbird's ISP database and its "forMX"
//! step (the autoconfig file of the MX's domain).

use crate::http;
use crate::target::Resolution;
use crate::tls::Trust;
pub use smtpdoctor_records::autoconfig::{host_name, mail_domain, on_domain, parse, settings};
use smtpdoctor_records::psl::PublicSuffixList;
use smtpdoctor_report::setup::{FetchEvidence, SourceKind, SourceReport, SourceStatus};
use std::time::Duration;

/// Autoconfig files are a few kilobytes; anything much larger is not one.
const MAX_FILE: usize = 256 * 1024;
/// Redirects followed on the same domain.
const MAX_REDIRECTS: usize = 3;

/// Fetches the domain's autoconfig file, in Thunderbird's order of preference: the two HTTPS
/// addresses at once, then, only when neither gave a file, the two plain-HTTP ones at once. The
/// first usable file in that order wins; a later one is reported as not used. Each address,
/// redirects included, gets `timeout` in all, so the whole look-up takes at most twice that.
pub async fn lookup(
    domain: &str,
    address: &str,
    how: &Resolution,
    trust: &Trust,
    timeout: Duration,
) -> Vec<SourceReport> {
    let query = format!("?emailaddress={}", percent_encode(address));
    let autoconfig_host = format!("autoconfig.{domain}");
    let first_path = format!("/mail/config-v1.1.xml{query}");
    let second_path = "/.well-known/autoconfig/mail/config-v1.1.xml";
    let mut out: Vec<SourceReport> = Vec::new();
    for https in [true, false] {
        let found_before = out.iter().any(|s| s.status == SourceStatus::Found);
        if found_before {
            for (host, path) in [
                (autoconfig_host.as_str(), first_path.as_str()),
                (domain, second_path),
            ] {
                out.push(skipped(
                    https,
                    url(https, host, path),
                    "not asked: plain HTTP is tried only when HTTPS finds nothing",
                ));
            }
            continue;
        }
        let (a, mut b) = tokio::join!(
            fetch_one(
                domain,
                address,
                &autoconfig_host,
                &first_path,
                https,
                how,
                trust,
                timeout
            ),
            fetch_one(
                domain,
                address,
                domain,
                second_path,
                https,
                how,
                trust,
                timeout
            ),
        );
        if a.status == SourceStatus::Found && b.status == SourceStatus::Found {
            b = skipped(
                https,
                b.query,
                "not used: the file at the first address wins",
            );
        }
        out.push(a);
        out.push(b);
    }
    out
}

/// Thunderbird's ISP database: `BASE` + domain, over verified HTTPS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ispdb {
    /// The server's host name.
    pub host: String,
    /// The path the domain is appended to (ends in `/`).
    pub path: String,
}

impl Ispdb {
    /// Where Thunderbird asks (its `mailnews.auto_config_url`).
    pub const DEFAULT: &str = "https://live.thunderbird.net/autoconfig/v1.1/";

    /// Reads `https://HOST/PATH/`: HTTPS only (the database's answers may carry the password),
    /// and on the default port (the fetch knows no other; `--connect-to` redirects it).
    pub fn parse(url: &str) -> Result<Ispdb, String> {
        let Some(rest) = url.strip_prefix("https://") else {
            return Err(format!("--ispdb {url}: give an https:// address"));
        };
        let (host, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        if host.is_empty()
            || !host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-.".contains(c))
        {
            return Err(format!(
                "--ispdb {url}: give https://HOST/PATH/ (a host name, no port, no user)"
            ));
        }
        if path.contains(['?', '#']) {
            return Err(format!("--ispdb {url}: no query or fragment, please"));
        }
        let mut path = path.to_string();
        if !path.ends_with('/') {
            path.push('/');
        }
        Ok(Ispdb {
            host: host.to_ascii_lowercase(),
            path,
        })
    }
}

/// Asks the ISP database about `domain`. The address itself is not sent (Thunderbird sends only
/// the domain). `scope`: for the MX's domain, the domain whose hosts it is trusted for.
pub async fn ispdb(
    base: &Ispdb,
    domain: &str,
    address: &str,
    scope: Option<&str>,
    how: &Resolution,
    trust: &Trust,
    timeout: Duration,
) -> SourceReport {
    let path = format!("{}{}", base.path, percent_encode(domain));
    let what = Fetch {
        kind: if scope.is_some() {
            SourceKind::IspdbMx
        } else {
            SourceKind::Ispdb
        },
        redirect_scope: &base.host,
        host: &base.host,
        path: &path,
        https: true,
    };
    let mut report = fetch(&what, address, how, trust, timeout).await;
    report.scope = scope.map(String::from);
    report
}

/// Thunderbird's "forMX" autoconfig step for one of the MX's domains: only
/// `https://autoconfig.DOMAIN/mail/config-v1.1.xml` (no plain HTTP, no `.well-known`), and
/// without the address in the query: the MX's operator may be a third party.
pub async fn for_mx(
    mx_domain: &str,
    address: &str,
    how: &Resolution,
    trust: &Trust,
    timeout: Duration,
) -> SourceReport {
    let host = format!("autoconfig.{mx_domain}");
    let what = Fetch {
        kind: SourceKind::AutoconfigMx,
        redirect_scope: mx_domain,
        host: &host,
        path: "/mail/config-v1.1.xml",
        https: true,
    };
    let mut report = fetch(&what, address, how, trust, timeout).await;
    report.scope = Some(mx_domain.to_string());
    report
}

/// The domains Thunderbird's "forMX" step asks about for the MX host `mx`: its registrable
/// (base) domain by the Public Suffix List, and the name one label longer (which tells
/// Outlook.com, `outlook.com`, from Office 365, `protection.outlook.com`); each left out when
/// it is the address's own domain. Without a list, the base domain is the last two labels.
pub fn mx_domains(mx: &str, domain: &str, psl: Option<&PublicSuffixList>) -> Vec<String> {
    let mx = mx.trim_end_matches('.').to_ascii_lowercase();
    let domain = domain.trim_end_matches('.').to_ascii_lowercase();
    let labels: Vec<&str> = mx.split('.').collect();
    if labels.len() < 2 || labels.iter().any(|l| l.is_empty()) {
        return Vec::new();
    }
    let base = match psl {
        Some(list) => match list.organizational_domain(&mx) {
            Some(b) => b,
            None => return Vec::new(),
        },
        None => labels[labels.len() - 2..].join("."),
    };
    let n = base.split('.').count();
    let mut out = vec![base];
    if labels.len() > n {
        out.push(labels[labels.len() - n - 1..].join("."));
    }
    out.retain(|d| *d != domain);
    out
}

fn skipped(https: bool, query: String, why: &str) -> SourceReport {
    let kind = if https {
        SourceKind::Autoconfig
    } else {
        SourceKind::AutoconfigHttp
    };
    crate::discover::not_asked(kind, query, why)
}

fn url(https: bool, host: &str, path: &str) -> String {
    format!("{}://{host}{path}", if https { "https" } else { "http" })
}

/// Where one fetch goes, and what it is reported as.
struct Fetch<'a> {
    kind: SourceKind,
    /// Redirects may lead only to this domain or names inside it.
    redirect_scope: &'a str,
    host: &'a str,
    path: &'a str,
    https: bool,
}

#[allow(clippy::too_many_arguments)] // one private step of `lookup`
async fn fetch_one(
    domain: &str,
    address: &str,
    host: &str,
    path: &str,
    https: bool,
    how: &Resolution,
    trust: &Trust,
    timeout: Duration,
) -> SourceReport {
    let kind = if https {
        SourceKind::Autoconfig
    } else {
        SourceKind::AutoconfigHttp
    };
    let what = Fetch {
        kind,
        redirect_scope: domain,
        host,
        path,
        https,
    };
    fetch(&what, address, how, trust, timeout).await
}

/// Fetches one address (redirects inside its scope followed, all bounded by `timeout`) and
/// parses what it gives.
async fn fetch(
    what: &Fetch<'_>,
    address: &str,
    how: &Resolution,
    trust: &Trust,
    timeout: Duration,
) -> SourceReport {
    let (kind, domain, host, path, https) = (
        what.kind,
        what.redirect_scope,
        what.host,
        what.path,
        what.https,
    );
    let first = url(https, host, path);
    let mut report = SourceReport {
        kind,
        query: first.clone(),
        status: SourceStatus::Failed,
        detail: String::new(),
        settings: Vec::new(),
        srv: Vec::new(),
        fetch: None,
        autoconfig: None,
        preset: None,
        scope: None,
        ms: 0,
    };
    let mut fetch = FetchEvidence {
        url: first,
        ..Default::default()
    };
    let (mut host, mut path, mut secure) = (host.to_string(), path.to_string(), https);
    // One bound for the address and its redirects together.
    let until = tokio::time::Instant::now() + timeout;
    let got = loop {
        let left = until.saturating_duration_since(tokio::time::Instant::now());
        if left.is_zero() {
            fetch.failure = Some("no answer in time (redirects included)".into());
            break http::Response::default();
        }
        let got = http::get(&host, &path, secure, how, trust, left, MAX_FILE).await;
        fetch.ms += got.ms;
        let redirect = got
            .status
            .is_some_and(|s| matches!(s, 301 | 302 | 303 | 307 | 308));
        if !redirect || got.certificate_error.is_some() {
            break got;
        }
        let Some(location) = got.location.clone() else {
            break got;
        };
        if fetch.redirects.len() >= MAX_REDIRECTS {
            fetch.failure = Some(format!("more than {MAX_REDIRECTS} redirects"));
            break got;
        }
        match split_url(&location, &host, secure) {
            Some((next_secure, next_host, next_path))
                if on_domain(&next_host, domain) && (next_secure || !https) =>
            {
                fetch.redirects.push(location);
                (host, path, secure) = (next_host, next_path, next_secure);
                fetch.url = url(secure, &host, &path);
            }
            Some((next_secure, next_host, _)) => {
                fetch.failure = Some(if https && !next_secure {
                    format!("redirected to plain HTTP ({location}): not followed")
                } else {
                    format!("redirected off the domain to {next_host}: not followed")
                });
                break got;
            }
            None => {
                fetch.failure = Some(format!("redirected to an unusable address: {location}"));
                break got;
            }
        }
    };
    fetch.status = got.status;
    fetch.content_type = got.content_type.clone();
    fetch.bytes = got.bytes;
    fetch.certificate_error = got.certificate_error.clone();
    fetch.proxy = got.proxy.clone();
    if fetch.failure.is_none() {
        fetch.failure = got.failure.clone();
    }
    report.ms = fetch.ms;
    report.detail = if let Some(f) = &fetch.failure {
        // Nothing listening (no name, no address, refused) is "no file"; a server that
        // connects and then fails (TLS, time-out, proxy) is a failure worth a finding.
        if got.failure.is_some() && got.status.is_none() && !got.connected {
            report.status = SourceStatus::None;
        }
        f.clone()
    } else if let Some(e) = &fetch.certificate_error {
        format!("the server's certificate is not trusted ({e}): its answer is not used")
    } else if got.status == Some(404) || got.status == Some(410) {
        report.status = SourceStatus::None;
        let what = if matches!(kind, SourceKind::Ispdb | SourceKind::IspdbMx) {
            "no entry for this domain"
        } else {
            "no file"
        };
        format!("{what} (HTTP {})", got.status.unwrap_or(404))
    } else if got.status != Some(200) {
        format!("HTTP {}", got.status.map_or("?".into(), |s| s.to_string()))
    } else if got.bytes > MAX_FILE {
        format!("the file is larger than {MAX_FILE} bytes")
    } else {
        match std::str::from_utf8(&got.body)
            .map_err(|_| "the file is not UTF-8".to_string())
            .and_then(parse)
        {
            Ok(file) => {
                let (settings, problems) = settings(&file, address);
                let mut file = file;
                file.problems.extend(problems);
                report.settings = settings;
                report.status = if report.settings.is_empty() {
                    SourceStatus::Failed
                } else {
                    SourceStatus::Found
                };
                let detail = if report.settings.is_empty() {
                    "the file names no usable outgoing SMTP server".to_string()
                } else {
                    format!(
                        "{} outgoing server{}: {}",
                        report.settings.len(),
                        if report.settings.len() == 1 { "" } else { "s" },
                        report
                            .settings
                            .iter()
                            .map(|s| format!("{}:{} {}", s.host, s.port, s.security.name()))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                };
                report.autoconfig = Some(file);
                detail
            }
            Err(e) => format!("not a valid autoconfig file: {e}"),
        }
    };
    report.fetch = Some(fetch);
    report
}

/// `scheme://host[:port]/path` or a path on the same host, as (https, host, path).
fn split_url(location: &str, host: &str, https: bool) -> Option<(bool, String, String)> {
    if location.starts_with('/') && !location.starts_with("//") {
        return Some((https, host.to_string(), location.to_string()));
    }
    let (secure, rest) = if let Some(r) = location.strip_prefix("https://") {
        (true, r)
    } else if let Some(r) = location.strip_prefix("http://") {
        (false, r)
    } else {
        return None;
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    // Only the default ports (the fetch knows no other), and only a host name: `#`, `?`, spaces
    // or a user part would make a proxy fetch from somewhere else than `on_domain` approved.
    let host = host_name(authority).filter(|_| !authority.ends_with('.'))?;
    Some((secure, host, path.to_string()))
}

fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mx_domains_are_the_base_domain_and_one_label_more() {
        let list = PublicSuffixList::parse("com\nco.uk\nuk\ntest\n");
        let psl = Some(&list);
        assert_eq!(
            mx_domains(
                "Contoso-com.mail.protection.outlook.com.",
                "contoso.com",
                psl
            ),
            ["outlook.com", "protection.outlook.com"]
        );
        assert_eq!(
            mx_domains("mx1.hoster.co.uk", "me.test", psl),
            ["hoster.co.uk", "mx1.hoster.co.uk"]
        );
        assert_eq!(mx_domains("hoster.com", "me.test", psl), ["hoster.com"]);
        // The address's own domain is never asked as the MX's.
        assert_eq!(mx_domains("mx.a.test", "a.test", psl), ["mx.a.test"]);
        assert!(mx_domains("a.test", "a.test", psl).is_empty());
        assert!(mx_domains("co.uk", "a.test", psl).is_empty());
        assert!(mx_domains("localhost", "a.test", psl).is_empty());
        // Without a list: the last two labels.
        assert_eq!(
            mx_domains("mx.eu.mail.test", "hosted.test", None),
            ["mail.test", "eu.mail.test"]
        );
    }

    #[test]
    fn the_ispdb_address_is_https_on_the_default_port() {
        assert_eq!(
            Ispdb::parse(Ispdb::DEFAULT).unwrap(),
            Ispdb {
                host: "live.thunderbird.net".into(),
                path: "/autoconfig/v1.1/".into()
            }
        );
        assert_eq!(Ispdb::parse("https://DB.test").unwrap().path, "/");
        assert_eq!(Ispdb::parse("https://db.test/v1.1").unwrap().path, "/v1.1/");
        for bad in [
            "http://db.test/",
            "https://db.test:8443/",
            "https://u@db.test/",
            "https:///x",
            "https://db.test/?q",
        ] {
            assert!(Ispdb::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn redirects_stay_on_the_domain() {
        assert_eq!(
            split_url("/x", "autoconfig.a.test", true),
            Some((true, "autoconfig.a.test".into(), "/x".into()))
        );
        assert_eq!(
            split_url("https://Mail.A.test", "h", true),
            Some((true, "mail.a.test".into(), "/".into()))
        );
        assert_eq!(split_url("https://a.test:8443/x", "h", true), None);
        assert_eq!(split_url("ftp://a.test/x", "h", true), None);
        for odd in [
            "http://evil.test#.a.test/x",
            "http://evil.test?.a.test",
            "http://u@a.test/",
            "http://a .test/",
        ] {
            assert_eq!(split_url(odd, "h", false), None, "{odd}");
        }
        assert!(on_domain("autoconfig.a.test", "a.test"));
        assert!(on_domain("A.TEST.", "a.test"));
        assert!(!on_domain("evil-a.test", "a.test"));
        assert_eq!(percent_encode("me+x@a.test"), "me%2Bx%40a.test");
    }
}
