//! SIGINT and SIGTERM during a run: the run stops within moments, keeps every check that
//! finished, marks the endpoints still waiting (`run.interrupted`, with the phase that was
//! waiting), and its reports are written as usual; the exit code says which signal (130, 143).
//! A second signal ends the process at once.

use std::sync::atomic::{AtomicI32, Ordering};

use tokio::sync::Notify;

/// The signal that interrupted the run (0: none yet).
static SIGNAL: AtomicI32 = AtomicI32::new(0);
static NOTIFY: Notify = Notify::const_new();

pub const SIGINT: i32 = 2;
pub const SIGTERM: i32 = 15;

/// Listens for SIGINT and SIGTERM on the current runtime (call once, inside it).
pub fn listen() {
    tokio::spawn(async {
        let terminate = async {
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(mut signal) => {
                    signal.recv().await;
                }
                Err(_) => std::future::pending::<()>().await,
            }
        };
        let signal = tokio::select! {
            _ = tokio::signal::ctrl_c() => SIGINT,
            _ = terminate => SIGTERM,
        };
        SIGNAL.store(signal, Ordering::SeqCst);
        NOTIFY.notify_waiters();
        eprintln!(
            "int-check: interrupted ({}): writing what finished; press Ctrl-C again to stop at once",
            if signal == SIGINT {
                "SIGINT"
            } else {
                "SIGTERM"
            }
        );
        // A second signal: stop now, as the user asks.
        let _ = tokio::signal::ctrl_c().await;
        std::process::exit(128 + SIGINT);
    });
}

/// The signal that interrupted the run, if one did.
pub fn signal() -> Option<i32> {
    match SIGNAL.load(Ordering::SeqCst) {
        0 => None,
        s => Some(s),
    }
}

/// Resolves when the run is interrupted (at once if it already was).
pub async fn interrupted() {
    let notified = NOTIFY.notified();
    if signal().is_some() {
        return;
    }
    notified.await;
}
