//! Fleet histories (`twin fleet`): the virtual plant's pump run to failure many times over, each time under other
//! hidden conditions, written as run-to-failure histories in one documented columnar layout (CSV or Parquet) that
//! the pace model is trained on (`scripts/train_pace.py`); and the same layout read from two public run-to-failure
//! datasets' files ([`ims`], [`femto`]).
//!
//! Each pump of a fleet is the scenario's pump (the first, or `--asset`) alone with its motor and tank, its own
//! plant seed (so its own hidden factors and bearing growth rate) and conditions drawn from the fleet's seed: the
//! site's mean ambient temperature, the speed it runs at, and when a defect at the initiation severity appears. The
//! plant runs without telemetry (the physics and the truth only) until the bearing fails or `max_days` pass; a row
//! is the truth once a minute.

pub mod femto;
pub mod ims;

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use parquet::basic::Compression;
use parquet::data_type::{ByteArray, ByteArrayType, DoubleType};
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::parser::parse_message_type;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use twin_models::degradation;

use crate::plant::VirtualPlant;
use crate::scenario::{AssetKind, Dur, FaultSpec, Scenario, SetpointTarget};
use crate::store::export::ExportFormat;

/// The history columns after `pump`, in order (all numbers; empty in CSV and NaN in Parquet where a source has
/// no such reading).
pub const HISTORY_COLUMNS: [&str; 9] = [
    "t_s",
    "speed_rpm",
    "flow_m3h",
    "motor_current_a",
    "winding_temp_c",
    "vib_rms",
    "vib_peak",
    "crest_factor",
    "growth_factor",
];
/// The summary columns (`pumps.csv`), in order.
pub const PUMP_COLUMNS: [&str; 15] = [
    "pump",
    "source",
    "vib_unit",
    "rated_speed_rpm",
    "rated_current_a",
    "ambient_mean_c",
    "speed_setpoint_rpm",
    "onset_s",
    "onset_severity",
    "failure_s",
    "life_h",
    "rows",
    "hidden_own_growth_rate_per_h",
    "hidden_unbalance_factor",
    "hidden_mean_bearing_temp_c",
];
/// Range of a fleet pump's site mean ambient temperature, °C.
pub const AMBIENT_RANGE_C: (f64, f64) = (0.0, 45.0);
/// Range of a fleet pump's running speed, share of its rated speed.
pub const SPEED_RANGE: (f64, f64) = (0.9, 1.0);
/// Range of the defect's onset after the start, s.
pub const ONSET_RANGE_S: (f64, f64) = (2.0 * 3600.0, 6.0 * 3600.0);
/// Seconds between two history rows.
pub const ROW_PERIOD_S: f64 = 60.0;

/// Why fleet histories could not be written or read.
#[derive(Debug, thiserror::Error)]
pub enum FleetError {
    /// The scenario has no such pump (or none at all).
    #[error("{0}")]
    Scenario(String),
    /// The virtual plant refused the scenario.
    #[error(transparent)]
    Plant(#[from] crate::plant::PlantError),
    /// A file could not be written or read.
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    /// CSV output failed.
    #[error("{}: {source}", path.display())]
    Csv { path: PathBuf, source: csv::Error },
    /// Parquet output failed.
    #[error("{}: {source}", path.display())]
    Parquet { path: PathBuf, source: parquet::errors::ParquetError },
    /// A dataset file has a row that cannot be read.
    #[error("{}:{line}: {message}", file.display())]
    BadRow { file: PathBuf, line: usize, message: String },
    /// A dataset directory holds nothing to read.
    #[error("{}: {message}", dir.display())]
    Empty { dir: PathBuf, message: String },
}

/// One run-to-failure history's summary (a row of `pumps.csv`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PumpSummary {
    /// Name, unique in the fleet.
    pub pump: String,
    /// Where it comes from ("virtual plant seed 123", "IMS", "FEMTO").
    pub source: String,
    /// Unit of `vib_rms` and `vib_peak` ("mm/s" velocity, "g" acceleration).
    pub vib_unit: String,
    /// Rated speed, rpm (NaN: unknown).
    pub rated_speed_rpm: f64,
    /// Motor rated current, A (NaN: unknown).
    pub rated_current_a: f64,
    /// Site mean ambient temperature, °C (NaN: unknown).
    pub ambient_mean_c: f64,
    /// Speed it ran at, rpm (NaN: unknown).
    pub speed_setpoint_rpm: f64,
    /// When the defect appeared, s (NaN: unknown).
    pub onset_s: f64,
    /// The defect's severity then, 0..1 (NaN: unknown).
    pub onset_severity: f64,
    /// When the bearing failed, s (None: not within the run, censored).
    pub failure_s: Option<f64>,
    /// History rows.
    pub rows: u64,
    /// Hidden truth (virtual plant only, never a training input): the bearing's own growth rate at the rated
    /// point and the lubricant's reference temperature, 1/h.
    pub hidden_own_growth_rate_per_h: f64,
    /// Hidden truth: the rotor's unbalance, true / nominal.
    pub hidden_unbalance_factor: f64,
    /// Hidden truth: the bearing's mean temperature over the defect's growth, °C.
    pub hidden_mean_bearing_temp_c: f64,
}

