//! `trailwarden plugin new` and `plugin build` as a plugin author runs them: a plugin of each
//! language from its template, built into a component with the real tools, then
//! `trailwarden test` over its shipped fixtures and its fixture files. The Python and
//! JavaScript tools must be installed (`make plugins-tools`): when one is missing, the build
//! fails and the test prints the hint the build gave, it does not skip.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::{json, Value};

use crate::support::repo;

fn trailwarden(args: &[&str], env: &[(&str, &Path)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_trailwarden"));
    command.args(args);
    for (key, value) in env {
        command.env(key, value);
    }
    command.output().unwrap()
}

fn text(output: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}--- stderr\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout)
        .trim_end()
        .to_string()
}

/// new, build, `test` (shipped and files); with `failing`, then a fixture that cannot pass
/// (the comparison is the host's, the same for every language: checked once, on the
/// quickest to compile).
fn new_build_test(lang: &str, failing: bool) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let name = format!("scaffold-{lang}");
    let plugin = dir.join(&name);
    let wasm = dir.join(format!("{name}.wasm"));
    let (plugin_s, wasm_s) = (plugin.to_str().unwrap(), wasm.to_str().unwrap());

    let made = trailwarden(
        &[
            "plugin",
            "new",
            &name,
            "--lang",
            lang,
            "--dir",
            dir.to_str().unwrap(),
        ],
        &[],
    );
    assert!(made.status.success(), "plugin new: {}", text(&made));
    assert!(plugin.join("fixtures/create-user.json").is_file());

    // A Rust scaffold is its own workspace; the shared target folder keeps its dependencies
    // (the SDK, serde_json, wit-bindgen) compiled from one run to the next.
    let target = repo().join("target");
    let built = trailwarden(
        &["plugin", "build", plugin_s, "-o", wasm_s],
        &[("CARGO_TARGET_DIR", &target)],
    );
    assert!(
        built.status.success() && wasm.is_file(),
        "plugin build ({lang}; the Python and JS tools: `make plugins-tools`): {}",
        text(&built)
    );

    let fixtures = plugin.join("fixtures");
    for args in [
        vec!["test", wasm_s],
        vec!["test", wasm_s, fixtures.to_str().unwrap()],
    ] {
        let tested = trailwarden(&args, &[]);
        assert!(tested.status.success(), "{args:?}: {}", text(&tested));
        assert!(
            stdout(&tested).ends_with("1 passed, 0 failed"),
            "{args:?}: {}",
            text(&tested)
        );
    }

    if !failing {
        return;
    }
    // Expect a finding the plugin does not raise: the run fails and shows the difference.
    let file = fixtures.join("create-user.json");
    let mut fixture: Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    let never = format!("custom.{name}.never-raised");
    fixture["findings"]
        .as_array_mut()
        .unwrap()
        .push(json!({ "rule_id": never }));
    std::fs::write(&file, serde_json::to_vec_pretty(&fixture).unwrap()).unwrap();
    let failed = trailwarden(&["test", wasm_s, fixtures.to_str().unwrap()], &[]);
    let out = stdout(&failed);
    assert!(!failed.status.success(), "{}", text(&failed));
    assert!(out.contains("... FAILED"), "{}", text(&failed));
    assert!(
        out.contains(&format!(
            "- expected, not raised: {{\"rule_id\":\"{never}\"}}"
        )),
        "{}",
        text(&failed)
    );
    assert!(out.ends_with("0 passed, 1 failed"), "{}", text(&failed));
}

#[test]
fn rust_plugin_from_new_to_test() {
    new_build_test("rust", false);
}

#[test]
fn python_plugin_from_new_to_test() {
    new_build_test("python", false);
}

#[test]
fn js_plugin_from_new_to_test() {
    new_build_test("js", true);
}

#[test]
fn plugin_new_refuses_bad_names_and_existing_folders() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_str().unwrap();
    for bad in ["My-Rule", "my_rule", "9lives", "rule-", "a b", "../escape"] {
        let out = trailwarden(&["plugin", "new", bad, "--lang", "js", "--dir", dir], &[]);
        assert!(!out.status.success(), "{bad:?}: {}", text(&out));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("invalid plugin name"),
            "{bad:?}: {}",
            text(&out)
        );
        assert!(
            err.contains("lowercase letters, digits and dashes"),
            "{}",
            text(&out)
        );
    }
    assert_eq!(
        std::fs::read_dir(tmp.path()).unwrap().count(),
        0,
        "nothing created"
    );

    let args = ["plugin", "new", "twice", "--lang", "python", "--dir", dir];
    let first = trailwarden(&args, &[]);
    assert!(first.status.success(), "{}", text(&first));
    let second = trailwarden(&args, &[]);
    assert!(!second.status.success(), "{}", text(&second));
    assert!(
        String::from_utf8_lossy(&second.stderr).contains("already exists"),
        "{}",
        text(&second)
    );
    // The first one is left as it was.
    assert!(tmp.path().join("twice/app.py").is_file());
}

