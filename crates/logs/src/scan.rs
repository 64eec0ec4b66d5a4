//! Small byte-scan helpers shared by the daemon parsers: find a key, cut a value, read
//! `host[ip]:port`.

/// The text after the first `pat`.
#[inline(always)]
pub(crate) fn after<'a>(s: &'a str, pat: &str) -> Option<&'a str> {
    let i = find(s, pat)?;
    Some(&s[i + pat.len()..])
}

/// Where `pat` first starts in `s`, if it does (as `str::find`, which builds a Two-Way searcher
/// per call: too slow for a dozen short needles per line). The scan jumps with `memchr` from
/// one occurrence of the needle's rarest byte (by [`RANK`]) to the next, and compares the
/// needle there.
#[inline(always)]
pub(crate) fn find(s: &str, pat: &str) -> Option<usize> {
    let (h, n) = (s.as_bytes(), pat.as_bytes());
    if n.len() > h.len() {
        return None;
    }
    let k = (0..n.len())
        .min_by_key(|&i| RANK[usize::from(n[i])])
        .unwrap_or(0);
    let Some(&anchor) = n.get(k) else {
        return Some(0);
    };
    let mut from = k;
    let last = h.len() - n.len() + k;
    while from <= last {
        let i = from + byte_at(anchor, &h[from..=last])?;
        let at = i - k;
        if &h[at..at + n.len()] == n {
            return Some(at);
        }
        from = i + 1;
    }
    None
}

/// Where `needle` first is in `b`, eight bytes at a time in a word: the same answer as
/// `memchr`, cheaper on the short stretches (a few dozen bytes) of a log line these helpers
/// scan, where `memchr`'s set-up costs more than its vectors save.
#[inline]
pub(crate) fn byte_at(needle: u8, b: &[u8]) -> Option<usize> {
    const ONES: u64 = u64::from_le_bytes([1; 8]);
    const HIGH: u64 = u64::from_le_bytes([0x80; 8]);
    let mut chunks = b.chunks_exact(8);
    let mut at = 0;
    for c in &mut chunks {
        let w = u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
        // A byte of `x` is zero where `w` holds the needle; the lowest flagged byte is the
        // first zero (flags above a zero can be false, the lowest cannot).
        let x = w ^ (ONES * u64::from(needle));
        let zero = x.wrapping_sub(ONES) & !x & HIGH;
        if zero != 0 {
            return Some(at + (zero.trailing_zeros() / 8) as usize);
        }
        at += 8;
    }
    let tail = chunks.remainder();
    tail.iter().position(|&c| c == needle).map(|i| at + i)
}

/// How common a byte is in mail logs, roughly (higher is more common): spaces, lower-case
/// letters in English order, digits and the dots of names and addresses lead; brackets,
/// parentheses and rare letters trail.
static RANK: [u8; 256] = {
    let mut t = [20u8; 256];
    let common: &[u8] = b" etaoinsrhldcumfpgwy.bv0123456789k:,-/@=<>[]x_()jqz";
    let mut i = 0;
    while i < common.len() {
        t[common[i] as usize] = 255 - i as u8 * 4;
        i += 1;
    }
    let mut c = b'A';
    while c <= b'Z' {
        t[c as usize] = 60;
        c += 1;
    }
    t
};

/// Whether `s` contains `pat`.
#[inline(always)]
pub(crate) fn has(s: &str, pat: &str) -> bool {
    find(s, pat).is_some()
}

/// The value of `key=` where the key starts a word (at the start, after a space, a comma or a
/// parenthesis). A value in angle brackets is given without them (and may hold spaces and
/// commas); otherwise it ends at a comma or a space.
pub(crate) fn kv<'a>(s: &'a str, key: &str) -> Option<&'a str> {
    let b = s.as_bytes();
    let k = key.as_bytes();
    // Every `=` is a candidate end of the key: few per line, found with memchr.
    for eq in memchr::memchr_iter(b'=', b) {
        let Some(at) = eq.checked_sub(k.len()) else {
            continue;
        };
        let boundary = at == 0 || matches!(b[at - 1], b' ' | b',' | b'(' | b'\t' | b';');
        if boundary && &b[at..eq] == k {
            return Some(value(&s[eq + 1..]));
        }
    }
    None
}

