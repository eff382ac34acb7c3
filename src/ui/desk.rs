//! The change desk behind the workbench's change panel: what the user types (the set-point, the value, who
//! approves) and the writes switch, over the same [`ChangeSession`] `twin change` drives, so that it is tested
//! without a window. The session's slow steps run on worker threads; the panel polls them once a frame.

use std::path::PathBuf;

use bevy::prelude::*;

use crate::change::PlcTarget;
use crate::change::session::ChangeSession;
use crate::scenario::{Scenario, SetpointSpec};
use crate::twin::LoadedScenario;

/// One audit record as the panel lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditRow {
    pub line: usize,
    pub actor: String,
    pub event: String,
    pub data: String,
}

/// A file's length and modification time: when neither changed, neither did the file.
type FileStamp = (u64, std::time::SystemTime);

/// State of the change panel.
#[derive(Resource)]
pub struct ChangeDesk {
    /// Set-point being drafted.
    pub setpoint: String,
    /// The value as typed, in the set-point's unit.
    pub value_text: String,
    /// Who drafts and approves (the OS user by default).
    pub user: String,
    /// Name typed for a second approval.
    pub second_approver: String,
    /// The user's private key file, for signed approvals (`--key`, or typed).
    pub key_path: String,
    /// Its passphrase as typed (cleared after every use).
    pub passphrase: String,
    /// A signature file made elsewhere (`twin approve`), to add as an approval.
    pub signature_path: String,
    /// The user's writes switch (off at start, always).
    pub writes_enabled: bool,
    /// The change session: drafts, validations, approvals, audit log, jobs.
    pub session: ChangeSession,
    /// The audit page's rows and chain status, with the log's stamp they were read at.
    audit_view: Option<(Option<FileStamp>, Vec<AuditRow>, String)>,
}

impl ChangeDesk {
    /// A desk writing its audit log to `audit_path`, pushing to `target`.
    pub fn new(audit_path: PathBuf, target: Option<PlcTarget>, seed: u64) -> Self {
        Self {
            setpoint: String::new(),
            value_text: String::new(),
            user: std::env::var("USER").unwrap_or_else(|_| "engineer".into()),
            second_approver: String::new(),
            key_path: String::new(),
            passphrase: String::new(),
            signature_path: String::new(),
            writes_enabled: false,
            session: ChangeSession::new(audit_path, target, seed),
            audit_view: None,
        }
    }

