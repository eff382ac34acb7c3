//! Lumped thermal models: a single RC node with its exact step, a small generic network
//! `C dT/dt = P - G (T - T_amb)` with integrators that are stable for any time step, and the motor's
//! winding / frame / bearing-housing network with temperature-dependent copper losses and speed-dependent cooling.

// Small dense matrix code reads best with explicit indices.
#![allow(clippy::needless_range_loop)]

use crate::params::MotorThermalParams;

/// Temperature coefficient of copper resistance, 1/K: `R(T) = R20 (1 + 0.00393 (T - 20))`.
pub const COPPER_ALPHA_PER_K: f64 = 0.003_93;

/// Copper resistance at `t_c`, Ω, from its 20 °C value.
#[inline]
pub fn copper_resistance_ohm(r20_ohm: f64, t_c: f64) -> f64 {
    r20_ohm * (1.0 + COPPER_ALPHA_PER_K * (t_c - 20.0))
}

/// Three-phase copper loss `P_cu = 3 I² R`, W (I phase current A, R phase resistance Ω).
#[inline]
pub fn copper_loss_w(current_a: f64, r_phase_ohm: f64) -> f64 {
    3.0 * current_a * current_a * r_phase_ohm
}

/// One thermal node `C dT/dt = P - (T - T_amb)/R`, time constant `tau = R C`.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SingleNode {
    /// Heat capacity, J/K.
    pub capacity_j_per_k: f64,
    /// Thermal resistance to ambient, K/W.
    pub resistance_k_per_w: f64,
}

impl SingleNode {
    /// Time constant `tau = R C`, s.
    pub fn tau_s(&self) -> f64 {
        self.capacity_j_per_k * self.resistance_k_per_w
    }

    /// Exact step for constant `P` and `T_amb` over `dt` (stable for any dt):
    /// `T(t+dt) = T_ss + (T - T_ss) exp(-dt/tau)`, `T_ss = T_amb + P R`.
    pub fn step(&self, temp_c: f64, power_w: f64, ambient_c: f64, dt_s: f64) -> f64 {
        let t_ss = ambient_c + power_w * self.resistance_k_per_w;
        t_ss + (temp_c - t_ss) * (-dt_s / self.tau_s()).exp()
    }

    /// Analytic step response from ambient: `T = T_amb + P R (1 - exp(-t/tau))`.
    pub fn step_response(&self, power_w: f64, ambient_c: f64, t_s: f64) -> f64 {
        ambient_c + power_w * self.resistance_k_per_w * (1.0 - (-t_s / self.tau_s()).exp())
    }
}

/// A small lumped network of N nodes: `C_i dT_i/dt = P_i - sum_j G_ij (T_i - T_j) - g_i (T_i - T_amb)`,
/// i.e. `C dT/dt = P + g T_amb - L T` with `L` = the conductance Laplacian plus `diag(g)`.
#[serde_with::serde_as]
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ThermalNetwork<const N: usize> {
    /// Heat capacity of each node, J/K.
    #[serde_as(as = "[_; N]")]
    pub capacity_j_per_k: [f64; N],
    /// Symmetric node-to-node conductances, W/K (diagonal ignored).
    #[serde_as(as = "[[_; N]; N]")]
    pub conductance_w_per_k: [[f64; N]; N],
    /// Conductance of each node to ambient, W/K.
    #[serde_as(as = "[_; N]")]
    pub ambient_w_per_k: [f64; N],
}

impl<const N: usize> ThermalNetwork<N> {
    /// The matrix `L` (W/K).
    fn laplacian(&self) -> [[f64; N]; N] {
        let mut l = [[0.0; N]; N];
        for i in 0..N {
            let mut d = self.ambient_w_per_k[i];
            for j in 0..N {
                if i != j {
                    l[i][j] = -self.conductance_w_per_k[i][j];
                    d += self.conductance_w_per_k[i][j];
                }
            }
            l[i][i] = d;
        }
        l
    }

