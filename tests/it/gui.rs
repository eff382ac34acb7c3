//! The workbench under Xvfb: each bundled scenario opens in a real window, renders with a software Vulkan driver,
//! and Bevy's screenshot API writes a PNG whose pixels must show the plant in 3D, the top bar, the asset tree, the
//! inspector and the plots; on a store written by `twin serve` it resumes and plots the stored history. The PNGs
//! are kept in `target/test-artifacts/gui/` and `gui-store/`.

use std::process::Command;

use super::{artifacts, root, scenes};

struct Image {
    width: usize,
    height: usize,
    rgb: Vec<[u8; 3]>,
}

fn decode(path: &std::path::Path) -> Image {
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(path).expect("screenshot exists")));
    let mut reader = decoder.read_info().expect("PNG header");
    let mut buf = vec![0; reader.output_buffer_size().expect("size")];
    let info = reader.next_frame(&mut buf).expect("PNG data");
    let channels = info.color_type.samples();
    assert_eq!(info.bit_depth, png::BitDepth::Eight);
    let rgb = buf[..info.buffer_size()].chunks(channels).map(|p| [p[0], p[1], p[2]]).collect();
    Image { width: info.width as usize, height: info.height as usize, rgb }
}

impl Image {
    /// Pixels in the rectangle of fractions [x0, x1) × [y0, y1) of the image.
    fn region(&self, x0: f32, x1: f32, y0: f32, y1: f32) -> Vec<[u8; 3]> {
        let (w, h) = (self.width as f32, self.height as f32);
        let mut v = Vec::new();
        for y in (y0 * h) as usize..(y1 * h) as usize {
            for x in (x0 * w) as usize..(x1 * w) as usize {
                v.push(self.rgb[y * self.width + x]);
            }
        }
        v
    }
}

fn luma(p: &[u8; 3]) -> f32 {
    0.2126 * p[0] as f32 + 0.7152 * p[1] as f32 + 0.0722 * p[2] as f32
}

/// Pixels close to `c` (each channel within `tol`).
fn near(p: &[u8; 3], c: [u8; 3], tol: i32) -> bool {
    p.iter().zip(c).all(|(a, b)| (*a as i32 - b as i32).abs() <= tol)
}

/// Opens the workbench under Xvfb (1280x800) with `args`, its settings and audit log in `dir`, until it has
/// written its screenshot; returns its stderr after checking it succeeded.
fn workbench(args: &[&std::ffi::OsStr], dir: &std::path::Path) -> String {
    let out = Command::new("xvfb-run")
        .args(["-a", "-s", "-screen 0 1280x800x24", env!("CARGO_BIN_EXE_twin")])
        .args(args)
        .arg("--audit")
        .arg(dir.join("audit.jsonl"))
        .env("XDG_CONFIG_HOME", dir)
        .current_dir(root())
        .output()
        .expect("xvfb-run is installed by scripts/test.sh");
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "the workbench failed under Xvfb ({args:?}):\n{err}");
    err
}

/// The first pump of a scenario file (the tests select it, so its inspector and plots show).
fn first_pump(scene: &std::path::Path) -> String {
    let s = twin::scenario::load(scene).expect("bundled scenario loads");
    s.assets.iter().find(|a| a.kind.name() == "CentrifugalPump").expect("a pump").id.clone()
}

