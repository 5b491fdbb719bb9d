//! The tools some tests need (Chromium, redis-server, PostgreSQL): where
//! they are, and what a test does when one is missing. Under CI (`CI` set,
//! as CI runners set it) a missing tool fails the test; on a developer's
//! machine the test says plainly that it skipped and how to run it.

use std::io::Write;
use std::path::PathBuf;

/// A tool's path: `$VAR` when set (to point a test elsewhere, or at
/// nothing to try the missing case), else Debian's `default`.
pub fn tool(var: &str, default: &str) -> PathBuf {
    std::env::var_os(var)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(default))
}

/// Whether this run is CI's: `CI` set to anything but empty, `0` or `false`.
pub fn under_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "0" && !v.eq_ignore_ascii_case("false"))
}

/// `test` cannot run without `needs`: panics under CI, else prints one
/// `SKIPPED:` line that `cargo test` shows without `--nocapture`.
pub fn skip(test: &str, needs: &str) {
    let line =
        format!("SKIPPED: {test} needs {needs}; `bash .ci/run` installs what the tests need and runs them");
    assert!(!under_ci(), "{line} (CI is set: a test that cannot run fails)");
    // Written to the process's stderr itself: the harness captures what
    // `eprintln!` prints in a passing test, and this line must be seen.
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}