    /// Steady state `L T = P + g T_amb`, °C.
    pub fn steady_state(&self, power_w: &[f64; N], ambient_c: f64) -> [f64; N] {
        let mut b = [0.0; N];
        for i in 0..N {
            b[i] = power_w[i] + self.ambient_w_per_k[i] * ambient_c;
        }
        solve(self.laplacian(), b)
    }

    /// Backward-Euler step `(C/dt + L) T' = C/dt T + P + g T_amb`: first-order accurate, unconditionally
    /// stable and monotone (L-stable) for any dt > 0.
    pub fn step_implicit(&self, temps_c: &mut [f64; N], power_w: &[f64; N], ambient_c: f64, dt_s: f64) {
        let mut a = self.laplacian();
        let mut b = [0.0; N];
        for i in 0..N {
            let c_dt = self.capacity_j_per_k[i] / dt_s;
            a[i][i] += c_dt;
            b[i] = c_dt * temps_c[i] + power_w[i] + self.ambient_w_per_k[i] * ambient_c;
        }
        *temps_c = solve(a, b);
    }

    /// Exact step for inputs held constant over `dt` (any dt): with `M = C^-1/2 L C^-1/2 = V diag(lambda) V^T`
    /// (Jacobi eigen-decomposition), `y = C^1/2 (T - T_ss)` decays as `y' = V exp(-lambda dt) V^T y`.
    pub fn step_exact(&self, temps_c: &mut [f64; N], power_w: &[f64; N], ambient_c: f64, dt_s: f64) {
        let t_ss = self.steady_state(power_w, ambient_c);
        let l = self.laplacian();
        let mut sq = [0.0; N];
        for i in 0..N {
            sq[i] = self.capacity_j_per_k[i].sqrt();
        }
        let mut m = [[0.0; N]; N];
        for i in 0..N {
            for j in 0..N {
                m[i][j] = l[i][j] / (sq[i] * sq[j]);
            }
        }
        let (lambda, v) = jacobi_eigen(m);
        let mut y = [0.0; N];
        for i in 0..N {
            y[i] = sq[i] * (temps_c[i] - t_ss[i]);
        }
        // z = V^T y, scaled, back.
        let mut z = [0.0; N];
        for k in 0..N {
            let mut s = 0.0;
            for i in 0..N {
                s += v[i][k] * y[i];
            }
            z[k] = s * (-lambda[k] * dt_s).exp();
        }
        for i in 0..N {
            let mut s = 0.0;
            for k in 0..N {
                s += v[i][k] * z[k];
            }
            temps_c[i] = t_ss[i] + s / sq[i];
        }
    }
}

/// Gaussian elimination with partial pivoting for a small dense system (no allocation).
pub(crate) fn solve<const N: usize>(mut a: [[f64; N]; N], mut b: [f64; N]) -> [f64; N] {
    for col in 0..N {
        let mut piv = col;
        for r in col + 1..N {
            if a[r][col].abs() > a[piv][col].abs() {
                piv = r;
            }
        }
        a.swap(col, piv);
        b.swap(col, piv);
        let d = a[col][col];
        if d == 0.0 {
            continue;
        }
        for r in col + 1..N {
            let f = a[r][col] / d;
            for c in col..N {
                a[r][c] -= f * a[col][c];
            }
            b[r] -= f * b[col];
        }
    }
    let mut x = [0.0; N];
    for i in (0..N).rev() {
        let mut s = b[i];
        for c in i + 1..N {
            s -= a[i][c] * x[c];
        }
        x[i] = if a[i][i] != 0.0 { s / a[i][i] } else { 0.0 };
    }
    x
}