/// One history row: [`HISTORY_COLUMNS`] in order.
pub type Row = [f64; 9];

/// One pump's conditions in a fleet.
#[derive(Debug, Clone, PartialEq)]
pub struct FleetPump {
    /// The scenario it runs (the base scenario's pump alone, with its conditions and defect).
    pub scenario: Scenario,
    /// The plant's seed (its hidden factors and growth rate).
    pub plant_seed: u64,
    /// The pump's asset id in the scenario.
    pub asset: String,
    /// Summary fields known before it runs.
    pub summary: PumpSummary,
}

/// The `k`-th pump of the fleet with seed `seed` built on `base` (its pump `asset`, or the first pump).
pub fn fleet_pump(base: &Scenario, asset: Option<&str>, seed: u64, k: usize) -> Result<FleetPump, FleetError> {
    let pump = match asset {
        Some(id) => base.asset(id).filter(|a| matches!(a.kind, AssetKind::CentrifugalPump(_))),
        None => base.assets.iter().find(|a| matches!(a.kind, AssetKind::CentrifugalPump(_))),
    }
    .ok_or_else(|| {
        FleetError::Scenario(match asset {
            Some(id) => format!("the scenario has no pump \"{id}\""),
            None => "the scenario has no pump".into(),
        })
    })?;
    let AssetKind::CentrifugalPump(params) = &pump.kind else { unreachable!("filtered on pumps") };
    let id = pump.id.clone();
    // The pump, what it depends on (its motor and tank), nothing else.
    let keep: Vec<String> = std::iter::once(id.clone()).chain(pump.depends_on.iter().cloned()).collect();
    let mut s = base.clone();
    s.assets.retain(|a| keep.contains(&a.id));
    s.signals.retain(|g| keep.contains(&g.asset));
    s.setpoints.retain(|p| p.asset == id);
    s.expect.clear();
    s.sweep = None;
    s.publish = None;

    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ (k as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15));
    let mut draw = |(lo, hi): (f64, f64)| lo + (hi - lo) * rng.random::<f64>();
    let ambient = draw(AMBIENT_RANGE_C);
    let mut speed = params.rated_speed_rpm * draw(SPEED_RANGE);
    let onset = draw(ONSET_RANGE_S).round();
    let plant_seed = rng.random::<u64>() >> 12;
    s.simulation.ambient.mean_c = ambient;
    for sp in s.setpoints.iter_mut().filter(|p| p.target == SetpointTarget::Speed) {
        let c =
            sp.target.quantity().converter(&sp.unit).ok_or_else(|| {
                FleetError::Scenario(format!("set-point \"{}\": unknown unit \"{}\"", sp.id, sp.unit))
            })?;
        speed = speed.clamp(c.to_canonical(sp.min), c.to_canonical(sp.max));
        sp.initial = c.from_canonical(speed);
    }
    s.faults = vec![FaultSpec::BearingDefect {
        asset: id.clone(),
        onset: Dur::from_secs(onset),
        severity: degradation::INITIAL_SEVERITY,
    }];
    let rated_current_a = s
        .assets
        .iter()
        .find_map(|a| match &a.kind {
            AssetKind::Motor(m) if pump.depends_on.contains(&a.id) => Some(m.rated_current_a),
            _ => None,
        })
        .unwrap_or(f64::NAN);
    let summary = PumpSummary {
        pump: format!("fleet-{k:04}"),
        source: format!("virtual plant seed {plant_seed}"),
        vib_unit: "mm/s".into(),
        rated_speed_rpm: params.rated_speed_rpm,
        rated_current_a,
        ambient_mean_c: ambient,
        speed_setpoint_rpm: speed,
        onset_s: onset,
        onset_severity: degradation::INITIAL_SEVERITY,
        ..PumpSummary::default()
    };
    Ok(FleetPump { scenario: s, plant_seed, asset: id, summary })
}

