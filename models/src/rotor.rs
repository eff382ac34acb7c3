//! Rigid-body model of the pump's rotating assembly in rapier3d, the "ground truth" for bearing loads and
//! unbalance vibration that the cheap [`crate::loadmap::LoadMap`] is fitted to at start-up.
//!
//! Model (documented here once, used by every function below):
//! - Motor rotor, coupling, shaft and impeller are one rigid body (they are rigidly coupled at these
//!   frequencies), spinning about the world X axis. Mass = the pump rotor mass; polar inertia = pump + motor
//!   rotor inertia.
//! - The load-carrying rolling bearing is a rapier revolute joint to the fixed ground body at the rotor's centre
//!   of mass. Its five locked degrees of freedom carry every radial force, so the bearing reaction is read from
//!   the joint's linear impulse: `F = impulse / dt_sub`, where `dt_sub = dt / num_solver_iterations` is the
//!   substep whose impulse rapier writes back.
//! - The drive is the joint's velocity motor (target = speed set-point, torque limited to `motor_max_torque_nm`).
//! - Loads applied each step: gravity on the rotor mass; the impeller's hydraulic radial thrust, vertical and
//!   scaled by affinity `F_h = F_h,rated (w/w_r)^2`; the hydraulic torque `T = T_r (w/w_r)^2` (affinity,
//!   `P ∝ n^3` so `T ∝ n^2`); the unbalance force `F_u = U w^2` (U in kg·m) rotating with the rotor; and the
//!   coupling misalignment force at twice running speed, `F_m = k_c δ` with `k_c` = [`COUPLING_STIFFNESS_N_PER_M`].
//! - Vibration: the bearing housing sits on an effective dynamic support stiffness `k_s`
//!   ([`SUPPORT_STIFFNESS_N_PER_M`]); below the support's resonance its vertical displacement is
//!   `x(t) = F_y,dyn(t)/k_s`, so the housing velocity is `v = (dF_y/dt)/k_s`, taken by finite difference of the
//!   rapier reaction series (for a 1x rotating force this is `v = U w^3 / k_s`, peak).

use rapier3d::prelude::{
    ImpulseJointHandle, IntegrationParameters, MassProperties, PhysicsWorld, RevoluteJointBuilder, RigidBodyBuilder,
    RigidBodyHandle, Vector,
};

use crate::hydraulics::{G_M_S2, RHO_WATER_KG_M3};
use crate::params::{BearingKind, MotorParams, PumpParams};

/// Effective dynamic stiffness of the bearing housing's support, N/m. It is the reciprocal of the housing's
/// mobility at running speed, chosen so that a rotor balanced to ISO 1940 G2.5 runs in ISO 10816-3 zone A/B.
pub const SUPPORT_STIFFNESS_N_PER_M: f64 = 1.0e6;
/// Radial stiffness of the flexible coupling, N/m: the misalignment force is `F_m = k_c δ` (100 N per mm).
pub const COUPLING_STIFFNESS_N_PER_M: f64 = 1.0e5;
/// Default physics step, s (1 kHz).
pub const DEFAULT_DT_S: f64 = 1.0e-3;

/// Rigid-rotor parameters, derived from the scenario's pump and motor parameters.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RotorParams {
    /// Mass of the rotor carried by the bearing, kg.
    pub mass_kg: f64,
    /// Polar moment of inertia of the whole train (pump + motor rotor), kg·m².
    pub polar_inertia_kg_m2: f64,
    /// Rated speed, rad/s.
    pub rated_speed_rad_s: f64,
    /// Hydraulic load torque at rated speed, N·m (scaled by `(w/w_r)^2`).
    pub hydraulic_torque_rated_nm: f64,
    /// Hydraulic radial thrust at rated speed, N (scaled by `(w/w_r)^2`), acting downward with gravity.
    pub radial_thrust_rated_n: f64,
    /// Rotor unbalance U = m·e, kg·m.
    pub unbalance_kg_m: f64,
    /// Amplitude of the twice-per-revolution misalignment force, N.
    pub misalignment_force_n: f64,
    /// Motor torque limit of the drive (joint motor), N·m.
    pub motor_max_torque_nm: f64,
    /// Effective support stiffness for the housing velocity, N/m.
    pub support_stiffness_n_per_m: f64,
    /// ISO 281 load-life exponent used for the equivalent load (3 ball, 10/3 roller).
    pub life_exponent: f64,
}

