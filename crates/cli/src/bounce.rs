//! `smtpdoctor bounce`: reads bounce messages from files, mbox files, Maildir folders,
//! directories and standard input, one message at a time, and reports every failed (or
//! delayed) recipient with its cause.
//!
//! Messages are read in batches bounded in bytes; each batch is parsed on one thread per CPU
//! and written in input order. Every format streams: JSON lines and the JSON document are
//! written batch by batch, and human output keeps only the records it shows, so memory stays
//! bounded whatever the input's size (each message is capped at
//! `smtpdoctor_bounce::MAX_MESSAGE_BYTES`).

use crate::UsageError;
use crate::args::{BounceArgs, BounceFormat};
use smtpdoctor_bounce::input::{Item, Messages};
use smtpdoctor_diagnose::bounce::{Tally, judge};
use smtpdoctor_render::Palette;
use smtpdoctor_render::bounce::{JsonStream, TABLE_ROWS, json_line};
use smtpdoctor_report::bounce::{BounceBody, BounceRecord, Unreadable};
use smtpdoctor_report::{ExitCode, Report, SCHEMA_VERSION};
use std::collections::HashSet;
use std::io::{BufWriter, StdoutLock, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Where the records go while they are read.
enum Sink {
    /// Kept for the table (the first [`TABLE_ROWS`] only).
    Human(Vec<BounceRecord>),
    /// The JSON document, opened when the first message is read.
    Json(Option<JsonStream<BufWriter<StdoutLock<'static>>>>),
    /// One line per record.
    Jsonl(BufWriter<StdoutLock<'static>>),
}

pub fn run(args: BounceArgs, palette: Palette) -> Result<ExitCode, UsageError> {
    let started = std::time::Instant::now();
    let paths = crate::input_paths(
        args.paths,
        "the messages to read: .eml files, mbox files, Maildir folders or directories",
    )?;
    let mut report = Report {
        schema_version: SCHEMA_VERSION,
        command: "bounce".into(),
        tool_version: env!("CARGO_PKG_VERSION").into(),
        knowledge_version: crate::KNOWLEDGE.into(),
        target: serde_json::json!({
            "paths": paths.iter().map(|p| p.display().to_string()).collect::<Vec<_>>()
        }),
        started_at: crate::explain::now_rfc3339(),
        duration_ms: 0,
        verdict: smtpdoctor_report::Verdict {
            status: smtpdoctor_report::Status::Inconclusive,
            category: None,
            retry: None,
            confidence: smtpdoctor_report::Confidence::Low,
            alternatives: Vec::new(),
            summary: String::new(),
            fix: Vec::new(),
            evidence: Vec::new(),
        },
        findings: Vec::new(),
        body: BounceBody::default(),
    };
    let stdout = || BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
    let mut sink = match args.format {
        BounceFormat::Human => Sink::Human(Vec::new()),
        BounceFormat::Json => Sink::Json(None),
        BounceFormat::Jsonl => Sink::Jsonl(stdout()),
    };
    let spinner = crate::spinner(args.format == BounceFormat::Human);
    let mut tally = Tally::default();
    let mut body = BounceBody::default();
    let mut inputs = Inputs {
        walk: Walk::new(&paths),
        current: None,
    };
    let threads = args.jobs.map_or_else(default_jobs, usize::from);
    loop {
        // A batch is read, parsed on `threads` threads, then written in input order: memory
        // holds at most one batch (bounded in bytes) and its records.
        let mut batch = Vec::new();
        let mut bytes = 0;
        while batch.len() < BATCH_MESSAGES && bytes < BATCH_BYTES {
            let Some(next) = inputs.next() else { break };
            bytes += next.as_ref().map_or(0, |item| item.bytes.len());
            batch.push(next);
        }
        if batch.is_empty() {
            break;
        }
        let parsed = read_all(&batch, threads);
        for (next, records) in batch.into_iter().zip(parsed) {
            let item = match next {
                Ok(item) => item,
                Err(u) => {
                    eprintln!("smtpdoctor: error: {}: {}", u.path, u.error);
                    body.unreadable.push(u);
                    continue;
                }
            };
            tally.message();
            if tally.messages % 256 == 0 {
                spinner.set_message(format!("{} messages read…", tally.messages));
            }
            if item.truncated {
                body.truncated.push(item.name.clone());
            }
            // A bug on one message must not lose the others: it is named, skipped, and the run
            // exits 3 at the end.
            let Some(records) = records else {
                eprintln!(
                    "smtpdoctor: the message {} was skipped; the others are still read",
                    item.name
                );
                body.internal_errors.push(item.name);
                continue;
            };
            if let Sink::Json(stream @ None) = &mut sink {
                match JsonStream::begin(stdout(), &report) {
                    Ok(s) => *stream = Some(s),
                    Err(e) => return Ok(write_failed(e)),
                }
            }
            for r in records {
                tally.add(&r);
                let written = match &mut sink {
                    Sink::Human(kept) => {
                        if kept.len() < TABLE_ROWS {
                            kept.push(r);
                        }
                        Ok(())
                    }
                    Sink::Json(stream) => match stream {
                        Some(s) => s.record(&r, item.truncated),
                        None => Ok(()),
                    },
                    Sink::Jsonl(out) => json_line(out, &r, item.truncated),
                };
                if let Err(e) = written {
                    spinner.finish_and_clear();
                    return Ok(write_failed(e));
                }
            }
        }
    }
    spinner.finish_and_clear();
    if tally.messages == 0 && !body.unreadable.is_empty() {
        // Nothing could be read at all: a usage error, already named on stderr.
        return Ok(ExitCode::Usage);
    }
    body.messages = tally.messages;
    body.summary = tally.summary.clone();
    let (verdict, findings) = judge(&tally, &body);
    report.verdict = verdict;
    report.findings = findings;
    report.duration_ms = started.elapsed().as_millis() as u64;
    let code = if !body.internal_errors.is_empty() {
        ExitCode::Internal
    } else if !body.unreadable.is_empty() {
        ExitCode::Usage
    } else {
        ExitCode::for_verdict(report.verdict.status, report.verdict.category)
    };
    report.body = body;
    let written = match sink {
        Sink::Human(kept) => {
            report.body.records = kept;
            let text = smtpdoctor_render::bounce::human(&report, palette);
            let mut out = stdout();
            out.write_all(text.as_bytes()).and_then(|_| out.flush())
        }
        Sink::Json(stream) => {
            let stream = match stream {
                Some(s) => Ok(s),
                None => JsonStream::begin(stdout(), &report),
            };
            stream.and_then(|s| s.finish(&report)).map(|_| ())
        }
        Sink::Jsonl(mut out) => {
            let flushed = out.flush();
            eprint!("{}", smtpdoctor_render::bounce::brief(&report));
            flushed
        }
    };
    if let Err(e) = written {
        return Ok(write_failed(e));
    }
    Ok(code)
}

/// Most messages read before they are parsed and written.
const BATCH_MESSAGES: usize = 256;
/// Most bytes of messages read before they are parsed and written (one more message may be read,
/// up to `smtpdoctor_bounce::MAX_MESSAGE_BYTES`).
const BATCH_BYTES: usize = 8 << 20;

/// One thread per CPU, at most 8.
fn default_jobs() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get().min(8))
}

/// Every message of the paths, in order, or why a path could not be read.
struct Inputs {
    walk: Walk,
    current: Option<Messages>,
}

impl Iterator for Inputs {
    type Item = Result<Item, Unreadable>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(messages) = &mut self.current {
                match messages.next() {
                    Some(Ok(item)) => return Some(Ok(item)),
                    Some(Err(e)) => {
                        return Some(Err(Unreadable {
                            path: e.name,
                            error: e.error.to_string(),
                        }));
                    }
                    None => self.current = None,
                }
            }
            match self.walk.next()? {
                Ok(path) => self.current = Some(Messages::new(std::slice::from_ref(&path))),
                Err(u) => return Some(Err(u)),
            }
        }
    }
}

