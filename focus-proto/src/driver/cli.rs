//! The command line shared by both binaries.

use std::path::PathBuf;
use std::sync::Arc;

use clap::Parser;
use futures::future::BoxFuture;
use tracing::{error, info, warn};
use tracing_subscriber::EnvFilter;

use super::settings::connection_settings;
use super::{Runtime, run};
use crate::config::Config;

/// Where Jicofo's Debian package keeps its configuration.
const DEFAULT_CONFIG: &str = "/etc/jitsi/jicofo/jicofo.conf";

/// Exit code for a configuration that cannot be used.
const EXIT_CONFIG: i32 = 2;
/// Exit code for a failure to start (REST port, TLS setup).
const EXIT_START: i32 = 1;

/// A conference focus for Jitsi Meet, in place of Jicofo.
#[derive(Debug, Parser)]
#[command(
    name = "focus",
    version,
    about = "A conference focus for Jitsi Meet, in place of Jicofo."
)]
struct Args {
    /// The HOCON configuration file (Jicofo's `jicofo.conf`).
    #[arg(long, value_name = "PATH", default_value = DEFAULT_CONFIG)]
    config: PathBuf,
}

/// The whole program for runtime `rt`: parses the command line, sets up
/// logging (`RUST_LOG`, default `info`, to stderr), loads and checks the
/// configuration, and runs the driver until SIGTERM or SIGINT.
///
/// `block_on` runs the main future on the runtime's executor. Returns the
/// process exit code: 0 after a clean shutdown, 2 for an unusable
/// configuration, 1 when the focus cannot start.
pub fn main_with<R: Runtime>(rt: R, block_on: impl FnOnce(BoxFuture<'static, i32>) -> i32) -> i32 {
    let args = Args::parse();
    init_tracing();
    let Some(config) = load_config(&args.config) else {
        return EXIT_CONFIG;
    };
    block_on(Box::pin(async move {
        let shutdown = rt.shutdown_signal();
        match run(rt, config, shutdown).await {
            Ok(()) => {
                info!("stopped");
                0
            }
            Err(e) => {
                error!("cannot start: {e}");
                eprintln!("error: {e}");
                EXIT_START
            }
        }
    }))
}

fn init_tracing() {
    let filter = match EnvFilter::try_from_default_env() {
        Ok(f) => f,
        Err(e) => {
            if std::env::var_os("RUST_LOG").is_some() {
                eprintln!("warning: RUST_LOG is not a valid filter ({e}); using info");
            }
            EnvFilter::new("info")
        }
    };
    // A second initialisation (tests) keeps the first subscriber.
    // Colours only on a terminal: logs in files and journals stay greppable.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(ansi)
        .with_env_filter(filter)
        .try_init();
}

/// Loads and checks the configuration; prints why not and returns `None`
/// when it cannot be used.
fn load_config(path: &std::path::Path) -> Option<Arc<Config>> {
    let loaded = match Config::load(path) {
        Ok(loaded) => loaded,
        Err(e) => {
            eprintln!("error: {e}");
            return None;
        }
    };
    for key in &loaded.unknown_keys {
        warn!(file = %path.display(), key = %key, "unknown configuration key, ignored");
    }
    let config = loaded.config;
    if let Err(e) = config.validate(&path.display().to_string()) {
        eprintln!("error: {e}");
        return None;
    }
    if let Err(e) = connection_settings(&config) {
        eprintln!("error: {e} (in {})", path.display());
        return None;
    }
    if let Err(e) = crate::bridge::BridgeSelector::new(&config) {
        eprintln!(
            "error: jicofo.bridge.selection-strategy: {e} (in {})",
            path.display()
        );
        return None;
    }
    info!(file = %path.display(), "configuration loaded");
    Some(Arc::new(config))
}
