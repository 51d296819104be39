//! `trailwarden plugin new` and `trailwarden plugin build`: a plugin folder from a template,
//! and a plugin folder (Rust, Python or JavaScript) into a component.
//!
//! The templates of `plugins/templates/`, the build scripts, the WIT and the Rust SDK are
//! compiled into the binary (`include_str!`, see [`crate::toolkit`]), so an installed
//! `trailwarden` scaffolds and builds plugins from anywhere, with no checkout at hand:
//! a Rust plugin outside a checkout gets the SDK vendored into its `sdk/` folder. Inside a
//! checkout (found by walking up from the plugin folder, the current folder and the
//! executable) its scripts and pinned tools (`.venv`, `plugins/js/node_modules`) are used.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use anyhow::{bail, Context, Result};

/// A plugin's language, as `--lang` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Lang {
    Rust,
    Python,
    Js,
}

impl Lang {
    pub fn as_str(self) -> &'static str {
        match self {
            Lang::Rust => "rust",
            Lang::Python => "python",
            Lang::Js => "js",
        }
    }

    /// Where `plugin new` puts a plugin by default, under the repository (or current) folder.
    fn default_parent(self) -> &'static str {
        match self {
            Lang::Rust => "plugins",
            Lang::Python => "plugins/python",
            Lang::Js => "plugins/js",
        }
    }

    /// The language of a plugin folder, by the same files `plugins/build-plugin.sh` looks at.
    pub fn of_folder(dir: &Path) -> Option<Lang> {
        if dir.join("Cargo.toml").is_file() {
            Some(Lang::Rust)
        } else if dir.join("app.py").is_file() || dir.join("pyproject.toml").is_file() {
            Some(Lang::Python)
        } else if dir.join("package.json").is_file() {
            Some(Lang::Js)
        } else {
            None
        }
    }

    /// What installs the tools a build in this language needs.
    fn install_hint(self) -> &'static str {
        match self {
            Lang::Rust => "install Rust with rustup, then `rustup target add wasm32-wasip2`",
            Lang::Python => {
                "`make plugins-tools` in the repository (componentize-py 0.25.1 into .venv)"
            }
            Lang::Js => {
                "Node.js >= 18, then `make plugins-tools` in the repository (npm ci in plugins/js: jco 1.35.0)"
            }
        }
    }
}

/// One template file: its path inside the language's folder and its text.
type TemplateFile = (&'static str, &'static str);

macro_rules! template {
    ($lang:literal: $($file:literal),* $(,)?) => {
        &[$((
            $file,
            include_str!(concat!(
                env!("CARGO_MANIFEST_DIR"), "/../plugins/templates/", $lang, "/", $file
            )),
        )),*]
    };
}

/// `plugins/templates/<lang>/`, every file (a unit test checks that none is missing).
const RUST_TEMPLATE: &[TemplateFile] = template!("rust":
    "Cargo.toml", "README.md", "src/lib.rs", "tests/fixtures.rs", "fixtures/create-user.json");
const PYTHON_TEMPLATE: &[TemplateFile] = template!("python":
    "README.md", "app.py", "tests/__init__.py", "tests/test_app.py", "tests/wit_stubs.py",
    "fixtures/create-user.json");
const JS_TEMPLATE: &[TemplateFile] = template!("js":
    "README.md", "index.js", "package.json", "fixtures/create-user.json");

fn embedded(lang: Lang) -> &'static [TemplateFile] {
    match lang {
        Lang::Rust => RUST_TEMPLATE,
        Lang::Python => PYTHON_TEMPLATE,
        Lang::Js => JS_TEMPLATE,
    }
}

/// Folders never copied from a template folder on disk.
const SKIPPED: [&str; 4] = ["__pycache__", "node_modules", "target", ".git"];

