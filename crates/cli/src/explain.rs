//! `smtpdoctor explain`: one pasted error, or many (`--lines`), in plain words.

use crate::UsageError;
use crate::args::{ExplainArgs, ExplainFormat};
use smtpdoctor_render::Palette;
use smtpdoctor_report::explain::ExplainRecord;
use smtpdoctor_report::{Category, ExitCode, Report, SCHEMA_VERSION};
use std::collections::BTreeMap;
use std::io::{BufRead, BufWriter, IsTerminal, Read, Write};

/// The most read from standard input or a file for one explanation.
const MAX_INPUT: u64 = 4 * 1024 * 1024;

pub fn run(args: ExplainArgs, palette: Palette) -> Result<ExitCode, UsageError> {
    if let Some(path) = &args.lines {
        return lines(path);
    }
    let started = std::time::Instant::now();
    let started_at = now_rfc3339();
    let text = match args.text.as_slice() {
        [] if std::io::stdin().is_terminal() => {
            return Err(UsageError(
                "give the text to explain, or - to read it from standard input".into(),
            ));
        }
        [] => read_stdin()?,
        [one] if one == "-" => read_stdin()?,
        words => words.join(" "),
    };
    if text.trim().is_empty() {
        return Err(UsageError("the text to explain is empty".into()));
    }
    let (verdict, body) = smtpdoctor_diagnose::explain::explain(&text);
    let report = Report {
        schema_version: SCHEMA_VERSION,
        command: "explain".into(),
        tool_version: env!("CARGO_PKG_VERSION").into(),
        knowledge_version: crate::KNOWLEDGE.into(),
        target: serde_json::json!({ "input_chars": text.chars().count() }),
        started_at,
        duration_ms: started.elapsed().as_millis() as u64,
        verdict,
        findings: Vec::new(),
        body,
    };
    match args.format {
        ExplainFormat::Json => println!("{}", smtpdoctor_render::json(&report)),
        ExplainFormat::Jsonl => println!("{}", serde_json::to_string(&report).unwrap_or_default()),
        ExplainFormat::Human => print!("{}", smtpdoctor_render::human::explain(&report, palette)),
    }
    Ok(ExitCode::for_verdict(
        report.verdict.status,
        report.verdict.category,
    ))
}

fn read_stdin() -> Result<String, UsageError> {
    let mut bytes = Vec::new();
    std::io::stdin()
        .take(MAX_INPUT)
        .read_to_end(&mut bytes)
        .map_err(|e| UsageError(format!("cannot read standard input: {e}")))?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// One JSON line per input line; a summary by category on stderr.
fn lines(path: &std::path::Path) -> Result<ExitCode, UsageError> {
    let reader: Box<dyn BufRead> = if path.as_os_str() == "-" {
        Box::new(std::io::stdin().lock())
    } else {
        let file = std::fs::File::open(path)
            .map_err(|e| UsageError(format!("--lines {}: {e}", path.display())))?;
        Box::new(std::io::BufReader::new(file))
    };
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    let mut total = 0usize;
    let mut buf = Vec::new();
    let mut reader = reader;
    let mut number = 0usize;
    loop {
        buf.clear();
        // Lines are bounded: a huge line is cut, never held whole.
        let n = reader
            .by_ref()
            .take(64 * 1024)
            .read_until(b'\n', &mut buf)
            .map_err(|e| UsageError(format!("--lines {}: {e}", path.display())))?;
        if n == 0 {
            break;
        }
        if buf.last() != Some(&b'\n') && n == 64 * 1024 {
            // Skip the rest of an over-long line.
            let mut sink = Vec::new();
            let _ = reader.read_until(b'\n', &mut sink);
        }
        number += 1;
        let text = String::from_utf8_lossy(&buf);
        let text = text.trim_end_matches(['\r', '\n']);
        if text.trim().is_empty() {
            continue;
        }
        let (_, body) = smtpdoctor_diagnose::explain::explain(text);
        *counts
            .entry(
                body.category
                    .map_or("none".to_string(), |c: Category| c.to_string()),
            )
            .or_default() += 1;
        total += 1;
        let record = ExplainRecord { line: number, body };
        serde_json::to_writer(&mut out, &record)
            .map_err(|e| UsageError(format!("cannot write: {e}")))?;
        if out.write_all(b"\n").is_err() {
            // The reader went away (a closed pipe): stop quietly.
            return Ok(ExitCode::Ok);
        }
    }
    let _ = out.flush();
    let summary: Vec<String> = counts.iter().map(|(c, n)| format!("{c} {n}")).collect();
    eprintln!(
        "smtpdoctor explain: {total} lines explained: {}",
        summary.join(", ")
    );
    Ok(ExitCode::Ok)
}

pub(crate) fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}
