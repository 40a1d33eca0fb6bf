//! Shipped configuration stays honest: the example file parses and equals the built-in
//! defaults, every strategy parameter documented there is a real parameter, and config errors
//! name the key.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use alphatx::config::Config;

fn example() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/config.example.toml")).unwrap()
}

#[test]
fn example_config_equals_the_defaults() {
    let parsed = Config::from_toml(&example(), Path::new("config.example.toml")).unwrap();
    assert_eq!(parsed, Config::default());
}

#[test]
fn commented_strategy_parameters_are_real_and_default() {
    // Uncommenting the documented [agents.params] blocks must still give the defaults.
    let mut in_params = false;
    let uncommented: String = example()
        .lines()
        .map(|l| {
            if l.starts_with("# [agents.params]") {
                in_params = true;
                return "[agents.params]".to_owned();
            }
            if in_params && l.starts_with("# ") {
                return l.trim_start_matches("# ").split("  #").next().unwrap_or("").to_owned();
            }
            in_params = false;
            l.to_owned()
        })
        .collect::<Vec<_>>()
        .join("\n");
    assert!(uncommented.contains("[agents.params]\ninvest_fraction"), "{uncommented}");
    let parsed = Config::from_toml(&uncommented, Path::new("uncommented.toml")).unwrap();
    for agent in &parsed.agents {
        assert!(!agent.params.is_empty(), "{} params should be filled in", agent.name);
    }
    let defaults = Config::default();
    for (a, b) in parsed.agents.iter().zip(&defaults.agents) {
        assert_eq!(a.strategy().unwrap(), b.strategy().unwrap(), "documented defaults of {}", a.name);
    }
}

#[test]
fn a_missing_explicit_config_file_is_an_error() {
    let e = Config::load(Some(Path::new("/nonexistent/alphatx.toml"))).unwrap_err().to_string();
    assert!(e.contains("/nonexistent/alphatx.toml"), "{e}");
}
