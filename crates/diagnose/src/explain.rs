//! The rules of `explain`: from the knowledge's answer to a verdict and the command's fields.

use smtpdoctor_knowledge::Meaning;
use smtpdoctor_report::explain::{ExplainBody, MatchedEntry};
use smtpdoctor_report::{Confidence, Status, Verdict};

/// The longest input kept in the report.
const MAX_SHOWN: usize = 2000;

/// Explains one input.
pub fn explain(text: &str) -> (Verdict, ExplainBody) {
    let meaning = smtpdoctor_knowledge::explain(text);
    answer(text, meaning)
}

fn answer(text: &str, m: Meaning) -> (Verdict, ExplainBody) {
    // A 2xx or 3xx reply is not an error, whatever else matched.
    let positive = m.facts.reply_code.is_some_and(|c| c < 400)
        && m.facts
            .enhanced
            .as_deref()
            .is_none_or(|e| e.starts_with('2'));
    let unreadable = m.entry.is_none()
        && m.category == smtpdoctor_report::Category::Other
        && m.facts.reply_code.is_none()
        && m.facts.enhanced.is_none();
    let (status, category, retry) = if positive {
        (Status::Ok, None, None)
    } else if unreadable {
        (Status::Inconclusive, None, None)
    } else {
        (Status::Problem, Some(m.category), Some(m.retry))
    };
    let mut shown: String = text.trim().chars().take(MAX_SHOWN).collect();
    if text.trim().chars().count() > MAX_SHOWN {
        shown.push('…');
    }
    let summary = if m.meaning.is_empty() {
        m.title.clone()
    } else {
        format!("{}: {}", m.title, m.meaning)
    };
    let evidence = m
        .entry
        .map(|e| vec![format!("knowledge:{}", e.id)])
        .unwrap_or_default();
    let verdict = Verdict {
        status,
        category,
        retry,
        confidence: if unreadable {
            Confidence::Low
        } else {
            m.confidence
        },
        alternatives: m.alternatives.clone(),
        summary,
        fix: m.fix.clone(),
        evidence,
    };
    let body = ExplainBody {
        input: shown,
        reply_code: m.facts.reply_code,
        enhanced_code: m.facts.enhanced.clone(),
        category,
        retry,
        confidence: verdict.confidence,
        alternatives: m.alternatives.clone(),
        title: m.title.clone(),
        meaning: m.meaning.clone(),
        causes: m.causes.clone(),
        fixes: m.fix.clone(),
        references: m.references.clone(),
        matched: m
            .matched
            .iter()
            .take(5)
            .map(|x| MatchedEntry {
                id: x.entry.id.to_string(),
                title: x.entry.title.to_string(),
                category: x.entry.category,
                kind: x.entry.kind.to_string(),
                provider: x.entry.provider.map(str::to_string),
                score: x.score,
                why: x.why.clone(),
            })
            .collect(),
    };
    (verdict, body)
}
