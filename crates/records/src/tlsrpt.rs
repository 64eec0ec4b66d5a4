//! TLS-RPT records (`_smtp._tls.<domain>` TXT, RFC 8460 section 3): `v=TLSRPTv1` first, one or
//! more `rua` lists of `mailto:` or `https:` URIs, extensions `name=value`.

use crate::lex::Cursor;
use crate::{Check, Finding, ParseError, Severity, Status, TxtAnswer, uri_syntax_ok};
use serde::Serialize;

/// A parsed TLS-RPT record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TlsRptRecord {
    /// Each `rua=` tag's URIs (the tag may repeat).
    pub rua: Vec<Vec<String>>,
    /// Extensions, in order.
    pub extensions: Vec<(String, String)>,
}

impl TlsRptRecord {
    /// All reporting URIs.
    pub fn uris(&self) -> impl Iterator<Item = &str> {
        self.rua.iter().flatten().map(String::as_str)
    }
}

/// `field-delim = *WSP ";" *WSP`, shared with MTA-STS.
pub(crate) fn delim(c: &mut Cursor<'_>) -> bool {
    let save = c.pos;
    c.wsp();
    if c.eat(";") {
        c.wsp();
        true
    } else {
        c.pos = save;
        false
    }
}

/// `sts-ext-name` / `tlsrpt-ext-name`: 1–32 of ALPHA / DIGIT, then also `_`, `-`, `.`.
pub(crate) fn ext_name<'a>(c: &mut Cursor<'a>) -> &'a str {
    c.take_while(|b, i| {
        i < 32 && (b.is_ascii_alphanumeric() || (i > 0 && matches!(b, b'_' | b'-' | b'.')))
    })
}

/// `ext-value`: 1* of %x21-3A / %x3C / %x3E-7E (no `;`, no `=`).
pub(crate) fn ext_value<'a>(c: &mut Cursor<'a>) -> &'a str {
    c.take_while(|b, _| (0x21..=0x7e).contains(&b) && b != b';' && b != b'=')
}

