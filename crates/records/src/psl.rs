//! The Public Suffix List algorithm (publicsuffix.org), for the RFC 7489 organisational domain
//! that receivers not yet on RFC 9989's tree walk still use. The list itself is not compiled in:
//! callers load one (Debian's `publicsuffix` package installs
//! `/usr/share/publicsuffix/public_suffix_list.dat`). Rules and names are compared in A-labels;
//! answers keep the form of the input.

use std::collections::HashSet;

/// A parsed Public Suffix List (ICANN and private sections together).
#[derive(Debug, Clone, Default)]
pub struct PublicSuffixList {
    rules: HashSet<String>,
    wildcards: HashSet<String>,
    exceptions: HashSet<String>,
}

/// Where a list is usually installed on Debian and Ubuntu.
pub const SYSTEM_LIST: &str = "/usr/share/publicsuffix/public_suffix_list.dat";

fn to_ascii(name: &str) -> Option<String> {
    if name.is_ascii() {
        return Some(name.to_ascii_lowercase());
    }
    idna::domain_to_ascii(name).ok()
}

impl PublicSuffixList {
    /// Parses the list's text format: one rule per line, `//` comments, `*.` wildcards and `!`
    /// exceptions.
    pub fn parse(text: &str) -> Self {
        let mut l = PublicSuffixList::default();
        for line in text.lines() {
            let Some(rule) = line.split_whitespace().next() else {
                continue;
            };
            if rule.starts_with("//") {
                continue;
            }
            if let Some(r) = rule.strip_prefix('!') {
                if let Some(a) = to_ascii(r) {
                    l.exceptions.insert(a);
                }
            } else if let Some(r) = rule.strip_prefix("*.") {
                if let Some(a) = to_ascii(r) {
                    l.wildcards.insert(a);
                }
            } else if let Some(a) = to_ascii(rule) {
                l.rules.insert(a);
            }
        }
        l
    }

    /// How many rules were read.
    pub fn len(&self) -> usize {
        self.rules.len() + self.wildcards.len() + self.exceptions.len()
    }

    /// Whether the list has no rules.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The number of trailing labels forming the public suffix of `labels` (A-labels, lower
    /// case). Unlisted TLDs count as suffixes (the implicit `*` rule).
    fn suffix_len(&self, labels: &[String]) -> usize {
        let n = labels.len();
        let mut best = 1;
        for i in 0..n {
            let suffix = labels[i..].join(".");
            if self.exceptions.contains(&suffix) {
                return n - i - 1;
            }
            if self.rules.contains(&suffix) {
                best = best.max(n - i);
            }
            if i > 0 && self.wildcards.contains(&suffix) {
                best = best.max(n - i + 1);
            }
        }
        best
    }

    /// The public suffix of `domain`, or None for an invalid name.
    pub fn public_suffix(&self, domain: &str) -> Option<String> {
        let (orig, ascii) = split(domain)?;
        let n = self.suffix_len(&ascii).min(orig.len());
        Some(orig[orig.len() - n..].join("."))
    }

    /// The registrable domain (RFC 7489's organisational domain): the public suffix plus one
    /// label. None when `domain` is itself a public suffix or not a valid name (empty labels,
    /// a leading dot).
    pub fn organizational_domain(&self, domain: &str) -> Option<String> {
        let (orig, ascii) = split(domain)?;
        let n = self.suffix_len(&ascii);
        if orig.len() <= n {
            return None;
        }
        Some(orig[orig.len() - n - 1..].join("."))
    }
}

/// The labels of `domain` lower-cased as written, and as A-labels.
fn split(domain: &str) -> Option<(Vec<String>, Vec<String>)> {
    let d = domain.strip_suffix('.').unwrap_or(domain);
    if d.is_empty() {
        return None;
    }
    let mut orig = Vec::new();
    let mut ascii = Vec::new();
    for label in d.split('.') {
        if label.is_empty() {
            return None;
        }
        orig.push(label.to_lowercase());
        ascii.push(to_ascii(label)?);
    }
    Some((orig, ascii))
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIST: &str = "// comment\ncom\nuk.com\n*.mm\njp\nkobe.jp\n*.kobe.jp\n!city.kobe.jp\n*.ck\n!www.ck\ncn\ncom.cn\n公司.cn\n";

    #[test]
    fn rules() {
        let l = PublicSuffixList::parse(LIST);
        let od = |d: &str| l.organizational_domain(d);
        assert_eq!(od("COM"), None);
        assert_eq!(od("WwW.example.COM").as_deref(), Some("example.com"));
        assert_eq!(od(".com"), None);
        assert_eq!(od("a.b.example.uk.com").as_deref(), Some("example.uk.com"));
        assert_eq!(od("c.mm"), None);
        assert_eq!(od("a.b.c.mm").as_deref(), Some("b.c.mm"));
        assert_eq!(od("www.city.kobe.jp").as_deref(), Some("city.kobe.jp"));
        assert_eq!(od("www.www.ck").as_deref(), Some("www.ck"));
        assert_eq!(od("b.example.example").as_deref(), Some("example.example"));
        assert_eq!(od("www.食狮.公司.cn").as_deref(), Some("食狮.公司.cn"));
        assert_eq!(
            od("www.xn--85x722f.xn--55qx5d.cn").as_deref(),
            Some("xn--85x722f.xn--55qx5d.cn")
        );
        assert_eq!(
            l.public_suffix("a.b.example.uk.com").as_deref(),
            Some("uk.com")
        );
    }
}
