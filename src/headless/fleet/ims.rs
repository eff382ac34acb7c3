//! The IMS bearing run-to-failure data (NASA prognostics repository, University of Cincinnati): one directory per
//! test, one ASCII file per snapshot named by its time (`2004.02.12.10.32.39`), 20,480 rows of tab-separated
//! accelerations (g) at 20 kHz, one column per channel (four bearings on one shaft at 2000 rpm; test 1 has two
//! channels per bearing). Each channel becomes one history of the fleet layout: a row per snapshot with its RMS,
//! peak and crest factor; the test ran until a bearing failed, so the last snapshot is the failure time.

use std::path::{Path, PathBuf};

use super::{FleetError, PumpSummary, Row, dataset_row};

/// The shaft speed of every IMS test, rpm.
pub const SPEED_RPM: f64 = 2000.0;

/// The snapshot time a file's name gives, Unix s (`YYYY.MM.DD.HH.MM.SS`, UTC), or None for another name.
pub fn snapshot_time(name: &str) -> Option<f64> {
    let parts: Vec<i64> = name.split('.').map(|p| p.parse().ok()).collect::<Option<_>>()?;
    let [y, mo, d, h, mi, s] = parts[..] else { return None };
    if !((1..=12).contains(&mo) && (1..=31).contains(&d) && h < 24 && mi < 60 && s < 61) {
        return None;
    }
    // Days from the civil date (Howard Hinnant's algorithm).
    let (y, m) = if mo <= 2 { (y - 1, mo + 9) } else { (y, mo - 3) };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * m + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some((days * 86_400 + h * 3600 + mi * 60 + s) as f64)
}

/// Reads every snapshot in `dir`: one history per channel, named `ims-ch1`, `ims-ch2`, ...
pub fn read(dir: &Path) -> Result<Vec<(PumpSummary, Vec<Row>)>, FleetError> {
    let io = |source| FleetError::Io { path: dir.to_owned(), source };
    let mut files: Vec<(f64, PathBuf)> = std::fs::read_dir(dir)
        .map_err(io)?
        .filter_map(|e| e.ok())
        .filter_map(|e| Some((snapshot_time(e.file_name().to_str()?)?, e.path())))
        .collect();
    files.sort_by(|a, b| a.0.total_cmp(&b.0));
    let Some(&(t0, _)) = files.first() else {
        return Err(FleetError::Empty {
            dir: dir.to_owned(),
            message: "no IMS snapshot (files named YYYY.MM.DD.HH.MM.SS)".into(),
        });
    };
    let mut channels: Vec<Vec<Row>> = Vec::new();
    for (t, path) in &files {
        let text = std::fs::read_to_string(path).map_err(|source| FleetError::Io { path: path.clone(), source })?;
        let mut columns: Vec<Vec<f64>> = Vec::new();
        for (i, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
            let bad = |message: String| FleetError::BadRow { file: path.clone(), line: i + 1, message };
            let values: Vec<f64> = line
                .split_whitespace()
                .map(|f| {
                    f.parse::<f64>()
                        .ok()
                        .filter(|v| v.is_finite())
                        .ok_or_else(|| bad(format!("\"{f}\" is not a number")))
                })
                .collect::<Result<_, _>>()?;
            if columns.is_empty() {
                columns = vec![Vec::new(); values.len()];
            }
            if values.len() != columns.len() {
                return Err(bad(format!("{} channels, the file's first row has {}", values.len(), columns.len())));
            }
            for (c, v) in columns.iter_mut().zip(values) {
                c.push(v);
            }
        }
        if columns.is_empty() {
            return Err(FleetError::BadRow { file: path.clone(), line: 1, message: "no samples".into() });
        }
        if channels.is_empty() {
            channels = vec![Vec::new(); columns.len()];
        }
        if columns.len() != channels.len() {
            return Err(FleetError::BadRow {
                file: path.clone(),
                line: 1,
                message: format!("{} channels, the first snapshot has {}", columns.len(), channels.len()),
            });
        }
        for (rows, samples) in channels.iter_mut().zip(&columns) {
            rows.push(dataset_row(t - t0, SPEED_RPM, samples));
        }
    }
    Ok(channels
        .into_iter()
        .enumerate()
        .map(|(c, rows)| {
            let source = format!("IMS {}", dir.display());
            (super::dataset_summary(format!("ims-ch{}", c + 1), source, SPEED_RPM, &rows), rows)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_snapshot_name_is_its_utc_time() {
        assert_eq!(snapshot_time("1970.01.01.00.00.00"), Some(0.0));
        // 2004-02-12T10:32:39Z.
        assert_eq!(snapshot_time("2004.02.12.10.32.39"), Some(1_076_581_959.0));
        assert_eq!(snapshot_time("2004.13.12.10.32.39"), None);
        assert_eq!(snapshot_time("readme.txt"), None);
    }
}
