//! Any bytes a directory could send as one LDAP message: decoded or refused, never a panic,
//! and every value kept is bounded.
#![no_main]
use int_check::probe::ldap::wire;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok((_, wire::Response::Entry(entry))) = wire::decode(data) {
        for values in entry.attrs.values() {
            for value in values {
                assert!(value.len() <= wire::MAX_VALUE_BYTES + 64);
            }
        }
    }
    let _ = int_check::probe::ldap::ber::element_size(data);
});
