//! Finds or installs the tools the build and tests need, at pinned versions. Nothing is downloaded
//! during a build: these run first, from the package registries.

use std::path::PathBuf;
use std::process::{Command, Stdio};

use crate::{TaskError, TaskResult, root, run_command, step};

/// Trunk 0.22 needs a newer Rust than this workspace pins.
const TRUNK_VERSION: &str = "0.21.14";
/// binaryen from the npm registry; Debian's 108 breaks the module.
const BINARYEN_VERSION: &str = "132.0.0";
const WASM_TARGET: &str = "wasm32-unknown-unknown";

/// Where npm-installed tools live: outside the clone, so CI reuses them.
pub fn tools_dir() -> PathBuf {
    if let Ok(dir) = std::env::var("RINGBACK_TOOLS_DIR") {
        return PathBuf::from(dir);
    }
    let home = std::env::var("HOME").unwrap_or_else(|_| "/tmp".to_owned());
    PathBuf::from(home).join(".cache").join("ringback-tools")
}

fn binaryen_bin() -> PathBuf {
    tools_dir()
        .join(format!("binaryen-{BINARYEN_VERSION}"))
        .join("node_modules")
        .join(".bin")
}

fn cargo_bin() -> PathBuf {
    let home = std::env::var("CARGO_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            PathBuf::from(std::env::var("HOME").unwrap_or_else(|_| "/root".to_owned()))
                .join(".cargo")
        });
    home.join("bin")
}

/// `PATH` with binaryen and cargo-installed tools first.
pub fn path_with_tools() -> String {
    let current = std::env::var("PATH").unwrap_or_default();
    format!(
        "{}:{}:{current}",
        binaryen_bin().display(),
        cargo_bin().display()
    )
}

/// A `trunk` command that finds the pinned tools.
pub fn trunk_command() -> Command {
    let mut command = Command::new(cargo_bin().join("trunk"));
    command.env("PATH", path_with_tools());
    command
}

/// Output of `program args`, or None when it cannot run.
fn version_of(program: &str, args: &[&str]) -> Option<String> {
    let output = Command::new(program)
        .args(args)
        .env("PATH", path_with_tools())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).into_owned())
}

/// The wasm-bindgen version Cargo.lock pins; the CLI must match it exactly.
fn locked_wasm_bindgen_version() -> TaskResult<String> {
    let lock = std::fs::read_to_string(root().join("Cargo.lock"))
        .map_err(|e| TaskError(format!("Cargo.lock: {e}")))?;
    let mut lines = lock.lines();
    while let Some(line) = lines.next() {
        if line == "name = \"wasm-bindgen\""
            && let Some(version) = lines.next().and_then(|l| l.strip_prefix("version = \""))
        {
            return Ok(version.trim_end_matches('"').to_owned());
        }
    }
    Err(TaskError(
        "Cargo.lock names no wasm-bindgen version".to_owned(),
    ))
}

/// Everything needed to build the server and the dashboard offline.
pub fn ensure_build_tools() -> TaskResult {
    ensure_wasm_target()?;
    let bindgen = locked_wasm_bindgen_version()?;
    ensure_cargo_tool(
        "wasm-bindgen",
        &bindgen,
        &["wasm-bindgen-cli", "--version", &bindgen],
        &[],
    )?;
    ensure_cargo_tool(
        "trunk",
        TRUNK_VERSION,
        &["trunk", "--version", TRUNK_VERSION, "--locked"],
        QUICK_TO_BUILD,
    )?;
    ensure_binaryen()?;
    step("Fetching crates (offline builds follow)");
    run_command(Command::new("cargo").arg("fetch"))
}

fn ensure_wasm_target() -> TaskResult {
    let installed = version_of("rustup", &["target", "list", "--installed"]).unwrap_or_default();
    if installed.lines().any(|line| line.trim() == WASM_TARGET) {
        return Ok(());
    }
    step("Installing the wasm32 target (rustup)");
    run_command(Command::new("rustup").args(["target", "add", WASM_TARGET])).map_err(|e| {
        TaskError(format!(
            "{e}\nInstall it by hand with: rustup target add {WASM_TARGET}"
        ))
    })
}

