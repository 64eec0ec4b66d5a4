//! MTA-STS (RFC 8461): the `_mta-sts.<domain>` TXT record, the policy file, the fetch rules a
//! policy response must meet (judged from what the caller fetched), and whether every MX host is
//! covered by the policy's `mx` patterns. Stricter than `smtpdoctor-session`'s reader, which can
//! switch to [`parse_policy`].

use crate::lex::Cursor;
use crate::tlsrpt::{delim, ext_name, ext_value};
use crate::{Check, Finding, ParseError, Severity, Status, TxtAnswer};
use serde::Serialize;

/// RFC 8461 section 3.3: senders give up on bigger policies.
pub const MAX_POLICY_BYTES: usize = 64 * 1024;
/// RFC 8461 section 3.2: the largest `max_age` (about one year).
pub const MAX_MAX_AGE: u64 = 31_557_600;
/// Below this `max_age` (one day) the policy protects little against a first-contact attack.
pub const SHORT_MAX_AGE: u64 = 86_400;

/// A parsed `_mta-sts` TXT record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StsRecord {
    /// `id=`: 1–32 letters and digits; senders refetch the policy when it changes.
    pub id: String,
    /// Extension fields, in order.
    pub extensions: Vec<(String, String)>,
}

/// Parses an `_mta-sts` TXT record strictly (RFC 8461 section 3.1).
pub fn parse_record(txt: &str) -> Result<StsRecord, ParseError> {
    let mut c = Cursor::new(txt);
    if !c.eat("v=STSv1") {
        return Err(ParseError::new(
            Some("v"),
            0,
            "the record must start with v=STSv1",
        ));
    }
    if !delim(&mut c) {
        let msg = if c.at_end() {
            "missing ';' and id after v=STSv1"
        } else {
            "expected ';' after v=STSv1"
        };
        return Err(ParseError::new(Some("v"), c.pos, msg));
    }
    let mut id: Option<String> = None;
    let mut extensions = Vec::new();
    while !c.at_end() {
        let name_pos = c.pos;
        let name = ext_name(&mut c);
        if name.is_empty() {
            return Err(ParseError::new(None, c.pos, "expected a field name"));
        }
        if !c.eat("=") {
            return Err(ParseError::new(
                Some(name),
                c.pos,
                "expected '=' (no spaces around it)",
            ));
        }
        if name == "id" {
            let v = c.take_while(|b, _| b.is_ascii_alphanumeric());
            if v.is_empty() || v.len() > 32 {
                return Err(ParseError::new(
                    Some("id"),
                    name_pos,
                    "id must be 1 to 32 letters and digits",
                ));
            }
            // Only the first id counts (RFC 8461 section 3.2's rule for repeated fields).
            id.get_or_insert_with(|| v.to_string());
        } else {
            let v = ext_value(&mut c);
            if v.is_empty() {
                return Err(ParseError::new(Some(name), c.pos, "empty extension value"));
            }
            extensions.push((name.to_string(), v.to_string()));
        }
        if !delim(&mut c) {
            break;
        }
    }
    if !c.at_end() {
        return Err(ParseError::new(
            None,
            c.pos,
            format!("unexpected text {:?}", c.rest()),
        ));
    }
    match id {
        Some(id) => Ok(StsRecord { id, extensions }),
        None => Err(ParseError::new(Some("id"), txt.len(), "missing id")),
    }
}

/// The policy mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Senders must not deliver over unauthenticated TLS.
    Enforce,
    /// Senders report failures but deliver anyway.
    Testing,
    /// The policy is withdrawn.
    None,
}

/// One `mx:` pattern.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MxPattern {
    /// `*.` prefix: matches exactly one extra left-most label.
    pub wildcard: bool,
    /// The domain part, lower-cased, A-labels.
    pub domain: String,
}

impl MxPattern {
    /// Whether `host` (an MX host name) matches this pattern (RFC 8461 section 4.1).
    pub fn matches(&self, host: &str) -> bool {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        if self.wildcard {
            host.split_once('.')
                .is_some_and(|(first, rest)| !first.is_empty() && rest == self.domain)
        } else {
            host == self.domain
        }
    }
}

