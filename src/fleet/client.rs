//! The HTTP side of a fleet query: one `POST /api/v1/query_range` (a form body, so a long
//! PromQL expression never meets a URL length limit) with timeouts, TLS through rustls,
//! credentials from the environment only (a token on the command line would sit in
//! shell history and in `ps`), and a cap on the bytes read.

use super::{FleetError, QueryRange};
use std::time::Duration;

/// Bearer token for the server (Grafana Cloud, Mimir, an auth proxy).
pub const ENV_TOKEN: &str = "SOAK_PROMETHEUS_TOKEN";
/// User for basic auth, with [`ENV_PASSWORD`].
pub const ENV_USER: &str = "SOAK_PROMETHEUS_USER";
/// Password for basic auth.
pub const ENV_PASSWORD: &str = "SOAK_PROMETHEUS_PASSWORD";
/// A PEM file of the certificate authorities to trust for an https:// server instead of
/// the Mozilla roots (a private CA, as in most internal Prometheus setups).
pub const ENV_CA: &str = "SOAK_PROMETHEUS_CA";

/// Largest answer soak reads: about 4,000 series of a day at one-minute steps. Beyond it
/// the parsed series would cost gigabytes; the error says how to narrow the query.
pub const MAX_BODY_BYTES: u64 = 256 * 1024 * 1024;

/// How long to wait for the TCP (and TLS) connection.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How a request authenticates.
#[derive(Clone, PartialEq, Eq)]
pub enum Auth {
    /// No credentials.
    None,
    /// `Authorization: Bearer TOKEN`.
    Bearer(String),
    /// `Authorization: Basic base64(user:password)`.
    Basic {
        /// The user.
        user: String,
        /// The password.
        password: String,
    },
}

impl std::fmt::Debug for Auth {
    // Never print a secret, even in a debug dump.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Auth::None => f.write_str("None"),
            Auth::Bearer(_) => f.write_str("Bearer(…)"),
            Auth::Basic { user, .. } => write!(f, "Basic({user}:…)"),
        }
    }
}

impl Auth {
    /// The credentials the environment gives; a token wins over basic auth.
    pub fn from_env() -> Result<Auth, FleetError> {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        if let Some(t) = var(ENV_TOKEN) {
            return Ok(Auth::Bearer(t));
        }
        match (var(ENV_USER), var(ENV_PASSWORD)) {
            (Some(user), Some(password)) => Ok(Auth::Basic { user, password }),
            (None, None) => Ok(Auth::None),
            _ => Err(FleetError::Usage(format!(
                "basic auth needs both {ENV_USER} and {ENV_PASSWORD}"
            ))),
        }
    }

    fn header(&self) -> Option<String> {
        use base64::Engine;
        match self {
            Auth::None => None,
            Auth::Bearer(t) => Some(format!("Bearer {t}")),
            Auth::Basic { user, password } => Some(format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
            )),
        }
    }
}

/// A Prometheus-compatible server.
#[derive(Debug, Clone)]
pub struct Client {
    base: String,
    auth: Auth,
    timeout: Duration,
    /// The roots an https:// server's certificate must chain to.
    roots: ureq::tls::RootCerts,
}

/// A raw answer: the HTTP status and the body.
#[derive(Debug)]
pub struct Answer {
    /// HTTP status.
    pub status: u16,
    /// The body (JSON from a Prometheus-compatible server).
    pub body: String,
    /// The URL asked.
    pub url: String,
}

