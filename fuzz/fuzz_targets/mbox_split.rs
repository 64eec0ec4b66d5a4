//! Writes arbitrary bytes to a temp file and splits it with `smtpdoctor_bounce::input::Messages`
//! (the mbox / single-file reader), then reads every message it yields.
//!
//! Invariants: no panic, no I/O error on a plain readable file, every message at most
//! `MAX_MESSAGE_BYTES`, a non-mbox file yields exactly one message with the path as its name,
//! an mbox yields messages named `path:1`, `path:2`, ... in order, and `read` on each message
//! returns at least one record naming it.

#![no_main]

use libfuzzer_sys::fuzz_target;
use smtpdoctor_bounce::MAX_MESSAGE_BYTES;
use smtpdoctor_bounce::input::Messages;
use std::path::PathBuf;
use std::sync::OnceLock;

fn scratch() -> &'static PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        std::env::temp_dir().join(format!("smtpdoctor-fuzz-mbox-{}", std::process::id()))
    })
}

fuzz_target!(|data: &[u8]| {
    let path = scratch();
    std::fs::write(path, data).expect("write scratch file");
    let name = path.display().to_string();
    let mbox = data.starts_with(b"From ");
    let mut count = 0usize;
    for item in Messages::new(std::slice::from_ref(path)) {
        let item = item.unwrap_or_else(|e| panic!("reading a plain file failed: {e}"));
        count += 1;
        assert!(item.bytes.len() <= MAX_MESSAGE_BYTES, "message over the cap");
        if mbox {
            assert_eq!(item.name, format!("{name}:{count}"), "mbox message misnamed");
        } else {
            assert_eq!(item.name, name, "single message misnamed");
        }
        let records = smtpdoctor_bounce::read(&item.bytes, &item.name);
        assert!(!records.is_empty(), "read returned no records");
        for r in &records {
            assert_eq!(r.file, item.name, "record names the wrong file");
        }
    }
    if !mbox {
        assert_eq!(count, 1, "a non-mbox file must be exactly one message");
    }
});