impl RotorParams {
    /// Derives the rotor from a pump and its motor. The radial thrust is what is left of the bearing's rated
    /// `static_load_kn` after the rotor weight (never negative); the hydraulic torque is the rated shaft power
    /// `rho g Q H / eta` over the rated speed; the motor torque limit is twice the motor's rated torque
    /// (typical breakdown torque of an induction motor).
    pub fn from_pump(pump: &PumpParams, motor: &MotorParams) -> Self {
        let w_r = pump.rated_speed_rpm * std::f64::consts::TAU / 60.0;
        let p_shaft = RHO_WATER_KG_M3 * G_M_S2 * (pump.rated_flow_m3h / 3600.0) * pump.rated_head_m
            / pump.bep_efficiency.max(1e-3);
        let weight = pump.rotor_mass_kg * G_M_S2;
        let w_m = motor.rated_speed_rpm.max(1.0) * std::f64::consts::TAU / 60.0;
        Self {
            mass_kg: pump.rotor_mass_kg,
            polar_inertia_kg_m2: pump.rotor_inertia_kg_m2 + motor.rotor_inertia_kg_m2,
            rated_speed_rad_s: w_r,
            hydraulic_torque_rated_nm: p_shaft / w_r.max(1e-6),
            radial_thrust_rated_n: (pump.bearing.static_load_kn * 1e3 - weight).max(0.0),
            unbalance_kg_m: pump.unbalance_g_mm * 1e-6,
            misalignment_force_n: COUPLING_STIFFNESS_N_PER_M * pump.misalignment_mm * 1e-3,
            motor_max_torque_nm: 2.0 * motor.rated_power_kw * 1e3 / w_m,
            support_stiffness_n_per_m: SUPPORT_STIFFNESS_N_PER_M,
            life_exponent: match pump.bearing.kind {
                BearingKind::Ball => 3.0,
                BearingKind::Roller => 10.0 / 3.0,
            },
        }
    }

    /// Static (non-rotating) radial bearing load at speed `w`, N: weight + thrust `(w/w_r)^2`.
    pub fn static_load_n(&self, w_rad_s: f64) -> f64 {
        let s = w_rad_s / self.rated_speed_rad_s;
        self.mass_kg * G_M_S2 + self.radial_thrust_rated_n * s * s
    }
}

/// One physics step's readings.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RotorSample {
    /// Simulated time since creation, s.
    pub time_s: f64,
    /// Rotor speed, rad/s.
    pub speed_rad_s: f64,
    /// Rotor angle about its axis, rad (wrapped to (-pi, pi]).
    pub angle_rad: f64,
    /// Bearing reaction, vertical component, N.
    pub reaction_y_n: f64,
    /// Bearing reaction, horizontal component, N.
    pub reaction_z_n: f64,
    /// Magnitude of the radial bearing reaction, N.
    pub radial_load_n: f64,
}

/// Steady-state response of the rotor at one speed and unbalance, measured over whole revolutions.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RotorResponse {
    /// Mean speed over the window, rad/s.
    pub speed_rad_s: f64,
    /// ISO 281 equivalent load for a varying load, `P = (mean |F|^p)^(1/p)`, N.
    pub equivalent_load_n: f64,
    /// Largest radial load in the window, N.
    pub peak_load_n: f64,
    /// Housing vertical velocity RMS, mm/s.
    pub vib_rms_mm_s: f64,
    /// Housing vertical velocity peak (largest |v|), mm/s.
    pub vib_peak_mm_s: f64,
}

