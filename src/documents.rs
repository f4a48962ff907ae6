//! Machine documents: the serde types of every JSON output (report, plan, certs, inspect,
//! windows, sds), their schema names, and their JSON Schemas, generated from these types.
//! Commands build a document from what they found and hand it to `report/`; nothing else
//! decides what a JSON output looks like. Fields are added, never renamed or removed.

use schemars::JsonSchema;
use serde::Serialize;

use crate::findings::{Check, DirectoryEntry, Report};
use crate::maintenance::{Maintenance, Occurrence, WindowState};

/// Every machine document, by the name `int-check schema NAME` takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Document {
    /// `check --format json`, `certs verify --format json`
    Report,
    /// `check --dry-run --format json`
    Plan,
    /// `certs show --format json`
    Certs,
    /// `certs inspect --format json`
    Inspect,
    /// `windows --format json`
    Windows,
    /// `sds --format json`
    Sds,
}

impl Document {
    pub const ALL: [Document; 6] = [
        Document::Report,
        Document::Plan,
        Document::Certs,
        Document::Inspect,
        Document::Windows,
        Document::Sds,
    ];

    /// The `schema` field of the document: its name and version.
    pub fn id(self) -> &'static str {
        match self {
            Document::Report => "int-check.report.v1",
            Document::Plan => "int-check.plan.v1",
            Document::Certs => "int-check.certs.v1",
            Document::Inspect => "int-check.inspect.v1",
            Document::Windows => "int-check.windows.v1",
            Document::Sds => "int-check.sds.v1",
        }
    }

    /// The JSON Schema (draft 2020-12) of the document, generated from its type.
    pub fn json_schema(self) -> serde_json::Value {
        let schema = match self {
            Document::Report => schemars::schema_for!(ReportDoc<'static>),
            Document::Plan => schemars::schema_for!(PlanDoc),
            Document::Certs => schemars::schema_for!(CertsDoc),
            Document::Inspect => schemars::schema_for!(InspectDoc),
            Document::Windows => schemars::schema_for!(WindowsDoc),
            Document::Sds => schemars::schema_for!(SdsDoc),
        };
        let mut generated = schema.to_value();
        // The `schema` field holds exactly this document's name.
        generated["properties"]["schema"] = serde_json::json!({"const": self.id()});
        // Identification first, then what schemars generated.
        let mut value = serde_json::Map::new();
        value.insert(
            "$schema".into(),
            "https://json-schema.org/draft/2020-12/schema".into(),
        );
        value.insert(
            "$id".into(),
            format!("https://int-check.invalid/schemas/{}.json", self.id()).into(),
        );
        value.insert("title".into(), self.id().into());
        if let serde_json::Value::Object(rest) = generated {
            for (key, field) in rest {
                value.entry(key).or_insert(field);
            }
        }
        serde_json::Value::Object(value)
    }
}

/// The name of a document, as its `schema` field.
#[derive(Clone, Copy, Debug, Serialize)]
#[serde(transparent)]
pub struct SchemaName(&'static str);

impl JsonSchema for SchemaName {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "SchemaName".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({"type": "string"})
    }
}

impl From<Document> for SchemaName {
    fn from(document: Document) -> Self {
        SchemaName(document.id())
    }
}

fn instant<S: serde::Serializer>(
    at: &Option<jiff::Timestamp>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match at {
        Some(at) => serializer.collect_str(at),
        None => serializer.serialize_none(),
    }
}

// ---------------------------------------------------------------------------------------------
// The check report

/// `int-check.report.v1`: a run's checks, in report order.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ReportDoc<'a> {
    pub schema: SchemaName,
    /// The int-check version that wrote it.
    pub version: String,
    pub profile: String,
    pub description: String,
    /// RFC 3339.
    pub started_at: String,
    pub duration_ms: u64,
    /// `--strict`: warnings fail the run too (exit 1).
    pub strict: bool,
    pub summary: SummaryDoc,
    pub maintenance: MaintenanceDoc,
    pub endpoints: Vec<EndpointDoc<'a>>,
    pub checks: CheckList<'a>,
}

