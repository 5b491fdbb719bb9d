//! The `channel-connect-server` binary as a child process of a test.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::{Server, db_path, free_port, wait_listening};

/// A server process, killed when dropped.
pub struct Process {
    pub child: Child,
    pub server: Server,
}

impl Process {
    /// Starts the binary on `port` with `args`; answers once it listens.
    pub fn spawn(name: &str, port: u16, args: &[&str]) -> Process {
        Process::spawn_with(name, port, args, None, None)
    }

    /// [`Process::spawn`] with at most `open_files` file descriptors
    /// (`ulimit -n`) and its log (stdout and stderr) written to `log`, when given.
    pub fn spawn_with(
        name: &str,
        port: u16,
        args: &[&str],
        open_files: Option<u32>,
        log: Option<&std::path::Path>,
    ) -> Process {
        Process::spawn_with_env(name, port, args, open_files, log, &[])
    }

    /// [`Process::spawn_with`] with these environment variables set for it.
    pub fn spawn_with_env(
        name: &str,
        port: u16,
        args: &[&str],
        open_files: Option<u32>,
        log: Option<&std::path::Path>,
        env: &[(&str, &str)],
    ) -> Process {
        // `wait_listening` takes any listener, and the check after it comes
        // before the child has tried to bind: a port taken already would
        // have the test talk to whatever holds it.
        assert!(
            std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
            "{name}: port {port} is taken"
        );
        // One log, emptied once; both streams append to it (a handle of
        // its own for stdout would write over the lines stderr put first).
        if let Some(l) = log {
            std::fs::File::create(l).unwrap();
        }
        let log_handle = |log: Option<&std::path::Path>| -> Stdio {
            log.map_or_else(Stdio::null, |l| {
                std::fs::OpenOptions::new().append(true).open(l).unwrap().into()
            })
        };
        let db = db_path(name);
        let bin = env!("CARGO_BIN_EXE_channel-connect-server");
        let mut command = match open_files {
            Some(n) => {
                let mut c = Command::new("sh");
                c.args(["-c", &format!("ulimit -n {n} && exec \"$0\" \"$@\""), bin]);
                c
            }
            None => Command::new(bin),
        };
        let child = command
            .envs(env.iter().copied())
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .arg("--db")
            .arg(&db)
            .args(args)
            .stdout(log_handle(log))
            .stderr(log_handle(log))
            .spawn()
            .expect("the server binary starts");
        wait_listening(port);
        let mut child = child;
        assert!(
            child.try_wait().unwrap().is_none(),
            "{name} exited at start (port {port} taken?)"
        );
        channel_connect_server::install_crypto_provider();
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let server = Server {
            base: format!("http://127.0.0.1:{port}"),
            db,
            http,
        };
        Process { child, server }
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.server
            .base
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .unwrap()
    }

    /// What `systemctl stop` or Kubernetes sends.
    pub fn terminate(&self) {
        let pid = self.child.id().to_string();
        assert!(
            Command::new("kill")
                .args(["-TERM", &pid])
                .status()
                .unwrap()
                .success()
        );
    }

    /// Waits (bounded) for the process to exit; its status.
    pub fn wait_exit(&mut self) -> std::process::ExitStatus {
        for _ in 0..400 {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        panic!("the server did not exit within 10 s of SIGTERM");
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A process on a fresh port serving the demo configuration with its Slack
/// integration's endpoints at `slack` (a stand-in of the test's, or an
/// address where nothing listens), then `args`; see [`Process::spawn_with`].
pub fn spawn_with_slack(
    name: &str,
    slack: &str,
    args: &[&str],
    open_files: Option<u32>,
    log: Option<&std::path::Path>,
) -> Process {
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let config = channel_connect_server::config::Config::demo_text(&base)
        .replace(&format!("{base}/standin/slack"), slack);
    let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}-config.json"));
    std::fs::write(&path, config).unwrap();
    let all = [&["--config", path.to_str().unwrap()][..], args].concat();
    Process::spawn_with(name, port, &all, open_files, log)
}