/// A running rapier world holding one rotor on its bearing.
pub struct RotorSim {
    /// Rotor parameters (the unbalance is changed by [`RotorSim::set_unbalance`]).
    params: RotorParams,
    /// The rapier world (ground, rotor, bearing joint).
    world: PhysicsWorld,
    /// The rotor body.
    rotor: RigidBodyHandle,
    /// The bearing (revolute joint with the drive motor).
    joint: ImpulseJointHandle,
    /// Physics step, s.
    dt_s: f64,
    /// Simulated time, s.
    time_s: f64,
    /// Whether the hydraulic torque and radial thrust are applied.
    hydraulic_load: bool,
    /// Extra quadratic drag coefficient c of `T = c w^2`, N·m·s².
    extra_drag_coeff: f64,
}

impl RotorSim {
    /// Builds the world: a fixed ground, the rotor body and the bearing joint (revolute about X) with its motor.
    pub fn new(params: RotorParams, dt_s: f64) -> Self {
        let mut world = PhysicsWorld::new();
        world.gravity = Vector::new(0.0, -(G_M_S2 as f32), 0.0);
        world.integration_parameters = IntegrationParameters { dt: dt_s as f32, ..IntegrationParameters::default() };
        let ground = world.insert_body(RigidBodyBuilder::fixed());
        let j = params.polar_inertia_kg_m2 as f32;
        let mprops = MassProperties::new(Vector::ZERO, params.mass_kg as f32, Vector::new(j, 0.5 * j, 0.5 * j));
        let rotor = world.insert_body(
            RigidBodyBuilder::dynamic().additional_mass_properties(mprops).can_sleep(false).angular_damping(0.0),
        );
        let joint = RevoluteJointBuilder::new(Vector::X)
            .motor_velocity(0.0, 1.0e3)
            .motor_max_force(params.motor_max_torque_nm as f32)
            .build();
        let joint = world.insert_impulse_joint(ground, rotor, joint);
        Self { params, world, rotor, joint, dt_s, time_s: 0.0, hydraulic_load: true, extra_drag_coeff: 0.0 }
    }

    /// The rotor's parameters.
    pub fn params(&self) -> &RotorParams {
        &self.params
    }

    /// Physics step, s.
    pub fn dt_s(&self) -> f64 {
        self.dt_s
    }

    /// Sets the speed set-point of the drive, rad/s.
    pub fn set_speed_setpoint(&mut self, w_rad_s: f64) {
        if let Some(j) = self.world.impulse_joints.get_mut(self.joint, true) {
            j.data.set_motor_velocity(rapier3d::prelude::JointAxis::AngX, w_rad_s as f32, 1.0e3);
        }
    }

    /// Sets the drive's torque limit, N·m (0 disconnects the drive: coast-down).
    pub fn set_motor_torque_limit(&mut self, torque_nm: f64) {
        if let Some(j) = self.world.impulse_joints.get_mut(self.joint, true) {
            j.data.set_motor_max_force(rapier3d::prelude::JointAxis::AngX, torque_nm.max(0.0) as f32);
        }
    }

    /// Enables or disables the hydraulic load torque and radial thrust (a dry rotor when disabled).
    pub fn set_hydraulic_load(&mut self, enabled: bool) {
        self.hydraulic_load = enabled;
    }

    /// Adds a drag torque `T = c w^2`, N·m with c in N·m·s² (for coast-down checks), on top of the pump's.
    pub fn set_extra_drag(&mut self, c_nm_s2: f64) {
        self.extra_drag_coeff = c_nm_s2;
    }

    /// Sets the rotor unbalance, kg·m.
    pub fn set_unbalance(&mut self, u_kg_m: f64) {
        self.params.unbalance_kg_m = u_kg_m;
    }