/// Runs one fleet pump to failure (or `max_s`): its summary and its rows, one a minute.
pub fn run_pump(p: &FleetPump, max_s: f64) -> Result<(PumpSummary, Vec<Row>), FleetError> {
    let mut plant = VirtualPlant::new(&p.scenario, p.plant_seed)?.without_telemetry();
    let mut summary = p.summary.clone();
    let mut rows = Vec::new();
    let (mut temp_sum, mut temp_n) = (0.0, 0u64);
    while plant.now_s() < max_s - 1e-9 {
        plant.advance(ROW_PERIOD_S);
        let truth = plant.truth();
        let Some(t) = truth.pump(&p.asset) else { break };
        let o = &t.outputs;
        rows.push([
            plant.now_s(),
            o.speed_rpm,
            o.flow_m3h,
            o.motor_current_a,
            t.state.winding_temp_c,
            o.vib_rms_mm_s,
            o.vib_peak_mm_s,
            o.crest_factor,
            t.growth_factor,
        ]);
        if t.defect_severity > 0.0 && t.failed_at_s.is_none() {
            temp_sum += t.state.bearing_temp_c;
            temp_n += 1;
        }
        summary.hidden_own_growth_rate_per_h = t.defect_own_growth_rate_per_h;
        summary.hidden_unbalance_factor = t.factors.unbalance;
        if let Some(at) = t.failed_at_s {
            summary.failure_s = Some(at);
            break;
        }
    }
    summary.hidden_mean_bearing_temp_c = if temp_n > 0 { temp_sum / temp_n as f64 } else { f64::NAN };
    summary.rows = rows.len() as u64;
    Ok((summary, rows))
}

/// Where and how a fleet is written.
#[derive(Debug, Clone)]
pub struct FleetOptions {
    /// Pumps in the fleet.
    pub pumps: usize,
    /// The fleet's seed (conditions and plant seeds).
    pub seed: u64,
    /// The pump of the scenario to run (the first pump when none).
    pub asset: Option<String>,
    /// Longest run of one pump, s.
    pub max_s: f64,
    /// The output directory.
    pub output: PathBuf,
    /// CSV or Parquet histories (the summary is always CSV).
    pub format: ExportFormat,
    /// Pumps run at once.
    pub jobs: usize,
    /// The command line, recorded in `fleet.json` (the model's training fleet).
    pub command: String,
}