/// The template's files as (relative path, text): from `dir/<lang>/` when given, else the
/// ones built into the binary.
fn template_files(lang: Lang, dir: Option<&Path>) -> Result<Vec<(PathBuf, String)>> {
    let Some(dir) = dir else {
        return Ok(embedded(lang)
            .iter()
            .map(|(path, text)| (PathBuf::from(path), (*text).to_string()))
            .collect());
    };
    let root = dir.join(lang.as_str());
    anyhow::ensure!(
        root.is_dir(),
        "--templates {}: no {} folder in it",
        dir.display(),
        lang.as_str()
    );
    let mut files = Vec::new();
    let mut pending = vec![root.clone()];
    while let Some(folder) = pending.pop() {
        for entry in std::fs::read_dir(&folder)
            .with_context(|| format!("cannot read {}", folder.display()))?
        {
            let path = entry?.path();
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if path.is_dir() {
                if !SKIPPED.contains(&name) {
                    pending.push(path);
                }
            } else {
                let text = std::fs::read_to_string(&path)
                    .with_context(|| format!("cannot read template file {}", path.display()))?;
                files.push((path.strip_prefix(&root)?.to_path_buf(), text));
            }
        }
    }
    files.sort();
    anyhow::ensure!(!files.is_empty(), "{} is empty", root.display());
    Ok(files)
}

/// Rust keywords and crate names a plugin crate cannot take.
const RESERVED: [&str; 44] = [
    "as",
    "async",
    "await",
    "break",
    "const",
    "continue",
    "crate",
    "dyn",
    "else",
    "enum",
    "extern",
    "false",
    "fn",
    "for",
    "if",
    "impl",
    "in",
    "let",
    "loop",
    "match",
    "mod",
    "move",
    "mut",
    "pub",
    "ref",
    "return",
    "self",
    "static",
    "struct",
    "super",
    "trait",
    "true",
    "type",
    "unsafe",
    "use",
    "where",
    "while",
    "abstract",
    "try",
    "alloc",
    "core",
    "std",
    "test",
    "proc-macro",
];

/// A plugin name: lowercase letters, digits and dashes, starting with a letter, not ending
/// with a dash, at most 64 characters; not a Rust keyword or a standard crate's name.
///
/// # Errors
/// The name breaks one of these rules; the message says which.
pub fn check_name(name: &str) -> Result<()> {
    let rules = "a plugin name is lowercase letters, digits and dashes, starting with a letter \
                 (e.g. `my-rule`)";
    if name.is_empty() {
        bail!("the plugin name is empty: {rules}");
    }
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-'))
    {
        bail!("invalid plugin name {name:?}: {bad:?} is not allowed; {rules}");
    }
    if !name.starts_with(|c: char| c.is_ascii_lowercase()) {
        bail!("invalid plugin name {name:?}: it must start with a letter; {rules}");
    }
    if name.ends_with('-') || name.contains("--") {
        bail!("invalid plugin name {name:?}: no trailing or doubled dash; {rules}");
    }
    if name.len() > 64 {
        bail!("invalid plugin name {name:?}: at most 64 characters");
    }
    if RESERVED.contains(&name) {
        bail!(
            "invalid plugin name {name:?}: it is reserved in Rust (a keyword or a standard crate)"
        );
    }
    Ok(())
}

/// Whether `dir` is a trailwarden checkout: it has the build scripts and the WIT.
fn is_repo(dir: &Path) -> bool {
    dir.join("plugins/build-plugin.sh").is_file() && dir.join("wit/0.3.0/plugin.wit").is_file()
}

/// The checkout above `start` (or `start` itself).
fn repo_above(start: &Path) -> Option<PathBuf> {
    let start = std::fs::canonicalize(start).ok()?;
    start
        .ancestors()
        .find(|d| is_repo(d))
        .map(Path::to_path_buf)
}

/// The checkout above the first of `starts`, then the current folder, then the executable.
pub fn find_repo(starts: &[&Path]) -> Option<PathBuf> {
    let cwd = std::env::current_dir().ok();
    let exe = std::env::current_exe().ok();
    starts
        .iter()
        .copied()
        .chain(cwd.as_deref())
        .chain(exe.as_deref().and_then(Path::parent))
        .find_map(repo_above)
}

/// What `plugin new` made.
#[derive(Debug)]
pub struct Scaffolded {
    pub dir: PathBuf,
    pub files: usize,
    /// Remarks for the user (e.g. where the Rust SDK was found).
    pub notes: Vec<String>,
}