/// Cyclic Jacobi eigen-decomposition of a small symmetric matrix: (eigenvalues, eigenvectors as columns).
fn jacobi_eigen<const N: usize>(mut a: [[f64; N]; N]) -> ([f64; N], [[f64; N]; N]) {
    let mut v = [[0.0; N]; N];
    for (i, row) in v.iter_mut().enumerate() {
        row[i] = 1.0;
    }
    for _sweep in 0..60 {
        let mut off = 0.0;
        for i in 0..N {
            for j in i + 1..N {
                off += a[i][j] * a[i][j];
            }
        }
        if off < 1e-30 {
            break;
        }
        for p in 0..N {
            for q in p + 1..N {
                if a[p][q].abs() < 1e-300 {
                    continue;
                }
                let theta = (a[q][q] - a[p][p]) / (2.0 * a[p][q]);
                let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                let t = if theta == 0.0 { 1.0 } else { t };
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                for k in 0..N {
                    let (akp, akq) = (a[k][p], a[k][q]);
                    a[k][p] = c * akp - s * akq;
                    a[k][q] = s * akp + c * akq;
                }
                for k in 0..N {
                    let (apk, aqk) = (a[p][k], a[q][k]);
                    a[p][k] = c * apk - s * aqk;
                    a[q][k] = s * apk + c * aqk;
                }
                for row in v.iter_mut() {
                    let (vkp, vkq) = (row[p], row[q]);
                    row[p] = c * vkp - s * vkq;
                    row[q] = s * vkp + c * vkq;
                }
            }
        }
    }
    let mut lambda = [0.0; N];
    for i in 0..N {
        lambda[i] = a[i][i];
    }
    (lambda, v)
}

/// Heat capacity of the bearing-housing node, J/K (about 20 kg of cast iron).
pub const BEARING_CAPACITY_J_PER_K: f64 = 9_000.0;
/// Thermal resistance bearing housing to motor frame (through the lantern and shaft), K/W.
pub const R_BEARING_FRAME_K_PER_W: f64 = 2.0;
/// Thermal resistance bearing housing to ambient (natural convection), K/W.
pub const R_BEARING_AMBIENT_K_PER_W: f64 = 0.4;
/// Share of the friction-and-windage loss dissipated in the bearing housing (the rest heats the frame).
pub const BEARING_FRICTION_SHARE: f64 = 0.3;

/// Motor thermal network, three nodes in a chain: winding — frame — bearing housing, with the frame and the
/// bearing housing cooled to ambient. The frame–ambient resistance falls with speed (shaft-mounted fan): it is
/// interpolated linearly between its standstill and rated-speed values, `R(s) = R_0 + (R_r - R_0) min(s, 1)`.
/// Integrated by backward Euler (stable for any dt; a closed-form tridiagonal solve, no allocation).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct MotorThermal {
    /// Winding heat capacity, J/K.
    pub c_winding_j_per_k: f64,
    /// Frame heat capacity, J/K.
    pub c_frame_j_per_k: f64,
    /// Bearing-housing heat capacity, J/K.
    pub c_bearing_j_per_k: f64,
    /// Conductance winding–frame, W/K.
    pub g_winding_frame_w_per_k: f64,
    /// Frame–ambient resistance at rated speed (shaft fan running), K/W.
    pub r_frame_ambient_rated_k_per_w: f64,
    /// Frame–ambient resistance at standstill, K/W.
    pub r_frame_ambient_still_k_per_w: f64,
    /// Conductance bearing housing–frame, W/K.
    pub g_bearing_frame_w_per_k: f64,
    /// Conductance bearing housing–ambient, W/K.
    pub g_bearing_ambient_w_per_k: f64,
}

/// Jacobians of one [`MotorThermal::step`], rows and columns ordered winding, frame, bearing housing.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ThermalStepJacobians {
    /// `dT'_i/dT_j`, dimensionless.
    pub state: [[f64; 3]; 3],
    /// `dT'_i/dT_amb`, dimensionless.
    pub ambient: [f64; 3],
    /// `dT'_i/dP_j` (heat input to node j), K/W.
    pub heat: [[f64; 3]; 3],
}

