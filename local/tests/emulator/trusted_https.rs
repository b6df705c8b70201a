//! The local certificate authority: a client whose only trust root is the authority reaches the
//! server by address and by name with no verification override; a new name gets a new server
//! certificate from the same authority (whose key is never rewritten); `/ca` offers it with the
//! content types phones install; a headless Chromium whose NSS database holds only the authority
//! loads the page over HTTPS (and does not without it).
//!
//! The Chromium test needs Chromium and `certutil` (Debian: `apt-get install chromium
//! libnss3-tools`); without them it is skipped with a message, unless `APPRTC_REQUIRE_BROWSER=1`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use apprtc_local::cli::Config;
use apprtc_local::server::{Listeners, Server};
use apprtc_local::tls::certificates::{self as tls, CertInfo, CertSource};
use clap::Parser;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::oneshot;

fn temp_dir(tag: &str) -> common::TempDir {
    common::TempDir::new(&format!("apprtc-ca-{tag}"))
}

/// A server over TLS on 127.0.0.1 (main and compatibility listeners); stops when dropped.
struct TlsServer {
    main: SocketAddr,
    relay: SocketAddr,
    info: CertInfo,
    _stop: oneshot::Sender<()>,
}

async fn serve(source: CertSource<'_>, dir: &Path, hostnames: &[String]) -> TlsServer {
    let (tls, info) = tls::tls_config(source, dir, hostnames).unwrap();
    let config = Config::try_parse_from(["apprtc-local", "--listen", "127.0.0.1:0"]).unwrap();
    let mut server = Server::from_config(&config).await.unwrap();
    if let Some(ca) = info.ca.clone() {
        server = server.with_ca_page(ca);
    }
    let main = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let relay = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let (main_addr, relay_addr) = (main.local_addr().unwrap(), relay.local_addr().unwrap());
    let listeners = Listeners {
        main,
        collider: Some(relay),
        tls: Some(tls),
    };
    let (stop, _) = common::serve(server, listeners);
    TlsServer {
        main: main_addr,
        relay: relay_addr,
        info,
        _stop: stop,
    }
}

/// A TLS client trusting `ca_pem` and nothing else (no system roots, no override).
fn client_trusting(ca_pem: &Path) -> tokio_rustls::TlsConnector {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(ca_pem).unwrap() {
        roots.add(cert.unwrap()).unwrap();
    }
    assert_eq!(roots.len(), 1, "exactly one trust root");
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    tokio_rustls::TlsConnector::from(Arc::new(config))
}

/// An HTTP/1.1 answer: status, headers (lower-case names), body.
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Answer {
    fn header(&self, name: &str) -> &str {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map_or("", |(_, v)| v.as_str())
    }
}

/// `GET path` over TLS to `addr`, verifying the certificate for `name`.
async fn get(
    connector: &tokio_rustls::TlsConnector,
    addr: SocketAddr,
    name: &str,
    path: &str,
) -> Result<Answer, std::io::Error> {
    let server_name = ServerName::try_from(name.to_owned()).unwrap();
    let tcp = tokio::net::TcpStream::connect(addr).await?;
    let mut tls = tokio::time::timeout(common::WAIT, connector.connect(server_name, tcp))
        .await
        .expect("handshake timed out")?;
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {name}:{}\r\nConnection: close\r\n\r\n",
        addr.port()
    );
    tls.write_all(request.as_bytes()).await?;
    let mut raw = Vec::new();
    tokio::time::timeout(common::WAIT, tls.read_to_end(&mut raw))
        .await
        .expect("answer timed out")?;
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("end of headers");
    let head = String::from_utf8(raw[..split].to_vec()).unwrap();
    let mut lines = head.lines();
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    Ok(Answer {
        status,
        headers,
        body: raw[split + 4..].to_vec(),
    })
}

fn modified(path: &Path) -> std::time::SystemTime {
    std::fs::metadata(path).unwrap().modified().unwrap()
}

