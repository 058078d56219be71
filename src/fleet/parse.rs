//! Reading a `query_range` answer: Prometheus's JSON envelope (`status`, `data`,
//! `error`, `warnings`) into series of `(Unix seconds, value)`. Values arrive as strings
//! (`"1.5e6"`, `"NaN"`, `"+Inf"`); the ones that are not finite numbers are dropped and
//! counted, so a series with NaN gaps is judged on the rest.

use super::FleetError;
use serde::Deserialize;
use serde_json::value::RawValue;
use std::collections::BTreeMap;

/// Most series soak judges in one call; past it the error says how to narrow the query.
pub const MAX_SERIES: usize = 10_000;

/// One series as Prometheus returned it.
#[derive(Debug, Clone, PartialEq)]
pub struct RawSeries {
    /// Its labels, `__name__` included when the query kept it.
    pub labels: BTreeMap<String, String>,
    /// Sample times, Unix seconds, increasing.
    pub t: Vec<f64>,
    /// Values, finite.
    pub v: Vec<f64>,
    /// Values dropped because they were not finite numbers (NaN, ±Inf).
    pub dropped: usize,
}

/// A parsed answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Parsed {
    /// Every series.
    pub series: Vec<RawSeries>,
    /// Prometheus's warnings (e.g. a partial answer from a Thanos store), shown as they are.
    pub warnings: Vec<String>,
}

#[derive(Deserialize)]
struct Envelope<'a> {
    status: String,
    #[serde(borrow, default)]
    data: Option<Data<'a>>,
    #[serde(rename = "errorType", default)]
    error_type: Option<String>,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    warnings: Vec<String>,
}

#[derive(Deserialize)]
struct Data<'a> {
    #[serde(rename = "resultType")]
    result_type: String,
    #[serde(borrow)]
    result: &'a RawValue,
}

#[derive(Deserialize)]
struct Matrix<'a> {
    #[serde(default)]
    metric: BTreeMap<String, String>,
    #[serde(borrow, default)]
    values: Vec<(f64, &'a str)>,
}

/// Parses the body of an answer with HTTP `status` from `url`; `max_series` caps the
/// series kept.
pub fn parse_answer(
    status: u16,
    body: &str,
    url: &str,
    max_series: usize,
) -> Result<Parsed, FleetError> {
    let malformed = |detail: String| FleetError::Malformed {
        url: url.to_string(),
        detail,
    };
    let env: Envelope = match serde_json::from_str(body) {
        Ok(e) => e,
        Err(e) => {
            let head: String = body.chars().take(120).collect();
            return Err(malformed(if status == 200 {
                e.to_string()
            } else {
                format!("HTTP {status}: {}", head.trim())
            }));
        }
    };
    if env.status != "success" {
        let kind = env.error_type.unwrap_or_else(|| "error".into());
        let bad_input = matches!(kind.as_str(), "bad_data" | "execution");
        return Err(FleetError::Query {
            message: env
                .error
                .unwrap_or_else(|| format!("HTTP {status}, no error text")),
            kind,
            bad_input,
        });
    }
    let data = env
        .data
        .ok_or_else(|| malformed("a success without data".into()))?;
    if data.result_type != "matrix" {
        return Err(FleetError::NotMatrix(data.result_type));
    }
    let raw: Vec<Matrix> =
        serde_json::from_str(data.result.get()).map_err(|e| malformed(e.to_string()))?;
    if raw.len() > max_series {
        return Err(FleetError::TooLarge {
            what: format!(
                "{} series, soak judges at most {max_series} per call",
                raw.len()
            ),
        });
    }
    let series = raw.into_iter().map(convert).collect();
    Ok(Parsed {
        series,
        warnings: env.warnings,
    })
}

fn convert(m: Matrix<'_>) -> RawSeries {
    let mut t = Vec::with_capacity(m.values.len());
    let mut v = Vec::with_capacity(m.values.len());
    let mut dropped = 0;
    for (ts, s) in m.values {
        match s.parse::<f64>() {
            Ok(x) if x.is_finite() && ts.is_finite() => {
                t.push(ts);
                v.push(x);
            }
            _ => dropped += 1,
        }
    }
    RawSeries {
        labels: m.metric,
        t,
        v,
        dropped,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_matrix_with_nan_and_inf_values() {
        let body = r#"{"status":"success","data":{"resultType":"matrix","result":[
            {"metric":{"__name__":"m_bytes","pod":"a"},"values":[[1,"10"],[2,"NaN"],[3,"+Inf"],[4,"1e3"]]},
            {"metric":{},"values":[]}]},"warnings":["partial"]}"#;
        let p = parse_answer(200, body, "u", MAX_SERIES).unwrap();
        assert_eq!(p.series.len(), 2);
        assert_eq!(p.series[0].t, vec![1.0, 4.0]);
        assert_eq!(p.series[0].v, vec![10.0, 1000.0]);
        assert_eq!(p.series[0].dropped, 2);
        assert_eq!(p.series[0].labels["pod"], "a");
        assert_eq!(p.warnings, vec!["partial".to_string()]);
    }

    #[test]
    fn prometheus_errors_keep_their_text() {
        let body = r#"{"status":"error","errorType":"bad_data","error":"1:5: parse error: unexpected \")\""}"#;
        let e = parse_answer(400, body, "u", MAX_SERIES).unwrap_err();
        assert_eq!(e.exit_code(), 2);
        assert!(e.to_string().contains("parse error: unexpected"), "{e}");
        let e = parse_answer(503, "<html>busy</html>", "http://p/api", MAX_SERIES).unwrap_err();
        assert_eq!(e.exit_code(), 5);
        assert!(e.to_string().contains("HTTP 503"), "{e}");
    }

    #[test]
    fn not_a_matrix_and_too_many_series() {
        let body = r#"{"status":"success","data":{"resultType":"vector","result":[]}}"#;
        let e = parse_answer(200, body, "u", MAX_SERIES).unwrap_err();
        assert!(
            matches!(e, FleetError::NotMatrix(ref k) if k == "vector"),
            "{e}"
        );
        let body = r#"{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[]},{"metric":{},"values":[]}]}}"#;
        let e = parse_answer(200, body, "u", 1).unwrap_err();
        assert!(e.to_string().contains("label matcher"), "{e}");
    }
}
