//! LLM agent configuration: the provider examples documented in `config.example.toml` are real,
//! valid configurations; an agent without its key is "not configured" while the rest of the
//! arena runs; the key never appears in the configuration or its errors.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use alphatx::agents::llm::{Provider, StructuredOutput};
use alphatx::config::{AgentKind, Config, StrategyParams};
use alphatx::engine::state::AgentDriver;

fn example() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/config.example.toml")).unwrap()
}

/// The commented `[[agents]]` blocks whose kind is "llm", uncommented.
fn llm_examples() -> Vec<String> {
    let text = example();
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        if line == "# [[agents]]" {
            if let Some(b) = current.take() {
                blocks.push(b);
            }
            current = Some("[[agents]]\n".to_owned());
        } else if let Some(b) = current.as_mut() {
            match line.strip_prefix("# ") {
                Some(rest) if rest.contains(" = ") => {
                    b.push_str(rest);
                    b.push('\n');
                }
                _ => blocks.push(current.take().unwrap()),
            }
        }
    }
    blocks.extend(current);
    blocks.into_iter().filter(|b| b.contains("kind = \"llm\"")).collect()
}

#[test]
fn every_documented_provider_example_is_a_valid_agent() {
    let blocks = llm_examples();
    let mut providers = Vec::new();
    for block in &blocks {
        let text = format!("{}\n{block}", example());
        let config = Config::from_toml(&text, Path::new("example+llm.toml")).unwrap_or_else(|e| panic!("{block}\n{e}"));
        let agent = config.agents.iter().find(|a| a.kind == AgentKind::Llm).unwrap();
        let StrategyParams::Llm(p) = agent.strategy().unwrap() else { panic!("{block}") };
        assert!(p.resolved_base_url().starts_with("http"), "{block}");
        providers.push(p.provider.unwrap());
    }
    for p in Provider::ALL {
        assert!(providers.contains(&p), "config.example.toml documents no {} example", p.as_str());
    }
}

#[test]
fn presets_say_what_each_provider_supports() {
    assert_eq!(Provider::OpenAI.structured_output(), StructuredOutput::JsonSchema);
    assert_eq!(Provider::Anthropic.structured_output(), StructuredOutput::None);
    assert_eq!(Provider::DeepSeek.structured_output(), StructuredOutput::JsonObject);
    assert_eq!(Provider::Ollama.key_env(), None);
    assert_eq!(Provider::Anthropic.base_url(), "https://api.anthropic.com/v1");
}

#[test]
fn an_agent_without_its_key_is_listed_as_not_configured_and_the_arena_runs() {
    let text = "[[agents]]\nname = \"trend\"\nkind = \"trend\"\n\n[[agents]]\nname = \"gpt\"\nkind = \"llm\"\n\
                params.provider = \"openai\"\nparams.model = \"gpt-4o\"\n\n[[agents]]\nname = \"local\"\nkind = \"llm\"\n\
                params.provider = \"ollama\"\nparams.model = \"qwen3\"\n";
    let config = Config::from_toml(text, Path::new("t.toml")).unwrap();
    let specs = alphatx::app::build_agents_with_env(&config, &|_| None).unwrap();
    assert_eq!(specs.len(), 3);
    match &specs[1].driver {
        AgentDriver::Unavailable { kind, reason } => {
            assert_eq!(kind, "gpt-4o");
            assert_eq!(reason, "not configured: set OPENAI_API_KEY");
        }
        _ => panic!("the OpenAI agent has no key"),
    }
    assert!(matches!(specs[2].driver, AgentDriver::Remote { cadence_ms: 180_000, .. }), "local servers need no key");
    assert!(matches!(specs[0].driver, AgentDriver::Rule(_)));
    let with_key =
        alphatx::app::build_agents_with_env(&config, &|v| (v == "OPENAI_API_KEY").then(|| "sk-x".into())).unwrap();
    assert!(matches!(with_key[1].driver, AgentDriver::Remote { .. }));
}

#[test]
fn a_key_in_the_config_file_is_refused() {
    let text = "[[agents]]\nname = \"gpt\"\nkind = \"llm\"\nparams.provider = \"openai\"\nparams.model = \"gpt-4o\"\n\
                params.api_key = \"sk-secret-value\"\n";
    let e = Config::from_toml(text, Path::new("t.toml")).unwrap_err().to_string();
    assert!(e.contains("agents.gpt.params") && e.contains("api_key"), "{e}");
    let text = text.replace("params.api_key =", "params.api_key_env =");
    let e = Config::from_toml(&text, Path::new("t.toml")).unwrap_err().to_string();
    assert!(e.contains("NAME of an environment variable") && !e.contains("sk-secret-value"), "{e}");
}
