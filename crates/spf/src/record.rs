//! The strict RFC 7208 record parser: every term, qualifier, mechanism and modifier, CIDR
//! lengths and macro strings, with syntax errors that carry their byte position and say in
//! plain words what is wrong.

use crate::macros::{self, MacroString, Place, Token, describe_byte};
use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::ops::Range;

/// A syntax error: where it is (byte offset into the record text) and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    /// Byte offset into the record, counting from the `v` of `v=spf1`.
    pub position: usize,
    /// What sort of error, for a linter to group on.
    pub kind: SyntaxKind,
    /// What is wrong, in plain words.
    pub message: String,
}

impl fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "at byte {}: {}", self.position, self.message)
    }
}

impl std::error::Error for SyntaxError {}

/// The sorts of syntax error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyntaxKind {
    /// The text does not start with `v=spf1` followed by a space or the end.
    NotSpf,
    /// A byte outside 7-bit ASCII.
    NonAscii,
    /// A control character or other byte not allowed where it stands.
    BadCharacter,
    /// A term that is no known mechanism and no well-formed modifier.
    UnknownMechanism,
    /// A modifier whose name is empty or malformed, or a qualifier before a modifier.
    BadModifier,
    /// `redirect=` or `exp=` given twice.
    DuplicateModifier,
    /// A mechanism that needs a domain has none, or an argument where none is allowed.
    BadArgument,
    /// A domain that does not end in a valid top-level label or a macro.
    BadDomain,
    /// A malformed macro.
    BadMacro,
    /// An address in `ip4:` or `ip6:` that does not parse.
    BadAddress,
    /// A prefix length that is malformed or too large.
    BadPrefix,
}

/// A qualifier: the result a matching mechanism gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Qualifier {
    /// `+`, the default.
    Pass,
    /// `-`.
    Fail,
    /// `~`.
    SoftFail,
    /// `?`.
    Neutral,
}

impl Qualifier {
    fn from_byte(b: u8) -> Option<Self> {
        match b {
            b'+' => Some(Self::Pass),
            b'-' => Some(Self::Fail),
            b'~' => Some(Self::SoftFail),
            b'?' => Some(Self::Neutral),
            _ => None,
        }
    }

    /// The character written for it.
    pub fn symbol(self) -> char {
        match self {
            Self::Pass => '+',
            Self::Fail => '-',
            Self::SoftFail => '~',
            Self::Neutral => '?',
        }
    }
}

/// Prefix lengths after `a` or `mx`: `/v4` and `//v6`, each optional.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DualCidr {
    /// IPv4 prefix length (default 32).
    pub v4: Option<u8>,
    /// IPv6 prefix length (default 128).
    pub v6: Option<u8>,
}

/// A mechanism with its arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mechanism {
    /// `all`.
    All,
    /// `include:domain`.
    Include(MacroString),
    /// `a[:domain][/v4][//v6]`.
    A {
        /// The target; the current domain when absent.
        domain: Option<MacroString>,
        /// Prefix lengths.
        cidr: DualCidr,
    },
    /// `mx[:domain][/v4][//v6]`.
    Mx {
        /// The target; the current domain when absent.
        domain: Option<MacroString>,
        /// Prefix lengths.
        cidr: DualCidr,
    },
    /// `ptr[:domain]` (deprecated by RFC 7208 5.5).
    Ptr(Option<MacroString>),
    /// `ip4:address[/len]`.
    Ip4 {
        /// The network address.
        addr: Ipv4Addr,
        /// The prefix length, when written.
        prefix: Option<u8>,
    },
    /// `ip6:address[/len]`.
    Ip6 {
        /// The network address.
        addr: Ipv6Addr,
        /// The prefix length, when written.
        prefix: Option<u8>,
    },
    /// `exists:domain`.
    Exists(MacroString),
}

