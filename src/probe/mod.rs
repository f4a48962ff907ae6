//! Probes: one module per phase. Probes never print; each returns `Check`s.

pub mod dns;
pub mod http;
pub mod identity;
pub mod ldap;
pub mod tcp;
pub mod tls;

use std::time::Duration;

/// A duration the way people say it in messages: `5s`, `1.5s`, `250ms`.
pub fn secs(duration: Duration) -> String {
    let s = duration.as_secs_f64();
    if s >= 1.0 && s.fract() == 0.0 {
        format!("{s:.0}s")
    } else if s >= 1.0 {
        format!("{s:.1}s")
    } else {
        format!("{}ms", duration.as_millis())
    }
}
