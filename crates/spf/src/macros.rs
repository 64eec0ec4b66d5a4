//! SPF macro strings (RFC 7208 section 7): their strict syntax, and their expansion against
//! the facts of one check (sender, client address, HELO name, current domain).

use crate::record::{SyntaxError, SyntaxKind};
use std::fmt::Write as _;
use std::net::IpAddr;

/// Where a macro string stands; the letters and characters allowed differ (RFC 7208 7.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    /// A `domain-spec` of a mechanism, `redirect=` or `exp=`: no spaces, no `c`, `r`, `t`.
    DomainSpec,
    /// The value of an unknown modifier: any macro letter, no spaces. It is never expanded.
    UnknownModifier,
    /// The explanation text fetched for `exp=`: spaces and every macro letter allowed.
    Explanation,
}

/// One piece of a macro string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Token {
    /// Text copied as it stands.
    Literal(String),
    /// `%{...}`: a macro letter with its transformers.
    Macro(Macro),
    /// `%%`: a percent sign.
    Percent,
    /// `%_`: a space.
    Space,
    /// `%-`: a URL-encoded space, `%20`.
    UrlSpace,
}

/// A `%{...}` macro (RFC 7208 7.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Macro {
    /// The macro letter, lower case (`s l o d i p h c r t v`).
    pub letter: char,
    /// An upper-case letter asks for the value URL-escaped.
    pub escape: bool,
    /// How many right-hand parts to keep, when given (never 0).
    pub keep: Option<u32>,
    /// `r`: reverse the parts first.
    pub reverse: bool,
    /// The characters to split on; empty means `.`.
    pub delimiters: String,
}

/// A parsed macro string: its text and its pieces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MacroString {
    /// The text as written in the record.
    pub text: String,
    /// The pieces in order.
    pub tokens: Vec<Token>,
}

impl MacroString {
    /// Whether the text uses any `%{...}` macro, so that its value depends on the message.
    pub fn has_macros(&self) -> bool {
        self.tokens.iter().any(|t| matches!(t, Token::Macro(_)))
    }

    /// Whether the last piece is a macro expansion (`%{..}`, `%%`, `%_`, `%-`), which the
    /// `domain-end` rule accepts in place of a top-level label.
    pub fn ends_with_expand(&self) -> bool {
        matches!(
            self.tokens.last(),
            Some(Token::Macro(_) | Token::Percent | Token::Space | Token::UrlSpace)
        )
    }
}

const LETTERS: &str = "slodiphcrtv";
const DELIMITERS: &str = ".-+,/_=";

/// Parses `text` as a macro string standing at byte `offset` of its record.
pub fn parse(text: &str, offset: usize, place: Place) -> Result<MacroString, SyntaxError> {
    let bytes = text.as_bytes();
    let mut tokens = Vec::new();
    let mut literal = String::new();
    let mut i = 0;
    let err = |at: usize, kind: SyntaxKind, message: String| SyntaxError {
        position: offset + at,
        kind,
        message,
    };
    while i < bytes.len() {
        let c = bytes[i];
        if c != b'%' {
            let allowed = (0x21..=0x7e).contains(&c) || (c == b' ' && place == Place::Explanation);
            if !allowed {
                return Err(err(
                    i,
                    SyntaxKind::BadCharacter,
                    format!("character {} is not allowed here", describe_byte(c)),
                ));
            }
            literal.push(c as char);
            i += 1;
            continue;
        }
        if !literal.is_empty() {
            tokens.push(Token::Literal(std::mem::take(&mut literal)));
        }
        match bytes.get(i + 1) {
            Some(b'%') => {
                tokens.push(Token::Percent);
                i += 2;
            }
            Some(b'_') => {
                tokens.push(Token::Space);
                i += 2;
            }
            Some(b'-') => {
                tokens.push(Token::UrlSpace);
                i += 2;
            }
            Some(b'{') => {
                let (m, used) = parse_braces(&bytes[i..], place)
                    .map_err(|(at, kind, msg)| err(i + at, kind, msg))?;
                tokens.push(Token::Macro(m));
                i += used;
            }
            _ => {
                return Err(err(
                    i,
                    SyntaxKind::BadMacro,
                    "a '%' must be followed by '{', '%', '_' or '-' (write '%%' for a percent sign)"
                        .into(),
                ));
            }
        }
    }
    if !literal.is_empty() {
        tokens.push(Token::Literal(literal));
    }
    Ok(MacroString {
        text: text.to_string(),
        tokens,
    })
}

type BraceError = (usize, SyntaxKind, String);