/// The values of several keys at once, each as [`kv`] gives it, in one pass over the `=`
/// signs: the word before an `=` (back to a space, comma, parenthesis, tab or semicolon) is
/// the key it ends, and `kv` finds a key exactly where that word equals it.
pub(crate) fn kvs<'a, const N: usize>(s: &'a str, keys: [&str; N]) -> [Option<&'a str>; N] {
    let b = s.as_bytes();
    let mut out = [None; N];
    let mut left = N;
    for eq in memchr::memchr_iter(b'=', b) {
        let start = b[..eq]
            .iter()
            .rposition(|c| matches!(c, b' ' | b',' | b'(' | b'\t' | b';'))
            .map_or(0, |i| i + 1);
        let word = &b[start..eq];
        // Compared by hand: the words are a few bytes, shorter than a memcmp call pays off.
        let same = |k: &&str| k.len() == word.len() && k.bytes().zip(word).all(|(a, b)| a == *b);
        if let Some(i) = keys.iter().position(same)
            && out[i].is_none()
        {
            out[i] = Some(value(&s[eq + 1..]));
            left -= 1;
            if left == 0 {
                break;
            }
        }
    }
    out
}

/// The value at the start of `s` (see [`kv`]).
pub(crate) fn value(s: &str) -> &str {
    if let Some(rest) = s.strip_prefix('<') {
        let end = byte_at(b'>', rest.as_bytes()).unwrap_or(rest.len());
        return &rest[..end];
    }
    let end = s
        .bytes()
        .position(|c| c == b',' || c == b' ' || c == b';')
        .unwrap_or(s.len());
    &s[..end]
}

/// The text up to the first space.
pub(crate) fn word(s: &str) -> &str {
    &s[..byte_at(b' ', s.as_bytes()).unwrap_or(s.len())]
}

/// `host[ip]:port` at the start of `s` (port optional, host may be empty as in postscreen's
/// `[ip]:port`): host, ip, port, and the rest after it.
pub(crate) fn host_ip(s: &str) -> Option<(&str, &str, Option<&str>, &str)> {
    // One search for the `[`, which must come before any space.
    let b = s.as_bytes();
    let open = memchr::memchr2(b'[', b' ', b)?;
    if b[open] == b' ' {
        return None;
    }
    let host = &s[..open];
    let close = open + byte_at(b']', &b[open..])?;
    let ip = strip_v6(&s[open + 1..close]);
    let mut rest = &s[close + 1..];
    let mut port = None;
    if let Some(r) = rest.strip_prefix(':') {
        let n = r.bytes().take_while(u8::is_ascii_digit).count();
        if n > 0 {
            port = Some(&r[..n]);
            rest = &r[n..];
        }
    }
    Some((host, ip, port, rest))
}

/// `IPv6:2001:db8::1` as written by Sendmail and Postfix, without the tag.
pub(crate) fn strip_v6(ip: &str) -> &str {
    ip.strip_prefix("IPv6:")
        .or_else(|| ip.strip_prefix("ipv6:"))
        .unwrap_or(ip)
}

/// Whether `s` looks like an IP address (v4 or v6).
pub(crate) fn is_ip(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|c| c.is_ascii_hexdigit() || c == b'.' || c == b':')
        && (s.contains('.') || s.contains(':'))
        && s.bytes().any(|c| c.is_ascii_digit())
}

const QID_ALNUM: u8 = 1;
const QID_SHORT: u8 = 2;
const QID_DIGIT: u8 = 4;
const QID_VOWEL: u8 = 8;

/// Byte classes for [`postfix_qid`]: letters and digits, upper-case hex, digits, vowels.
static QID_CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut c = 0;
    while c < 256 {
        let b = c as u8;
        let mut v = 0;
        if b.is_ascii_alphanumeric() {
            v |= QID_ALNUM;
        }
        if b.is_ascii_digit() || (b >= b'A' && b <= b'F') {
            v |= QID_SHORT;
        }
        if b.is_ascii_digit() {
            v |= QID_DIGIT;
        }
        if matches!(b | 0x20, b'a' | b'e' | b'i' | b'o' | b'u') && b.is_ascii_alphabetic() {
            v |= QID_VOWEL;
        }
        t[c] = v;
        c += 1;
    }
    t
};

