//! `alphatx` entry point: parse the command line, install the TLS crypto provider, dispatch.

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;

use alphatx::app;
use alphatx::cli::{Cli, CliCommand, RunArgs};

fn main() -> ExitCode {
    match real_main() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "alphatx: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn real_main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    // tokio-tungstenite brings no crypto provider of its own; make the choice explicit before any
    // TLS use. An error only means a provider is already installed.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let config = app::load_config(&cli.global)?;
    match cli.command {
        None => {
            let paths = app::Paths::resolve(&cli.global)?;
            app::run(&config, &paths, &RunArgs::default())
        }
        Some(CliCommand::Run(args)) => {
            let paths = app::Paths::resolve(&cli.global)?;
            app::run(&config, &paths, &args)
        }
        Some(CliCommand::Keys(args)) => {
            let keymap = alphatx::ui::Keymap::with_overrides(&config.ui.keys)?;
            let text = if args.json {
                format!("{}\n", keymap.to_json())
            } else if args.markdown {
                keymap.to_markdown()
            } else {
                keymap.to_text()
            };
            match std::io::stdout().lock().write_all(text.as_bytes()) {
                // `alphatx keys | head` closes the pipe early: not an error.
                Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
                _ => Ok(()),
            }
        }
        Some(CliCommand::Backtest(args)) => {
            let (report, elapsed) = app::backtest(&config, &args)?;
            let secs = elapsed.as_secs_f64().max(1e-9);
            let rate = format!(
                "processed {} market events in {:.3} s: {:.0} events/s",
                report.events,
                secs,
                report.events as f64 / secs
            );
            let mut out = std::io::stdout().lock();
            if args.json {
                serde_json::to_writer_pretty(&mut out, &report)?;
                writeln!(out)?;
                let _ = writeln!(std::io::stderr(), "{rate}");
            } else {
                write!(out, "{}", app::format_report(&report))?;
                writeln!(out, "{rate}")?;
            }
            Ok(())
        }
    }
}
