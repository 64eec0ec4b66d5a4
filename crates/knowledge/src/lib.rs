//! Knowledge: what SMTP replies, enhanced status codes, provider texts and client errors mean.
//!
//! The entries are reviewed data (`data/*.toml`), compiled into static tables by `build.rs`, each
//! with its source, references and real examples. Matching is one Aho-Corasick pass over all
//! phrases (built once, on first use) plus a look at the reply and enhanced codes; entries are then
//! scored and the best one wins, with the runners-up as the honest alternatives.

mod facts;
pub mod hosts;
pub mod presets;

pub use facts::{Facts, MtaStatus, enhanced_in, reply_code_in};

use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};
use smtpdoctor_report::{Category, Confidence, Retry};
use std::sync::LazyLock;

/// The version of the knowledge; bump when entries change meaning.
pub const KNOWLEDGE_VERSION: &str = "2026.11.28-2";

/// Where in the dialogue a reply came.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(missing_docs)] // the SMTP stages, named as in RFC 5321
pub enum Stage {
    Greeting,
    Ehlo,
    Starttls,
    Auth,
    Mail,
    Rcpt,
    Data,
    Message,
}

/// How an entry decides `retry`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryRule {
    /// Waiting may help, whatever the code says.
    Temporary,
    /// Something must change first, whatever the code says.
    Permanent,
    /// As the reply's class says: 4xx temporary, 5xx permanent.
    Class,
}

/// One known meaning.
#[derive(Debug)]
pub struct Entry {
    /// Stable id.
    pub id: &'static str,
    /// A short title.
    pub title: &'static str,
    /// `basic`, `enhanced`, `mta`, `provider`, `client` or `network`.
    pub kind: &'static str,
    /// The provider or software whose text it is.
    pub provider: Option<&'static str>,
    /// The cause.
    pub category: Category,
    /// How retry is decided (None: by category).
    pub retry: Option<RetryRule>,
    /// Other causes that often fit the same text.
    pub alternatives: &'static [Category],
    /// Basic reply codes it applies to; when the input has another code, it does not apply.
    pub codes: &'static [u16],
    /// Enhanced codes: exact (`5.7.8`), any class (`X.7.8`) or a prefix (`5.7.`).
    pub enhanced: &'static [&'static str],
    /// Lower-case phrases, matched case-insensitively.
    pub phrases: &'static [&'static str],
    /// Dialogue stages it applies to (empty: any).
    pub stages: &'static [Stage],
    /// A bonus (or malus) added to its score.
    pub weight: i32,
    /// What it means.
    pub meaning: &'static str,
    /// Likely causes.
    pub causes: &'static [&'static str],
    /// What to do, in order.
    pub fixes: &'static [&'static str],
    /// RFC sections and provider help pages.
    pub references: &'static [&'static str],
    /// Where the facts come from.
    pub source: &'static str,
    /// Real texts it must win.
    pub examples: &'static [&'static str],
    /// Texts it must not win.
    pub negatives: &'static [&'static str],
}

include!(concat!(env!("OUT_DIR"), "/entries.rs"));

/// All phrases of all entries in one automaton, and which entry each belongs to; and the entries
/// that name each reply code and enhanced code, so only those are scored.
struct PhraseIndex {
    automaton: AhoCorasick,
    owner: Vec<(usize, usize)>,
    by_code: std::collections::HashMap<u16, Vec<usize>>,
    /// Keyed by subject.detail (`7.8`), since entries may name any class.
    by_enhanced: std::collections::HashMap<String, Vec<usize>>,
    /// Entries with an enhanced prefix (`5.7.`): few, always scored when a code is present.
    by_prefix: Vec<usize>,
}

static INDEX: LazyLock<PhraseIndex> = LazyLock::new(|| {
    let mut patterns = Vec::new();
    let mut owner = Vec::new();
    for (e, entry) in ENTRIES.iter().enumerate() {
        for (p, phrase) in entry.phrases.iter().enumerate() {
            patterns.push(*phrase);
            owner.push((e, p));
        }
    }
    let automaton = AhoCorasick::builder()
        .match_kind(MatchKind::Standard)
        // The cheapest automaton to build: one `explain` call scans a few hundred bytes, so
        // building a DFA (or a case-insensitive one) would cost more than it ever saves. The
        // phrases are lower case and the text is lower-cased once per call instead.
        .kind(Some(AhoCorasickKind::NoncontiguousNFA))
        .build(&patterns)
        .expect("the knowledge phrases build an automaton");
    let mut by_code: std::collections::HashMap<u16, Vec<usize>> = Default::default();
    let mut by_enhanced: std::collections::HashMap<String, Vec<usize>> = Default::default();
    let mut by_prefix = Vec::new();
    for (e, entry) in ENTRIES.iter().enumerate() {
        for code in entry.codes {
            by_code.entry(*code).or_default().push(e);
        }
        for pattern in entry.enhanced {
            if pattern.ends_with('.') {
                by_prefix.push(e);
            } else if let Some(key) = pattern.get(2..) {
                by_enhanced.entry(key.to_string()).or_default().push(e);
            }
        }
    }
    PhraseIndex {
        automaton,
        owner,
        by_code,
        by_enhanced,
        by_prefix,
    }
});