/// Reads the records of every message of a batch on `threads` threads (this one included), in
/// the batch's order; `None` where reading hit a bug (a panic, caught) or for a path error.
fn read_all(batch: &[Result<Item, Unreadable>], threads: usize) -> Vec<Option<Vec<BounceRecord>>> {
    let read = |i: usize| {
        let item = batch[i].as_ref().ok()?;
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            smtpdoctor_bounce::read(&item.bytes, &item.name)
        }))
        .ok()
    };
    if threads <= 1 || batch.len() < 2 {
        return (0..batch.len()).map(read).collect();
    }
    // Each thread takes the next message not yet taken, so one large message does not hold up
    // the others.
    let next = AtomicUsize::new(0);
    let work = || {
        let mut done = Vec::new();
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            if i >= batch.len() {
                return done;
            }
            done.push((i, read(i)));
        }
    };
    let mut out: Vec<Option<Vec<BounceRecord>>> = Vec::new();
    out.resize_with(batch.len(), || None);
    std::thread::scope(|scope| {
        let others: Vec<_> = (1..threads.min(batch.len()))
            .map(|_| scope.spawn(work))
            .collect();
        let mine = work();
        for (i, records) in mine.into_iter().chain(
            others
                .into_iter()
                .flat_map(|h| h.join().unwrap_or_default()),
        ) {
            out[i] = records;
        }
    });
    out
}