    /// Puts the rotor at a speed (rad/s) with zero angle, for steady-state measurements.
    pub fn set_speed(&mut self, w_rad_s: f64) {
        let body = &mut self.world.bodies[self.rotor];
        body.set_rotation(rapier3d::prelude::Rotation::IDENTITY, true);
        body.set_angvel(Vector::new(w_rad_s as f32, 0.0, 0.0), true);
        body.set_linvel(Vector::ZERO, true);
    }

    /// Rotor speed about its axis, rad/s.
    pub fn speed_rad_s(&self) -> f64 {
        self.world.bodies[self.rotor].angvel().x as f64
    }

    /// Advances one physics step: applies the hydraulic, unbalance and misalignment loads for the current
    /// state, steps rapier, and reads the bearing reaction from the joint impulse.
    pub fn step(&mut self) -> RotorSample {
        let p = &self.params;
        let body = &mut self.world.bodies[self.rotor];
        let w = body.angvel().x as f64;
        let s = w / p.rated_speed_rad_s;
        let rot = *body.rotation();
        // Angle about X from the quaternion (rotation is about X only: the joint locks the others).
        let angle = 2.0 * (rot.x as f64).atan2(rot.w as f64);
        let mut torque = -self.extra_drag_coeff * w * w.abs();
        let mut fy = 0.0;
        if self.hydraulic_load {
            torque -= p.hydraulic_torque_rated_nm * s * s.abs();
            fy -= p.radial_thrust_rated_n * s * s;
        }
        let fu = p.unbalance_kg_m * w * w;
        let fm = p.misalignment_force_n;
        let (sn, cs) = angle.sin_cos();
        let (sn2, cs2) = (2.0 * angle).sin_cos();
        fy += fu * cs + fm * cs2;
        let fz = fu * sn + fm * sn2;
        body.reset_forces(true);
        body.reset_torques(true);
        body.add_force(Vector::new(0.0, fy as f32, fz as f32), true);
        body.add_torque(Vector::new(torque as f32, 0.0, 0.0), true);
        self.world.step();
        self.time_s += self.dt_s;
        let imp = self.world.impulse_joints.get(self.joint).map(|j| j.impulses).unwrap_or_default();
        // The joint's impulse is the one of the last solver substep: `dt / num_solver_iterations` long.
        let inv_dt = self.world.integration_parameters.num_solver_iterations.max(1) as f64 / self.dt_s;
        let ry = imp[1] as f64 * inv_dt;
        let rz = imp[2] as f64 * inv_dt;
        let body = &self.world.bodies[self.rotor];
        let rot = *body.rotation();
        RotorSample {
            time_s: self.time_s,
            speed_rad_s: body.angvel().x as f64,
            angle_rad: 2.0 * (rot.x as f64).atan2(rot.w as f64),
            reaction_y_n: ry,
            reaction_z_n: rz,
            radial_load_n: ry.hypot(rz),
        }
    }

    /// Runs the rotor at a steady speed `w` (rad/s) and unbalance `u` (kg·m): settles for `settle_steps`, then
    /// records whole revolutions (at least `min_steps` steps) and reduces them to a [`RotorResponse`].
    pub fn measure_steady(
        &mut self,
        w_rad_s: f64,
        u_kg_m: f64,
        settle_steps: usize,
        min_steps: usize,
    ) -> RotorResponse {
        self.set_unbalance(u_kg_m);
        self.set_speed_setpoint(w_rad_s);
        self.set_speed(w_rad_s);
        for _ in 0..settle_steps {
            self.step();
        }
        let steps_per_rev = (std::f64::consts::TAU / (w_rad_s.abs().max(1e-3) * self.dt_s)).max(1.0);
        let revs = (min_steps as f64 / steps_per_rev).ceil().max(1.0);
        let n = (revs * steps_per_rev).round().max(2.0) as usize;
        let p = self.params.life_exponent;
        let k = self.params.support_stiffness_n_per_m;
        let mut prev_fy = self.step().reaction_y_n;
        let (mut sum_fp, mut peak, mut sum_v2, mut vpeak, mut sum_w) = (0.0, 0.0f64, 0.0, 0.0f64, 0.0);
        for _ in 0..n {
            let smp = self.step();
            sum_fp += smp.radial_load_n.powf(p);
            peak = peak.max(smp.radial_load_n);
            let v = (smp.reaction_y_n - prev_fy) / (self.dt_s * k);
            prev_fy = smp.reaction_y_n;
            sum_v2 += v * v;
            vpeak = vpeak.max(v.abs());
            sum_w += smp.speed_rad_s;
        }
        let nf = n as f64;
        RotorResponse {
            speed_rad_s: sum_w / nf,
            equivalent_load_n: (sum_fp / nf).powf(1.0 / p),
            peak_load_n: peak,
            vib_rms_mm_s: (sum_v2 / nf).sqrt() * 1e3,
            vib_peak_mm_s: vpeak * 1e3,
        }
    }
}

