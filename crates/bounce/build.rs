//! Compiles data/reasons.toml into static tables (reasons, and the engines whose own conventions
//! decide a reason), so nothing is parsed at run time. Fails the build, naming the entry, when one
//! is malformed.

use serde::Deserialize;
use std::fmt::Write as _;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    reason: Vec<Reason>,
    #[serde(default)]
    engine: Vec<Engine>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Engine {
    name: String,
    meaning: String,
    #[serde(default)]
    subjects: Vec<String>,
    #[serde(default)]
    from: Vec<String>,
    #[serde(default)]
    x_mailers: Vec<String>,
    #[serde(default)]
    received: Vec<String>,
    #[serde(default)]
    hosts: Vec<String>,
    #[serde(default)]
    example_headers: String,
    #[serde(default)]
    example_host: String,
    rule: Vec<Rule>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Rule {
    #[serde(default)]
    phrase: String,
    #[serde(default)]
    command: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    aup: Option<[u16; 2]>,
    #[serde(default)]
    yields_to_status: bool,
    reason: String,
    example: String,
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

    let known: Vec<&str> = file
        .reason
        .iter()
        .map(|r| r.name.as_str())
        .chain(["onhold", "undefined"])
        .collect();
    out.push_str(
        "/// Every engine, in the order the headers are tried.\npub static ENGINES: &[Engine] = &[\n",
    );
    for e in &file.engine {
        let lower = |list: &[String], what: &str| {
            for p in list {
                assert!(
                    *p == p.to_lowercase() && !p.trim().is_empty(),
                    "{path}: engine {}: {what} {p:?} must be lower case and not empty",
                    e.name
                );
            }
        };
        lower(&e.subjects, "subject");
        lower(&e.from, "from");
        lower(&e.x_mailers, "x_mailer");
        lower(&e.received, "received");
        lower(&e.hosts, "host");
        let by_headers = !(e.subjects.is_empty()
            && e.from.is_empty()
            && e.x_mailers.is_empty()
            && e.received.is_empty());
        assert!(
            by_headers == e.hosts.is_empty(),
            "{path}: engine {} is recognised either by headers or by hosts, not both or neither",
            e.name
        );
        assert!(
            (by_headers && !e.example_headers.is_empty())
                || (!by_headers && !e.example_host.is_empty()),
            "{path}: engine {} needs an example_headers or example_host that recognises it",
            e.name
        );
        let mut rules = String::new();
        for r in &e.rule {
            assert!(
                known.contains(&r.reason.as_str()),
                "{path}: engine {}: unknown reason {:?}",
                e.name,
                r.reason
            );
            assert!(
                r.phrase == r.phrase.to_lowercase() && !r.example.is_empty(),
                "{path}: engine {}: rule {:?} needs a lower-case phrase and an example",
                e.name,
                r.phrase
            );
            let (lo, hi) = r.aup.map_or((0, 0), |[lo, hi]| (lo, hi));
            write!(
                rules,
                "Rule {{ phrase: {:?}, command: {:?}, status: {:?}, aup: ({lo}, {hi}), yields_to_status: {}, reason: {:?}, example: {:?} }}, ",
                r.phrase, r.command, r.status, r.yields_to_status, r.reason, r.example
            )
            .unwrap();
        }
        writeln!(
            out,
            "    Engine {{ name: {:?}, meaning: {:?}, subjects: &{:?}, from: &{:?}, x_mailers: &{:?}, received: &{:?}, hosts: &{:?}, example_headers: {:?}, example_host: {:?}, rules: &[{rules}] }},",
            e.name, e.meaning, e.subjects, e.from, e.x_mailers, e.received, e.hosts, e.example_headers, e.example_host
        )
        .unwrap();
    }
    out.push_str("];\n");
    let dest = std::path::Path::new(&std::env::var("OUT_DIR").unwrap()).join("reasons.rs");
    std::fs::write(dest, out).unwrap();
}