impl Mechanism {
    /// The mechanism's name as RFC 7208 writes it.
    pub fn name(&self) -> &'static str {
        match self {
            Self::All => "all",
            Self::Include(_) => "include",
            Self::A { .. } => "a",
            Self::Mx { .. } => "mx",
            Self::Ptr(_) => "ptr",
            Self::Ip4 { .. } => "ip4",
            Self::Ip6 { .. } => "ip6",
            Self::Exists(_) => "exists",
        }
    }

    /// Whether evaluating it counts toward the limit of 10 DNS-querying terms (RFC 7208 4.6.4).
    pub fn counts_lookup(&self) -> bool {
        matches!(
            self,
            Self::Include(_) | Self::A { .. } | Self::Mx { .. } | Self::Ptr(_) | Self::Exists(_)
        )
    }
}

/// A directive: a qualifier and a mechanism.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Directive {
    /// The qualifier (`+` when none was written).
    pub qualifier: Qualifier,
    /// Whether the qualifier was written out.
    pub explicit_qualifier: bool,
    /// The mechanism.
    pub mechanism: Mechanism,
}

/// A modifier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Modifier {
    /// `redirect=domain`.
    Redirect(MacroString),
    /// `exp=domain`.
    Exp(MacroString),
    /// Any other `name=value`, which check_host() ignores.
    Unknown {
        /// The name as written.
        name: String,
        /// The value.
        value: MacroString,
    },
}

/// What a term is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TermKind {
    /// A qualifier and mechanism.
    Directive(Directive),
    /// A modifier.
    Modifier(Modifier),
}

/// One term of a record, with where it stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Term {
    /// Byte range in the record text.
    pub span: Range<usize>,
    /// The term as written.
    pub text: String,
    /// What it is.
    pub kind: TermKind,
}

impl Term {
    /// The directive, when the term is one.
    pub fn directive(&self) -> Option<&Directive> {
        match &self.kind {
            TermKind::Directive(d) => Some(d),
            TermKind::Modifier(_) => None,
        }
    }
}

/// A parsed SPF record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// The record text.
    pub text: String,
    /// Its terms in order.
    pub terms: Vec<Term>,
}

impl Record {
    /// The `redirect=` target, when present.
    pub fn redirect(&self) -> Option<&MacroString> {
        self.terms.iter().find_map(|t| match &t.kind {
            TermKind::Modifier(Modifier::Redirect(d)) => Some(d),
            _ => None,
        })
    }

    /// The `exp=` target, when present.
    pub fn exp(&self) -> Option<&MacroString> {
        self.terms.iter().find_map(|t| match &t.kind {
            TermKind::Modifier(Modifier::Exp(d)) => Some(d),
            _ => None,
        })
    }

    /// The directives in order.
    pub fn directives(&self) -> impl Iterator<Item = (&Term, &Directive)> {
        self.terms
            .iter()
            .filter_map(|t| t.directive().map(|d| (t, d)))
    }

    /// The `all` directive, when present.
    pub fn all(&self) -> Option<&Directive> {
        self.directives()
            .map(|(_, d)| d)
            .find(|d| d.mechanism == Mechanism::All)
    }
}

/// Whether TXT text is an SPF record: `v=spf1` (any case) followed by a space or the end
/// (RFC 7208 4.5). Other TXT records are none of SPF's business.
pub fn is_spf(text: &[u8]) -> bool {
    text.len() >= 6
        && text[..6].eq_ignore_ascii_case(b"v=spf1")
        && (text.len() == 6 || text[6] == b' ')
}

/// Parses a record given as text.
pub fn parse(text: &str) -> Result<Record, SyntaxError> {
    parse_bytes(text.as_bytes())
}