/// A report's checks, serialised one by one as they are written: forty thousand of them are not
/// copied into documents first. Its schema is that of a list of `CheckDoc`.
#[derive(Debug)]
pub struct CheckList<'a>(pub &'a [Check]);

impl Serialize for CheckList<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.0.iter().map(CheckDoc::from))
    }
}

impl JsonSchema for CheckList<'_> {
    fn inline_schema() -> bool {
        <Vec<CheckDoc<'static>>>::inline_schema()
    }

    fn schema_name() -> std::borrow::Cow<'static, str> {
        <Vec<CheckDoc<'static>>>::schema_name()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        <Vec<CheckDoc<'static>>>::json_schema(generator)
    }
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct SummaryDoc {
    pub pass: usize,
    pub warn: usize,
    pub fail: usize,
    pub skip: usize,
    pub total: usize,
    /// Which networks this machine reaches: per network, its endpoints and how many connected.
    pub networks: Vec<crate::findings::NetworkReach>,
}

/// The maintenance slots at the time of the run (all empty when the profile lists none).
#[derive(Debug, Serialize, JsonSchema)]
pub struct MaintenanceDoc {
    /// RFC 3339; null when the profile lists no slots.
    #[serde(serialize_with = "instant")]
    #[schemars(with = "Option<String>")]
    pub at: Option<jiff::Timestamp>,
    pub time_zone: &'static str,
    /// Slots in progress.
    pub active: Vec<Occurrence>,
    /// The next slot of each service not in one now.
    pub next: Vec<Occurrence>,
}

impl From<&WindowState> for MaintenanceDoc {
    fn from(state: &WindowState) -> Self {
        MaintenanceDoc {
            at: state.at,
            time_zone: crate::maintenance::ZONE,
            active: state.active.clone(),
            next: state.next.clone(),
        }
    }
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct EndpointDoc<'a> {
    pub name: &'a str,
    pub url: &'a str,
    /// `hscn` or `internet`; null for the client identity.
    pub network: Option<&'static str>,
    /// `profile`, `directory` (registered under the profile's party key, `--discover`) or
    /// `inbound` (your own endpoint); null for the identity and registration checks.
    pub origin: Option<&'static str>,
}

/// One check: what was tested, the verdict, and the facts behind it.
#[derive(Debug, Serialize, JsonSchema)]
pub struct CheckDoc<'a> {
    pub endpoint: &'a str,
    /// `identity`, `dns`, `tcp`, `tls`, `http` or `ldap`.
    pub kind: crate::findings::CheckKind,
    /// `host:port`, or the host for DNS.
    pub target: &'a str,
    /// The resolved address the check ran against.
    pub address: Option<String>,
    pub status: crate::findings::Status,
    /// A stable reason code (`int-check explain CODE`); null on a pass.
    pub reason: Option<&'static str>,
    pub message: &'a str,
    /// What to do next; null on a pass.
    pub hint: Option<&'a str>,
    pub duration_ms: u64,
    pub details: &'a crate::findings::Details,
}

impl<'a> From<&'a Check> for CheckDoc<'a> {
    fn from(c: &'a Check) -> Self {
        CheckDoc {
            endpoint: &c.endpoint,
            kind: c.kind,
            target: &c.target,
            address: c.address.map(|a| a.to_string()),
            status: c.status,
            reason: c.reason.map(|r| r.code()),
            message: &c.message,
            hint: c.hint(),
            duration_ms: c.duration.as_millis() as u64,
            details: &c.details,
        }
    }
}