impl std::fmt::Display for MxPattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.wildcard {
            write!(f, "*.{}", self.domain)
        } else {
            f.write_str(&self.domain)
        }
    }
}

/// A parsed policy file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Policy {
    /// `mode:` (the first one).
    pub mode: Mode,
    /// `max_age:` in seconds (the first one).
    pub max_age: u64,
    /// Every `mx:` pattern.
    pub mx: Vec<MxPattern>,
    /// Extension keys and values, in order.
    pub extensions: Vec<(String, String)>,
    /// Keys other than `mx` that appeared more than once (only the first counts).
    pub repeated: Vec<String>,
    /// Whether the lines ended with CRLF, LF or both.
    pub line_endings: &'static str,
}

/// Parses a policy file strictly (RFC 8461 section 3.2): `key: value` lines ending in LF or
/// CRLF; `version: STSv1`, `mode` and `max_age` required, `mx` required unless `mode: none`;
/// `max_age` up to ten digits; `mx` patterns in A-labels. For repeated keys other than `mx`
/// the first wins, but every value must still be valid.
pub fn parse_policy(text: &str) -> Result<Policy, ParseError> {
    let mut c = Cursor::new(text);
    let mut version = false;
    let mut mode: Option<Mode> = None;
    let mut max_age: Option<u64> = None;
    let mut mx = Vec::new();
    let mut extensions = Vec::new();
    let mut seen: Vec<String> = Vec::new();
    let mut repeated = Vec::new();
    let (mut crlf, mut lf) = (false, false);
    loop {
        let key = ext_name(&mut c);
        if key.is_empty() {
            let msg = if c.at_end() {
                "missing version: STSv1 (the policy is empty)".to_string()
            } else {
                format!(
                    "expected a key at {:?}",
                    c.rest().lines().next().unwrap_or("")
                )
            };
            return Err(ParseError::new(None, c.pos, msg));
        }
        if seen.iter().any(|k| k == key) {
            if key != "mx" && !repeated.iter().any(|k| k == key) {
                repeated.push(key.to_string());
            }
        } else {
            seen.push(key.to_string());
        }
        let first = !repeated.iter().any(|k| k == key);
        if !c.eat(":") {
            return Err(ParseError::new(
                Some(key),
                c.pos,
                "expected ':' right after the key",
            ));
        }
        c.wsp();
        let vpos = c.pos;
        let err = |m: String| ParseError::new(Some(key), vpos, m);
        match key {
            "version" => {
                if !c.eat("STSv1") {
                    return Err(err("version must be STSv1".into()));
                }
                version = true;
            }
            "mode" => {
                let v = c.take_while(|b, _| b.is_ascii_alphabetic());
                let m = match v {
                    "enforce" => Mode::Enforce,
                    "testing" => Mode::Testing,
                    "none" => Mode::None,
                    _ => return Err(err(format!("mode {v:?} is not enforce, testing or none"))),
                };
                if first {
                    mode = Some(m);
                }
            }
            "max_age" => {
                let v = c.take_while(|b, _| b.is_ascii_digit());
                if v.is_empty() || v.len() > 10 {
                    return Err(err("max_age must be 1 to 10 digits".into()));
                }
                let n: u64 = v
                    .parse()
                    .map_err(|_| err("max_age is not a number".into()))?;
                if n > u64::from(u32::MAX >> 1) {
                    return Err(err(format!("max_age {n} is out of range")));
                }
                if first {
                    max_age = Some(n);
                }
            }
            "mx" => {
                let v = c.take_while(|b, _| !matches!(b, b'\r' | b'\n' | b' ' | b'\t'));
                mx.push(mx_pattern(v).map_err(err)?);
            }
            _ => {
                let v = c.take_while(|b, _| b != b'\r' && b != b'\n');
                let v = v.trim_end_matches([' ', '\t']);
                if v.is_empty() {
                    return Err(err("empty value".into()));
                }
                extensions.push((key.to_string(), v.to_string()));
            }
        }
        c.wsp();
        if c.eat("\r\n") {
            crlf = true;
        } else if c.eat("\n") {
            lf = true;
        } else {
            break;
        }
        if c.at_end() {
            break;
        }
    }
    if !c.at_end() {
        return Err(ParseError::new(
            None,
            c.pos,
            format!(
                "unexpected text {:?}",
                c.rest().lines().next().unwrap_or("")
            ),
        ));
    }
    let missing = |k: &str| ParseError::new(Some(k), text.len(), format!("missing {k}"));
    if !version {
        return Err(missing("version"));
    }
    let mode = mode.ok_or_else(|| missing("mode"))?;
    let max_age = max_age.ok_or_else(|| missing("max_age"))?;
    if mx.is_empty() && mode != Mode::None {
        return Err(ParseError::new(
            Some("mx"),
            text.len(),
            "mode enforce and testing need at least one mx",
        ));
    }
    Ok(Policy {
        mode,
        max_age,
        mx,
        extensions,
        repeated,
        line_endings: match (crlf, lf) {
            (true, true) => "mixed",
            (true, false) => "crlf",
            _ => "lf",
        },
    })
}

