//! TLS for phones on a LAN. By default a local certificate authority (as mkcert makes one): its
//! key and certificate are created once in the state directory, and it signs a short-lived server
//! certificate whose names cover `localhost`, loopback, every interface address and the configured
//! host names. A phone installs the authority once (`/ca`) and then trusts every later server
//! certificate, whatever address the machine has. Without the authority (`--tls-ca false`), the
//! server certificate is self-signed and kept so that a phone accepts it once per change; or a
//! real certificate comes from `--cert`/`--key`.

use anyhow::{Context, Result, bail};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

const CERT_FILE: &str = "cert.pem";
const KEY_FILE: &str = "key.pem";
const NAMES_FILE: &str = "cert-names.txt";
/// Validity of a generated certificate (browsers dislike very long-lived ones).
const VALID_DAYS: i64 = 365;
/// A generated certificate is replaced this long before it expires.
const RENEW_DAYS: i64 = 30;

const CA_CERT_FILE: &str = "ca.pem";
const CA_KEY_FILE: &str = "ca-key.pem";
const LEAF_CERT_FILE: &str = "leaf.pem";
const LEAF_KEY_FILE: &str = "leaf-key.pem";
const LEAF_NAMES_FILE: &str = "leaf-names.txt";
/// Validity of the local authority: it is installed on phones by hand, so it should outlive them.
const CA_VALID_DAYS: i64 = 10 * 365;
/// Validity of a server certificate signed by the local authority: within the 397 days Chrome
/// and Apple platforms accept for a server certificate.
const LEAF_VALID_DAYS: i64 = 365;

/// The certificate in use.
#[derive(Debug, Clone)]
pub struct CertInfo {
    /// SHA-256 of the DER certificate, colon-separated hex.
    pub sha256: String,
    /// Names and addresses it was generated for (empty for a given certificate).
    pub names: Vec<String>,
    /// Whether it was generated during this start.
    pub generated: bool,
    /// Where it lives.
    pub path: PathBuf,
    /// The local authority that signed it, when there is one.
    pub ca: Option<LocalCa>,
}

/// The local certificate authority's certificate, as phones download it from `/ca`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalCa {
    /// The certificate, PEM.
    pub pem: String,
    /// The certificate, DER.
    pub der: Vec<u8>,
    /// SHA-256 of the DER certificate, colon-separated hex.
    pub sha256: String,
    /// Its common name (what a phone lists among installed certificates).
    pub name: String,
    /// Where the certificate lives (its key is beside it, readable by the owner only).
    pub path: PathBuf,
    /// Whether it was created during this start.
    pub created: bool,
}

/// Where the server certificate comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CertSource<'a> {
    /// `--cert`/`--key` as given.
    Given {
        /// PEM certificate chain.
        cert: &'a Path,
        /// PEM private key.
        key: &'a Path,
    },
    /// Generated and signed by the local authority in the state directory.
    LocalCa,
    /// Generated and self-signed.
    SelfSigned,
}

/// Addresses of this machine's interfaces (IPv4, and IPv6 other than link-local).
pub fn interface_addresses() -> Vec<IpAddr> {
    let mut out: Vec<IpAddr> = if_addrs::get_if_addrs()
        .map(|ifs| ifs.into_iter().map(|i| i.ip()).collect())
        .unwrap_or_default();
    out.retain(|ip| match ip {
        IpAddr::V4(_) => true,
        IpAddr::V6(v6) => (v6.segments()[0] & 0xffc0) != 0xfe80,
    });
    out.sort();
    out.dedup();
    out
}

/// The names a generated certificate must cover.
fn wanted_names(hostnames: &[String]) -> BTreeSet<String> {
    let mut names: BTreeSet<String> = [
        "localhost".to_owned(),
        "127.0.0.1".to_owned(),
        "::1".to_owned(),
    ]
    .into();
    names.extend(interface_addresses().into_iter().map(|ip| ip.to_string()));
    names.extend(
        hostnames
            .iter()
            .map(|h| h.trim().to_owned())
            .filter(|h| !h.is_empty()),
    );
    names
}

/// Loads `--cert`/`--key`, or reuses or generates the self-signed certificate in `state_dir`.
pub fn server_config(
    cert: Option<&Path>,
    key: Option<&Path>,
    state_dir: &Path,
    hostnames: &[String],
) -> Result<(Arc<rustls::ServerConfig>, CertInfo)> {
    let source = match (cert, key) {
        (Some(cert), Some(key)) => CertSource::Given { cert, key },
        (None, None) => CertSource::SelfSigned,
        _ => bail!("--cert and --key go together"),
    };
    tls_config(source, state_dir, hostnames)
}

