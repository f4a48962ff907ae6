//! The reason-code catalogue: every code a check can carry, what it means, and the hint shown
//! under it. Codes are a public, stable interface (JSON reports, CI scripts, support desks):
//! add new ones, never rename or reuse old ones. The guide's table (docs/src/reasons.md) is
//! `int-check explain --markdown`; a test compares the two byte for byte.

macro_rules! reasons {
    ($( $variant:ident => $code:literal, $meaning:literal, $hint:literal; )*) => {
        /// A stable reason code attached to a non-passing check.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum Reason { $($variant),* }

        impl Reason {
            /// Every reason, in catalogue order.
            pub const ALL: &'static [Reason] = &[$(Reason::$variant),*];

            /// The stable dotted code, e.g. `tls.expired`.
            pub fn code(self) -> &'static str {
                match self { $(Reason::$variant => $code),* }
            }

            /// One sentence saying what the code means.
            pub fn meaning(self) -> &'static str {
                match self { $(Reason::$variant => $meaning),* }
            }

            /// What to do next.
            pub fn hint(self) -> &'static str {
                match self { $(Reason::$variant => $hint),* }
            }
        }
    };
}

reasons! {
    DnsNoForwarder => "dns.no_forwarder",
        "An HSCN name (under ncrs.nhs.uk) did not resolve through a resolver that does not forward the HSCN zone: the local DNS has no conditional forwarder for it.",
        "Forward ncrs.nhs.uk (or nhs.uk) to 155.231.231.1 and 155.231.231.2. dnsmasq: server=/ncrs.nhs.uk/155.231.231.1; systemd-resolved: resolvectl dns IFACE 155.231.231.1 155.231.231.2 && resolvectl domain IFACE ~ncrs.nhs.uk; unbound: forward-zone with name \"ncrs.nhs.uk\" and forward-addr 155.231.231.1; BIND: zone \"ncrs.nhs.uk\" { type forward; forwarders { 155.231.231.1; 155.231.231.2; }; }; Windows: Add-DnsServerConditionalForwarderZone -Name ncrs.nhs.uk -MasterServers 155.231.231.1,155.231.231.2. Or let int-check ask them: [[dns.zone]] name = \"ncrs.nhs.uk\", servers = [\"155.231.231.1\", \"155.231.231.2\"].";
    DnsNxdomain => "dns.nxdomain",
        "The DNS server says the name does not exist.",
        "Check the name in the URL for typos; the message says which server answered. An internet name (such as int.api.service.nhs.uk) resolves through any resolver: if it does not exist, compare the URL with the service's documentation. An HSCN name (under ncrs.nhs.uk: Spine INT, DEP) exists only on the HSCN DNS servers (155.231.231.1, 155.231.231.2): if another server answered, ask them (--resolver 155.231.231.1, or a [[dns.zone]]); if they answered, the name is not published on HSCN.";
    DnsServfail => "dns.servfail",
        "The DNS server answered with an error (SERVFAIL, REFUSED or similar) instead of an address.",
        "The resolver could not answer for this name: check that it forwards *.nhs.uk to the HSCN DNS servers (155.231.231.1, 155.231.231.2), or query them directly with --resolver.";
    DnsTimeout => "dns.timeout",
        "No DNS server answered within the timeout.",
        "The DNS servers are unreachable: check the HSCN connection (contact your network provider) and that outbound UDP/TCP 53 to 155.231.231.0/29 is allowed.";
    DnsUnreachable => "dns.unreachable",
        "This machine has no network route to the DNS servers (known at once, without waiting for a timeout).",
        "This machine cannot reach the HSCN resolvers (155.231.231.1, 155.231.231.2): it is probably not on HSCN, or its routing does not send 155.231.0.0/16 over the HSCN link (contact your network provider). For internet-only testing, use the endpoints with network = \"internet\" (--service api-platform).";
    DnsNoAddress => "dns.no_address",
        "The name exists but has no A or AAAA record.",
        "The name has no address in this DNS view: compare with the HSCN DNS servers (--resolver 155.231.231.1) and report it to the NHS DNS team if they agree.";
    DnsBadReply => "dns.bad_reply",
        "The DNS server's replies were unusable: a wrong transaction ID or question, undecodable bytes, a CNAME loop, or a truncated answer with TCP 53 refused (the message says which).",
        "Something between you and the DNS server rewrites or answers DNS (a firewall or DNS filter), or the server is broken: compare with the HSCN resolvers (--resolver 155.231.231.1) and allow TCP 53 as well as UDP 53.";
    DnsSinkhole => "dns.sinkhole",
        "The name resolved to 0.0.0.0, :: or a loopback address: a DNS filter's or sinkhole's answer, not the service's.",
        "A DNS filter (a corporate web filter, a security product, a Pi-hole-style blocker) answers for this name: ask your network team to let *.nhs.uk resolve normally, or query the HSCN resolvers with --resolver 155.231.231.1. If you reach INT through a local tunnel on purpose, set [dns] allow_loopback = true.";
    DnsHostsOverride => "dns.hosts_override",
        "The hosts file pins this name to fixed addresses.",
        "INT runs in AWS and its addresses are not constant: remove the entry from the hosts file and use the DNS service names (the NHS integration environments page says so).";
    DnsIpLiteral => "dns.ip_literal",
        "The endpoint URL uses a fixed IP address instead of a DNS name.",
        "INT addresses change: use the DNS service name in the URL, so that the certificate name check and future address changes work.";
    DnsRetried => "dns.retried",
        "The lookup succeeded, but only after a timeout or server failure (--retries).",
        "The answer is right but the path to the DNS servers loses queries: check the HSCN link and any firewall dropping UDP 53 (TCP 53 must be open too).";
    TcpTimeout => "tcp.timeout",
        "The TCP connection got no answer within the timeout.",
        "Usually a firewall or no HSCN route: allow outbound TCP 443 and 636 to the Spine INT range 10.239.0.0/16, and check this machine is on HSCN (contact your network provider).";
    TcpRefused => "tcp.refused",
        "The address answered but nothing accepts connections on this port.",
        "The host is reachable but the port is closed: check the port in the URL and that no proxy or firewall is resetting the connection. Stale addresses cause this too: do not hard-code INT addresses.";
    TcpUnreachable => "tcp.unreachable",
        "There is no network route to the address.",
        "No route to the Spine INT range: check the HSCN link and your routing for 10.239.0.0/16 (contact your network provider).";
    TcpFailed => "tcp.failed",
        "The TCP connection failed for another reason (the message carries the system error).",
        "Check local networking and firewall rules for this address and port.";
    TcpRetried => "tcp.retried",
        "The connection opened, but only after failed attempts (--retries).",
        "The service is reachable but the path is unreliable: check for packet loss on the HSCN link, or a firewall rate-limiting new connections.";
    TcpFamilyNoRoute => "tcp.family_no_route",
        "This machine has no route for one address family of the host (usually IPv6), while an address of the other family connected: clients use that one.",
        "Nothing to fix for the service: clients on this machine use the family that works. If this machine should have IPv6, check its IPv6 address and default route; to check one family only, set ip = \"ipv4\" (HSCN is IPv4) or ip = \"ipv6\" on the endpoint or profile.";
    TcpFamilyFallback => "tcp.family_fallback",
        "An address of one family (usually IPv6) did not answer, while an address of the other family connected: clients that try it first fall back after a delay.",
        "Clients reach the service, late: those that try IPv6 first wait (up to their connect timeout, or 250 ms with Happy Eyeballs) before falling back. Ask the service owner whether the IPv6 address (AAAA record) should be published, or check this network's IPv6 firewall.";
    ProxyUnreachable => "proxy.unreachable",
        "The endpoint is reached through an HTTP proxy, and this machine could not open a TCP connection to the proxy (refused, no route, or no answer): the endpoint itself was never tried.",
        "Check the proxy's address and port where the message says they come from ([http] proxy, HTTPS_PROXY, or the endpoint's proxy) against what your network team publishes (a PAC file or the browser's proxy settings show it), and that this machine may reach it. If the endpoint should not go through a proxy, add its host to NO_PROXY or set proxy = \"none\" on the endpoint.";
    ProxyTimeout => "proxy.timeout",
        "The proxy accepted the connection but did not answer CONNECT within the timeout.",
        "The proxy is overloaded or holds CONNECT while it resolves or reaches the host: try again, raise --timeout, and ask the proxy's owners whether CONNECT to this host is slow for them too.";
    ProxyClosed => "proxy.closed",
        "The proxy closed the connection without answering CONNECT.",
        "Some proxies close instead of refusing (a policy, a port they will not tunnel, a limit on connections): ask the proxy's owners why CONNECT to this host and port is dropped, and compare with curl --proxy.";
    ProxyProtocolError => "proxy.protocol_error",
        "What answers at the proxy's address does not answer CONNECT in HTTP (another service on that port, a TLS port, or a proxy that sent bytes of its own into the tunnel).",
        "Check the proxy's port (3128 and 8080 are common; an https:// proxy or a SOCKS proxy is not an HTTP proxy) where the message says it is set.";
    ProxyAuthRequired => "proxy.auth_required",
        "The proxy asked for authentication (HTTP 407): none was given, or it refused what was given. The message names the schemes it asks for.",
        "Give the proxy's user name and password in the proxy URL (http://USER:PASSWORD@HOST:PORT, percent-encoded) or in a variable named by [http] proxy_credentials_env (USER:PASSWORD); int-check never prints them. int-check authenticates with Basic only: a proxy that asks only for Negotiate or NTLM needs a local helper (cntlm, px) or an exemption for these hosts.";
    ProxyRefused => "proxy.refused",
        "The proxy refused to open a tunnel to the host and port (HTTP 403 or another refusal of CONNECT): its policy does not allow them.",
        "Ask the proxy's owners to allow CONNECT to this host and port (many proxies tunnel only 443: LDAPS on 636 is then refused), or reach the endpoint without the proxy (NO_PROXY, or proxy = \"none\" on the endpoint) where the network allows. The message carries the proxy's own words (squid: its X-Squid-Error code).";
    ProxyUpstreamFailed => "proxy.upstream_failed",
        "The proxy answered CONNECT but could not reach the host itself (HTTP 502, 503 or 504): the proxy works; its way to the host does not.",
        "The message carries the proxy's words: a DNS failure means the proxy cannot resolve the name (an HSCN name through an internet proxy never resolves); a refused or timed-out connection is the host or a firewall behind the proxy. HSCN endpoints are usually reached without the proxy: add them to NO_PROXY.";
    TlsIntercepted => "tls.intercepted",
        "Through the proxy, the server's chain is signed by a CA this profile does not trust: the proxy (or a device behind it) intercepts TLS and re-signs the chain with its own CA. The message names that CA.",
        "Ask the network team to exempt these hosts from TLS inspection (mutual TLS cannot work through it: the proxy cannot present your client certificate). Do not add the inspection CA to the profile: the verdict would then be about the proxy, not the service. If the CA named is an NHS CA, the service itself sends the wrong chain (see tls.untrusted_issuer).";
    TlsHandshakeTimeout => "tls.handshake_timeout",
        "The TCP connection opened but the TLS handshake did not finish within the timeout.",
        "Something accepts the connection but does not speak TLS back: often a firewall or proxy that passes TCP but holds the traffic. Check the port, and any TLS-inspecting proxy on the path.";
    TlsPathMtu => "tls.path_mtu",
        "The TLS handshake stalled, and completed on a connection whose packets were kept small: large packets are lost on the path (a path-MTU black hole).",
        "Not the service: a tunnel, VPN or firewall on the path drops ICMP 'fragmentation needed' (type 3 code 4), so large packets vanish. Ask your network team to allow that ICMP, or clamp the TCP MSS on the tunnel (iptables -t mangle -A FORWARD -p tcp --tcp-flags SYN,RST SYN -j TCPMSS --clamp-mss-to-pmtu), or lower the tunnel interface's MTU.";
    TlsHandshakeStalled => "tls.handshake_stalled",
        "The TLS handshake started (part of the server's reply arrived) and then stopped, and a connection with small packets did not get through either.",
        "The server or something on the path stopped mid-handshake: compare with openssl s_client -connect HOST:PORT from the same machine; if it stalls there too, report it with the details to the service owner or your network team.";
    TlsRevoked => "tls.revoked",
        "A certificate of the server's chain is on its issuer's revocation list ([trust] revocation = \"warn\" or \"fail\").",
        "The service presents a revoked certificate: report it to the service owner. NHS's own TLS clients do not check revocation of Spine's certificates, so others may still connect.";
    TlsNotTls => "tls.not_tls",
        "The port answered, but not with TLS: plain HTTP, an SSH or mail banner, or other bytes (the message quotes them).",
        "The URL points at the wrong port or service, or something on the path answers in its place: check the port (Spine: 443 for HTTPS, 636 for LDAPS) and any proxy or load balancer in front of the service.";
    TlsExpired => "tls.expired",
        "A certificate in the server's chain has expired (the message says which and when).",
        "If the date looks wrong, check this machine's clock. Otherwise the service is presenting an expired certificate: report it to the NHS national service desk.";
    TlsNotYetValid => "tls.not_yet_valid",
        "A certificate in the server's chain is not valid yet.",
        "Check this machine's clock and time zone (NTP): a clock running slow makes new certificates look not yet valid.";
    TlsHostnameMismatch => "tls.hostname_mismatch",
        "The server's certificate is not valid for the host name in the URL (the message lists the names it is valid for).",
        "Use the DNS service name the certificate carries; if you connect through a hard-coded address or the wrong host, you reach a different service.";
    TlsUntrustedIssuer => "tls.untrusted_issuer",
        "The server's chain does not lead to a trusted anchor of this profile (for INT: NHS PTL Root Authority G2 via NHS INT Authentication G2).",
        "If the issuer is a proxy or firewall CA, something is intercepting TLS: exempt Spine hosts from inspection. If it is an NHS CA, install the G2 Root (Trusted Root Certification Authorities) and SubCA (Intermediate Certification Authorities) from the NHS page, or pass them with --ca-file.";
    TlsLegacyG1 => "tls.legacy_g1",
        "The server's certificate was issued under the legacy G1 hierarchy (NHS INT or DEP Level 1C, NHS PTL Root Authority), which a G2 profile does not trust; a warning when the profile sets legacy_g1 = true.",
        "Ask the service for a certificate issued under G2 (NHS INT Authentication G2). If you must reach it as it is, add the G1 pair with --ca-file (the certificates are in fixtures/legacy-g1/), or set legacy_g1 = true under [trust] to trust it with a warning.";
    TlsWrongIntermediate => "tls.wrong_intermediate",
        "The server sends a certificate named like the pinned SubCA (NHS INT Authentication G2) that is not it: a stale copy or an impostor.",
        "The anchors on this machine are right: the service sends the wrong intermediate. Report it to the service owner (the current SubCA is on the NHS page). If the issuer is a proxy's CA with the same name, something intercepts TLS: exempt Spine hosts from inspection.";
    TlsSelfSigned => "tls.self_signed",
        "The server's certificate is self-signed: no CA issued it.",
        "The service presents a placeholder or default certificate instead of its INT certificate: report it to the service owner (for Spine, the NHS national service desk), or check you reached the right host and port.";
    TlsLeafUsage => "tls.leaf_usage",
        "The server's certificate is not allowed for a TLS server: a CA certificate, an extended key usage without serverAuth, or a keyUsage without digitalSignature.",
        "The service is presenting the wrong certificate (a CA or a client certificate): report it to the service owner; clients are right to refuse it.";
    TlsChainStructure => "tls.chain_structure",
        "The chain breaks a rule of certificate paths: a non-CA used as an issuer, a path-length or name-constraint violation, an unknown critical extension, too many certificates, or a certificate that is not valid X.509.",
        "The server's chain is built wrongly: report the chain in the details to the service owner. If an intermediate is the problem, compare it with the one published on the NHS page.";
    TlsWeakSignature => "tls.weak_signature",
        "A certificate in the chain is signed with SHA-1 or MD5, which are broken and refused.",
        "The service must replace the certificate (or intermediate) named in the message with one signed with SHA-256 or better: report it to the service owner.";
    TlsWeakKey => "tls.weak_key",
        "A certificate in the chain has an RSA key below 2048 bits.",
        "The service must replace the certificate named in the message with one with a key of 2048 bits or more: report it to the service owner.";
    TlsUnsupportedAlgorithm => "tls.unsupported_algorithm",
        "The chain uses a signature or key algorithm this tool cannot verify; the chain may be valid.",
        "Not necessarily a server fault: check the same service with an OpenSSL-based client (openssl s_client -verify_return_error). If it verifies there, your own client may still need the algorithm.";
    TlsProtocolVersion => "tls.protocol_version",
        "The server and this tool share no TLS version at or above the profile's min_tls.",
        "Spine requires TLS 1.2 or later: if the server really offers less, report it; if min_tls is 1.3 in your profile, lower it to 1.2.";
    TlsNoCommonSuite => "tls.no_common_suite",
        "The server refused the handshake because it accepts only cipher suites this tool's TLS library (rustls) does not speak; a probe found which of the suites NHS lists it accepts.",
        "Not necessarily a server fault: NHS's security guidance (NRL/SSP) lists DHE and CBC suites that OpenSSL-based clients offer and rustls does not. Check with an OpenSSL client (openssl s_client -tls1_2 -cipher NAME); if your own client is rustls- or Go-based, ask the service to enable ECDHE-RSA-AES128-GCM-SHA256 or ECDHE-RSA-AES256-GCM-SHA384.";
    TlsClientCertRequired => "tls.client_cert_required",
        "The server demands a client certificate and none is configured.",
        "Configure your endpoint certificate and key ([client] cert/key in a --config file, or --client-cert/--client-key). Request an endpoint from NHS Digital if you do not have one.";
    TlsClientCertRejected => "tls.client_cert_rejected",
        "The server rejected the client certificate that was sent.",
        "Check the client certificate was issued by the INT SubCA for your registered endpoint FQDN, is not expired or revoked, and that the key matches it. Endpoint registration is done through the NHS endpoint request process. MESH over the internet also refuses connections from outside the UK and client key stores that are not SHA-2 (the Path-to-Live connection page); a MESH API certificate is named LOCALID.ODS.api.mesh-client.nhs.uk, not like a Spine endpoint.";
    TlsHandshakeFailed => "tls.handshake_failed",
        "The TLS handshake failed for another reason (the message carries the TLS alert or error).",
        "Check the port speaks TLS, and whether a proxy or firewall is interfering. The details carry the exact TLS error for a support call.";
    TlsMissingIntermediate => "tls.missing_intermediate",
        "The server did not send the intermediate (SubCA) certificate; the chain was completed from the profile's known intermediates.",
        "Clients that do not have NHS INT Authentication G2 installed will fail: install the SubCA in 'Intermediate Certification Authorities' (or your application's trust store).";
    TlsCnOnly => "tls.cn_only",
        "The certificate carries the host name only in its subject CN, with no subjectAltName.",
        "OpenSSL-based clients accept it (CN fallback); strict clients (rustls/webpki, Go, modern browsers) reject it. Use a client with CN fallback for this service, or report the certificate to NHS Digital.";
    TlsNonconformant => "tls.nonconformant",
        "A certificate of the chain breaks a rule of RFC 5280 or of the CA/Browser Forum's certificate profile that common clients (OpenSSL among them) do not enforce; the message names the certificate and the rule.",
        "Nothing fails today with OpenSSL-based clients, but a stricter client (Go, browsers, newer TLS libraries) may refuse it: report the certificate and the rule to whoever issued it (for the NHS chain, the national service desk).";
    TlsExpiringSoon => "tls.expiring_soon",
        "A certificate in the chain expires within the warning period.",
        "Nothing is broken yet: plan for the renewal, and make sure the replacement certificate and chain are installed where you pin them.";
    HttpUnexpectedStatus => "http.unexpected_status",
        "The service answered with a status the endpoint's expect_status does not list.",
        "Compare the status and body in the message with what the service should answer; a 404 usually means a wrong path in the URL, a 5xx a service-side problem (check the maintenance slots).";
    HttpUnexpectedBody => "http.unexpected_body",
        "The service answered, but the body is not what a healthy answer holds (the endpoint's expect_json or expect_body).",
        "Compare what was expected with what came, both in the message: another issuer or version usually means another environment (INT against DEP) or a wrong URL; an HTML login or error page means something in between (a proxy, a captive portal) answered instead of the service.";
    HttpRedirect => "http.redirect",
        "The service answered with a redirect, which int-check does not follow.",
        "Spine services do not redirect: check the URL (scheme, host, path). If the Location points to a login or proxy page, something between you and Spine is intercepting the request.";
    HttpTimeout => "http.timeout",
        "The TLS connection worked but the HTTP answer did not arrive within the timeout.",
        "The service accepted the connection but did not answer: check the maintenance slots, and any proxy in the way (HTTPS_PROXY / [http] proxy).";
    HttpClientCertRejected => "http.client_cert_rejected",
        "The service asked for a client certificate and answered 400/403: it did not accept the one sent (or none was sent).",
        "Configure your endpoint certificate ([client] cert/key or --client-cert/--client-key), issued by the INT SubCA for your registered FQDN, with its key.";
    HttpProtocolError => "http.protocol_error",
        "The HTTP exchange failed: the server closed the connection or sent something that is not valid HTTP.",
        "Check the URL points at an HTTPS service and that no proxy or firewall is interfering; the message carries the exact error.";
    ClockSkew => "clock.skew",
        "This machine's clock differs from the server's Date header by more than 5 minutes.",
        "Synchronise this machine's clock (NTP): a skewed clock makes valid certificates look expired or not yet valid, and Spine rejects messages with wrong timestamps.";
    LdapBindFailed => "ldap.bind_failed",
        "The directory refused the bind (the message carries the LDAP result code and text).",
        "Spine SDS accepts anonymous binds: remove bind_dn unless you were given credentials; check bind_password_env names a variable that is set.";
    LdapNoEntries => "ldap.no_entries",
        "The search ran but returned fewer entries than min_entries.",
        "Check the party key / ASID / ODS code in the profile, and that you are asking the directory of the right environment (INT: ldap.nis1.national.ncrs.nhs.uk).";
    LdapSearchFailed => "ldap.search_failed",
        "The directory rejected the search (bad filter, a base that does not exist, or another LDAP error).",
        "Check the search base (Spine: ou=services,o=nhs) and the filter syntax (RFC 4515); the message carries the LDAP result code.";
    LdapTimeout => "ldap.timeout",
        "The directory did not answer the bind or a search within the timeout.",
        "The LDAPS port is open but the directory does not answer: check the maintenance slots, and that TCP 636 is not being held by a firewall.";
    LdapProtocolError => "ldap.protocol_error",
        "The directory closed the connection or sent something that is not valid LDAP.",
        "Check the URL points at an LDAPS service (port 636) and that nothing on the path interferes; the message carries the error.";
    CertKeyMismatch => "cert.key_mismatch",
        "The private key does not belong to the client certificate.",
        "Use the key generated with the certificate signing request for this endpoint: compare `openssl x509 -noout -pubkey -in CERT` with `openssl pkey -pubout -in KEY`. If the key is lost, request a new endpoint certificate.";
    CertUntrustedIssuer => "cert.untrusted_issuer",
        "The client certificate does not chain to the profile's anchors (for INT: NHS INT Authentication G2, NHS PTL Root Authority G2).",
        "Spine accepts only endpoint certificates issued by the INT SubCA: check you are using the INT certificate, not one from another environment or a public CA. Include the SubCA after the leaf in the certificate file if your software needs the chain.";
    CertLegacyG1 => "cert.legacy_g1",
        "The client certificate was issued under the legacy G1 hierarchy (NHS INT or DEP Level 1C), which a G2 profile and Spine's G2 services do not trust; a warning when the profile sets legacy_g1 = true.",
        "Request a new endpoint certificate, issued under G2 (NHS INT Authentication G2), for your registered FQDN. Until then, legacy_g1 = true under [trust] turns this into a warning for services that still take G1.";
    CertExpired => "cert.expired",
        "The client certificate has expired.",
        "Request a renewed endpoint certificate (the NHS endpoint request process), or check this machine's clock.";
    CertNotYetValid => "cert.not_yet_valid",
        "The client certificate is not valid yet.",
        "Check this machine's clock (NTP); a certificate issued minutes ago is valid from its notBefore time.";
    CertExpiringSoon => "cert.expiring_soon",
        "The client certificate expires within the warning period.",
        "Request the renewal now: endpoint certificates are issued through the NHS endpoint request process and take time.";
    CertNoClientAuth => "cert.no_client_auth",
        "The client certificate's extended key usage does not include clientAuth.",
        "Mutual TLS needs a certificate issued for client authentication: request an endpoint certificate (it carries clientAuth), not a server-only one.";
    CertWeakKey => "cert.weak_key",
        "The client certificate's key is too small to be accepted (RSA below 2048 bits).",
        "Generate a new key (RSA 2048 or more, or ECDSA P-256) and request a new endpoint certificate for it.";
    CertFqdnMismatch => "cert.fqdn_mismatch",
        "The client certificate's CN/SAN is not the endpoint FQDN it is configured for.",
        "Spine (SSP) checks the client certificate's CN against the registered endpoint: use the certificate issued for this FQDN, or fix [client] fqdn. The FQDN must be registered with the NHS DNS team.";
    RegistrationAsidNotFound => "registration.asid_not_found",
        "The directory has no Accredited System record for your ASID ([client] asid).",
        "Check the ASID for typos; a new ASID appears in the INT directory only after the NHS onboarding team has registered your system for INT: ask them (quote the ASID and your party key).";
    RegistrationAsMismatch => "registration.as_mismatch",
        "Your ASID's Accredited System record names another party key or ODS code than [client] says.",
        "Either [client] is wrong (use the party key and ODS code the record shows) or the record is: the NHS onboarding team corrects registrations. Messages sent with mismatched identifiers are rejected.";
    RegistrationInteractionMissing => "registration.interaction_missing",
        "Your ASID's Accredited System record does not register some of the interactions you listed (nhsAsSvcIA); the message names each.",
        "Spine rejects an interaction your ASID is not registered for: ask the NHS onboarding team to add it to your INT registration (quote the ASID and the interaction IDs), or correct [client] interactions.";
    RegistrationMhsNotFound => "registration.mhs_not_found",
        "The directory has no MHS record for your party key, or none for some of your interactions; the message names each.",
        "Without an MHS record Spine does not know where to send your asynchronous responses: ask the NHS onboarding team to register your MHS endpoint for these interactions (quote party key, interaction IDs, endpoint URL and FQDN).";
    RegistrationFqdnMismatch => "registration.fqdn_mismatch",
        "The FQDN your MHS records register (nhsMhsFQDN) is not the name in your client certificate or [client] fqdn.",
        "Spine compares your certificate's CN with the FQDN registered for the sender, so every message would be rejected: use the certificate issued for the registered FQDN, or have the registration corrected to the certificate's name.";
    InboundNoClientCertRequest => "inbound.no_client_cert_request",
        "Your own endpoint (registered in your MHS records) completes TLS without asking for a client certificate: Spine's calls to it would not be authenticated.",
        "Messaging needs mutual TLS both ways: configure your endpoint's TLS to request (and verify) a client certificate, trusting the NHS INT Authentication G2 SubCA and the NHS PTL Root Authority G2 (e.g. nginx ssl_verify_client on with ssl_client_certificate holding both).";
    InboundWrongCaNames => "inbound.wrong_ca_names",
        "Your own endpoint asks for a client certificate, but the CAs it names as acceptable include neither the INT SubCA nor the G2 root: Spine's client will not offer its certificate.",
        "Add the NHS INT Authentication G2 SubCA and the NHS PTL Root Authority G2 to the CA list your endpoint's TLS sends (nginx: ssl_client_certificate / ssl_trusted_certificate; Java: the truststore), then restart it.";
    MeshAuthRejected => "mesh.auth_rejected",
        "MESH refused the mailbox handshake (HTTP 403, \"Invalid Authentication Token\" or an unreadable Authorization header): the password or the shared key does not match.",
        "Check the mailbox password in [mesh] password_env and the shared key in [mesh] shared_key_env against what you were given when the mailbox was created (the MESH API specification says the shared secret is the same in every environment; older NHS guidance gives one per environment: use the one your onboarding gave you for this environment). The MESH service desk (itoc.supportdesk@nhs.net) resets passwords.";
    MeshUnknownMailbox => "mesh.unknown_mailbox",
        "MESH has no mailbox of that ID in this environment (HTTP 403 \"No mailbox matched\").",
        "Check [mesh] mailbox for typos and that the mailbox was created in this environment (INT mailboxes are not DEP's): the MESH onboarding team says which mailboxes you have.";
    MeshInactiveMailbox => "mesh.inactive_mailbox",
        "The mailbox exists but MESH says it is inactive (HTTP 403 \"Request Received from Inactive Mailbox\").",
        "Ask the MESH service desk (itoc.supportdesk@nhs.net) to reactivate the mailbox for this environment; nothing on your side can fix it.";
    MeshTokenMismatch => "mesh.token_mismatch",
        "The mailbox ID in the NHSMESH token is not the one in the URL (HTTP 403 \"Mailbox id does not match token\").",
        "A proxy or gateway may rewrite the path or the Authorization header: compare what leaves your network with the mailbox in [mesh] mailbox (upper case).";
    MeshTokenReused => "mesh.token_reused",
        "MESH refused a token it had seen before (HTTP 403 \"Error Duplicated Authentication Token\"): each token is valid for one request.",
        "int-check makes a new token for every request: something between you and MESH (a retrying proxy or gateway) replays requests. Find it and stop it retrying POSTs.";
    MeshClockSkew => "mesh.clock_skew",
        "MESH refused the token and this machine's clock is more than 2 hours from MESH's: the token's timestamp is outside the window MESH accepts.",
        "Synchronise this machine's clock (NTP: timedatectl set-ntp true, or chronyc makestep), then run again.";
    MeshCredentialsMissing => "mesh.credentials_missing",
        "[mesh] names an environment variable for the password or shared key that is not set.",
        "Export the variables [mesh] password_env and shared_key_env name (from your CI secret store), never write the secrets in a file; int-check never prints them.";
    MeshHandshakeFailed => "mesh.handshake_failed",
        "The MESH handshake got an answer the MESH API does not give to it (not 200 or 403): a 400 naming what was invalid, or another status.",
        "A 400 names the header or value MESH found invalid (the mex-* client headers are required); a 5xx is MESH's side (check the NHS service status page); another status means something other than MESH answered (a proxy, a wrong URL). Over the internet MESH also needs a UK source IP address and a SHA-2 client key store (the Path-to-Live connection page).";
    CertRevoked => "cert.revoked",
        "The client certificate is on its issuer's certificate revocation list: servers refuse it.",
        "A revoked certificate is usually one that was replaced: install the current certificate (and its key) issued for your endpoint, or request a new one through the NHS endpoint request process.";
    CrlStatusUnknown => "crl.status_unknown",
        "A revocation list could not be had or used (its distribution point unreachable, refused or too large; expired; not signed by the certificate's issuer; none from that issuer; or one RFC 5280 does not let a client use), so the revocation status is unknown. A warning: never a failure of the endpoint.",
        "The message names the list and the network path tried (directly or through the proxy). Whether crl.nhs.uk is reachable from this network is worth knowing: if it is not, get the current CRL where it is (`int-check certs inspect` shows the distribution point) and pass it with --crl-file or [trust] crl_files. An expired list means the file or the publisher is late, not that the certificate is revoked.";
    CertWrongService => "cert.wrong_service",
        "The client certificate is for another kind of service than the profile's mutual-TLS endpoints: a MESH API certificate (LOCALID.ODS.api.mesh-client.nhs.uk) where Spine expects your endpoint certificate, or the other way round.",
        "Configure the certificate each service expects: MESH API certificates work only for MESH; Spine endpoint certificates carry the FQDN registered in SDS. Use a --config per service, or --service to check one kind. The chain alone cannot tell INT from DEP (one SubCA serves both).";
    CertFileMisnamed => "cert.file_misnamed",
        "A client certificate or key file's name says another encoding or content than it holds (a .der file of PEM text, a .pem file of binary DER, a key named .crt). int-check reads it anyway.",
        "Rename the file to what it holds, or convert it (openssl x509 -in FILE -outform der -out FILE.der; openssl x509 -inform der -in FILE -out FILE.pem): other tools (Java keytool, Windows, update-ca-certificates) go by the name and fail on it.";
    CertKeyPermissions => "cert.key_permissions",
        "The private key file can be read by other users of this machine.",
        "Restrict it to its owner: chmod 600 KEYFILE (like ssh does for its keys).";
    MaintenanceWindow => "maintenance.window",
        "The check failed while its service is in a published maintenance slot (the original reason is in the details).",
        "Spine INT is in planned maintenance: retry after the slot ends (see `int-check windows`), and check the Forward Change Schedule for work outside the slots.";
    RunInterrupted => "run.interrupted",
        "The run was stopped by a signal (SIGINT: Ctrl-C; SIGTERM) before this endpoint finished; the message says which phase was waiting.",
        "Run again and let it finish; if a phase waits too long, lower --timeout or set --deadline so that the run ends on its own with what finished.";
    RunDeadline => "run.deadline",
        "The run's --deadline passed before this endpoint finished; its remaining phases did not run.",
        "Raise --deadline, lower --timeout, or look at which phase was slow (the checks before this one say what had finished).";
    RunInternalError => "run.internal_error",
        "int-check itself failed while checking this endpoint (a bug); the other endpoints' results are kept.",
        "Please report it with the output of the same run with -vv (it holds no secrets). The details carry the internal message; the checks before this one still stand.";
    SkipDependencyFailed => "skip.dependency_failed",
        "This check did not run because a check it depends on failed.",
        "Fix the failure above it first.";
}

/// The guide's reason-code table, in catalogue order.
pub fn markdown_table() -> String {
    let mut out = String::from("| code | meaning | hint |\n|---|---|---|\n");
    for reason in Reason::ALL {
        out.push_str(&format!(
            "| `{}` | {} | {} |\n",
            reason.code(),
            reason.meaning(),
            reason.hint()
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn codes_are_unique_and_dotted() {
        let mut seen = HashSet::new();
        for reason in Reason::ALL {
            let code = reason.code();
            assert!(seen.insert(code), "duplicate code {code}");
            assert!(code.contains('.'), "{code} has no family prefix");
            assert!(!reason.hint().is_empty() && !reason.meaning().is_empty());
        }
    }
}