/// With the tool pointed at nothing, the build says which tool and how to install it.
#[test]
fn plugin_build_names_a_missing_tool() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_str().unwrap();
    let nothing = tmp.path().join("no-such-tool");
    for (lang, var, tool, install) in [
        (
            "python",
            "COMPONENTIZE_PY",
            "componentize-py is missing",
            "pip install componentize-py",
        ),
        ("js", "JCO", "jco is missing", "npm ci"),
    ] {
        let name = format!("missing-{lang}");
        let made = trailwarden(&["plugin", "new", &name, "--lang", lang, "--dir", dir], &[]);
        assert!(made.status.success(), "{}", text(&made));
        let plugin = tmp.path().join(&name);
        let out = tmp.path().join(format!("{name}.wasm"));
        let built = trailwarden(
            &[
                "plugin",
                "build",
                plugin.to_str().unwrap(),
                "-o",
                out.to_str().unwrap(),
            ],
            &[(var, &nothing)],
        );
        assert_eq!(built.status.code(), Some(127), "{}", text(&built));
        let err = String::from_utf8_lossy(&built.stderr);
        for needle in [tool, install, "make plugins-tools"] {
            assert!(err.contains(needle), "{lang}: {needle:?}: {}", text(&built));
        }
        assert!(!out.exists());
    }
}

#[test]
fn plugin_build_refuses_a_folder_of_no_known_language() {
    let tmp = tempfile::tempdir().unwrap();
    let built = trailwarden(&["plugin", "build", tmp.path().to_str().unwrap()], &[]);
    assert!(!built.status.success());
    assert!(
        String::from_utf8_lossy(&built.stderr).contains("which language is it?"),
        "{}",
        text(&built)
    );
}

/// The binary alone, as a team that installs it (not our repository) has it: copied to a
/// folder outside the checkout and run from there, with a plugin folder outside it too.
struct Installed {
    tmp: tempfile::TempDir,
    binary: std::path::PathBuf,
}

impl Installed {
    fn new() -> Installed {
        let tmp = tempfile::tempdir().unwrap();
        let binary = tmp.path().join("bin/trailwarden");
        std::fs::create_dir_all(binary.parent().unwrap()).unwrap();
        std::fs::copy(env!("CARGO_BIN_EXE_trailwarden"), &binary).unwrap();
        assert!(!tmp.path().starts_with(repo()));
        Installed { tmp, binary }
    }

    fn run(&self, args: &[&str], env: &[(&str, &std::ffi::OsStr)]) -> Output {
        let mut command = Command::new(&self.binary);
        command.args(args).current_dir(self.tmp.path());
        for key in ["COMPONENTIZE_PY", "JCO", "RUST_LOG"] {
            command.env_remove(key);
        }
        for (key, value) in env {
            command.env(key, value);
        }
        command.output().unwrap()
    }

    /// `plugin new` then `plugin build` of a `lang` plugin in this folder, then `test`.
    fn new_build_test(&self, lang: &str, env: &[(&str, &std::ffi::OsStr)]) {
        let name = format!("outside-{lang}");
        let folder = self.tmp.path().join("my-plugins");
        let made = self.run(
            &[
                "plugin",
                "new",
                &name,
                "--lang",
                lang,
                "--dir",
                folder.to_str().unwrap(),
            ],
            &[],
        );
        assert!(made.status.success(), "plugin new: {}", text(&made));
        let plugin = folder.join(&name);
        let wasm = self.tmp.path().join(format!("{name}.wasm"));
        let built = self.run(
            &[
                "plugin",
                "build",
                plugin.to_str().unwrap(),
                "-o",
                wasm.to_str().unwrap(),
            ],
            env,
        );
        assert!(
            built.status.success() && wasm.is_file(),
            "plugin build ({lang}) outside the checkout: {}",
            text(&built)
        );
        let tested = self.run(&["test", wasm.to_str().unwrap()], &[]);
        assert!(tested.status.success(), "{}", text(&tested));
        assert!(
            stdout(&tested).ends_with("1 passed, 0 failed"),
            "{}",
            text(&tested)
        );
    }
}

