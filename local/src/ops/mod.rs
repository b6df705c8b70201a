//! Operating the emulator: metrics (`/metrics`), liveness and readiness (`/healthz`, `/readyz`,
//! `--healthcheck`), the log subscriber and the abuse limits.

pub mod health;
pub mod healthcheck;
pub mod limits;
pub mod logging;
pub mod metrics;