/// Parses `%{letter digits r delimiters}` at the start of `b`; returns it and the bytes used.
fn parse_braces(b: &[u8], place: Place) -> Result<(Macro, usize), BraceError> {
    let Some(&raw) = b.get(2) else {
        return Err((
            0,
            SyntaxKind::BadMacro,
            "the macro '%{' is not closed".into(),
        ));
    };
    let letter = (raw as char).to_ascii_lowercase();
    if !LETTERS.contains(letter) || !raw.is_ascii_alphabetic() {
        return Err((
            2,
            SyntaxKind::BadMacro,
            format!(
                "unknown macro letter {}; the letters are s, l, o, d, i, p, h, v (and c, r, t in explanations)",
                describe_byte(raw)
            ),
        ));
    }
    if "crt".contains(letter) && place == Place::DomainSpec {
        return Err((
            2,
            SyntaxKind::BadMacro,
            format!(
                "the macro letter '{letter}' is only allowed in explanation text, not in a domain"
            ),
        ));
    }
    let mut i = 3;
    let digits_start = i;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    let keep = if i > digits_start {
        let n = b[digits_start..i].iter().fold(0u32, |n, d| {
            n.saturating_mul(10).saturating_add(u32::from(d - b'0'))
        });
        if n == 0 {
            return Err((
                digits_start,
                SyntaxKind::BadMacro,
                "the number of parts to keep in a macro must not be 0".into(),
            ));
        }
        Some(n)
    } else {
        None
    };
    let mut reverse = false;
    if i < b.len() && (b[i] == b'r' || b[i] == b'R') {
        reverse = true;
        i += 1;
    }
    let mut delimiters = String::new();
    while i < b.len() && DELIMITERS.as_bytes().contains(&b[i]) {
        delimiters.push(b[i] as char);
        i += 1;
    }
    match b.get(i) {
        Some(b'}') => Ok((
            Macro {
                letter,
                escape: raw.is_ascii_uppercase(),
                keep,
                reverse,
                delimiters,
            },
            i + 1,
        )),
        Some(&c) => Err((
            i,
            SyntaxKind::BadMacro,
            format!(
                "unexpected {} in a macro; after the letter come digits, 'r', delimiters (. - + , / _ =) and '}}'",
                describe_byte(c)
            ),
        )),
        None => Err((
            0,
            SyntaxKind::BadMacro,
            "the macro '%{' is not closed".into(),
        )),
    }
}

/// A byte for an error message: printable ones quoted, others in hex.
pub(crate) fn describe_byte(c: u8) -> String {
    if (0x21..=0x7e).contains(&c) {
        format!("'{}'", c as char)
    } else if c == b' ' {
        "space".into()
    } else {
        format!("0x{c:02X}")
    }
}

/// The facts macros expand to.
#[derive(Debug, Clone)]
pub struct MacroContext {
    /// `s`: the sender, `local@domain`.
    pub sender: String,
    /// `l`: the sender's local part.
    pub local: String,
    /// `o`: the sender's domain.
    pub sender_domain: String,
    /// `d`: the domain whose record is being evaluated.
    pub domain: String,
    /// The client address (IPv4-mapped IPv6 addresses already turned into IPv4).
    pub ip: IpAddr,
    /// `h`: the HELO/EHLO name.
    pub helo: String,
    /// `p`: the validated name of the client, when computed.
    pub validated: Option<String>,
    /// `r`: the receiving host's name.
    pub receiver: String,
    /// `t`: seconds since the epoch.
    pub timestamp: u64,
}

impl MacroContext {
    fn value(&self, letter: char) -> String {
        match letter {
            's' => self.sender.clone(),
            'l' => self.local.clone(),
            'o' => self.sender_domain.clone(),
            'd' => self.domain.clone(),
            'i' => dotted_ip(self.ip),
            'c' => self.ip.to_string(),
            'v' => match self.ip {
                IpAddr::V4(_) => "in-addr".into(),
                IpAddr::V6(_) => "ip6".into(),
            },
            'h' => self.helo.clone(),
            'p' => self
                .validated
                .clone()
                .unwrap_or_else(|| "unknown".to_string()),
            'r' => self.receiver.clone(),
            't' => self.timestamp.to_string(),
            _ => String::new(),
        }
    }
}

/// The `i` macro's form of an address: dotted quad, or 32 dot-separated nibbles for IPv6.
///
/// The nibbles are upper case, as in the official test suite's expected explanation
/// (`v-macro-ip6`); DNS names compare without case, so queries are unaffected.
pub fn dotted_ip(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => {
            let mut out = String::with_capacity(63);
            for byte in v6.octets() {
                for nibble in [byte >> 4, byte & 0xf] {
                    if !out.is_empty() {
                        out.push('.');
                    }
                    let _ = write!(out, "{nibble:X}");
                }
            }
            out
        }
    }
}

/// Expands `ms`. For a domain (`as_domain`), a trailing dot is dropped and a name over 253
/// octets loses labels on the left until it fits (RFC 7208 7.3).
pub fn expand(ms: &MacroString, ctx: &MacroContext, as_domain: bool) -> String {
    let mut out = String::new();
    for token in &ms.tokens {
        match token {
            Token::Literal(s) => out.push_str(s),
            Token::Percent => out.push('%'),
            Token::Space => out.push(' '),
            Token::UrlSpace => out.push_str("%20"),
            Token::Macro(m) => {
                let value = transform(&ctx.value(m.letter), m);
                if m.escape {
                    out.push_str(&url_escape(&value));
                } else {
                    out.push_str(&value);
                }
            }
        }
    }
    if as_domain {
        if out.ends_with('.') {
            out.pop();
        }
        while out.len() > 253 {
            match out.find('.') {
                Some(dot) => {
                    out.drain(..=dot);
                }
                None => break,
            }
        }
    }
    out
}