#[test]
fn a_copied_binary_scaffolds_and_builds_a_rust_plugin_outside_the_checkout() {
    let installed = Installed::new();
    // Only cargo's build cache is shared with the checkout (so the dependencies compile
    // once across runs); the sources, scripts, WIT and SDK all come from the binary.
    let target = repo().join("target");
    installed.new_build_test("rust", &[("CARGO_TARGET_DIR", target.as_os_str())]);
    let plugin = installed.tmp.path().join("my-plugins/outside-rust");
    let manifest = std::fs::read_to_string(plugin.join("Cargo.toml")).unwrap();
    assert!(manifest.contains("path = \"sdk\""), "{manifest}");
    let checkout = repo().display().to_string();
    for file in ["Cargo.toml", "sdk/Cargo.toml", "sdk/src/component.rs"] {
        let text = std::fs::read_to_string(plugin.join(file)).unwrap();
        assert!(!text.contains(&checkout), "{file} points into the checkout");
        assert!(
            !text.contains("../"),
            "{file} reaches outside the plugin folder"
        );
    }
    // The SDK binds WIT 0.6.0, vendored with its dependencies (0.5.0 .. 0.2.0) flat in its
    // own deps/.
    for wit in [
        "sdk/wit/0.6.0/plugin.wit",
        "sdk/wit/0.6.0/deps/plugin-0.5.0/plugin.wit",
        "sdk/wit/0.6.0/deps/plugin-0.4.0/plugin.wit",
        "sdk/wit/0.6.0/deps/plugin-0.3.0/plugin.wit",
        "sdk/wit/0.6.0/deps/plugin-0.2.0/plugin.wit",
    ] {
        assert!(plugin.join(wit).is_file(), "{wit} is not vendored");
    }
}

/// Python and JavaScript outside the checkout: with the tool found (here the checkout's
/// pinned one, named by the variable the build reads), the build works; without it, one
/// clear line says which tool and how to install it.
#[test]
fn a_copied_binary_builds_python_and_js_plugins_or_names_the_missing_tool() {
    let installed = Installed::new();
    let no_tools = std::ffi::OsString::from("/usr/bin:/bin");
    for (lang, variable, tool, install) in [
        (
            "python",
            "COMPONENTIZE_PY",
            repo().join(".venv/bin/componentize-py"),
            "pip install componentize-py==0.25.1",
        ),
        (
            "js",
            "JCO",
            repo().join("plugins/js/node_modules/.bin/jco"),
            "npm install -g @bytecodealliance/jco@1.35.0",
        ),
    ] {
        let name = format!("missing-{lang}");
        let folder = installed.tmp.path().join("no-tools");
        let made = installed.run(
            &[
                "plugin",
                "new",
                &name,
                "--lang",
                lang,
                "--dir",
                folder.to_str().unwrap(),
            ],
            &[],
        );
        assert!(made.status.success(), "{}", text(&made));
        let built = installed.run(
            &["plugin", "build", folder.join(&name).to_str().unwrap()],
            &[("PATH", &no_tools)],
        );
        assert_eq!(built.status.code(), Some(127), "{}", text(&built));
        let err = String::from_utf8_lossy(&built.stderr);
        assert_eq!(err.lines().count(), 1, "{}", text(&built));
        assert!(
            err.contains(&format!(
                "{} is missing",
                tool.file_name().unwrap().to_string_lossy()
            )) && err.contains(install),
            "{}",
            text(&built)
        );

        if tool.is_file() {
            installed.new_build_test(lang, &[(variable, tool.as_os_str())]);
        } else {
            eprintln!(
                "{lang}: {} not installed (`make plugins-tools`); the build with it is not run",
                tool.display()
            );
        }
    }
}

/// The Python plugins' and the Python template's `tests/wit_stubs.py` are what
/// `make python-stubs` generates from the WIT and `plugins/python/wit_stubs_runtime.py`:
/// a hand edit, or a WIT change not carried into them, fails here.
#[test]
fn the_python_wit_stubs_are_generated_from_the_wit() {
    let out = std::process::Command::new("python3")
        .arg(repo().join("plugins/python/gen_wit_stubs.py"))
        .arg("--check")
        .output()
        .expect("python3");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("2 copies"), "{stdout}");
}
