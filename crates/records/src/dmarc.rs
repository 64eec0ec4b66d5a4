//! DMARC policy records (`_dmarc.<domain>` TXT): a strict parser for RFC 7489 and RFC 9989
//! (DMARCbis) tags, the lints a domain owner needs, the external report destinations that need
//! an authorisation record, and how an RFC 7489 receiver would read a broken record.
//!
//! RFC 9989 removed `pct`, `rf` and `ri` and added `np`, `psd` and `t`; both sets parse, and the
//! lints say which receivers ignore what. Tag names are case-insensitive, `DMARC1` is not.

use crate::lex::Cursor;
use crate::{Check, Finding, ParseError, Severity, Status, TxtAnswer, uri_syntax_ok};
use serde::Serialize;

/// A requested policy (`p`, `sp`, `np`), weakest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Policy {
    /// Monitoring only.
    None,
    /// Treat failing mail as suspicious (spam folder).
    Quarantine,
    /// Reject failing mail.
    Reject,
}

impl Policy {
    /// The tag value.
    pub fn as_str(self) -> &'static str {
        match self {
            Policy::None => "none",
            Policy::Quarantine => "quarantine",
            Policy::Reject => "reject",
        }
    }
}

/// Identifier alignment mode (`adkim`, `aspf`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Alignment {
    /// Same organisational domain (`r`, the default).
    Relaxed,
    /// The very same domain (`s`).
    Strict,
}

/// The RFC 9989 `psd` tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Psd {
    /// `psd=y`: the domain is a public suffix domain.
    Yes,
    /// `psd=n`: the domain is an organisational domain; the tree walk stops here.
    No,
    /// `psd=u`: unknown (the default).
    Unknown,
}

/// One reporting URI from `rua` or `ruf`, with its optional size limit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReportUri {
    /// The URI as written, without the `!size` suffix.
    pub uri: String,
    /// The size limit, when given.
    pub max_size: Option<u64>,
    /// The unit of the size limit (`k`, `m`, `g`, `t`), lower-cased; bytes when absent.
    pub unit: Option<char>,
}

impl ReportUri {
    /// The host of a `mailto:` URI, lower-cased, or None for other schemes.
    pub fn mailto_domain(&self) -> Option<String> {
        let rest = strip_prefix_ci(&self.uri, "mailto:")?;
        let addr = rest.split('?').next()?;
        let (_, host) = addr.rsplit_once('@')?;
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        (!host.is_empty()).then_some(host)
    }
}

/// A tag as written in the record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Tag {
    /// The name as written (case kept).
    pub name: String,
    /// The value, without surrounding white space.
    pub value: String,
    /// Byte offset of the name.
    pub position: usize,
}

/// A parsed DMARC record. Absent tags are `None`; the `effective_*` methods apply defaults.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DmarcRecord {
    /// Every tag, in order, as written.
    pub tags: Vec<Tag>,
    /// `p`: policy for the domain itself.
    pub p: Option<Policy>,
    /// `sp`: policy for subdomains.
    pub sp: Option<Policy>,
    /// `np` (RFC 9989): policy for non-existent subdomains.
    pub np: Option<Policy>,
    /// `pct` (RFC 7489; removed in RFC 9989).
    pub pct: Option<u8>,
    /// `rua`: aggregate report destinations.
    pub rua: Vec<ReportUri>,
    /// `ruf`: failure report destinations.
    pub ruf: Vec<ReportUri>,
    /// `adkim`.
    pub adkim: Option<Alignment>,
    /// `aspf`.
    pub aspf: Option<Alignment>,
    /// `fo`: failure reporting options (`0`, `1`, `d`, `s`).
    pub fo: Vec<String>,
    /// `rf` (RFC 7489; removed in RFC 9989): failure report formats.
    pub rf: Vec<String>,
    /// `ri` (RFC 7489; removed in RFC 9989): aggregate report interval in seconds.
    pub ri: Option<u32>,
    /// `t` (RFC 9989): testing mode.
    pub t: Option<bool>,
    /// `psd` (RFC 9989).
    pub psd: Option<Psd>,
    /// Names of tags neither RFC defines, lower-cased.
    pub unknown: Vec<String>,
    /// Whether `p` came directly after `v`, as RFC 7489's grammar requires.
    pub p_follows_v: bool,
}

impl DmarcRecord {
    /// The policy for existing subdomains: `sp`, else `p`.
    pub fn effective_sp(&self) -> Option<Policy> {
        self.sp.or(self.p)
    }

    /// The policy for non-existent subdomains: `np`, else `sp`, else `p`.
    pub fn effective_np(&self) -> Option<Policy> {
        self.np.or(self.sp).or(self.p)
    }

    /// Whether the record asks for testing mode (`t=y`) or samples (`pct` below 100).
    pub fn is_testing(&self) -> bool {
        self.t == Some(true) || self.pct.is_some_and(|p| p < 100)
    }

    fn tag(&self, name: &str) -> Option<&Tag> {
        self.tags.iter().find(|t| t.name.eq_ignore_ascii_case(name))
    }
}