/// Output could not be written: a reader that went away (`| head`) ends the run quietly, as
/// in `explain --lines`; anything else is said.
fn write_failed(e: std::io::Error) -> ExitCode {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        ExitCode::Ok
    } else {
        eprintln!("smtpdoctor: error: cannot write the output: {e}");
        ExitCode::Internal
    }
}

/// The files to read, in order: each path as given (`-` is standard input), directories walked
/// in name order. Under a directory, hidden entries and anything but regular files are left out,
/// and a Maildir (a folder with `cur/` and `new/`) gives only the messages in `cur/` and `new/`:
/// not `tmp/` (deliveries in progress), its index files or its subfolders.
struct Walk {
    /// What is left, the next one last.
    stack: Vec<(PathBuf, bool)>,
    /// Directories already walked (device, inode): a symlink loop is walked once.
    seen: HashSet<(u64, u64)>,
}

impl Walk {
    fn new(paths: &[PathBuf]) -> Walk {
        Walk {
            stack: paths.iter().rev().map(|p| (p.clone(), true)).collect(),
            seen: HashSet::new(),
        }
    }

    /// Pushes a directory's entries (or a Maildir's cur/ and new/), in name order.
    fn expand(&mut self, dir: &Path, meta: &std::fs::Metadata) -> Result<(), Unreadable> {
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            if !self.seen.insert((meta.dev(), meta.ino())) {
                return Ok(());
            }
        }
        #[cfg(not(unix))]
        let _ = meta;
        let maildir = dir.join("cur").is_dir() && dir.join("new").is_dir();
        let mut entries: Vec<PathBuf> = if maildir {
            vec![dir.join("cur"), dir.join("new")]
        } else {
            std::fs::read_dir(dir)
                .map_err(|e| unreadable(dir, e))?
                .filter_map(Result::ok)
                .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
                .map(|e| e.path())
                .collect()
        };
        entries.sort();
        self.stack
            .extend(entries.into_iter().rev().map(|p| (p, false)));
        Ok(())
    }
}

fn unreadable(path: &Path, e: std::io::Error) -> Unreadable {
    Unreadable {
        path: path.display().to_string(),
        error: e.to_string(),
    }
}

impl Iterator for Walk {
    type Item = Result<PathBuf, Unreadable>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let (path, given) = self.stack.pop()?;
            if given && smtpdoctor_bounce::input::is_stdin(&path) {
                return Some(Ok(path));
            }
            let meta = match std::fs::metadata(&path) {
                Ok(m) => m,
                Err(e) => return Some(Err(unreadable(&path, e))),
            };
            if meta.is_dir() {
                if let Err(u) = self.expand(&path, &meta) {
                    return Some(Err(u));
                }
                continue;
            }
            // A path given by name is read whatever it is (a pipe from `<(...)` included); under
            // a directory only regular files are.
            if given || meta.is_file() {
                return Some(Ok(path));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walks_in_name_order_and_reads_only_a_maildirs_messages() {
        let dir = std::env::temp_dir().join(format!("smtpdoctor-walk-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        for d in [
            "a/md/cur",
            "a/md/new",
            "a/md/tmp",
            "a/md/.Sent/cur",
            "b",
            "a/.hidden",
        ] {
            std::fs::create_dir_all(dir.join(d)).unwrap();
        }
        for f in [
            "a/md/cur/2",
            "a/md/new/1",
            "a/md/tmp/x",
            "a/md/dovecot-uidlist",
            "a/md/.Sent/cur/s",
            "a/z.eml",
            "a/.hidden/h",
            "b/y.eml",
        ] {
            std::fs::write(dir.join(f), "Subject: x\n\nx\n").unwrap();
        }
        // A loop is walked once.
        #[cfg(unix)]
        std::os::unix::fs::symlink(dir.join("a"), dir.join("b/loop")).unwrap();
        let got: Vec<String> = Walk::new(&[dir.clone(), PathBuf::from("-")])
            .map(|p| {
                let p = p.unwrap();
                p.strip_prefix(&dir).unwrap_or(&p).display().to_string()
            })
            .collect();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(
            got,
            ["a/md/cur/2", "a/md/new/1", "a/z.eml", "b/y.eml", "-"],
            "{got:?}"
        );
    }
}