fn mx_pattern(v: &str) -> Result<MxPattern, String> {
    if v.is_empty() {
        return Err("empty mx".into());
    }
    if !v.is_ascii() {
        return Err(format!(
            "{v:?} has non-ASCII characters: write IDNs as A-labels (xn--)"
        ));
    }
    let (wildcard, rest) = match v.strip_prefix("*.") {
        Some(r) => (true, r),
        None => (false, v),
    };
    let domain = crate::normalize_host(rest)
        .filter(|d| !d.contains('_') && !rest.ends_with('.'))
        .ok_or_else(|| format!("{v:?} is not a host name or *.domain pattern"))?;
    Ok(MxPattern { wildcard, domain })
}

/// The MX hosts no pattern of `policy` matches.
pub fn uncovered_mx<'a>(policy: &Policy, mx_hosts: &'a [String]) -> Vec<&'a str> {
    mx_hosts
        .iter()
        .map(String::as_str)
        .filter(|h| !policy.mx.iter().any(|p| p.matches(h)))
        .collect()
}

/// What fetching `https://mta-sts.<domain>/.well-known/mta-sts.txt` returned, as seen by the
/// caller: the fetch must not have followed redirects and must have verified the certificate.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PolicyResponse {
    /// The HTTP status code.
    pub status: u16,
    /// The `Location` header of a redirect, if any.
    pub location: Option<String>,
    /// The `Content-Type` header, if any.
    pub content_type: Option<String>,
    /// The body (possibly cut off just past [`MAX_POLICY_BYTES`]).
    pub body: Vec<u8>,
    /// Why the certificate of `mta-sts.<domain>` was not valid, when it was not.
    pub certificate_error: Option<String>,
}

/// How the MTA-STS check ended, with the pieces that parsed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MtaSts {
    /// The TXT record.
    pub record: StsRecord,
    /// The policy, when it was fetched and parsed.
    pub policy: Option<Policy>,
}

/// What fetching the policy gave, for [`check_mtasts`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PolicyFetch {
    /// An HTTP response arrived.
    Response(PolicyResponse),
    /// No response: the host does not resolve, the connection or TLS handshake failed.
    Failed(String),
    /// The caller did not fetch it.
    NotFetched,
}

