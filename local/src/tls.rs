//! TLS for phones on a LAN: a self-signed certificate whose names cover `localhost`, loopback,
//! every interface address and the configured host names, kept in a state directory so that a
//! phone only has to accept it once; or a real certificate from `--cert`/`--key`.

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
pub fn wanted_names(hostnames: &[String]) -> BTreeSet<String> {
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
    let (certs, key, info) = match (cert, key) {
        (Some(c), Some(k)) => {
            let certs = read_certs(c)?;
            let key = PrivateKeyDer::from_pem_file(k)
                .with_context(|| format!("cannot read private key {}", k.display()))?;
            let info = CertInfo {
                sha256: fingerprint(&certs[0]),
                names: Vec::new(),
                generated: false,
                path: c.to_owned(),
            };
            (certs, key, info)
        }
        (None, None) => self_signed(state_dir, hostnames)?,
        _ => bail!("--cert and --key go together"),
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

fn self_signed(
    dir: &Path,
    hostnames: &[String],
) -> Result<(
    Vec<CertificateDer<'static>>,
    PrivateKeyDer<'static>,
    CertInfo,
)> {
    let wanted = wanted_names(hostnames);
    let cert_path = dir.join(CERT_FILE);
    let key_path = dir.join(KEY_FILE);
    let reusable = read_record(dir).is_some_and(|(names, not_after)| {
        wanted.is_subset(&names) && not_after - unix_now() > RENEW_DAYS * 86_400
    });
    if reusable
        && let (Ok(certs), Ok(key)) = (
            read_certs(&cert_path),
            PrivateKeyDer::from_pem_file(&key_path),
        )
    {
        let names = read_record(dir)
            .map(|(n, _)| n.into_iter().collect())
            .unwrap_or_default();
        let info = CertInfo {
            sha256: fingerprint(&certs[0]),
            names,
            generated: false,
            path: cert_path,
        };
        return Ok((certs, key, info));
    }
    let names: Vec<String> = wanted.into_iter().collect();
    let mut params = rcgen::CertificateParams::new(names.clone()).context("certificate names")?;
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "apprtc-local");
    let now = unix_now();
    params.not_before = at(now - 86_400)?;
    params.not_after = at(now + VALID_DAYS * 86_400)?;
    let key = rcgen::KeyPair::generate().context("key generation")?;
    let cert = params.self_signed(&key).context("certificate generation")?;
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create state directory {}", dir.display()))?;
    write_private(&key_path, key.serialize_pem().as_bytes())?;
    std::fs::write(&cert_path, cert.pem())
        .with_context(|| format!("cannot write {}", cert_path.display()))?;
    let record = format!(
        "not_after {}\n{}\n",
        now + VALID_DAYS * 86_400,
        names.join("\n")
    );
    std::fs::write(dir.join(NAMES_FILE), record).context("cannot write certificate record")?;
    let der = cert.der().clone();
    let info = CertInfo {
        sha256: fingerprint(&der),
        names,
        generated: true,
        path: cert_path,
    };
    let key = PrivateKeyDer::try_from(key.serialize_der()).map_err(anyhow::Error::msg)?;
    Ok((vec![der], key, info))
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