/// Why an entry matched.
#[derive(Debug, Clone)]
pub struct Match {
    /// The entry.
    pub entry: &'static Entry,
    /// Its score (higher is more specific).
    pub score: i32,
    /// Each reason, in words: `phrase "relay access denied"`, `enhanced code 5.7.1`, `reply code 554`.
    pub why: Vec<String>,
    /// Whether a phrase matched (not only codes).
    pub by_phrase: bool,
}

/// The answer for one input.
#[derive(Debug, Clone)]
pub struct Meaning {
    /// What was read from the input.
    pub facts: Facts,
    /// The winning entry, if any matched.
    pub entry: Option<&'static Entry>,
    /// The cause.
    pub category: Category,
    /// Whether retrying unchanged may help.
    pub retry: Retry,
    /// How sure.
    pub confidence: Confidence,
    /// Other plausible causes.
    pub alternatives: Vec<Category>,
    /// A short title.
    pub title: String,
    /// What it means.
    pub meaning: String,
    /// Likely causes.
    pub causes: Vec<String>,
    /// What to do.
    pub fix: Vec<String>,
    /// References.
    pub references: Vec<String>,
    /// Every entry that matched, best first.
    pub matched: Vec<Match>,
}

/// A score this far below the best, of another category, makes the answer less than sure.
const CLOSE: i32 = 10;
/// A phrase starting within this many bytes of the text's start is its lead statement.
const LEAD: usize = 60;

fn enhanced_hit(pattern: &str, code: &str) -> Option<i32> {
    if let Some(rest) = pattern.strip_prefix("X.") {
        return code.get(2..).is_some_and(|c| c == rest).then_some(10);
    }
    if pattern.ends_with('.') {
        return code.starts_with(pattern).then_some(4);
    }
    (pattern == code).then_some(12)
}

fn score(
    entry: &'static Entry,
    facts: &Facts,
    phrase_hits: &[(usize, usize)],
    stage: Option<Stage>,
) -> Option<Match> {
    if let Some(stage) = stage
        && !entry.stages.is_empty()
        && !entry.stages.contains(&stage)
    {
        return None;
    }
    if let Some(code) = facts.reply_code
        && !entry.codes.is_empty()
        && !entry.codes.contains(&code)
    {
        return None;
    }
    let mut why = Vec::new();
    let mut points = entry.weight;
    // The most specific (longest) phrase counts in full; more phrases of the same entry add a
    // little, so an entry with many overlapping phrases cannot outvote a precise one.
    let mut phrase_points: Vec<i32> = phrase_hits
        .iter()
        .map(|&(p, _)| 20 + (entry.phrases[p].len().min(40) as i32) / 2)
        .collect();
    phrase_points.sort_unstable_by(|a, b| b.cmp(a));
    for (i, pts) in phrase_points.iter().enumerate() {
        points += if i == 0 { *pts } else { 3 };
    }
    for &(p, _) in phrase_hits {
        why.push(format!("phrase \"{}\"", entry.phrases[p]));
    }
    // What a message says first is usually its verdict; later clauses explain or add detail.
    if phrase_hits.iter().any(|&(_, start)| start < LEAD) {
        points += 5;
    }
    // In a wrapped error the innermost cause ("caused by: …") is the most specific part.
    // An SMTP reply that says "connection timed out" speaks of the server's own onward
    // connection, not of this client's: operating-system texts weigh less inside replies.
    if entry.kind == "network" && facts.reply_code.is_some() {
        points -= 10;
    }
    if let Some(cause) = facts.cause_start
        && phrase_hits.iter().any(|&(_, start)| start >= cause)
    {
        points += 8;
    }
    let enhanced = facts.enhanced.as_deref().and_then(|code| {
        entry
            .enhanced
            .iter()
            .filter_map(|p| enhanced_hit(p, code))
            .max()
    });
    if let (Some(bonus), Some(code)) = (enhanced, facts.enhanced.as_deref()) {
        points += bonus;
        why.push(format!("enhanced code {code}"));
    }
    let code_hit = facts.reply_code.is_some_and(|c| entry.codes.contains(&c));
    if code_hit {
        points += 6;
        why.push(format!(
            "reply code {}",
            facts.reply_code.unwrap_or_default()
        ));
    }
    let by_phrase = !phrase_hits.is_empty();
    let matched = if entry.phrases.is_empty() {
        // Codes alone: the enhanced code or the reply code must be one of the entry's.
        enhanced.is_some() || code_hit
    } else {
        // Phrase entries need a phrase; their enhanced code alone is a weaker match.
        by_phrase || enhanced.is_some_and(|b| b >= 10)
    };
    matched.then_some(Match {
        entry,
        score: points,
        why,
        by_phrase,
    })
}

