//! DKIM key records (`<selector>._domainkey.<domain>` TXT, RFC 6376 section 3.6.1, RFC 8463):
//! a strict parser, key type and size from the key itself, revoked keys, testing mode, and a
//! list of commonly used selectors to guess when the user names none. Also a parser for the
//! `DKIM-Signature` header, whose `d=` and `s=` name the selector a sample message used.

use crate::lex::Cursor;
use crate::{Check, Finding, ParseError, Severity, Status, TxtAnswer};
use base64::Engine;
use serde::Serialize;

/// Selectors that mail providers and common software use, tried when the user names none.
/// They are guesses: a missing key at one of them proves nothing, and results must be labelled
/// as guessed. Each entry is (selector, who uses it).
pub const COMMON_SELECTORS: &[(&str, &str)] = &[
    (
        "default",
        "many hosting panels (cPanel, Plesk), OpenDKIM examples",
    ),
    ("selector1", "Microsoft 365"),
    ("selector2", "Microsoft 365"),
    ("google", "Google Workspace"),
    ("k1", "Mailchimp / Mandrill"),
    ("k2", "Mailchimp / Mandrill"),
    ("k3", "Mailchimp / Mandrill"),
    ("mandrill", "Mandrill"),
    ("s1", "SendGrid, many others"),
    ("s2", "SendGrid, many others"),
    ("sig1", "Apple iCloud custom domains"),
    ("fm1", "Fastmail"),
    ("fm2", "Fastmail"),
    ("fm3", "Fastmail"),
    ("protonmail", "Proton Mail"),
    ("protonmail2", "Proton Mail"),
    ("protonmail3", "Proton Mail"),
    ("zmail", "Zoho Mail"),
    ("mxvault", "MXroute"),
    ("cm", "Campaign Monitor"),
    ("dkim", "generic"),
    ("mail", "generic"),
    ("email", "generic"),
    ("smtp", "generic"),
    ("key1", "generic"),
    ("key2", "generic"),
    ("x", "generic"),
];

/// A selector to check, and whether it was guessed rather than given.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Selector {
    /// The selector (the label before `._domainkey`).
    pub name: String,
    /// True for selectors from [`COMMON_SELECTORS`]: their absence is no finding.
    pub guessed: bool,
}

/// The key algorithm (`k=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyType {
    /// `k=rsa` (the default).
    Rsa,
    /// `k=ed25519` (RFC 8463).
    Ed25519,
}

/// A parsed DKIM key record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DkimKey {
    /// Whether `v=DKIM1` was present.
    pub has_version: bool,
    /// `h=`: acceptable hash algorithms, lower-cased; empty means all.
    pub hashes: Vec<String>,
    /// `k=`.
    pub key_type: KeyType,
    /// `n=`: notes.
    pub notes: Option<String>,
    /// The decoded `p=`; empty means the key is revoked.
    #[serde(skip)]
    pub public_key: Vec<u8>,
    /// The key size in bits (RSA modulus; 256 for Ed25519); None when revoked.
    pub key_bits: Option<u32>,
    /// The RSA key is a bare PKCS#1 RSAPublicKey instead of a SubjectPublicKeyInfo.
    pub pkcs1: bool,
    /// `s=`: service types; empty means all (`*`).
    pub services: Vec<String>,
    /// `t=`: flags (`y` testing, `s` strict identity).
    pub flags: Vec<String>,
    /// Tag names neither RFC defines, as written.
    pub unknown: Vec<String>,
}

impl DkimKey {
    /// `p=` is empty: the key is revoked and signatures with it fail.
    pub fn revoked(&self) -> bool {
        self.public_key.is_empty()
    }

    /// `t=y`: the domain is testing DKIM.
    pub fn testing(&self) -> bool {
        self.flags.iter().any(|f| f.eq_ignore_ascii_case("y"))
    }
}

/// What kind of error stopped a key record from parsing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyErrorKind {
    /// The tag list is malformed.
    Syntax,
    /// A tag appears twice.
    DuplicateTag,
    /// `v=` is present but not first.
    VersionNotFirst,
    /// `p=` is missing.
    MissingKey,
    /// `k=` names an unknown algorithm.
    UnknownKeyType,
    /// `p=` does not hold a key of the `k=` type.
    BadPublicKey,
}

/// A key record that did not parse.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyError {
    /// What kind of error.
    pub kind: KeyErrorKind,
    /// Whether the text still looked like a DKIM record (a valid `v=DKIM1` or any valid tag
    /// before the error); TXT records that do not (wildcards, SPF) are not DKIM at all.
    pub is_dkim: bool,
    /// Where and why.
    pub error: ParseError,
}

