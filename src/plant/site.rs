//! The site's true boundary conditions: the same ambient and inflow processes the twin assumes
//! ([`crate::twin::Environment`]), drawn from the plant's own random stream.

pub(crate) use crate::twin::Environment as Site;
