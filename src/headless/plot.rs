//! `twin run --plot DIR`: PNG charts of a run's indices for people to look at (CI artifacts), drawn with plotters
//! into memory and encoded with `png`: no display, no system font (the text uses Hack, bundled in the binary).
//! One PNG per asset, `DIR/<asset id>.png`, with one panel per index over time in hours.

use std::path::{Path, PathBuf};
use std::sync::Once;

use plotters::prelude::*;
use plotters::style::FontStyle;

use super::Report;

/// Width of every chart, px.
pub const WIDTH: u32 = 1200;
/// Height of one row of panels, px.
pub const PANEL_HEIGHT: u32 = 300;
/// Line colours of the panels, in index order (cycled).
pub const PALETTE: [(u8, u8, u8); 6] =
    [(31, 119, 180), (214, 39, 40), (44, 160, 44), (148, 103, 189), (255, 127, 14), (140, 86, 75)];
/// Values at or beyond this magnitude (an infinite remaining life, reported as f64::MAX) are not drawn.
const UNBOUNDED: f64 = 1e300;
const FONT: &str = "sans-serif";

/// The size of an asset's chart with `panels` indices: two panels per row (one when there is one), 300 px rows.
pub fn chart_size(panels: usize) -> (u32, u32) {
    let cols = if panels > 1 { 2 } else { 1 };
    (WIDTH, PANEL_HEIGHT * panels.div_ceil(cols).max(1) as u32)
}

/// A file name made of the id's letters, digits, `.`, `_` and `-` (anything else becomes `_`).
pub fn file_stem(id: &str) -> String {
    id.chars().map(|c| if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') { c } else { '_' }).collect()
}

fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // The bundled font is valid TrueType: registering cannot fail, and text would only be missing if it did.
        let _ = plotters::style::register_font(FONT, FontStyle::Normal, epaint_default_fonts::HACK_REGULAR);
    });
}

/// Writes one PNG per asset of `report` into `dir` (created if missing); returns the files written.
pub fn write_plots(report: &Report, dir: &Path) -> Result<Vec<PathBuf>, String> {
    register_font();
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let hours: Vec<f64> = report.t_s.iter().map(|t| t / 3600.0).collect();
    let mut written = Vec::new();
    for asset in &report.assets {
        let series: Vec<(&str, &[f64])> = report
            .series
            .iter()
            .filter(|s| s.asset == asset.id)
            .map(|s| (s.index.as_str(), s.values.as_slice()))
            .collect();
        let title = format!("{} ({}): {}", asset.id, asset.kind, report.scenario);
        let (w, h) = chart_size(series.len());
        let pixels = draw(&title, &hours, &series, (w, h)).map_err(|e| format!("{}: plot: {e}", asset.id))?;
        let path = dir.join(format!("{}.png", file_stem(&asset.id)));
        encode(&path, &pixels, (w, h)).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        written.push(path);
    }
    Ok(written)
}

/// Draws the panels into an RGB buffer.
fn draw(title: &str, hours: &[f64], series: &[(&str, &[f64])], (w, h): (u32, u32)) -> Result<Vec<u8>, String> {
    let mut buf = vec![0u8; (w * h * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut buf, (w, h)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let root = root.titled(title, (FONT, 20)).map_err(|e| e.to_string())?;
        let cols = if series.len() > 1 { 2 } else { 1 };
        let panels = root.split_evenly((series.len().div_ceil(cols).max(1), cols));
        let x_end = hours.last().copied().filter(|&t| t > 0.0).unwrap_or(1.0);
        for (k, ((index, values), panel)) in series.iter().zip(panels.iter()).enumerate() {
            let (r, g, b) = PALETTE[k % PALETTE.len()];
            let colour = RGBColor(r, g, b);
            let drawable = |v: f64| v.is_finite() && v.abs() < UNBOUNDED;
            let (lo, hi) = values
                .iter()
                .copied()
                .filter(|&v| drawable(v))
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| (lo.min(v), hi.max(v)));
            let skipped = values.iter().any(|&v| !drawable(v));
            let caption = if skipped { format!("{index} (unbounded values not drawn)") } else { (*index).to_owned() };
            let (lo, hi) = if lo > hi {
                (0.0, 1.0)
            } else {
                let pad = if hi > lo { (hi - lo) * 0.05 } else { (hi.abs() * 0.05).max(0.01) };
                (lo - pad, hi + pad)
            };
            let mut chart = ChartBuilder::on(panel)
                .caption(caption, (FONT, 16))
                .margin(10)
                .x_label_area_size(35)
                .y_label_area_size(70)
                .build_cartesian_2d(0.0..x_end, lo..hi)
                .map_err(|e| e.to_string())?;
            chart
                .configure_mesh()
                .x_desc("time, h")
                .label_style((FONT, 12))
                .axis_desc_style((FONT, 13))
                .light_line_style(RGBColor(235, 235, 235))
                .draw()
                .map_err(|e| e.to_string())?;
            // One line per stretch of drawable values.
            let mut stretch: Vec<(f64, f64)> = Vec::new();
            for (i, (&t, &v)) in hours.iter().zip(values.iter()).enumerate() {
                if drawable(v) {
                    stretch.push((t, v));
                }
                if (!drawable(v) || i + 1 == values.len()) && !stretch.is_empty() {
                    chart
                        .draw_series(LineSeries::new(std::mem::take(&mut stretch), colour.stroke_width(2)))
                        .map_err(|e| e.to_string())?;
                }
            }
        }
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(buf)
}

fn encode(path: &Path, rgb: &[u8], (w, h): (u32, u32)) -> Result<(), String> {
    let file = std::fs::File::create(path).map_err(|e| e.to_string())?;
    let mut enc = png::Encoder::new(std::io::BufWriter::new(file), w, h);
    enc.set_color(png::ColorType::Rgb);
    enc.set_depth(png::BitDepth::Eight);
    let mut writer = enc.write_header().map_err(|e| e.to_string())?;
    writer.write_image_data(rgb).map_err(|e| e.to_string())?;
    writer.finish().map_err(|e| e.to_string())
}
