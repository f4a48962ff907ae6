//! The plan: what a run will check, derived from the profile before any packet is sent.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use crate::error::UsageError;
use crate::findings::CheckKind;
use crate::pki::TrustStore;
use crate::profile::{Endpoint, EndpointTrust, Profile, Scheme};

/// At most this many addresses of one host are checked (round-robin DNS can return many).
pub const MAX_ADDRESSES_PER_HOST: usize = 4;

/// One endpoint as a run sees it: everything its probes need travels with it, so that a
/// selection can never pair an endpoint with another endpoint's settings.
#[derive(Clone, Debug)]
pub struct PlannedEndpoint {
    pub endpoint: Endpoint,
    /// Phases in order; each depends on the one before.
    pub phases: Vec<CheckKind>,
    /// The anchors this endpoint is judged against: its own `ca_files`, else the profile's.
    pub trust: Arc<TrustStore>,
}

#[derive(Clone, Debug)]
pub struct Plan {
    pub endpoints: Vec<PlannedEndpoint>,
    /// Every distinct host name to resolve, once per run, in first-use order.
    pub hosts: Vec<String>,
    /// The profile's own anchors (what the client identity is checked against).
    pub profile_trust: Arc<TrustStore>,
}

impl Plan {
    /// Plans every endpoint of the profile and loads the trust anchors each one uses (an
    /// endpoint's own `ca_files` once per distinct list, else the profile's).
    pub fn from_profile(profile: &Profile) -> Result<Plan, UsageError> {
        let profile_trust = Arc::new(TrustStore::for_profile(profile)?);
        let mut loaded: HashMap<Vec<PathBuf>, Arc<TrustStore>> = HashMap::new();
        let mut public: Option<Arc<TrustStore>> = None;
        let mut revoking: HashMap<(usize, crate::profile::RevocationMode), Arc<TrustStore>> =
            HashMap::new();
        let mut endpoints = Vec::with_capacity(profile.endpoints.len());
        for endpoint in &profile.endpoints {
            let trust = match &endpoint.ca_files {
                _ if endpoint.trust == EndpointTrust::Public => public
                    .get_or_insert_with(|| Arc::new(TrustStore::public()))
                    .clone(),
                Some(files) if !files.is_empty() => match loaded.get(files) {
                    Some(store) => store.clone(),
                    None => {
                        let store = Arc::new(TrustStore::from_files(files)?);
                        loaded.insert(files.clone(), store.clone());
                        store
                    }
                },
                _ => profile_trust.clone(),
            };
            // Revocation is the profile's unless the endpoint says otherwise, whichever anchors
            // judge it (the CRL files are matched to their issuers).
            let mode = endpoint.revocation.unwrap_or(profile.revocation);
            let trust = match trust.revocation == mode {
                true => trust,
                false => revoking
                    .entry((Arc::as_ptr(&trust) as usize, mode))
                    .or_insert_with(|| {
                        let mut store = (*trust).clone();
                        store.revocation = mode;
                        if store.crls.is_empty() {
                            store.crls = profile_trust.crls.clone();
                        }
                        Arc::new(store)
                    })
                    .clone(),
            };
            endpoints.push(PlannedEndpoint {
                endpoint: endpoint.clone(),
                phases: Self::phases_for(endpoint),
                trust,
            });
        }
        let mut seen = HashMap::new();
        let mut hosts = Vec::new();
        for planned in &endpoints {
            let url = &planned.endpoint.url;
            if url.ip.is_none()
                && planned.endpoint.connect_to.is_none()
                && seen.insert(url.host.clone(), ()).is_none()
            {
                hosts.push(url.host.clone());
            }
        }
        Ok(Plan {
            endpoints,
            hosts,
            profile_trust,
        })
    }

