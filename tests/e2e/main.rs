//! End-to-end tests through the real binary, against the loopback lab (`int_check_lab`).
//! One test binary: compiled and linked once.

mod certs;
mod config;
pub mod dns_hostile;
mod docs;
mod faults;
mod hostile_output;
mod http;
mod inbound;
mod layers;
mod ldap;
mod ldap_hostile;
mod limbo;
mod mesh;
mod netns;
mod outputs;
mod peers;
mod pipeline;
mod proxy;
mod registration;
mod schemas;
mod serve;
mod verdicts;
mod wan;