#[tokio::test]
async fn a_client_trusting_only_the_local_ca_connects_and_a_new_name_gets_a_new_leaf() {
    let dir = temp_dir("trust");
    let first = serve(CertSource::LocalCa, &dir, &[]).await;
    let ca = first.info.ca.clone().expect("a local authority");
    assert!(ca.created);
    let client = client_trusting(&dir.join("ca.pem"));
    for name in ["127.0.0.1", "localhost"] {
        let a = get(&client, first.main, name, "/healthz").await.unwrap();
        assert_eq!(a.status, 200, "{name}");
    }
    // The served chain is not self-signed: a client trusting only itself refuses it.
    let stranger = client_trusting(&first.info.path);
    assert!(
        get(&stranger, first.main, "localhost", "/healthz")
            .await
            .is_err()
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        for key in ["ca-key.pem", "leaf-key.pem"] {
            let mode = std::fs::metadata(dir.join(key))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o077, 0, "{key} readable by others");
        }
    }
    let ca_key = std::fs::read(dir.join("ca-key.pem")).unwrap();
    let ca_key_time = modified(&dir.join("ca-key.pem"));
    drop(first);

    // A restart with the same names reuses everything.
    let same = serve(CertSource::LocalCa, &dir, &[]).await;
    assert!(!same.info.generated);
    assert!(!same.info.ca.as_ref().unwrap().created);
    drop(same);

    // A restart with a new name: a new leaf from the same authority.
    let name = "phone-lab.test".to_owned();
    let renamed = serve(CertSource::LocalCa, &dir, std::slice::from_ref(&name)).await;
    assert!(renamed.info.generated, "a new name needs a new certificate");
    let again = renamed.info.ca.clone().unwrap();
    assert!(!again.created);
    assert_eq!(again.sha256, ca.sha256, "the authority must not change");
    assert_eq!(std::fs::read(dir.join("ca-key.pem")).unwrap(), ca_key);
    assert_eq!(modified(&dir.join("ca-key.pem")), ca_key_time);
    for host in [name.as_str(), "localhost", "127.0.0.1"] {
        let a = get(&client, renamed.main, host, "/healthz").await.unwrap();
        assert_eq!(a.status, 200, "{host}");
    }
    // The compatibility listener serves the same certificate.
    assert_eq!(
        get(&client, renamed.relay, &name, "/status")
            .await
            .unwrap()
            .status,
        200
    );
    // A name never configured is refused by the client, as it should be.
    assert!(
        get(&client, renamed.main, "elsewhere.test", "/healthz")
            .await
            .is_err()
    );
}

#[tokio::test]
async fn half_an_authority_is_an_error_not_a_new_one() {
    let dir = temp_dir("half");
    drop(serve(CertSource::LocalCa, &dir, &[]).await);
    std::fs::remove_file(dir.join("ca-key.pem")).unwrap();
    let before = std::fs::read(dir.join("ca.pem")).unwrap();
    let e = tls::tls_config(CertSource::LocalCa, &dir, &[]).unwrap_err();
    assert!(format!("{e:#}").contains("ca-key.pem"), "{e:#}");
    assert_eq!(std::fs::read(dir.join("ca.pem")).unwrap(), before);
    // A key that is not the authority's is refused too (it would sign certificates no phone
    // accepts); the leaf's key stands in for a stray one.
    std::fs::copy(dir.join("leaf-key.pem"), dir.join("ca-key.pem")).unwrap();
    let e = tls::tls_config(CertSource::LocalCa, &dir, &[]).unwrap_err();
    assert!(format!("{e:#}").contains("is not the key of"), "{e:#}");
    assert_eq!(std::fs::read(dir.join("ca.pem")).unwrap(), before);
}

#[tokio::test]
async fn ca_page_and_downloads_answer_with_installable_content_types() {
    let dir = temp_dir("page");
    let s = serve(CertSource::LocalCa, &dir, &[]).await;
    let ca = s.info.ca.clone().unwrap();
    let client = client_trusting(&dir.join("ca.pem"));
    // On both listeners: a phone may know either port.
    for addr in [s.main, s.relay] {
        let page = get(&client, addr, "localhost", "/ca").await.unwrap();
        assert_eq!(page.status, 200);
        assert!(page.header("content-type").starts_with("text/html"));
        let html = String::from_utf8(page.body).unwrap();
        assert!(html.contains(&ca.sha256), "fingerprint missing");
        assert!(html.contains("href=\"/ca.crt\""));
        assert!(html.contains("Install a certificate"));
        assert!(html.contains("Certificate Trust Settings"));

        let pem = get(&client, addr, "localhost", "/ca.pem").await.unwrap();
        assert_eq!(pem.status, 200);
        assert_eq!(pem.header("content-type"), "application/x-pem-file");
        assert_eq!(pem.body, std::fs::read(dir.join("ca.pem")).unwrap());

        let der = get(&client, addr, "localhost", "/ca.crt").await.unwrap();
        assert_eq!(der.status, 200);
        assert_eq!(der.header("content-type"), "application/x-x509-ca-cert");
        assert!(
            der.header("content-disposition")
                .contains("apprtc-local-ca.crt")
        );
        assert_eq!(der.body, ca.der);
        let from_pem = CertificateDer::from_pem_file(dir.join("ca.pem")).unwrap();
        assert_eq!(der.body, from_pem.as_ref());
    }
}

