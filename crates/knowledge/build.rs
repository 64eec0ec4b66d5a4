//! Compiles the knowledge files (data/*.toml) into static Rust tables, so that nothing is parsed
//! at run time. Fails the build, naming the file and entry, when an entry is malformed.

use serde::Deserialize;
use std::fmt::Write as _;
use std::path::Path;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    entry: Vec<Entry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    id: String,
    title: String,
    kind: String,
    #[serde(default)]
    provider: Option<String>,
    category: String,
    #[serde(default)]
    retry: Option<String>,
    #[serde(default)]
    alternatives: Vec<String>,
    #[serde(default)]
    codes: Vec<u16>,
    #[serde(default)]
    enhanced: Vec<String>,
    #[serde(default)]
    phrases: Vec<String>,
    #[serde(default)]
    stages: Vec<String>,
    #[serde(default)]
    weight: i32,
    meaning: String,
    #[serde(default)]
    causes: Vec<String>,
    fixes: Vec<String>,
    references: Vec<String>,
    source: String,
    examples: Vec<String>,
    #[serde(default)]
    negatives: Vec<String>,
}

const CATEGORIES: [&str; 24] = [
    "network_unreachable",
    "dns",
    "connection_refused",
    "timeout_or_blocked_port",
    "tls_mismatch",
    "tls_certificate",
    "auth_required",
    "auth_failed",
    "auth_mechanism",
    "auth_disabled_by_provider",
    "relay_denied",
    "sender_rejected",
    "recipient_unknown",
    "mailbox_full",
    "mailbox_disabled",
    "greylisting_or_rate_limit",
    "server_unavailable",
    "spam_or_policy_block",
    "blacklisted_ip",
    "sender_auth_failure",
    "message_too_large",
    "syntax_protocol",
    "content_rejected",
    "other",
];
const KINDS: [&str; 6] = ["basic", "enhanced", "mta", "provider", "client", "network"];
const STAGES: [&str; 8] = [
    "greeting", "ehlo", "starttls", "auth", "mail", "rcpt", "data", "message",
];
const RETRIES: [&str; 3] = ["temporary", "permanent", "class"];

fn camel(name: &str) -> String {
    name.split('_')
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect()
}

fn strs(items: &[String]) -> String {
    format!(
        "&[{}]",
        items
            .iter()
            .map(|s| format!("{s:?}"))
            .collect::<Vec<_>>()
            .join(", ")
    )
}