/// One `name=value` of an RFC 6376 tag list; the value keeps its inner folding white space.
struct RawTag<'a> {
    name: &'a str,
    value: &'a str,
    position: usize,
}

/// Reads one tag of an RFC 6376 tag-list, or None at the end. After the last `;` nothing may
/// follow, not even white space.
fn next_tag<'a>(c: &mut Cursor<'a>, first: bool) -> Result<Option<RawTag<'a>>, ParseError> {
    let before = c.pos;
    c.fws();
    if c.at_end() && !first && c.pos == before {
        return Ok(None);
    }
    let position = c.pos;
    let name = c
        .take_while(|b, i| b.is_ascii_alphabetic() || (i > 0 && (b.is_ascii_digit() || b == b'_')));
    if name.is_empty() {
        let msg = if c.at_end() && !first {
            "white space after the last ';'".to_string()
        } else if c.at_end() {
            "empty record".to_string()
        } else {
            format!(
                "expected a tag name at {:?}",
                &c.rest()[..c.rest().len().min(10)]
            )
        };
        return Err(ParseError::new(None, c.pos, msg));
    }
    c.fws();
    if !c.eat("=") {
        return Err(ParseError::new(Some(name), c.pos, "expected '='"));
    }
    c.fws();
    let start = c.pos;
    let mut end = c.pos;
    loop {
        let t = c.take_while(|b, _| (0x21..=0x7e).contains(&b) && b != b';' || b >= 0x80);
        if t.is_empty() {
            break;
        }
        end = c.pos;
        c.fws();
    }
    let value = &c.s[start..end];
    c.pos = end;
    c.fws();
    if !c.at_end() && !c.eat(";") {
        return Err(ParseError::new(Some(name), c.pos, "expected ';'"));
    }
    Ok(Some(RawTag {
        name,
        value,
        position,
    }))
}

fn unfold(v: &str) -> String {
    v.chars().filter(|c| !c.is_whitespace()).collect()
}

fn colon_list(v: &str) -> Vec<String> {
    v.split(':')
        .map(|s| s.trim_matches([' ', '\t', '\r', '\n']).to_string())
        .collect()
}

/// Parses a DKIM key record strictly (RFC 6376 section 3.6.1): `v=DKIM1` first if present,
/// no duplicate tags, `p=` required, `k=` rsa or ed25519, and a key that decodes to that type.
pub fn parse_key(txt: &str) -> Result<DkimKey, KeyError> {
    let mut is_dkim = false;
    let fail = |kind, is_dkim, error| KeyError {
        kind,
        is_dkim,
        error,
    };
    let mut key = DkimKey {
        has_version: false,
        hashes: Vec::new(),
        key_type: KeyType::Rsa,
        notes: None,
        public_key: Vec::new(),
        key_bits: None,
        pkcs1: false,
        services: Vec::new(),
        flags: Vec::new(),
        unknown: Vec::new(),
    };
    let mut c = Cursor::new(txt);
    let mut seen: Vec<&str> = Vec::new();
    let mut k_value: Option<(String, usize)> = None;
    let mut p_tag: Option<(String, usize)> = None;
    while let Some(tag) =
        next_tag(&mut c, seen.is_empty()).map_err(|e| fail(KeyErrorKind::Syntax, is_dkim, e))?
    {
        if seen.contains(&tag.name) {
            return Err(fail(
                KeyErrorKind::DuplicateTag,
                is_dkim,
                ParseError::new(Some(tag.name), tag.position, "duplicate tag"),
            ));
        }
        seen.push(tag.name);
        let err = |m: &str| ParseError::new(Some(tag.name), tag.position, m);
        match tag.name {
            "v" => {
                if tag.value != "DKIM1" {
                    return Err(fail(
                        KeyErrorKind::Syntax,
                        is_dkim,
                        err(&format!(
                            "version must be DKIM1 (case-sensitive), found {:?}",
                            tag.value
                        )),
                    ));
                }
                if seen.len() != 1 {
                    return Err(fail(
                        KeyErrorKind::VersionNotFirst,
                        true,
                        err("v=DKIM1 must be the first tag"),
                    ));
                }
                key.has_version = true;
            }
            "h" => {
                key.hashes = colon_list(tag.value)
                    .iter()
                    .map(|h| h.to_ascii_lowercase())
                    .collect()
            }
            "k" => k_value = Some((tag.value.to_string(), tag.position)),
            "n" => key.notes = Some(tag.value.to_string()),
            "p" => p_tag = Some((unfold(tag.value), tag.position)),
            "s" => key.services = colon_list(tag.value),
            "t" => key.flags = colon_list(tag.value),
            _ => key.unknown.push(tag.name.to_string()),
        }
        if ["h", "s", "t"].contains(&tag.name)
            && colon_list(tag.value).iter().any(|i| {
                i.is_empty()
                    || !i
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'*')
            })
        {
            return Err(fail(
                KeyErrorKind::Syntax,
                is_dkim,
                err("expected a ':'-separated list of words"),
            ));
        }
        is_dkim = true;
    }
    let Some((p, p_pos)) = p_tag else {
        return Err(fail(
            KeyErrorKind::MissingKey,
            is_dkim,
            ParseError::new(None, txt.len(), "missing p= (the public key)"),
        ));
    };
    if let Some((k, pos)) = k_value {
        key.key_type = match k.to_ascii_lowercase().as_str() {
            "rsa" => KeyType::Rsa,
            "ed25519" => KeyType::Ed25519,
            _ => {
                return Err(fail(
                    KeyErrorKind::UnknownKeyType,
                    true,
                    ParseError::new(
                        Some("k"),
                        pos,
                        format!("unknown key type {k:?} (rsa or ed25519)"),
                    ),
                ));
            }
        };
    }
    let bad_key = |m: String| {
        fail(
            KeyErrorKind::BadPublicKey,
            true,
            ParseError::new(Some("p"), p_pos, m),
        )
    };
    if p.is_empty() {
        return Ok(key);
    }
    let der = base64::engine::general_purpose::STANDARD
        .decode(p.as_bytes())
        .map_err(|e| bad_key(format!("p= is not valid base64: {e}")))?;
    match key.key_type {
        KeyType::Rsa => {
            let (bits, pkcs1) = rsa_bits(&der).map_err(bad_key)?;
            key.key_bits = Some(bits);
            key.pkcs1 = pkcs1;
        }
        KeyType::Ed25519 => {
            if der.len() == 44
                && der.starts_with(&[0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70])
            {
                return Err(bad_key(
                    "the Ed25519 key is wrapped in a SubjectPublicKeyInfo; RFC 8463 wants the bare 32 bytes".into(),
                ));
            }
            if der.len() != 32 {
                return Err(bad_key(format!(
                    "an Ed25519 key is 32 bytes, this one is {}",
                    der.len()
                )));
            }
            key.key_bits = Some(256);
        }
    }
    key.public_key = der;
    Ok(key)
}