/// The TLS configuration for `source`; generated certificates are kept in `state_dir`.
pub fn tls_config(
    source: CertSource<'_>,
    state_dir: &Path,
    hostnames: &[String],
) -> Result<(Arc<rustls::ServerConfig>, CertInfo)> {
    let (certs, key, info) = match source {
        CertSource::Given { cert: c, key: k } => {
            let certs = read_certs(c)?;
            let key = PrivateKeyDer::from_pem_file(k)
                .with_context(|| format!("cannot read private key {}", k.display()))?;
            let info = CertInfo {
                sha256: fingerprint(&certs[0]),
                names: Vec::new(),
                generated: false,
                path: c.to_owned(),
                ca: None,
            };
            (certs, key, info)
        }
        CertSource::SelfSigned => self_signed(state_dir, hostnames)?,
        CertSource::LocalCa => ca_signed(state_dir, hostnames)?,
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .context("TLS versions")?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .context("certificate and key do not match")?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok((Arc::new(config), info))
}

fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>> {
    let certs = CertificateDer::pem_file_iter(path)
        .with_context(|| format!("cannot read certificate {}", path.display()))?
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("invalid certificate {}", path.display()))?;
    if certs.is_empty() {
        bail!("no certificate in {}", path.display());
    }
    Ok(certs)
}

fn fingerprint(cert: &CertificateDer<'_>) -> String {
    Sha256::digest(cert.as_ref())
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// The stored record: names covered and expiry (unix seconds), one per line.
fn read_record(dir: &Path) -> Option<(BTreeSet<String>, i64)> {
    let text = std::fs::read_to_string(dir.join(NAMES_FILE)).ok()?;
    let mut lines = text.lines();
    let not_after = lines.next()?.strip_prefix("not_after ")?.parse().ok()?;
    Some((lines.map(str::to_owned).collect(), not_after))
}

/// A server certificate chain, its key and what it is, as rustls and the start-up message take
/// them.
type Certified = (
    Vec<CertificateDer<'static>>,
    PrivateKeyDer<'static>,
    CertInfo,
);

fn self_signed(dir: &Path, hostnames: &[String]) -> Result<Certified> {
    let wanted = wanted_names(hostnames);
    let cert_path = dir.join(CERT_FILE);
    let key_path = dir.join(KEY_FILE);
    let reusable = read_record(dir).is_some_and(|(names, not_after)| {
        wanted.is_subset(&names) && not_after - unix_now() > RENEW_DAYS * 86_400
    });
    if reusable && let Some((certs, key)) = read_pair(&cert_path, &key_path) {
        let names = read_record(dir).map(|(n, _)| n).unwrap_or_default();
        return Ok(reused(certs, key, names, cert_path, None));
    }
    let names: Vec<String> = wanted.into_iter().collect();
    let now = unix_now();
    let params = server_params(&names, now, VALID_DAYS)?;
    let key = rcgen::KeyPair::generate().context("key generation")?;
    let cert = params.self_signed(&key).context("certificate generation")?;
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create state directory {}", dir.display()))?;
    let record = format!(
        "not_after {}\n{}\n",
        now + VALID_DAYS * 86_400,
        names.join("\n")
    );
    let files = Issued {
        cert_path,
        key_path,
        record_path: dir.join(NAMES_FILE),
        record,
    };
    files.store(&cert, &key, names, None)
}

/// The stored server certificate and its key, when both read.
fn read_pair(
    cert_path: &Path,
    key_path: &Path,
) -> Option<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)> {
    let certs = read_certs(cert_path).ok()?;
    let key = PrivateKeyDer::from_pem_file(key_path).ok()?;
    Some((certs, key))
}

/// A stored server certificate taken up again, covering `names`.
fn reused(
    certs: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    names: BTreeSet<String>,
    path: PathBuf,
    ca: Option<LocalCa>,
) -> Certified {
    let info = CertInfo {
        sha256: fingerprint(&certs[0]),
        names: names.into_iter().collect(),
        generated: false,
        path,
        ca,
    };
    (certs, key, info)
}

