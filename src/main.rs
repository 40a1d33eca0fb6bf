//! `alphatx` entry point: parse the command line, install the TLS crypto provider, dispatch.

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;

use alphatx::app;
use alphatx::cli::{BackupArgs, Cli, CliCommand, ExportArgs, RunArgs};
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
    // Ledger commands only read the ledger: they must work even when the config does not load.
    match &cli.command {
        Some(CliCommand::Export(args)) => return export(&app::Paths::resolve(&cli.global)?, args),
        Some(CliCommand::Backup(args)) => return backup(&app::Paths::resolve(&cli.global)?, args),
        _ => {}
    }
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
            app::run(&config, &paths, &RunArgs::default())
        }
        Some(CliCommand::Run(args)) => {
            live(&config)?;
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
        Some(CliCommand::Export(_) | CliCommand::Backup(_)) => Ok(()),
    }
}

/// `alphatx export`: streams the rows to a file or standard output; the summary goes to stderr.
fn export(paths: &app::Paths, args: &ExportArgs) -> anyhow::Result<()> {
    use anyhow::Context;
    let ledger = paths.ledger();
    let summary = match &args.out {
        Some(file) => {
            let f = std::fs::File::create(file).with_context(|| format!("cannot create {}", file.display()))?;
            let mut w = std::io::BufWriter::new(f);
            let result = alphatx::store::export(&ledger, args.run, args.what, args.format, &mut w);
            if result.is_err() {
                drop(w);
                let _ = std::fs::remove_file(file);
            }
            result?
        }
        None => {
            let mut w = std::io::BufWriter::new(std::io::stdout().lock());
            match alphatx::store::export(&ledger, args.run, args.what, args.format, &mut w) {
                // The reader went away (`| head`): not an error worth reporting.
                Err(alphatx::store::StoreError::ExportWrite { error })
                    if error.kind() == std::io::ErrorKind::BrokenPipe =>
                {
                    return Ok(());
                }
                other => other?,
            }
        }
    };
    let _ = writeln!(
        std::io::stderr(),
        "exported {} {} rows of run {}{}",
        summary.rows,
        format!("{:?}", args.what).to_lowercase(),
        summary.run_id,
        args.out.as_ref().map(|f| format!(" to {}", f.display())).unwrap_or_default()
    );
    Ok(())
}

/// `alphatx backup FILE`: a consistent, checked copy of the ledger.
fn backup(paths: &app::Paths, args: &BackupArgs) -> anyhow::Result<()> {
    let ledger = paths.ledger();
    alphatx::store::Ledger::backup_to(&ledger, &args.file)?;
    let size = std::fs::metadata(&args.file).map(|m| m.len()).unwrap_or(0);
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "backed up {} to {} ({:.1} MB, integrity check ok)",
        ledger.display(),
        args.file.display(),
        size as f64 / 1_048_576.0
    )?;
    Ok(())
}
