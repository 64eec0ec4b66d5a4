//! Tests over the whole table: every example is won by its own entry, no negative is, and the
//! development set's texts never became patterns.

use super::*;

#[test]
fn every_example_is_won_by_its_own_entry() {
    let mut wrong = Vec::new();
    for entry in ENTRIES {
        for example in entry.examples {
            let got = explain(example);
            if got.entry.map(|e| e.id) != Some(entry.id) {
                wrong.push(format!(
                    "{}: {example:?} was won by {:?}",
                    entry.id,
                    got.entry.map(|e| e.id)
                ));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "{} examples won by another entry:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}

#[test]
fn no_negative_is_won_by_its_entry() {
    let mut wrong = Vec::new();
    for entry in ENTRIES {
        for negative in entry.negatives {
            if explain(negative).entry.map(|e| e.id) == Some(entry.id) {
                wrong.push(format!("{}: {negative:?}", entry.id));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "negatives won by their own entry:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn entries_are_sourced_and_unique() {
    let mut ids = std::collections::HashSet::new();
    for e in ENTRIES {
        assert!(ids.insert(e.id), "duplicate {}", e.id);
        assert!(
            !e.source.is_empty() && !e.references.is_empty() && !e.examples.is_empty(),
            "{}",
            e.id
        );
    }
    assert_eq!(ENTRIES.len(), ENTRY_COUNT);
}

/// The development set is for measuring only: no phrase or example may come from its texts.
#[test]
fn development_set_texts_are_not_patterns() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/knowledge/explain-dev-cases.tsv"
    );
    let Ok(text) = std::fs::read_to_string(path) else {
        eprintln!("skipped: no development set at {path}");
        return;
    };
    let inputs: Vec<String> = text
        .lines()
        .skip(1)
        .filter_map(|l| l.split('\t').nth(1))
        .map(|s| s.replace("\\n", "\n").to_ascii_lowercase())
        .collect();
    for entry in ENTRIES {
        for example in entry.examples {
            let lower = example.to_ascii_lowercase();
            assert!(
                !inputs.contains(&lower),
                "{}: example copied from the development set: {example:?}",
                entry.id
            );
        }
        for phrase in entry.phrases.iter().filter(|p| p.len() >= 40) {
            assert!(
                !inputs.iter().any(|i| i.contains(*phrase)),
                "{}: long phrase copied from the development set: {phrase:?}",
                entry.id
            );
        }
    }
}

#[test]
fn context_decides_over_the_code() {
    let cases = [
        (
            "554 5.7.1 <a@b.example>: Relay access denied",
            Category::RelayDenied,
        ),
        (
            "554 5.7.1 <a@b.example>: Client host rejected: Access denied",
            Category::AuthRequired,
        ),
        (
            "550 5.7.1 Message rejected as spam",
            Category::SpamOrPolicyBlock,
        ),
        (
            "421 4.7.0 Too many connections from your IP",
            Category::GreylistingOrRateLimit,
        ),
        (
            "550 5.7.1 Client host [192.0.2.1] blocked using zen.spamhaus.org",
            Category::BlacklistedIp,
        ),
    ];
    for (text, category) in cases {
        assert_eq!(explain(text).category, category, "{text}");
    }
}

#[test]
fn unknown_text_gets_an_honest_answer() {
    let m = explain("everything is purple today");
    assert!(m.entry.is_none());
    assert_eq!(m.category, Category::Other);
    assert_eq!(m.confidence, Confidence::Low);
    let m = explain("599 weird");
    assert_ne!(m.confidence, Confidence::High);
}

#[test]
fn retry_follows_the_cause() {
    assert_eq!(
        explain("451 4.7.1 Please try again later").retry,
        Retry::Temporary
    );
    assert_eq!(
        explain("535 5.7.8 Error: authentication failed").retry,
        Retry::Permanent
    );
    // A 4xx that needs a change is still permanent: waiting will not grant relaying.
    assert_eq!(
        explain("454 4.7.1 <a@b.example>: Relay access denied").retry,
        Retry::Permanent
    );
}
