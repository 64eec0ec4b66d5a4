//! Compiles data/reasons.toml into a static table, so nothing is parsed at run time. Fails the
//! build, naming the reason, when an entry is malformed.

use serde::Deserialize;
use std::fmt::Write as _;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    reason: Vec<Reason>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Reason {
    name: String,
    meaning: String,
    #[serde(default)]
    statuses: Vec<String>,
    #[serde(default)]
    hint_statuses: Vec<String>,
    #[serde(default)]
    phrases: Vec<String>,
    #[serde(default)]
    strong_phrases: Vec<String>,
    #[serde(default)]
    weak_phrases: Vec<String>,
    #[serde(default)]
    examples: Vec<String>,
}

fn main() {
    let path = "data/reasons.toml";
    println!("cargo:rerun-if-changed={path}");
    let text = std::fs::read_to_string(path).expect("read data/reasons.toml");
    let file: File = toml::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"));
    let mut out = String::from(
        "/// Every reason, in the order phrases are tried.\npub static REASONS: &[Reason] = &[\n",
    );
    for r in &file.reason {
        assert!(
            r.name.bytes().all(|b| b.is_ascii_lowercase()),
            "{path}: reason name {:?} must be lower-case letters",
            r.name
        );
        for s in r.statuses.iter().chain(&r.hint_statuses) {
            let parts: Vec<&str> = s.split('.').collect();
            assert!(
                parts.len() == 3
                    && parts[0] == "X"
                    && parts[1..]
                        .iter()
                        .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit())),
                "{path}: reason {}: status {s:?} must look like X.1.1",
                r.name
            );
        }
        for p in r
            .phrases
            .iter()
            .chain(&r.strong_phrases)
            .chain(&r.weak_phrases)
        {
            assert!(
                *p == p.to_lowercase() && !p.trim().is_empty(),
                "{path}: reason {}: phrase {p:?} must be lower case and not empty",
                r.name
            );
        }
        assert!(
            (r.phrases.is_empty() && r.strong_phrases.is_empty() && r.weak_phrases.is_empty())
                || !r.examples.is_empty(),
            "{path}: reason {} has phrases but no example",
            r.name
        );
        writeln!(
            out,
            "    Reason {{ name: {:?}, meaning: {:?}, statuses: &{:?}, hint_statuses: &{:?}, phrases: &{:?}, strong_phrases: &{:?}, weak_phrases: &{:?}, examples: &{:?} }},",
            r.name, r.meaning, r.statuses, r.hint_statuses, r.phrases, r.strong_phrases, r.weak_phrases, r.examples
        )
        .unwrap();
    }
    out.push_str("];\n");
    let dest = std::path::Path::new(&std::env::var("OUT_DIR").unwrap()).join("reasons.rs");
    std::fs::write(dest, out).unwrap();
}