/// A Postfix queue id at the start of `s`, followed by `": "`: the id and the rest.
pub(crate) fn postfix_qid(s: &str) -> Option<(&str, &str)> {
    let b = s.as_bytes();
    // One pass (every line with a program comes here) over a table of byte classes: the
    // length, and whether the id is short (upper-case hex), holds a digit, holds a vowel.
    let (mut n, mut all, mut any) = (0, QID_SHORT, 0);
    while n < b.len() && n < 33 {
        let c = QID_CLASS[usize::from(b[n])];
        if c == 0 {
            break;
        }
        all &= c;
        any |= c;
        n += 1;
    }
    let (short, digit, vowel) = (
        all & QID_SHORT != 0,
        any & QID_DIGIT != 0,
        any & QID_VOWEL != 0,
    );
    if !(5..=32).contains(&n) || b.get(n) != Some(&b':') || b.get(n + 1) != Some(&b' ') {
        return None;
    }
    let id = &s[..n];
    // Short ids are upper-case hex; long ids (enable_long_queue_ids) are base 52 with digits.
    // Long ids leave out vowels and always hold a digit: words such as `statistics` are not ids.
    if !short && (n < 10 || !digit || vowel) {
        return None;
    }
    if id == "NOQUEUE" {
        return None;
    }
    Some((id, &s[n + 2..]))
}

/// The SMTP reply at the start of `s`: `550 5.1.1 text` → (code, enhanced code).
pub(crate) fn reply_codes(s: &str) -> (Option<&str>, Option<&str>) {
    let b = s.as_bytes();
    let code = (b.len() >= 3
        && b[..3].iter().all(u8::is_ascii_digit)
        && matches!(b.get(3), None | Some(b' ') | Some(b'-')))
    .then(|| &s[..3]);
    let rest = if code.is_some() {
        s[3..].trim_start_matches([' ', '-'])
    } else {
        s
    };
    (code, dsn_at(rest))
}

/// An enhanced status code (`5.7.1`) at the start of `s`.
pub(crate) fn dsn_at(s: &str) -> Option<&str> {
    let b = s.as_bytes();
    if b.len() < 5 || !matches!(b[0], b'2' | b'4' | b'5') || b[1] != b'.' {
        return None;
    }
    let mut i = 2;
    let d1 = b[i..].iter().take_while(|c| c.is_ascii_digit()).count();
    if d1 == 0 || d1 > 3 {
        return None;
    }
    i += d1;
    if b.get(i) != Some(&b'.') {
        return None;
    }
    i += 1;
    let d2 = b[i..].iter().take_while(|c| c.is_ascii_digit()).count();
    if d2 == 0 || d2 > 3 {
        return None;
    }
    i += d2;
    if b.get(i).is_some_and(|c| c.is_ascii_alphanumeric()) {
        return None;
    }
    Some(&s[..i])
}

/// The text inside the parentheses that close `s` (`status=sent (250 ok)` → `250 ok`).
pub(crate) fn paren_tail(s: &str) -> Option<&str> {
    let open = s.find('(')?;
    let inner = &s[open + 1..];
    Some(inner.strip_suffix(')').unwrap_or(inner))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_at_agrees_with_memchr() {
        let text = b"Jan  1 00:00:01 mx postfix/smtpd[10886]: connect from a[1.2.3.4] \xff\x80";
        for n in 0..text.len() {
            for needle in [b' ', b'[', b']', b':', b'x', 0xff, 0x80, 0x7f, 0] {
                let h = &text[n..];
                assert_eq!(byte_at(needle, h), memchr::memchr(needle, h));
            }
        }
    }

    #[test]
    fn helpers() {
        assert_eq!(kv("a=1, from=<x@y>, size=3", "from"), Some("x@y"));
        assert_eq!(kv("xfrom=<x@y>, from=<>", "from"), Some(""));
        assert_eq!(
            kv("to=<a b>, relay=h[1.2.3.4]:25, delay=1", "relay"),
            Some("h[1.2.3.4]:25")
        );
        assert_eq!(
            host_ip("unknown[192.0.2.1]:25: rest"),
            Some(("unknown", "192.0.2.1", Some("25"), ": rest"))
        );
        assert_eq!(
            host_ip("[IPv6:2001:db8::1]"),
            Some(("", "2001:db8::1", None, ""))
        );
        assert_eq!(
            postfix_qid("3mPVKl0Mhjz7sXv: x"),
            Some(("3mPVKl0Mhjz7sXv", "x"))
        );
        assert_eq!(postfix_qid("A17F830001CA: x"), Some(("A17F830001CA", "x")));
        assert_eq!(postfix_qid("warning: x"), None);
        assert_eq!(postfix_qid("NOQUEUE: x"), None);
        assert_eq!(
            reply_codes("550 5.1.1 <x>: no"),
            (Some("550"), Some("5.1.1"))
        );
        assert_eq!(reply_codes("5.7.1 content"), (None, Some("5.7.1")));
        assert!(is_ip("2001:db8::1") && is_ip("1.2.3.4") && !is_ip("deadbeef"));
        assert_eq!(kv("to=<a>, status=sent", "status"), Some("sent"));
        assert_eq!(kv("xto=<a>", "to"), None);
        assert_eq!(kv("=x, a=1", "a"), Some("1"));
    }

    #[test]
    fn kvs_agrees_with_kv() {
        let keys = ["to", "orig_to", "relay", "from", "a", "status"];
        for line in [
            "to=<a@b>, orig_to=<c>, relay=local, delay=1, status=sent (ok)",
            "orig_to=<x>, to=<y> to=<z>",
            "xto=<a>, (to=b; from=<a to=q>",
            "a=b=c, to==, relay=, status=x=y",
            "from=<a@b>, size=3, nrcpt=1 (queue active)",
            "=",
            "",
        ] {
            let got = kvs(line, keys);
            for (k, v) in keys.iter().zip(got) {
                assert_eq!(v, kv(line, k), "{line:?} {k}");
            }
        }
    }

    #[test]
    fn keys_keep_their_text() {
        for t in [
            "",
            "A17F830001CA",
            "12345678901234567890123",
            "123456789012345678901234",
            "é",
        ] {
            assert_eq!(Key::new(t).as_str(), t);
            let copy = String::from(t);
            assert_eq!(Key::new(t), Key::new(&copy));
        }
        assert_ne!(Key::new("ab"), Key::new("ab\0"));
    }

    #[test]
    fn find_agrees_with_str_find() {
        let hay = [
            "",
            "a",
            "  from  x from y",
            "host mx[1.2.3.4] said: 450 4.7.1 (in reply to RCPT TO command)",
            "ééé from ü[1.2.3.4]: status=sent (250 ok: queued as ABC)",
            "status=status=",
        ];
        let pats = [
            " from ",
            "from",
            "status=",
            " ",
            "(in reply to ",
            "queued as ",
            "ü",
            "é f",
            "=",
            "xyz",
            "status=status=status=",
        ];
        for h in hay {
            for p in pats {
                assert_eq!(find(h, p), h.find(p), "{h:?} {p:?}");
            }
            assert_eq!(find(h, ""), Some(0));
        }
    }
}