/// Judges a policy response by RFC 8461 section 3.3 and parses its body.
pub fn check_policy_response(resp: &PolicyResponse) -> Result<Policy, Vec<Finding>> {
    let mut out = Vec::new();
    if let Some(e) = &resp.certificate_error {
        out.push(
            Finding::new(
                "mtasts.policy_certificate",
                Severity::Fail,
                format!("the certificate of the policy host is not valid: {e}"),
            )
            .fix("Serve a certificate for mta-sts.<domain> from a public CA, with the full chain."),
        );
    }
    if (300..400).contains(&resp.status) {
        out.push(Finding::new("mtasts.policy_redirect", Severity::Fail, format!("the policy URL redirects (HTTP {}{}); senders do not follow redirects", resp.status, resp.location.as_ref().map(|l| format!(" to {l}")).unwrap_or_default()))
            .fix("Serve the policy directly at https://mta-sts.<domain>/.well-known/mta-sts.txt with status 200."));
    } else if resp.status != 200 {
        out.push(
            Finding::new(
                "mtasts.policy_http_status",
                Severity::Fail,
                format!(
                    "the policy URL answered HTTP {}; only 200 counts",
                    resp.status
                ),
            )
            .fix("Serve the policy at /.well-known/mta-sts.txt with status 200."),
        );
    }
    let ct = resp.content_type.as_deref().map(|c| {
        c.split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase()
    });
    if resp.status == 200 && ct.as_deref() != Some("text/plain") {
        out.push(
            Finding::new(
                "mtasts.policy_content_type",
                Severity::Fail,
                format!(
                    "the policy is served as {}, not text/plain",
                    resp.content_type.as_deref().unwrap_or("(no Content-Type)")
                ),
            )
            .fix("Serve mta-sts.txt with Content-Type: text/plain."),
        );
    }
    if resp.body.len() > MAX_POLICY_BYTES {
        out.push(
            Finding::new(
                "mtasts.policy_too_large",
                Severity::Fail,
                format!("the policy is over {MAX_POLICY_BYTES} bytes; senders stop reading"),
            )
            .fix("Keep the policy file small: only the version, mode, mx and max_age lines."),
        );
    }
    if !out.is_empty() {
        return Err(out);
    }
    let text = match std::str::from_utf8(&resp.body) {
        Ok(t) => t,
        Err(_) => {
            return Err(vec![Finding::new(
                "mtasts.policy_syntax",
                Severity::Fail,
                "the policy is not UTF-8 text",
            )]);
        }
    };
    parse_policy(text).map_err(|e| {
        vec![Finding::new("mtasts.policy_syntax", Severity::Fail, format!("invalid MTA-STS policy: {e}"))
            .fix("Write the policy as lines version: STSv1, mode: enforce|testing|none, mx: <host or *.domain> (one per MX), max_age: <seconds>.")]
    })
}

/// Checks MTA-STS for a domain: the TXT answer at `_mta-sts.<domain>`, the policy fetch, and
/// (when given) the domain's MX hosts against the policy's patterns.
pub fn check_mtasts(
    domain: &str,
    answer: &TxtAnswer,
    fetch: &PolicyFetch,
    mx_hosts: Option<&[String]>,
) -> Check<MtaSts> {
    let name = format!("_mta-sts.{domain}");
    let records = match answer {
        TxtAnswer::Error(e) => return Check::lookup_failed("mtasts.lookup_error", &name, e, None),
        TxtAnswer::NoRecord => {
            return Check::with_status(
                Status::None,
                Finding::new("mtasts.none", Severity::Info, format!("{name} publishes no MTA-STS record: senders may deliver over unauthenticated TLS"))
                    .fix("Publish a policy at https://mta-sts.<domain>/.well-known/mta-sts.txt and TXT v=STSv1; id=<version> at _mta-sts."),
            );
        }
        TxtAnswer::Records(rs) => rs,
    };
    let cands: Vec<&String> = records
        .iter()
        .filter(|r| r.starts_with("v=STSv1"))
        .collect();
    let record = match cands.len() {
        0 => {
            let sts_like = records
                .iter()
                .any(|r| r.to_ascii_lowercase().contains("sts"));
            let f = if sts_like {
                Finding::new("mtasts.record_syntax", Severity::Fail, format!("{name} has a TXT record that is not a valid MTA-STS record (it must start with v=STSv1)")).fix("Write it as v=STSv1; id=<1-32 letters and digits>.")
            } else {
                Finding::new(
                    "mtasts.none",
                    Severity::Info,
                    format!("{name} has TXT data but no v=STSv1 record"),
                )
            };
            return if sts_like {
                Check::from_findings(None, vec![f])
            } else {
                Check::with_status(Status::None, f)
            };
        }
        1 => match parse_record(cands[0]) {
            Ok(r) => r,
            Err(e) => {
                return Check::from_findings(
                    None,
                    vec![
                        Finding::new(
                            "mtasts.record_syntax",
                            Severity::Fail,
                            format!("invalid MTA-STS record (senders then see no policy): {e}"),
                        )
                        .fix("Write it as v=STSv1; id=<1-32 letters and digits>."),
                    ],
                );
            }
        },
        n => {
            return Check::from_findings(
                None,
                vec![
                    Finding::new(
                        "mtasts.multiple_records",
                        Severity::Fail,
                        format!("{name} has {n} v=STSv1 records; senders then see no policy"),
                    )
                    .fix("Keep exactly one record."),
                ],
            );
        }
    };
    let mut findings = Vec::new();
    let policy = match fetch {
        PolicyFetch::NotFetched => None,
        PolicyFetch::Failed(e) => {
            findings.push(Finding::new("mtasts.policy_fetch", Severity::Fail, format!("the policy could not be fetched: {e}")).fix("Make https://mta-sts.<domain>/.well-known/mta-sts.txt reachable over HTTPS with a valid certificate."));
            None
        }
        PolicyFetch::Response(resp) => match check_policy_response(resp) {
            Ok(p) => Some(p),
            Err(fs) => {
                findings.extend(fs);
                None
            }
        },
    };
    if let Some(p) = &policy {
        lint_policy(p, mx_hosts, &mut findings);
    }
    Check::from_findings(Some(MtaSts { record, policy }), findings)
}

