//! Any text as a profile or --config file: a profile, or a one-line reason; never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let parsed =
            int_check::profile::ProfileDoc::parse(text, "fuzz.toml", std::path::Path::new("."));
        match parsed {
            Ok(doc) => {
                let _ = int_check::profile::Profile::resolve(doc);
            }
            Err(error) => assert!(!error.message.is_empty()),
        }
    }
});