/// Parses a record given as the bytes of its TXT strings joined together.
pub fn parse_bytes(bytes: &[u8]) -> Result<Record, SyntaxError> {
    if !is_spf(bytes) {
        return Err(SyntaxError {
            position: 0,
            kind: SyntaxKind::NotSpf,
            message: "an SPF record must start with 'v=spf1' followed by a space or the end".into(),
        });
    }
    if let Some(at) = bytes.iter().position(|b| !b.is_ascii()) {
        return Err(SyntaxError {
            position: at,
            kind: SyntaxKind::NonAscii,
            message: format!(
                "byte {} is not ASCII; SPF records are 7-bit text",
                describe_byte(bytes[at])
            ),
        });
    }
    if let Some(at) = bytes.iter().position(|&b| b < 0x20 || b == 0x7f) {
        return Err(SyntaxError {
            position: at,
            kind: SyntaxKind::BadCharacter,
            message: format!(
                "control character {} found; terms are separated by spaces only",
                describe_byte(bytes[at])
            ),
        });
    }
    // Checked above: every byte is ASCII.
    let text = std::str::from_utf8(bytes).unwrap_or_default();
    let mut terms = Vec::new();
    let mut seen_redirect = false;
    let mut seen_exp = false;
    let mut at = 6;
    while at < text.len() {
        if text.as_bytes()[at] == b' ' {
            at += 1;
            continue;
        }
        let end = text[at..].find(' ').map_or(text.len(), |i| at + i);
        let term = parse_term(&text[at..end], at)?;
        match &term.kind {
            TermKind::Modifier(Modifier::Redirect(_)) if seen_redirect => {
                return Err(duplicate(at, "redirect"));
            }
            TermKind::Modifier(Modifier::Exp(_)) if seen_exp => {
                return Err(duplicate(at, "exp"));
            }
            TermKind::Modifier(Modifier::Redirect(_)) => seen_redirect = true,
            TermKind::Modifier(Modifier::Exp(_)) => seen_exp = true,
            _ => {}
        }
        terms.push(term);
        at = end;
    }
    Ok(Record {
        text: text.to_string(),
        terms,
    })
}

fn duplicate(at: usize, name: &str) -> SyntaxError {
    SyntaxError {
        position: at,
        kind: SyntaxKind::DuplicateModifier,
        message: format!("'{name}=' appears more than once; it may appear at most once"),
    }
}

fn is_name_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-_.".contains(&b)
}