/// Node temperatures of [`MotorThermal`], °C.
#[derive(Debug, Clone, Copy, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub struct MotorTemps {
    /// Winding temperature, °C.
    pub winding_c: f64,
    /// Frame temperature, °C.
    pub frame_c: f64,
    /// Bearing-housing temperature, °C.
    pub bearing_c: f64,
}

impl MotorThermal {
    /// From the scenario's motor thermal parameters and the bearing-housing constants above.
    pub fn from_params(p: &MotorThermalParams) -> Self {
        Self {
            c_winding_j_per_k: p.winding_capacity_j_per_k,
            c_frame_j_per_k: p.frame_capacity_j_per_k,
            c_bearing_j_per_k: BEARING_CAPACITY_J_PER_K,
            g_winding_frame_w_per_k: 1.0 / p.r_winding_frame_k_per_w,
            r_frame_ambient_rated_k_per_w: p.r_frame_ambient_k_per_w,
            r_frame_ambient_still_k_per_w: p.r_frame_ambient_still_k_per_w,
            g_bearing_frame_w_per_k: 1.0 / R_BEARING_FRAME_K_PER_W,
            g_bearing_ambient_w_per_k: 1.0 / R_BEARING_AMBIENT_K_PER_W,
        }
    }

    /// Frame–ambient conductance at speed ratio `s`, W/K.
    #[inline]
    pub fn g_frame_ambient(&self, speed_ratio: f64) -> f64 {
        let s = speed_ratio.clamp(0.0, 1.0);
        1.0 / (self.r_frame_ambient_still_k_per_w
            + (self.r_frame_ambient_rated_k_per_w - self.r_frame_ambient_still_k_per_w) * s)
    }

    /// Backward-Euler step with heat inputs `heat_w = [winding, frame, bearing housing]`, W.
    #[inline]
    pub fn step(&self, t: &mut MotorTemps, heat_w: [f64; 3], speed_ratio: f64, ambient_c: f64, dt_s: f64) {
        let [p_winding_w, p_frame_w, p_bearing_w] = heat_w;
        let gwf = self.g_winding_frame_w_per_k;
        let gfa = self.g_frame_ambient(speed_ratio);
        let gbf = self.g_bearing_frame_w_per_k;
        let gba = self.g_bearing_ambient_w_per_k;
        let inv_dt = 1.0 / dt_s;
        let (cw, cf, cb) =
            (self.c_winding_j_per_k * inv_dt, self.c_frame_j_per_k * inv_dt, self.c_bearing_j_per_k * inv_dt);
        // Rows: [aw, -gwf, 0 | bw], [-gwf, af, -gbf | bf], [0, -gbf, ab | bb].
        let aw = cw + gwf;
        let af = cf + gwf + gfa + gbf;
        let ab = cb + gbf + gba;
        let bw = cw * t.winding_c + p_winding_w;
        let bf = cf * t.frame_c + p_frame_w + gfa * ambient_c;
        let bb = cb * t.bearing_c + p_bearing_w + gba * ambient_c;
        // Eliminate the winding and bearing rows into the frame row.
        let (inv_aw, inv_ab) = (1.0 / aw, 1.0 / ab);
        let af_eff = af - gwf * gwf * inv_aw - gbf * gbf * inv_ab;
        let bf_eff = bf + gwf * bw * inv_aw + gbf * bb * inv_ab;
        let tf = bf_eff / af_eff;
        t.frame_c = tf;
        t.winding_c = (bw + gwf * tf) * inv_aw;
        t.bearing_c = (bb + gbf * tf) * inv_ab;
    }