/// The RSA modulus size of a SubjectPublicKeyInfo (or, failing that, a bare PKCS#1
/// RSAPublicKey), and whether it was the bare form.
fn rsa_bits(der: &[u8]) -> Result<(u32, bool), String> {
    use x509_parser::prelude::FromDer;
    use x509_parser::public_key::{PublicKey, RSAPublicKey};
    use x509_parser::x509::SubjectPublicKeyInfo;
    if let Ok((rest, spki)) = SubjectPublicKeyInfo::from_der(der) {
        if !rest.is_empty() {
            return Err("extra bytes after the key".into());
        }
        return match spki.parsed() {
            Ok(PublicKey::RSA(rsa)) => Ok((modulus_bits(rsa.modulus), false)),
            Ok(other) => Err(format!("not an RSA key ({})", key_name(&other))),
            Err(e) => Err(format!("the RSA key does not parse: {e}")),
        };
    }
    match RSAPublicKey::from_der(der) {
        Ok(([], rsa)) => Ok((modulus_bits(rsa.modulus), true)),
        _ => Err("not an RSA public key (neither SubjectPublicKeyInfo nor PKCS#1)".into()),
    }
}

fn key_name(k: &x509_parser::public_key::PublicKey<'_>) -> &'static str {
    use x509_parser::public_key::PublicKey;
    match k {
        PublicKey::EC(_) => "EC",
        PublicKey::DSA(_) => "DSA",
        PublicKey::GostR3410(_) | PublicKey::GostR3410_2012(_) => "GOST",
        _ => "unknown algorithm",
    }
}

fn modulus_bits(m: &[u8]) -> u32 {
    let m: &[u8] = {
        let first = m.iter().position(|&b| b != 0).unwrap_or(m.len());
        &m[first..]
    };
    match m.first() {
        None => 0,
        Some(&b) => (m.len() as u32 - 1) * 8 + (8 - b.leading_zeros()),
    }
}

/// Checks the TXT answer at `<selector>._domainkey.<domain>`.
pub fn check_dkim(domain: &str, selector: &Selector, answer: &TxtAnswer) -> Check<DkimKey> {
    let name = format!("{}._domainkey.{domain}", selector.name);
    let guess = if selector.guessed {
        " (a guessed selector)"
    } else {
        ""
    };
    let records = match answer {
        TxtAnswer::Error(e) => {
            return Check::lookup_failed(
                "dkim.lookup_error",
                &name,
                e,
                Some("Check the domain's name servers answer TXT queries for the selector."),
            );
        }
        TxtAnswer::NoRecord => {
            let f = Finding::new(
                "dkim.none",
                Severity::Info,
                format!("no DKIM key at {name}{guess}"),
            );
            return Check::with_status(
                Status::None,
                if selector.guessed {
                    f
                } else {
                    f.fix("Publish the key your mail server signs with at this name, or check the selector (the s= of a DKIM-Signature).")
                },
            );
        }
        TxtAnswer::Records(rs) => rs,
    };
    let parsed: Vec<(&String, Result<DkimKey, KeyError>)> =
        records.iter().map(|r| (r, parse_key(r))).collect();
    let dkim: Vec<&(&String, Result<DkimKey, KeyError>)> = parsed
        .iter()
        .filter(|(_, r)| r.as_ref().map_or_else(|e| e.is_dkim, |_| true))
        .collect();
    if dkim.is_empty() {
        let f = Finding::new(
            "dkim.not_dkim",
            if selector.guessed {
                Severity::Info
            } else {
                Severity::Fail
            },
            format!("{name}{guess} has TXT data that is not a DKIM key (a wildcard record?)"),
        );
        return if selector.guessed {
            Check::with_status(Status::None, f)
        } else {
            Check::from_findings(
                None,
                vec![f.fix("Publish the DKIM key record (v=DKIM1; k=...; p=...) at this name.")],
            )
        };
    }
    if dkim.len() > 1 {
        return Check::from_findings(
            None,
            vec![
                Finding::new(
                    "dkim.multiple_records",
                    Severity::Fail,
                    format!(
                        "{name} has {} DKIM key records; verifiers may pick either, or fail",
                        dkim.len()
                    ),
                )
                .fix("Keep exactly one key record per selector; use a new selector for a new key."),
            ],
        );
    }
    match &dkim[0].1 {
        Err(e) => {
            let (id, fix) = match e.kind {
                KeyErrorKind::MissingKey => (
                    "dkim.missing_p",
                    "Add p= with the base64 public key (or an empty p= to revoke).",
                ),
                KeyErrorKind::UnknownKeyType => {
                    ("dkim.unknown_key_type", "Use k=rsa or k=ed25519.")
                }
                KeyErrorKind::BadPublicKey => (
                    "dkim.bad_key",
                    "Publish the public key as generated (base64 of the DER key, no line breaks inside a string cut mid-character).",
                ),
                _ => (
                    "dkim.syntax",
                    "Correct the record's tag list: tag=value pairs separated by ';'.",
                ),
            };
            Check::from_findings(
                None,
                vec![
                    Finding::new(
                        id,
                        Severity::Fail,
                        format!("invalid DKIM key at {name}: {}", e.error),
                    )
                    .fix(fix),
                ],
            )
        }
        Ok(key) => {
            let findings = lint_key(&name, key);
            Check::from_findings(Some(key.clone()), findings)
        }
    }
}

fn lint_key(name: &str, key: &DkimKey) -> Vec<Finding> {
    let mut out = Vec::new();
    if key.revoked() {
        out.push(
            Finding::new("dkim.revoked", Severity::Warn, format!("the key at {name} is revoked (empty p=): mail signed with it fails DKIM"))
                .fix("If this selector is still used to sign, publish its public key; otherwise stop signing with it."),
        );
    }
    if let Some(bits) = key.key_bits.filter(|_| key.key_type == KeyType::Rsa) {
        if bits < 1024 {
            out.push(
                Finding::new("dkim.key_too_small", Severity::Fail, format!("the RSA key at {name} has {bits} bits; verifiers reject keys under 1024 bits (RFC 8301)"))
                    .fix("Generate a 2048-bit key under a new selector, publish it, then switch signing to it."),
            );
        } else if bits < 2048 {
            out.push(
                Finding::new("dkim.key_weak", Severity::Warn, format!("the RSA key at {name} has {bits} bits; 2048 is the recommended minimum"))
                    .fix("Generate a 2048-bit key under a new selector, publish it, then switch signing to it."),
            );
        }
    }
    if key.testing() {
        out.push(
            Finding::new("dkim.testing", Severity::Warn, format!("t=y at {name}: the domain is testing DKIM, and verifiers may treat failures as unsigned mail"))
                .fix("Remove t=y once signing works."),
        );
    }
    if key.flags.iter().any(|f| f.eq_ignore_ascii_case("s")) {
        out.push(Finding::new(
            "dkim.strict_identity",
            Severity::Info,
            "t=s: signatures must use i= in exactly the d= domain, not a subdomain",
        ));
    }
    if !key.hashes.is_empty() && !key.hashes.iter().any(|h| h == "sha256") {
        out.push(
            Finding::new("dkim.sha1_only", Severity::Fail, format!("h={} at {name}: without sha256 the key can only verify rsa-sha1, which RFC 8301 forbids", key.hashes.join(":")))
                .fix("Remove h= or set h=sha256."),
        );
    }
    if !key.services.is_empty()
        && !key
            .services
            .iter()
            .any(|s| s == "*" || s.eq_ignore_ascii_case("email"))
    {
        out.push(
            Finding::new(
                "dkim.service_excludes_email",
                Severity::Fail,
                format!(
                    "s={} at {name}: the key may not be used for email",
                    key.services.join(":")
                ),
            )
            .fix("Remove s= or set s=email."),
        );
    }
    if key.pkcs1 {
        out.push(Finding::new(
            "dkim.pkcs1_key",
            Severity::Info,
            "p= holds a bare PKCS#1 RSAPublicKey instead of the SubjectPublicKeyInfo RFC 6376 specifies; most verifiers accept it",
        ));
    }
    if key.key_type == KeyType::Ed25519 && !key.revoked() {
        out.push(Finding::new(
            "dkim.ed25519",
            Severity::Info,
            "Ed25519 key: not every verifier supports it, so sign with an RSA key as well",
        ));
    }
    if !key.unknown.is_empty() {
        let mut f = Finding::new(
            "dkim.unknown_tag",
            Severity::Info,
            format!(
                "unknown tag(s) {}: verifiers ignore them",
                key.unknown.join(", ")
            ),
        );
        if key
            .unknown
            .iter()
            .any(|u| ["V", "P", "K", "H", "T", "S", "N"].contains(&u.as_str()))
        {
            f.severity = Severity::Warn;
            f.summary.push_str(
                "; DKIM tag names are case-sensitive, so an upper-case tag is not the tag meant",
            );
            f = f.fix("Write tag names in lower case.");
        }
        out.push(f);
    }
    if !key.has_version {
        out.push(Finding::new(
            "dkim.no_version",
            Severity::Info,
            "no v=DKIM1; allowed, but adding it makes the record recognisable",
        ));
    }
    out
}

/// What kind of error stopped a `DKIM-Signature` header from parsing (mox's categories).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SignatureErrorKind {
    /// Malformed tag list or value.
    Syntax,
    /// The header does not end in CRLF.
    MissingCrlf,
    /// Not a `DKIM-Signature` header.
    NotSignatureHeader,
    /// `v=` is not 1.
    UnknownVersion,
    /// A required tag (v, a, b, bh, d, h, s) is missing.
    MissingTag,
    /// A tag appears twice.
    DuplicateTag,
    /// `i=`'s domain is not `d=` or below it.
    IdentityDomain,
    /// `x=` is before `t=`.
    Expired,
    /// `bh=` has the wrong length for the hash algorithm.
    BodyHash,
}

