//! A real Prometheus for the fleet tests: Debian's `prometheus` started on a free
//! loopback port over a data directory (backfilled with `promtool tsdb
//! create-blocks-from openmetrics`, or empty and scraping), stopped when dropped.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Whether `prog` runs (`--version`).
pub fn has(prog: &str) -> bool {
    Command::new(prog)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// A free loopback port (bound, then released: another process could take it first,
/// which the callers' start-up check would report).
pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    l.local_addr().expect("local addr").port()
}

/// Backfills `data` from an OpenMetrics text file.
pub fn backfill(openmetrics: &Path, data: &Path) {
    let o = Command::new("promtool")
        .args(["tsdb", "create-blocks-from", "openmetrics"])
        .arg(openmetrics)
        .arg(data)
        .output()
        .expect("run promtool");
    assert!(
        o.status.success(),
        "promtool create-blocks-from openmetrics failed:\n{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

/// A running Prometheus.
pub struct Prometheus {
    child: Child,
    /// `http://127.0.0.1:PORT` (or https:// when started with TLS).
    pub url: String,
    log: PathBuf,
    /// The CA its certificate chains to, when it serves https.
    ca: Option<PathBuf>,
}

/// A private CA and a server certificate for 127.0.0.1 signed by it (openssl).
pub struct Tls {
    /// The CA's certificate (PEM): what a client must trust.
    pub ca: PathBuf,
    /// The server's certificate (PEM).
    pub cert: PathBuf,
    /// The server's key (PEM).
    pub key: PathBuf,
}

/// Makes a private CA and a server certificate for IP 127.0.0.1 in `dir`.
pub fn make_tls(dir: &Path) -> Tls {
    let run = |args: &[&str]| {
        let o = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .expect("run openssl (apt-get install openssl)");
        assert!(
            o.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    };
    run(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=soak test CA",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
    ]);
    run(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        "/CN=127.0.0.1",
    ]);
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n",
    )
    .expect("write server.ext");
    run(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.pem",
        "-days",
        "2",
        "-extfile",
        "server.ext",
    ]);
    Tls {
        ca: dir.join("ca.pem"),
        cert: dir.join("server.pem"),
        key: dir.join("server.key"),
    }
}

impl Prometheus {
    /// Starts Prometheus on `data` with `scrape_configs` (YAML under `scrape_configs:`,
    /// may be empty) and waits until it is ready.
    pub fn start(dir: &Path, data: &Path, scrape_configs: &str) -> Prometheus {
        Prometheus::start_with(dir, data, scrape_configs, None)
    }

    /// As [`Prometheus::start`], serving https with `tls`'s certificate.
    pub fn start_tls(dir: &Path, data: &Path, tls: &Tls) -> Prometheus {
        Prometheus::start_with(dir, data, "", Some(tls))
    }

    fn start_with(dir: &Path, data: &Path, scrape_configs: &str, tls: Option<&Tls>) -> Prometheus {
        let port = free_port();
        let config = dir.join("prometheus.yml");
        std::fs::write(
            &config,
            format!("global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n{scrape_configs}"),
        )
        .expect("write prometheus.yml");
        let log = dir.join("prometheus.log");
        let mut cmd = Command::new("prometheus");
        if let Some(t) = tls {
            let web = dir.join("web.yml");
            std::fs::write(
                &web,
                format!(
                    "tls_server_config:\n  cert_file: {}\n  key_file: {}\n",
                    t.cert.display(),
                    t.key.display()
                ),
            )
            .expect("write web.yml");
            cmd.arg(format!("--web.config.file={}", web.display()));
        }
        let child = cmd
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--storage.tsdb.path={}", data.display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--storage.tsdb.retention.time=30d")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("prometheus log"))
            .spawn()
            .expect("start prometheus");
        let scheme = if tls.is_some() { "https" } else { "http" };
        let p = Prometheus {
            child,
            url: format!("{scheme}://127.0.0.1:{port}"),
            log,
            ca: tls.map(|t| t.ca.clone()),
        };
        p.wait_ready(Duration::from_secs(60));
        p
    }

    fn wait_ready(&self, timeout: Duration) {
        let end = Instant::now() + timeout;
        while Instant::now() < end {
            if self.get("/-/ready").is_some_and(|(code, _)| code == 200) {
                return;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        panic!(
            "prometheus at {} not ready after {timeout:?}; its log:\n{}",
            self.url,
            std::fs::read_to_string(&self.log).unwrap_or_default()
        );
    }

    /// GET `path` (with its query string): the status and body, or `None` when the
    /// server does not answer.
    pub fn get(&self, path: &str) -> Option<(u16, String)> {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(10)))
            .tls_config(self.tls_config())
            .build()
            .into();
        let mut r = agent.get(format!("{}{path}", self.url)).call().ok()?;
        let code = r.status().as_u16();
        Some((code, r.body_mut().read_to_string().ok()?))
    }

    /// Trusts this server's CA, when it has one.
    fn tls_config(&self) -> ureq::tls::TlsConfig {
        let roots = match &self.ca {
            Some(ca) => {
                let pem = std::fs::read(ca).expect("read the test CA");
                let certs: Vec<_> = ureq::tls::parse_pem(&pem)
                    .filter_map(|i| match i {
                        Ok(ureq::tls::PemItem::Certificate(c)) => Some(c),
                        _ => None,
                    })
                    .collect();
                ureq::tls::RootCerts::new_with_certs(&certs)
            }
            None => ureq::tls::RootCerts::WebPki,
        };
        ureq::tls::TlsConfig::builder().root_certs(roots).build()
    }

    /// An instant query's result array.
    pub fn query(&self, promql: &str) -> Vec<serde_json::Value> {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(10)))
            .build()
            .into();
        let body = agent
            .get(format!("{}/api/v1/query", self.url))
            .query("query", promql)
            .call()
            .ok()
            .and_then(|mut r| r.body_mut().read_to_string().ok())
            .unwrap_or_default();
        let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
        v["data"]["result"].as_array().cloned().unwrap_or_default()
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
