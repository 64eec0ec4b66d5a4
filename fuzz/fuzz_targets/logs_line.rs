//! Fuzzes the mail-log line reader: any bytes, split into lines, must parse or be skipped —
//! never panic, whatever the prefix, program or message shape.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    for raw in text.lines() {
        if let Some(line) = smtpdoctor_logs::Line::parse(raw) {
            let _ = smtpdoctor_logs::parse(&line);
        }
    }
});