/// A problem found while parsing: the record structure broke (`fatal`), or one tag's value is
/// invalid and the rest could still be read.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Parsed {
    record: DmarcRecord,
    value_errors: Vec<ParseError>,
}

/// Whether a TXT record claims to be DMARC (`v=DMARC1` with any case and spacing), so that a
/// broken one is reported instead of ignored.
pub fn looks_like_dmarc(txt: &str) -> bool {
    let t = txt.trim_start_matches([' ', '\t', '"']);
    let Some(rest) = strip_prefix_ci(t, "v") else {
        return false;
    };
    let rest = rest.trim_start_matches([' ', '\t']);
    let Some(rest) = rest.strip_prefix('=') else {
        return false;
    };
    strip_prefix_ci(rest.trim_start_matches([' ', '\t']), "dmarc").is_some()
}

/// Whether a receiver following RFC 9989 treats this TXT record as a DMARC record candidate:
/// it starts with `v=DMARC1` (white space around `=` allowed), followed by `;`, space or end.
pub fn is_dmarc_candidate(txt: &str) -> bool {
    let mut c = Cursor::new(txt);
    if !(c.eat("v") || c.eat("V")) {
        return false;
    }
    c.wsp();
    if !c.eat("=") {
        return false;
    }
    c.wsp();
    c.eat("DMARC1") && matches!(c.peek(), None | Some(b';' | b' ' | b'\t'))
}

/// Parses a DMARC record strictly: any syntax error or invalid tag value is an error naming the
/// tag and byte offset. A missing `p` is not a syntax error here (RFC 9989 makes it optional);
/// [`check_dmarc`] reports it.
pub fn parse_dmarc(txt: &str) -> Result<DmarcRecord, ParseError> {
    let parsed = parse_inner(txt)?;
    match parsed.value_errors.into_iter().next() {
        Some(e) => Err(e),
        None => Ok(parsed.record),
    }
}

/// How a receiver that follows RFC 7489 to the letter (as mox does) reads the record: `None`
/// when it ignores it. A record whose only faults are a missing or invalid `p` (including `p`
/// not directly after `v`) or an invalid `sp` is read as `p=none` when it names at least one
/// valid `rua` URI (RFC 7489 section 6.6.3).
pub fn rfc7489_view(txt: &str) -> Option<DmarcRecord> {
    let parsed = parse_inner(txt).ok()?;
    let mut record = parsed.record;
    let only_policy_errors = parsed.value_errors.iter().all(|e| {
        matches!(
            e.tag.as_deref().map(str::to_ascii_lowercase).as_deref(),
            Some("p" | "sp")
        )
    });
    if !only_policy_errors {
        return None;
    }
    let p_invalid = parsed.value_errors.iter().any(|e| {
        e.tag
            .as_deref()
            .is_some_and(|t| t.eq_ignore_ascii_case("p"))
    });
    let sp_invalid = parsed.value_errors.iter().any(|e| {
        e.tag
            .as_deref()
            .is_some_and(|t| t.eq_ignore_ascii_case("sp"))
    });
    if record.p.is_none() || p_invalid || sp_invalid || !record.p_follows_v {
        if record.rua.is_empty() {
            return None;
        }
        record.p = Some(Policy::None);
        record.sp = None;
    }
    Some(record)
}