/// `trailwarden plugin new`: copies the template for `lang` into `DIR/NAME` (default
/// `plugins/NAME`, `plugins/python/NAME` or `plugins/js/NAME` under the checkout the current
/// folder is in, else under the current folder), replacing `{{name}}` and `{{crate_name}}`.
///
/// # Errors
/// The name is invalid, the destination exists, a template cannot be read, or a file cannot
/// be written (then nothing is left behind).
pub fn new_plugin(
    name: &str,
    lang: Lang,
    dir: Option<&Path>,
    templates: Option<&Path>,
) -> Result<Scaffolded> {
    check_name(name)?;
    let cwd = std::env::current_dir()?;
    let parent = match dir {
        Some(dir) => dir.to_path_buf(),
        None => repo_above(&cwd).unwrap_or(cwd).join(lang.default_parent()),
    };
    let dest = parent.join(name);
    if dest.exists() {
        bail!(
            "{} already exists: choose another name or --dir, or remove it first",
            dest.display()
        );
    }
    let files = template_files(lang, templates)?;
    let crate_name = name.replace('-', "_");
    let mut notes = Vec::new();
    let result = (|| -> Result<()> {
        std::fs::create_dir_all(&parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
        // create_dir (not _all): a folder made meanwhile by someone else is not taken over.
        std::fs::create_dir(&dest).with_context(|| format!("cannot create {}", dest.display()))?;
        for (relative, text) in &files {
            let mut text = text
                .replace("{{name}}", name)
                .replace("{{crate_name}}", &crate_name);
            if lang == Lang::Rust && relative == Path::new("Cargo.toml") {
                text = place_sdk(&text, &dest, &mut notes)?;
            }
            let path = dest.join(relative);
            if let Some(folder) = path.parent() {
                std::fs::create_dir_all(folder)?;
            }
            std::fs::write(&path, text)
                .with_context(|| format!("cannot write {}", path.display()))?;
        }
        if lang == Lang::Rust {
            // The dependency versions the shipped plugins build and are tested with.
            std::fs::write(dest.join("Cargo.lock"), crate::toolkit::PLUGINS_LOCK)?;
        }
        Ok(())
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_dir_all(&dest);
        return Err(e);
    }
    Ok(Scaffolded {
        dir: dest,
        files: files.len(),
        notes,
    })
}

/// The Rust template depends on the SDK at `../sdk`: right for `plugins/NAME` of a checkout,
/// beside `plugins/sdk`. Anywhere else the SDK is vendored into the plugin (`NAME/sdk/`),
/// so the plugin builds with no checkout, at the SDK version of this binary.
fn place_sdk(cargo_toml: &str, dest: &Path, notes: &mut Vec<String>) -> Result<String> {
    const BESIDE: &str = "path = \"../sdk\"";
    let beside = dest.parent().map(|p| p.join("sdk/Cargo.toml"));
    if beside.is_some_and(|p| p.is_file()) || !cargo_toml.contains(BESIDE) {
        return Ok(cargo_toml.to_string());
    }
    crate::toolkit::vendor_sdk(&dest.join("sdk"))?;
    notes.push(format!(
        "the plugin SDK (version {}) is vendored in {}",
        env!("CARGO_PKG_VERSION"),
        dest.join("sdk").display()
    ));
    Ok(cargo_toml.replace(BESIDE, "path = \"sdk\""))
}

/// Without a checkout: the Python or JavaScript tool to build with (as the variable the
/// build script reads), or what to install. Rust needs only cargo, which the script checks.
fn standalone_tool(lang: Lang) -> std::result::Result<Vec<(&'static str, PathBuf)>, String> {
    let (variable, program, install) = match lang {
        Lang::Rust => return Ok(Vec::new()),
        Lang::Python => (
            "COMPONENTIZE_PY",
            "componentize-py",
            "install it with `pip install componentize-py==0.25.1` (or set COMPONENTIZE_PY to it)",
        ),
        Lang::Js => (
            "JCO",
            "jco",
            "install Node.js >= 18, then `npm install -g @bytecodealliance/jco@1.35.0 \
             @bytecodealliance/componentize-js@0.23.0` (or set JCO to it)",
        ),
    };
    if let Some(given) = std::env::var_os(variable) {
        return Ok(vec![(variable, PathBuf::from(given))]);
    }
    match on_path(program) {
        Some(found) => Ok(vec![(variable, found)]),
        None => Err(format!(
            "{program} is missing (building a {} plugin needs it; no trailwarden checkout with \
             its pinned tools was found): {install}",
            lang.as_str()
        )),
    }
}

/// `program` in a folder of `$PATH`, if it is there and executable.
fn on_path(program: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|folder| folder.join(program))
        .find(|path| {
            path.metadata()
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

/// `trailwarden plugin build DIR [-o OUT]`: builds a plugin folder into a component with the
/// checkout's `plugins/build-plugin.sh`. `OUT` defaults to `plugins/dist/NAME.wasm` of the
/// checkout for a folder inside its `plugins/`, else `NAME.wasm` in the current folder.
///
/// # Errors
/// The folder is not a plugin, no checkout is found, or the script cannot be started. A
/// failed build (a missing tool among its causes) is a non-zero exit, not an error.
pub fn build_plugin(dir: &Path, out: Option<&Path>) -> Result<ExitCode> {
    anyhow::ensure!(dir.is_dir(), "{} is not a folder", dir.display());
    let dir = std::fs::canonicalize(dir)?;
    let Some(lang) = Lang::of_folder(&dir) else {
        bail!(
            "{} has no Cargo.toml (Rust), app.py or pyproject.toml (Python) or package.json \
             (JavaScript): which language is it?",
            dir.display()
        );
    };
    // A checkout's scripts and pinned tools, else the ones built into this binary.
    let (repo, _kit, tool_env) = match find_repo(&[&dir]) {
        Some(repo) => (repo, None, Vec::new()),
        None => {
            let tool_env = match standalone_tool(lang) {
                Ok(env) => env,
                Err(message) => {
                    eprintln!("error: {message}");
                    return Ok(ExitCode::from(127));
                }
            };
            let kit = crate::toolkit::BuildKit::unpack()?;
            (kit.root().to_path_buf(), Some(kit), tool_env)
        }
    };
    let name = dir
        .file_name()
        .and_then(|n| n.to_str())
        .context("the plugin folder has no name")?
        .to_string();
    let out = match out {
        Some(out) => out.to_path_buf(),
        None if dir.starts_with(repo.join("plugins")) => {
            repo.join("plugins/dist").join(format!("{name}.wasm"))
        }
        None => PathBuf::from(format!("{name}.wasm")),
    };
    let script = repo.join("plugins/build-plugin.sh");
    eprintln!(
        "building {} ({}) -> {}",
        dir.display(),
        lang.as_str(),
        out.display()
    );
    let status = Command::new("bash")
        .arg(&script)
        .arg(&dir)
        .arg(&out)
        .envs(tool_env)
        .status()
        .with_context(|| format!("cannot run bash {}", script.display()))?;
    if !status.success() {
        let code = status.code().unwrap_or(1);
        if code == 127 {
            eprintln!(
                "error: a tool that building a {} plugin needs is missing (see above); {}",
                lang.as_str(),
                lang.install_hint()
            );
        } else {
            eprintln!("error: the build of {} failed (exit {code})", dir.display());
        }
        return Ok(ExitCode::from(u8::try_from(code).unwrap_or(1)));
    }
    let bytes =
        std::fs::read(&out).with_context(|| format!("the build wrote no {}", out.display()))?;
    anyhow::ensure!(
        bytes.starts_with(b"\0asm\x0d\x00\x01\x00"),
        "{} is not a WebAssembly component",
        out.display()
    );
    println!("{} ({} bytes)", out.display(), bytes.len());
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for good in ["my-rule", "a", "rule2", "s3-public-2"] {
            assert!(check_name(good).is_ok(), "{good}");
        }
        for bad in [
            "", "My-Rule", "my_rule", "2fa", "-x", "x-", "a--b", "my rule", "règle", "fn", "test",
        ] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
        assert!(check_name(&"a".repeat(65)).is_err());
    }

    /// Every file of plugins/templates/<lang>/ is embedded, and nothing else.
    #[test]
    fn embedded_templates_match_the_folder() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../plugins/templates");
        for lang in [Lang::Rust, Lang::Python, Lang::Js] {
            let on_disk: Vec<PathBuf> = template_files(lang, Some(&root))
                .unwrap()
                .into_iter()
                .map(|(p, _)| p)
                .collect();
            let mut embedded: Vec<PathBuf> = embedded(lang)
                .iter()
                .map(|(p, _)| PathBuf::from(p))
                .collect();
            embedded.sort();
            assert_eq!(
                embedded,
                on_disk,
                "{}: update the list in host/src/scaffold.rs",
                lang.as_str()
            );
        }
    }
}