    /// Jacobians of one backward-Euler [`step`](Self::step) (nodes: winding, frame, bearing housing). The step
    /// solves `A T' = (C/dt) T + P + g T_amb` with `A = C/dt + L(s)`, so `dT'/dT = A^-1 C/dt`,
    /// `dT'/dP = A^-1` and `dT'/dT_amb = A^-1 g` (`g = [0, g_fa(s), g_ba]`). Used by state observers and
    /// sensitivity propagation; does not change the step itself.
    pub fn step_jacobians(&self, speed_ratio: f64, dt_s: f64) -> ThermalStepJacobians {
        let gwf = self.g_winding_frame_w_per_k;
        let gfa = self.g_frame_ambient(speed_ratio);
        let gbf = self.g_bearing_frame_w_per_k;
        let gba = self.g_bearing_ambient_w_per_k;
        let inv_dt = 1.0 / dt_s.max(1e-9);
        let c = [self.c_winding_j_per_k * inv_dt, self.c_frame_j_per_k * inv_dt, self.c_bearing_j_per_k * inv_dt];
        let a = [[c[0] + gwf, -gwf, 0.0], [-gwf, c[1] + gwf + gfa + gbf, -gbf], [0.0, -gbf, c[2] + gbf + gba]];
        let mut heat = [[0.0; 3]; 3];
        for j in 0..3 {
            let mut e = [0.0; 3];
            e[j] = 1.0;
            let col = solve(a, e);
            for i in 0..3 {
                heat[i][j] = col[i];
            }
        }
        let mut state = [[0.0; 3]; 3];
        let mut ambient = [0.0; 3];
        for i in 0..3 {
            for j in 0..3 {
                state[i][j] = heat[i][j] * c[j];
            }
            ambient[i] = heat[i][1] * gfa + heat[i][2] * gba;
        }
        ThermalStepJacobians { state, ambient, heat }
    }