/// A short text (a queue id, an address) as a table key: held inline when it fits, so that a
/// look-up neither allocates nor calls `memcmp`, and the table holds no pointer to chase.
#[derive(Clone, PartialEq, Eq, Debug)]
pub(crate) enum Key {
    /// Up to 23 bytes (every text that fits is held this way, so equal texts are equal keys).
    Inline(u8, [u8; 23]),
    /// A longer one.
    Heap(Box<str>),
}

impl Key {
    pub(crate) fn new(s: &str) -> Key {
        if s.len() <= 23 {
            let mut bytes = [0; 23];
            bytes[..s.len()].copy_from_slice(s.as_bytes());
            Key::Inline(s.len() as u8, bytes)
        } else {
            Key::Heap(s.into())
        }
    }

    pub(crate) fn as_str(&self) -> &str {
        match self {
            // The bytes were a whole `str`.
            Key::Inline(len, bytes) => {
                std::str::from_utf8(&bytes[..usize::from(*len)]).unwrap_or("")
            }
            Key::Heap(s) => s,
        }
    }
}

/// Hashed in one pass over the 24 bytes of an inline key (three words for [`FxHasher`]),
/// rather than field by field as a derived hash does: these keys are looked up on most lines.
impl std::hash::Hash for Key {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        match self {
            Key::Inline(len, bytes) => {
                let mut all = [0; 24];
                all[0] = *len;
                all[1..].copy_from_slice(bytes);
                h.write(&all);
            }
            // Longer than any inline key, so never equal to one.
            Key::Heap(s) => h.write(s.as_bytes()),
        }
    }
}

/// A fast, non-cryptographic hasher for the tables keyed by queue ids, addresses and IPs (the
/// Fx hash of rustc): the keys come from logs, and a table's size is capped anyway.
#[derive(Default, Clone, Copy)]
pub struct FxHasher(u64);

impl std::hash::Hasher for FxHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        const K: u64 = 0xf135_7aea_2e62_a9c5;
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let v = u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
            self.0 = (self.0.rotate_left(26) ^ v).wrapping_mul(K);
        }
        for &b in chunks.remainder() {
            self.0 = (self.0.rotate_left(26) ^ u64::from(b)).wrapping_mul(K);
        }
    }

    fn write_u8(&mut self, i: u8) {
        self.write(&[i]);
    }
}

/// Builds [`FxHasher`]s.
pub type FxBuild = std::hash::BuildHasherDefault<FxHasher>;
