//! The workbench under Xvfb: each bundled scenario opens in a real window, renders with a software Vulkan driver,
//! and Bevy's screenshot API writes a PNG whose pixels must show the plant and the side panel. The PNGs are kept
//! in `target/test-artifacts/gui/`.

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

#[test]
fn the_workbench_opens_under_xvfb_and_a_screenshot_shows_the_assets() {
    let dir = artifacts("gui");
    for scene in scenes() {
        let stem = scene.file_stem().unwrap().to_str().unwrap().to_owned();
        let shot = dir.join(format!("{stem}.png"));
        let out = Command::new("xvfb-run")
            .args(["-a", "-s", "-screen 0 1280x800x24", env!("CARGO_BIN_EXE_twin")])
            .arg(&scene)
            .args(["--screenshot", shot.to_str().unwrap(), "--frames", "20"])
            .current_dir(root())
            .output()
            .expect("xvfb-run is installed by scripts/test.sh");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{stem}: the workbench failed under Xvfb:\n{err}");

        let img = decode(&shot);
        assert_eq!((img.width, img.height), (1280, 800), "{stem}: window size");

        // The side panel (left edge): egui's dark fill with light text on it.
        let panel = img.region(0.0, 0.12, 0.05, 0.95);
        let dark = panel.iter().filter(|p| luma(p) < 70.0).count() as f32 / panel.len() as f32;
        let text = panel.iter().filter(|p| luma(p) > 150.0).count();
        assert!(dark > 0.6, "{stem}: no dark panel at the left edge ({dark:.2} dark)");
        assert!(text > 300, "{stem}: no text drawn in the panel ({text} light pixels)");

        // The 3D view: lit, shaded geometry, with the pump (blue) and motor (orange) colours present.
        let view = img.region(0.3, 1.0, 0.0, 1.0);
        let blue = view.iter().filter(|p| p[2] as i32 > p[0] as i32 + 60 && p[2] as i32 > p[1] as i32 + 15).count();
        let orange = view.iter().filter(|p| p[0] as i32 > p[1] as i32 + 35 && p[1] as i32 > p[2] as i32 + 25).count();
        let mut colours: Vec<[u8; 3]> = view.iter().map(|p| [p[0] & 0xf0, p[1] & 0xf0, p[2] & 0xf0]).collect();
        colours.sort_unstable();
        colours.dedup();
        assert!(blue > 200, "{stem}: no pump visible ({blue} blue pixels)");
        assert!(orange > 200, "{stem}: no motor visible ({orange} orange pixels)");
        assert!(colours.len() > 40, "{stem}: the 3D view looks flat ({} colours)", colours.len());
    }
}
