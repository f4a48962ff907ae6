//! DNS servers that misbehave on purpose (a raw UDP server built here): each fault named.

use hickory_proto::op::{Message, MessageType, ResponseCode};
use hickory_proto::rr::rdata::CNAME;
use hickory_proto::rr::{Name, RData, Record};
use int_check_lab::*;
use std::time::Duration;

#[derive(Clone, Copy, Debug)]
pub enum Misbehaviour {
    WrongId,
    OtherQuestion,
    Garbage,
    CnameLoop,
    /// A CNAME loop through an `xn--` label that decodes to the 8-bit CSI (U+009B).
    PunycodeLoop,
    TruncatedNoTcp,
}

/// A UDP DNS server on 127.0.0.1 that answers every query the way `mode` says.
pub async fn hostile_dns(mode: Misbehaviour) -> std::net::SocketAddr {
    let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = socket.local_addr().unwrap();
    tokio::spawn(async move {
        let mut buf = vec![0u8; 4096];
        while let Ok((n, from)) = socket.recv_from(&mut buf).await {
            let Ok(query) = Message::from_vec(&buf[..n]) else {
                continue;
            };
            let mut reply = Message::new(
                query.metadata.id,
                MessageType::Response,
                query.metadata.op_code,
            );
            reply.metadata.recursion_desired = true;
            reply.metadata.recursion_available = true;
            reply.metadata.response_code = ResponseCode::NoError;
            reply.queries = query.queries.clone();
            let name = query.queries[0].name().clone();
            match mode {
                Misbehaviour::WrongId => reply.metadata.id = query.metadata.id.wrapping_add(1),
                Misbehaviour::OtherQuestion => {
                    let mut other = query.queries[0].clone();
                    other.set_name(Name::from_ascii("other.int.test.").unwrap());
                    reply.queries = vec![other];
                }
                Misbehaviour::Garbage => {
                    let _ = socket.send_to(b"\x00\x01garbage", from).await;
                    continue;
                }
                Misbehaviour::CnameLoop => {
                    let b = Name::from_ascii("b.int.test.").unwrap();
                    reply.answers.push(Record::from_rdata(
                        name.clone(),
                        60,
                        RData::CNAME(CNAME(b.clone())),
                    ));
                    reply
                        .answers
                        .push(Record::from_rdata(b, 60, RData::CNAME(CNAME(name))));
                }
                Misbehaviour::PunycodeLoop => {
                    let b = Name::from_ascii("xn--31mPASS-gga.int.test.").unwrap();
                    reply.answers.push(Record::from_rdata(
                        name.clone(),
                        60,
                        RData::CNAME(CNAME(b.clone())),
                    ));
                    reply
                        .answers
                        .push(Record::from_rdata(b, 60, RData::CNAME(CNAME(name))));
                }
                Misbehaviour::TruncatedNoTcp => reply.metadata.truncation = true,
            }
            let _ = socket.send_to(&reply.to_vec().unwrap(), from).await;
        }
    });
    addr
}

#[tokio::test(flavor = "multi_thread")]
async fn misbehaving_dns_servers_are_named() {
    for (mode, words) in [
        (Misbehaviour::WrongId, "transaction ID"),
        (
            Misbehaviour::OtherQuestion,
            "answered another question (other.int.test.",
        ),
        (Misbehaviour::Garbage, "could not be decoded as DNS"),
        (Misbehaviour::CnameLoop, "CNAME chain that loops"),
        (Misbehaviour::TruncatedNoTcp, "truncated and TCP 53 failed"),
    ] {
        let lab = Lab::start().await;
        let server = hostile_dns(mode).await.to_string();
        let profile = lab.profile(
            "p.toml",
            &[EndpointSpec::new("svc", "https://msg.int.test/")],
            "",
        );
        let run = run(&[
            "--profile",
            p(&profile),
            "--format",
            "json",
            "--timeout",
            "1s",
            "--resolver",
            &server,
        ])
        .await;
        assert_eq!(run.code, 1, "{mode:?}");
        let dns = run.check("svc", "dns");
        assert_eq!(status(&dns), ("fail", "dns.bad_reply"), "{mode:?}: {dns:#}");
        let message = dns["message"].as_str().unwrap();
        assert!(message.contains(words), "{mode:?}: {message}");
        // Named as soon as the reply is read, not when the phase's timeout runs out.
        let took = run.took("svc", "dns");
        assert!(took < Duration::from_secs(2), "{mode:?} took {took:?}");
    }
}

/// Issue 26: an HSCN name answered "does not exist" by a resolver the user named that is not an
/// HSCN resolver (outside 155.231.231.0/29) is `dns.no_forwarder`, saying which resolver, as the
/// same answer from the system resolver is.
#[tokio::test(flavor = "multi_thread")]
async fn an_hscn_name_asked_of_another_resolver_is_no_forwarder() {
    let lab = Lab::start().await;
    lab.dns
        .set("msg.int.spine2.ncrs.nhs.uk", DnsAnswer::NxDomain);
    let profile = lab.profile(
        "named.toml",
        &[EndpointSpec::new(
            "spine",
            "https://msg.int.spine2.ncrs.nhs.uk/reliablemessaging/reliablerequest",
        )],
        "",
    );
    let run = run(&[
        "--profile",
        p(&profile),
        "--only",
        "dns",
        "--format",
        "json",
    ])
    .await;
    let dns = run.check("spine", "dns");
    assert_eq!(status(&dns), ("fail", "dns.no_forwarder"), "{dns:#}");
    let message = dns["message"].as_str().unwrap();
    assert!(
        message.contains(&format!("the resolver you named ({})", lab.dns.addr))
            && message.contains("does not forward ncrs.nhs.uk"),
        "{message}"
    );
}