fn parse_term(text: &str, at: usize) -> Result<Term, SyntaxError> {
    let b = text.as_bytes();
    let err = |off: usize, kind: SyntaxKind, message: String| SyntaxError {
        position: at + off,
        kind,
        message,
    };
    // A modifier is `name=`, the name running from a letter up to the '=' with no ':' or '/'.
    let name_len = b.iter().take_while(|&&c| is_name_char(c)).count();
    if name_len > 0 && b.get(name_len) == Some(&b'=') {
        if !b[0].is_ascii_alphabetic() {
            return Err(err(
                0,
                SyntaxKind::BadModifier,
                format!(
                    "the modifier name '{}' must start with a letter",
                    &text[..name_len]
                ),
            ));
        }
        let name = &text[..name_len];
        let value = &text[name_len + 1..];
        let voff = at + name_len + 1;
        let modifier = if name.eq_ignore_ascii_case("redirect") || name.eq_ignore_ascii_case("exp")
        {
            if value.is_empty() {
                return Err(err(
                    name_len + 1,
                    SyntaxKind::BadArgument,
                    format!("'{}=' needs a domain", name.to_ascii_lowercase()),
                ));
            }
            let domain = domain_spec(value, voff)?;
            if name.eq_ignore_ascii_case("redirect") {
                Modifier::Redirect(domain)
            } else {
                Modifier::Exp(domain)
            }
        } else {
            Modifier::Unknown {
                name: name.to_string(),
                value: macros::parse(value, voff, Place::UnknownModifier)?,
            }
        };
        return Ok(Term {
            span: at..at + text.len(),
            text: text.to_string(),
            kind: TermKind::Modifier(modifier),
        });
    }
    if b[0] == b'=' {
        return Err(err(
            0,
            SyntaxKind::BadModifier,
            "a modifier needs a name before '='".into(),
        ));
    }
    let (qualifier, explicit, start) = match Qualifier::from_byte(b[0]) {
        Some(q) => (q, true, 1),
        None => (Qualifier::Pass, false, 0),
    };
    let rest = &text[start..];
    let name_end = rest.find([':', '/']).unwrap_or(rest.len());
    let name = &rest[..name_end];
    if explicit {
        let nl = rest.bytes().take_while(|&c| is_name_char(c)).count();
        if nl > 0 && rest.as_bytes().get(nl) == Some(&b'=') {
            return Err(err(
                0,
                SyntaxKind::BadModifier,
                format!(
                    "a qualifier cannot stand before the modifier '{}='",
                    &rest[..nl]
                ),
            ));
        }
    }
    let arg = &rest[name_end..];
    let aoff = at + start + name_end;
    let lower = name.to_ascii_lowercase();
    let mechanism = match lower.as_str() {
        "all" => {
            if !arg.is_empty() {
                return Err(err(
                    start + name_end,
                    SyntaxKind::BadArgument,
                    "'all' takes no argument and no prefix length".into(),
                ));
            }
            Mechanism::All
        }
        "include" | "exists" => {
            let domain = required_domain(&lower, arg, aoff)?;
            if lower == "include" {
                Mechanism::Include(domain)
            } else {
                Mechanism::Exists(domain)
            }
        }
        "ptr" => {
            if arg.is_empty() {
                Mechanism::Ptr(None)
            } else {
                Mechanism::Ptr(Some(required_domain("ptr", arg, aoff)?))
            }
        }
        "a" | "mx" => {
            let (domain, cidr) = if let Some(spec) = arg.strip_prefix(':') {
                let (spec, cidr) = split_dual_cidr(spec, aoff + 1)?;
                if spec.is_empty() {
                    return Err(err(
                        start + name_end,
                        SyntaxKind::BadArgument,
                        format!("'{lower}:' needs a domain after the colon"),
                    ));
                }
                (Some(domain_spec(spec, aoff + 1)?), cidr)
            } else {
                let (left, cidr) = split_dual_cidr(arg, aoff)?;
                if !left.is_empty() {
                    return Err(err(
                        start + name_end,
                        SyntaxKind::BadPrefix,
                        format!(
                            "'{arg}' is not a valid prefix length; write /N for IPv4, //N for IPv6, or /N//M"
                        ),
                    ));
                }
                (None, cidr)
            };
            if lower == "a" {
                Mechanism::A { domain, cidr }
            } else {
                Mechanism::Mx { domain, cidr }
            }
        }
        "ip4" | "ip6" => {
            let Some(spec) = arg.strip_prefix(':') else {
                return Err(err(
                    start + name_end,
                    SyntaxKind::BadArgument,
                    format!("'{lower}' needs an address: {lower}:ADDRESS[/LENGTH]"),
                ));
            };
            let (addr_text, prefix_text) = match spec.find('/') {
                Some(i) => (&spec[..i], Some((&spec[i + 1..], aoff + 2 + i))),
                None => (spec, None),
            };
            let max = if lower == "ip4" { 32 } else { 128 };
            let prefix = match prefix_text {
                Some((p, off)) => Some(prefix_len(p, off, max)?),
                None => None,
            };
            if lower == "ip4" {
                let Some(addr) = parse_ip4(addr_text) else {
                    return Err(err(
                        start + name_end + 1,
                        SyntaxKind::BadAddress,
                        format!(
                            "'{addr_text}' is not an IPv4 address (four numbers 0-255, no leading zeros)"
                        ),
                    ));
                };
                Mechanism::Ip4 { addr, prefix }
            } else {
                let ok = !addr_text.is_empty()
                    && addr_text
                        .bytes()
                        .all(|c| c.is_ascii_hexdigit() || c == b':' || c == b'.');
                let Some(addr) = addr_text.parse::<Ipv6Addr>().ok().filter(|_| ok) else {
                    return Err(err(
                        start + name_end + 1,
                        SyntaxKind::BadAddress,
                        format!("'{addr_text}' is not an IPv6 address"),
                    ));
                };
                Mechanism::Ip6 { addr, prefix }
            }
        }
        _ => {
            let hint = match lower.as_str() {
                "redirect" | "exp" => format!("; '{lower}' is a modifier: write '{lower}='"),
                "ip" | "ipv4" => "; did you mean 'ip4:'?".into(),
                "ipv6" => "; did you mean 'ip6:'?".into(),
                "prt" => "; did you mean 'ptr'?".into(),
                _ => String::new(),
            };
            return Err(err(
                0,
                SyntaxKind::UnknownMechanism,
                format!("unknown mechanism '{name}'{hint}"),
            ));
        }
    };
    Ok(Term {
        span: at..at + text.len(),
        text: text.to_string(),
        kind: TermKind::Directive(Directive {
            qualifier,
            explicit_qualifier: explicit,
            mechanism,
        }),
    })
}

