//! The `aula` binary: reads the config, starts the server, stops it on SIGINT or SIGTERM.

use anyhow::Context;
use aula_signaling::config::{self, Args, Command, Config, LogFormat, UserAction};
use aula_signaling::staff::accounts::Accounts;
use clap::Parser;
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = Args::parse();
    let command = args.command.take();
    let config = Config::load(args)?;
    if let Some(Command::User { action }) = command {
        return user_command(action, &config.accounts_file);
    }
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
    // Before anything listens: a signal from then on (a service manager that stops Aula as it
    // starts, a test) shuts down cleanly instead of killing the process.
    let stop = ShutdownSignal::install()?;
    let server = aula_signaling::start(config).await?;
    let base = match (server.https_addr, domain) {
        (Some(addr), Some(domain)) if addr.port() == 443 => format!("https://{domain}"),
        (Some(addr), Some(domain)) => format!("https://{domain}:{}", addr.port()),
        (Some(addr), None) => format!("https://{}", display_addr(addr)),
        (None, _) => format!("http://{}", display_addr(server.http_addr)),
    };
    say(&format!("Aula is running: {base}"));
    if let Some(token) = &server.first_account_token {
        // On standard output, not in the log: it is for the admin at the console (or in
        // `journalctl -u aula`), works once, and is gone at the next restart.
        say(&format!(
            "No staff account yet. Create the first one (this link works once): \
             {base}/setup#t={token}"
        ));
    }
    stop.wait().await;
    tracing::info!("shutting down");
    server.shutdown().await;
    Ok(())
}

/// A line on standard output for whoever started Aula. `println!` would panic once nobody
/// reads it any more (a closed pipe); a server must not.
fn say(line: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stdout(), "{line}");
}

/// `aula user add|passwd|remove|list`: edits the accounts file. A running server reads it
/// again by itself.
fn user_command(action: UserAction, path: &std::path::Path) -> anyhow::Result<()> {
    let mut accounts = Accounts::read(path)?;
    match action {
        UserAction::List => {
            for name in accounts.names() {
                println!("{name}");
            }
            return Ok(());
        }
        UserAction::Add { name } => {
            let password = read_password(&name)?;
            accounts.add(&name, &password)?;
        }
        UserAction::Passwd { name } => {
            if accounts.find(&name).is_none() {
                anyhow::bail!("there is no account {name:?} in {}", path.display());
            }
            let password = read_password(&name)?;
            accounts.set_password(&name, &password)?;
        }
        UserAction::Remove { name } => accounts.remove(&name)?,
    }
    accounts.write(path)?;
    println!("{} saved", path.display());
    Ok(())
}

/// Twice without echo at a terminal; one line from standard input otherwise (a script).
fn read_password(name: &str) -> anyhow::Result<String> {
    use std::io::{BufRead, IsTerminal};
    if !std::io::stdin().is_terminal() {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        return Ok(line.trim_end_matches(['\r', '\n']).to_string());
    }
    let first = rpassword::prompt_password(format!("Password for {name}: "))?;
    let again = rpassword::prompt_password("The same password again: ")?;
    if first != again {
        anyhow::bail!("the two passwords differ; nothing was changed");
    }
    Ok(first)
}

/// `0.0.0.0:8080` is where it listens; `localhost:8080` is what a person types.
fn display_addr(addr: std::net::SocketAddr) -> String {
    if addr.ip().is_unspecified() {
        format!("localhost:{}", addr.port())
    } else {
        addr.to_string()
    }
}

/// SIGINT and SIGTERM, caught from the moment `install` returns (tokio's `ctrl_c()` would
/// only catch SIGINT once first polled, and one that came before killed the process).
#[cfg(unix)]
struct ShutdownSignal {
    int: tokio::signal::unix::Signal,
    term: tokio::signal::unix::Signal,
}

#[cfg(unix)]
impl ShutdownSignal {
    fn install() -> std::io::Result<ShutdownSignal> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(ShutdownSignal {
            int: signal(SignalKind::interrupt())?,
            term: signal(SignalKind::terminate())?,
        })
    }

    async fn wait(mut self) {
        tokio::select! {
            _ = self.int.recv() => {}
            _ = self.term.recv() => {}
        }
    }
}

#[cfg(not(unix))]
struct ShutdownSignal;

#[cfg(not(unix))]
impl ShutdownSignal {
    fn install() -> std::io::Result<ShutdownSignal> {
        Ok(ShutdownSignal)
    }

    async fn wait(self) {
        let _ = tokio::signal::ctrl_c().await;
    }
}
