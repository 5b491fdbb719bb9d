//! A Python virtual environment under the target directory with a pinned
//! requirements file installed from PyPI, once: a stamp holding the hash of
//! the pins and of the Python version skips the install until either
//! changes, and a fresh install is built aside and moved into place (so a
//! concurrent or interrupted run never sees half of one).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

/// How long one registry install may take.
const INSTALL_TIMEOUT: Duration = Duration::from_secs(600);
const STAMP: &str = ".venv-stamp";

/// What a child process did.
pub struct Output {
    pub success: bool,
    pub status: String,
    /// Its stdout and stderr, interleaved.
    pub text: String,
}

/// Runs `cmd` with its output in `log`, killed after `timeout`.
pub fn run(cmd: &mut Command, log: &Path, timeout: Duration) -> std::io::Result<Output> {
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

/// Whether `python` is at least `major.minor` and can make a venv with pip.
pub fn python_ok(python: &Path, (major, minor): (u32, u32)) -> bool {
    let check = format!("import sys, venv, ensurepip; sys.exit(sys.version_info < ({major}, {minor}))");
    Command::new(python)
        .args(["-c", &check])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// The directory under the target directory where `name`'s venv lives.
pub fn root(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    fs::create_dir_all(&dir).unwrap();
    dir
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
    Err(format!("{what} failed ({}):\n{}", out.status, &text[start..]))
}

/// `<root(name)>/venv` with `requirements` installed by pip, checked to
/// hold `package` at the version the file pins with `package==`.
pub fn install(python: &Path, name: &str, requirements: &Path, package: &str) -> Result<PathBuf, String> {
    let pins = fs::read(requirements).map_err(|e| format!("{}: {e}", requirements.display()))?;
    let want = String::from_utf8_lossy(&pins)
        .lines()
        .find_map(|l| l.trim().strip_prefix(&format!("{package}==")).map(str::to_owned))
        .ok_or_else(|| format!("{} pins no {package}==", requirements.display()))?;
    let version = Command::new(python)
        .args(["-c", "import sys; print(sys.version)"])
        .output()
        .map_err(|e| format!("{}: {e}", python.display()))?;
    let stamp: String = Sha256::new()
        .chain_update((pins.len() as u64).to_le_bytes())
        .chain_update(&pins)
        .chain_update(&version.stdout)
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let root = root(name);
    let target = root.join("venv");
    let current = |dir: &Path| fs::read_to_string(dir.join(STAMP)).is_ok_and(|s| s == stamp);
    if current(&target) {
        return Ok(target);
    }
    let fresh = root.join(format!("venv.{}.tmp", std::process::id()));
    let _ = fs::remove_dir_all(&fresh);
    let log = root.join(format!("venv-{}.log", std::process::id()));
    let built = (|| {
        step(
            "python3 -m venv",
            Command::new(python).args(["-m", "venv"]).arg(&fresh),
            &log,
        )?;
        let venv_python = fresh.join("bin/python");
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
        .arg(requirements);
        step("pip install -r requirements.txt", &mut pip, &log)?;
        let check = format!("import importlib.metadata as m; print(m.version('{package}'))");
        let got = step(
            &format!("{package}'s version"),
            Command::new(&venv_python).args(["-c", &check]),
            &log,
        )?;
        match got.trim() {
            v if v == want => Ok(()),
            v => Err(format!("pip installed {package} {v:?}, not {want}")),
        }
    })();
    let _ = fs::remove_file(&log);
    if let Err(why) = built {
        let _ = fs::remove_dir_all(&fresh);
        return Err(why);
    }
    fs::write(fresh.join(STAMP), &stamp).unwrap();
    if target.exists() {
        if current(&target) {
            // Another run installed the same meanwhile.
            let _ = fs::remove_dir_all(&fresh);
            return Ok(target);
        }
        let stale = root.join(format!("venv.{}.stale", std::process::id()));
        fs::rename(&target, &stale).unwrap();
        let _ = fs::remove_dir_all(&stale);
    }
    fs::rename(&fresh, &target).unwrap();
    Ok(target)
}
