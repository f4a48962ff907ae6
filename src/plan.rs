//! The plan: what a run will check, derived from the profile before any packet is sent.

use std::collections::HashMap;
use std::path::PathBuf;

use crate::findings::CheckKind;
use crate::profile::{Endpoint, Profile, Scheme};

/// At most this many addresses of one host are checked (round-robin DNS can return many).
pub const MAX_ADDRESSES_PER_HOST: usize = 4;

/// Which trust store an endpoint uses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TrustChoice {
    /// The profile's anchors (built-in G2 unless ca_files / --ca-file say otherwise).
    Profile,
    /// The endpoint's own `ca_files`.
    Endpoint(Vec<PathBuf>),
}

#[derive(Clone, Debug)]
pub struct PlannedEndpoint {
    pub endpoint: Endpoint,
    /// Phases in order; each depends on the one before.
    pub phases: Vec<CheckKind>,
    pub trust: TrustChoice,
}

#[derive(Clone, Debug)]
pub struct Plan {
    pub endpoints: Vec<PlannedEndpoint>,
    /// Every distinct host name to resolve, once per run, in first-use order.
    pub hosts: Vec<String>,
}

impl Plan {
    pub fn from_profile(profile: &Profile) -> Plan {
        let endpoints: Vec<PlannedEndpoint> = profile
            .endpoints
            .iter()
            .map(|endpoint| {
                let mut phases = vec![CheckKind::Dns, CheckKind::Tcp];
                match endpoint.url.scheme {
                    Scheme::Https => phases.extend([CheckKind::Tls, CheckKind::Http]),
                    Scheme::Ldaps => phases.extend([CheckKind::Tls, CheckKind::Ldap]),
                    Scheme::Tcp => {}
                }
                let trust = match &endpoint.ca_files {
                    Some(files) if !files.is_empty() => TrustChoice::Endpoint(files.clone()),
                    _ => TrustChoice::Profile,
                };
                PlannedEndpoint {
                    endpoint: endpoint.clone(),
                    phases,
                    trust,
                }
            })
            .collect();
        let mut seen = HashMap::new();
        let mut hosts = Vec::new();
        for planned in &endpoints {
            let url = &planned.endpoint.url;
            if url.ip.is_none() && seen.insert(url.host.clone(), ()).is_none() {
                hosts.push(url.host.clone());
            }
        }
        Plan { endpoints, hosts }
    }
}