/// The fields of a `DKIM-Signature` header that a domain check uses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DkimSignature {
    /// `a=` signing algorithm (`rsa`, `ed25519`), lower-cased.
    pub sign_algorithm: String,
    /// `a=` hash algorithm (`sha256`, `sha1`), lower-cased.
    pub hash_algorithm: String,
    /// `d=`, lower-cased.
    pub domain: String,
    /// `s=`, lower-cased.
    pub selector: String,
    /// `h=`, lower-cased.
    pub signed_headers: Vec<String>,
    /// `c=`, default `simple/simple`.
    pub canonicalization: String,
    /// `i=`, when present.
    pub identity: Option<String>,
    /// `l=`.
    pub length: Option<u64>,
    /// `t=`.
    pub sign_time: Option<u64>,
    /// `x=`.
    pub expire_time: Option<u64>,
}

/// A header that did not parse.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SignatureError {
    /// What kind of error.
    pub kind: SignatureErrorKind,
    /// Where and why.
    pub error: ParseError,
}

/// Parses one `DKIM-Signature` header field, name and final CRLF included. `smtputf8` allows
/// UTF-8 in the local part of `i=` (never in `d=` or `s=`).
pub fn parse_signature(header: &str, smtputf8: bool) -> Result<DkimSignature, SignatureError> {
    let fail = |kind, tag: Option<&str>, pos, m: String| SignatureError {
        kind,
        error: ParseError::new(tag, pos, m),
    };
    let Some(body) = header.strip_suffix("\r\n") else {
        return Err(fail(
            SignatureErrorKind::MissingCrlf,
            None,
            header.len(),
            "the header does not end in CRLF".into(),
        ));
    };
    let Some((hname, _)) = body.split_once(':') else {
        return Err(fail(
            SignatureErrorKind::NotSignatureHeader,
            None,
            0,
            "not a header field".into(),
        ));
    };
    if !hname.eq_ignore_ascii_case("dkim-signature") {
        return Err(fail(
            SignatureErrorKind::NotSignatureHeader,
            None,
            0,
            format!("{hname} is not DKIM-Signature"),
        ));
    }
    let mut c = Cursor::new(body);
    c.pos = hname.len() + 1;
    let mut sig = DkimSignature {
        sign_algorithm: String::new(),
        hash_algorithm: String::new(),
        domain: String::new(),
        selector: String::new(),
        signed_headers: Vec::new(),
        canonicalization: "simple/simple".into(),
        identity: None,
        length: None,
        sign_time: None,
        expire_time: None,
    };
    let mut seen: Vec<&str> = Vec::new();
    let mut body_hash = Vec::new();
    let mut first = true;
    while let Some(tag) = next_tag(&mut c, first).map_err(|e| SignatureError {
        kind: SignatureErrorKind::Syntax,
        error: e,
    })? {
        first = false;
        if seen.contains(&tag.name) {
            return Err(fail(
                SignatureErrorKind::DuplicateTag,
                Some(tag.name),
                tag.position,
                "duplicate tag".into(),
            ));
        }
        seen.push(tag.name);
        let syntax = |m: String| fail(SignatureErrorKind::Syntax, Some(tag.name), tag.position, m);
        let v = tag.value;
        let number = |v: &str| -> Result<u64, SignatureError> {
            (!v.is_empty() && v.len() <= 12 && v.bytes().all(|b| b.is_ascii_digit()))
                .then(|| v.parse().ok())
                .flatten()
                .ok_or_else(|| syntax(format!("{v:?} is not a number")))
        };
        match tag.name {
            "v" if v != "1" => {
                return Err(fail(
                    SignatureErrorKind::UnknownVersion,
                    Some("v"),
                    tag.position,
                    format!("unknown version {v:?}"),
                ));
            }
            "a" => {
                let (s, h) = v
                    .split_once('-')
                    .ok_or_else(|| syntax(format!("{v:?} is not sign-hash")))?;
                sig.sign_algorithm = s.to_ascii_lowercase();
                sig.hash_algorithm = h.to_ascii_lowercase();
            }
            "b" => {
                base64::engine::general_purpose::STANDARD
                    .decode(unfold(v))
                    .map_err(|e| syntax(format!("b= is not base64: {e}")))?;
            }
            "bh" => {
                body_hash = base64::engine::general_purpose::STANDARD
                    .decode(unfold(v))
                    .map_err(|e| syntax(format!("bh= is not base64: {e}")))?;
            }
            "c" => sig.canonicalization = v.to_ascii_lowercase(),
            "d" | "s" => {
                let name = crate::normalize_host(v)
                    .ok_or_else(|| syntax(format!("{v:?} is not an ASCII domain name")))?;
                if tag.name == "d" {
                    sig.domain = name;
                } else {
                    sig.selector = name;
                }
            }
            "h" => {
                sig.signed_headers = colon_list(v)
                    .iter()
                    .map(|h| h.to_ascii_lowercase())
                    .collect()
            }
            "i" => {
                let (local, domain) = split_identity(v)
                    .ok_or_else(|| syntax(format!("{v:?} is not [local-part]@domain")))?;
                if !smtputf8 && !local.is_ascii() {
                    return Err(syntax("UTF-8 in the local part needs SMTPUTF8".into()));
                }
                crate::normalize_host(domain)
                    .ok_or_else(|| syntax(format!("{domain:?} is not an ASCII domain name")))?;
                sig.identity = Some(v.to_string());
            }
            "l" => sig.length = Some(number(v)?),
            "t" => sig.sign_time = Some(number(v)?),
            "x" => sig.expire_time = Some(number(v)?),
            _ => {}
        }
    }
    for req in ["v", "a", "b", "bh", "d", "h", "s"] {
        if !seen.contains(&req) {
            return Err(fail(
                SignatureErrorKind::MissingTag,
                Some(req),
                body.len(),
                format!("required tag {req}= is missing"),
            ));
        }
    }
    if let Some(id) = &sig.identity {
        let dom = id
            .rsplit_once('@')
            .map(|(_, d)| d.to_ascii_lowercase())
            .unwrap_or_default();
        if dom != sig.domain && !dom.ends_with(&format!(".{}", sig.domain)) {
            return Err(fail(
                SignatureErrorKind::IdentityDomain,
                Some("i"),
                0,
                format!("i= domain {dom} is not d={} or below it", sig.domain),
            ));
        }
    }
    if let (Some(t), Some(x)) = (sig.sign_time, sig.expire_time)
        && x < t
    {
        return Err(fail(
            SignatureErrorKind::Expired,
            Some("x"),
            0,
            format!("x={x} is before t={t}"),
        ));
    }
    let want = match sig.hash_algorithm.as_str() {
        "sha256" => 32,
        "sha1" => 20,
        _ => body_hash.len(),
    };
    if body_hash.len() != want {
        return Err(fail(
            SignatureErrorKind::BodyHash,
            Some("bh"),
            0,
            format!(
                "bh= has {} bytes, {} needs {want}",
                body_hash.len(),
                sig.hash_algorithm
            ),
        ));
    }
    Ok(sig)
}

