//! The fleet: `soak analyze --prometheus URL --query PROMQL` judges every series a range
//! query returns with the same engine as a soak's timeline. The path, one file each:
//! the range and step ([`range`]), the HTTP request ([`client`]), the answer's JSON
//! ([`parse`]), what each series is before it is judged (counters, restarts, gaps:
//! [`shape`]), the judgement ([`judge`]), the report model ([`model`]) and its
//! renderings (the terminal table in [`text`], files in [`export`]).

pub mod client;
mod error;
pub mod export;
pub mod judge;
pub mod model;
pub mod parse;
pub mod range;
mod rows;
pub mod shape;
pub mod text;

pub use client::{Auth, Client};
pub use error::FleetError;
pub use judge::{judge_fleet, FleetRules, Origin};
pub use model::{FleetReport, SeriesResult};
pub use parse::{parse_answer, RawSeries};
pub use range::QueryRange;