#[test]
fn the_workbench_opens_each_scenario_under_xvfb_and_draws_the_plant_panels_and_plots() {
    let dir = artifacts("gui");
    for scene in scenes() {
        let stem = scene.file_stem().unwrap().to_str().unwrap().to_owned();
        let shot = dir.join(format!("{stem}.png"));
        let pump = first_pump(&scene);
        let args = ["--screenshot", shot.to_str().unwrap(), "--frames", "60", "--select", &pump];
        let mut argv = vec![scene.as_os_str()];
        argv.extend(args.iter().map(std::ffi::OsStr::new));
        let own = dir.join(&stem);
        std::fs::create_dir_all(&own).unwrap();
        workbench(&argv, &own);

        let img = decode(&shot);
        assert_eq!((img.width, img.height), (1280, 800), "{stem}: window size");
        let text = |r: &[[u8; 3]]| r.iter().filter(|p| luma(p) > 150.0).count();
        let dark = |r: &[[u8; 3]]| r.iter().filter(|p| luma(p) < 70.0).count() as f32 / r.len() as f32;

        // Top bar, asset tree (left), inspector (right): egui's dark fill with light text on it.
        for (name, region) in [
            ("top bar", img.region(0.0, 1.0, 0.0, 0.05)),
            ("asset tree", img.region(0.0, 0.15, 0.07, 0.75)),
            ("inspector", img.region(0.7, 1.0, 0.07, 0.75)),
        ] {
            assert!(dark(&region) > 0.6, "{stem}: no dark {name} ({:.2} dark)", dark(&region));
            assert!(text(&region) > 150, "{stem}: no text in the {name} ({} light pixels)", text(&region));
        }
        // The tree's health badges and the inspector's grades: the healthy green.
        let green = |r: &[[u8; 3]]| r.iter().filter(|p| near(p, [51, 178, 76], 30)).count();
        assert!(green(&img.region(0.0, 0.15, 0.07, 0.75)) > 100, "{stem}: no health badges in the tree");

        // The 3D view: lit, shaded geometry tinted by health (healthy green), many shades.
        let view = img.region(0.2, 0.62, 0.08, 0.78);
        let tinted = view.iter().filter(|p| p[1] as i32 > p[0] as i32 + 50 && p[1] as i32 > p[2] as i32 + 40).count();
        let mut colours: Vec<[u8; 3]> = view.iter().map(|p| [p[0] & 0xf0, p[1] & 0xf0, p[2] & 0xf0]).collect();
        colours.sort_unstable();
        colours.dedup();
        assert!(tinted > 300, "{stem}: no health-tinted asset in the 3D view ({tinted} green pixels)");
        assert!(colours.len() > 40, "{stem}: the 3D view looks flat ({} colours)", colours.len());

        // The plots (bottom): dark plot areas with the alarm (red) and alert (amber) threshold lines, and the
        // temperature traces (measured and predicted) drawn.
        let plots = img.region(0.0, 1.0, 0.82, 1.0);
        assert!(dark(&plots) > 0.5, "{stem}: no plot panel");
        // Thin lines are blended with the plot's dark background: judge the hue, not the exact colour.
        let red = plots.iter().filter(|p| p[0] > 120 && p[1] < 70 && p[2] < 70).count();
        let amber = plots.iter().filter(|p| near(p, [240, 170, 40], 25)).count();
        let temps = plots.iter().filter(|p| near(p, [255, 120, 90], 25) || near(p, [120, 200, 255], 25)).count();
        assert!(red > 300, "{stem}: no alarm threshold lines in the plots ({red} pixels)");
        assert!(amber > 150, "{stem}: no alert threshold lines in the plots ({amber} pixels)");
        assert!(temps > 50, "{stem}: no temperature traces in the plots ({temps} pixels)");
    }
}