fn parse_inner(txt: &str) -> Result<Parsed, ParseError> {
    let mut c = Cursor::new(txt);
    if txt.trim().is_empty() {
        return Err(ParseError::new(None, 0, "the record is empty"));
    }
    if txt.starts_with('"') {
        return Err(ParseError::new(
            None,
            0,
            "the record starts with a quote: the quotes of the zone file were published as text",
        ));
    }
    if txt.starts_with([' ', '\t']) {
        return Err(ParseError::new(
            None,
            0,
            "the record starts with white space; it must start with v=DMARC1",
        ));
    }
    let mut tags: Vec<Tag> = Vec::new();
    loop {
        c.wsp();
        if c.at_end() {
            break;
        }
        let start = c.pos;
        let name = c.take_while(|b, _| b.is_ascii_alphanumeric() || b == b'_');
        if name.is_empty() {
            let msg = if c.peek() == Some(b';') {
                "empty tag (two ';' in a row)".to_string()
            } else {
                format!("expected a tag name, found {:?}", char_at(txt, c.pos))
            };
            return Err(ParseError::new(None, c.pos, msg));
        }
        if tags.is_empty() && !name.eq_ignore_ascii_case("v") {
            return Err(ParseError::new(
                Some(name),
                start,
                "the record must start with v=DMARC1",
            ));
        }
        if let Some(prev) = tags.iter().find(|t| t.name.eq_ignore_ascii_case(name)) {
            return Err(ParseError::new(
                Some(name),
                start,
                format!("duplicate tag (first at byte {})", prev.position),
            ));
        }
        c.wsp();
        if !c.eat("=") {
            return Err(ParseError::new(
                Some(name),
                c.pos,
                format!(
                    "expected '=' after the tag name, found {:?}",
                    char_at(txt, c.pos)
                ),
            ));
        }
        c.wsp();
        let value = c.take_while(|b, _| b != b';');
        let value = value.trim_end_matches([' ', '\t']);
        if tags.is_empty() && value != "DMARC1" {
            let msg = if value.eq_ignore_ascii_case("DMARC1") {
                "the version must be DMARC1 in upper case".to_string()
            } else if value.starts_with("DMARC1 ") || value.starts_with("DMARC1\t") {
                "missing ';' after v=DMARC1".to_string()
            } else {
                format!("unknown version {value:?}; must be DMARC1")
            };
            return Err(ParseError::new(Some(name), start, msg));
        }
        tags.push(Tag {
            name: name.to_string(),
            value: value.to_string(),
            position: start,
        });
        if !c.eat(";") && !c.at_end() {
            return Err(ParseError::new(Some(name), c.pos, "expected ';'"));
        }
    }
    let mut r = DmarcRecord {
        tags: tags.clone(),
        p: None,
        sp: None,
        np: None,
        pct: None,
        rua: Vec::new(),
        ruf: Vec::new(),
        adkim: None,
        aspf: None,
        fo: Vec::new(),
        rf: Vec::new(),
        ri: None,
        t: None,
        psd: None,
        unknown: Vec::new(),
        p_follows_v: tags
            .get(1)
            .is_some_and(|t| t.name.eq_ignore_ascii_case("p")),
    };
    let mut errors = Vec::new();
    for tag in &tags[1..] {
        let lname = tag.name.to_ascii_lowercase();
        let v = tag.value.as_str();
        let err = |m: String| ParseError::new(Some(&tag.name), tag.position, m);
        let result: Result<(), ParseError> = match lname.as_str() {
            "p" => policy(v).map(|p| r.p = Some(p)).map_err(err),
            "sp" => policy(v).map(|p| r.sp = Some(p)).map_err(err),
            "np" => policy(v).map(|p| r.np = Some(p)).map_err(err),
            "adkim" => align(v).map(|a| r.adkim = Some(a)).map_err(err),
            "aspf" => align(v).map(|a| r.aspf = Some(a)).map_err(err),
            "pct" => match number(v) {
                Some(n) if n <= 100 => {
                    r.pct = Some(n as u8);
                    Ok(())
                }
                _ => Err(err(format!("{v:?} is not a percentage from 0 to 100"))),
            },
            "ri" => match number(v).and_then(|n| u32::try_from(n).ok()) {
                Some(n) => {
                    r.ri = Some(n);
                    Ok(())
                }
                None => Err(err(format!("{v:?} is not a number of seconds"))),
            },
            "fo" => list(v, ':')
                .map(|items| {
                    items
                        .iter()
                        .map(|i| {
                            let l = i.to_ascii_lowercase();
                            if matches!(l.as_str(), "0" | "1" | "d" | "s") {
                                Ok(l)
                            } else {
                                Err(format!("{i:?} is not a failure option (0, 1, d or s)"))
                            }
                        })
                        .collect::<Result<Vec<_>, _>>()
                })
                .and_then(|x| x)
                .map(|fo| r.fo = fo)
                .map_err(err),
            "rf" => list(v, ':')
                .and_then(|items| {
                    items
                        .iter()
                        .map(|i| {
                            if keyword(i) {
                                Ok(i.to_ascii_lowercase())
                            } else {
                                Err(format!("{i:?} is not a report format name"))
                            }
                        })
                        .collect::<Result<Vec<_>, _>>()
                })
                .map(|rf| r.rf = rf)
                .map_err(err),
            "rua" => uris(v).map(|u| r.rua = u).map_err(err),
            "ruf" => uris(v).map(|u| r.ruf = u).map_err(err),
            "t" => match v.to_ascii_lowercase().as_str() {
                "y" => {
                    r.t = Some(true);
                    Ok(())
                }
                "n" => {
                    r.t = Some(false);
                    Ok(())
                }
                _ => Err(err(format!("{v:?} is not y or n"))),
            },
            "psd" => match v.to_ascii_lowercase().as_str() {
                "y" => {
                    r.psd = Some(Psd::Yes);
                    Ok(())
                }
                "n" => {
                    r.psd = Some(Psd::No);
                    Ok(())
                }
                "u" => {
                    r.psd = Some(Psd::Unknown);
                    Ok(())
                }
                _ => Err(err(format!("{v:?} is not y, n or u"))),
            },
            _ => {
                r.unknown.push(lname.clone());
                Ok(())
            }
        };
        if let Err(e) = result {
            errors.push(e);
        }
    }
    Ok(Parsed {
        record: r,
        value_errors: errors,
    })
}

fn char_at(s: &str, pos: usize) -> String {
    s[pos..]
        .chars()
        .next()
        .map(String::from)
        .unwrap_or_else(|| "the end".into())
}

fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    (s.len() >= prefix.len()
        && s.is_char_boundary(prefix.len())
        && s[..prefix.len()].eq_ignore_ascii_case(prefix))
    .then(|| &s[prefix.len()..])
}

