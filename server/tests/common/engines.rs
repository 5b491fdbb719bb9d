//! Real engines for the tests: a `redis-server` and a PostgreSQL cluster
//! of the test's own (Debian's packages), each on a loopback port and a
//! directory of its own, stopped when dropped; and instances of the
//! service sharing them. Without the packages, `start` says the test was
//! skipped and answers `None`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use channel_connect_server::config::Config;
use channel_connect_server::os_entropy;
use channel_connect_server::store::postgres::PgStore;
use channel_connect_server::store::redis::RedisStore;

use super::{Server, db_path, free_port, start_on, wait_listening};

/// redis-server (`$REDIS_SERVER` overrides Debian's path).
pub fn redis_server() -> PathBuf {
    super::tools::tool("REDIS_SERVER", "/usr/bin/redis-server")
}

/// A `redis-server` of the test's own, stopped when dropped; with TLS,
/// on TLS only, its certificate signed by the CA in `dir/tls/ca.pem`.
pub struct Redis {
    child: Child,
    port: u16,
    dir: PathBuf,
    tls: bool,
}

impl Redis {
    pub fn start(name: &str) -> Option<Redis> {
        Redis::start_with(name, false)
    }

    pub fn start_tls(name: &str) -> Option<Redis> {
        Redis::start_with(name, true)
    }

