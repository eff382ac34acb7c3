//! Scenario files: RON parsed into typed structs, then validated as a whole, with every problem reported as
//! `file:line:column: field.path: what is wrong (what would be valid)`.

mod duration;
pub mod generate;
mod model;
mod sweep;
mod validate;

use std::fmt;
use std::path::{Path, PathBuf};

pub use duration::Dur;
pub use model::*;
pub use sweep::{Sweep, SweepCase, SweepParam};

/// One problem found in a scenario, located in its source text.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub col: usize,
    /// Field path, e.g. `signals[0].unit`.
    pub path: String,
    /// What is wrong, and what would be valid.
    pub message: String,
}

/// Why a scenario could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// The file could not be read.
    #[error("{file}: cannot read scenario: {source}")]
    Io {
        file: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The RON text does not parse into a scenario (syntax, unknown field, wrong type).
    #[error("{}:{line}:{col}: {message}", file.display())]
    Syntax { file: PathBuf, line: usize, col: usize, message: String },
    /// The scenario's pace model cannot be used.
    #[error("{}: pace_model: {source}", file.display())]
    PaceModel { file: PathBuf, source: twin_ml::MlError },
    /// The trusted keys file the scenario names cannot be used.
    #[error("{}: change.trusted_keys: {what}", file.display())]
    TrustedKeys { file: PathBuf, what: String },
    /// The broker's TLS files cannot be used.
    #[error("{}: connections.broker: {what}", file.display())]
    BrokerTls { file: PathBuf, what: String },
    /// The scenario parses but is inconsistent; every problem is listed.
    #[error("{}", Invalid(file, problems))]
    Invalid { file: PathBuf, problems: Vec<Problem> },
}

struct Invalid<'a>(&'a Path, &'a [Problem]);

impl fmt::Display for Invalid<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.1.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{}:{}:{}: {}: {}", self.0.display(), p.line, p.col, p.path, p.message)?;
        }
        Ok(())
    }
}

/// Reads, parses and validates a scenario file. A pace model's path is made relative to the scenario's
/// directory, and the model is loaded once to check it.
pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
    let text = std::fs::read_to_string(path).map_err(|source| ScenarioError::Io { file: path.to_owned(), source })?;
    let mut s = parse(&text, path)?;
    if let Some(model) = &s.pace_model {
        let resolved = path.parent().unwrap_or(Path::new("")).join(model);
        s.pace_model = Some(resolved.display().to_string());
        load_pace_model(&s, path)?;
    }
    let dir = path.parent().unwrap_or(Path::new(""));
    if let Some(keys) = &mut s.change.trusted_keys {
        *keys = dir.join(&*keys).display().to_string();
        check_trusted_keys(Path::new(keys), s.change.approvals)
            .map_err(|what| ScenarioError::TrustedKeys { file: path.to_owned(), what })?;
    }
    if let model::BrokerSpec::Mqtt(m) = &mut s.connections.broker {
        for p in [&mut m.ca_file, &mut m.client_cert, &mut m.client_key].into_iter().flatten() {
            *p = dir.join(&*p).display().to_string();
        }
        check_broker_tls(m).map_err(|what| ScenarioError::BrokerTls { file: path.to_owned(), what })?;
    }
    for e in &mut s.connections.opcua {
        for p in [&mut e.pki_dir, &mut e.user_cert, &mut e.user_key].into_iter().flatten() {
            *p = dir.join(&*p).display().to_string();
        }
    }
    Ok(s)
}

/// Checks the broker's TLS files: a client certificate comes with its key, and each named file can be read.
fn check_broker_tls(m: &model::MqttSpec) -> Result<(), String> {
    if m.client_cert.is_some() != m.client_key.is_some() {
        return Err("client_cert and client_key must be given together (mutual TLS needs both)".into());
    }
    let named = [("ca_file", &m.ca_file), ("client_cert", &m.client_cert), ("client_key", &m.client_key)];
    for (field, file) in named.into_iter().filter_map(|(f, p)| Some((f, p.as_ref()?))) {
        std::fs::metadata(file).map_err(|e| format!("{field}: cannot read {file}: {e}"))?;
    }
    Ok(())
}

/// Checks the trusted keys file: it reads, holds at least `approvals` keys with the engineer role, and one with the
/// admin role (who enables writes for a change).
fn check_trusted_keys(file: &Path, approvals: u8) -> Result<(), String> {
    let trust = twin_sign::TrustStore::load(file).map_err(|e| e.to_string())?;
    let with = |role| trust.keys().filter(|k| k.roles.contains(&role)).count();
    let engineers = with(twin_sign::Role::Engineer);
    if engineers < usize::from(approvals) {
        return Err(format!(
            "{}: {engineers} key(s) with the engineer role, fewer than the {approvals} approval(s) a change needs",
            file.display()
        ));
    }
    if with(twin_sign::Role::Admin) == 0 {
        return Err(format!(
            "{}: no key with the admin role, so no change could ever be written (an admin's signature enables writes)",
            file.display()
        ));
    }
    Ok(())
}