/// `:domain-spec` for include, exists and ptr, which take no prefix length.
fn required_domain(name: &str, arg: &str, at: usize) -> Result<MacroString, SyntaxError> {
    let Some(spec) = arg.strip_prefix(':') else {
        let message = if arg.starts_with('/') {
            format!("'{name}' takes no prefix length")
        } else {
            format!("'{name}' needs a domain: {name}:DOMAIN")
        };
        return Err(SyntaxError {
            position: at,
            kind: SyntaxKind::BadArgument,
            message,
        });
    };
    if spec.is_empty() {
        return Err(SyntaxError {
            position: at,
            kind: SyntaxKind::BadArgument,
            message: format!("'{name}:' needs a domain after the colon"),
        });
    }
    if let Some(slash) = spec.rfind('/') {
        let tail = &spec[slash + 1..];
        if !tail.is_empty() && tail.bytes().all(|c| c.is_ascii_digit()) {
            return Err(SyntaxError {
                position: at + 1 + slash,
                kind: SyntaxKind::BadArgument,
                message: format!("'{name}' takes no prefix length"),
            });
        }
    }
    domain_spec(spec, at + 1)
}

/// Takes `/N`, `//M` or `/N//M` off the end of an `a`/`mx` argument.
fn split_dual_cidr(arg: &str, at: usize) -> Result<(&str, DualCidr), SyntaxError> {
    let mut left = arg;
    let mut cidr = DualCidr::default();
    if let Some(i) = left.rfind("//") {
        let digits = &left[i + 2..];
        if !digits.is_empty() && digits.bytes().all(|c| c.is_ascii_digit()) {
            cidr.v6 = Some(prefix_len(digits, at + i + 2, 128)?);
            left = &left[..i];
        }
    }
    if let Some(i) = left.rfind('/') {
        let digits = &left[i + 1..];
        if !digits.is_empty() && digits.bytes().all(|c| c.is_ascii_digit()) {
            cidr.v4 = Some(prefix_len(digits, at + i + 1, 32)?);
            left = &left[..i];
        }
    }
    Ok((left, cidr))
}

fn prefix_len(digits: &str, at: usize, max: u8) -> Result<u8, SyntaxError> {
    let bad = |message: String| SyntaxError {
        position: at,
        kind: SyntaxKind::BadPrefix,
        message,
    };
    if digits.is_empty() || !digits.bytes().all(|c| c.is_ascii_digit()) {
        return Err(bad(format!("'{digits}' is not a prefix length")));
    }
    if digits.len() > 1 && digits.starts_with('0') {
        return Err(bad(format!(
            "the prefix length '{digits}' has a leading zero"
        )));
    }
    let family = if max == 32 { "IPv4" } else { "IPv6" };
    match digits.parse::<u16>() {
        Ok(n) if n <= u16::from(max) => Ok(n as u8),
        _ => Err(bad(format!(
            "the {family} prefix length {digits} is over {max}"
        ))),
    }
}

