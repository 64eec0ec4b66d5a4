//! Fuzzes the autoconfig (config-v1.1.xml) parser that `setup` runs on files fetched from the
//! network: any bytes must parse or be refused with a reason — never panic — and what parses
//! must keep the parser's bounds and give only usable settings.

#![no_main]

use libfuzzer_sys::fuzz_target;
use smtpdoctor_records::autoconfig::{parse, settings};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(file) = parse(text) else {
        return;
    };
    assert!(file.outgoing.len() <= 16, "more servers than the bound");
    let (found, _problems) = settings(&file, "me+x@example.test");
    assert!(found.len() <= file.outgoing.len());
    for s in &found {
        assert!(s.port > 0);
        assert!(!s.host.is_empty());
        assert!(
            s.host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.'),
            "host {:?}",
            s.host
        );
    }
});
