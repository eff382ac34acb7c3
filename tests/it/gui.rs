//! The workbench under Xvfb: each bundled scenario opens in a real window, renders with a software Vulkan driver,
//! and Bevy's screenshot API writes a PNG whose pixels must show the plant in 3D, the top bar, the asset tree, the
//! inspector and the plots. The PNGs are kept in `target/test-artifacts/gui/`.

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
        let audit = dir.join(format!("{stem}-audit.jsonl"));
        let pump = first_pump(&scene);
        let out = Command::new("xvfb-run")
            .args(["-a", "-s", "-screen 0 1280x800x24", env!("CARGO_BIN_EXE_twin")])
            .arg(&scene)
            .args(["--screenshot", shot.to_str().unwrap(), "--frames", "60", "--select", &pump])
            .arg("--audit")
            .arg(&audit)
            .env("XDG_CONFIG_HOME", &dir)
            .current_dir(root())
            .output()
            .expect("xvfb-run is installed by scripts/test.sh");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{stem}: the workbench failed under Xvfb:\n{err}");

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