    /// A plan for endpoints found during the run (in the directory, or your own), judged
    /// against the profile's anchors.
    pub fn found(
        endpoints: Vec<Endpoint>,
        profile_trust: &Arc<TrustStore>,
        selection: &Selection,
    ) -> Plan {
        let mut hosts: Vec<String> = Vec::new();
        let endpoints: Vec<PlannedEndpoint> = endpoints
            .into_iter()
            .map(|endpoint| {
                if endpoint.url.ip.is_none() && !hosts.contains(&endpoint.url.host) {
                    hosts.push(endpoint.url.host.clone());
                }
                PlannedEndpoint {
                    phases: selection.phases(&Self::phases_for(&endpoint)),
                    endpoint,
                    trust: profile_trust.clone(),
                }
            })
            .filter(|p| !p.phases.is_empty())
            .collect();
        Plan {
            endpoints,
            hosts,
            profile_trust: profile_trust.clone(),
        }
    }

    /// The phase chain an endpoint's scheme calls for.
    fn phases_for(endpoint: &Endpoint) -> Vec<CheckKind> {
        // Found in the directory: reachability and TLS only (no request is sent to a
        // messaging endpoint on a guess); your own endpoint also gets the inbound judgement.
        match endpoint.origin {
            crate::profile::Origin::Directory => {
                return vec![CheckKind::Dns, CheckKind::Tcp, CheckKind::Tls];
            }
            crate::profile::Origin::Inbound => {
                return vec![
                    CheckKind::Dns,
                    CheckKind::Tcp,
                    CheckKind::Tls,
                    CheckKind::Inbound,
                ];
            }
            crate::profile::Origin::Profile => {}
        }
        let mut phases = vec![CheckKind::Dns, CheckKind::Tcp];
        match endpoint.url.scheme {
            Scheme::Https => {
                phases.extend([CheckKind::Tls, CheckKind::Http]);
                if endpoint.mesh.is_some() {
                    phases.push(CheckKind::Mesh);
                }
            }
            Scheme::Ldaps => phases.extend([CheckKind::Tls, CheckKind::Ldap]),
            Scheme::Tcp => {}
        }
        phases
    }
}

/// What `--endpoint`, `--service`, `--only` and `--skip` select.
#[derive(Clone, Debug, Default)]
pub struct Selection {
    /// Endpoint names or globs (`*`, `?`); empty = all.
    pub endpoints: Vec<String>,
    /// Services; empty = all.
    pub services: Vec<String>,
    /// Phases to run (with the phases they need); empty = all.
    pub only: Vec<CheckKind>,
    /// Phases to leave out, with the phases after them.
    pub skip: Vec<CheckKind>,
}

impl Selection {
    /// Whether the local identity checks run.
    pub fn identity(&self) -> bool {
        !self.skip.contains(&CheckKind::Identity)
            && (self.only.is_empty() || self.only.contains(&CheckKind::Identity))
    }

    /// Whether a phase kind is selected at all (`--only`, `--skip`).
    pub fn phases_include(&self, kind: CheckKind) -> bool {
        !self.skip.contains(&kind) && (self.only.is_empty() || self.only.iter().any(|k| *k >= kind))
    }

    /// Whether the registration checks (your records in the directory) run.
    pub fn registration(&self) -> bool {
        !self.skip.contains(&CheckKind::Registration)
            && (self.only.is_empty() || self.only.contains(&CheckKind::Registration))
    }

    fn phases(&self, chain: &[CheckKind]) -> Vec<CheckKind> {
        let mut phases: Vec<CheckKind> = chain.to_vec();
        if let Some(cut) = phases.iter().position(|k| self.skip.contains(k)) {
            phases.truncate(cut);
        }
        if !self.only.is_empty() {
            // Keep up to the last listed phase; the ones before it are its prerequisites.
            match phases.iter().rposition(|k| self.only.contains(k)) {
                Some(last) => phases.truncate(last + 1),
                None => phases.clear(),
            }
        }
        phases
    }
}

/// `*` matches any text, `?` one character; case-insensitive like the rest of the names.
pub fn glob_match(pattern: &str, name: &str) -> bool {
    fn matches(p: &[char], n: &[char]) -> bool {
        match (p.first(), n.first()) {
            (None, None) => true,
            (Some('*'), _) => matches(&p[1..], n) || (!n.is_empty() && matches(p, &n[1..])),
            (Some('?'), Some(_)) => matches(&p[1..], &n[1..]),
            (Some(a), Some(b)) if a.eq_ignore_ascii_case(b) => matches(&p[1..], &n[1..]),
            _ => false,
        }
    }
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    matches(&p, &n)
}

