//! `alphatx` entry point: parse the command line, install the TLS crypto provider, dispatch.

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;

use alphatx::app;
use alphatx::cli::{Cli, CliCommand, RunArgs};
use alphatx::config::SourceKind;

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
    let live = |config: &alphatx::config::Config| {
        if config.market.source == SourceKind::Replay {
            anyhow::bail!(
                "the replay source feeds `backtest` and `scan`; `run` needs a live source such as --source sim"
            );
        }
        Ok(())
    };
    match cli.command {
        None => {
            live(&config)?;
            let paths = app::Paths::resolve(&cli.global)?;
            app::run(&config, &paths, &RunArgs { headless: true, ..RunArgs::default() })
        }
        Some(CliCommand::Run(args)) => {
            live(&config)?;
            let paths = app::Paths::resolve(&cli.global)?;
            app::run(&config, &paths, &args)
        }
        Some(CliCommand::Scan(args)) => {
            let report = app::scan(&config, &args)?;
            let mut out = std::io::stdout().lock();
            if args.json {
                serde_json::to_writer_pretty(&mut out, &report)?;
                writeln!(out)?;
            } else {
                write!(out, "{}", report.render())?;
            }
            Ok(())
        }
        Some(CliCommand::Backtest(args)) => {
            let (report, timing) = app::backtest(&config, &args)?;
            let secs = timing.engine.as_secs_f64().max(1e-9);
            let mut rate = format!(
                "processed {} market events in {:.3} s: {:.0} events/s",
                report.events,
                secs,
                report.events as f64 / secs
            );
            if report.data.is_some() {
                rate.push_str(&format!(" (reading and checking the files took {:.3} s)", timing.parse.as_secs_f64()));
            }
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
