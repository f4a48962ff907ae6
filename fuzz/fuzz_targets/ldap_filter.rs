//! Any text as a search filter: encoded, or refused with a position; never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        match int_check::probe::ldap::filter::encode(text) {
            Ok(encoded) => {
                // What we send must itself be one well-formed element.
                let mut reader = int_check::probe::ldap::ber::Reader::new(&encoded);
                assert!(reader.any().is_ok() && reader.is_empty());
            }
            Err(why) => assert!(why.contains("at character")),
        }
    }
});
