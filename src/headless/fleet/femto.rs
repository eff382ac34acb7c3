//! The FEMTO-ST PRONOSTIA bearing data (IEEE PHM 2012 challenge): one directory per bearing (`Bearing1_1`), one
//! CSV file per 0.1 s snapshot every 10 s (`acc_00001.csv`: 2,560 rows of `hour,minute,second,microsecond,
//! horizontal g,vertical g`; a few bearings' files use `;`). The bearing's operating condition is in its name:
//! 1 is 1800 rpm and 4000 N, 2 is 1650 rpm and 4200 N, 3 is 1500 rpm and 5000 N. Each bearing becomes one history of
//! the fleet layout: a row per snapshot with the horizontal acceleration's RMS, peak and crest factor; the test
//! stopped at failure (vibration above 20 g), so the last snapshot is the failure time.

use std::path::{Path, PathBuf};

use super::{FleetError, PumpSummary, Row, dataset_row};

/// A bearing's speed from its directory name (`Bearing{condition}_{n}`), rpm.
pub fn condition_speed_rpm(name: &str) -> Option<f64> {
    match name.strip_prefix("Bearing")?.split('_').next()? {
        "1" => Some(1800.0),
        "2" => Some(1650.0),
        "3" => Some(1500.0),
        _ => None,
    }
}

/// Reads one bearing's directory.
pub fn read(dir: &Path) -> Result<Vec<(PumpSummary, Vec<Row>)>, FleetError> {
    let io = |source| FleetError::Io { path: dir.to_owned(), source };
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(io)?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| {
            p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("acc_") && n.ends_with(".csv"))
        })
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(FleetError::Empty { dir: dir.to_owned(), message: "no FEMTO snapshot (acc_NNNNN.csv)".into() });
    }
    let name = dir.file_name().and_then(|n| n.to_str()).unwrap_or("bearing").to_owned();
    let speed = condition_speed_rpm(&name).unwrap_or(f64::NAN);
    let mut rows = Vec::new();
    let (mut first, mut day, mut last_clock) = (None, 0.0, f64::NEG_INFINITY);
    for path in &files {
        let text = std::fs::read_to_string(path).map_err(|source| FleetError::Io { path: path.clone(), source })?;
        let mut horizontal = Vec::new();
        let mut clock = None;
        for (i, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
            let bad = |message: String| FleetError::BadRow { file: path.clone(), line: i + 1, message };
            let sep = if line.contains(';') { ';' } else { ',' };
            let f: Vec<f64> = line
                .split(sep)
                .map(|x| {
                    let x = x.trim();
                    x.parse::<f64>()
                        .ok()
                        .filter(|v| v.is_finite())
                        .ok_or_else(|| bad(format!("\"{x}\" is not a number")))
                })
                .collect::<Result<_, _>>()?;
            if f.len() != 6 {
                return Err(bad(format!(
                    "{} fields; a FEMTO row has 6 (hour, minute, second, microsecond, horizontal, vertical)",
                    f.len()
                )));
            }
            clock.get_or_insert(f[0] * 3600.0 + f[1] * 60.0 + f[2] + f[3] * 1e-6);
            horizontal.push(f[4]);
        }
        let Some(mut c) = clock else {
            return Err(FleetError::BadRow { file: path.clone(), line: 1, message: "no samples".into() });
        };
        // The clock is the time of day: past midnight it starts again.
        if c + day < last_clock - 1.0 {
            day += 86_400.0;
        }
        c += day;
        last_clock = c;
        let t0 = *first.get_or_insert(c);
        rows.push(dataset_row(c - t0, speed, &horizontal));
    }
    let summary = super::dataset_summary(format!("femto-{name}"), format!("FEMTO {}", dir.display()), speed, &rows);
    Ok(vec![(summary, rows)])
}
