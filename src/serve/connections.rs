//! The exporter's open connections, bounded. Whoever reaches the port can open connections and
//! say nothing; Prometheus must still get `/metrics` and `/-/healthy`. At the bound, a new
//! connection closes the oldest idle one (no request in progress); with every connection busy,
//! the new one is closed at once. The bound follows the process's descriptor limit, so the
//! probes always have descriptors left.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

/// Connections allowed when neither the operator nor the descriptor limit says fewer.
pub const DEFAULT_MAX_CONNECTIONS: usize = 1024;

/// Descriptors kept for everything else (probes, DNS, the listener, files).
const RESERVED_DESCRIPTORS: usize = 128;

/// One open connection, as the bound sees it.
#[derive(Default)]
pub struct Connection {
    /// Requests in progress on it.
    busy: AtomicUsize,
    closed: AtomicBool,
    close: Notify,
}

impl Connection {
    /// Resolves when the bound closes this connection to make room.
    pub async fn evicted(&self) {
        if self.closed.load(Ordering::SeqCst) {
            return;
        }
        self.close.notified().await;
    }

    /// Marks a request in progress until the guard is dropped.
    pub fn busy(self: &Arc<Self>) -> Busy {
        self.busy.fetch_add(1, Ordering::SeqCst);
        Busy(self.clone())
    }

    fn evict(&self) {
        self.closed.store(true, Ordering::SeqCst);
        self.close.notify_one();
    }
}

/// A request in progress on a connection.
pub struct Busy(Arc<Connection>);

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.busy.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The open connections, oldest first.
pub struct Connections {
    max: usize,
    open: Mutex<VecDeque<Arc<Connection>>>,
}

/// What to do with a connection just accepted.
pub enum Admission {
    Serve(Arc<Connection>),
    /// Every connection is busy: close this one now.
    Refuse,
}

impl Connections {
    pub fn new(max: usize) -> Connections {
        Connections {
            max: max.max(1),
            open: Mutex::new(VecDeque::new()),
        }
    }

    /// Admits a new connection, closing the oldest idle one when at the bound.
    pub fn admit(&self) -> Admission {
        let Ok(mut open) = self.open.lock() else {
            return Admission::Refuse;
        };
        open.retain(|c| Arc::strong_count(c) > 1 && !c.closed.load(Ordering::SeqCst));
        if open.len() >= self.max && !evict_oldest_idle(&mut open) {
            return Admission::Refuse;
        }
        let connection = Arc::new(Connection::default());
        open.push_back(connection.clone());
        Admission::Serve(connection)
    }

    /// Closes the oldest idle connection (out of descriptors): whether there was one.
    pub fn shed(&self) -> bool {
        let Ok(mut open) = self.open.lock() else {
            return false;
        };
        open.retain(|c| Arc::strong_count(c) > 1 && !c.closed.load(Ordering::SeqCst));
        evict_oldest_idle(&mut open)
    }
}

fn evict_oldest_idle(open: &mut VecDeque<Arc<Connection>>) -> bool {
    match open.iter().position(|c| c.busy.load(Ordering::SeqCst) == 0) {
        Some(at) => {
            if let Some(connection) = open.remove(at) {
                connection.evict();
            }
            true
        }
        None => false,
    }
}

/// The bound for this process: the operator's, else the default, never more than half the
/// descriptors the soft limit leaves after the reserve.
pub fn bound(asked: Option<usize>) -> usize {
    let wanted = asked.unwrap_or(DEFAULT_MAX_CONNECTIONS);
    match soft_descriptor_limit() {
        Some(limit) => wanted.min((limit.saturating_sub(RESERVED_DESCRIPTORS) / 2).max(8)),
        None => wanted,
    }
}

/// The soft limit on open files (`ulimit -n`), from /proc (no libc call needed).
pub fn soft_descriptor_limit() -> Option<usize> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    let soft = line
        .trim_start_matches("Max open files")
        .split_whitespace()
        .next()?;
    soft.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_the_bound_the_oldest_idle_connection_makes_room() {
        let connections = Connections::new(2);
        let Admission::Serve(first) = connections.admit() else {
            panic!()
        };
        let Admission::Serve(second) = connections.admit() else {
            panic!()
        };
        let _busy = second.busy();
        let Admission::Serve(_third) = connections.admit() else {
            panic!()
        };
        assert!(first.closed.load(Ordering::SeqCst), "the idle one went");
        assert!(!second.closed.load(Ordering::SeqCst), "the busy one stayed");
        let _busy_third = _third.busy();
        assert!(matches!(connections.admit(), Admission::Refuse));
    }

    #[test]
    fn the_descriptor_limit_is_read() {
        assert!(soft_descriptor_limit().is_some_and(|n| n > 0));
        assert!(bound(Some(5)) <= 5);
    }
}
