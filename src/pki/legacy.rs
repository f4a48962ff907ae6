//! The legacy G1 hierarchy: NHS PTL Root Authority (2019-2039) over NHS INT Level 1C and NHS DEP
//! Level 1C (2019-2029). Certificates are still issued under it; a G2 profile does not trust it.
//! Recognised by fingerprint, and by name (a G1-named CA, or a certificate it issued), so that a
//! chain under it is named instead of "unknown issuer".

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

use super::CertInfo;

/// The three G1 certificates (from NHS's MESH client's pinned set; see fixtures/legacy-g1/).
const PEMS: [&str; 3] = [
    include_str!("../../fixtures/legacy-g1/nhs-ptl-root-authority-g1.pem"),
    include_str!("../../fixtures/legacy-g1/nhs-int-level-1c-g1.pem"),
    include_str!("../../fixtures/legacy-g1/nhs-dep-level-1c-g1.pem"),
];

/// Their common names and SHA-256 fingerprints, in the same order.
const CAS: [(&str, &str); 3] = [
    (
        "NHS PTL Root Authority",
        "77:59:A0:87:97:7A:9E:37:79:30:93:56:11:49:EE:40:B2:99:C7:02:7F:4F:A2:A1:C4:E9:EE:FE:AB:C1:B7:D8",
    ),
    (
        "NHS INT Level 1C",
        "67:46:5B:F8:D7:2D:14:93:D4:41:AD:1B:C8:F0:8B:1E:C2:DE:97:71:C1:CC:40:BB:09:B1:1B:B7:2D:E1:4C:0E",
    ),
    (
        "NHS DEP Level 1C",
        "7E:1C:6B:12:44:AF:68:EC:86:4F:3A:F7:FD:02:0D:05:2C:2A:09:6F:3E:58:B6:DE:C2:1C:07:A5:84:D8:CA:41",
    ),
];

/// The G1 certificates, root first.
pub fn certificates() -> Vec<CertificateDer<'static>> {
    PEMS.iter()
        .map(|pem| {
            CertificateDer::from_pem_slice(pem.as_bytes()).expect("embedded G1 PEM is valid")
        })
        .collect()
}

/// Whether a distinguished name (as CertInfo writes it) has exactly this common name.
fn has_cn(dn: &str, name: &str) -> bool {
    dn.split(", ")
        .any(|part| part.strip_prefix("CN=") == Some(name))
}

/// The G1 CA this certificate is, or was issued by: its common name.
pub fn ca_of(cert: &CertInfo) -> Option<&'static str> {
    if let Some((name, _)) = CAS
        .iter()
        .find(|(_, sha)| cert.sha256.eq_ignore_ascii_case(sha))
    {
        return Some(name);
    }
    let names = || CAS.iter().map(|(name, _)| *name);
    names()
        .find(|name| cert.ca.is_some() && has_cn(&cert.subject, name))
        .or_else(|| names().find(|name| has_cn(&cert.issuer, name)))
}

/// How a chain leads into G1, for a message: `NHS INT Level 1C -> NHS PTL Root Authority`.
pub fn path_in(chain: &[CertInfo]) -> Option<String> {
    let first = chain.iter().find_map(ca_of)?;
    let root = CAS[0].0;
    Some(if first == root {
        root.to_string()
    } else {
        format!("{first} -> {root}")
    })
}

/// The sentence every finding about G1 starts with.
pub fn described(path: &str) -> String {
    format!("issued under the legacy G1 hierarchy ({path})")
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_embedded_certificates_are_the_ones_named() {
        let infos: Vec<_> = super::certificates()
            .iter()
            .filter_map(super::CertInfo::of)
            .collect();
        assert_eq!(infos.len(), 3);
        for (info, (name, sha)) in infos.iter().zip(super::CAS) {
            assert_eq!(info.common_name.as_deref(), Some(name));
            assert_eq!(info.sha256, sha);
            assert_eq!(super::ca_of(info), Some(name));
        }
        assert!(infos[0].self_signed);
        assert_eq!(
            super::path_in(&infos[1..2]).unwrap(),
            "NHS INT Level 1C -> NHS PTL Root Authority"
        );
    }
}
