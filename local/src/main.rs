use apprtc_local::cli::Config;
use apprtc_local::ops::{healthcheck, logging};
use apprtc_local::{server, startup};
use clap::Parser;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = Config::parse();
    logging::init(config.log_format);
    if config.healthcheck {
        let target = healthcheck::target(config.listen_addr());
        return match healthcheck::probe(target, !config.no_tls).await {
            Ok(body) => {
                println!("{body}");
                Ok(())
            }
            Err(reason) => anyhow::bail!("not ready: {reason}"),
        };
    }
    let (server, listeners) = startup::start(&config).await?;
    server.serve(listeners, server::shutdown_signal()).await?;
    Ok(())
}
