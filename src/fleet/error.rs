//! What can stop `soak analyze --prometheus` before any series is judged, each a one-line
//! message that says what to do, and the exit code it maps to (DESIGN.md's contract):
//! a question the user must change (bad PromQL, nothing matched, too much matched) is
//! bad input (2); a server soak could not read (unreachable, refused credentials, a
//! malformed answer) is a monitor error (5).

use crate::error::exit_code;

/// Why a fleet query failed.
#[derive(Debug, thiserror::Error)]
pub enum FleetError {
    /// The arguments cannot form a query (a bad time, a step of zero, a bad URL).
    #[error("{0}")]
    Usage(String),
    /// The server could not be reached or did not answer in time.
    #[error("cannot reach Prometheus at {url}: {detail}")]
    Unreachable {
        /// The URL asked (no credentials are ever in it).
        url: String,
        /// What went wrong (connection refused, timeout, TLS).
        detail: String,
    },
    /// The server refused the credentials (HTTP 401/403).
    #[error("Prometheus at {url} refused the request (HTTP {status}): set SOAK_PROMETHEUS_TOKEN, or SOAK_PROMETHEUS_USER and SOAK_PROMETHEUS_PASSWORD")]
    Unauthorized {
        /// The URL asked.
        url: String,
        /// 401 or 403.
        status: u16,
    },
    /// Prometheus rejected the query; `message` is its own `error` text.
    #[error("Prometheus rejected the query ({kind}): {message}")]
    Query {
        /// Prometheus's `errorType` (bad_data, execution, timeout, …).
        kind: String,
        /// Prometheus's `error`.
        message: String,
        /// Whether the fault is the query's (bad_data, execution) rather than the server's.
        bad_input: bool,
    },
    /// The query matched no series over the range.
    #[error("the query matched no series between {start} and {end}: check the metric name and label matchers (try it in the Prometheus UI), or widen --start/--end")]
    Empty {
        /// Range start, RFC 3339.
        start: String,
        /// Range end, RFC 3339.
        end: String,
    },
    /// The answer is over soak's cap on bytes or series.
    #[error("the answer is too large ({what}): narrow the query with a label matcher (e.g. {{namespace=\"staging\"}}), shorten the range, or use a larger --step")]
    TooLarge {
        /// Which cap, with the figures.
        what: String,
    },
    /// The answer is not a range vector.
    #[error("Prometheus answered a {0} result, not a matrix: query_range needs an instant-vector expression (no [5m] range selector at the outer level)")]
    NotMatrix(String),
    /// The answer could not be read as Prometheus's API JSON.
    #[error("cannot read the answer of {url} as the Prometheus API: {detail} (is this a Prometheus-compatible server?)")]
    Malformed {
        /// The URL asked.
        url: String,
        /// The parse error.
        detail: String,
    },
}

impl FleetError {
    /// The exit code this error ends `soak analyze` with.
    pub fn exit_code(&self) -> i32 {
        match self {
            FleetError::Usage(_)
            | FleetError::Empty { .. }
            | FleetError::TooLarge { .. }
            | FleetError::NotMatrix(_) => exit_code::USAGE,
            FleetError::Query { bad_input, .. } => {
                if *bad_input {
                    exit_code::USAGE
                } else {
                    exit_code::MONITOR_ERROR
                }
            }
            FleetError::Unreachable { .. }
            | FleetError::Unauthorized { .. }
            | FleetError::Malformed { .. } => exit_code::MONITOR_ERROR,
        }
    }
}