/// Profile settings that build a tool in a third of the time its own release profile takes
/// (Trunk's asks for fat LTO in one codegen unit: about 7 minutes on two cores, against under 3).
/// For a tool whose own work is small next to what it runs: Trunk's build of the dashboard takes
/// as long with either (the compiler, wasm-bindgen and wasm-opt do the work).
const QUICK_TO_BUILD: &[(&str, &str)] = &[
    ("CARGO_PROFILE_RELEASE_LTO", "false"),
    ("CARGO_PROFILE_RELEASE_CODEGEN_UNITS", "16"),
    ("CARGO_PROFILE_RELEASE_OPT_LEVEL", "0"),
];

/// Installs `binary` at `version` with `cargo install install_args` (and `profile` settings in
/// its environment) unless that version is installed already in cargo's `bin` directory, where
/// the commands run it from (one of that version elsewhere on `PATH` does not count).
fn ensure_cargo_tool(
    binary: &str,
    version: &str,
    install_args: &[&str],
    profile: &[(&str, &str)],
) -> TaskResult {
    let installed = cargo_bin().join(binary);
    let found = version_of(&installed.to_string_lossy(), &["--version"]).unwrap_or_default();
    if found.split_whitespace().any(|word| word == version) {
        return Ok(());
    }
    step(&format!("Installing {binary} {version} (cargo install)"));
    let mut install = Command::new("cargo");
    install
        .arg("install")
        .args(install_args)
        .envs(profile.iter().copied());
    run_command(&mut install).map_err(|e| {
        TaskError(format!(
            "{e}\nInstall it by hand with: cargo install {}",
            install_args.join(" ")
        ))
    })
}

fn ensure_binaryen() -> TaskResult {
    let found = version_of("wasm-opt", &["--version"]).unwrap_or_default();
    let major = BINARYEN_VERSION.split('.').next().unwrap_or_default();
    if found.contains(&format!("version {major}")) && binaryen_bin().join("wasm-opt").exists() {
        return Ok(());
    }
    step(&format!(
        "Installing binaryen {BINARYEN_VERSION} (npm registry)"
    ));
    let prefix = binaryen_bin().join("..").join("..");
    std::fs::create_dir_all(&prefix)
        .map_err(|e| TaskError(format!("{}: {e}", prefix.display())))?;
    run_command(
        Command::new("npm")
            .args(["install", "--no-audit", "--no-fund", "--prefix"])
            .arg(&prefix)
            .arg(format!("binaryen@{BINARYEN_VERSION}")),
    )
    .map_err(|e| {
        TaskError(format!(
            "{e}\nbinaryen needs Node.js and npm (apt-get install nodejs npm)"
        ))
    })
}

/// Chromium and chromedriver for the end-to-end tests: installed through apt when root.
pub fn ensure_browser() -> TaskResult {
    let missing: Vec<&str> = ["/usr/bin/chromium", "/usr/bin/chromedriver"]
        .into_iter()
        .filter(|path| !std::path::Path::new(path).exists())
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    if !is_root() {
        return Err(TaskError(format!(
            "missing {}: install Debian's chromium and chromium-driver (sudo apt-get install chromium chromium-driver)",
            missing.join(", ")
        )));
    }
    step("Installing chromium and chromium-driver (apt)");
    run_command(Command::new("apt-get").arg("update").arg("-q"))?;
    run_command(
        Command::new("apt-get")
            .args(["install", "-y", "-q", "chromium", "chromium-driver"])
            .env("DEBIAN_FRONTEND", "noninteractive"),
    )
}

/// True when running as root (so apt and the postgres user are available).
pub fn is_root() -> bool {
    version_of("id", &["-u"]).is_some_and(|uid| uid.trim() == "0")
}
