//! The process's log subscriber: human-readable text or JSON lines (`--log-format`), filtered by
//! `RUST_LOG` (default `info`), without colour codes unless the output is a terminal.

use std::io::IsTerminal;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// One human-readable line per event.
    Text,
    /// One JSON object per line (for container log collectors).
    Json,
}

/// The subscriber for `format`, writing to `writer`; `ansi` only where a terminal shows it.
pub fn subscriber<W>(
    format: LogFormat,
    filter: EnvFilter,
    ansi: bool,
    writer: W,
) -> Box<dyn tracing::Subscriber + Send + Sync>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer);
    match format {
        LogFormat::Text => Box::new(builder.with_ansi(ansi).finish()),
        // JSON never carries colour codes.
        LogFormat::Json => Box::new(builder.with_ansi(false).json().finish()),
    }
}

/// Installs the process's subscriber on standard output.
pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let ansi = std::io::stdout().is_terminal();
    let _ =
        tracing::subscriber::set_global_default(subscriber(format, filter, ansi, std::io::stdout));
}
