//! Where messages come from: .eml files, mbox files, Maildir folders, directories and stdin,
//! streamed one message at a time with each message capped, so memory stays bounded whatever
//! the input's size.

use crate::MAX_MESSAGE_BYTES;
use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

/// One message read from the input.
#[derive(Debug)]
pub struct Item {
    /// Where it came from: the path, with `:N` for the N-th message of an mbox.
    pub name: String,
    /// Its bytes, at most [`MAX_MESSAGE_BYTES`].
    pub bytes: Vec<u8>,
    /// The message was longer than the cap and was cut.
    pub truncated: bool,
}

/// Why an input could not be read.
#[derive(Debug)]
pub struct InputError {
    /// The path (or `-`).
    pub name: String,
    /// What went wrong.
    pub error: io::Error,
}

impl std::fmt::Display for InputError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.name, self.error)
    }
}

/// Messages from files, directories (recursively, in name order) and `-` (stdin).
pub struct Messages {
    pending: VecDeque<PathBuf>,
    current: Option<Source>,
}

struct Source {
    name: String,
    reader: Box<dyn BufRead>,
    /// The input is an mbox: split at `From ` lines.
    mbox: bool,
    /// Messages handed out so far.
    count: usize,
    /// A `From ` line already read that starts the next message.
    started: bool,
    done: bool,
}

impl Messages {
    /// Reads the given paths in order.
    pub fn new(paths: &[PathBuf]) -> Messages {
        Messages {
            pending: paths.iter().cloned().collect(),
            current: None,
        }
    }

    fn open(&mut self, path: PathBuf) -> Result<(), InputError> {
        let name = path.display().to_string();
        let fail = |error| InputError {
            name: name.clone(),
            error,
        };
        let reader: Box<dyn BufRead> = if name == "-" {
            Box::new(BufReader::with_capacity(1 << 16, io::stdin()))
        } else {
            let meta = std::fs::metadata(&path).map_err(fail)?;
            if meta.is_dir() {
                let mut entries: Vec<PathBuf> = std::fs::read_dir(&path)
                    .map_err(fail)?
                    .filter_map(Result::ok)
                    .map(|e| e.path())
                    .filter(|p| {
                        !p.file_name()
                            .and_then(|n| n.to_str())
                            .is_some_and(|n| n.starts_with('.'))
                    })
                    .collect();
                entries.sort();
                for e in entries.into_iter().rev() {
                    self.pending.push_front(e);
                }
                return Ok(());
            }
            Box::new(BufReader::with_capacity(
                1 << 16,
                File::open(&path).map_err(fail)?,
            ))
        };
        let mut source = Source {
            name: name.clone(),
            reader,
            mbox: false,
            count: 0,
            started: false,
            done: false,
        };
        let head = source.reader.fill_buf().map_err(fail)?;
        if head.starts_with(b"From ") {
            source.mbox = true;
            // Consume the first separator line.
            let mut sink = Vec::new();
            read_line_capped(&mut source.reader, &mut sink, 0).map_err(fail)?;
            source.started = true;
        }
        self.current = Some(source);
        Ok(())
    }
}

impl Iterator for Messages {
    type Item = Result<Item, InputError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(source) = &mut self.current {
                match source.next_message() {
                    Ok(Some(item)) => return Some(Ok(item)),
                    Ok(None) => self.current = None,
                    Err(error) => {
                        let name = source.name.clone();
                        self.current = None;
                        return Some(Err(InputError { name, error }));
                    }
                }
            }
            let path = self.pending.pop_front()?;
            if let Err(e) = self.open(path) {
                return Some(Err(e));
            }
        }
    }
}

