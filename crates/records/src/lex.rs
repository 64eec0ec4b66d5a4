//! A byte cursor shared by the tag-list parsers: every record here is ASCII by grammar, so a
//! byte offset is also the position reported in errors.

pub(crate) struct Cursor<'a> {
    pub(crate) s: &'a str,
    pub(crate) pos: usize,
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(s: &'a str) -> Self {
        Cursor { s, pos: 0 }
    }

    pub(crate) fn at_end(&self) -> bool {
        self.pos >= self.s.len()
    }

    pub(crate) fn rest(&self) -> &'a str {
        &self.s[self.pos..]
    }

    pub(crate) fn peek(&self) -> Option<u8> {
        self.s.as_bytes().get(self.pos).copied()
    }

    pub(crate) fn eat(&mut self, t: &str) -> bool {
        if self.rest().starts_with(t) {
            self.pos += t.len();
            true
        } else {
            false
        }
    }

    /// Spaces and tabs.
    pub(crate) fn wsp(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.pos += 1;
        }
    }

    /// RFC 5322 folding white space: WSP, and CRLF (or a bare LF) followed by WSP.
    pub(crate) fn fws(&mut self) {
        loop {
            match self.peek() {
                Some(b' ' | b'\t') => self.pos += 1,
                Some(b'\r') | Some(b'\n') => {
                    let r = self.rest();
                    let nl = if r.starts_with("\r\n") { 2 } else { 1 };
                    if matches!(r.as_bytes().get(nl), Some(b' ' | b'\t')) {
                        self.pos += nl + 1;
                    } else {
                        return;
                    }
                }
                _ => return,
            }
        }
    }

    /// Takes bytes while `f(byte, index)` holds; the slice may be empty.
    pub(crate) fn take_while(&mut self, mut f: impl FnMut(u8, usize) -> bool) -> &'a str {
        let start = self.pos;
        let b = self.s.as_bytes();
        while self.pos < b.len() && f(b[self.pos], self.pos - start) {
            self.pos += 1;
        }
        // The predicates only accept ASCII, or stop at any byte of a multi-byte character
        // together; step back to a character boundary to be safe.
        while !self.s.is_char_boundary(self.pos) {
            self.pos -= 1;
        }
        &self.s[start..self.pos]
    }
}