    /// Parses the typed value for the chosen set-point (in its unit).
    pub fn parse_value<'a>(&self, scenario: &'a Scenario) -> Result<(&'a SetpointSpec, f64), String> {
        let sp = scenario
            .setpoints
            .iter()
            .find(|s| s.id == self.setpoint)
            .ok_or_else(|| format!("choose a set-point (\"{}\" is none)", self.setpoint))?;
        let v: f64 = self
            .value_text
            .trim()
            .parse()
            .map_err(|_| format!("\"{}\" is not a number ({} in {})", self.value_text.trim(), sp.id, sp.unit))?;
        if !v.is_finite() {
            return Err(format!("{}: the value must be finite", sp.id));
        }
        Ok((sp, v))
    }

    /// Drafts the typed change against the live set-point (replacing an earlier draft of the same set-point).
    pub fn add_draft(&mut self, world: &World) -> Result<u64, String> {
        let scenario = world.resource::<LoadedScenario>().0.clone();
        let (sp, v) = self.parse_value(&scenario)?;
        self.session.draft(world, &sp.id, v, &self.user).map_err(|e| e.to_string())
    }

    /// Discards a draft.
    pub fn discard(&mut self, id: u64) -> Result<(), String> {
        self.session.discard(id, &self.user).map_err(|e| e.to_string())
    }

    /// Rebases a conflicted draft on the live value.
    pub fn rebase(&mut self, world: &World, id: u64) -> Result<(), String> {
        self.session.rebase(world, id, &self.user).map_err(|e| e.to_string())
    }

    /// Starts validating every draft (the forecasts run on a worker thread).
    pub fn validate_all(&mut self, world: &World) -> Result<(), String> {
        self.session.start_validation(world, &self.user).map_err(|e| e.to_string())
    }

    /// `name` approves the validated drafts (where the scenario takes names: the virtual plant's PLC).
    pub fn approve(&mut self, world: &World, name: &str) -> Result<(), String> {
        let scenario = world.resource::<LoadedScenario>().0.clone();
        self.session.approve(&scenario, name).map_err(|e| e.to_string())
    }

    /// Signs the validated change set with the user's key (opened with the typed passphrase, which is then
    /// cleared) and adds the signature as an approval. Returns the approver's trusted name.
    pub fn sign(&mut self, world: &World) -> Result<String, String> {
        let passphrase = zeroize::Zeroizing::new(std::mem::take(&mut self.passphrase));
        let scenario = world.resource::<LoadedScenario>().0.clone();
        let doc = self.session.change_set(&scenario).ok_or("validate the drafts first: every layer must pass")?;
        let path = std::path::Path::new(self.key_path.trim());
        if path.as_os_str().is_empty() {
            return Err("choose your private key file (twin keys new makes one)".into());
        }
        let key = twin_sign::load_signing_key(path, &passphrase).map_err(|e| e.to_string())?;
        let name = crate::change::cli::key_name(path);
        let sig = twin_sign::SignatureFile::sign(&key, &name, &doc.hash(), crate::scenario::unix_now_s());
        self.session.approve_signed(&scenario, &sig).map_err(|e| e.to_string())
    }

    /// Adds the signature file at `signature_path` (signed elsewhere with `twin approve`) as an approval.
    pub fn add_signature(&mut self, world: &World) -> Result<String, String> {
        let scenario = world.resource::<LoadedScenario>().0.clone();
        let sig = twin_sign::SignatureFile::load(std::path::Path::new(self.signature_path.trim()))
            .map_err(|e| e.to_string())?;
        self.session.approve_signed(&scenario, &sig).map_err(|e| e.to_string())
    }

    /// Why a push cannot start now (`None`: it can).
    pub fn push_blocker(&self, scenario: &Scenario) -> Option<String> {
        self.session.push_blocker(scenario, self.writes_enabled)
    }

    /// Starts the push on a worker thread (ramped writes with read-back; rollback on a mismatch or timeout).
    pub fn start_push(&mut self, world: &World) -> Result<(), String> {
        self.session.start_push(world, &self.user, self.writes_enabled).map_err(|e| e.to_string())
    }

    /// Starts the what-if of the drafts on `pump` (on a worker thread).
    pub fn start_whatif(&mut self, world: &World, pump: &str, horizon_s: f64, samples: usize) -> Result<(), String> {
        self.session.start_whatif(world, pump, horizon_s, samples).map_err(|e| e.to_string())
    }

    /// What the audit page shows: [`Self::audit_rows`] (the newest 200), read again only when the log changed on
    /// disk, not every frame.
    pub fn audit_view(&mut self) -> (&[AuditRow], &str) {
        let path = self.session.audit_path();
        let stamp = std::fs::metadata(path).ok().and_then(|m| Some((m.len(), m.modified().ok()?)));
        if self.audit_view.as_ref().is_none_or(|(at, ..)| *at != stamp) {
            let (rows, status) = self.audit_rows(200);
            self.audit_view = Some((stamp, rows, status));
        }
        let (_, rows, status) = self.audit_view.as_ref().expect("just filled");
        (rows, status)
    }

    /// The audit log's records, newest first (at most `limit`), and whether its hash chain is intact.
    pub fn audit_rows(&self, limit: usize) -> (Vec<AuditRow>, String) {
        let text = std::fs::read_to_string(self.session.audit_path()).unwrap_or_default();
        let mut rows: Vec<AuditRow> = text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
            .map(|(i, l)| {
                let v: serde_json::Value = serde_json::from_str(l).unwrap_or_default();
                let s = |k: &str| v.get(k).and_then(|x| x.as_str()).unwrap_or("?").to_owned();
                AuditRow {
                    line: i + 1,
                    actor: s("actor"),
                    event: s("event"),
                    data: v.get("data").map(|d| d.to_string()).unwrap_or_default(),
                }
            })
            .collect();
        rows.reverse();
        rows.truncate(limit);
        use crate::change::audit::VerifyError;
        let status = match crate::change::audit::verify(self.session.audit_path()) {
            Ok(s) => format!("hash chain intact ({} records)", s.records),
            Err(VerifyError::Broken(p)) => format!("BROKEN at line {}: {}", p.line, p.what),
            Err(VerifyError::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => "no audit log yet".into(),
            Err(VerifyError::Io(e)) => format!("cannot read: {e}"),
        };
        (rows, status)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use std::time::Duration;

    use super::*;
    use crate::app::headless_app;
    use crate::change::validate::Layer;
    use crate::sync::Setpoints;

    fn station() -> (App, tempfile::TempDir) {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenes/pump_station.ron");
        let scenario = Arc::new(crate::scenario::load(&path).expect("bundled scenario"));
        let mut app = headless_app(scenario.clone(), 1);
        crate::plant::inprocess::add_inprocess_plant(&mut app, &scenario, 1, None).expect("plant");
        app.update();
        crate::change::cli::run_for(&mut app, 600.0);
        (app, tempfile::tempdir().expect("tempdir"))
    }

    /// Validates the desk's drafts and waits for the forecasts' worker thread.
    fn validate(d: &mut ChangeDesk, app: &mut App) {
        d.validate_all(app.world()).unwrap();
        d.session.settle(app.world_mut(), Duration::from_secs(60));
        assert!(!d.session.validating());
    }

    fn ids(d: &ChangeDesk) -> Vec<u64> {
        d.session.drafts().iter().map(|x| x.id).collect()
    }

    fn desk(dir: &tempfile::TempDir) -> ChangeDesk {
        let mut d = ChangeDesk::new(dir.path().join("audit.jsonl"), None, 1);
        d.user = "alice".into();
        d.setpoint = "P-101.speed".into();
        d
    }

    #[test]
    fn typed_values_are_checked_before_a_draft_is_made() {
        let (app, dir) = station();
        let mut d = desk(&dir);
        d.value_text = "fast".into();
        let err = d.add_draft(app.world()).unwrap_err();
        assert!(err.contains("\"fast\" is not a number") && err.contains("rpm"), "{err}");
        d.setpoint = "P-999.speed".into();
        d.value_text = "1400".into();
        assert!(d.add_draft(app.world()).unwrap_err().contains("P-999.speed"));
        assert!(d.session.drafts().is_empty());
    }

    #[test]
    fn a_new_value_replaces_the_draft_and_clears_its_validation_and_approvals() {
        let (mut app, dir) = station();
        let mut d = desk(&dir);
        d.value_text = "1400".into();
        let first = d.add_draft(app.world()).unwrap();
        validate(&mut d, &mut app);
        assert!(d.session.all_passed(), "{:?}", d.session.validation(first));
        d.approve(app.world(), "alice").unwrap();
        assert_eq!(d.session.approvals().len(), 1);
        d.value_text = "1380".into();
        let second = d.add_draft(app.world()).unwrap();
        assert_ne!(first, second);
        assert_eq!(ids(&d), vec![second]);
        assert!(d.session.validation(first).is_none() && d.session.validation(second).is_none());
        assert!(d.session.approvals().is_empty());
        assert_eq!(d.session.drafts()[0].value, 1380.0);
        // Not validated since the edit: no approval, no push.
        assert!(d.approve(app.world(), "alice").is_err());
        let scenario = app.world().resource::<LoadedScenario>().0.clone();
        assert!(d.push_blocker(&scenario).unwrap().contains("validate"));
    }

    #[test]
    fn validation_shows_each_layer_and_a_rejected_draft_cannot_be_approved() {
        let (mut app, dir) = station();
        let mut d = desk(&dir);
        d.value_text = "2000".into(); // above the set-point's 1480 rpm maximum
        let id = d.add_draft(app.world()).unwrap();
        validate(&mut d, &mut app);
        let v = d.session.validation(id).unwrap();
        assert_eq!(v.verdicts.len(), 6, "every layer has a verdict");
        let env = v.verdict(Layer::Envelope).unwrap();
        assert!(!env.passed && env.reason.contains("1480"), "{env:?}");
        assert!(!d.session.all_passed());
        assert!(d.approve(app.world(), "alice").unwrap_err().contains("passed every layer"));
        assert!(d.session.log().last().unwrap().contains("rejected by Envelope"), "{:?}", d.session.log());
    }

    #[test]
    fn pushes_are_gated_by_approvals_the_users_switch_and_a_plc() {
        let (mut app, dir) = station();
        let mut d = desk(&dir);
        d.value_text = "1400".into();
        d.add_draft(app.world()).unwrap();
        validate(&mut d, &mut app);
        let scenario = app.world().resource::<LoadedScenario>().0.clone();
        assert!(d.push_blocker(&scenario).unwrap().contains("0 of 1 approval"));
        d.approve(app.world(), "alice").unwrap();
        assert!(d.push_blocker(&scenario).unwrap().contains("not enabled by the user"));
        d.writes_enabled = true;
        assert!(d.push_blocker(&scenario).unwrap().contains("no PLC"));
        assert!(d.start_push(app.world()).is_err());
        // Everything was audited, the refusal too, and the chain verifies.
        let (rows, status) = d.audit_rows(50);
        assert!(status.starts_with("hash chain intact"), "{status}");
        let events: Vec<&str> = rows.iter().rev().map(|r| r.event.as_str()).collect();
        assert_eq!(events, ["draft", "validation", "approval", "push_refused"]);
    }

    /// A desk pushing to the virtual PLC the plant in `app` now serves, with a draft of 1460 rpm that passed every
    /// layer, approved by alice, writes enabled.
    fn approved_desk(app: &mut App, dir: &tempfile::TempDir) -> ChangeDesk {
        let scenario = app.world().resource::<LoadedScenario>().0.clone();
        let bind: std::net::SocketAddr = ([127, 0, 0, 1], 0).into();
        let addr = crate::plant::inprocess::serve_plc(app, &scenario, bind, twin_modbus::Behaviour::Normal).unwrap();
        let target = Some(PlcTarget::Modbus { addr, unit_id: 1, virtual_plc: true });
        let mut d = ChangeDesk::new(dir.path().join("audit.jsonl"), target, 1);
        d.user = "alice".into();
        d.setpoint = "P-101.speed".into();
        d.value_text = "1460".into();
        d.add_draft(app.world()).unwrap();
        validate(&mut d, app);
        assert!(d.session.all_passed(), "{:?}", d.session.log());
        d.approve(app.world(), "alice").unwrap();
        d.writes_enabled = true;
        d
    }

    #[test]
    fn a_push_is_refused_when_the_inputs_went_stale_after_validation() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenes/pump_station.ron");
        let mut scenario = crate::scenario::load(&path).expect("bundled scenario");
        let outage = crate::scenario::FaultSpec::BrokerOutage {
            at: crate::scenario::Dur::from_secs(700.0),
            duration: crate::scenario::Dur::from_secs(1800.0),
        };
        scenario.faults = vec![outage];
        let scenario = Arc::new(scenario);
        let mut app = headless_app(scenario.clone(), 1);
        crate::plant::inprocess::add_inprocess_plant(&mut app, &scenario, 1, None).expect("plant");
        app.update();
        crate::change::cli::run_for(&mut app, 600.0);
        let dir = tempfile::tempdir().expect("tempdir");
        let mut d = approved_desk(&mut app, &dir);
        assert_eq!(d.push_blocker(&scenario), None);
        // The broker goes down at 700 s: two minutes later every signal is stale.
        crate::change::cli::run_for(&mut app, 220.0);
        let why = d.start_push(app.world()).unwrap_err();
        assert!(why.starts_with("the inputs are no longer fresh: P-101 ") && why.contains("is stale"), "{why}");
        assert!(!d.session.pushing() && !d.session.all_passed(), "validate again before a push");
        let (rows, _) = d.audit_rows(50);
        assert_eq!(rows[0].event, "push_refused");
        assert!(!rows.iter().any(|r| r.event == "push_start"));
    }

    #[test]
    fn an_approved_push_reaches_the_virtual_plc_and_is_read_back() {
        let (mut app, dir) = station();
        let mut d = approved_desk(&mut app, &dir);
        d.start_push(app.world()).unwrap();
        assert!(d.session.pushing());
        d.session.settle(app.world_mut(), Duration::from_secs(30));
        let report = d.session.last_push().cloned().expect("the push finished");
        assert!(report.alarm.is_none(), "{report:?}");
        assert!(report.writes.iter().all(|(_, wrote, read)| Some(*wrote) == *read), "{report:?}");
        app.update();
        assert_eq!(app.world().resource::<Setpoints>().live["P-101.speed"].value, 1460.0);
        assert!(d.session.drafts().is_empty());
        let (rows, status) = d.audit_rows(100);
        assert!(status.starts_with("hash chain intact"), "{status}");
        assert!(rows.iter().any(|r| r.event == "readback"));
    }

    #[test]
    fn the_forecast_runs_off_the_frame_and_an_edit_meanwhile_voids_it() {
        let (mut app, dir) = station();
        let mut d = desk(&dir);
        d.value_text = "1400".into();
        let id = d.add_draft(app.world()).unwrap();
        d.validate_all(app.world()).unwrap();
        // The call returned before the forecast's Monte Carlo: nothing is decided until the worker's answer is
        // taken.
        assert!(d.session.validating() && d.session.validation(id).is_none());
        d.value_text = "1380".into();
        let second = d.add_draft(app.world()).unwrap();
        d.session.settle(app.world_mut(), Duration::from_secs(60));
        assert!(d.session.validation(id).is_none() && d.session.validation(second).is_none());
        assert!(d.session.log().iter().any(|l| l.starts_with("validation discarded")), "{:?}", d.session.log());
        validate(&mut d, &mut app);
        let v = d.session.validation(second).expect("validated");
        assert!(v.passed() && v.forecast.is_some(), "{:?}", v.verdicts);
        let layers: Vec<Layer> = v.verdicts.iter().map(|x| x.layer).collect();
        assert_eq!(
            layers,
            [Layer::Envelope, Layer::Rate, Layer::Interlocks, Layer::Forecast, Layer::Freshness, Layer::Conflict]
        );
    }
}
