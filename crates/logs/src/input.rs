//! Lines from a file (plain or gzip, told apart by its first bytes) or standard input, one at a
//! time into a reused buffer, each capped at [`MAX_LINE`] bytes, so memory stays bounded
//! whatever the input's size.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;

/// Longest line kept; the rest of a longer line is skipped.
pub const MAX_LINE: usize = 64 * 1024;

/// An open input.
pub struct Source {
    /// The path as given (`-` for standard input).
    pub name: String,
    /// Its modification time (none for standard input), for the year of classic stamps.
    pub modified: Option<jiff::Timestamp>,
    reader: Box<dyn BufRead>,
    /// Lines read so far.
    pub line: u64,
    /// Bytes of the reader's buffer handed out by [`Source::next`] and not yet consumed.
    pending: usize,
    /// A line that straddles two fills of the reader's buffer, put together.
    joined: Vec<u8>,
}

impl Source {
    /// Opens a path (`-` is standard input); gzip is recognised by its magic bytes.
    pub fn open(path: &Path) -> io::Result<Source> {
        let name = path.display().to_string();
        let (raw, modified): (Box<dyn Read>, _) = if name == "-" {
            (Box::new(io::stdin()), None)
        } else {
            let f = File::open(path)?;
            let meta = f.metadata()?;
            if meta.is_dir() {
                return Err(io::Error::other("is a directory"));
            }
            let modified = meta
                .modified()
                .ok()
                .and_then(|t| jiff::Timestamp::try_from(t).ok());
            (Box::new(f), modified)
        };
        let mut buffered = BufReader::with_capacity(1 << 17, raw);
        let head = buffered.fill_buf()?;
        let reader: Box<dyn BufRead> = if head.starts_with(&[0x1f, 0x8b]) {
            Box::new(BufReader::with_capacity(
                1 << 18,
                flate2::bufread::MultiGzDecoder::new(buffered),
            ))
        } else {
            Box::new(buffered)
        };
        Ok(Source {
            name,
            modified,
            reader,
            line: 0,
            pending: 0,
            joined: Vec::new(),
        })
    }

    /// A source over any reader (tests, other callers).
    pub fn from_reader(name: &str, reader: Box<dyn BufRead>) -> Source {
        Source {
            name: name.to_owned(),
            modified: None,
            reader,
            line: 0,
            pending: 0,
            joined: Vec::new(),
        }
    }

    /// Reads the next line into `buf` (cleared first, without its line ending). `false` at the
    /// end.
    pub fn next_line(&mut self, buf: &mut Vec<u8>) -> io::Result<bool> {
        buf.clear();
        match self.next_bytes()? {
            Some((_, l)) => {
                buf.extend_from_slice(l);
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// The next line's number (1-based) and bytes (without its line ending), or `None` at the
    /// end. A line that lies whole in the reader's buffer is lent from there, uncopied; only one
    /// that straddles two fills is put together in a buffer of the source's own.
    pub fn next_bytes(&mut self) -> io::Result<Option<(u64, &[u8])>> {
        if self.pending > 0 {
            self.reader.consume(self.pending);
            self.pending = 0;
        }
        self.joined.clear();
        let mut any = false;
        loop {
            // Where the line ends in the buffer: looked up first, and the buffer (already
            // filled, so no read) asked for again to lend the line, for the borrow checker.
            let (newline, len) = match self.reader.fill_buf() {
                Ok(c) => (memchr::memchr(b'\n', c), c.len()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if len == 0 {
                if !any {
                    return Ok(None);
                }
                self.line += 1;
                return Ok(Some((self.line, trim_cr(&self.joined))));
            }
            match newline {
                Some(i) if !any && i <= MAX_LINE => {
                    self.line += 1;
                    self.pending = i + 1;
                    let chunk = self.reader.fill_buf()?;
                    return Ok(Some((self.line, trim_cr(&chunk[..i]))));
                }
                Some(i) => {
                    let chunk = self.reader.fill_buf()?;
                    let room = MAX_LINE.saturating_sub(self.joined.len());
                    self.joined.extend_from_slice(&chunk[..i.min(room)]);
                    self.reader.consume(i + 1);
                    self.line += 1;
                    return Ok(Some((self.line, trim_cr(&self.joined))));
                }
                None => {
                    any = true;
                    let chunk = self.reader.fill_buf()?;
                    let room = MAX_LINE.saturating_sub(self.joined.len());
                    self.joined.extend_from_slice(&chunk[..len.min(room)]);
                    self.reader.consume(len);
                }
            }
        }
    }
}

/// A line without the `\r` of a CRLF ending.
fn trim_cr(l: &[u8]) -> &[u8] {
    l.strip_suffix(b"\r").unwrap_or(l)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn plain_and_gzip() {
        let dir =
            std::env::temp_dir().join(format!("smtpdoctor-logs-input-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let plain = dir.join("a.log");
        std::fs::write(&plain, "one\r\ntwo\nthree").unwrap();
        let gz = dir.join("b.log.gz");
        let mut enc =
            flate2::write::GzEncoder::new(File::create(&gz).unwrap(), flate2::Compression::fast());
        enc.write_all(b"x\ny\n").unwrap();
        enc.finish().unwrap();
        let read = |p: &Path| {
            let mut s = Source::open(p).unwrap();
            let mut buf = Vec::new();
            let mut out = Vec::new();
            while s.next_line(&mut buf).unwrap() {
                out.push(String::from_utf8(buf.clone()).unwrap());
            }
            (out, s.line)
        };
        assert_eq!(
            read(&plain),
            (vec!["one".into(), "two".into(), "three".into()], 3)
        );
        assert_eq!(read(&gz), (vec!["x".into(), "y".into()], 2));
        std::fs::remove_dir_all(dir).unwrap();
    }
}
