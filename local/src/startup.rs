//! Start-up: binds the listeners the flags name, makes or loads the TLS certificate, builds the
//! server, and tells the person who started it where to open it (addresses, a QR code for a
//! phone, the certificate's fingerprint).

use crate::cli::{Backend, Config, StoreKind};
use crate::server::{Listeners, Server};
use crate::tls::certificates as tls;
use anyhow::Context;
use std::net::{IpAddr, SocketAddr};

/// The server and its listeners as `config` describes them, with what to open printed.
pub async fn start(config: &Config) -> anyhow::Result<(Server, Listeners)> {
    let addr = config.listen_addr();
    let main = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))?;
    let addr = main.local_addr()?;
    let collider_listener = if config.no_relay_port {
        None
    } else {
        let collider_addr = SocketAddr::new(addr.ip(), config.relay_port);
        Some(
            tokio::net::TcpListener::bind(collider_addr)
                .await
                .with_context(|| {
                    format!(
                        "cannot listen on {collider_addr} (relay port; --no-relay-port disables it)"
                    )
                })?,
        )
    };
    let mut ca = None;
    let tls = if config.no_tls {
        None
    } else {
        let dir = config
            .state_dir
            .clone()
            .unwrap_or_else(tls::default_state_dir);
        let source = match (config.cert.as_deref(), config.key.as_deref()) {
            (Some(cert), Some(key)) => tls::CertSource::Given { cert, key },
            _ if config.tls_ca => tls::CertSource::LocalCa,
            _ => tls::CertSource::SelfSigned,
        };
        let (server_config, info) = tls::tls_config(source, &dir, &config.hostnames)?;
        if let Some(ca) = &info.ca {
            println!(
                "certificate authority {} ({}, {}): SHA-256 {}",
                ca.name,
                ca.path.display(),
                if ca.created { "created now" } else { "reused" },
                ca.sha256
            );
        }
        println!(
            "TLS certificate {} ({}): SHA-256 {}",
            info.path.display(),
            if info.generated {
                "generated now"
            } else {
                "reused"
            },
            info.sha256
        );
        ca = info.ca;
        Some(server_config)
    };
    let scheme = if tls.is_some() { "https" } else { "http" };
    let urls = urls(scheme, addr, &config.hostnames);
    println!("apprtc-local listening on {scheme}://{addr}/");
    for url in &urls {
        println!("  open {url}");
    }
    if let Some(relay) = &collider_listener {
        println!("  collider-compatible relay on {}", relay.local_addr()?);
    }
    if let Some(first) = urls
        .iter()
        .find(|u| !u.contains("localhost") && !u.contains("127.0.0.1"))
        .or(urls.first())
    {
        println!(
            "\nScan with a phone on the same network ({first}):\n{}",
            crate::tls::qr::terminal(first)
        );
        if ca.is_some() {
            println!(
                "Once per phone, for no certificate warning on any later address: open {first}ca \
                 and install the certificate authority it offers."
            );
        }
    }
    let mut server = Server::from_config(config).await?;
    if let Some(ca) = ca {
        server = server.with_ca_page(ca);
    }
    match (config.store, config.backend) {
        (StoreKind::Memory, _) => println!("rooms are kept in memory"),
        (StoreKind::Dynamodb, _) => println!("rooms are kept in DynamoDB table '{}'", config.table),
    }
    if config.backend == Backend::AwsLocal {
        println!("backend: the Lambda handlers behind a local API Gateway stand-in (aws-local)");
    }
    let listeners = Listeners {
        main,
        collider: collider_listener,
        tls,
    };
    Ok((server, listeners))
}

/// The URLs people can open: every interface address when listening on all of them.
fn urls(scheme: &str, addr: SocketAddr, hostnames: &[String]) -> Vec<String> {
    let port = addr.port();
    let default_port = (scheme == "https" && port == 443) || (scheme == "http" && port == 80);
    let hostport = |ip: IpAddr| {
        let host = match ip {
            IpAddr::V6(v6) => format!("[{v6}]"),
            IpAddr::V4(v4) => v4.to_string(),
        };
        if default_port {
            host
        } else {
            format!("{host}:{port}")
        }
    };
    let ips: Vec<IpAddr> = if addr.ip().is_unspecified() {
        tls::interface_addresses()
            .into_iter()
            .filter(|ip| ip.is_ipv4())
            .collect()
    } else {
        vec![addr.ip()]
    };
    let mut out: Vec<String> = ips
        .into_iter()
        .map(|ip| format!("{scheme}://{}/", hostport(ip)))
        .collect();
    out.sort_by_key(|u| u.contains("127.0.0.1"));
    // Names given with --hostname come first: in a container they are the host's address.
    let named = hostnames
        .iter()
        .map(|h| h.trim())
        .filter(|h| !h.is_empty())
        .map(|h| {
            if default_port {
                format!("{scheme}://{h}/")
            } else {
                format!("{scheme}://{h}:{port}/")
            }
        });
    named.chain(out).collect()
}
