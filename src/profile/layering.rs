//! Layering: `profile < --config file < command line`, each a `ProfileDoc`; the top one's keys
//! win, endpoints of the same name are replaced and new ones appended.

use super::*;

impl RunDoc {
    /// Layers `top` over `self`: keys set in `top` win.
    fn overlay(self, top: RunDoc) -> RunDoc {
        RunDoc {
            timeout: top.timeout.or(self.timeout),
            format: top.format.or(self.format),
            retries: top.retries.or(self.retries),
            strict: top.strict.or(self.strict),
            concurrency: top.concurrency.or(self.concurrency),
            deadline: top.deadline.or(self.deadline),
            maintenance: top.maintenance.or(self.maintenance),
        }
    }
}

impl ProfileDoc {
    /// Layers `top` over `self`: set keys in `top` win; endpoints with the same name are
    /// replaced, new ones appended.
    pub fn overlay(mut self, top: ProfileDoc) -> ProfileDoc {
        fn pick<T>(low: Option<T>, high: Option<T>) -> Option<T> {
            high.or(low)
        }
        self.name = pick(self.name, top.name);
        self.description = pick(self.description, top.description);
        self.party_key = pick(self.party_key, top.party_key);
        self.asid = pick(self.asid, top.asid);
        self.ip = top.ip.or(self.ip);
        self.ods = pick(self.ods, top.ods);
        if let Some(dns) = top.dns {
            let low = self.dns.take().unwrap_or_default();
            self.dns = Some(DnsDoc {
                servers: pick(low.servers, dns.servers),
                allow_loopback: pick(low.allow_loopback, dns.allow_loopback),
                zone: pick(low.zone, dns.zone),
            });
        }
        if let Some(trust) = top.trust {
            let low = self.trust.take().unwrap_or_default();
            self.trust = Some(TrustDoc {
                ca_files: pick(low.ca_files, trust.ca_files),
                crl_files: pick(low.crl_files, trust.crl_files),
                revocation: pick(low.revocation, trust.revocation),
                legacy_g1: pick(low.legacy_g1, trust.legacy_g1),
                min_tls: pick(low.min_tls, trust.min_tls),
                expiry_warning_days: pick(low.expiry_warning_days, trust.expiry_warning_days),
            });
        }
        if let Some(http) = top.http {
            let low = self.http.take().unwrap_or_default();
            self.http = Some(HttpDoc {
                proxy: pick(low.proxy, http.proxy),
                proxy_credentials_env: pick(low.proxy_credentials_env, http.proxy_credentials_env),
            });
        }
        if let Some(client) = top.client {
            let low = self.client.take().unwrap_or_default();
            self.client = Some(ClientDoc {
                cert: pick(low.cert, client.cert),
                key: pick(low.key, client.key),
                fqdn: pick(low.fqdn, client.fqdn),
                asid: pick(low.asid, client.asid),
                party_key: pick(low.party_key, client.party_key),
                ods: pick(low.ods, client.ods),
                interactions: pick(low.interactions, client.interactions),
            });
        }
        if let Some(mesh) = top.mesh {
            let low = self.mesh.take().unwrap_or_default();
            self.mesh = Some(MeshDoc {
                mailbox: pick(low.mailbox, mesh.mailbox),
                password_env: pick(low.password_env, mesh.password_env),
                shared_key_env: pick(low.shared_key_env, mesh.shared_key_env),
                endpoint: pick(low.endpoint, mesh.endpoint),
            });
        }
        if let Some(inbound) = top.inbound {
            let low = self.inbound.take().unwrap_or_default();
            self.inbound = Some(InboundDoc {
                sources: pick(low.sources, inbound.sources),
            });
        }
        if let Some(discovery) = top.discovery {
            let low = self.discovery.take().unwrap_or_default();
            self.discovery = Some(DiscoveryDoc {
                enabled: pick(low.enabled, discovery.enabled),
                max_endpoints: pick(low.max_endpoints, discovery.max_endpoints),
                interactions: pick(low.interactions, discovery.interactions),
            });
        }
        if let Some(run) = top.run {
            self.run = Some(self.run.take().unwrap_or_default().overlay(run));
        }
        self.maintenance = pick(self.maintenance, top.maintenance);
        for endpoint in top.endpoints {
            match self.endpoints.iter_mut().find(|e| e.name == endpoint.name) {
                Some(existing) => *existing = endpoint,
                None => self.endpoints.push(endpoint),
            }
        }
        self
    }
}