/// Harmonic content of the vertical bearing reaction at a steady speed (least-squares fit of
/// `F_y(θ) = m + a1 cos θ + b1 sin θ + a2 cos 2θ + b2 sin 2θ` over whole revolutions).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ReactionHarmonics {
    /// Mean speed, rad/s.
    pub speed_rad_s: f64,
    /// |m|: the static (non-rotating) radial load, N.
    pub static_n: f64,
    /// `hypot(a1, b1)`: once-per-revolution (unbalance) force amplitude, N.
    pub first_n: f64,
    /// `hypot(a2, b2)`: twice-per-revolution (misalignment) force amplitude, N.
    pub second_n: f64,
}

impl RotorSim {
    /// Runs at steady speed `w` and unbalance `u` like [`RotorSim::measure_steady`] and fits the harmonics of
    /// the vertical reaction against the rotor angle.
    pub fn measure_harmonics(
        &mut self,
        w_rad_s: f64,
        u_kg_m: f64,
        settle_steps: usize,
        min_steps: usize,
    ) -> ReactionHarmonics {
        self.set_unbalance(u_kg_m);
        self.set_speed_setpoint(w_rad_s);
        self.set_speed(w_rad_s);
        for _ in 0..settle_steps {
            self.step();
        }
        let steps_per_rev = (std::f64::consts::TAU / (w_rad_s.abs().max(1e-3) * self.dt_s)).max(1.0);
        let n = ((min_steps as f64 / steps_per_rev).ceil().max(1.0) * steps_per_rev).round().max(5.0) as usize;
        let mut ata = [[0.0; 5]; 5];
        let mut atb = [0.0; 5];
        let mut sum_w = 0.0;
        for _ in 0..n {
            let smp = self.step();
            // The force applied during the step used the angle at its start; the fit uses the same angle.
            let th = smp.angle_rad - smp.speed_rad_s * self.dt_s;
            let (s1, c1) = th.sin_cos();
            let (s2, c2) = (2.0 * th).sin_cos();
            let row = [1.0, c1, s1, c2, s2];
            for i in 0..5 {
                for j in 0..5 {
                    ata[i][j] += row[i] * row[j];
                }
                atb[i] += row[i] * smp.reaction_y_n;
            }
            sum_w += smp.speed_rad_s;
        }
        let x = crate::thermal::solve(ata, atb);
        ReactionHarmonics {
            speed_rad_s: sum_w / n as f64,
            static_n: x[0].abs(),
            first_n: x[1].hypot(x[2]),
            second_n: x[3].hypot(x[4]),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rotor() -> RotorParams {
        RotorParams::from_pump(&PumpParams::example(), &MotorParams::example())
    }

    #[test]
    fn spin_up_obeys_j_dw_dt_equals_torque() {
        let p = rotor();
        let j = p.polar_inertia_kg_m2;
        let mut sim = RotorSim::new(p, DEFAULT_DT_S);
        sim.set_hydraulic_load(false);
        sim.set_speed_setpoint(1.0e4); // never reached: the motor saturates at its torque limit
        let torque = 150.0;
        sim.set_motor_torque_limit(torque);
        for i in 1..=300 {
            let smp = sim.step();
            if i % 50 == 0 {
                let analytic = torque / j * smp.time_s;
                assert!(
                    (smp.speed_rad_s / analytic - 1.0).abs() < 0.01,
                    "t {}: {} vs {analytic}",
                    smp.time_s,
                    smp.speed_rad_s
                );
            }
        }
    }

    #[test]
    fn coast_down_under_quadratic_drag() {
        // J dw/dt = -c w², c = T_r / w_r²  =>  w(t) = w0 / (1 + c w0 t / J).
        let p = rotor();
        let (j, w0) = (p.polar_inertia_kg_m2, p.rated_speed_rad_s);
        let c = p.hydraulic_torque_rated_nm / (w0 * w0);
        let mut sim = RotorSim::new(p, DEFAULT_DT_S);
        sim.set_speed(w0);
        sim.set_motor_torque_limit(0.0);
        for i in 1..=3000 {
            let smp = sim.step();
            if i % 500 == 0 {
                let analytic = w0 / (1.0 + c * w0 * smp.time_s / j);
                assert!(
                    (smp.speed_rad_s / analytic - 1.0).abs() < 0.01,
                    "t {}: {} vs {analytic}",
                    smp.time_s,
                    smp.speed_rad_s
                );
            }
        }
    }

    #[test]
    fn static_reaction_is_the_weight() {
        let p = rotor();
        let weight = p.mass_kg * G_M_S2;
        let mut sim = RotorSim::new(p, DEFAULT_DT_S);
        sim.set_unbalance(0.0);
        let smp = (0..10).map(|_| sim.step()).last().unwrap();
        assert!((smp.radial_load_n / weight - 1.0).abs() < 0.005, "{} vs {weight}", smp.radial_load_n);
    }

    #[test]
    fn bearing_load_at_steady_speed_is_static_plus_u_w2() {
        let p = rotor();
        for (speed_ratio, u_factor) in [(1.0, 1.0), (1.0, 50.0), (0.7, 100.0)] {
            let w = speed_ratio * p.rated_speed_rad_s;
            let u = u_factor * p.unbalance_kg_m;
            let mut sim = RotorSim::new(p.clone(), DEFAULT_DT_S);
            sim.set_unbalance(u);
            sim.set_speed_setpoint(w);
            sim.set_speed(w);
            let (mut max, mut min, mut mean_y, mut n) = (0.0f64, f64::MAX, 0.0, 0);
            for _ in 0..(3.0 * std::f64::consts::TAU / (w * DEFAULT_DT_S)) as usize {
                let smp = sim.step();
                max = max.max(smp.radial_load_n);
                min = min.min(smp.radial_load_n);
                mean_y += smp.reaction_y_n;
                n += 1;
            }
            let (st, fu) = (p.static_load_n(w), u * w * w);
            assert!((max / (st + fu) - 1.0).abs() < 0.02, "max {max} vs {}", st + fu);
            assert!((min / (st - fu) - 1.0).abs() < 0.03, "min {min} vs {}", st - fu);
            assert!(((mean_y / n as f64).abs() / st - 1.0).abs() < 0.03);
        }
    }

    #[test]
    fn unbalance_vibration_is_u_w3_over_k() {
        let p = rotor();
        let w = p.rated_speed_rad_s;
        let u = 4.0 * p.unbalance_kg_m;
        let mut sim = RotorSim::new(p.clone(), DEFAULT_DT_S);
        let r = sim.measure_steady(w, u, 20, 400);
        let v_peak = u * w * w * w / p.support_stiffness_n_per_m * 1e3;
        assert!((r.vib_peak_mm_s / v_peak - 1.0).abs() < 0.02, "{} vs {v_peak}", r.vib_peak_mm_s);
        assert!((r.vib_rms_mm_s / (v_peak / 2f64.sqrt()) - 1.0).abs() < 0.02);
        assert!((r.speed_rad_s / w - 1.0).abs() < 0.005);
    }
}