/// Splits `i=` into local part (possibly empty or quoted) and domain, checking the local part.
fn split_identity(v: &str) -> Option<(&str, &str)> {
    let (local, domain) = v.rsplit_once('@')?;
    if local.starts_with('"') {
        let inner = local.strip_prefix('"')?.strip_suffix('"')?;
        let mut esc = false;
        for ch in inner.chars() {
            match (esc, ch) {
                (true, _) => esc = false,
                (false, '\\') => esc = true,
                (false, '"') => return None,
                _ => {}
            }
        }
        if esc {
            return None;
        }
    } else if !local.is_empty() {
        let atext = |ch: char| {
            ch.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~".contains(ch) || !ch.is_ascii()
        };
        if local
            .split('.')
            .any(|a| a.is_empty() || !a.chars().all(atext))
        {
            return None;
        }
    }
    Some((local, domain))
}

#[cfg(test)]
mod tests {
    use super::*;

    // A 2048-bit RSA SubjectPublicKeyInfo (from mox's tests).
    const RSA2048: &str = "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAy3Z9ffZe8gUTJrdGuKj6IwEembmKYpp0jMa8uhudErcI4gFVUaFiiRWxc4jP/XR9NAEv3XwHm+CVcHu+L/n6VWt6g59U7vHXQicMfKGmEp2VplsgojNy/Y5X9HdVYM0azsI47NcJCDW9UVfeOHdOSgFME4F8dNtUKC4KTB2d1pqj/yixz+V8Sv8xkEyPfSRHcNXIw0LvelqJ1MRfN3hO/3uQSVrPYYk4SyV0b6wfnkQs28fpiIpGQvzlGI5WkrdOQT5k4YHaEvZDLNdwiMeVZOEL7dDoFs2mQsovm+tH0StUAZTnr61NLVFfD5V6Ip1V9zVtspPHvYSuOWwyArFZ9QIDAQAB";
    // A 512-bit RSA SubjectPublicKeyInfo.
    const RSA512: &str = "MFwwDQYJKoZIhvcNAQEBBQADSwAwSAJBAM81KHRqvRV28ekYqmVFfpg6bpxLuHQJDbTx4mWGTy3ovSt7Gsdc+XeCGvWDU+xEE9M1Z0qvUNZ43CcX7SnOrbMCAwEAAQ==";
    // A 1024-bit RSA SubjectPublicKeyInfo, and a 1024-bit bare PKCS#1 RSAPublicKey.
    const RSA1024: &str = "MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDeYbgAEH7s/WO8uSJlUrejOMTf0F9tLFUMPh1INVyrMj0Oj33Le0ko3j890p7paByyLBIUCPIj/Y3Vk4pQ2zlRiOA+pWTNPiLKO+4Mmv0YUGWY55527FmkmZUDh8uPqr6db8yvoWF24yc763/QN5s+1psaewBxIJBXRf+Atcq/ZwIDAQAB";
    const PKCS1_1024: &str = "MIGJAoGBAMtf0Xd2QgOCsqkX0ExaGgaW3WApzLlOXvGtYQVGkaiGG1shtTqT77lCiJzBOcO3F7OnnPqJN+jgGkFhO0k8tSxXlb7/XE6lfnBf/jfd/WOLr6QRxUhcQ4os9G84/P06McLYteLEMiNrsC+UNUeY8pYuN1rw4YbweVAEC9KU3125AgMBAAE=";