impl Client {
    /// A client for the server at `url` (`http://host:9090`, or with a path prefix such
    /// as `https://mimir.example/prometheus`); `timeout` bounds the whole request.
    pub fn new(url: &str, auth: Auth, timeout: Duration) -> Result<Client, FleetError> {
        let base = url.trim().trim_end_matches('/').to_string();
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(FleetError::Usage(format!(
                "--prometheus '{url}' is not an http:// or https:// URL"
            )));
        }
        if base.contains('@') && base.split('/').nth(2).is_some_and(|h| h.contains('@')) {
            return Err(FleetError::Usage(format!(
                "--prometheus must not carry credentials: set {ENV_TOKEN}, or {ENV_USER} and {ENV_PASSWORD}"
            )));
        }
        Ok(Client {
            base,
            auth,
            timeout,
            roots: roots_from_env()?,
        })
    }

    /// The server's URL as given, without a trailing slash.
    pub fn url(&self) -> &str {
        &self.base
    }

    /// Runs `query` over `range`; the answer is returned whatever its status, so the
    /// caller can show Prometheus's own error text.
    pub fn query_range(&self, query: &str, range: &QueryRange) -> Result<Answer, FleetError> {
        let url = format!("{}/api/v1/query_range", self.base);
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_connect(Some(CONNECT_TIMEOUT))
            .timeout_global(Some(self.timeout))
            .http_status_as_error(false)
            .user_agent(concat!("soak/", env!("CARGO_PKG_VERSION")))
            .tls_config(
                ureq::tls::TlsConfig::builder()
                    .root_certs(self.roots.clone())
                    .build(),
            )
            .build()
            .into();
        let mut req = agent.post(&url).header("Accept", "application/json");
        if let Some(h) = self.auth.header() {
            req = req.header("Authorization", h);
        }
        let (start, end, step) = (
            format!("{:.3}", range.start),
            format!("{:.3}", range.end),
            format!("{}", range.step),
        );
        let timeout = format!("{}s", self.timeout.as_secs().max(1));
        let form = [
            ("query", query),
            ("start", &start),
            ("end", &end),
            ("step", &step),
            ("timeout", &timeout),
        ];
        let unreachable = |detail: String| FleetError::Unreachable {
            url: url.clone(),
            detail,
        };
        let mut resp = req.send_form(form).map_err(|e| unreachable(describe(&e)))?;
        let status = resp.status().as_u16();
        if status == 401 || status == 403 {
            return Err(FleetError::Unauthorized {
                url: url.clone(),
                status,
            });
        }
        let body = resp
            .body_mut()
            .with_config()
            .limit(MAX_BODY_BYTES)
            .read_to_string()
            .map_err(|e| match e {
                ureq::Error::BodyExceedsLimit(_) => FleetError::TooLarge {
                    what: format!("over {} MiB", MAX_BODY_BYTES / (1024 * 1024)),
                },
                e => unreachable(format!("reading the answer: {}", describe(&e))),
            })?;
        Ok(Answer { status, body, url })
    }
}

/// ureq's error in the words a user acts on.
fn describe(e: &ureq::Error) -> String {
    match e {
        ureq::Error::Timeout(t) => format!("timed out ({t}); a heavy query may need --timeout"),
        ureq::Error::HostNotFound => "host not found".into(),
        ureq::Error::ConnectionFailed => "connection failed".into(),
        ureq::Error::Io(io) => io.to_string(),
        e => e.to_string(),
    }
}

/// The Mozilla roots, or the certificates of the PEM file [`ENV_CA`] names.
fn roots_from_env() -> Result<ureq::tls::RootCerts, FleetError> {
    let Some(path) = std::env::var_os(ENV_CA).filter(|p| !p.is_empty()) else {
        return Ok(ureq::tls::RootCerts::WebPki);
    };
    let shown = std::path::Path::new(&path).display().to_string();
    let pem = std::fs::read(&path)
        .map_err(|e| FleetError::Usage(format!("{ENV_CA}={shown}: cannot read it: {e}")))?;
    let certs: Vec<ureq::tls::Certificate<'static>> = ureq::tls::parse_pem(&pem)
        .filter_map(|item| match item {
            Ok(ureq::tls::PemItem::Certificate(c)) => Some(c.to_owned()),
            _ => None,
        })
        .collect();
    if certs.is_empty() {
        return Err(FleetError::Usage(format!(
            "{ENV_CA}={shown} holds no PEM certificate (-----BEGIN CERTIFICATE-----)"
        )));
    }
    Ok(ureq::tls::RootCerts::new_with_certs(&certs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_must_be_http_and_carry_no_credentials() {
        let t = Duration::from_secs(5);
        assert!(Client::new("localhost:9090", Auth::None, t).is_err());
        let e = Client::new("https://u:p@prom.example", Auth::None, t).unwrap_err();
        assert!(e.to_string().contains(ENV_TOKEN), "{e}");
        let c = Client::new("https://prom.example/prometheus/", Auth::None, t).unwrap();
        assert_eq!(c.url(), "https://prom.example/prometheus");
    }

    #[test]
    fn basic_auth_header_and_debug_hide_the_secret() {
        let a = Auth::Basic {
            user: "ops".into(),
            password: "s3cret".into(),
        };
        assert_eq!(a.header().unwrap(), "Basic b3BzOnMzY3JldA==");
        assert!(!format!("{a:?}").contains("s3cret"));
        assert!(!format!("{:?}", Auth::Bearer("tok".into())).contains("tok"));
    }
}