fn policy(v: &str) -> Result<Policy, String> {
    match v.to_ascii_lowercase().as_str() {
        "none" => Ok(Policy::None),
        "quarantine" => Ok(Policy::Quarantine),
        "reject" => Ok(Policy::Reject),
        "" => Err("empty value; must be none, quarantine or reject".into()),
        _ => Err(format!("{v:?} is not none, quarantine or reject")),
    }
}

fn align(v: &str) -> Result<Alignment, String> {
    match v.to_ascii_lowercase().as_str() {
        "r" => Ok(Alignment::Relaxed),
        "s" => Ok(Alignment::Strict),
        _ => Err(format!("{v:?} is not r or s")),
    }
}

fn number(v: &str) -> Option<u64> {
    if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    v.parse().ok()
}

fn keyword(v: &str) -> bool {
    // RFC 5321 Keyword: ALPHA / DIGIT, with inner hyphens.
    !v.is_empty()
        && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && !v.starts_with('-')
        && !v.ends_with('-')
}

fn list(v: &str, sep: char) -> Result<Vec<String>, String> {
    let items: Vec<String> = v
        .split(sep)
        .map(|i| i.trim_matches([' ', '\t']).to_string())
        .collect();
    if items.iter().any(String::is_empty) {
        return Err(if v.is_empty() {
            "empty value".into()
        } else {
            format!("empty item in {v:?}")
        });
    }
    Ok(items)
}

fn uris(v: &str) -> Result<Vec<ReportUri>, String> {
    let mut out = Vec::new();
    for item in list(v, ',')? {
        let (uri, size) = match item.split_once('!') {
            Some((u, s)) => (u, Some(s)),
            None => (item.as_str(), None),
        };
        if uri.contains([' ', '\t']) {
            return Err(format!("white space inside the URI {uri:?}"));
        }
        if !uri_syntax_ok(uri) {
            return Err(format!(
                "{uri:?} is not a URI (a scheme such as mailto: is required)"
            ));
        }
        let (max_size, unit) = match size {
            None => (None, None),
            Some(s) => {
                let (digits, unit) = match s.chars().last() {
                    Some(u @ ('k' | 'm' | 'g' | 't' | 'K' | 'M' | 'G' | 'T')) => {
                        (&s[..s.len() - 1], Some(u.to_ascii_lowercase()))
                    }
                    _ => (s, None),
                };
                match number(digits) {
                    Some(n) => (Some(n), unit),
                    None => {
                        return Err(format!(
                            "bad size limit {s:?} after '!' in {item:?} (digits, then k, m, g or t)"
                        ));
                    }
                }
            }
        };
        out.push(ReportUri {
            uri: uri.to_string(),
            max_size,
            unit,
        });
    }
    Ok(out)
}

/// A report destination outside the policy domain's organisation, which receivers only send
/// to when the destination publishes an authorisation record (RFC 7489 section 7.1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReportAuthorisation {
    /// The destination host (the domain of the `mailto:` address).
    pub destination: String,
    /// The TXT name a caller must look up: `<domain>._report._dmarc.<destination>`.
    pub query: String,
    /// The `rua`/`ruf` URIs that go there.
    pub uris: Vec<String>,
}

/// The external report destinations of `record` published for `domain`: every `mailto:` host
/// that is not `org_domain` (default: `domain`) or below it.
pub fn external_destinations(
    domain: &str,
    org_domain: Option<&str>,
    record: &DmarcRecord,
) -> Vec<ReportAuthorisation> {
    let domain = domain.trim_end_matches('.').to_ascii_lowercase();
    let org = org_domain
        .map(|o| o.trim_end_matches('.').to_ascii_lowercase())
        .unwrap_or_else(|| domain.clone());
    let inside =
        |h: &str| h == org || h.ends_with(&format!(".{org}")) || domain.ends_with(&format!(".{h}"));
    let mut out: Vec<ReportAuthorisation> = Vec::new();
    for u in record.rua.iter().chain(&record.ruf) {
        let Some(host) = u.mailto_domain() else {
            continue;
        };
        if inside(&host) {
            continue;
        }
        match out.iter_mut().find(|a| a.destination == host) {
            Some(a) => {
                if !a.uris.contains(&u.uri) {
                    a.uris.push(u.uri.clone());
                }
            }
            None => out.push(ReportAuthorisation {
                query: format!("{domain}._report._dmarc.{host}"),
                destination: host,
                uris: vec![u.uri.clone()],
            }),
        }
    }
    out
}

