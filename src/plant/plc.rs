//! The virtual PLC: the virtual plant serves the scenario's set-point register map over Modbus TCP, so a set-point
//! pushed by the twin (or written with any Modbus tool) changes the simulated asset, and the change comes back
//! through the plant's telemetry. The closed loop works with nothing installed.

use std::net::SocketAddr;

use twin_modbus::{Behaviour, PlcError, PlcServer, RegisterBank, RegisterSpec};

use super::VirtualPlant;
use crate::scenario::Scenario;

/// The plant's PLC: a Modbus TCP server whose holding registers are the scenario's set-points.
pub struct VirtualPlc {
    server: PlcServer,
    /// (set-point id, its registers, the value last applied in the set-point's unit).
    points: Vec<(String, RegisterSpec, f64)>,
    /// Writes the plant refused (out of the set-point's range, or undecodable): the register was restored.
    pub refused: u64,
}

impl VirtualPlc {
    /// Serves the scenario's set-points at their initial values on `bind` (port 0: a free port).
    pub fn start(scenario: &Scenario, bind: SocketAddr, behaviour: Behaviour) -> Result<Self, PlcError> {
        let server = PlcServer::start(bind, behaviour)?;
        let bank = server.registers();
        let mut points = Vec::new();
        for sp in &scenario.setpoints {
            let Some(plc) = &sp.plc else { continue };
            let spec = plc.spec();
            bank.set_value(&spec, sp.initial)?;
            points.push((sp.id.clone(), spec, sp.initial));
        }
        Ok(Self { server, points, refused: 0 })
    }

    /// Where it listens.
    pub fn local_addr(&self) -> SocketAddr {
        self.server.local_addr()
    }

    /// Its registers (shared with the server).
    pub fn registers(&self) -> RegisterBank {
        self.server.registers()
    }

    /// The server, to change its behaviour in tests.
    pub fn server(&self) -> &PlcServer {
        &self.server
    }

    /// Applies the writes received since the last call to the plant: each set-point whose registers changed is
    /// set on the plant; a value the plant refuses is written back to its previous value.
    pub fn apply(&mut self, plant: &mut VirtualPlant) {
        let writes: Vec<_> = self.server.writes().try_iter().collect();
        if writes.is_empty() {
            return;
        }
        let bank = self.server.registers();
        for (id, spec, last) in &mut self.points {
            let (start, count) = (u32::from(spec.address), spec.word_count() as u32);
            let touched = writes.iter().any(|w| {
                let (a, n) = (u32::from(w.address), w.words.len() as u32);
                a < start + count && start < a + n
            });
            if !touched {
                continue;
            }
            match bank.value(spec) {
                Ok(v) if plant.set_setpoint(id, v).is_ok() => *last = v,
                _ => {
                    self.refused += 1;
                    let _ = bank.set_value(spec, *last);
                }
            }
        }
    }
}