#[test]
fn the_workbench_on_a_store_resumes_where_twin_serve_stopped_and_plots_the_stored_history() {
    let dir = artifacts("gui-store");
    let store = dir.join("station.twin.sqlite");
    for f in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{f}", store.display()));
    }
    // `twin serve` runs the station about an hour (600x for 6 s) into the store and stops on SIGTERM, taking a
    // last checkpoint.
    let serve = Command::new(env!("CARGO_BIN_EXE_twin"))
        .args(["serve", "scenes/pump_station.ron", "--speed", "600x", "--store", store.to_str().unwrap()])
        .current_dir(root())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_secs(6));
    let _ = Command::new("kill").args(["-TERM", &serve.id().to_string()]).status();
    let out = serve.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let newest = || {
        let script = "import sqlite3, sys\nc = sqlite3.connect(sys.argv[1])\nprint(c.execute('SELECT MAX(t_unix_s) - 1767225600 FROM checkpoints').fetchone()[0], c.execute('SELECT COUNT(*) FROM samples').fetchone()[0])";
        let out = Command::new("/usr/bin/python3").arg("-c").arg(script).arg(&store).output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        let mut it = text.split_whitespace().map(|x| x.parse::<f64>().unwrap());
        (it.next().unwrap(), it.next().unwrap())
    };
    let (served_s, served_samples) = newest();
    assert!(served_s > 1800.0, "the service ran half an hour at least ({served_s} s)");

    // The workbench opens on the store: it resumes from that checkpoint, draws the plots' ranges from the store,
    // and leaves a later checkpoint when it closes.
    let shot = dir.join("resumed.png");
    let args = ["scenes/pump_station.ron", "--store", store.to_str().unwrap()];
    let more = ["--screenshot", shot.to_str().unwrap(), "--frames", "60", "--select", "P-101"];
    let argv: Vec<&std::ffi::OsStr> = args.iter().chain(&more).map(std::ffi::OsStr::new).collect();
    let err = workbench(&argv, &dir);
    // The log writes the time as a duration does ("59m" for 3,540 s, "3541s" for 3,541 s).
    let at = format!("resumed from the checkpoint at t = {}", twin::scenario::Dur::from_secs(served_s.round()));
    assert!(err.contains(&at), "no '{at}' in:\n{err}");
    assert!(err.contains("history store closed"), "{err}");
    let (closed_s, closed_samples) = newest();
    assert!(closed_s > served_s, "the workbench's checkpoint ({closed_s} s) is after the service's ({served_s} s)");
    assert!(closed_samples > served_samples, "the workbench went on storing samples");

    // The winding temperature's measured trace (the fifth chart, from t = 0 to now) covers the hour the service
    // stored, not just the minutes the workbench ran: the chart's left half holds its colour in nearly every
    // column (without the store it would be empty: the workbench's own memory starts at the resume).
    let img = decode(&shot);
    let (x0, x1, y0, y1) = (0.695, 0.76, 0.9, 0.985);
    let (w, h) = (img.width as f32, img.height as f32);
    let columns = ((x0 * w) as usize..(x1 * w) as usize)
        .filter(|&x| {
            // The thin line is blended with the background and the revised spans' shading: judge the hue.
            ((y0 * h) as usize..(y1 * h) as usize).any(|y| {
                let p = img.rgb[y * img.width + x];
                p[0] > 140 && p[0] as i32 - p[2] as i32 > 60
            })
        })
        .count();
    let share = columns as f32 / ((x1 - x0) * w);
    assert!(share > 0.8, "the measured temperature covers {share:.2} of its chart's left half");
}