/// Runs the fleet and writes `pumps.csv`, `histories.csv` or `histories.parquet`, and `fleet.json` into the output
/// directory. Returns the summaries, in pump order.
pub fn write_fleet(base: &Scenario, opts: &FleetOptions) -> Result<Vec<PumpSummary>, FleetError> {
    let pumps: Vec<FleetPump> =
        (0..opts.pumps).map(|k| fleet_pump(base, opts.asset.as_deref(), opts.seed, k)).collect::<Result<_, _>>()?;
    std::fs::create_dir_all(&opts.output).map_err(|source| FleetError::Io { path: opts.output.clone(), source })?;
    let writer = Mutex::new(HistoryWriter::create(&opts.output, opts.format)?);
    // The first failure stops the pumps not yet started.
    let failed = AtomicBool::new(false);
    let workers = opts.jobs.max(1).min(pumps.len().max(1));
    let results = super::batch::parallel(pumps.len(), workers, "twin-fleet", |k| {
        if failed.load(Ordering::Relaxed) {
            return None;
        }
        let done = run_pump(&pumps[k], opts.max_s).and_then(|(summary, rows)| {
            writer.lock().expect("no writer panics").write(&summary.pump, &rows)?;
            Ok(summary)
        });
        failed.fetch_or(done.is_err(), Ordering::Relaxed);
        Some(done)
    });
    let summaries: Vec<PumpSummary> = results.into_iter().flatten().flatten().collect::<Result<_, _>>()?;
    writer.into_inner().expect("no writer panics").finish()?;
    write_summaries(&opts.output, &summaries)?;
    let meta = serde_json::json!({
        "command": opts.command,
        "pumps": opts.pumps,
        "seed": opts.seed,
        "scenario": base.name,
        "history_columns": std::iter::once("pump").chain(HISTORY_COLUMNS).collect::<Vec<_>>(),
    });
    let path = opts.output.join("fleet.json");
    std::fs::write(&path, serde_json::to_string_pretty(&meta).unwrap_or_default() + "\n")
        .map_err(|source| FleetError::Io { path, source })?;
    Ok(summaries)
}

/// Writes `pumps.csv` into `dir`.
pub fn write_summaries(dir: &Path, summaries: &[PumpSummary]) -> Result<(), FleetError> {
    let path = dir.join("pumps.csv");
    let csv_err = |source| FleetError::Csv { path: path.clone(), source };
    let mut w = csv::Writer::from_path(&path).map_err(csv_err)?;
    w.write_record(PUMP_COLUMNS).map_err(csv_err)?;
    let num = |v: f64| if v.is_finite() { v.to_string() } else { String::new() };
    for s in summaries {
        let life_h = s.failure_s.map(|f| f / 3600.0);
        w.write_record([
            s.pump.clone(),
            s.source.clone(),
            s.vib_unit.clone(),
            num(s.rated_speed_rpm),
            num(s.rated_current_a),
            num(s.ambient_mean_c),
            num(s.speed_setpoint_rpm),
            num(s.onset_s),
            num(s.onset_severity),
            s.failure_s.map(num).unwrap_or_default(),
            life_h.map(num).unwrap_or_default(),
            s.rows.to_string(),
            num(s.hidden_own_growth_rate_per_h),
            num(s.hidden_unbalance_factor),
            num(s.hidden_mean_bearing_temp_c),
        ])
        .map_err(csv_err)?;
    }
    w.flush().map_err(|source| FleetError::Io { path: path.clone(), source })
}

/// The Parquet schema of the histories: `pump` dictionary-encoded text, the rest doubles (NaN where unknown).
fn parquet_schema() -> String {
    let mut s = String::from("message history {\n    REQUIRED BYTE_ARRAY pump (UTF8);\n");
    for c in HISTORY_COLUMNS {
        s.push_str(&format!("    REQUIRED DOUBLE {c};\n"));
    }
    s.push('}');
    s
}

/// Writes history rows, pump by pump, as CSV or Parquet (one row group per pump; written aside and renamed when
/// closed).
pub enum HistoryWriter {
    /// `histories.csv`.
    Csv { path: PathBuf, w: csv::Writer<File> },
    /// `histories.parquet`, written to `.partial` first.
    Parquet { path: PathBuf, partial: PathBuf, w: SerializedFileWriter<File> },
}