fn main() {
    let dir = Path::new("data");
    println!("cargo:rerun-if-changed=data");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .expect("data/ exists")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        // The provider presets have their own shape (see `presets` below).
        .filter(|p| p.file_name().is_none_or(|n| n != "presets.toml"))
        .collect();
    files.sort();
    let mut out = String::from(
        "/// Every knowledge entry, in file order (files sorted by name).\npub static ENTRIES: &[Entry] = &[\n",
    );
    let mut ids = std::collections::HashSet::new();
    let mut count = 0;
    for path in files {
        println!("cargo:rerun-if-changed={}", path.display());
        let text = std::fs::read_to_string(&path).unwrap();
        let file: File =
            toml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        for e in file.entry {
            let at = format!("{}: entry {}", path.display(), e.id);
            assert!(ids.insert(e.id.clone()), "{at}: duplicate id");
            assert!(
                CATEGORIES.contains(&e.category.as_str()),
                "{at}: unknown category {}",
                e.category
            );
            for a in &e.alternatives {
                assert!(
                    CATEGORIES.contains(&a.as_str()),
                    "{at}: unknown alternative {a}"
                );
            }
            assert!(
                KINDS.contains(&e.kind.as_str()),
                "{at}: unknown kind {}",
                e.kind
            );
            for s in &e.stages {
                assert!(STAGES.contains(&s.as_str()), "{at}: unknown stage {s}");
            }
            if let Some(r) = &e.retry {
                assert!(
                    RETRIES.contains(&r.as_str()),
                    "{at}: retry must be one of {RETRIES:?}"
                );
            }
            assert!(!e.source.trim().is_empty(), "{at}: no source");
            assert!(!e.references.is_empty(), "{at}: no reference");
            assert!(!e.examples.is_empty(), "{at}: no example");
            assert!(!e.fixes.is_empty(), "{at}: no fix");
            assert!(
                !(e.codes.is_empty() && e.enhanced.is_empty() && e.phrases.is_empty()),
                "{at}: matches nothing"
            );
            for p in &e.phrases {
                assert!(
                    p == &p.to_lowercase() && p.trim().len() >= 3,
                    "{at}: phrase {p:?} must be lower case, 3+ characters"
                );
            }
            let retry = match e.retry.as_deref() {
                Some("temporary") => "Some(RetryRule::Temporary)",
                Some("permanent") => "Some(RetryRule::Permanent)",
                Some("class") => "Some(RetryRule::Class)",
                _ => "None",
            };
            let cats = |v: &[String]| {
                format!(
                    "&[{}]",
                    v.iter()
                        .map(|c| format!("Category::{}", camel(c)))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            };
            let stages = format!(
                "&[{}]",
                e.stages
                    .iter()
                    .map(|s| format!("Stage::{}", camel(s)))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            let _ = writeln!(
                out,
                "    Entry {{ id: {:?}, title: {:?}, kind: {:?}, provider: {:?}, category: Category::{}, retry: {retry}, alternatives: {}, codes: &{:?}, enhanced: {}, phrases: {}, stages: {stages}, weight: {}, meaning: {:?}, causes: {}, fixes: {}, references: {}, source: {:?}, examples: {}, negatives: {} }},",
                e.id,
                e.title,
                e.kind,
                e.provider,
                camel(&e.category),
                cats(&e.alternatives),
                e.codes,
                strs(&e.enhanced),
                strs(&e.phrases),
                e.weight,
                e.meaning,
                strs(&e.causes),
                strs(&e.fixes),
                strs(&e.references),
                e.source,
                strs(&e.examples),
                strs(&e.negatives)
            );
            count += 1;
        }
    }
    out.push_str("];\n");
    let _ = writeln!(
        out,
        "/// How many entries the knowledge holds.\npub const ENTRY_COUNT: usize = {count};"
    );
    std::fs::write(
        Path::new(&std::env::var("OUT_DIR").unwrap()).join("entries.rs"),
        out,
    )
    .unwrap();
    presets(&dir.join("presets.toml"));
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PresetFile {
    #[serde(default)]
    provider: Vec<Preset>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Preset {
    id: String,
    name: String,
    kind: String,
    #[serde(default)]
    domains: Vec<String>,
    #[serde(default)]
    mx_suffixes: Vec<String>,
    #[serde(default)]
    spf_includes: Vec<String>,
    policy: String,
    #[serde(default)]
    policy_note: String,
    username: String,
    #[serde(default)]
    regions: Vec<String>,
    #[serde(default)]
    server: Vec<PresetServer>,
    #[serde(default)]
    source: Vec<PresetSource>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PresetServer {
    host: String,
    port: u16,
    security: String,
    #[serde(default)]
    auth: Vec<String>,
    #[serde(default)]
    note: String,
    #[serde(default)]
    alternative: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PresetSource {
    url: String,
    checked: String,
    quote: String,
    covers: Vec<String>,
}

const PRESET_KINDS: [&str; 3] = ["mailbox", "relay", "bridge"];
const POLICIES: [&str; 7] = [
    "password",
    "app_password",
    "oauth_only",
    "auth_disabled_by_default",
    "api_key",
    "bridge_password",
    "smtp_credentials",
];
const SECURITIES: [&str; 2] = ["implicit", "starttls"];

/// The provider presets (data/presets.toml) as a static table. The shape and the closed value
/// sets are checked here (the build fails on a typo); the sourcing rules are unit tests.
fn presets(path: &Path) {
    println!("cargo:rerun-if-changed={}", path.display());
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let file: PresetFile =
        toml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut out = String::from(
        "/// Every provider preset, in file order.\npub static PROVIDERS: &[Provider] = &[\n",
    );
    for p in &file.provider {
        let at = format!("{}: provider {}", path.display(), p.id);
        assert!(
            PRESET_KINDS.contains(&p.kind.as_str()),
            "{at}: unknown kind {}",
            p.kind
        );
        assert!(
            POLICIES.contains(&p.policy.as_str()),
            "{at}: unknown policy {}",
            p.policy
        );
        let servers: Vec<String> = p
            .server
            .iter()
            .map(|s| {
                assert!(
                    SECURITIES.contains(&s.security.as_str()),
                    "{at}: unknown security {}",
                    s.security
                );
                format!(
                    "Server {{ host: {:?}, port: {}, security: Security::{}, auth: {}, note: {:?}, alternative: {} }}",
                    s.host,
                    s.port,
                    camel(&s.security),
                    strs(&s.auth),
                    s.note,
                    s.alternative
                )
            })
            .collect();
        let sources: Vec<String> = p
            .source
            .iter()
            .map(|s| {
                format!(
                    "Source {{ url: {:?}, checked: {:?}, quote: {:?}, covers: {} }}",
                    s.url,
                    s.checked,
                    s.quote,
                    strs(&s.covers)
                )
            })
            .collect();
        let _ = writeln!(
            out,
            "    Provider {{ id: {:?}, name: {:?}, kind: Kind::{}, domains: {}, mx_suffixes: {}, spf_includes: {}, policy: Policy::{}, policy_note: {:?}, username: {:?}, regions: {}, servers: &[{}], sources: &[{}] }},",
            p.id,
            p.name,
            camel(&p.kind),
            strs(&p.domains),
            strs(&p.mx_suffixes),
            strs(&p.spf_includes),
            camel(&p.policy),
            p.policy_note,
            p.username,
            strs(&p.regions),
            servers.join(", "),
            sources.join(", ")
        );
    }
    out.push_str("];\n");
    std::fs::write(
        Path::new(&std::env::var("OUT_DIR").unwrap()).join("presets.rs"),
        out,
    )
    .unwrap();
}
