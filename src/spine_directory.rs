//! The Spine Directory Service's facts, in one place: where its records live, their object
//! classes, the attributes each look-up reads and the filters that find them (the schema is
//! `fixtures/nhs-sds.schema`; NHS Digital's SDS documentation names the look-ups). Every part of
//! int-check that asks the directory (the LDAP phase's built-in searches, registration,
//! discovery, `sds`) takes them from here.

/// Where every MHS and Accredited System record is.
pub const BASE: &str = "ou=services,o=nhs";

/// An Accredited System (AS) record: one per ASID.
pub const AS_CLASS: &str = "nhsAs";
/// A Message Handling System (MHS) record: one per party key and interaction.
pub const MHS_CLASS: &str = "nhsMhs";

/// The attributes that name an MHS record's interaction, endpoint and FQDN.
pub const INTERACTION: &str = "nhsMhsSvcIA";
pub const ENDPOINT: &str = "nhsMHSEndPoint";
pub const FQDN: &str = "nhsMhsFQDN";
/// An AS record's interactions.
pub const AS_INTERACTION: &str = "nhsAsSvcIA";

/// What an Accredited System record is read for.
pub const AS_ATTRIBUTES: &[&str] = &[
    "uniqueIdentifier",
    "nhsIDCode",
    "nhsMHSPartyKey",
    AS_INTERACTION,
    "nhsProductName",
    "nhsAsClient",
];

/// What an MHS record is read for: its endpoint, its name, and the reliability settings support
/// staff ask about.
pub const MHS_ATTRIBUTES: &[&str] = &[
    "uniqueIdentifier",
    "nhsIDCode",
    "nhsMHSPartyKey",
    INTERACTION,
    ENDPOINT,
    FQDN,
    "nhsMhsCPAId",
    "nhsMHSSyncReplyMode",
    "nhsMHSAckRequested",
    "nhsMHSDuplicateElimination",
    "nhsMHSRetries",
    "nhsMHSRetryInterval",
    "nhsMHSPersistDuration",
];

/// What discovery reads of the MHS records under a party key: the endpoints to probe.
pub const DISCOVERY_ATTRIBUTES: &[&str] = &[ENDPOINT, INTERACTION, FQDN];

/// What `sds` asks for: both kinds of record, whole, with their object classes.
pub const LOOKUP_ATTRIBUTES: &[&str] = &[
    "objectClass",
    "uniqueIdentifier",
    "nhsIDCode",
    "nhsMHSPartyKey",
    INTERACTION,
    ENDPOINT,
    FQDN,
    "nhsMhsCPAId",
    "nhsMHSSyncReplyMode",
    "nhsMHSAckRequested",
    "nhsMHSDuplicateElimination",
    "nhsMHSRetries",
    "nhsMHSRetryInterval",
    "nhsMHSPersistDuration",
    "nhsMhsActor",
    AS_INTERACTION,
    "nhsProductName",
    "nhsAsClient",
];

/// The LDAP phase's built-in searches, as filter templates (`{party_key}`, `{asid}` are filled
/// in from the profile, escaped) and the attributes they read.
pub const PARTY_KEY_TEMPLATE: &str = "(&(objectClass=nhsMhs)(nhsMHSPartyKey={party_key}))";
pub const PARTY_KEY_ATTRIBUTES: &[&str] = &[
    INTERACTION,
    ENDPOINT,
    FQDN,
    "nhsMHSSyncReplyMode",
    "nhsMhsCPAId",
    "uniqueIdentifier",
];
pub const ASID_TEMPLATE: &str = "(&(objectClass=nhsAs)(uniqueIdentifier={asid}))";
pub const ASID_ATTRIBUTES: &[&str] = AS_ATTRIBUTES;

/// The MHS records of a party key, for one interaction when given.
pub fn mhs_of_party_key(party_key: &str, interaction: Option<&str>) -> String {
    match interaction {
        Some(id) => format!(
            "(&(objectClass={MHS_CLASS})(nhsMHSPartyKey={})({INTERACTION}={}))",
            escape(party_key),
            escape(id)
        ),
        None => format!(
            "(&(objectClass={MHS_CLASS})(nhsMHSPartyKey={}))",
            escape(party_key)
        ),
    }
}

/// The MHS records of an organisation (ODS code), for one interaction when given.
pub fn mhs_of_ods(ods: &str, interaction: Option<&str>) -> String {
    match interaction {
        Some(id) => format!(
            "(&(nhsIDCode={})(objectClass={MHS_CLASS})({INTERACTION}={}))",
            escape(ods),
            escape(id)
        ),
        None => format!("(&(nhsIDCode={})(objectClass={MHS_CLASS}))", escape(ods)),
    }
}

/// The Accredited System record of an ASID.
pub fn as_of_asid(asid: &str) -> String {
    format!(
        "(&(objectClass={AS_CLASS})(uniqueIdentifier={}))",
        escape(asid)
    )
}

/// RFC 4515 escaping of a value inside a filter: the five special characters as `\XX`; every
/// other character, non-ASCII ones included, stays as its UTF-8 (RFC 4515 allows UTF-8 in values).
pub fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '*' | '(' | ')' | '\\' | '\0' => out.push_str(&format!("\\{:02x}", c as u32)),
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_escape_what_they_are_given() {
        assert_eq!(
            mhs_of_party_key("YES-0000806", None),
            "(&(objectClass=nhsMhs)(nhsMHSPartyKey=YES-0000806))"
        );
        assert_eq!(
            as_of_asid("1*)(x"),
            "(&(objectClass=nhsAs)(uniqueIdentifier=1\\2a\\29\\28x))"
        );
        assert_eq!(
            mhs_of_ods("Zoë*", Some("urn:a")),
            "(&(nhsIDCode=Zoë\\2a)(objectClass=nhsMhs)(nhsMhsSvcIA=urn:a))"
        );
        // The templates and the builders agree on the same record.
        assert_eq!(
            PARTY_KEY_TEMPLATE.replace("{party_key}", "PK"),
            mhs_of_party_key("PK", None)
        );
        assert_eq!(ASID_TEMPLATE.replace("{asid}", "1"), as_of_asid("1"));
    }
}