/// The scenario's pace model, loaded and checked against the twin's features (None: physics only); `file` names
/// the scenario in messages.
pub fn load_pace_model(s: &Scenario, file: &Path) -> Result<Option<twin_ml::PaceModel>, ScenarioError> {
    let Some(model) = &s.pace_model else { return Ok(None) };
    twin_ml::PaceModel::load(Path::new(model), &twin_models::degradation::PACE_FEATURES)
        .map(Some)
        .map_err(|e| ScenarioError::PaceModel { file: file.to_owned(), source: e })
}

/// The RON extensions scenario files are read (and written) with.
const RON_EXTENSIONS: ron::extensions::Extensions =
    ron::extensions::Extensions::UNWRAP_VARIANT_NEWTYPES.union(ron::extensions::Extensions::IMPLICIT_SOME);

/// A scenario as RON text in the form `parse` reads.
pub fn to_ron(s: &Scenario) -> Result<String, ron::Error> {
    ron::ser::to_string_pretty(s, ron::ser::PrettyConfig::default().extensions(RON_EXTENSIONS))
}

/// Parses and validates scenario text; `file` names it in messages.
pub fn parse(text: &str, file: &Path) -> Result<Scenario, ScenarioError> {
    let options = ron::Options::default().with_default_extension(RON_EXTENSIONS);
    let scenario: Scenario = options.from_str(text).map_err(|e| ScenarioError::Syntax {
        file: file.to_owned(),
        line: e.span.start.line,
        col: e.span.start.col,
        message: syntax_message(&e.code),
    })?;
    let mut problems = validate::validate(&scenario, text);
    problems.extend(sweep::validate(&scenario, text));
    if problems.is_empty() { Ok(scenario) } else { Err(ScenarioError::Invalid { file: file.to_owned(), problems }) }
}

fn syntax_message(code: &ron::Error) -> String {
    match code {
        ron::Error::NoSuchStructField { .. } | ron::Error::NoSuchEnumVariant { .. } => code.to_string(),
        ron::Error::MissingStructField { .. } => code.to_string(),
        ron::Error::Message(m) => m.clone(),
        other => format!("syntax error: {other}"),
    }
}

impl Scenario {
    /// The asset with this id.
    pub fn asset(&self, id: &str) -> Option<&AssetSpec> {
        self.assets.iter().find(|a| a.id == id)
    }

    /// The OPC UA endpoint named `name` in `connections.opcua`.
    pub fn opcua_endpoint(&self, name: &str) -> Option<&OpcUaEndpointSpec> {
        self.connections.opcua.iter().find(|e| e.name == name)
    }

    /// The calendar time the run starts at, Unix s: `simulation.start`, else the time this process first asked
    /// (so the twin and the virtual plant count a bearing's dated history to the same instant).
    pub fn start_unix_s(&self) -> f64 {
        static LOADED: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
        match self.simulation.start.as_deref().map(model::parse_date) {
            Some(Ok(t)) => t,
            _ => *LOADED.get_or_init(unix_now_s),
        }
    }

    /// The bearing operating hours of `asset`'s history when the run starts (0: new).
    pub fn bearing_hours(&self, asset: &AssetSpec) -> f64 {
        asset.history.bearing_hours(self.start_unix_s())
    }

    /// Serialises back to RON, in the form `load` reads.
    pub fn to_ron(&self) -> String {
        let config = ron::ser::PrettyConfig::new().struct_names(false).extensions(
            ron::extensions::Extensions::UNWRAP_VARIANT_NEWTYPES | ron::extensions::Extensions::IMPLICIT_SOME,
        );
        ron::ser::to_string_pretty(self, config).unwrap_or_default()
    }
}

