//! The generated certificate: names cover every interface address, it is reused across restarts
//! (phones accept it once), and a TLS listener serves with it; URLs handed out follow the host the
//! client used.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;
use apprtc_local::tls::certificates as tls;
use std::process::Command;

fn temp_dir(tag: &str) -> common::TempDir {
    common::TempDir::new(&format!("apprtc-cert-{tag}"))
}

/// Subject alternative names as OpenSSL prints them (`IP Address:...`, `DNS:...`).
fn sans(cert: &std::path::Path) -> String {
    let out = common::run_ok(
        Command::new("openssl")
            .args(["x509", "-noout", "-ext", "subjectAltName", "-in"])
            .arg(cert),
        "openssl x509",
    );
    String::from_utf8(out).unwrap()
}

#[test]
fn generated_certificate_names_every_interface_and_is_reused() {
    let dir = temp_dir("names");
    let (_, first) = tls::server_config(None, None, &dir, &["phone-lab.local".to_owned()]).unwrap();
    assert!(first.generated);
    let text = sans(&first.path);
    assert!(text.contains("DNS:localhost"), "{text}");
    assert!(text.contains("DNS:phone-lab.local"), "{text}");
    for ip in tls::interface_addresses() {
        let shown = match ip {
            std::net::IpAddr::V4(v4) => v4.to_string(),
            // OpenSSL prints IPv6 uncompressed and in upper case.
            std::net::IpAddr::V6(v6) => v6
                .segments()
                .iter()
                .map(|s| format!("{s:X}"))
                .collect::<Vec<_>>()
                .join(":"),
        };
        assert!(
            text.contains(&format!("IP Address:{shown}")),
            "{ip} missing from {text}"
        );
    }
    let (_, again) = tls::server_config(None, None, &dir, &["phone-lab.local".to_owned()]).unwrap();
    assert!(!again.generated, "restart must reuse the certificate");
    assert_eq!(again.sha256, first.sha256);
    // A new name is not covered: a new certificate.
    let (_, renamed) = tls::server_config(None, None, &dir, &["other.local".to_owned()]).unwrap();
    assert!(renamed.generated);
    assert_ne!(renamed.sha256, first.sha256);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.join("key.pem"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "private key readable by others");
    }
}

#[test]
fn a_given_certificate_is_used_as_is() {
    let dir = temp_dir("given");
    let (_, generated) = tls::server_config(None, None, &dir, &[]).unwrap();
    let (_, given) = tls::server_config(
        Some(&dir.join("cert.pem")),
        Some(&dir.join("key.pem")),
        &temp_dir("unused"),
        &[],
    )
    .unwrap();
    assert!(!given.generated);
    assert_eq!(given.sha256, generated.sha256);
    assert!(tls::server_config(Some(&dir.join("cert.pem")), None, &dir, &[]).is_err());
    std::fs::write(dir.join("bad.pem"), "not a certificate").unwrap();
    assert!(
        tls::server_config(
            Some(&dir.join("bad.pem")),
            Some(&dir.join("key.pem")),
            &dir,
            &[]
        )
        .is_err()
    );
}

#[tokio::test]
async fn urls_handed_out_follow_the_host_the_client_used() {
    let s = common::TestServer::start().await;
    for host in ["192.168.1.50:8443", "laptop.lan", "[fd00::2]:8443"] {
        let r = s
            .request("POST", "/join/hosts", "", &[("host", host)])
            .await
            .json();
        let p = &r["params"];
        assert_eq!(p["wss_url"], format!("ws://{host}/ws"));
        assert_eq!(p["wss_post_url"], format!("http://{host}/relay"));
        assert!(
            p["room_link"]
                .as_str()
                .unwrap()
                .starts_with(&format!("http://{host}/r/hosts"))
        );
        assert!(
            p["ice_server_url"]
                .as_str()
                .unwrap()
                .starts_with(&format!("http://{host}/v1alpha/iceconfig"))
        );
        s.leave("hosts", p["client_id"].as_str().unwrap()).await;
    }
}
