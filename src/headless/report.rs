//! Run reports: the JSON report (expectations, per-asset index summaries, downsampled time series) and the
//! JUnit XML that CI servers read. Nothing in them depends on the wall clock, so equal runs give equal bytes.

use std::collections::BTreeMap;

use bevy::prelude::World;
use serde::Serialize;

use super::ExpectationResult;
use crate::scenario::{Index, Scenario};
use crate::twin::read_index;

/// Summary of one index over the run.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Summary {
    pub min: f64,
    pub max: f64,
    pub mean: f64,
    pub last: f64,
}

/// One asset's indices.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct AssetReport {
    pub id: String,
    pub kind: String,
    /// Summary per index key (e.g. "bearing_wear").
    pub indices: BTreeMap<String, Summary>,
}

/// One recorded series.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Series {
    pub asset: String,
    pub index: String,
    pub values: Vec<f64>,
}

/// The whole report of a headless run.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Report {
    pub scenario: String,
    /// The sweep case this run is, for a scenario with a `sweep`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sweep: Option<crate::scenario::SweepCase>,
    pub seed: u64,
    pub model_step_s: f64,
    pub steps: u64,
    pub duration_s: f64,
    pub passed: bool,
    pub expectations: Vec<ExpectationResult>,
    /// Every ingestion outcome counted by reason, with channel drops and the messages taken.
    pub ingest: BTreeMap<String, u64>,
    /// The same outcomes per signal id.
    pub ingest_by_signal: BTreeMap<String, BTreeMap<String, u64>>,
    /// Sources that misbehaved, by name (see `Ingestor::diagnostics`); absent when none did.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub diagnostics: Vec<String>,
    /// How telemetry was merged with the models: counters, revised spans, prediction errors.
    pub sync: crate::assess::Report,
    pub assets: Vec<AssetReport>,
    /// Sample times of every series, s.
    pub t_s: Vec<f64>,
    pub series: Vec<Series>,
}

impl Report {
    /// Pretty JSON with a trailing newline.
    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
        s.push('\n');
        s
    }

    /// The number of expectations that failed.
    pub fn failures(&self) -> usize {
        self.expectations.iter().filter(|e| !e.passed).count()
    }
}

/// Collects the index series of every asset at the record points.
pub struct Recorder {
    /// (asset id, kind, index) for every index the asset's kind carries.
    keys: Vec<(String, String, Index)>,
    t_s: Vec<f64>,
    values: Vec<Vec<f64>>,
}

impl Recorder {
    pub fn new(s: &Scenario) -> Self {
        let keys: Vec<_> = s
            .assets
            .iter()
            .flat_map(|a| Index::of_kind(a.kind.name()).map(move |i| (a.id.clone(), a.kind.name().to_owned(), i)))
            .collect();
        let values = vec![Vec::new(); keys.len()];
        Self { keys, t_s: Vec::new(), values }
    }

    pub fn record(&mut self, world: &World, t_s: f64) {
        self.t_s.push(t_s);
        for ((id, _, index), series) in self.keys.iter().zip(&mut self.values) {
            series.push(read_index(world, id, *index).map_or(f64::NAN, finite_or_max));
        }
    }

    pub fn into_report(
        self,
        s: &Scenario,
        seed: u64,
        step_s: f64,
        steps: u64,
        expectations: Vec<ExpectationResult>,
    ) -> Report {
        let mut assets: Vec<AssetReport> = Vec::new();
        let mut series = Vec::new();
        for ((id, kind, index), values) in self.keys.into_iter().zip(self.values) {
            let summary = summarise(&values);
            if assets.last().is_none_or(|a| a.id != id) {
                assets.push(AssetReport { id: id.clone(), kind, indices: BTreeMap::new() });
            }
            if let Some(a) = assets.last_mut() {
                a.indices.insert(index.key().to_owned(), summary);
            }
            series.push(Series { asset: id, index: index.key().to_owned(), values });
        }
        Report {
            scenario: s.name.clone(),
            sweep: None,
            seed,
            model_step_s: step_s,
            steps,
            duration_s: steps as f64 * step_s,
            passed: expectations.iter().all(|e| e.passed),
            expectations,
            ingest: BTreeMap::new(),
            ingest_by_signal: BTreeMap::new(),
            diagnostics: Vec::new(),
            sync: Default::default(),
            assets,
            t_s: self.t_s,
            series,
        }
    }
}

/// JSON has no infinity: an unbounded value (an infinite remaining life) is reported as f64::MAX.
fn finite_or_max(v: f64) -> f64 {
    if v.is_infinite() { f64::MAX.copysign(v) } else { v }
}

fn summarise(v: &[f64]) -> Summary {
    let finite: Vec<f64> = v.iter().copied().filter(|x| x.is_finite()).collect();
    if finite.is_empty() {
        return Summary { min: 0.0, max: 0.0, mean: 0.0, last: 0.0 };
    }
    Summary {
        min: finite.iter().copied().fold(f64::INFINITY, f64::min),
        max: finite.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        mean: finite.iter().sum::<f64>() / finite.len() as f64,
        last: *finite.last().unwrap_or(&0.0),
    }
}

/// Writes JUnit XML to `path`: one test case per expectation of each run, one case in error for a scenario that
/// could not be run.
pub fn write_junit(path: &std::path::Path, suites: &[Suite<'_>]) -> std::io::Result<()> {
    let file = std::io::BufWriter::new(std::fs::File::create(path)?);
    junit_report(suites).serialize(file).map_err(std::io::Error::other)
}

/// One test suite of a JUnit file.
pub enum Suite<'a> {
    /// A run: one test case per expectation.
    Run(&'a Report),
    /// A scenario that could not be run (bad input): one test case in error.
    Error { name: &'a str, message: &'a str },
}

/// The JUnit report of `suites` (a run, a batch, or a sweep's cases), with no wall-clock time in it, so that
/// equal runs give equal bytes.
pub fn junit_report(suites: &[Suite<'_>]) -> quick_junit::Report {
    use quick_junit::{NonSuccessKind, TestCase, TestCaseStatus, TestSuite};
    let mut report = quick_junit::Report::new("twin");
    for s in suites {
        match s {
            Suite::Run(r) => {
                let mut suite = TestSuite::new(r.scenario.as_str());
                for e in &r.expectations {
                    let status = if e.passed {
                        TestCaseStatus::success()
                    } else {
                        let mut f = TestCaseStatus::non_success(NonSuccessKind::Failure);
                        f.set_message(e.message.as_str());
                        f
                    };
                    let mut case = TestCase::new(e.expectation.as_str(), status);
                    case.set_classname(r.scenario.as_str());
                    suite.add_test_case(case);
                }
                report.add_test_suite(suite);
            }
            Suite::Error { name, message } => {
                let mut status = TestCaseStatus::non_success(NonSuccessKind::Error);
                status.set_message(*message);
                let mut case = TestCase::new("load and run", status);
                case.set_classname(*name);
                let mut suite = TestSuite::new(*name);
                suite.add_test_case(case);
                report.add_test_suite(suite);
            }
        }
    }
    report
}