impl HistoryWriter {
    /// Creates `histories.csv` or `histories.parquet` in `dir`.
    pub fn create(dir: &Path, format: ExportFormat) -> Result<Self, FleetError> {
        match format {
            ExportFormat::Csv => {
                let path = dir.join("histories.csv");
                let csv_err = |source| FleetError::Csv { path: path.clone(), source };
                let mut w = csv::Writer::from_path(&path).map_err(csv_err)?;
                w.write_record(std::iter::once("pump").chain(HISTORY_COLUMNS)).map_err(csv_err)?;
                Ok(Self::Csv { path, w })
            }
            ExportFormat::Parquet => {
                let path = dir.join("histories.parquet");
                let partial = dir.join("histories.parquet.partial");
                let pq = |source| FleetError::Parquet { path: path.clone(), source };
                let file = File::create(&partial).map_err(|source| FleetError::Io { path: partial.clone(), source })?;
                let schema = Arc::new(parse_message_type(&parquet_schema()).map_err(pq)?);
                let props = Arc::new(WriterProperties::builder().set_compression(Compression::SNAPPY).build());
                let w = SerializedFileWriter::new(file, schema, props).map_err(pq)?;
                Ok(Self::Parquet { path, partial, w })
            }
        }
    }

    /// Appends one pump's rows.
    pub fn write(&mut self, pump: &str, rows: &[Row]) -> Result<(), FleetError> {
        match self {
            Self::Csv { path, w } => {
                let csv_err = |source| FleetError::Csv { path: path.clone(), source };
                let num = |v: f64| if v.is_finite() { v.to_string() } else { String::new() };
                for r in rows {
                    w.write_record(std::iter::once(pump.to_owned()).chain(r.iter().map(|v| num(*v))))
                        .map_err(csv_err)?;
                }
                Ok(())
            }
            Self::Parquet { path, w, .. } => {
                if rows.is_empty() {
                    return Ok(());
                }
                let pq = |source| FleetError::Parquet { path: path.clone(), source };
                let names: Vec<ByteArray> = rows.iter().map(|_| ByteArray::from(pump)).collect();
                let mut rg = w.next_row_group().map_err(pq)?;
                let mut i = 0;
                while let Some(mut col) = rg.next_column().map_err(pq)? {
                    if i == 0 {
                        col.typed::<ByteArrayType>().write_batch(&names, None, None).map_err(pq)?;
                    } else {
                        let v: Vec<f64> = rows.iter().map(|r| r[i - 1]).collect();
                        col.typed::<DoubleType>().write_batch(&v, None, None).map_err(pq)?;
                    }
                    col.close().map_err(pq)?;
                    i += 1;
                }
                rg.close().map_err(pq)?;
                Ok(())
            }
        }
    }

    /// Closes the file (a Parquet file is renamed into place only now).
    pub fn finish(self) -> Result<(), FleetError> {
        match self {
            Self::Csv { path, mut w } => w.flush().map_err(|source| FleetError::Io { path, source }),
            Self::Parquet { path, partial, w } => {
                w.close().map_err(|source| FleetError::Parquet { path: path.clone(), source })?;
                std::fs::rename(&partial, &path).map_err(|source| FleetError::Io { path, source })
            }
        }
    }
}

/// Writes histories read from a dataset (summaries and rows per history) in the fleet layout.
pub fn write_histories(
    dir: &Path,
    format: ExportFormat,
    histories: &[(PumpSummary, Vec<Row>)],
) -> Result<(), FleetError> {
    std::fs::create_dir_all(dir).map_err(|source| FleetError::Io { path: dir.to_owned(), source })?;
    let mut w = HistoryWriter::create(dir, format)?;
    for (s, rows) in histories {
        w.write(&s.pump, rows)?;
    }
    w.finish()?;
    let summaries: Vec<PumpSummary> = histories.iter().map(|(s, _)| s.clone()).collect();
    write_summaries(dir, &summaries)?;
    let mut f = File::create(dir.join("fleet.json"))
        .map_err(|source| FleetError::Io { path: dir.join("fleet.json"), source })?;
    let meta = serde_json::json!({
        "command": "twin fleet import",
        "histories": histories.len(),
        "history_columns": std::iter::once("pump").chain(HISTORY_COLUMNS).collect::<Vec<_>>(),
    });
    writeln!(f, "{}", serde_json::to_string_pretty(&meta).unwrap_or_default())
        .map_err(|source| FleetError::Io { path: dir.join("fleet.json"), source })
}

