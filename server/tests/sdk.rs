//! Novu's official SDKs against the demo server over real HTTP: `@novu/api`
//! (TypeScript, npm) and `novu-py` (Python, PyPI), at the versions pinned in
//! `tests/sdk/package-lock.json` and `tests/sdk/requirements.txt`, installed
//! from the registries into the target directory (once; a stamp holding the
//! hash of the pins skips the install until they change). Each test starts
//! a demo server and runs its driver (`tests/sdk/novu.mjs`, `novu.py`),
//! which calls every operation, successes and the typed errors, and
//! completes a Slack flow through the stand-in between the calls.
//!
//! Without node/npm or python3 with venv the tests say so and skip (under
//! CI they fail). `SDK_CASES=a,b` runs only the cases so named (or under
//! those prefixes); `SDK_BASE_URL=http://...` runs against a server started
//! elsewhere (such as one with `--redis`/`--database`) instead of an
//! in-process demo. `SDK_NODE`, `SDK_NPM` and `SDK_PYTHON` name the tools.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::tools::{skip, tool};
use sha2::{Digest, Sha256};

/// How long one driver may run (every case together).
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(180);
/// How long one registry install may take.
const INSTALL_TIMEOUT: Duration = Duration::from_secs(600);

const NODE_NEEDS: &str = "node 18+ and npm on PATH (or SDK_NODE/SDK_NPM; Debian: apt-get install nodejs npm); \
    then run `cargo test -p channel-connect-server --test sdk`";