    fn sel(name: &str) -> Selector {
        Selector {
            name: name.into(),
            guessed: false,
        }
    }

    #[test]
    fn rsa_sizes() {
        let k = parse_key(&format!("v=DKIM1; k=rsa; p={RSA2048}")).unwrap();
        assert_eq!(k.key_bits, Some(2048));
        let c = check_dkim(
            "example.com",
            &sel("s1"),
            &TxtAnswer::Records(vec![format!("v=DKIM1; p={RSA512}")]),
        );
        assert_eq!(c.status, Status::Fail);
        assert!(c.has("dkim.key_too_small"), "{:?}", c.findings);
        let c = check_dkim(
            "example.com",
            &sel("s1"),
            &TxtAnswer::Records(vec![format!("v=DKIM1; p={RSA2048}")]),
        );
        assert_eq!(c.status, Status::Pass, "{:?}", c.findings);
        let c = check_dkim(
            "example.com",
            &sel("s1"),
            &TxtAnswer::Records(vec![format!("v=DKIM1; p={RSA1024}")]),
        );
        assert!(
            c.has("dkim.key_weak") && c.status == Status::Warn,
            "{:?}",
            c.findings
        );
        let k = parse_key(&format!("v=DKIM1; p={PKCS1_1024}")).unwrap();
        assert_eq!((k.key_bits, k.pkcs1), (Some(1024), true));
    }