/// Condition indicators of one vibration snapshot: (RMS, peak |x|, crest = peak / RMS), in the samples' unit.
pub fn indicators(samples: &[f64]) -> (f64, f64, f64) {
    if samples.is_empty() {
        return (f64::NAN, f64::NAN, f64::NAN);
    }
    let rms = (samples.iter().map(|x| x * x).sum::<f64>() / samples.len() as f64).sqrt();
    let peak = samples.iter().fold(0.0f64, |m, x| m.max(x.abs()));
    (rms, peak, if rms > 0.0 { peak / rms } else { f64::NAN })
}

/// The summary of a dataset's run-to-failure history: vibration in g, the speed it ran at, the last row its
/// failure; everything else unknown.
pub fn dataset_summary(pump: String, source: String, speed_rpm: f64, rows: &[Row]) -> PumpSummary {
    PumpSummary {
        pump,
        source,
        vib_unit: "g".into(),
        rated_speed_rpm: speed_rpm,
        rated_current_a: f64::NAN,
        ambient_mean_c: f64::NAN,
        speed_setpoint_rpm: speed_rpm,
        onset_s: f64::NAN,
        onset_severity: f64::NAN,
        failure_s: Some(rows.last().map_or(0.0, |r| r[0])),
        rows: rows.len() as u64,
        hidden_own_growth_rate_per_h: f64::NAN,
        hidden_unbalance_factor: f64::NAN,
        hidden_mean_bearing_temp_c: f64::NAN,
    }
}

/// A history row from a dataset: time and vibration indicators, speed when known, the rest unknown.
pub fn dataset_row(t_s: f64, speed_rpm: f64, samples: &[f64]) -> Row {
    let (rms, peak, crest) = indicators(samples);
    [t_s, speed_rpm, f64::NAN, f64::NAN, f64::NAN, rms, peak, crest, f64::NAN]
}

/// The twin on fleet pump `p`'s own virtual plant (its plant seed, so its hidden truth and failure time), with
/// the pace model at `model` or physics only, at the start.
pub fn fleet_twin(p: &FleetPump, model: Option<&Path>) -> Result<bevy::prelude::App, String> {
    let mut s = p.scenario.clone();
    s.pace_model = model.map(|m| m.display().to_string());
    let s = std::sync::Arc::new(s);
    let twin_seed = p.plant_seed.wrapping_sub(crate::plant::inprocess::PLANT_SEED_OFFSET);
    let mut app = crate::app::headless_app(s.clone(), twin_seed);
    if let Some(errors) = app.world().get_resource::<crate::twin::pump::ModelBuildErrors>()
        && !errors.0.is_empty()
    {
        return Err(errors.0.join("; "));
    }
    crate::plant::inprocess::add_inprocess_plant(&mut app, &s, twin_seed, None).map_err(|e| e.to_string())?;
    Ok(app)
}

/// The twin's remaining-life band for fleet pump `p` at `at_s` ([`fleet_twin`] run from the start to `at_s`).
/// None when no defect was detected by then.
pub fn twin_rul_at(p: &FleetPump, model: Option<&Path>, at_s: f64) -> Result<Option<degradation::RulBand>, String> {
    let mut app = fleet_twin(p, model)?;
    app.update();
    crate::change::cli::run_for(&mut app, at_s);
    let e = app.world().resource::<crate::twin::AssetIndex>().0[&p.asset];
    Ok(app.world().get::<crate::assess::defect::DefectTracker>(e).and_then(|t| t.defect.as_ref()).map(|d| d.rul_h))
}
