//! Fleet speed: 1,000 series of 24 h at one-minute steps (1,441 points each, the shape of
//! `soak analyze --prometheus … --range 24h` on a staging fleet), a third leaking under a
//! GC sawtooth, a third steady, a third steady under a sawtooth. Prints, apart:
//! - parse: the equivalent `query_range` JSON body read into series (median of 5);
//! - judge: every series judged (median of 3), on all cores and on one;
//! - with `-- --prometheus` (needs prometheus and promtool): the same series backfilled
//!   into a real Prometheus, and the query's time (HTTP + Prometheus's own work,
//!   median of 3) measured apart from the parse.
//!
//! Run: `cargo bench --bench fleet_speed [-- --prometheus]`.

#![allow(clippy::unwrap_used)]

#[path = "../tests/common/prometheus.rs"]
#[allow(dead_code)]
mod prometheus;

use soak::config::{InconclusivePolicy, Limits};
use soak::fleet::{self, judge::judge_series, FleetRules, Origin, QueryRange};
use std::fmt::Write as _;
use std::time::{Duration, Instant};

const SERIES: usize = 1000;
const STEP: f64 = 60.0;
const POINTS: usize = 1441;
const END: f64 = 1_714_564_800.0;

fn value(i: usize, k: usize, rnd: &mut impl FnMut() -> f64) -> f64 {
    let h = k as f64 * STEP / 3600.0;
    let base = 100e6 + (i % 37) as f64 * 5e6;
    let noise = rnd() * 2e6;
    match i % 3 {
        0 => base + 2e6 * h + (h * 4.0).fract() * 30e6 + noise,
        1 => base + noise,
        _ => base + (h * 6.0).fract() * 40e6 + noise,
    }
}

fn rng() -> impl FnMut() -> f64 {
    let mut seed = 42u64;
    move || {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (seed >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
    }
}

/// The JSON body Prometheus would send for the fleet.
fn body(start: f64) -> String {
    let mut rnd = rng();
    let mut s = String::from(r#"{"status":"success","data":{"resultType":"matrix","result":["#);
    for i in 0..SERIES {
        if i > 0 {
            s.push(',');
        }
        write!(s, r#"{{"metric":{{"__name__":"container_memory_working_set_bytes","namespace":"staging","pod":"svc-{i}-7f9c","container":"app"}},"values":["#).unwrap();
        for k in 0..POINTS {
            if k > 0 {
                s.push(',');
            }
            write!(
                s,
                r#"[{},"{:.0}"]"#,
                start + k as f64 * STEP,
                value(i, k, &mut rnd)
            )
            .unwrap();
        }
        s.push_str("]}");
    }
    s.push_str("]}}");
    s
}

/// The same series as OpenMetrics, for promtool's backfill.
fn openmetrics(start: f64) -> String {
    let mut rnd = rng();
    let mut s = String::from("# TYPE container_memory_working_set_bytes gauge\n");
    for i in 0..SERIES {
        for k in 0..POINTS {
            writeln!(
                s,
                r#"container_memory_working_set_bytes{{namespace="staging",pod="svc-{i}-7f9c",container="app"}} {:.0} {}"#,
                value(i, k, &mut rnd),
                start + k as f64 * STEP
            )
            .unwrap();
        }
    }
    s.push_str("# EOF\n");
    s
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn rules() -> FleetRules {
    FleetRules {
        metric: None,
        warmup_s: None,
        limits: Limits {
            max_growth_rate: Some(soak::units::Rate::per_hour(1e6)),
            ..Default::default()
        },
        inconclusive: InconclusivePolicy::Exit3,
    }
}

fn main() {
    let with_prometheus = std::env::args().any(|a| a == "--prometheus");
    let range = QueryRange {
        start: END - 86400.0,
        end: END,
        step: STEP,
    };
    let b = body(range.start);
    let parse = median(
        (0..5)
            .map(|_| {
                let t = Instant::now();
                let p = fleet::parse_answer(200, &b, "bench", fleet::parse::MAX_SERIES).unwrap();
                assert_eq!(p.series.len(), SERIES);
                t.elapsed()
            })
            .collect(),
    );
    let parsed = fleet::parse_answer(200, &b, "bench", fleet::parse::MAX_SERIES).unwrap();
    let origin = Origin {
        prometheus: "bench".into(),
        query: "container_memory_working_set_bytes".into(),
        range,
        warnings: vec![],
    };
    let mut report = None;
    let judge = median(
        (0..3)
            .map(|_| {
                let t = Instant::now();
                report = Some(fleet::judge_fleet(
                    parsed.series.clone(),
                    origin.clone(),
                    &rules(),
                ));
                t.elapsed()
            })
            .collect(),
    );
    let t = Instant::now();
    for s in &parsed.series {
        std::hint::black_box(judge_series(s, &rules(), &range));
    }
    let one_core = t.elapsed();
    let r = report.unwrap();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "fleet_speed: {SERIES} series x {POINTS} points (24 h at 1 min), body {:.1} MB",
        b.len() as f64 / 1e6
    );
    println!("  parse (JSON body -> series), median of 5: {parse:.2?}");
    println!("  judge every series, median of 3:          {judge:.2?} on {cores} cores; {one_core:.2?} on one ({:.2} ms per series)", one_core.as_secs_f64() * 1e3 / SERIES as f64);
    println!(
        "  verdicts: {} FAIL, {} INCONCLUSIVE, {} PASS (a third leak 2 MB/h under a sawtooth; limit 1 MB/h)",
        r.counts.fail, r.counts.inconclusive, r.counts.pass
    );
    if with_prometheus {
        query_real_prometheus();
    }
}

/// Backfills the fleet into a real Prometheus and times the range query itself.
fn query_real_prometheus() {
    let now = chrono::Utc::now().timestamp() as f64;
    let end = now - now % 60.0 - 120.0;
    let range = QueryRange {
        start: end - 86400.0,
        end,
        step: STEP,
    };
    let dir = tempfile::tempdir().unwrap();
    let om = dir.path().join("fleet.om");
    std::fs::write(&om, openmetrics(range.start)).unwrap();
    let data = dir.path().join("data");
    let t = Instant::now();
    prometheus::backfill(&om, &data);
    println!(
        "  backfill (promtool, not part of a query): {:.1?}",
        t.elapsed()
    );
    let prom = prometheus::Prometheus::start(dir.path(), &data, "");
    let client =
        fleet::Client::new(&prom.url, fleet::Auth::None, Duration::from_secs(120)).unwrap();
    let q = "container_memory_working_set_bytes";
    let mut bytes = 0;
    let query = median(
        (0..3)
            .map(|_| {
                let t = Instant::now();
                let a = client.query_range(q, &range).unwrap();
                let e = t.elapsed();
                bytes = a.body.len();
                let p = fleet::parse_answer(a.status, &a.body, &a.url, fleet::parse::MAX_SERIES)
                    .unwrap();
                assert_eq!(p.series.len(), SERIES);
                e
            })
            .collect(),
    );
    println!(
        "  query_range against prometheus (HTTP + server), median of 3: {query:.2?} ({:.1} MB answer)",
        bytes as f64 / 1e6
    );
}