impl<'a> From<&'a Report> for ReportDoc<'a> {
    fn from(report: &'a Report) -> Self {
        let summary = report.summary();
        ReportDoc {
            schema: Document::Report.into(),
            version: report.tool_version.to_string(),
            profile: report.profile.clone(),
            description: report.description.clone(),
            started_at: report.started_at.to_string(),
            duration_ms: report.duration.as_millis() as u64,
            strict: report.strict,
            summary: SummaryDoc {
                pass: summary.pass,
                warn: summary.warn,
                fail: summary.fail,
                skip: summary.skip,
                total: summary.total(),
                networks: report.networks(),
            },
            maintenance: (&report.maintenance).into(),
            endpoints: report
                .endpoints
                .iter()
                .map(|e| EndpointDoc {
                    name: &e.name,
                    url: &e.url,
                    network: e.network.map(|n| n.as_str()),
                    origin: e.origin.map(|o| o.as_str()),
                })
                .collect(),
            checks: CheckList(&report.checks),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The plan (--dry-run)

/// `int-check.plan.v1`: what a run would check, without the network.
#[derive(Debug, Serialize, JsonSchema)]
pub struct PlanDoc {
    pub schema: SchemaName,
    pub profile: String,
    /// `system resolver` or the DNS servers, comma-separated.
    pub resolver: String,
    /// Every host to resolve, once, in first-use order.
    pub hosts: Vec<String>,
    pub trust: TrustDoc,
    /// The client identity; null when none is configured.
    pub identity: Option<PlannedIdentity>,
    pub timeout_ms: u64,
    pub endpoints: Vec<PlannedEndpointDoc>,
    pub description: String,
    /// What the run will ask the directory, and probe from its answers: your registration, your
    /// own endpoint, discovery (one sentence each; empty when none applies).
    pub directory: Vec<String>,
    /// The MESH mailbox handshake, when `[mesh]` is configured and its check is selected.
    pub mesh: Option<PlannedMesh>,
}

/// Where the MESH handshake's secrets come from: variable names, never their values.
#[derive(Debug, Serialize, JsonSchema)]
pub struct PlannedMesh {
    pub mailbox: String,
    /// The endpoint whose host the handshake goes to.
    pub endpoint: String,
    pub password_env: String,
    pub shared_key_env: String,
    /// Those of the two variables that are not set (or empty) here: the check would fail with
    /// mesh.credentials_missing.
    pub unset: Vec<String>,
}

/// Where a profile's anchors come from, and what they are.
#[derive(Debug, Serialize, JsonSchema)]
pub struct TrustDoc {
    pub source: String,
    pub roots: Vec<AnchorDoc>,
    pub intermediates: Vec<AnchorDoc>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct AnchorDoc {
    pub subject: String,
    pub sha256: String,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct PlannedIdentity {
    pub cert: String,
    pub key: String,
    /// Whether the identity checks run first.
    pub checked: bool,
    /// What reading and checking the files found (no network): `code: message` per failure or
    /// warning; empty when the identity is sound.
    pub findings: Vec<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct PlannedEndpointDoc {
    pub name: String,
    pub url: String,
    pub service: Option<String>,
    pub mtls: bool,
    /// Phases in order; each needs the one before.
    pub phases: Vec<crate::findings::CheckKind>,
    /// Directory searches (ldaps:// only).
    pub searches: Vec<String>,
    /// The anchors this endpoint is judged against, when they are not the profile's.
    pub trust: Option<String>,
    /// The HTTP proxy this endpoint is reached through (`http://HOST:PORT`, never its
    /// credentials), and where that was set; null when direct.
    pub proxy: Option<String>,
}

// ---------------------------------------------------------------------------------------------
// Certificates

/// `int-check.certs.v1`: the profile's trust anchors.
#[derive(Debug, Serialize, JsonSchema)]
pub struct CertsDoc {
    pub schema: SchemaName,
    pub profile: String,
    pub source: String,
    pub certificates: Vec<AnchorCertDoc>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct AnchorCertDoc {
    pub subject: String,
    /// The subject's CN, when it has one.
    pub common_name: Option<String>,
    pub issuer: String,
    /// RFC 3339.
    pub not_before: String,
    /// RFC 3339.
    pub not_after: String,
    pub sha256: String,
    /// `root` or `intermediate`.
    pub role: &'static str,
    pub serial: String,
    /// e.g. `RSA 4096 bits`.
    pub key: String,
    pub days_left: i64,
    pub expires_within_a_year: bool,
    /// CRL distribution points (URLs) the certificate names.
    pub crl_points: Vec<String>,
    /// OCSP responders (URLs) the certificate names.
    pub ocsp: Vec<String>,
}

/// Where a certificate's issuer publishes revocation.
#[derive(Debug, Serialize, JsonSchema)]
pub struct RevocationPointsDoc {
    /// CRL distribution points (URLs) the certificate names.
    pub crl_points: Vec<String>,
    /// OCSP responders (URLs) the certificate names.
    pub ocsp: Vec<String>,
}

/// `int-check.inspect.v1`: what a file really is.
#[derive(Debug, Serialize, JsonSchema)]
pub struct InspectDoc {
    pub schema: SchemaName,
    pub file: String,
    /// `PEM`, `DER`, `PEM on one line`, ...
    pub encoding: String,
    pub items: Vec<InspectedItem>,
    /// Set when the file's extension says something else than its content.
    pub extension_lies: Option<String>,
}

/// One thing found in a file. Key material is never included, only its kind.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum InspectedItem {
    Certificate {
        subject: String,
        issuer: String,
        /// RFC 3339.
        not_before: String,
        /// RFC 3339.
        not_after: String,
        sha256: String,
        self_signed: bool,
        /// The built-in anchor this certificate is, if it is one.
        pinned: Option<&'static str>,
        /// `legacy G1: NHS INT Level 1C -> NHS PTL Root Authority` when the certificate is, or was
        /// issued by, a CA of the retired G1 hierarchy.
        hierarchy: Option<String>,
        /// e.g. `RSA 4096 bits`.
        key: String,
        /// Where its issuer publishes revocation.
        #[serde(flatten)]
        revocation: Box<RevocationPointsDoc>,
    },
    PrivateKey {
        format: &'static str,
    },
    EncryptedPrivateKey,
    CertificateRequest,
    /// A PKCS#12 bundle (.p12, .pfx).
    Pkcs12,
    Other {
        label: String,
    },
}

// ---------------------------------------------------------------------------------------------
// Maintenance windows

/// `int-check.windows.v1`: which services are in a maintenance slot, and the next slots.
#[derive(Debug, Serialize, JsonSchema)]
pub struct WindowsDoc {
    /// The slots at the instant evaluated (`at`, `time_zone`, `active`, `next`).
    #[serde(flatten)]
    pub state: MaintenanceDoc,
    pub schema: SchemaName,
    pub profile: String,
    /// Every service's weekly slots, as the profile writes them.
    pub slots: Vec<ServiceSlots>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct ServiceSlots {
    pub service: String,
    /// e.g. `Mon 20:00-Tue 06:00` (Europe/London wall-clock time).
    pub weekly: Vec<String>,
}

impl WindowsDoc {
    pub fn new(profile: &str, slots: &[Maintenance], state: &WindowState) -> WindowsDoc {
        WindowsDoc {
            state: MaintenanceDoc::from(state),
            schema: Document::Windows.into(),
            profile: profile.to_string(),
            slots: slots
                .iter()
                .map(|m| ServiceSlots {
                    service: m.service.clone(),
                    weekly: m.weekly.iter().map(|s| s.raw.clone()).collect(),
                })
                .collect(),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The directory

/// `int-check.sds.v1`: the entries a directory look-up found.
#[derive(Debug, Serialize, JsonSchema)]
pub struct SdsDoc {
    pub schema: SchemaName,
    /// The directory's URL.
    pub directory: String,
    /// The filter sent.
    pub filter: String,
    pub count: usize,
    pub entries: Vec<DirectoryEntry>,
    /// Set when not every entry was read: the server's size limit or one of int-check's.
    pub truncated_by: Option<String>,
    /// Referrals to other directories the server returned.
    pub references: Vec<String>,
}