/// An IPv4 address as RFC 7208's `ip4-network`: four decimal numbers, no leading zeros.
fn parse_ip4(s: &str) -> Option<Ipv4Addr> {
    let mut octets = [0u8; 4];
    let mut n = 0;
    for part in s.split('.') {
        if n == 4
            || part.is_empty()
            || part.len() > 3
            || !part.bytes().all(|c| c.is_ascii_digit())
            || (part.len() > 1 && part.starts_with('0'))
        {
            return None;
        }
        octets[n] = part.parse::<u8>().ok()?;
        n += 1;
    }
    (n == 4).then(|| Ipv4Addr::from(octets))
}

/// A `domain-spec`: a macro string that ends in a macro or in `.toplabel` with an optional dot.
fn domain_spec(text: &str, at: usize) -> Result<MacroString, SyntaxError> {
    let ms = macros::parse(text, at, Place::DomainSpec)?;
    if ms.ends_with_expand() {
        return Ok(ms);
    }
    let literal = match ms.tokens.last() {
        Some(Token::Literal(s)) => s.as_str(),
        _ => "",
    };
    let trimmed = literal.strip_suffix('.').unwrap_or(literal);
    let bad = |message: String| SyntaxError {
        position: at,
        kind: SyntaxKind::BadDomain,
        message,
    };
    let Some(dot) = trimmed.rfind('.') else {
        return Err(bad(format!(
            "'{text}' is not a fully qualified domain: it must end in a dot and a top-level label (or a macro)"
        )));
    };
    let top = &trimmed[dot + 1..];
    if !valid_toplabel(top) {
        let why = if top.is_empty() {
            "is empty".to_string()
        } else if top.bytes().all(|c| c.is_ascii_digit()) {
            format!("'{top}' is all digits (for an address use ip4:)")
        } else {
            format!("'{top}' is not letters, digits and inner hyphens")
        };
        return Err(bad(format!(
            "'{text}' does not end in a valid top-level label: the last label {why}"
        )));
    }
    Ok(ms)
}