    #[test]
    fn revoked_testing_and_errors() {
        let c = check_dkim(
            "e.com",
            &sel("s"),
            &TxtAnswer::Records(vec!["v=DKIM1; t=y; p=".into()]),
        );
        assert!(c.has("dkim.revoked") && c.has("dkim.testing"));
        assert_eq!(
            parse_key("p=; v=DKIM1").unwrap_err().kind,
            KeyErrorKind::VersionNotFirst
        );
        assert_eq!(
            parse_key("v=DKIM1; p=; p=").unwrap_err().kind,
            KeyErrorKind::DuplicateTag
        );
        assert_eq!(
            parse_key("v=DKIM1; k=dsa; p=").unwrap_err().kind,
            KeyErrorKind::UnknownKeyType
        );
        assert_eq!(
            parse_key("v=DKIM1; p=!!").unwrap_err().kind,
            KeyErrorKind::BadPublicKey
        );
        let e = parse_key("v=DKIM1; p=; ").unwrap_err();
        assert!(e.error.message.contains("after the last"), "{}", e.error);
        let c = check_dkim(
            "e.com",
            &sel("s"),
            &TxtAnswer::Records(vec!["v=DKIM1; h=sha1; s=tlsrpt; p=".into()]),
        );
        assert!(c.has("dkim.sha1_only") && c.has("dkim.service_excludes_email"));
    }