/// Parses a TLS-RPT record strictly.
pub fn parse_tlsrpt(txt: &str) -> Result<TlsRptRecord, ParseError> {
    let mut c = Cursor::new(txt);
    if !c.eat("v=TLSRPTv1") {
        return Err(ParseError::new(
            Some("v"),
            0,
            "the record must start with v=TLSRPTv1",
        ));
    }
    let mut r = TlsRptRecord {
        rua: Vec::new(),
        extensions: Vec::new(),
    };
    if !delim(&mut c) {
        let msg = if c.at_end() {
            "missing ';' and rua after v=TLSRPTv1"
        } else {
            "expected ';' after v=TLSRPTv1"
        };
        return Err(ParseError::new(Some("v"), c.pos, msg));
    }
    loop {
        if c.at_end() {
            break;
        }
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
        if name == "rua" {
            let mut list = Vec::new();
            loop {
                let uri_start = c.pos;
                let uri = c.take_while(|b, _| !matches!(b, b',' | b'!' | b' ' | b'\t' | b';'));
                if uri.is_empty() {
                    return Err(ParseError::new(Some("rua"), uri_start, "empty URI"));
                }
                if !uri_syntax_ok(uri) {
                    return Err(ParseError::new(
                        Some("rua"),
                        uri_start,
                        format!("{uri:?} is not a URI"),
                    ));
                }
                list.push(uri.to_string());
                c.wsp();
                if !c.eat(",") {
                    break;
                }
                c.wsp();
            }
            r.rua.push(list);
        } else {
            let v = ext_value(&mut c);
            if v.is_empty() {
                return Err(ParseError::new(Some(name), c.pos, "empty extension value"));
            }
            r.extensions.push((name.to_string(), v.to_string()));
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
    if r.rua.is_empty() {
        return Err(ParseError::new(Some("rua"), txt.len(), "missing rua"));
    }
    Ok(r)
}

/// Decodes `%XX` escapes (RFC 3986); None when one is broken.
fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// A domain a report can be delivered to: an LDH name with at least two labels.
fn deliverable_domain(host: &str) -> bool {
    crate::normalize_host(host).is_some_and(|h| h.contains('.'))
}

/// What is wrong with the part of a `mailto:` URI after the scheme (RFC 6068), if anything.
fn mailto_problem(rest: &str) -> Option<String> {
    let (to, _headers) = rest.split_once('?').unwrap_or((rest, ""));
    if to.is_empty() {
        return Some("no address".into());
    }
    let Some(addr) = percent_decode(to) else {
        return Some("a broken %-escape".into());
    };
    let Some((local, domain)) = addr.rsplit_once('@') else {
        return Some(format!("{addr:?} has no @domain"));
    };
    if local.is_empty() {
        return Some(format!("{addr:?} has nothing before the @"));
    }
    if local.contains('@') || local.contains(',') {
        return Some(format!("{addr:?} holds more than one address"));
    }
    if !deliverable_domain(domain) {
        return Some(format!("{domain:?} is not a domain mail can be sent to"));
    }
    None
}

/// What is wrong with the part of an `https:` URI after the scheme, if anything: it needs a
/// host to POST to (`//host[:port]`), without credentials in it.
fn https_problem(rest: &str) -> Option<String> {
    let Some(rest) = rest.strip_prefix("//") else {
        return Some("no //host after https:".into());
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.contains('@') {
        return Some(
            "it carries user information (name@ or name:password@) before the host".into(),
        );
    }
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        match v6.split_once(']') {
            Some((addr, port)) => {
                if addr.parse::<std::net::Ipv6Addr>().is_err() {
                    return Some(format!("[{addr}] is not an IPv6 address"));
                }
                (None, port.strip_prefix(':'))
            }
            None => return Some("an unclosed [ in the host".into()),
        }
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (Some(h), Some(p)),
            None => (Some(authority), None),
        }
    };
    if let Some(p) = port
        && p.parse::<u16>().map_or(true, |p| p == 0)
    {
        return Some(format!("{p:?} is not a port"));
    }
    match host {
        Some("") => Some("no host".into()),
        Some(h) if h.parse::<std::net::Ipv4Addr>().is_ok() => None,
        Some(h) if !deliverable_domain(h) => Some(format!("{h:?} is not a host name")),
        _ => None,
    }
}

/// Checks the TXT answer at `_smtp._tls.<domain>`.
pub fn check_tlsrpt(domain: &str, answer: &TxtAnswer) -> Check<TlsRptRecord> {
    let name = format!("_smtp._tls.{domain}");
    let records = match answer {
        TxtAnswer::Error(e) => return Check::lookup_failed("tlsrpt.lookup_error", &name, e, None),
        TxtAnswer::NoRecord => {
            return Check::with_status(
                Status::None,
                Finding::new("tlsrpt.none", Severity::Info, format!("{name} publishes no TLS-RPT record: nobody hears about failed TLS deliveries"))
                    .fix("Publish TXT v=TLSRPTv1; rua=mailto:<address> at _smtp._tls."),
            );
        }
        TxtAnswer::Records(rs) => rs,
    };
    let cands: Vec<&String> = records
        .iter()
        .filter(|r| r.to_ascii_lowercase().starts_with("v=tlsrpt"))
        .collect();
    match cands.len() {
        0 => {
            return Check::with_status(
                Status::None,
                Finding::new(
                    "tlsrpt.none",
                    Severity::Info,
                    format!("{name} has TXT data but no v=TLSRPTv1 record"),
                ),
            );
        }
        1 => {}
        n => {
            return Check::from_findings(
                None,
                vec![Finding::new("tlsrpt.multiple_records", Severity::Fail, format!("{name} has {n} TLS-RPT records; senders then use none"))
                    .fix("Keep exactly one record; list several addresses in one rua, separated by commas.")],
            );
        }
    }
    let r = match parse_tlsrpt(cands[0]) {
        Ok(r) => r,
        Err(e) => {
            return Check::from_findings(
                None,
                vec![
                    Finding::new(
                        "tlsrpt.syntax",
                        Severity::Fail,
                        format!("invalid TLS-RPT record: {e}"),
                    )
                    .fix("Write it as v=TLSRPTv1; rua=mailto:<address> (or https:<url>)."),
                ],
            );
        }
    };
    let mut findings = Vec::new();
    if r.rua.len() > 1 {
        findings.push(
            Finding::new(
                "tlsrpt.rua_repeated",
                Severity::Warn,
                format!("{name} has {} rua= fields; RFC 8460 defines one, and senders may read only the first", r.rua.len()),
            )
            .fix("List every destination in one rua=, separated by commas."),
        );
    }
    let mut seen: Vec<String> = Vec::new();
    for uri in r.uris() {
        let l = uri.to_ascii_lowercase();
        if seen.contains(&l) {
            findings.push(
                Finding::new(
                    "tlsrpt.duplicate_uri",
                    Severity::Info,
                    format!("{uri} is listed twice: each report is sent to it twice"),
                )
                .fix("List each destination once."),
            );
            continue;
        }
        seen.push(l.clone());
        if l.starts_with("mailto:") {
            if let Some(why) = mailto_problem(&uri[7..]) {
                findings.push(
                    Finding::new(
                        "tlsrpt.bad_mailto",
                        Severity::Fail,
                        format!("{uri} is not a usable mailto: URI: {why}"),
                    )
                    .fix("Write it as mailto:name@domain (RFC 6068; a ',' or '!' in the address must be written %2C or %21)."),
                );
            }
        } else if l.starts_with("https:") {
            if let Some(why) = https_problem(&uri[6..]) {
                findings.push(
                    Finding::new(
                        "tlsrpt.bad_https",
                        Severity::Fail,
                        format!("{uri} is not a usable https: URL: {why}"),
                    )
                    .fix("Write it as https://host.example/path (RFC 8460 section 3: reports are POSTed to it)."),
                );
            }
        } else if l.starts_with("http:") {
            findings.push(
                Finding::new(
                    "tlsrpt.http_uri",
                    Severity::Fail,
                    format!("{uri} uses http:, which RFC 8460 does not allow"),
                )
                .fix("Use an https: URL."),
            );
        } else {
            findings.push(
                Finding::new(
                    "tlsrpt.uri_scheme",
                    Severity::Fail,
                    format!("{uri}: only mailto: and https: URIs receive reports"),
                )
                .fix("Use mailto: or https:."),
            );
        }
    }
    if !r.extensions.is_empty() {
        findings.push(Finding::new(
            "tlsrpt.extension",
            Severity::Info,
            format!(
                "extension field(s) {}: senders ignore them",
                r.extensions
                    .iter()
                    .map(|e| e.0.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    }
    Check::from_findings(Some(r), findings)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_check() {
        let r = parse_tlsrpt(
            "v=TLSRPTv1; rua=mailto:a@example.com, https://r.example/x; rua=mailto:b@example.com",
        )
        .unwrap();
        assert_eq!(r.rua.len(), 2);
        assert_eq!(r.uris().count(), 3);
        for bad in [
            "v=TLSRPTv1",
            "v=TLSRPTv1; rua=",
            "v=TLSRPTv1; rua=x@y",
            "v=TLSRPTv1;rua=mailto:a@b.example;;",
            "v=tlsrptv1; rua=mailto:a@b.example",
        ] {
            assert!(parse_tlsrpt(bad).is_err(), "{bad}");
        }
        let c = check_tlsrpt(
            "e.com",
            &TxtAnswer::Records(vec!["v=TLSRPTv1; rua=http://r.example/".into()]),
        );
        assert!(c.has("tlsrpt.http_uri"));
        let c = check_tlsrpt(
            "e.com",
            &TxtAnswer::Records(vec!["v=TLSRPTv1; rua=mailto:a@e.com".into()]),
        );
        assert_eq!(c.status, Status::Pass);
        let two = TxtAnswer::Records(vec![
            "v=TLSRPTv1; rua=mailto:a@e.com".into(),
            "v=TLSRPTv1; rua=mailto:b@e.com".into(),
        ]);
        assert!(check_tlsrpt("e.com", &two).has("tlsrpt.multiple_records"));
        assert_eq!(
            check_tlsrpt("e.com", &TxtAnswer::NoRecord).status,
            Status::None
        );
    }

    fn ids(record: &str) -> Vec<&'static str> {
        check_tlsrpt("e.com", &TxtAnswer::Records(vec![record.into()]))
            .findings
            .iter()
            .map(|f| f.id)
            .collect()
    }

    #[test]
    fn every_reporting_uri_is_checked() {
        // Several good destinations, both schemes, escapes and ports.
        for good in [
            "v=TLSRPTv1; rua=mailto:tls@e.com,https://reports.e.com/v1/tlsrpt",
            "v=TLSRPTv1; rua=mailto:tls%2Breports@e.com?subject=tls",
            "v=TLSRPTv1; rua=https://r.e.com:8443/x",
            "v=TLSRPTv1; rua=https://192.0.2.1/x",
        ] {
            assert!(ids(good).is_empty(), "{good}: {:?}", ids(good));
        }
        for (bad, id) in [
            ("v=TLSRPTv1; rua=mailto:e.com", "tlsrpt.bad_mailto"),
            ("v=TLSRPTv1; rua=mailto:@e.com", "tlsrpt.bad_mailto"),
            ("v=TLSRPTv1; rua=mailto:tls@localhost", "tlsrpt.bad_mailto"),
            ("v=TLSRPTv1; rua=mailto:tls@e..com", "tlsrpt.bad_mailto"),
            ("v=TLSRPTv1; rua=https:reports.e.com/x", "tlsrpt.bad_https"),
            ("v=TLSRPTv1; rua=https:///x", "tlsrpt.bad_https"),
            (
                "v=TLSRPTv1; rua=https://user:pw@r.e.com/x",
                "tlsrpt.bad_https",
            ),
            ("v=TLSRPTv1; rua=https://r.e.com:0/x", "tlsrpt.bad_https"),
            (
                "v=TLSRPTv1; rua=https://r.e.com:https/x",
                "tlsrpt.bad_https",
            ),
            (
                "v=TLSRPTv1; rua=https://[2001:db8::zz]/x",
                "tlsrpt.bad_https",
            ),
            (
                "v=TLSRPTv1; rua=mailto:a@e.com,mailto:A@E.COM",
                "tlsrpt.duplicate_uri",
            ),
            (
                "v=TLSRPTv1; rua=mailto:a@e.com; rua=mailto:b@e.com",
                "tlsrpt.rua_repeated",
            ),
        ] {
            assert_eq!(ids(bad), vec![id], "{bad}");
        }
        // The second of two bad URIs is reported too.
        assert_eq!(
            ids("v=TLSRPTv1; rua=mailto:x,https:y"),
            vec!["tlsrpt.bad_mailto", "tlsrpt.bad_https"]
        );
    }
}
