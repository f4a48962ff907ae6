//! A real OpenLDAP `slapd` for directory tests: LDAPS on a loopback port, the lab PKI, the SDS
//! schema from fixtures/, and the fixture entries. Stopped when dropped.

use std::net::{IpAddr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::{Lab, LeafSpec};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures");

pub struct Slapd {
    pub addr: SocketAddr,
    child: Child,
    pub dir: PathBuf,
}

impl Drop for Slapd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Where slapd is, or a panic that says how to install it.
fn find(program: &str) -> PathBuf {
    for dir in ["/usr/sbin", "/usr/local/sbin", "/usr/bin", "/sbin"] {
        let path = Path::new(dir).join(program);
        if path.exists() {
            return path;
        }
    }
    panic!(
        "{program} is not installed: the directory tests need OpenLDAP. Install it with \
         `DEBIAN_FRONTEND=noninteractive apt-get install -y slapd ldap-utils` (.ci/run does this)"
    );
}

pub struct SlapdOptions {
    /// Extra LDIF loaded after fixtures/sds-int.ldif.
    pub extra_ldif: String,
    /// TLSVerifyClient: "never", "allow" or "demand".
    pub verify_client: &'static str,
    /// The host name the server certificate carries.
    pub host: String,
    /// `require bind`: no operation before a bind (anonymous binds allowed).
    pub require_bind: bool,
}

impl Default for SlapdOptions {
    fn default() -> Self {
        SlapdOptions {
            extra_ldif: String::new(),
            verify_client: "allow",
            host: "ldap.int.test".to_string(),
            require_bind: false,
        }
    }
}

impl Slapd {
    pub fn start(lab: &Lab, ip: IpAddr, options: SlapdOptions) -> Slapd {
        let slapd = find("slapd");
        let slapadd = find("slapadd");
        let dir = lab.dir.path().join(format!("slapd-{}", options.host));
        std::fs::create_dir_all(dir.join("db")).unwrap();
        let leaf = lab.pki.leaf(&LeafSpec::server(&options.host));
        std::fs::write(
            dir.join("server.pem"),
            format!("{}{}", leaf.pem, lab.pki.subca.pem),
        )
        .unwrap();
        std::fs::write(dir.join("server.key"), &leaf.key_pem).unwrap();
        let conf = format!(
            "include /etc/ldap/schema/core.schema\n\
             include /etc/ldap/schema/cosine.schema\n\
             include /etc/ldap/schema/inetorgperson.schema\n\
             include {FIXTURES}/nhs-sds.schema\n\
             pidfile {dir}/slapd.pid\n\
             modulepath /usr/lib/ldap\n\
             moduleload back_mdb\n\
             TLSCertificateFile {dir}/server.pem\n\
             TLSCertificateKeyFile {dir}/server.key\n\
             TLSCACertificateFile {root}\n\
             TLSVerifyClient {verify}\n\
             sizelimit unlimited\n\
             {require}\
             database mdb\n\
             suffix \"o=nhs\"\n\
             rootdn \"cn=admin,o=nhs\"\n\
             rootpw secret\n\
             directory {dir}/db\n\
             maxsize 104857600\n",
            dir = dir.display(),
            root = lab.root_file.display(),
            verify = options.verify_client,
            require = if options.require_bind {
                "require bind\n"
            } else {
                ""
            },
        );
        let conf_path = dir.join("slapd.conf");
        std::fs::write(&conf_path, conf).unwrap();
        let mut ldif = std::fs::read_to_string(Path::new(FIXTURES).join("sds-int.ldif")).unwrap();
        ldif.push('\n');
        ldif.push_str(&options.extra_ldif);
        let ldif_path = dir.join("data.ldif");
        std::fs::write(&ldif_path, ldif).unwrap();
        let loaded = Command::new(&slapadd)
            .arg("-f")
            .arg(&conf_path)
            .arg("-l")
            .arg(&ldif_path)
            .arg("-q")
            .output()
            .unwrap();
        assert!(
            loaded.status.success(),
            "slapadd failed: {}",
            String::from_utf8_lossy(&loaded.stderr)
        );

        for _ in 0..10 {
            let port = std::net::TcpListener::bind(SocketAddr::new(ip, 0))
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            let addr = SocketAddr::new(ip, port);
            let log = std::fs::File::create(dir.join("slapd.log")).unwrap();
            let mut child = Command::new(&slapd)
                .arg("-f")
                .arg(&conf_path)
                .arg("-h")
                .arg(format!("ldaps://{addr}/"))
                .arg("-d")
                .arg("0")
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .unwrap();
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
                if TcpStream::connect_timeout(&addr, Duration::from_millis(100)).is_ok() {
                    return Slapd { addr, child, dir };
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!(
            "slapd did not start; its log:\n{}",
            std::fs::read_to_string(dir.join("slapd.log")).unwrap_or_default()
        );
    }
}

/// `count` MHS entries for one party key (for size-bound tests).
pub fn many_mhs_entries(party_key: &str, count: usize) -> String {
    let mut out = String::new();
    for i in 0..count {
        out.push_str(&format!(
            "dn: uniqueIdentifier=BIG{i:06},ou=services,o=nhs\n\
             objectClass: nhsMhs\n\
             uniqueIdentifier: BIG{i:06}\n\
             nhsIDCode: BIG\n\
             nhsMHSPartyKey: {party_key}\n\
             nhsMhsSvcIA: urn:nhs:names:services:test:IN{i:06}\n\
             nhsMHsSN: urn:nhs:names:services:test\n\
             nhsMHsIN: IN{i:06}\n\
             nhsMHSEndPoint: https://big.int.test/{i}\n\
             nhsMHSIsAuthenticated: transient\n\
             nhsMhsCPAId: BIG{i:06}\n\
             nhsProductKey: 1\n\
             nhsRequestorURP: x\n\
             nhsDateRequested: 20220804120000\n\
             nhsApproverURP: x\n\
             nhsDateApproved: 20220804120000\n\
             nhsDNSApprover: x\n\
             nhsDateDNSApproved: 20220804120000\n\
             nhsEPInteractionType: ebXML\n\
             nhsContractPropertyTemplateKey: 14\n\
             nhsMhsFQDN: big.int.test\n\n"
        ));
    }
    out
}

/// A test supplier, as the onboarding team would register it: Accredited System record
/// `SUPPLIER_ASID` (party key `SUPPLIER_PARTY_KEY`, ODS `SUPPLIER_ODS`, both `SUPPLIER_INTERACTIONS`)
/// and one MHS record per interaction, registering `fqdn` and `endpoint`.
pub fn supplier_ldif(fqdn: &str, endpoint: &str) -> String {
    let mut ldif = String::new();
    ldif.push_str(&format!(
        "dn: uniqueIdentifier={SUPPLIER_ASID},ou=services,o=nhs\nobjectClass: nhsAs\n\
         uniqueIdentifier: {SUPPLIER_ASID}\nnhsIDCode: {SUPPLIER_ODS}\nnhsMHSPartyKey: {SUPPLIER_PARTY_KEY}\n"
    ));
    for interaction in SUPPLIER_INTERACTIONS {
        ldif.push_str(&format!("nhsAsSvcIA: {interaction}\n"));
    }
    ldif.push_str(&format!(
        "{URPS}nhsProductName: Lab Supplier MHS\nnhsAsClient: {SUPPLIER_ODS}\n\n"
    ));
    for (n, interaction) in SUPPLIER_INTERACTIONS.iter().enumerate() {
        let id = format!("S2000001010{n:02}");
        let (service, name) = interaction.rsplit_once(':').unwrap_or(("urn", interaction));
        ldif.push_str(&format!(
            "dn: uniqueIdentifier={id},ou=services,o=nhs\nobjectClass: nhsMhs\nuniqueIdentifier: {id}\n\
             nhsIDCode: {SUPPLIER_ODS}\nnhsMHSPartyKey: {SUPPLIER_PARTY_KEY}\nnhsMhsSvcIA: {interaction}\n\
             nhsMHsSN: {service}\nnhsMHsIN: {name}\nnhsMHSEndPoint: {endpoint}\nnhsMHSIsAuthenticated: transient\n\
             nhsMhsCPAId: {id}\nnhsProductKey: 1234\n{URPS}nhsDNSApprover: uniqueidentifier=555000000007,uniqueidentifier=555000000008,uid=555000000009,ou=people,o=nhs\n\
             nhsDateDNSApproved: 20220804140000\nnhsEPInteractionType: ebXML\nnhsContractPropertyTemplateKey: 14\n\
             nhsMhsFQDN: {fqdn}\nnhsMHSSyncReplyMode: MSHSignalsOnly\nnhsMHSAckRequested: always\n\
             nhsMHSDuplicateElimination: always\nnhsMhsActor: urn:oasis:names:tc:ebxml-msg:actor:toPartyMSH\n\
             nhsMHSPersistDuration: PT5M\nnhsMHSRetries: 2\nnhsMHSRetryInterval: PT1M\n\n"
        ));
    }
    ldif
}

const URPS: &str = "nhsRequestorURP: uniqueidentifier=555000000001,uniqueidentifier=555000000002,uid=555000000003,ou=people,o=nhs\n\
nhsDateRequested: 20220804120000\n\
nhsApproverURP: uniqueidentifier=555000000004,uniqueidentifier=555000000005,uid=555000000006,ou=people,o=nhs\n\
nhsDateApproved: 20220804130000\n";

pub const SUPPLIER_ASID: &str = "200000000101";
pub const SUPPLIER_PARTY_KEY: &str = "XYZ-0000101";
pub const SUPPLIER_ODS: &str = "XYZ";
pub const SUPPLIER_INTERACTIONS: [&str; 2] = [
    "urn:nhs:names:services:psis:REPC_IN150016UK05",
    "urn:nhs:names:services:psis:MCCI_IN010000UK13",
];