    #[test]
    fn guessed_and_absent() {
        let g = Selector {
            name: "default".into(),
            guessed: true,
        };
        let c = check_dkim("e.com", &g, &TxtAnswer::NoRecord);
        assert_eq!(c.status, Status::None);
        assert!(c.findings[0].fix.is_none());
        let c = check_dkim("e.com", &g, &TxtAnswer::Records(vec!["v=spf1 -all".into()]));
        assert_eq!(c.status, Status::None);
        let c = check_dkim(
            "e.com",
            &sel("s"),
            &TxtAnswer::Records(vec!["v=spf1 -all".into()]),
        );
        assert_eq!(c.status, Status::Fail);
        assert_eq!(
            check_dkim("e.com", &sel("s"), &TxtAnswer::Error("timeout".into())).status,
            Status::Error
        );
    }

    #[test]
    fn ed25519_forms() {
        let raw = "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=";
        let k = parse_key(&format!("v=DKIM1; k=ed25519; p={raw}")).unwrap();
        assert_eq!(k.key_type, KeyType::Ed25519);
        let spki = "MCowBQYDK2VwAyEA11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=";
        let e = parse_key(&format!("v=DKIM1; k=ed25519; p={spki}")).unwrap_err();
        assert!(e.error.message.contains("SubjectPublicKeyInfo"));
    }

    #[test]
    fn signature_header() {
        let s = parse_signature("DKIM-Signature: v=1; a=rsa-sha256; d=Example.com; s=Sel1;\r\n\th=from:to; bh=LjkN2rUhrS3zKXfH2vNgUzz5ERRJkgP9CURXBX0JP0Q=;\r\n b=dGVzdAo=\r\n", false).unwrap();
        assert_eq!(
            (s.domain.as_str(), s.selector.as_str()),
            ("example.com", "sel1")
        );
        assert_eq!(
            parse_signature("DKIM-Signature: v=1\r\n", false)
                .unwrap_err()
                .kind,
            SignatureErrorKind::MissingTag
        );
    }

    #[test]
    fn common_selectors_are_unique() {
        let mut names: Vec<&str> = COMMON_SELECTORS.iter().map(|s| s.0).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), COMMON_SELECTORS.len());
    }
}
