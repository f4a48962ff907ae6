//! Any bytes as a certificate or key file (`certs inspect`): described, never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for extension in ["pem", "der", "key"] {
        let _ = int_check::pki::inspect_bytes(data, extension);
    }
    let _ = int_check::pki::CertInfo::of(&rustls_pki_types::CertificateDer::from(data));
});
