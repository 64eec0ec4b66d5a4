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
    for uri in r.uris() {
        let l = uri.to_ascii_lowercase();
        if l.starts_with("mailto:") {
            let addr = &uri[7..];
            if !addr.split('?').next().unwrap_or("").contains('@') {
                findings.push(
                    Finding::new(
                        "tlsrpt.bad_mailto",
                        Severity::Fail,
                        format!("{uri} has no address@domain"),
                    )
                    .fix("Write it as mailto:name@domain."),
                );
            }
        } else if l.starts_with("https:") {
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
}