impl Source {
    fn next_message(&mut self) -> io::Result<Option<Item>> {
        if self.done {
            return Ok(None);
        }
        if !self.mbox {
            self.done = true;
            let mut bytes = Vec::new();
            (&mut self.reader)
                .take(MAX_MESSAGE_BYTES as u64)
                .read_to_end(&mut bytes)?;
            let truncated = !self.reader.fill_buf()?.is_empty();
            if truncated {
                // Drain the rest without keeping it.
                io::copy(&mut self.reader, &mut io::sink())?;
            }
            return Ok(Some(Item {
                name: self.name.clone(),
                bytes,
                truncated,
            }));
        }
        if !self.started {
            self.done = true;
            return Ok(None);
        }
        self.count += 1;
        let mut bytes = Vec::new();
        let mut truncated = false;
        let mut line = Vec::new();
        let mut previous_blank = true;
        self.started = false;
        loop {
            line.clear();
            let (read, complete) =
                read_line_capped(&mut self.reader, &mut line, MAX_MESSAGE_BYTES)?;
            if read == 0 {
                self.done = true;
                break;
            }
            if (previous_blank && line.starts_with(b"From ")) || is_separator(&line) {
                self.started = true;
                break;
            }
            previous_blank = matches!(line.as_slice(), b"\n" | b"\r\n" | b"\r");
            // mboxrd: one '>' was added before every (>*)From line.
            let content: &[u8] = if line.starts_with(b">")
                && line
                    .iter()
                    .skip_while(|&&b| b == b'>')
                    .take(5)
                    .eq(b"From ".iter())
            {
                &line[1..]
            } else {
                &line
            };
            if bytes.len() + content.len() > MAX_MESSAGE_BYTES || !complete {
                truncated = true;
                let room = MAX_MESSAGE_BYTES.saturating_sub(bytes.len());
                bytes.extend_from_slice(&content[..content.len().min(room)]);
            } else {
                bytes.extend_from_slice(content);
            }
        }
        // The blank line before a separator belongs to the mbox, not the message.
        if self.started && bytes.ends_with(b"\n\n") {
            bytes.pop();
        }
        Ok(Some(Item {
            name: format!("{}:{}", self.name, self.count),
            bytes,
            truncated,
        }))
    }
}

/// Reads one line (through `\n`), keeping at most `cap` bytes of it; returns the bytes consumed
/// and whether the whole line was kept.
fn read_line_capped(
    reader: &mut dyn BufRead,
    out: &mut Vec<u8>,
    cap: usize,
) -> io::Result<(usize, bool)> {
    let mut consumed = 0;
    let mut complete = true;
    loop {
        let buf = reader.fill_buf()?;
        if buf.is_empty() {
            return Ok((consumed, complete));
        }
        // LF, CRLF and a bare CR (old Mac files) all end a line.
        let (chunk, found) = match buf.iter().position(|&b| b == b'\n' || b == b'\r') {
            Some(i) => (&buf[..=i], true),
            None => (buf, false),
        };
        let ended_in_cr = found && chunk.last() == Some(&b'\r');
        let room = cap.saturating_sub(out.len());
        if chunk.len() > room {
            complete = false;
        }
        out.extend_from_slice(&chunk[..chunk.len().min(room)]);
        let n = chunk.len();
        reader.consume(n);
        consumed += n;
        if found {
            if ended_in_cr && reader.fill_buf()?.first() == Some(&b'\n') {
                reader.consume(1);
                consumed += 1;
                if out.len() < cap {
                    out.push(b'\n');
                }
            }
            return Ok((consumed, complete));
        }
    }
}

/// A full mbox separator (`From sender Thu Jul  2 12:05:05 2020`): it splits messages even where
/// a writer forgot the blank line before it.
fn is_separator(line: &[u8]) -> bool {
    let Some(rest) = line.strip_prefix(b"From ") else {
        return false;
    };
    let text = String::from_utf8_lossy(rest);
    let words: Vec<&str> = text.split_whitespace().collect();
    // sender, weekday, month, day, hh:mm:ss, year
    words.len() >= 6
        && words.len() <= 8
        && words
            .iter()
            .any(|w| w.len() == 8 && w.as_bytes()[2] == b':' && w.as_bytes()[5] == b':')
        && words
            .last()
            .is_some_and(|y| y.len() == 4 && y.bytes().all(|b| b.is_ascii_digit()))
}

/// Whether a path names stdin.
pub fn is_stdin(path: &Path) -> bool {
    path.as_os_str() == "-"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mbox_splits_and_unescapes() {
        let dir = std::env::temp_dir().join(format!("smtpdoctor-mbox-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("box");
        std::fs::write(
            &path,
            "From a@b Mon Jan  1 00:00:00 2024\nSubject: one\n\nbody\n>From here\n\nFrom c@d Mon Jan  1 00:00:00 2024\nSubject: two\n\nx\n",
        )
        .unwrap();
        let items: Vec<Item> = Messages::new(&[path]).map(Result::unwrap).collect();
        assert_eq!(items.len(), 2);
        assert_eq!(
            String::from_utf8_lossy(&items[0].bytes),
            "Subject: one\n\nbody\nFrom here\n"
        );
        assert!(items[1].name.ends_with(":2"));
        assert!(is_separator(
            b"From MAILER-DAEMON  Thu Jul  2 12:05:05 2020\n"
        ));
        assert!(!is_separator(b"From here on, we talk\n"));
        std::fs::remove_dir_all(dir).unwrap();
    }
}