/// Judges the answer for one [`ReportAuthorisation`] query: authorised when a TXT record there
/// starts with `v=DMARC1`.
pub fn check_report_authorisation(auth: &ReportAuthorisation, answer: &TxtAnswer) -> Finding {
    match answer {
        TxtAnswer::Records(rs) if rs.iter().any(|r| is_dmarc_candidate(r)) => Finding::new(
            "dmarc.report_authorised",
            Severity::Info,
            format!("{} accepts reports for this domain ({})", auth.destination, auth.query),
        ),
        TxtAnswer::Error(e) => Finding::new(
            "dmarc.report_auth_unknown",
            Severity::Warn,
            format!("could not look up {}: {e}", auth.query),
        )
        .fix("Look the name up again; a failing look-up also stops receivers from sending reports."),
        _ => Finding::new(
            "dmarc.report_unauthorised",
            Severity::Warn,
            format!(
                "{} does not authorise reports for this domain: receivers will not send reports to {}",
                auth.destination,
                auth.uris.join(", ")
            ),
        )
        .fix(format!(
            "Ask the operator of {} to publish TXT \"v=DMARC1;\" at {}, or report to an address in your own domain.",
            auth.destination, auth.query
        )),
    }
}

/// Checks the TXT records found at `_dmarc.<domain>`. `org_domain` decides which report
/// destinations are external (default: `domain` itself).
pub fn check_dmarc(
    domain: &str,
    org_domain: Option<&str>,
    answer: &TxtAnswer,
) -> Check<DmarcRecord> {
    let records = match answer {
        TxtAnswer::Error(e) => {
            return Check::lookup_failed(
                "dmarc.lookup_error",
                &format!("_dmarc.{domain}"),
                e,
                Some(
                    "Check the domain's name servers answer TXT queries; receivers that see this error treat it as temporary.",
                ),
            );
        }
        TxtAnswer::NoRecord => return none_check(domain, &[]),
        TxtAnswer::Records(rs) => rs,
    };
    let dmarc: Vec<&String> = records.iter().filter(|r| looks_like_dmarc(r)).collect();
    match dmarc.len() {
        0 => return none_check(domain, records),
        1 => {}
        n => {
            return Check::from_findings(
                None,
                vec![Finding::new(
                    "dmarc.multiple_records",
                    Severity::Fail,
                    format!("_dmarc.{domain} has {n} DMARC records; receivers then apply none of them"),
                )
                .fix("Keep exactly one TXT record starting with v=DMARC1.")],
            );
        }
    }
    check_record(domain, org_domain, dmarc[0])
}

fn none_check(domain: &str, others: &[String]) -> Check<DmarcRecord> {
    let mut f = Finding::new(
        "dmarc.none",
        Severity::Info,
        format!("_dmarc.{domain} publishes no DMARC record"),
    )
    .fix("Publish TXT at _dmarc with v=DMARC1; p=none; rua=mailto:<address> to start monitoring, then move to quarantine or reject.");
    if !others.is_empty() {
        f.summary
            .push_str(&format!(" (it has {} other TXT record(s))", others.len()));
    }
    Check::with_status(Status::None, f)
}

/// Checks one DMARC record text (already known to be the only one at its name).
pub fn check_record(domain: &str, org_domain: Option<&str>, txt: &str) -> Check<DmarcRecord> {
    let mut findings = Vec::new();
    let parsed = match parse_inner(txt) {
        Ok(p) => p,
        Err(e) => {
            return Check::from_findings(None, vec![syntax_finding(&e)]);
        }
    };
    for e in &parsed.value_errors {
        findings.push(syntax_finding(e));
    }
    let r = parsed.record;
    if !parsed.value_errors.is_empty() {
        if let Some(view) = rfc7489_view(txt) {
            findings.push(Finding::new(
                "dmarc.fallback_none",
                Severity::Info,
                format!(
                    "receivers following RFC 7489 read this broken record as p={} because it has a valid rua",
                    view.p.map_or("none", Policy::as_str)
                ),
            ));
        }
        return Check::from_findings(None, findings);
    }
    lint(domain, org_domain, txt, &r, &mut findings);
    Check::from_findings(Some(r), findings)
}

fn syntax_finding(e: &ParseError) -> Finding {
    let id = if e
        .tag
        .as_deref()
        .is_some_and(|t| t.eq_ignore_ascii_case("v"))
        || e.tag.is_none() && e.position == 0
    {
        "dmarc.bad_version"
    } else if e.message.starts_with("duplicate tag") {
        "dmarc.duplicate_tag"
    } else {
        "dmarc.syntax"
    };
    Finding::new(id, Severity::Fail, format!("invalid DMARC record: {e}"))
        .fix("Correct the record; receivers ignore a record they cannot parse (or, under RFC 7489, fall back to p=none).")
}