const PYTHON_NEEDS: &str = "python3 3.9+ with venv on PATH (or SDK_PYTHON; Debian: apt-get install python3-venv); \
    then run `cargo test -p channel-connect-server --test sdk`";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn novu_api_typescript_sdk_drives_every_operation() {
    let test = "novu_api_typescript_sdk_drives_every_operation";
    let (node, npm) = (tool("SDK_NODE", "node"), tool("SDK_NPM", "npm"));
    let node_ok = Command::new(&node)
        .args([
            "-e",
            "process.exit(+process.versions.node.split('.')[0] >= 18 ? 0 : 1)",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    let npm_ok = Command::new(&npm)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !node_ok || !npm_ok {
        return skip(test, NODE_NEEDS);
    }
    let dir = match tokio::task::spawn_blocking(move || install_node(&npm))
        .await
        .unwrap()
    {
        Ok(dir) => dir,
        Err(why) => return skip(test, &format!("@novu/api from the npm registry ({why})")),
    };
    // ES modules resolve packages from the script's own directory: the
    // driver runs from a copy next to the installed node_modules.
    let script = dir.join(format!("novu-{}.mjs", std::process::id()));
    fs::copy(sdk_src().join("novu.mjs"), &script).unwrap();
    drive("@novu/api", "sdk-typescript", node, script).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn novu_py_sdk_drives_every_operation() {
    let test = "novu_py_sdk_drives_every_operation";
    let python = tool("SDK_PYTHON", "python3");
    let python_ok = Command::new(&python)
        .args([
            "-c",
            "import sys, venv, ensurepip; sys.exit(sys.version_info < (3, 9))",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !python_ok {
        return skip(test, PYTHON_NEEDS);
    }
    let venv = match tokio::task::spawn_blocking(move || install_python(&python))
        .await
        .unwrap()
    {
        Ok(venv) => venv,
        Err(why) => return skip(test, &format!("novu-py from PyPI ({why})")),
    };
    drive(
        "novu-py",
        "sdk-python",
        venv.join("bin/python"),
        sdk_src().join("novu.py"),
    )
    .await;
}

/// Runs `script` with `program` on the selected cases against a demo server
/// on SQLite and one on Redis + PostgreSQL (or only `SDK_BASE_URL`), and
/// fails with the driver's output unless every case passed on each.
async fn drive(sdk: &str, name: &str, program: PathBuf, script: PathBuf) {
    let cases = std::env::var("SDK_CASES")
        .ok()
        .filter(|c| !c.trim().is_empty())
        .unwrap_or_else(|| "all".to_owned());
    let external = std::env::var("SDK_BASE_URL").ok().filter(|u| !u.is_empty());
    // Kept alive while the drivers run.
    let (mut servers, mut engines) = (Vec::new(), None);
    let bases = match external {
        Some(base) => vec![base],
        None => {
            servers.push(common::start(name).await);
            if let Some(e) = common::engines::Engines::start(name).await {
                servers.push(e.instance(&format!("{name}-shared"), None).await);
                engines = Some(e);
            }
            servers.iter().map(|s| s.base.clone()).collect()
        }
    };
    for base in &bases {
        drive_one(sdk, name, &program, &script, base, &cases).await;
    }
    if script.extension().is_some_and(|e| e == "mjs") {
        let _ = fs::remove_file(&script);
    }
    drop((servers, engines));
}

async fn drive_one(sdk: &str, name: &str, program: &Path, script: &Path, base: &str, cases: &str) {
    let log = sdk_dir().join(format!("{name}-{}.log", std::process::id()));
    let (program, cases) = (program.to_owned(), cases.to_owned());
    let (args, run_log) = (vec![script.as_os_str().to_owned(), base.into()], log.clone());
    let out = tokio::task::spawn_blocking(move || {
        let mut cmd = Command::new(&program);
        cmd.args(&args).env("SDK_CASES", &cases).env("NO_COLOR", "1");
        run(&mut cmd, &run_log, SCRIPT_TIMEOUT)
    })
    .await
    .unwrap();
    let _ = fs::remove_file(&log);
    let out = out.unwrap_or_else(|e| panic!("{sdk}: could not start the driver: {e}"));
    assert!(
        out.success && out.text.contains("PASS ") && !out.text.contains("FAIL "),
        "{sdk}: the driver failed against {base} ({}):\n{}",
        out.status,
        out.text
    );
    // Shown with --nocapture.
    eprintln!("{sdk} against {base}:\n{}", out.text);
}

/// `tests/sdk`: the pins and the drivers.
fn sdk_src() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/sdk")
}

/// Where the SDKs are installed: the target directory's.
fn sdk_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("sdk");
    fs::create_dir_all(&dir).unwrap();
    dir
}

/// What a child process did.
struct Output {
    success: bool,
    status: String,
    /// Its stdout and stderr, interleaved.
    text: String,
}

/// Runs `cmd` with its output in `log`, killed after `timeout`.
fn run(cmd: &mut Command, log: &Path, timeout: Duration) -> std::io::Result<Output> {
    let file = fs::File::create(log)?;
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(file.try_clone()?)
        .stderr(file)
        .spawn()?;
    let deadline = Instant::now() + timeout;
    let (success, status) = loop {
        if let Some(status) = child.try_wait()? {
            break (status.success(), status.to_string());
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            break (false, format!("killed after {timeout:?}"));
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let text = String::from_utf8_lossy(&fs::read(log)?).into_owned();
    Ok(Output {
        success,
        status,
        text,
    })
}

/// Runs an installer step; its output (the end of it) on failure.
fn step(what: &str, cmd: &mut Command, log: &Path) -> Result<String, String> {
    let out = run(cmd, log, INSTALL_TIMEOUT).map_err(|e| format!("{what}: {e}"))?;
    if out.success {
        return Ok(out.text);
    }
    let text = out.text.trim();
    let start = (text.len().saturating_sub(4000)..text.len())
        .find(|&i| text.is_char_boundary(i))
        .unwrap_or(0);
    let tail = &text[start..];
    Err(format!("{what} failed ({}):\n{tail}", out.status))
}

fn sha256_hex(parts: &[&[u8]]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update((part.len() as u64).to_le_bytes());
        hasher.update(part);
    }
    hasher.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

const STAMP: &str = ".sdk-stamp";

/// `<sdk>/<name>` when its stamp is `stamp`; else `build` fills a fresh
/// directory, stamped and moved into place (so a concurrent or interrupted
/// run never sees half an install).
fn installed(
    name: &str,
    stamp: &str,
    build: impl FnOnce(&Path) -> Result<(), String>,
) -> Result<PathBuf, String> {
    let root = sdk_dir();
    let target = root.join(name);
    let current = |dir: &Path| fs::read_to_string(dir.join(STAMP)).is_ok_and(|s| s == stamp);
    if current(&target) {
        return Ok(target);
    }
    let fresh = root.join(format!("{name}.{}.tmp", std::process::id()));
    let _ = fs::remove_dir_all(&fresh);
    fs::create_dir_all(&fresh).unwrap();
    if let Err(why) = build(&fresh) {
        let _ = fs::remove_dir_all(&fresh);
        return Err(why);
    }
    fs::write(fresh.join(STAMP), stamp).unwrap();
    if target.exists() {
        if current(&target) {
            // Another run installed the same meanwhile.
            let _ = fs::remove_dir_all(&fresh);
            return Ok(target);
        }
        let stale = root.join(format!("{name}.{}.stale", std::process::id()));
        fs::rename(&target, &stale).unwrap();
        let _ = fs::remove_dir_all(&stale);
    }
    fs::rename(&fresh, &target).unwrap();
    Ok(target)
}

/// `@novu/api` as `package-lock.json` pins it, by `npm ci`, in `<sdk>/node`.
fn install_node(npm: &Path) -> Result<PathBuf, String> {
    let src = sdk_src();
    let package = fs::read(src.join("package.json")).unwrap();
    let lock = fs::read(src.join("package-lock.json")).unwrap();
    let pinned: serde_json::Value = serde_json::from_slice(&package).unwrap();
    let want = pinned["dependencies"]["@novu/api"].as_str().unwrap().to_owned();
    let stamp = sha256_hex(&[&package, &lock]);
    installed("node", &stamp, |dir| {
        fs::write(dir.join("package.json"), &package).unwrap();
        fs::write(dir.join("package-lock.json"), &lock).unwrap();
        let mut ci = Command::new(npm);
        ci.arg("ci").arg("--prefix").arg(dir).args([
            "--no-audit",
            "--no-fund",
            "--ignore-scripts",
            "--loglevel=error",
        ]);
        step("npm ci", &mut ci, &dir.join("npm-ci.log"))?;
        let installed = fs::read(dir.join("node_modules/@novu/api/package.json"))
            .map_err(|e| format!("npm ci installed no @novu/api: {e}"))?;
        let installed: serde_json::Value = serde_json::from_slice(&installed).unwrap();
        match installed["version"].as_str() {
            Some(v) if v == want => Ok(()),
            v => Err(format!("npm ci installed @novu/api {v:?}, not {want}")),
        }
    })
}

/// `novu-py` as `requirements.txt` pins it, by pip, in the venv `<sdk>/venv`.
fn install_python(python: &Path) -> Result<PathBuf, String> {
    let requirements = fs::read(sdk_src().join("requirements.txt")).unwrap();
    let want = String::from_utf8_lossy(&requirements)
        .lines()
        .find_map(|l| l.trim().strip_prefix("novu-py=="))
        .expect("requirements.txt pins novu-py exactly")
        .to_owned();
    let version = Command::new(python)
        .args(["-c", "import sys; print(sys.version)"])
        .output()
        .map_err(|e| format!("{}: {e}", python.display()))?;
    let stamp = sha256_hex(&[&requirements, &version.stdout]);
    installed("venv", &stamp, |dir| {
        let log = sdk_dir().join(format!("venv-{}.log", std::process::id()));
        step(
            "python3 -m venv",
            Command::new(python).args(["-m", "venv"]).arg(dir),
            &log,
        )?;
        let venv_python = dir.join("bin/python");
        let mut pip = Command::new(&venv_python);
        pip.args([
            "-m",
            "pip",
            "install",
            "--disable-pip-version-check",
            "--no-input",
            "-q",
            "-r",
        ])
        .arg(sdk_src().join("requirements.txt"));
        step("pip install -r requirements.txt", &mut pip, &log)?;
        let check = "import importlib.metadata as m; print(m.version('novu-py'))";
        let got = step(
            "novu-py's version",
            Command::new(&venv_python).args(["-c", check]),
            &log,
        )?;
        let _ = fs::remove_file(&log);
        match got.trim() {
            v if v == want => Ok(()),
            v => Err(format!("pip installed novu-py {v:?}, not {want}")),
        }
    })
}