/// A server certificate's parameters: `names`, the emulator's common name, valid from a day
/// before `now` (clocks of phones run behind) for `days`.
fn server_params(names: &[String], now: i64, days: i64) -> Result<rcgen::CertificateParams> {
    let mut params = rcgen::CertificateParams::new(names.to_vec()).context("certificate names")?;
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "apprtc-local");
    params.not_before = at(now - 86_400)?;
    params.not_after = at(now + days * 86_400)?;
    Ok(params)
}

/// Where a freshly issued server certificate goes, with the record of what it covers.
struct Issued {
    cert_path: PathBuf,
    key_path: PathBuf,
    record_path: PathBuf,
    record: String,
}

impl Issued {
    /// Writes the key (private), the certificate and its record; the certificate for rustls.
    fn store(
        self,
        cert: &rcgen::Certificate,
        key: &rcgen::KeyPair,
        names: Vec<String>,
        ca: Option<LocalCa>,
    ) -> Result<Certified> {
        write_private(&self.key_path, key.serialize_pem().as_bytes())?;
        std::fs::write(&self.cert_path, cert.pem())
            .with_context(|| format!("cannot write {}", self.cert_path.display()))?;
        std::fs::write(&self.record_path, self.record)
            .context("cannot write certificate record")?;
        let der = cert.der().clone();
        let info = CertInfo {
            sha256: fingerprint(&der),
            names,
            generated: true,
            path: self.cert_path,
            ca,
        };
        let key = PrivateKeyDer::try_from(key.serialize_der()).map_err(anyhow::Error::msg)?;
        Ok((vec![der], key, info))
    }
}

/// The local authority's key and certificate: read from `dir`, or created there on the first
/// start. Never replaced: phones have it installed. Half of it missing is an error, not a new
/// authority.
fn local_ca(dir: &Path) -> Result<(rcgen::KeyPair, LocalCa)> {
    let cert_path = dir.join(CA_CERT_FILE);
    let key_path = dir.join(CA_KEY_FILE);
    match (cert_path.exists(), key_path.exists()) {
        (true, true) => {
            let pem = std::fs::read_to_string(&cert_path)
                .with_context(|| format!("cannot read {}", cert_path.display()))?;
            let key_pem = std::fs::read_to_string(&key_path)
                .with_context(|| format!("cannot read {}", key_path.display()))?;
            let key = rcgen::KeyPair::from_pem(&key_pem)
                .with_context(|| format!("invalid key {}", key_path.display()))?;
            let der = read_certs(&cert_path)?.remove(0).to_vec();
            // Certificates signed with another key would fail on every phone: refuse at start.
            let public = rcgen::PublicKeyData::der_bytes(&key);
            if !der.windows(public.len()).any(|w| w == public) {
                bail!(
                    "{} is not the key of {}; restore the pair phones trust, or remove both to \
                     create a new certificate authority",
                    key_path.display(),
                    cert_path.display()
                );
            }
            let ca = LocalCa {
                sha256: fingerprint(&CertificateDer::from(der.as_slice())),
                name: ca_name(&key),
                pem,
                der,
                path: cert_path,
                created: false,
            };
            Ok((key, ca))
        }
        (false, false) => {
            let key = rcgen::KeyPair::generate().context("key generation")?;
            let mut params = ca_params(&key);
            let now = unix_now();
            params.not_before = at(now - 86_400)?;
            params.not_after = at(now + CA_VALID_DAYS * 86_400)?;
            let cert = params
                .self_signed(&key)
                .context("certificate authority generation")?;
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create state directory {}", dir.display()))?;
            write_private(&key_path, key.serialize_pem().as_bytes())?;
            std::fs::write(&cert_path, cert.pem())
                .with_context(|| format!("cannot write {}", cert_path.display()))?;
            let ca = LocalCa {
                sha256: fingerprint(cert.der()),
                name: ca_name(&key),
                pem: cert.pem(),
                der: cert.der().to_vec(),
                path: cert_path,
                created: true,
            };
            Ok((key, ca))
        }
        _ => bail!(
            "{} and {} must both exist (phones trust that pair); remove both to create a new \
             certificate authority, which every phone then installs again",
            cert_path.display(),
            key_path.display()
        ),
    }
}