/// Every entry that matches, best first.
fn candidates(facts: &Facts, stage: Option<Stage>) -> Vec<Match> {
    let index = &*INDEX;
    // (entry, phrase, where it first starts), grouped by entry.
    let mut hits: Vec<(usize, usize, usize)> = Vec::new();
    let lower = facts.text.to_ascii_lowercase();
    for m in index.automaton.find_overlapping_iter(lower.as_str()) {
        let (e, p) = index.owner[m.pattern().as_usize()];
        hits.push((e, p, m.start()));
    }
    hits.sort_unstable();
    hits.dedup_by_key(|h| (h.0, h.1));
    // Only entries with a phrase hit, or naming the input's codes, can match.
    let mut considered: Vec<usize> = hits.iter().map(|h| h.0).collect();
    if let Some(code) = facts.reply_code {
        considered.extend(index.by_code.get(&code).into_iter().flatten());
    }
    if let Some(key) = facts.enhanced.as_deref().and_then(|e| e.get(2..)) {
        considered.extend(index.by_enhanced.get(key).into_iter().flatten());
        considered.extend(&index.by_prefix);
    }
    considered.sort_unstable();
    considered.dedup();
    let mut out: Vec<Match> = Vec::new();
    let mut own: Vec<(usize, usize)> = Vec::new();
    for e in considered {
        own.clear();
        let from = hits.partition_point(|h| h.0 < e);
        own.extend(
            hits[from..]
                .iter()
                .take_while(|h| h.0 == e)
                .map(|h| (h.1, h.2)),
        );
        if let Some(m) = score(&ENTRIES[e], facts, &own, stage) {
            out.push(m);
        }
    }
    // Stable: among equal scores the earlier entry (the more specific file) wins.
    out.sort_by_key(|m| std::cmp::Reverse(m.score));
    out
}

/// Retry as the reply's class says; `otherwise` when the input carries no code at all.
fn class_retry(facts: &Facts, otherwise: Retry) -> Retry {
    match (facts.reply_code, facts.enhanced.as_deref()) {
        (Some(c), _) if (400..500).contains(&c) => Retry::Temporary,
        (Some(c), _) if c >= 500 => Retry::Permanent,
        (_, Some(e)) if e.starts_with('4') => Retry::Temporary,
        (_, Some(e)) if e.starts_with('5') => Retry::Permanent,
        _ => otherwise,
    }
}

fn retry_for(entry: Option<&Entry>, category: Category, facts: &Facts) -> Retry {
    // An MTA's own log line says what it did: deferred means it will try again.
    match facts.mta_status {
        Some(MtaStatus::Deferred) => return Retry::Temporary,
        Some(MtaStatus::Bounced) => return Retry::Permanent,
        None => {}
    }
    // Without a code: load and rate limits pass by themselves; a full mailbox waits for its owner.
    let uncoded = if category == Category::MailboxFull {
        Retry::Permanent
    } else {
        Retry::Temporary
    };
    match entry.and_then(|e| e.retry) {
        Some(RetryRule::Temporary) => Retry::Temporary,
        Some(RetryRule::Permanent) => Retry::Permanent,
        Some(RetryRule::Class) => class_retry(facts, uncoded),
        None => match category {
            // Causes that pass by themselves follow what the server said.
            Category::GreylistingOrRateLimit
            | Category::ServerUnavailable
            | Category::MailboxFull => class_retry(facts, uncoded),
            Category::NetworkUnreachable => Retry::Temporary,
            // Everything else needs someone to change something first, whatever the code.
            _ => Retry::Permanent,
        },
    }
}

