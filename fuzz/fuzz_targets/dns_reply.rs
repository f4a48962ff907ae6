//! Any bytes as a DNS server's reply: read as the answer to our query, or refused with a
//! reason; following its CNAMEs always ends. Never a panic.
#![no_main]
use hickory_proto::rr::{Name, RecordType};
use int_check::probe::dns::client;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let name = Name::from_ascii("msg.int.spine2.ncrs.nhs.uk.").unwrap();
    let id = u16::from_be_bytes([
        data.first().copied().unwrap_or(0),
        data.get(1).copied().unwrap_or(0),
    ]);
    for kind in [RecordType::A, RecordType::AAAA] {
        match client::read_reply(data, id, &name, kind) {
            Ok(reply) => {
                let _ = client::addresses_in(&reply, &name);
            }
            Err(why) => assert!(!why.is_empty()),
        }
    }
});