fn lint_policy(p: &Policy, mx_hosts: Option<&[String]>, out: &mut Vec<Finding>) {
    match p.mode {
        Mode::None => out.push(
            Finding::new(
                "mtasts.mode_none",
                Severity::Warn,
                "mode: none: the policy is withdrawn and protects nothing",
            )
            .fix("Use mode: testing, then mode: enforce."),
        ),
        Mode::Testing => out.push(
            Finding::new(
                "mtasts.mode_testing",
                Severity::Warn,
                "mode: testing: senders report TLS failures but still deliver",
            )
            .fix("Switch to mode: enforce once TLS-RPT reports show no failures."),
        ),
        Mode::Enforce => {}
    }
    if p.max_age > MAX_MAX_AGE {
        out.push(
            Finding::new(
                "mtasts.max_age_too_long",
                Severity::Fail,
                format!(
                    "max_age {} is over the limit of {MAX_MAX_AGE} seconds",
                    p.max_age
                ),
            )
            .fix("Use at most 31557600 (one year); 604800 (a week) or more is recommended."),
        );
    } else if p.max_age < SHORT_MAX_AGE {
        out.push(
            Finding::new(
                "mtasts.max_age_short",
                Severity::Warn,
                format!(
                    "max_age {} is under a day: senders forget the policy quickly",
                    p.max_age
                ),
            )
            .fix("Use weeks: 604800 or more (86400 while testing)."),
        );
    }
    if !p.repeated.is_empty() {
        out.push(
            Finding::new(
                "mtasts.repeated_key",
                Severity::Warn,
                format!(
                    "key(s) {} appear more than once; only the first counts",
                    p.repeated.join(", ")
                ),
            )
            .fix("Keep one line per key (mx may repeat)."),
        );
    }
    if p.line_endings == "mixed" {
        out.push(Finding::new(
            "mtasts.mixed_line_endings",
            Severity::Info,
            "the policy mixes CRLF and LF line endings (allowed)",
        ));
    }
    if let Some(hosts) = mx_hosts {
        let missing = uncovered_mx(p, hosts);
        if !missing.is_empty() {
            let sev = if p.mode == Mode::Enforce {
                Severity::Fail
            } else {
                Severity::Warn
            };
            out.push(Finding::new(
                "mtasts.mx_not_covered",
                sev,
                format!("MX host(s) {} match no mx pattern ({}); senders {} them", missing.join(", "), p.mx.iter().map(ToString::to_string).collect::<Vec<_>>().join(", "), if sev == Severity::Fail { "refuse to deliver to" } else { "report failures for" }),
            ).fix("Add an mx: line for each MX host (or a *.domain pattern), then change the id in the TXT record."));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record() {
        assert_eq!(
            parse_record("v=STSv1; id=2024010101").unwrap().id,
            "2024010101"
        );
        for bad in [
            "v=STSv1",
            "v=STSv1; id=",
            "v=STSv1; id=a-b",
            "v=STSv1;id=a;;",
            "v=STSv2; id=a",
            "v=STSv1; id = a",
        ] {
            assert!(parse_record(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn policy_and_coverage() {
        let p = parse_policy("version: STSv1\r\nmode: enforce\r\nmx: mx1.example.com\r\nmx: *.backup.example.com\r\nmax_age: 604800\r\n").unwrap();
        assert_eq!(p.mode, Mode::Enforce);
        assert_eq!(p.line_endings, "crlf");
        let hosts = vec![
            "mx1.example.com.".to_string(),
            "a.backup.example.com".into(),
            "a.b.backup.example.com".into(),
            "mx2.example.com".into(),
        ];
        assert_eq!(
            uncovered_mx(&p, &hosts),
            vec!["a.b.backup.example.com", "mx2.example.com"]
        );
        assert!(parse_policy("version: STSv1\nmode: enforce\nmax_age: 1").is_err());
        assert!(parse_policy("version: STSv1\nmode: none\nmax_age: 1\nmx: møx.example").is_err());
        assert!(parse_policy("version: STSv1\nmode: none\nmax_age: 12345678901").is_err());
        let p = parse_policy(
            "version: STSv1\nmode: testing\nmode: enforce\nmx: a.example\nmax_age: 10",
        )
        .unwrap();
        assert_eq!(p.mode, Mode::Testing);
        assert_eq!(p.repeated, vec!["mode"]);
    }

    #[test]
    fn fetch_rules() {
        let ok = PolicyResponse {
            status: 200,
            content_type: Some("text/plain; charset=utf-8".into()),
            body: b"version: STSv1\nmode: enforce\nmx: mx.example.com\nmax_age: 1209600\n".to_vec(),
            ..Default::default()
        };
        let c = check_mtasts(
            "example.com",
            &TxtAnswer::Records(vec!["v=STSv1; id=1".into()]),
            &PolicyFetch::Response(ok.clone()),
            Some(&["mx.example.com".into()]),
        );
        assert_eq!(c.status, Status::Pass, "{:?}", c.findings);
        let c = check_mtasts(
            "example.com",
            &TxtAnswer::Records(vec!["v=STSv1; id=1".into()]),
            &PolicyFetch::Response(ok.clone()),
            Some(&["other.example.net".into()]),
        );
        assert!(c.has("mtasts.mx_not_covered") && c.status == Status::Fail);
        let redirect = PolicyResponse {
            status: 301,
            location: Some("https://www.example.com/".into()),
            ..Default::default()
        };
        assert!(
            check_policy_response(&redirect)
                .unwrap_err()
                .iter()
                .any(|f| f.id == "mtasts.policy_redirect")
        );
        let html = PolicyResponse {
            content_type: Some("text/html".into()),
            ..ok.clone()
        };
        assert!(
            check_policy_response(&html)
                .unwrap_err()
                .iter()
                .any(|f| f.id == "mtasts.policy_content_type")
        );
        let big = PolicyResponse {
            body: vec![b'a'; MAX_POLICY_BYTES + 1],
            ..ok.clone()
        };
        assert!(
            check_policy_response(&big)
                .unwrap_err()
                .iter()
                .any(|f| f.id == "mtasts.policy_too_large")
        );
        let cert = PolicyResponse {
            certificate_error: Some("expired".into()),
            ..ok
        };
        assert!(
            check_policy_response(&cert)
                .unwrap_err()
                .iter()
                .any(|f| f.id == "mtasts.policy_certificate")
        );
        let two = TxtAnswer::Records(vec!["v=STSv1; id=1".into(), "v=STSv1; id=2".into()]);
        assert!(
            check_mtasts("e.com", &two, &PolicyFetch::NotFetched, None)
                .has("mtasts.multiple_records")
        );
    }
}
