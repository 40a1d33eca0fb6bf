//! LLM agents in backtests: on the sim market an LLM agent (the loopback fake) trades through
//! the same engine as the rule agents; its decisions can be recorded and replayed without
//! calling any model, and the replay reproduces the run exactly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod llm_fake;

use std::path::Path;
use std::sync::Arc;

use alphatx::agents::llm::LlmSetup;
use alphatx::app::{backtest_with, lookahead_warning};
use alphatx::cli::BacktestArgs;
use alphatx::config::Config;

/// Starts the fake on its own runtime thread (the backtest runs its own runtime) and returns
/// its base URL.
fn fake_server() -> String {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
        rt.block_on(async move {
            let fake = llm_fake::FakeLlm::start(Vec::new()).await;
            tx.send(fake.base_url.clone()).unwrap();
            std::future::pending::<()>().await;
        });
    });
    rx.recv().unwrap()
}

fn config(base_url: &str) -> Config {
    let text = format!(
        "[market]\nsymbols = [\"BTCUSDT\"]\n[sim]\nwarmup_days = 2\n\
         [[agents]]\nname = \"trend\"\nkind = \"trend\"\n\
         [[agents]]\nname = \"brain\"\nkind = \"llm\"\nparams.base_url = \"{base_url}\"\n\
         params.model = \"fake-model\"\nparams.cadence_secs = 900\nparams.stream = true\n"
    );
    Config::from_toml(&text, Path::new("llm-backtest.toml")).unwrap()
}

fn setup() -> LlmSetup<'static> {
    LlmSetup {
        config_dir: None,
        budget_dir: None,
        env: &|_| None,
        wall_clock: Arc::new(|| 1_735_689_600_000),
        http: Some(reqwest::Client::builder().no_proxy().build().unwrap()),
    }
}

#[test]
fn an_llm_agent_backtests_on_sim_and_its_decisions_replay_exactly() {
    let base = fake_server();
    let config = config(&base);
    let file = std::env::temp_dir().join(format!("alphatx-llm-decisions-{}.jsonl", std::process::id()));
    let args = BacktestArgs {
        days: 1.0,
        json: false,
        replay_decisions: None,
        record_decisions: Some(file.clone()),
        ..Default::default()
    };
    let (live, _) = backtest_with(&config, &args, &setup()).unwrap();
    let usage = &live.llm[0];
    assert_eq!(usage.agent.as_str(), "brain");
    assert_eq!(usage.answered_by, "model");
    assert!(usage.calls >= 90, "one call per 15 minutes of a day: {usage:?}");
    assert_eq!(usage.failures, 0, "{usage:?}");
    assert_eq!(usage.input_tokens, usage.calls * 1200);
    let brain = live.agents.iter().find(|a| a.agent.as_str() == "brain").unwrap();
    assert!(brain.metrics.trades > 0, "the fake's entries filled and closed: {brain:?}");
    assert!(live.warnings.is_empty(), "the sim market needs no look-ahead warning: {:?}", live.warnings);
    let recorded = std::fs::read_to_string(&file).unwrap();
    assert_eq!(recorded.lines().count() as u64, usage.calls);
    assert!(recorded.lines().all(|l| l.contains("\"record\":\"decision\"") && l.contains("\"source\":\"llm\"")));

    // Replay: no model is called (the URL is unreachable now), the results are identical.
    let offline = config_with_dead_endpoint();
    let args = BacktestArgs {
        days: 1.0,
        json: false,
        replay_decisions: Some(file.clone()),
        record_decisions: None,
        ..Default::default()
    };
    let (replayed, _) = backtest_with(&offline, &args, &setup()).unwrap();
    assert_eq!(replayed.llm[0].answered_by, "replay");
    assert_eq!(replayed.llm[0].calls, usage.calls);
    assert_eq!(replayed.llm[0].failures, 0, "{:?} {:?}", replayed.llm[0], replayed.warnings);
    assert_eq!(replayed.llm[0].input_tokens, 0, "replaying costs nothing");
    assert_eq!(serde_json::to_value(&replayed.agents).unwrap(), serde_json::to_value(&live.agents).unwrap());
    assert_eq!(replayed.fills, live.fills);
    assert!(replayed.warnings.iter().any(|w| w.contains(&format!("{} of {} recorded", usage.calls, usage.calls))));
    let _ = std::fs::remove_file(file);
}

fn config_with_dead_endpoint() -> Config {
    config("http://127.0.0.1:9/v1")
}

#[test]
fn real_history_gets_a_look_ahead_warning() {
    assert_eq!(lookahead_warning("sim", true), None);
    assert_eq!(lookahead_warning("binance", false), None);
    let w = lookahead_warning("binance", true).unwrap();
    assert!(w.contains("may have seen this period"), "{w}");
}

#[test]
fn a_missing_key_leaves_the_agent_listed_and_the_backtest_running() {
    let text = "[market]\nsymbols = [\"BTCUSDT\"]\n[sim]\nwarmup_days = 1\n[[agents]]\nname = \"trend\"\nkind = \"trend\"\n\
                [[agents]]\nname = \"gpt\"\nkind = \"llm\"\nparams.provider = \"openai\"\nparams.model = \"gpt-4o\"\n";
    let config = Config::from_toml(text, Path::new("t.toml")).unwrap();
    let args =
        BacktestArgs { days: 0.5, json: false, replay_decisions: None, record_decisions: None, ..Default::default() };
    let (report, _) = backtest_with(&config, &args, &setup()).unwrap();
    assert_eq!(report.llm[0].answered_by, "not configured: set OPENAI_API_KEY");
    assert_eq!(report.llm[0].calls, 0);
    assert!(report.agents.iter().any(|a| a.agent.as_str() == "trend"));
    assert!(alphatx::app::format_report(&report).contains("LLM gpt (gpt-4o, not configured: set OPENAI_API_KEY)"));
}
