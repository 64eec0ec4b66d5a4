//! Scores `explain` against the development set (../shared/knowledge/explain-dev-cases.tsv):
//! category right (the expected one or an accepted alternative) and retry right. Prints the
//! figures and every miss; says so and exits 0 when the set is not there.
//!
//! `cargo run -p smtpdoctor-knowledge --example dev_set [-- PATH] [--min PERCENT]`

use smtpdoctor_knowledge::explain;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let min: f64 = args
        .iter()
        .position(|a| a == "--min")
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    let path = args
        .iter()
        .find(|a| !a.starts_with("--") && a.parse::<f64>().is_err())
        .cloned()
        .unwrap_or_else(|| {
            concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../../shared/knowledge/explain-dev-cases.tsv"
            )
            .to_string()
        });
    let Ok(text) = std::fs::read_to_string(&path) else {
        println!(
            "explain dev set: not found at {path}; skipped (it lives in ../shared, beside the checkout)"
        );
        return;
    };
    let mut header: Vec<&str> = Vec::new();
    let (mut total, mut category_ok, mut retry_total, mut retry_ok) = (0, 0, 0, 0);
    let mut misses = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let cols: Vec<&str> = line.split('\t').collect();
        if i == 0 {
            header = cols;
            continue;
        }
        let col = |name: &str| {
            header
                .iter()
                .position(|h| *h == name)
                .and_then(|p| cols.get(p))
                .copied()
                .unwrap_or("")
        };
        let input = col("input").replace("\\n", "\n").replace("\\t", "\t");
        let expected = col("category");
        let accepted: Vec<&str> = std::iter::once(expected)
            .chain(
                col("alt_categories")
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty()),
            )
            .collect();
        let m = explain(&input);
        total += 1;
        let got = m.category.to_string();
        let cat_ok = accepted.contains(&got.as_str());
        category_ok += cat_ok as usize;
        let want_retry = col("retry");
        let got_retry = format!("{:?}", m.retry).to_lowercase();
        let retry_right = want_retry.is_empty() || want_retry == got_retry;
        if !want_retry.is_empty() {
            retry_total += 1;
            retry_ok += retry_right as usize;
        }
        if !cat_ok || !retry_right {
            misses.push(format!(
                "{} want {expected}/{want_retry} got {got}/{got_retry} via {:?}: {}",
                col("id"),
                m.entry.map(|e| e.id),
                input
                    .chars()
                    .take(110)
                    .collect::<String>()
                    .replace('\n', " ")
            ));
        }
    }
    let pct = |a: usize, b: usize| {
        if b == 0 {
            100.0
        } else {
            100.0 * a as f64 / b as f64
        }
    };
    for m in &misses {
        println!("  miss {m}");
    }
    let cat = pct(category_ok, total);
    println!(
        "explain dev set: category {category_ok}/{total} ({cat:.1}%), retry {retry_ok}/{retry_total} ({:.1}%), {} knowledge entries",
        pct(retry_ok, retry_total),
        smtpdoctor_knowledge::ENTRY_COUNT
    );
    if cat < min {
        println!("explain dev set: category accuracy {cat:.1}% is below the floor of {min}%");
        std::process::exit(1);
    }
}
