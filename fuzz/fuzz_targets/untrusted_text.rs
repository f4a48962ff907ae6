//! crate::text: whatever bytes arrive, the displayed form holds no character a terminal would
//! obey, stays within its bound, and is idempotent (shown twice reads the same).
#![no_main]

use int_check::text;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let shown = text::from_bytes(data);
    assert!(!shown.chars().any(text::is_hidden));
    let Ok(input) = std::str::from_utf8(data) else {
        return;
    };
    let displayed = text::display(input);
    assert!(!displayed.chars().any(text::is_hidden));
    assert_eq!(text::display(&displayed), displayed);
    let sealed = text::untrusted_within(input, 64);
    assert!(sealed.len() <= 64);
    assert!(!sealed.chars().any(text::is_hidden));
    assert_eq!(text::untrusted_within(&sealed, 64), sealed);
    let markdown = text::markdown(input);
    assert!(!markdown.contains('\n') && !markdown.chars().any(text::is_hidden));
});