/// RFC 7208's `toplabel`: alphanumeric with at least one letter, or alphanumeric with inner
/// hyphens.
fn valid_toplabel(s: &str) -> bool {
    let b = s.as_bytes();
    if b.is_empty() || !b.iter().all(|&c| c.is_ascii_alphanumeric() || c == b'-') {
        return false;
    }
    if b.contains(&b'-') {
        b[0].is_ascii_alphanumeric() && b[b.len() - 1].is_ascii_alphanumeric()
    } else {
        b.iter().any(|c| c.is_ascii_alphabetic())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(s: &str) -> SyntaxError {
        parse(s).expect_err(s)
    }

    #[test]
    fn parses_every_mechanism_and_modifier() {
        let r = parse(
            "V=spf1 all Include:example.org a ?a -a +a ~a a:x.y a:x.y/0 a:x.y/24//64 a:x.y//64 \
             mx mx:x.y ptr ptr:x.y IP4:10.0.0.1 ip4:0.0.0.0/0 ip6:2001:db8::1/128 exists:%{i}.x.y \
             REDIRECT=x.y exp=X.y Other=x",
        )
        .unwrap();
        assert_eq!(r.terms.len(), 22);
        assert!(r.redirect().is_some());
        assert!(r.exp().is_some());
        let TermKind::Directive(d) = &r.terms[9].kind else {
            panic!("term 9 is a directive")
        };
        let Mechanism::A { domain, cidr } = &d.mechanism else {
            panic!("term 9 is 'a'")
        };
        assert_eq!(domain.as_ref().map(|m| m.text.as_str()), Some("x.y"));
        assert_eq!(
            *cidr,
            DualCidr {
                v4: Some(24),
                v6: Some(64)
            }
        );
        assert_eq!(r.terms[1].span, 11..30);
    }

    #[test]
    fn errors_point_at_the_byte() {
        let e = err("v=spf1 ip4:1.2.3.4 -all moo");
        assert_eq!((e.position, e.kind), (24, SyntaxKind::UnknownMechanism));
        let e = err("v=spf1 a:ctrl.example.com\rptr -all");
        assert_eq!((e.position, e.kind), (25, SyntaxKind::BadCharacter));
        let e = err("v=spf1 a:\u{ef}x.example.net");
        assert_eq!((e.position, e.kind), (9, SyntaxKind::NonAscii));
        let e = err("v=spf1 ip4:10.0.0.256");
        assert_eq!((e.position, e.kind), (11, SyntaxKind::BadAddress));
        let e = err("v=spf1 ip4:10.0.0.1/33");
        assert_eq!((e.position, e.kind), (20, SyntaxKind::BadPrefix));
        let e = err("v=spf1 a:x.example//129");
        assert_eq!((e.position, e.kind), (20, SyntaxKind::BadPrefix));
        let e = err("v=spf1 exists:%{l1r+}.bad-.");
        assert_eq!(e.kind, SyntaxKind::BadDomain);
        let e = err("v=spf1 -all exp=a.example exp=b.example");
        assert_eq!((e.position, e.kind), (26, SyntaxKind::DuplicateModifier));
    }

    #[test]
    fn rejects_what_the_rfc_rejects() {
        for bad in [
            "v=spf1 -all.",
            "v=spf1 -all:foo",
            "v=spf1 -all/8",
            "v=spf1 ptr/0",
            "v=spf1 a:museum",
            "v=spf1 a:museum.",
            "v=spf1 a:abc.123",
            "v=spf1 a:example.-com",
            "v=spf1 a:example.com:8080",
            "v=spf1 a/24/64",
            "v=spf1 include",
            "v=spf1 include:",
            "v=spf1 include:x.example/24",
            "v=spf1 exists",
            "v=spf1 exists:x.example/24",
            "v=spf1 ip4",
            "v=spf1 ip4:1.2.3",
            "v=spf1 ip4:1.2.3.4:8080",
            "v=spf1 ip4:1.2.3.4//32",
            "v=spf1 ip4:1.2.3.4/032",
            "v=spf1 ip6::CAFE::BABE",
            "v=spf1 ip6:::1/129",
            "v=spf1 ip6:::1//33",
            "v=spf1 redirect:x.example",
            "v=spf1 redirect=",
            "v=spf1 exp=-all",
            "v=spf1 ?redirect=x.example",
            "v=spf1 =all",
            "v=spf1 1up=foo",
            "v=spf1 foo=%abc",
            "v=spf1 moo.cow/far_out=man:dog/cat",
            "v=spf1 exists:%{a}.example",
            "v=spf1 exp=%{r}.example",
            "v=spf1 a:foo.example\0",
            "v=spf1 redirect=a.example redirect=b.example",
        ] {
            assert!(parse(bad).is_err(), "{bad} should be rejected");
        }
    }

    #[test]
    fn accepts_what_the_rfc_accepts() {
        for good in [
            "v=spf1",
            "v=SPF1",
            "v=spf1  a  -all ",
            "v=spf1 a:foo:bar/baz.example.com",
            "v=spf1 a:foo.example.xn--zckzah",
            "v=spf1 a//33",
            "v=spf1 ip6:Cafe:Babe:8000::/33",
            "v=spf1 ip6:::FFFF:1.2.3.4",
            "v=spf1 moo.cow-far_out=man:dog/cat",
            "v=spf1 default=+",
            "v=spf1 exists:%%.%{l1r+}.%{d}",
            "v=spf1 a:macro%%percent%_%_space%-url-space.example.com",
            "v=spf1 redirect=%{d}.d.spf.example.com.",
        ] {
            assert!(parse(good).is_ok(), "{good}: {:?}", parse(good));
        }
    }

    #[test]
    fn selects_spf_records() {
        assert!(is_spf(b"v=spf1"));
        assert!(is_spf(b"V=SpF1 -all"));
        assert!(!is_spf(b"v=spf10"));
        assert!(!is_spf(b"v=spf1mx"));
        assert!(!is_spf(b"v=spfl am not"));
    }
}