#[test]
fn at_the_highest_speed_the_workbench_shows_fresh_values_no_drops_and_plots_with_crosshair_events_and_rul_band() {
    let dir = artifacts("gui-plots");
    let shot = dir.join("one-day-per-second.png");
    // The fastest speed the top bar offers (1 d/s): the virtual plant runs in lock-step with the twin, 600
    // simulated seconds a frame at most, so 100 frames reach past the seeded bearing fault (detected near 12:50).
    // The crosshair is pinned at 14 h, after the fault.
    let args = ["scenes/pump_station.ron", "--speed", "86400x", "--cursor", "14h", "--select", "P-101"];
    let more = ["--screenshot", shot.to_str().unwrap(), "--frames", "100", "--export-plots", "--export-dir"];
    let mut argv: Vec<&std::ffi::OsStr> = args.iter().chain(&more).map(std::ffi::OsStr::new).collect();
    argv.push(dir.as_os_str());
    workbench(&argv, &dir);
    let img = decode(&shot);
    let count = |r: &[[u8; 3]], c: [u8; 3], tol: i32| r.iter().filter(|p| near(p, c, tol)).count();

    // Zero drops: the connections row has no warning colour (the drop counter turns amber above 0).
    let connections = img.region(0.0, 1.0, 0.028, 0.052);
    let warn = count(&connections, [230, 150, 40], 25);
    assert!(text_pixels(&connections) > 200, "the connections row is drawn ({})", text_pixels(&connections));
    assert_eq!(warn, 0, "a warning in the connections row (drops?): {warn} amber pixels");
    // Fresh values: no live value in the inspector is flagged stale or skewed (those flags are yellow).
    let inspector = img.region(0.57, 1.0, 0.06, 0.62);
    let yellow = count(&inspector, [255, 255, 0], 40);
    assert!(text_pixels(&inspector) > 1000, "the inspector is drawn");
    assert_eq!(yellow, 0, "a live value is flagged stale or skewed: {yellow} yellow pixels");

    // The crosshair's read-out above the charts: each chart's series in its colour.
    let readout = img.region(0.0, 1.0, 0.715, 0.76);
    let colours = [
        ("cavitation now", [255, 150, 60]),
        ("cavitation 1 h ahead", [230, 90, 200]),
        ("insulation", [250, 210, 80]),
        ("measured temperature", [255, 120, 90]),
        ("predicted temperature", [120, 200, 255]),
        ("residual", [200, 160, 255]),
    ];
    let shown: Vec<(&str, usize)> = colours.iter().map(|(n, c)| (*n, count(&readout, *c, 40))).collect();
    assert!(shown.iter().filter(|(_, n)| *n > 8).count() >= 5, "the read-out's values by colour: {shown:?}");

    // The crosshair itself: a light vertical line through at least four charts (the same time on each).
    let (y0, y1) = ((0.8 * 800.0) as usize, (0.96 * 800.0) as usize);
    let columns: Vec<usize> = (0..img.width)
        .filter(|&x| {
            let lit = (y0..y1).filter(|&y| near(&img.rgb[y * img.width + x], [230, 230, 230], 25)).count();
            lit as f32 > 0.6 * (y1 - y0) as f32
        })
        .collect();
    let mut lines = columns.clone();
    lines.dedup_by(|a, b| *a <= *b + 2);
    assert!(lines.len() >= 4, "crosshair lines at columns {columns:?}");

    // Event markers: the detected fault (magenta, dotted) on the charts.
    let charts = img.region(0.0, 1.0, 0.78, 0.97);
    let magenta = count(&charts, [255, 0, 255], 60);
    assert!(magenta > 100, "no fault marker on the charts ({magenta} magenta pixels)");

    // The remaining-life chart's p10–p90 band: a dull green fill (a quarter of the line's light green).
    let rul = img.region(0.175, 0.33, 0.78, 0.97);
    let band = rul
        .iter()
        .filter(|p| p[1] as i32 > p[0] as i32 + 12 && p[1] as i32 > p[2] as i32 + 12 && p[1] < 140 && p[1] > 40)
        .count();
    assert!(band > 300, "no remaining-life band ({band} pixels)");

    // The plots exported halfway (as the CSV and PNG buttons do): the panel's picture, and its data.
    let exported = |ext: &str| {
        std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| {
                p.file_name().unwrap().to_str().unwrap().starts_with("twin-plots-P-101-")
                    && p.extension().is_some_and(|e| e == ext)
            })
            .unwrap_or_else(|| panic!("no exported {ext} in {}", dir.display()))
    };
    let panel = decode(&exported("png"));
    assert!(panel.width > 1200 && (200..300).contains(&panel.height), "{} x {}", panel.width, panel.height);
    let all = panel.region(0.0, 1.0, 0.0, 1.0);
    assert!(count(&all, [230, 60, 50], 30) > 300, "the panel's picture has no alarm threshold lines");
    let csv = std::fs::read_to_string(exported("csv")).unwrap();
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some("chart,series,time_s,time,value,note"));
    let charts: std::collections::BTreeSet<&str> = lines.map(|l| l.split(',').next().unwrap()).collect();
    for chart in ["Bearing wear", "Cavitation risk", "Insulation health", "Winding temperature, °C"] {
        assert!(charts.iter().any(|c| chart.starts_with(c.trim_matches('"'))), "{chart} not exported: {charts:?}");
    }
}

/// Light (text) pixels in a region: egui's text on its dark fill.
fn text_pixels(r: &[[u8; 3]]) -> usize {
    r.iter().filter(|p| luma(p) > 110.0).count()
}