impl Plan {
    /// A copy of the plan with only the selected endpoints (see `take_selected`).
    pub fn select(&self, selection: &Selection) -> Result<Plan, UsageError> {
        self.clone().take_selected(selection)
    }

    /// The selected endpoints (each with only its selected phases), taken out of this plan, which
    /// keeps its trust and no endpoint: ten thousand endpoints are moved, not copied.
    pub fn take_selected(&mut self, selection: &Selection) -> Result<Plan, UsageError> {
        let named = |p: &PlannedEndpoint| {
            (selection.endpoints.is_empty()
                || selection
                    .endpoints
                    .iter()
                    .any(|g| glob_match(g, &p.endpoint.name)))
                && (selection.services.is_empty()
                    || p.endpoint.service.as_ref().is_some_and(|s| {
                        selection.services.iter().any(|w| w.eq_ignore_ascii_case(s))
                    }))
        };
        let any_selected = self
            .endpoints
            .iter()
            .any(|p| named(p) && !selection.phases(&p.phases).is_empty());
        // Checks that are not an endpoint's: selecting only them selects no endpoint.
        let only_identity = selection.only.iter().all(|k| {
            matches!(
                k,
                CheckKind::Identity | CheckKind::Registration | CheckKind::Inbound
            )
        }) && !selection.only.is_empty();
        if !any_selected && !only_identity {
            let names: Vec<&str> = self
                .endpoints
                .iter()
                .map(|p| p.endpoint.name.as_str())
                .collect();
            let mut services: Vec<&str> = self
                .endpoints
                .iter()
                .filter_map(|p| p.endpoint.service.as_deref())
                .collect();
            services.sort_unstable();
            services.dedup();
            return Err(UsageError::new(
                "the selection (--endpoint, --service, --only, --skip) leaves no endpoint to check",
            )
            .hint(format!(
                "endpoints: {}; services: {}",
                names.join(", "),
                services.join(", ")
            )));
        }
        let mut endpoints = std::mem::take(&mut self.endpoints);
        endpoints.retain_mut(|p| {
            if !named(p) {
                return false;
            }
            p.phases = selection.phases(&p.phases);
            !p.phases.is_empty()
        });
        endpoints.shrink_to_fit();
        let mut seen = std::collections::HashSet::new();
        let mut hosts = Vec::new();
        for planned in &endpoints {
            let url = &planned.endpoint.url;
            if url.ip.is_none()
                && planned.endpoint.connect_to.is_none()
                && planned.phases.contains(&CheckKind::Dns)
                && seen.insert(url.host.as_str())
            {
                hosts.push(url.host.clone());
            }
        }
        Ok(Plan {
            endpoints,
            hosts,
            profile_trust: self.profile_trust.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob_match("spine-*", "spine-reliable"));
        assert!(glob_match("gas-auth?????ate", "gas-authvalidate"));
        assert!(!glob_match("spine-*", "mesh-hscn"));
        assert!(glob_match("*", "anything"));
    }

    #[test]
    fn only_keeps_prerequisites_and_skip_drops_dependents() {
        let chain = [
            CheckKind::Dns,
            CheckKind::Tcp,
            CheckKind::Tls,
            CheckKind::Http,
        ];
        let only_tls = Selection {
            only: vec![CheckKind::Tls],
            ..Selection::default()
        };
        assert_eq!(
            only_tls.phases(&chain),
            [CheckKind::Dns, CheckKind::Tcp, CheckKind::Tls]
        );
        let skip_tls = Selection {
            skip: vec![CheckKind::Tls],
            ..Selection::default()
        };
        assert_eq!(skip_tls.phases(&chain), [CheckKind::Dns, CheckKind::Tcp]);
        let only_ldap = Selection {
            only: vec![CheckKind::Ldap],
            ..Selection::default()
        };
        assert!(only_ldap.phases(&chain).is_empty());
        assert!(!only_tls.identity());
        assert!(Selection::default().identity());
    }
}