/// Splits on the delimiters, reverses when asked, keeps the right-hand parts, joins with dots.
fn transform(value: &str, m: &Macro) -> String {
    if m.keep.is_none() && !m.reverse && m.delimiters.is_empty() {
        return value.to_string();
    }
    let delims: &str = if m.delimiters.is_empty() {
        "."
    } else {
        &m.delimiters
    };
    let mut parts: Vec<&str> = value.split(|c| delims.contains(c)).collect();
    if m.reverse {
        parts.reverse();
    }
    if let Some(keep) = m.keep {
        let keep = keep as usize;
        if parts.len() > keep {
            parts.drain(..parts.len() - keep);
        }
    }
    parts.join(".")
}

/// URL-escapes everything outside RFC 3986's unreserved set, as upper-case macros require.
fn url_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn ctx() -> MacroContext {
        MacroContext {
            sender: "strong-bad@email.example.com".into(),
            local: "strong-bad".into(),
            sender_domain: "email.example.com".into(),
            domain: "email.example.com".into(),
            ip: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 3)),
            helo: "mx.example.org".into(),
            validated: None,
            receiver: "unknown".into(),
            timestamp: 0,
        }
    }

    fn x(s: &str) -> String {
        let ms = parse(s, 0, Place::DomainSpec).unwrap();
        expand(&ms, &ctx(), true)
    }

    #[test]
    fn rfc_7208_examples() {
        // RFC 7208 section 7.4.
        assert_eq!(x("%{s}"), "strong-bad@email.example.com");
        assert_eq!(x("%{o}"), "email.example.com");
        assert_eq!(x("%{d}"), "email.example.com");
        assert_eq!(x("%{d4}"), "email.example.com");
        assert_eq!(x("%{d3}"), "email.example.com");
        assert_eq!(x("%{d2}"), "example.com");
        assert_eq!(x("%{d1}"), "com");
        assert_eq!(x("%{dr}"), "com.example.email");
        assert_eq!(x("%{d2r}"), "example.email");
        assert_eq!(x("%{l}"), "strong-bad");
        assert_eq!(x("%{l-}"), "strong.bad");
        assert_eq!(x("%{lr}"), "strong-bad");
        assert_eq!(x("%{lr-}"), "bad.strong");
        assert_eq!(x("%{l1r-}"), "strong");
        assert_eq!(
            x("%{ir}.%{v}._spf.%{d2}"),
            "3.2.0.192.in-addr._spf.example.com"
        );
        assert_eq!(x("%{lr-}.lp._spf.%{d2}"), "bad.strong.lp._spf.example.com");
    }

    #[test]
    fn escapes_and_specials() {
        assert_eq!(x("a%%b%_c%-d"), "a%b c%20d");
        let mut c = ctx();
        c.local = "~jack&jill=up-a_b3.c".into();
        let ms = parse("%{L}", 0, Place::DomainSpec).unwrap();
        assert_eq!(expand(&ms, &c, false), "~jack%26jill%3Dup-a_b3.c");
    }

    #[test]
    fn syntax_errors_have_positions() {
        let e = parse("ab%(ir)", 10, Place::DomainSpec).unwrap_err();
        assert_eq!(e.position, 12);
        let e = parse("%{x}", 0, Place::DomainSpec).unwrap_err();
        assert_eq!(e.position, 2);
        let e = parse("%{s0}", 0, Place::DomainSpec).unwrap_err();
        assert_eq!(e.position, 3);
        assert!(parse("%{c}", 0, Place::DomainSpec).is_err());
        assert!(parse("%{c} %{r} %{t}", 0, Place::Explanation).is_ok());
        assert!(parse("a b", 0, Place::DomainSpec).is_err());
        assert!(parse("%{d", 0, Place::DomainSpec).is_err());
    }

    #[test]
    fn long_names_are_cut_on_the_left() {
        let mut c = ctx();
        c.sender_domain = "somewhat.long.exp.example.com".into();
        let ms = parse(
            "foobar.%{o}.%{o}.%{o}.%{o}.%{o}.%{o}.%{o}.%{o}.example.com",
            0,
            Place::DomainSpec,
        )
        .unwrap();
        let out = expand(&ms, &c, true);
        assert!(out.len() <= 253);
        assert!(out.starts_with("somewhat."));
    }

    #[test]
    fn ipv6_nibbles() {
        let ip: IpAddr = "cafe:babe::1".parse().unwrap();
        assert_eq!(
            dotted_ip(ip),
            "C.A.F.E.B.A.B.E.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.1"
        );
    }
}
