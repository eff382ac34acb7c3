//! Frame-time figures for the GUI benchmark (`twin --frame-stats FILE`): the CPU time of each frame's main-world
//! update (the twin, the workbench's systems and the egui layout, from `First` to the end of `Last`; the render
//! world, which runs on its own thread, is excluded), written as JSON after a warm-up and `frames` frames. Both
//! wall time and on-CPU time (`CLOCK_THREAD_CPUTIME_ID`: time the main thread actually ran, without the time it
//! waited for a core the software renderer held) are recorded.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use bevy::prelude::*;

use crate::twin::AssetIndex;

/// Frames skipped before measuring (shader compilation, first layouts).
const WARMUP_FRAMES: u32 = 30;

/// Measures `frames` frames and writes the figures to `path`, then exits.
pub(super) struct FrameStatsPlugin {
    pub path: PathBuf,
    pub frames: u32,
    /// Set to the reason when the figures cannot be written.
    pub failure: Arc<Mutex<Option<String>>>,
}

#[derive(Resource)]
struct FrameStats {
    path: PathBuf,
    frames: u32,
    seen: u32,
    started: Option<(Instant, Option<u64>)>,
    wall_ms: Vec<f64>,
    cpu_ms: Vec<f64>,
    wall_started: Option<Instant>,
    failure: Arc<Mutex<Option<String>>>,
}

impl Plugin for FrameStatsPlugin {
    fn build(&self, app: &mut App) {
        app.insert_resource(FrameStats {
            path: self.path.clone(),
            frames: self.frames.max(1),
            seen: 0,
            started: None,
            wall_ms: Vec::new(),
            cpu_ms: Vec::new(),
            wall_started: None,
            failure: self.failure.clone(),
        })
        .add_systems(First, start_frame)
        .add_systems(Last, end_frame.in_set(super::FrameEnd::Decide));
    }
}

/// On-CPU time of this thread, ns (`CLOCK_THREAD_CPUTIME_ID`; `None` where the clock is not available).
pub fn thread_cpu_ns() -> Option<u64> {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a valid, writable timespec for the duration of the call.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    (rc == 0).then(|| ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64)
}

/// Exclusive, so that it runs on the thread that runs the schedule, as `end_frame` does: the two thread-CPU
/// readings are of one thread (systems in between may run on others, so on-CPU undercounts a parallel frame).
fn start_frame(world: &mut World) {
    world.resource_mut::<FrameStats>().started = Some((Instant::now(), thread_cpu_ns()));
}

/// The median and the 90th percentile of `v`, ms.
pub(super) fn median_p90(v: &[f64]) -> (f64, f64) {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    if v.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    let at = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
    (at(0.5), at(0.9))
}

fn end_frame(world: &mut World) {
    let assets = world.resource::<AssetIndex>().0.len();
    let done = world.resource_scope(|_, mut s: Mut<FrameStats>| end_frame_stats(&mut s, assets));
    if let Some(exit) = done {
        world.write_message(exit);
    }
}

/// Records a frame; after the last one writes the figures and says how to exit.
fn end_frame_stats(s: &mut FrameStats, assets: usize) -> Option<AppExit> {
    s.seen += 1;
    if s.seen <= WARMUP_FRAMES {
        s.wall_started = Some(Instant::now());
        return None;
    }
    if let Some((t, cpu0)) = s.started {
        let ms = t.elapsed().as_secs_f64() * 1e3;
        s.wall_ms.push(ms);
        if let (Some(a), Some(b)) = (cpu0, thread_cpu_ns()) {
            s.cpu_ms.push(b.saturating_sub(a) as f64 / 1e6);
        }
    }
    if s.wall_ms.len() as u32 >= s.frames {
        let (median, p90) = median_p90(&s.cpu_ms);
        let (wall_median, wall_p90) = median_p90(&s.wall_ms);
        let wall_s = s.wall_started.map_or(f64::NAN, |w| w.elapsed().as_secs_f64());
        let json = serde_json::json!({
            "assets": assets,
            "frames": s.wall_ms.len(),
            "main_world_cpu_ms_median": median,
            "main_world_cpu_ms_p90": p90,
            "main_world_wall_ms_median": wall_median,
            "main_world_wall_ms_p90": wall_p90,
            "frames_per_s": s.wall_ms.len() as f64 / wall_s,
        });
        if let Err(e) = std::fs::write(&s.path, format!("{json:#}\n")) {
            *s.failure.lock().unwrap_or_else(|e| e.into_inner()) =
                Some(format!("cannot write {}: {e}", s.path.display()));
            return Some(AppExit::error());
        }
        return Some(AppExit::Success);
    }
    None
}

#[cfg(test)]
mod tests {
    #[test]
    fn median_and_p90() {
        let v: Vec<f64> = (1..=11).map(f64::from).collect();
        assert_eq!(super::median_p90(&v), (6.0, 10.0));
        assert!(super::median_p90(&[]).0.is_nan());
    }
}
