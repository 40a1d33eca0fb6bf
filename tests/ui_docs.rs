//! Shipped UI files stay honest: every theme in `themes/` is embedded, parses and sets every
//! role; user theme files override built-ins; the README's key table and `alphatx keys` are
//! generated from the keymap.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::Command;

use alphatx::ui::Keymap;
use alphatx::ui::theme::{BUILTIN, Role, Theme};
use ratatui::style::Color;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn every_shipped_theme_is_embedded_complete_and_valid() {
    let mut files: Vec<String> = std::fs::read_dir(root().join("themes"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .map(|p| p.file_stem().unwrap().to_str().unwrap().to_owned())
        .collect();
    files.sort();
    let mut embedded: Vec<String> = BUILTIN.iter().map(|(n, _)| (*n).to_owned()).collect();
    embedded.sort();
    assert_eq!(files, embedded, "themes/ and the embedded list differ");
    for required in ["dark", "light", "high-contrast", "mono"] {
        assert!(files.iter().any(|f| f == required), "{required} is shipped");
    }
    for (name, text) in BUILTIN {
        let on_disk = std::fs::read_to_string(root().join("themes").join(format!("{name}.toml"))).unwrap();
        assert_eq!(&on_disk, text);
        // No base theme: a missing role is an error.
        let theme = Theme::parse(name, text, name, None).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(!theme.description.is_empty(), "{name} describes itself");
        let profit = theme.style(Role::Profit);
        let loss = theme.style(Role::Loss);
        assert_ne!(profit, loss, "{name}: profit and loss must look different");
    }
    let mono = Theme::builtin("mono").unwrap();
    for r in Role::ALL {
        let s = mono.style(*r);
        assert!(s.fg.is_none() && s.bg.is_none(), "mono sets a colour on {}", r.name());
    }
}

#[test]
fn role_names_are_stable() {
    let names: Vec<&str> = Role::ALL.iter().map(|r| r.name()).collect();
    insta::assert_snapshot!("theme_roles", names.join("\n"));
}

#[test]
fn user_theme_files_override_and_extend() {
    let dir = std::env::temp_dir().join(format!("alphatx-ui-themes-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("themes")).unwrap();
    std::fs::write(dir.join("themes/dark.toml"), "[roles]\nprofit = { fg = \"#0000ff\" }\n").unwrap();
    std::fs::write(dir.join("themes/mine.toml"), "extends = \"light\"\n[roles]\nloss = { fg = \"magenta\" }\n")
        .unwrap();
    std::fs::write(dir.join("themes/broken.toml"), "[roles]\nprofit = 3\n").unwrap();
    let dark = Theme::load("dark", Some(&dir)).unwrap();
    assert_eq!(dark.style(Role::Profit).fg, Some(Color::Rgb(0, 0, 255)));
    assert_eq!(dark.style(Role::Loss), Theme::builtin("dark").unwrap().style(Role::Loss));
    let mine = Theme::load("mine", Some(&dir)).unwrap();
    assert_eq!(mine.style(Role::Loss).fg, Some(Color::Magenta));
    assert_eq!(mine.style(Role::Text), Theme::builtin("light").unwrap().style(Role::Text));
    let e = Theme::load("broken", Some(&dir)).unwrap_err().to_string();
    assert!(e.contains("broken.toml"), "{e}");
    let names = Theme::available(Some(&dir));
    assert!(names.contains(&"mine".to_owned()) && names.contains(&"high-contrast".to_owned()));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn readme_key_table_is_generated_from_the_keymap() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let start =
        readme.find("<!-- keys:start -->\n").expect("README has the keys markers") + "<!-- keys:start -->\n".len();
    let end = readme.find("<!-- keys:end -->").unwrap();
    assert_eq!(
        &readme[start..end],
        Keymap::default().to_markdown(),
        "README key table is stale: regenerate it with `alphatx keys --markdown`"
    );
    assert!(readme.contains("## Keys"));
}

#[test]
fn keys_command_prints_the_keymap_with_overrides() {
    let bin = env!("CARGO_BIN_EXE_alphatx");
    let dir = std::env::temp_dir().join(format!("alphatx-ui-keys-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cfg = dir.join("config.toml");
    // An explicit empty config, so a user's own config never leaks into the test.
    std::fs::write(&cfg, "").unwrap();
    let out = Command::new(bin).arg("--config").arg(&cfg).args(["keys", "--json"]).output().unwrap();
    assert!(out.status.success());
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let kill = json.as_array().unwrap().iter().find(|r| r["action"] == "kill_switch").unwrap();
    assert_eq!(kill["keys"], serde_json::json!(["!"]));
    assert_eq!(kill["dangerous"], serde_json::json!(true));

    std::fs::write(&cfg, "[ui.keys]\nkill_switch = [\"K\"]\nfreeze = []\n").unwrap();
    let out = Command::new(bin).arg("--config").arg(&cfg).arg("keys").output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.lines().any(|l| l.trim_start().starts_with("K ") && l.contains("kill_switch")), "{text}");
    assert!(text.lines().any(|l| l.contains("unbound") && l.contains("freeze")), "{text}");

    std::fs::write(&cfg, "[ui.keys]\nhelp = [\"q\"]\n").unwrap();
    let out = Command::new(bin).arg("--config").arg(&cfg).arg("keys").output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("quit") && err.contains("help"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}
