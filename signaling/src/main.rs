//! The `aula` binary: reads the config, starts the server, stops it on SIGINT or SIGTERM.

use anyhow::Context;
use aula_signaling::config::{self, Args, Config, LogFormat};
use clap::Parser;
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = Config::load(Args::parse())?;
    let requested = config::requested_log(&config, std::env::var("RUST_LOG").ok());
    let filter =
        EnvFilter::try_new(config::log_filter(&requested)).context("invalid log filter")?;
    let log = tracing_subscriber::fmt().with_env_filter(filter);
    match config.log_format {
        // Colour codes only on a terminal: a log file or journald gets plain text.
        LogFormat::Text => log
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
            .init(),
        LogFormat::Json => log.json().with_ansi(false).init(),
    }
    let domain = config.domain.first().cloned();
    let server = aula_signaling::start(config).await?;
    match (server.https_addr, domain) {
        (Some(addr), Some(domain)) if addr.port() == 443 => {
            println!("Aula is running: https://{domain}")
        }
        (Some(addr), Some(domain)) => println!("Aula is running: https://{domain}:{}", addr.port()),
        (Some(addr), None) => println!("Aula is running: https://{}", display_addr(addr)),
        (None, _) => println!("Aula is running: http://{}", display_addr(server.http_addr)),
    }
    shutdown_signal().await;
    tracing::info!("shutting down");
    server.shutdown().await;
    Ok(())
}

/// `0.0.0.0:8080` is where it listens; `localhost:8080` is what a person types.
fn display_addr(addr: std::net::SocketAddr) -> String {
    if addr.ip().is_unspecified() {
        format!("localhost:{}", addr.port())
    } else {
        addr.to_string()
    }
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler installs");
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