/// The wall clock, Unix s (0 on a clock set before 1970).
pub fn unix_now_s() -> f64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load_str(text: &str) -> Result<Scenario, ScenarioError> {
        parse(text, Path::new("t.ron"))
    }

    const MINIMAL: &str = r#"Scenario(version: 1, name: "t", assets: [
        (id: "T-1", kind: Tank(area_m2: 10.0, height_m: 4.0, initial_level_m: 2.0, inflow_m3h: 0.0)),
    ])"#;

    #[test]
    fn a_minimal_scenario_loads_with_defaults() {
        let s = load_str(MINIMAL).unwrap();
        assert_eq!(s.assets.len(), 1);
        assert_eq!(s.simulation.model_step.secs(), 1.0);
        assert_eq!(s.connections.broker, BrokerSpec::Embedded);
        assert_eq!(s.connections.plc, PlcSpec::VirtualPlc);
    }

    #[test]
    fn a_scenario_round_trips_through_ron() {
        let s = load_str(MINIMAL).unwrap();
        let again = load_str(&s.to_ron()).unwrap();
        assert_eq!(s, again);
    }

    /// The small fixture with `history` on its pump and `simulation` (e.g. `(start: "2026-01-15")`) when given.
    fn with_history(history: &str, simulation: Option<&str>) -> Result<Scenario, ScenarioError> {
        let text = include_str!("../../tests/fixtures/valid_small.ron")
            .replace(r#"depends_on: ["M-1", "T-1"],"#, &format!(r#"depends_on: ["M-1", "T-1"], history: {history},"#));
        let text = match simulation {
            Some(sim) => text.replace(r#"name: "Fixture","#, &format!(r#"name: "Fixture", simulation: {sim},"#)),
            None => text,
        };
        load_str(&text)
    }

    #[test]
    fn a_bearings_install_date_counts_its_operating_hours_to_the_runs_start_at_its_duty() {
        let s =
            with_history(r#"(bearing_installed: "2026-01-05", bearing_duty: 0.5)"#, Some(r#"(start: "2026-01-15")"#))
                .unwrap();
        // Ten calendar days at half duty: 120 operating hours.
        assert_eq!(s.bearing_hours(s.asset("P-1").unwrap()), 120.0);
        let s =
            with_history(r#"(bearing_installed: "2026-01-14T12:00:00Z")"#, Some(r#"(start: "2026-01-15")"#)).unwrap();
        assert_eq!(s.bearing_hours(s.asset("P-1").unwrap()), 12.0);
        // Without a start, it counts to now: a bearing installed in 2020 has run more than six years by 2026-12.
        let s = with_history(r#"(bearing_installed: "2020-01-01")"#, None).unwrap();
        assert!(s.bearing_hours(s.asset("P-1").unwrap()) > 6.0 * 8760.0);
        // Hours, when given, are taken as they are; no history is new.
        let s = with_history("(bearing_operating_h: 64000.0)", None).unwrap();
        assert_eq!(s.bearing_hours(s.asset("P-1").unwrap()), 64_000.0);
        let s = with_history("()", None).unwrap();
        assert_eq!(s.bearing_hours(s.asset("P-1").unwrap()), 0.0);
    }

    #[test]
    fn an_install_date_in_the_future_or_next_to_operating_hours_or_a_bad_start_is_a_located_error() {
        let e = with_history(r#"(bearing_installed: "2999-01-01")"#, None).unwrap_err().to_string();
        assert!(
            e.contains("assets[2].history.bearing_installed: the install date 2999-01-01 is in the future: after the run's start (now)"),
            "{e}"
        );
        let e = with_history(r#"(bearing_installed: "2020-01-01", bearing_operating_h: 100.0)"#, None)
            .unwrap_err()
            .to_string();
        assert!(e.contains("give the bearing's operating hours or its install date, not both"), "{e}");
        let e = with_history("(bearing_duty: 0.5)", None).unwrap_err().to_string();
        assert!(e.contains("a duty goes with an install date"), "{e}");
        let e = with_history("()", Some(r#"(start: "yesterday")"#)).unwrap_err().to_string();
        assert!(e.contains(r#"simulation.start: "yesterday" is not a date"#), "{e}");
    }

    #[test]
    fn a_publish_prefix_must_be_concrete_topic_levels() {
        let with = |prefix: &str| {
            load_str(&MINIMAL.replace("name: \"t\",", &format!("name: \"t\", publish: (prefix: \"{prefix}\"),")))
        };
        let s = with("twin/station").unwrap();
        assert_eq!(s.publish.map(|p| (p.prefix, p.every.secs())), Some((Some("twin/station".into()), 10.0)));
        for bad in ["twin/#", "/twin", "twin/", "", "a/+/b"] {
            let e = with(bad).unwrap_err().to_string();
            assert!(e.contains(&format!("publish.prefix \"{bad}\" must be concrete topic levels")), "{bad}: {e}");
        }
    }

    #[test]
    fn wrong_version_is_named() {
        let e = load_str(&MINIMAL.replace("version: 1", "version: 7")).unwrap_err().to_string();
        assert!(e.contains("t.ron:1:") && e.contains("version: unsupported scenario version 7"), "{e}");
    }
}
