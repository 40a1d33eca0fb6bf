//! A manual check, ignored by default: serves the loopback fake LLM on a fixed address so a
//! whole arena can run against it:
//!
//! ```text
//! cargo test --test llm_manual -- --ignored --nocapture        # serves 127.0.0.1:18080 for 90 s
//! alphatx --config two-llms.toml run --headless --speed 60 --duration 60
//! ```
//!
//! `ALPHATX_FAKE_LLM_ADDR` and `ALPHATX_FAKE_LLM_SECS` change the address and the duration. The
//! first answers are a refusal, an HTTP 429 with `Retry-After`, an unknown coin and a 500; then
//! the fake trades with its rule-based brain.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod llm_fake;

use std::time::Duration;

use llm_fake::{FakeLlm, Reply};

#[tokio::test]
#[ignore = "manual: serves a fake LLM for an arena run"]
async fn serve_fake_llm_for_a_manual_arena_run() {
    let addr = std::env::var("ALPHATX_FAKE_LLM_ADDR").unwrap_or_else(|_| "127.0.0.1:18080".into());
    let secs: u64 = std::env::var("ALPHATX_FAKE_LLM_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(90);
    let fake = FakeLlm::start_on(
        &addr,
        vec![
            Reply::Content("I'm sorry, I can't help with trading.".into()),
            Reply::Status { code: 429, message: "slow down".into(), headers: vec![("retry-after".into(), "1".into())] },
            Reply::Content(r#"{"decisions":[{"signal":"buy_to_enter","coin":"DOGE","quantity":1,"leverage":2,"profit_target":1,"stop_loss":0.5,"invalidation_condition":"x","confidence":0.5,"risk_usd":1,"justification":"x"}]}"#.into()),
            Reply::Status { code: 500, message: "upstream failure".into(), headers: Vec::new() },
        ],
    )
    .await;
    println!("fake LLM at {} for {secs} s", fake.base_url);
    tokio::time::sleep(Duration::from_secs(secs)).await;
    println!("fake LLM answered {} requests", fake.count());
}