fn decide(facts: Facts, matched: Vec<Match>) -> Meaning {
    // A wrapper text of category "other" (a client's "got code …", weighted down in the data)
    // names no cause: an entry that does, for the reply inside it, is the more useful answer.
    let wrapper = |m: &Match| m.entry.category == Category::Other && m.entry.weight < 0;
    let Some(best) = (match matched.first() {
        Some(first) if wrapper(first) => matched
            .iter()
            .find(|m| m.entry.category != Category::Other)
            .or(Some(first)),
        first => first,
    })
    .cloned() else {
        return unknown(facts);
    };
    let entry = best.entry;
    let mut alternatives: Vec<Category> = Vec::new();
    for m in matched.iter().skip(1) {
        if m.score >= best.score - CLOSE
            && m.entry.category != entry.category
            && !alternatives.contains(&m.entry.category)
        {
            alternatives.push(m.entry.category);
        }
    }
    let close = !alternatives.is_empty();
    for a in entry.alternatives {
        if *a != entry.category && !alternatives.contains(a) {
            alternatives.push(*a);
        }
    }
    let confidence = match (best.by_phrase, close, entry.kind) {
        (true, false, _) => Confidence::High,
        (true, true, _) => Confidence::Medium,
        (false, _, "basic") => Confidence::Low,
        (false, false, _) => Confidence::Medium,
        (false, true, _) => Confidence::Low,
    };
    if confidence == Confidence::High {
        alternatives.retain(|a| entry.alternatives.contains(a));
    }
    Meaning {
        retry: retry_for(Some(entry), entry.category, &facts),
        facts,
        entry: Some(entry),
        category: entry.category,
        confidence,
        alternatives,
        title: entry.title.to_string(),
        meaning: entry.meaning.to_string(),
        causes: entry.causes.iter().map(|s| s.to_string()).collect(),
        fix: entry.fixes.iter().map(|s| s.to_string()).collect(),
        references: entry.references.iter().map(|s| s.to_string()).collect(),
        matched,
    }
}

fn unknown(facts: Facts) -> Meaning {
    let (title, meaning) = match facts.reply_code.map(|c| c / 100) {
        Some(4) => (
            "A temporary refusal",
            "The server refused for now (a 4xx reply): it may accept the same thing later.",
        ),
        Some(5) => (
            "A permanent refusal",
            "The server refused (a 5xx reply): repeating the same thing will fail again.",
        ),
        Some(2) | Some(3) => (
            "Not an error",
            "This is a positive reply: the server accepted the command.",
        ),
        _ => (
            "Not recognised",
            "No known reply, status code or error text was found in this input.",
        ),
    };
    let shown = facts
        .text
        .lines()
        .next()
        .unwrap_or("")
        .chars()
        .take(200)
        .collect::<String>();
    Meaning {
        retry: retry_for(None, Category::Other, &facts),
        facts,
        entry: None,
        category: Category::Other,
        confidence: Confidence::Low,
        alternatives: Vec::new(),
        title: title.into(),
        meaning: meaning.into(),
        causes: Vec::new(),
        fix: vec![
            format!("Read the server's or program's own words: \"{shown}\""),
            "Run `smtpdoctor check` against the server to see the whole dialogue.".into(),
        ],
        references: vec![
            "RFC 5321 section 4.2 (reply codes)".into(),
            "RFC 3463 (enhanced status codes)".into(),
        ],
        matched: Vec::new(),
    }
}

/// The meaning of free text: a reply line, a status code, a client error or a whole bounce.
pub fn explain(text: &str) -> Meaning {
    let facts = Facts::read(text);
    let matched = candidates(&facts, None);
    let mut meaning = decide(facts, matched);
    // A name that does not resolve is often a typo of a well-known provider's host.
    if matches!(meaning.category, Category::Dns | Category::Other)
        && let Some((typed, known)) =
            hosts::hosts_in(text).find_map(|h| hosts::did_you_mean(h).map(|k| (h, k)))
    {
        meaning.fix.insert(
            0,
            format!(
                "Did you mean {known}? The server name given, {typed}, looks like a typo of it."
            ),
        );
        if meaning.category == Category::Other {
            meaning.category = Category::Dns;
            meaning.retry = Retry::Permanent;
            meaning.confidence = Confidence::Medium;
            meaning.alternatives.clear();
            meaning.title = "Mistyped server name".into();
            meaning.meaning = format!(
                "{typed} is not a known mail server name, but {known} is: the name was most likely mistyped, so it cannot be found in DNS."
            );
        }
    }
    meaning
}

/// The meaning of a reply seen at a stage of the dialogue (as `check` sees it).
pub fn classify(reply: &smtpdoctor_report::check::Reply, stage: Stage) -> Meaning {
    let facts = Facts::from_reply(reply);
    let matched = candidates(&facts, Some(stage));
    decide(facts, matched)
}

#[cfg(test)]
mod tests;
