//! Feeds arbitrary bytes to `smtpdoctor_bounce::read` as if they were one message.
//!
//! Invariants: no panic, at least one record, every record names the file it was given.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let records = smtpdoctor_bounce::read(data, "fuzz");
    assert!(!records.is_empty(), "read returned no records");
    for r in &records {
        assert_eq!(r.file, "fuzz", "record names the wrong file");
    }
});