#[tokio::test]
async fn without_a_local_ca_there_is_no_ca_page() {
    let dir = temp_dir("selfsigned");
    let s = serve(CertSource::SelfSigned, &dir, &[]).await;
    assert!(s.info.ca.is_none());
    assert!(!dir.join("ca.pem").exists());
    let client = client_trusting(&s.info.path);
    assert_eq!(
        get(&client, s.main, "localhost", "/ca")
            .await
            .unwrap()
            .status,
        404
    );
    let plain = common::TestServer::start().await;
    assert_eq!(plain.get("/ca.crt").await.status, 404);
}

#[test]
fn the_local_ca_is_the_default_and_can_be_turned_off() {
    let c = Config::try_parse_from(["apprtc-local"]).unwrap();
    assert!(c.tls_ca);
    let c = Config::try_parse_from(["apprtc-local", "--tls-ca", "false"]).unwrap();
    assert!(!c.tls_ca);
}

// ------------------------------------------------------------------- Chromium

const CHROMIUM_CANDIDATES: &[&str] = &["/usr/lib/chromium/chromium", "/usr/bin/chromium"];
const CERTUTIL: &str = "certutil";

fn which(tool: &str) -> bool {
    std::process::Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Chromium and certutil, or a skip message (a failure with `APPRTC_REQUIRE_BROWSER=1`).
fn chromium_and_certutil() -> Option<&'static str> {
    let chromium = CHROMIUM_CANDIDATES
        .iter()
        .copied()
        .find(|p| Path::new(p).exists());
    let missing = match (chromium, which(CERTUTIL)) {
        (Some(c), true) => return Some(c),
        (None, _) => "chromium",
        (Some(_), false) => "certutil",
    };
    if std::env::var("APPRTC_REQUIRE_BROWSER").as_deref() == Ok("1") {
        panic!("APPRTC_REQUIRE_BROWSER=1 but {missing} is missing");
    }
    eprintln!(
        "SKIPPED trusted HTTPS browser test: {missing} not found \
         (apt-get install chromium libnss3-tools; APPRTC_REQUIRE_BROWSER=1 makes this fail)"
    );
    None
}

/// A home directory whose NSS database (where Chromium on Linux reads the user's trust
/// anchors) holds `ca` if given, and nothing else.
fn nss_home(tag: &str, ca: Option<&Path>) -> common::TempDir {
    let home = temp_dir(tag);
    let db = home.join(".pki/nssdb");
    std::fs::create_dir_all(&db).unwrap();
    let db_arg = format!("sql:{}", db.display());
    let run = |args: &[&str]| {
        common::run_ok(
            std::process::Command::new(CERTUTIL).args(args),
            &format!("certutil {args:?}"),
        );
    };
    run(&["-N", "--empty-password", "-d", &db_arg]);
    if let Some(ca) = ca {
        let ca = ca.to_str().unwrap();
        run(&[
            "-A",
            "-n",
            "apprtc-local CA",
            "-t",
            "C,,",
            "-i",
            ca,
            "-d",
            &db_arg,
        ]);
    }
    home
}

/// The DOM Chromium ends up with after loading `url` (with no certificate override).
async fn chromium_dom(chromium: &str, home: &Path, url: &str) -> String {
    let out = tokio::time::timeout(
        Duration::from_secs(60),
        tokio::process::Command::new(chromium)
            .args([
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-quic",
                "--timeout=15000",
            ])
            .arg(format!(
                "--user-data-dir={}",
                home.join("profile").display()
            ))
            .arg("--dump-dom")
            .arg(url)
            .env("HOME", home)
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("chromium timed out")
    .expect("chromium");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_trusting_only_the_local_ca_loads_the_page_without_a_warning() {
    let Some(chromium) = chromium_and_certutil() else {
        return;
    };
    let dir = temp_dir("chromium");
    let s = serve(CertSource::LocalCa, &dir, &[]).await;
    let sha = s.info.ca.clone().unwrap().sha256;
    for host in ["localhost", "127.0.0.1"] {
        let url = format!("https://{host}:{}/ca", s.main.port());
        let trusting = nss_home("nss-trust", Some(&dir.join("ca.pem")));
        let dom = chromium_dom(chromium, &trusting, &url).await;
        assert!(
            dom.contains(&sha),
            "{url} did not load with the authority trusted:\n{dom}"
        );
        let stranger = nss_home("nss-empty", None);
        let dom = chromium_dom(chromium, &stranger, &url).await;
        assert!(
            !dom.contains(&sha),
            "{url} loaded although nothing trusts its certificate:\n{dom}"
        );
    }
}