    fn start_with(name: &str, tls: bool) -> Option<Redis> {
        if !redis_server().exists() {
            super::tools::skip(name, "Debian's redis-server (apt-get install redis-server)");
            return None;
        }
        let port = free_port();
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("redis-{name}"));
        std::fs::create_dir_all(&dir).unwrap();
        if tls {
            certificates(&dir.join("tls"));
        }
        Some(Redis::spawn(port, dir, tls))
    }

    fn spawn(port: u16, dir: PathBuf, tls: bool) -> Redis {
        // `wait_listening` takes any listener: a port taken already (another
        // run's redis-server) would have the test use whatever holds it.
        assert!(
            std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
            "redis-server: port {port} is taken"
        );
        let port_arg = port.to_string();
        let t = dir.join("tls");
        let (cert, key, ca) = (t.join("server.pem"), t.join("server.key"), t.join("ca.pem"));
        let (cert, key, ca) = (
            cert.to_str().unwrap(),
            key.to_str().unwrap(),
            ca.to_str().unwrap(),
        );
        let listen: Vec<&str> = if tls {
            let files = [
                "--tls-cert-file",
                cert,
                "--tls-key-file",
                key,
                "--tls-ca-cert-file",
                ca,
            ];
            [
                &["--port", "0", "--tls-port", &port_arg, "--tls-auth-clients", "no"][..],
                &files,
            ]
            .concat()
        } else {
            vec!["--port", &port_arg]
        };
        let child = Command::new(redis_server())
            .args(&listen)
            .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(&dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server starts");
        wait_listening(port);
        Redis {
            child,
            port,
            dir,
            tls,
        }
    }

    pub fn url(&self) -> String {
        let scheme = if self.tls { "rediss" } else { "redis" };
        format!("{scheme}://127.0.0.1:{}/", self.port)
    }

    /// The CA that signed a TLS server's certificate (`ca`), or one that did not (`other-ca`).
    pub fn ca(&self, which: &str) -> PathBuf {
        self.dir.join("tls").join(format!("{which}.pem"))
    }

    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn restart(&mut self) {
        self.stop();
        *self = Redis::spawn(self.port, self.dir.clone(), self.tls);
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A PostgreSQL cluster of the test's own (initdb in a temporary
/// directory, trust on loopback), stopped when dropped.
pub struct Postgres {
    bin: PathBuf,
    dir: PathBuf,
    port: u16,
}

impl Postgres {
    pub fn start(name: &str) -> Option<Postgres> {
        // `$PG_ROOT` overrides Debian's /usr/lib/postgresql (VERSION/bin/initdb under it).
        let root = super::tools::tool("PG_ROOT", "/usr/lib/postgresql");
        let bin = std::fs::read_dir(root)
            .ok()
            .into_iter()
            .flatten()
            .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
            .find(|b| b.join("initdb").exists());
        let Some(bin) = bin else {
            super::tools::skip(name, "Debian's postgresql (apt-get install postgresql)");
            return None;
        };
        let port = free_port();
        // Under /tmp: the server's own user must reach it.
        let dir = std::env::temp_dir().join(format!("cc-pg-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let pg = Postgres { bin, dir, port };
        if as_root() {
            assert!(
                Command::new("chown")
                    .arg("postgres")
                    .arg(&pg.dir)
                    .status()
                    .unwrap()
                    .success()
            );
        }
        let data = pg.dir.join("data");
        pg.run(
            "initdb",
            &["-D", data.to_str().unwrap(), "-A", "trust", "-U", "postgres"],
        );
        pg.start_server();
        Some(pg)
    }

    /// A cluster that takes TCP connections over TLS only, its certificate
    /// (for 127.0.0.1) signed by a CA of the test's own ([`Postgres::ca`]).
    pub fn start_tls(name: &str) -> Option<Postgres> {
        let pg = Postgres::start(name)?;
        pg.stop_server();
        let tls = pg.dir.join("tls");
        certificates(&tls);
        let data = pg.dir.join("data");
        let conf = format!(
            "ssl = on\nssl_cert_file = '{0}/server.pem'\nssl_key_file = '{0}/server.key'\n",
            tls.display()
        );
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .open(data.join("postgresql.conf"))
            .unwrap();
        std::io::Write::write_all(&mut file, conf.as_bytes()).unwrap();
        // TCP over TLS only: a plain connection finds no pg_hba.conf line.
        std::fs::write(
            data.join("pg_hba.conf"),
            "local all all trust\nhostssl all all 127.0.0.1/32 trust\n",
        )
        .unwrap();
        let key = tls.join("server.key");
        std::fs::set_permissions(&key, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
        if as_root() {
            let chown = Command::new("chown").arg("-R").arg("postgres").arg(&tls).status();
            assert!(chown.unwrap().success());
        }
        pg.start_server();
        Some(pg)
    }

    /// The CA that signed a TLS cluster's certificate, and one that did not.
    pub fn ca(&self, which: &str) -> PathBuf {
        self.dir.join("tls").join(format!("{which}.pem"))
    }

    pub fn start_server(&self) {
        let data = self.dir.join("data");
        let opts = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            self.port,
            self.dir.display()
        );
        let log = self.dir.join("log");
        let (data, log) = (data.to_str().unwrap(), log.to_str().unwrap());
        self.run("pg_ctl", &["-D", data, "-l", log, "-o", &opts, "-w", "start"]);
    }

    pub fn stop_server(&self) {
        let data = self.dir.join("data");
        self.run(
            "pg_ctl",
            &["-D", data.to_str().unwrap(), "-m", "immediate", "-w", "stop"],
        );
    }

    pub fn run(&self, program: &str, args: &[&str]) {
        let path = self.bin.join(program);
        let mut cmd = if as_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&path);
            c
        } else {
            Command::new(&path)
        };
        let out = cmd.args(args).output().expect("a PostgreSQL program runs");
        assert!(
            out.status.success(),
            "{program}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let _ = std::panic::catch_unwind(|| self.stop_server());
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A CA (`ca.pem`), a server certificate for 127.0.0.1 it signs
/// (`server.pem`, `server.key`), and a CA that signs nothing (`other-ca.pem`):
/// ECDSA P-256, made by `rcgen`.
pub fn certificates(dir: &Path) {
    use rcgen::{
        BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    };
    std::fs::create_dir_all(dir).unwrap();
    let ca_params = |name: &str| {
        let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
        p.distinguished_name
            .push(DnType::CommonName, format!("test {name}"));
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        p
    };
    let ca = CertifiedIssuer::self_signed(ca_params("ca"), KeyPair::generate().unwrap()).unwrap();
    std::fs::write(dir.join("ca.pem"), ca.pem()).unwrap();
    let other = CertifiedIssuer::self_signed(ca_params("other-ca"), KeyPair::generate().unwrap()).unwrap();
    std::fs::write(dir.join("other-ca.pem"), other.pem()).unwrap();
    // "127.0.0.1" becomes an IP address subject alternative name.
    let mut server = CertificateParams::new(vec!["127.0.0.1".to_owned()]).unwrap();
    server.distinguished_name.push(DnType::CommonName, "127.0.0.1");
    server.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let key = KeyPair::generate().unwrap();
    let cert = server.signed_by(&key, &ca).unwrap();
    std::fs::write(dir.join("server.pem"), cert.pem()).unwrap();
    std::fs::write(dir.join("server.key"), key.serialize_pem()).unwrap();
}

/// PostgreSQL refuses to run as root: the tests use its own user then.
pub fn as_root() -> bool {
    let out = Command::new("id").arg("-u").output().expect("id runs");
    String::from_utf8_lossy(&out.stdout).trim() == "0"
}

/// Redis and PostgreSQL shared by instances of the service.
pub struct Engines {
    pub redis: Redis,
    pub pg: Postgres,
    pub marks: RedisStore,
    pub records: PgStore,
}

impl Engines {
    pub async fn start(name: &str) -> Option<Engines> {
        let (Some(redis), Some(pg)) = (Redis::start(name), Postgres::start(name)) else {
            return None;
        };
        let marks = RedisStore::connect(&redis.url(), name).await.unwrap();
        let key = Config::demo("http://127.0.0.1:1").unwrap().token_keys;
        let records = PgStore::connect(&pg.url(), &key, os_entropy).await.unwrap();
        Some(Engines {
            redis,
            pg,
            marks,
            records,
        })
    }

    /// An instance on these engines (behind `behind`'s address, if given).
    pub async fn instance(&self, name: &str, behind: Option<&str>) -> Server {
        let (marks, records) = (self.marks.clone(), self.records.clone());
        start_on(db_path(name), behind, move |s| {
            s.sharing(marks).recording(records)
        })
        .await
    }
}

/// The demo configuration's text with these signing keys (id, active);
/// each id's secret is fixed, as every instance's configuration would have it.
pub fn config_text_with_keys(public: &str, keys: &[(u8, bool)]) -> String {
    let mut file: serde_json::Value = serde_json::from_str(&Config::demo_text(public)).unwrap();
    file["keys"] = keys
        .iter()
        .map(|(id, active)| serde_json::json!({ "id": id, "secretHex": format!("{id:02x}").repeat(32), "active": active }))
        .collect();
    file.to_string()
}

/// Runs one SQL batch on the test's PostgreSQL.
pub async fn psql(pg: &Postgres, sql: &str) {
    let (client, conn) = tokio_postgres::connect(&pg.url(), tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    client.batch_execute(sql).await.unwrap();
}
