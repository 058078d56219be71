//! `soak analyze --prometheus URL --query PROMQL`: the range query, every series judged,
//! the summary on stdout (the table, or the fleet JSON), the files of `--out`, and the
//! worst series' exit code.

use super::{PrometheusArgs, Verdict};
use crate::config::Format;
use crate::console;
use crate::error::{Error, Result};
use crate::fleet::{self, Auth, Client, FleetError, FleetRules, Origin, QueryRange};
use std::time::Duration;

/// How long the server has for the query by default, and soak for the whole request.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// Runs the query and judges every series; returns the exit code.
pub(super) fn analyze_prometheus(
    p: &PrometheusArgs,
    verdict: &Verdict,
    metric_given: Option<&str>,
) -> Result<i32> {
    let (Some(url), Some(query)) = (p.prometheus.as_deref(), p.query.as_deref()) else {
        return Err(Error::Usage(
            "--prometheus needs --query (a PromQL expression)".into(),
        ));
    };
    let now = chrono::Utc::now().timestamp_millis() as f64 / 1000.0;
    let range = QueryRange::resolve(
        p.start.as_deref(),
        p.end.as_deref(),
        p.range.as_deref(),
        p.step.as_deref(),
        now,
    )?;
    let client = Client::new(url, Auth::from_env()?, p.timeout.unwrap_or(DEFAULT_TIMEOUT))?;
    let answer = client.query_range(query, &range)?;
    let max_series = p.max_series.unwrap_or(fleet::parse::MAX_SERIES);
    let parsed = fleet::parse_answer(answer.status, &answer.body, &answer.url, max_series)?;
    drop(answer);
    if parsed.series.is_empty() {
        return Err(FleetError::Empty {
            start: fleet::range::rfc3339(range.start),
            end: fleet::range::rfc3339(range.end),
        }
        .into());
    }
    let rules = FleetRules {
        metric: metric_given.map(str::to_string),
        warmup_s: verdict.warmup.map(|w| w.as_secs_f64()),
        limits: verdict.limits.clone(),
        inconclusive: verdict.inconclusive,
    };
    let origin = Origin {
        prometheus: client.url().to_string(),
        query: query.to_string(),
        range,
        warnings: parsed.warnings,
    };
    let report = fleet::judge_fleet(parsed.series, origin, &rules);
    match verdict.format {
        Format::Text => console::out(&fleet::text::summary(&report)),
        Format::Json => console::out_line(&fleet::export::to_json(&report)),
    }
    if let Some(dir) = &p.out {
        let files = fleet::export::write_all(&report, dir)?;
        console::err_line(&format!(
            "soak: fleet report in {} ({} files)",
            dir.display(),
            files.len()
        ));
    }
    super::commands::append_step_summary(&fleet::export::to_markdown(&report));
    Ok(report.exit_code)
}