    /// The same network as a generic [`ThermalNetwork`] (nodes: winding, frame, bearing) at speed ratio `s`.
    pub fn network(&self, speed_ratio: f64) -> ThermalNetwork<3> {
        let (gwf, gbf) = (self.g_winding_frame_w_per_k, self.g_bearing_frame_w_per_k);
        ThermalNetwork {
            capacity_j_per_k: [self.c_winding_j_per_k, self.c_frame_j_per_k, self.c_bearing_j_per_k],
            conductance_w_per_k: [[0.0, gwf, 0.0], [gwf, 0.0, gbf], [0.0, gbf, 0.0]],
            ambient_w_per_k: [0.0, self.g_frame_ambient(speed_ratio), self.g_bearing_ambient_w_per_k],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NODE: SingleNode = SingleNode { capacity_j_per_k: 5_000.0, resistance_k_per_w: 0.02 };

    #[test]
    fn single_node_time_constant_and_step_response() {
        assert!((NODE.tau_s() - 100.0).abs() < 1e-12);
        let (p, amb) = (2_000.0, 20.0);
        let rise = p * NODE.resistance_k_per_w;
        // Analytic fractions 1 - e^-1, 1 - e^-2, 1 - e^-5 of the 40 K rise.
        for dt in [0.1, 1.0, 10.0, 50.0, 100.0] {
            let mut t = amb;
            let mut time = 0.0;
            for (k, frac) in [(1.0, 0.632_120_558_8), (2.0, 0.864_664_716_8), (5.0, 0.993_262_053)] {
                while time < k * NODE.tau_s() - 1e-9 {
                    t = NODE.step(t, p, amb, dt);
                    time += dt;
                }
                let expect = amb + rise * frac;
                assert!(((t - amb) / (expect - amb) - 1.0).abs() < 0.005, "dt {dt} at {k} tau: {t} vs {expect}");
            }
        }
    }

    #[test]
    fn network_single_node_matches_analytic_any_dt() {
        let net = ThermalNetwork::<1> {
            capacity_j_per_k: [NODE.capacity_j_per_k],
            conductance_w_per_k: [[0.0]],
            ambient_w_per_k: [1.0 / NODE.resistance_k_per_w],
        };
        for dt in [1.0, 100.0, 250.0] {
            let mut t = [20.0];
            let mut time = 0.0;
            while time < 500.0 - 1e-9 {
                net.step_exact(&mut t, &[2_000.0], 20.0, dt);
                time += dt;
            }
            let expect = NODE.step_response(2_000.0, 20.0, 500.0);
            assert!(((t[0] - 20.0) / (expect - 20.0) - 1.0).abs() < 0.005, "dt {dt}");
        }
        // Backward Euler at a small step is within 0.5 % at tau.
        let mut t = [20.0];
        for _ in 0..1000 {
            net.step_implicit(&mut t, &[2_000.0], 20.0, 0.1);
        }
        let expect = NODE.step_response(2_000.0, 20.0, 100.0);
        assert!(((t[0] - 20.0) / (expect - 20.0) - 1.0).abs() < 0.005);
    }

    #[test]
    fn network_stable_for_huge_dt_and_reaches_steady_state() {
        let m = MotorThermal::from_params(&crate::params::MotorParams::example().thermal);
        let net = m.network(1.0);
        let p = [1_500.0, 1_200.0, 100.0];
        let ss = net.steady_state(&p, 20.0);
        for dt in [1.0f64, 1e3, 1e6] {
            let mut a = [20.0; 3];
            let mut b = [20.0; 3];
            let mut c = MotorTemps { winding_c: 20.0, frame_c: 20.0, bearing_c: 20.0 };
            for _ in 0..(2e5 / dt).ceil() as usize + 5 {
                net.step_implicit(&mut a, &p, 20.0, dt);
                net.step_exact(&mut b, &p, 20.0, dt);
                m.step(&mut c, p, 1.0, 20.0, dt);
                for x in a.iter().chain(b.iter()) {
                    assert!(x.is_finite() && *x < ss[0] + 1.0 && *x >= 20.0 - 1e-9, "dt {dt}: {x}");
                }
            }
            for i in 0..3 {
                assert!((a[i] - ss[i]).abs() < 1e-3 && (b[i] - ss[i]).abs() < 1e-3);
            }
            assert!((c.winding_c - ss[0]).abs() < 1e-3 && (c.frame_c - ss[1]).abs() < 1e-3);
            assert!((c.bearing_c - ss[2]).abs() < 1e-3);
        }
        // Steady state by hand: the frame sees all the heat that the bearing housing does not shed.
        // Energy balance: total input = frame->ambient + bearing->ambient.
        let out = (ss[1] - 20.0) * net.ambient_w_per_k[1] + (ss[2] - 20.0) * net.ambient_w_per_k[2];
        assert!((out - p.iter().sum::<f64>()).abs() < 1e-6);
        // The winding sits P_w R_wf above the frame.
        assert!((ss[0] - ss[1] - 1_500.0 * 0.012).abs() < 1e-9);
    }

    #[test]
    fn exact_matches_implicit_for_small_dt() {
        let m = MotorThermal::from_params(&crate::params::MotorParams::example().thermal);
        let net = m.network(0.5);
        let (mut a, mut b) = ([20.0; 3], [20.0; 3]);
        for _ in 0..36_000 {
            net.step_implicit(&mut a, &[1_000.0, 800.0, 60.0], 20.0, 0.1);
        }
        net.step_exact(&mut b, &[1_000.0, 800.0, 60.0], 20.0, 3_600.0);
        for i in 0..3 {
            assert!((a[i] - b[i]).abs() < 0.05, "{i}: {} vs {}", a[i], b[i]);
        }
    }

    #[test]
    fn copper_resistance_rises() {
        assert!((copper_resistance_ohm(0.045, 20.0) - 0.045).abs() < 1e-15);
        assert!((copper_resistance_ohm(1.0, 120.0) - 1.393).abs() < 1e-12);
        assert!((copper_loss_w(100.0, 0.05) - 1500.0).abs() < 1e-9);
    }
}