/// The authority's name carries a digest of its key, so that a phone holding authorities of
/// several machines tells them apart, and so that the name (which every certificate it signs
/// repeats as issuer) follows from the key alone.
fn ca_name(key: &rcgen::KeyPair) -> String {
    use rcgen::PublicKeyData as _;
    let digest = Sha256::digest(key.subject_public_key_info());
    let id: String = digest[..4].iter().map(|b| format!("{b:02x}")).collect();
    format!("apprtc-local CA {id}")
}

/// What the authority's certificate says, apart from its validity; enough to sign with.
fn ca_params(key: &rcgen::KeyPair) -> rcgen::CertificateParams {
    use rcgen::{BasicConstraints, DnType, IsCa, KeyUsagePurpose};
    let mut params = rcgen::CertificateParams::default();
    params
        .distinguished_name
        .push(DnType::CommonName, ca_name(key));
    params
        .distinguished_name
        .push(DnType::OrganizationName, "apprtc-local");
    // It signs server certificates only, never another authority.
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params
}

/// The server certificate signed by the local authority: reused while it covers every wanted
/// name, was signed by this authority and is not near expiry; otherwise issued anew (the
/// authority stays).
fn ca_signed(dir: &Path, hostnames: &[String]) -> Result<Certified> {
    let (ca_key, ca) = local_ca(dir)?;
    let wanted = wanted_names(hostnames);
    let cert_path = dir.join(LEAF_CERT_FILE);
    let key_path = dir.join(LEAF_KEY_FILE);
    let record = read_leaf_record(dir);
    let reusable = record.as_ref().is_some_and(|r| {
        r.ca == ca.sha256
            && wanted.is_subset(&r.names)
            && r.not_after - unix_now() > RENEW_DAYS * 86_400
    });
    if reusable && let Some((certs, key)) = read_pair(&cert_path, &key_path) {
        let names = record.map(|r| r.names).unwrap_or_default();
        return Ok(reused(certs, key, names, cert_path, Some(ca)));
    }
    let names: Vec<String> = wanted.into_iter().collect();
    let now = unix_now();
    let mut params = server_params(&names, now, LEAF_VALID_DAYS)?;
    params.is_ca = rcgen::IsCa::ExplicitNoCa;
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
    params.key_usages = vec![rcgen::KeyUsagePurpose::DigitalSignature];
    params.use_authority_key_identifier_extension = true;
    let key = rcgen::KeyPair::generate().context("key generation")?;
    let issuer = rcgen::Issuer::new(ca_params(&ca_key), &ca_key);
    let cert = params
        .signed_by(&key, &issuer)
        .context("certificate generation")?;
    let record = format!(
        "not_after {}\nca {}\n{}\n",
        now + LEAF_VALID_DAYS * 86_400,
        ca.sha256,
        names.join("\n")
    );
    let files = Issued {
        cert_path,
        key_path,
        record_path: dir.join(LEAF_NAMES_FILE),
        record,
    };
    files.store(&cert, &key, names, Some(ca))
}

/// What the stored server certificate covers, when it expires and which authority signed it.
struct LeafRecord {
    names: BTreeSet<String>,
    not_after: i64,
    ca: String,
}

fn read_leaf_record(dir: &Path) -> Option<LeafRecord> {
    let text = std::fs::read_to_string(dir.join(LEAF_NAMES_FILE)).ok()?;
    let mut lines = text.lines();
    let not_after = lines.next()?.strip_prefix("not_after ")?.parse().ok()?;
    let ca = lines.next()?.strip_prefix("ca ")?.to_owned();
    Some(LeafRecord {
        names: lines.map(str::to_owned).collect(),
        not_after,
        ca,
    })
}

fn at(unix: i64) -> Result<time::OffsetDateTime> {
    time::OffsetDateTime::from_unix_timestamp(unix).context("system clock out of range")
}

fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts
        .open(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    f.write_all(bytes)
        .with_context(|| format!("cannot write {}", path.display()))
}

/// The default state directory: `$APPRTC_STATE_DIR`, else `$XDG_STATE_HOME/apprtc-local`, else
/// `~/.local/state/apprtc-local`, else `./.apprtc-local`.
pub fn default_state_dir() -> PathBuf {
    if let Some(xdg) = std::env::var_os("XDG_STATE_HOME").filter(|v| !v.is_empty()) {
        return PathBuf::from(xdg).join("apprtc-local");
    }
    if let Some(home) = std::env::var_os("HOME").filter(|v| !v.is_empty()) {
        return PathBuf::from(home).join(".local/state/apprtc-local");
    }
    PathBuf::from(".apprtc-local")
}