fn lint(
    domain: &str,
    org_domain: Option<&str>,
    txt: &str,
    r: &DmarcRecord,
    out: &mut Vec<Finding>,
) {
    // Spacing and case that some receivers' prefix matching trips over.
    if !txt.starts_with("v=DMARC1") {
        out.push(
            Finding::new(
                "dmarc.whitespace",
                Severity::Warn,
                "the record does not start with the exact text v=DMARC1 (white space or case differs)",
            )
            .fix("Write it as v=DMARC1; p=...: receivers that match the literal prefix skip other spellings."),
        );
    }
    let upper: Vec<&str> = r
        .tags
        .iter()
        .skip(1)
        .filter(|t| {
            t.name.bytes().any(|b| b.is_ascii_uppercase())
                || (matches!(
                    t.name.to_ascii_lowercase().as_str(),
                    "p" | "sp" | "np" | "adkim" | "aspf" | "fo" | "t" | "psd"
                ) && t.value.bytes().any(|b| b.is_ascii_uppercase()))
        })
        .map(|t| t.name.as_str())
        .collect();
    if !upper.is_empty() {
        out.push(
            Finding::new(
                "dmarc.uppercase",
                Severity::Warn,
                format!(
                    "upper case in tag(s) {}; valid, but some receivers compare in lower case",
                    upper.join(", ")
                ),
            )
            .fix("Write tag names and keyword values in lower case."),
        );
    }

    // Policy.
    match r.p {
        None => {
            let mut f = Finding::new(
                "dmarc.missing_p",
                Severity::Fail,
                "the record has no p tag: RFC 7489 requires it, and receivers ignore the record unless rua is valid (then they read p=none)",
            )
            .fix("Add p=none, p=quarantine or p=reject directly after v=DMARC1.");
            if r.rua.is_empty() {
                f.summary.push_str("; this record has no rua, so it is ignored");
            }
            out.push(f);
        }
        Some(_) if !r.p_follows_v => out.push(
            Finding::new(
                "dmarc.p_not_after_v",
                Severity::Warn,
                "p is not the tag right after v=DMARC1: RFC 7489 requires that order and strict receivers ignore the record",
            )
            .fix("Move p= directly after v=DMARC1;."),
        ),
        _ => {}
    }
    match r.p {
        Some(Policy::None) => out.push(
            Finding::new(
                "dmarc.policy_none",
                Severity::Warn,
                "p=none: monitoring only; mail that fails DMARC is still delivered",
            )
            .fix("Once the aggregate reports show all legitimate mail passing, move to p=quarantine and then p=reject."),
        ),
        Some(Policy::Quarantine) => out.push(Finding::new(
            "dmarc.policy_quarantine",
            Severity::Info,
            "p=quarantine: failing mail goes to spam; p=reject is the strongest policy",
        )),
        _ => {}
    }
    if let (Some(p), Some(sp)) = (r.p, r.sp)
        && sp < p
    {
        out.push(
            Finding::new(
                "dmarc.sp_weaker",
                Severity::Warn,
                format!(
                    "sp={} is weaker than p={}: subdomains are easier to spoof",
                    sp.as_str(),
                    p.as_str()
                ),
            )
            .fix("Remove sp (subdomains then inherit p) or raise it to match p."),
        );
    }
    if let (Some(base), Some(np)) = (r.effective_sp(), r.np)
        && np < base
    {
        out.push(
            Finding::new(
                "dmarc.np_weaker",
                Severity::Warn,
                format!(
                    "np={} is weaker than the policy for existing subdomains ({})",
                    np.as_str(),
                    base.as_str()
                ),
            )
            .fix("Non-existent subdomains send no legitimate mail: use np=reject."),
        );
    }
    if r.t == Some(true) {
        out.push(
            Finding::new(
                "dmarc.testing",
                Severity::Warn,
                "t=y: testing mode; receivers apply one step less than the policy (reject acts as quarantine, quarantine as none)",
            )
            .fix("Remove t=y when the policy is ready to be enforced."),
        );
    }
    if let Some(pct) = r.pct
        && pct < 100
    {
        out.push(
                Finding::new(
                    "dmarc.pct_partial",
                    Severity::Warn,
                    format!("pct={pct}: the policy applies to only part of the failing mail (RFC 9989 receivers ignore pct)"),
                )
                .fix("Remove pct (or set 100); for a gradual roll-out RFC 9989 uses t=y instead."),
            );
    }

    let removed: Vec<&str> = ["pct", "rf", "ri"]
        .into_iter()
        .filter(|t| r.tag(t).is_some())
        .collect();
    if !removed.is_empty() {
        out.push(Finding::new(
            "dmarc.removed_tag",
            Severity::Info,
            format!(
                "{} removed in RFC 9989; receivers following it ignore them",
                removed.join(", ")
            ),
        ));
    }
    if let Some(rf) = r.rf.iter().find(|f| f.as_str() != "afrf") {
        out.push(Finding::new(
            "dmarc.rf_unknown",
            Severity::Warn,
            format!("rf={rf}: afrf is the only registered failure report format; receivers ignore others"),
        ).fix("Remove rf or use rf=afrf."));
    }
    if r.psd == Some(Psd::Yes) {
        out.push(Finding::new(
            "dmarc.psd",
            Severity::Info,
            "psd=y declares this domain a public suffix (registry) domain; ordinary domains must not set it",
        ));
    }

    // Reporting.
    if r.rua.is_empty() {
        out.push(
            Finding::new(
                "dmarc.no_rua",
                Severity::Warn,
                "no rua: nobody receives aggregate reports, so failures go unnoticed",
            )
            .fix("Add rua=mailto:<address> (an address you read, or a DMARC report service)."),
        );
    }
    for (tag, list) in [("rua", &r.rua), ("ruf", &r.ruf)] {
        for u in list {
            if strip_prefix_ci(&u.uri, "mailto:").is_none() {
                out.push(
                    Finding::new(
                        "dmarc.uri_not_mailto",
                        Severity::Warn,
                        format!(
                            "{tag} URI {} is not mailto:; receivers only send reports by mail",
                            u.uri
                        ),
                    )
                    .fix("Use mailto: URIs."),
                );
            } else if u.mailto_domain().is_none() {
                out.push(
                    Finding::new(
                        "dmarc.bad_mailto",
                        Severity::Warn,
                        format!("{tag} URI {} has no address@domain", u.uri),
                    )
                    .fix("Write it as mailto:name@domain."),
                );
            }
        }
    }
    if !r.fo.is_empty() && r.ruf.is_empty() {
        out.push(Finding::new(
            "dmarc.fo_without_ruf",
            Severity::Info,
            "fo is set but there is no ruf, so it has no effect",
        ));
    }
    let external = external_destinations(domain, org_domain, r);
    if !external.is_empty() {
        out.push(Finding::new(
            "dmarc.external_report",
            Severity::Info,
            format!(
                "reports go to other domains, which must authorise them: look up {}",
                external
                    .iter()
                    .map(|e| e.query.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    }
    if !r.unknown.is_empty() {
        out.push(
            Finding::new(
                "dmarc.unknown_tag",
                Severity::Warn,
                format!(
                    "unknown tag(s) {}: receivers ignore them",
                    r.unknown.join(", ")
                ),
            )
            .fix("Remove them, or correct a misspelt tag name."),
        );
    }
}

/// Whether `identifier` (an SPF or DKIM domain) aligns with the `author` domain (RFC 5322.From)
/// under `mode`. `org` maps a domain to its organisational domain (from [`crate::walk`] or
/// [`crate::psl`]) and is given A-labels. Leading and trailing dots are ignored, U-labels are
/// converted to A-labels, and names with empty labels never align.
pub fn aligned(
    author: &str,
    identifier: &str,
    mode: Alignment,
    org: impl Fn(&str) -> String,
) -> bool {
    let norm = |d: &str| {
        let d = d.trim_matches('.');
        let d = if d.is_ascii() {
            d.to_ascii_lowercase()
        } else {
            idna::domain_to_ascii(d).ok()?
        };
        (!d.is_empty() && !d.split('.').any(str::is_empty)).then_some(d)
    };
    let (Some(a), Some(i)) = (norm(author), norm(identifier)) else {
        return false;
    };
    match mode {
        Alignment::Strict => a == i,
        Alignment::Relaxed => a == i || org(&a) == org(&i),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(c: &Check<DmarcRecord>) -> Vec<&'static str> {
        c.findings.iter().map(|f| f.id).collect()
    }

    #[test]
    fn parses_all_tags() {
        let r = parse_dmarc("v=DMARC1; p=reject; sp=quarantine; np=reject; pct=50; rua=mailto:a@example.com!10m, mailto:b@example.org; ruf=mailto:f@example.com; adkim=s; aspf=r; fo=0:1:d:s; rf=afrf; ri=3600; t=y; psd=n").unwrap();
        assert_eq!(r.p, Some(Policy::Reject));
        assert_eq!(r.sp, Some(Policy::Quarantine));
        assert_eq!(r.np, Some(Policy::Reject));
        assert_eq!(r.pct, Some(50));
        assert_eq!(r.rua.len(), 2);
        assert_eq!(r.rua[0].max_size, Some(10));
        assert_eq!(r.rua[0].unit, Some('m'));
        assert_eq!(r.adkim, Some(Alignment::Strict));
        assert_eq!(r.fo, vec!["0", "1", "d", "s"]);
        assert_eq!(r.ri, Some(3600));
        assert_eq!(r.t, Some(true));
        assert_eq!(r.psd, Some(Psd::No));
        assert!(r.p_follows_v);
    }

    #[test]
    fn errors_name_tag_and_position() {
        let e = parse_dmarc("v=DMARC1; p=reject; pct=150").unwrap_err();
        assert_eq!(e.tag.as_deref(), Some("pct"));
        assert_eq!(e.position, 20);
        let e = parse_dmarc("v=DMARC1; p=none; p=reject").unwrap_err();
        assert!(e.message.contains("duplicate"));
        assert_eq!(e.position, 18);
        let e = parse_dmarc("v=DMARC1 p=none").unwrap_err();
        assert!(e.message.contains("missing ';'"), "{e}");
        let e = parse_dmarc("v=dmarc1; p=none").unwrap_err();
        assert!(e.message.contains("upper case"), "{e}");
        assert!(parse_dmarc("\"v=DMARC1; p=none\"").is_err());
        assert!(parse_dmarc("v=DMARC1;; p=none").is_err());
        assert!(parse_dmarc("v=DMARC1; p=none; rua=mailto:a@b.example!").is_err());
        assert!(parse_dmarc("v=DMARC1; p=none; rua=a@b.example").is_err());
    }

    #[test]
    fn lints() {
        let c = check_dmarc(
            "example.com",
            None,
            &TxtAnswer::Records(vec!["v=DMARC1; p=none".into()]),
        );
        assert_eq!(c.status, Status::Warn);
        assert!(ids(&c).contains(&"dmarc.policy_none"));
        assert!(ids(&c).contains(&"dmarc.no_rua"));

        let c = check_dmarc(
            "example.com",
            None,
            &TxtAnswer::Records(vec![
                "v=DMARC1; p=reject; sp=none; pct=20; rua=https://r.example/x; foo=bar".into(),
            ]),
        );
        for id in [
            "dmarc.sp_weaker",
            "dmarc.pct_partial",
            "dmarc.uri_not_mailto",
            "dmarc.unknown_tag",
            "dmarc.removed_tag",
        ] {
            assert!(ids(&c).contains(&id), "{id} in {:?}", ids(&c));
        }

        let c = check_dmarc(
            "example.com",
            None,
            &TxtAnswer::Records(vec!["v=DMARC1; p=reject; rua=mailto:d@example.com".into()]),
        );
        assert_eq!(c.status, Status::Pass, "{:?}", c.findings);

        let c = check_dmarc(
            "example.com",
            None,
            &TxtAnswer::Records(vec![
                "V = DMARC1; P=Reject; rua=mailto:d@example.com".into(),
            ]),
        );
        assert!(ids(&c).contains(&"dmarc.whitespace"));
        assert!(ids(&c).contains(&"dmarc.uppercase"));

        let c = check_dmarc(
            "example.com",
            None,
            &TxtAnswer::Records(vec![
                "v=DMARC1; sp=reject; p=reject; rua=mailto:d@example.com".into(),
            ]),
        );
        assert!(ids(&c).contains(&"dmarc.p_not_after_v"));
    }

    #[test]
    fn none_multiple_error() {
        assert_eq!(
            check_dmarc("e.com", None, &TxtAnswer::NoRecord).status,
            Status::None
        );
        assert_eq!(
            check_dmarc(
                "e.com",
                None,
                &TxtAnswer::Records(vec!["v=spf1 -all".into()])
            )
            .status,
            Status::None
        );
        let two = TxtAnswer::Records(vec!["v=DMARC1; p=none".into(), "v=DMARC1; p=reject".into()]);
        assert!(check_dmarc("e.com", None, &two).has("dmarc.multiple_records"));
        assert_eq!(
            check_dmarc("e.com", None, &TxtAnswer::Error("SERVFAIL".into())).status,
            Status::Error
        );
        let bad = check_dmarc(
            "e.com",
            None,
            &TxtAnswer::Records(vec!["v=DMARC1; p=bogus".into()]),
        );
        assert_eq!(bad.status, Status::Fail);
        assert!(bad.has("dmarc.syntax"));
    }

    #[test]
    fn external_report_names() {
        let r = parse_dmarc("v=DMARC1; p=reject; rua=mailto:a@example.com,mailto:x@reports.vendor.example; ruf=mailto:y@Reports.Vendor.example").unwrap();
        let ext = external_destinations("example.com", None, &r);
        assert_eq!(ext.len(), 1);
        assert_eq!(
            ext[0].query,
            "example.com._report._dmarc.reports.vendor.example"
        );
        assert_eq!(ext[0].uris.len(), 2);
        let ok = check_report_authorisation(&ext[0], &TxtAnswer::Records(vec!["v=DMARC1;".into()]));
        assert_eq!(ok.id, "dmarc.report_authorised");
        let no = check_report_authorisation(&ext[0], &TxtAnswer::NoRecord);
        assert_eq!(no.id, "dmarc.report_unauthorised");
        // A parent or subdomain of the policy domain is not external.
        let r = parse_dmarc("v=DMARC1; p=reject; rua=mailto:a@example.com").unwrap();
        assert!(external_destinations("mail.example.com", None, &r).is_empty());
    }

    #[test]
    fn rfc7489_fallback() {
        assert_eq!(
            rfc7489_view("v=DMARC1; rua=mailto:a@b.example").unwrap().p,
            Some(Policy::None)
        );
        assert_eq!(
            rfc7489_view("v=DMARC1; p=reject; sp=bad; rua=mailto:a@b.example")
                .unwrap()
                .p,
            Some(Policy::None)
        );
        assert!(rfc7489_view("v=DMARC1; sp=reject; p=reject").is_none());
        assert!(rfc7489_view("v=DMARC1; p=reject; adkim=x; rua=mailto:a@b.example").is_none());
    }

    #[test]
    fn alignment() {
        let org = |d: &str| {
            let labels: Vec<&str> = d.rsplitn(3, '.').collect();
            format!("{}.{}", labels[1], labels[0])
        };
        assert!(aligned(
            "a.example.com",
            "b.example.com",
            Alignment::Relaxed,
            org
        ));
        assert!(!aligned(
            "a.example.com",
            "b.example.com",
            Alignment::Strict,
            org
        ));
        assert!(aligned(
            ".example.com.",
            "example.com",
            Alignment::Strict,
            org
        ));
        assert!(!aligned("a..com", "..com", Alignment::Strict, org));
    }
}
