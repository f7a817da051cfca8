//! Each device's batches take their turn. A laptop keeps several batches in flight, each on its
//! own connection, so a later batch may arrive while an earlier one is still on the wire. Such a
//! batch (it says which it follows: `sotay_protocol::sync::FOLLOWS_HEADER`) waits here, a bounded
//! time, until the server holds everything before it; then the store applies it as usual.
//! Nothing here decides what is stored: the store still refuses a gap
//! ([`crate::apply::plan_batch`]), so a batch whose predecessor never came is refused as before
//! when its wait ends.
//!
//! What this process learns of a device's stored sequence wakes waiting batches at once. On
//! PostgreSQL another instance behind the same load balancer may have stored the predecessor, so
//! a waiting batch also asks the database again now and then: the database stays the only shared
//! state.

use crate::apply::DeviceRow;
use crate::error::ServerResult;
use crate::store::{Database, Storage};
use sotay_protocol::DeviceId;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{watch, Semaphore};

/// Whether a batch starting at `first` follows what the server holds (`stored`) directly.
fn its_turn(stored: u64, first: u64) -> bool {
    stored.saturating_add(1) >= first
}

/// How often a waiting batch asks the database whether another instance stored its predecessor.
const RECHECK: Duration = Duration::from_millis(250);

#[derive(Clone)]
pub(crate) struct Turns {
    devices: Arc<Mutex<HashMap<DeviceId, Arc<DeviceTurn>>>>,
    /// Longest a batch waits for its predecessor; zero: never (the store answers the gap).
    longest_wait: Duration,
    /// Batches of one device waiting at once; more go straight to the store.
    most_waiting: usize,
    /// Batches of every device waiting at once; more go straight to the store.
    all_waiting: Arc<Semaphore>,
}

struct DeviceTurn {
    /// The highest sequence of the device this process has seen stored.
    stored: watch::Sender<u64>,
    /// One permit per batch of this device that may wait.
    waiting: Semaphore,
}

impl Turns {
    pub(crate) fn new(longest_wait: Duration, most_waiting: usize, all_waiting: usize) -> Self {
        Self {
            devices: Arc::default(),
            longest_wait,
            most_waiting,
            all_waiting: Arc::new(Semaphore::new(all_waiting)),
        }
    }

    /// Whether a batch starting at `first` may go to the store now, as far as this process
    /// knows (a batch this says must wait checks the database in [`Self::wait_for`]).
    pub(crate) fn may_go(&self, device: DeviceId, first: u64) -> bool {
        self.longest_wait.is_zero() || its_turn(*self.of(device).stored.borrow(), first)
    }

    fn of(&self, device: DeviceId) -> Arc<DeviceTurn> {
        let mut devices = self.devices.lock().unwrap_or_else(|e| e.into_inner());
        devices
            .entry(device)
            .or_insert_with(|| {
                Arc::new(DeviceTurn {
                    stored: watch::Sender::new(0),
                    waiting: Semaphore::new(self.most_waiting),
                })
            })
            .clone()
    }

    /// Returns once the server holds every sequence of `device` before `first`, or when the
    /// wait is over (the store then refuses the gap).
    pub(crate) async fn wait_for(
        &self,
        db: &Database,
        device: DeviceRow,
        first: u64,
    ) -> ServerResult<()> {
        let turn = self.of(device.id);
        // Held while the batch waits, and given back even if its request is dropped meanwhile.
        let (Ok(_one_of_all), Ok(_one_of_its_device)) =
            (self.all_waiting.try_acquire(), turn.waiting.try_acquire())
        else {
            return Ok(());
        };
        let mut stored = turn.stored.subscribe();
        let deadline = tokio::time::Instant::now() + self.longest_wait;
        // Only PostgreSQL is shared by several instances; an SQLite server is alone, and this
        // process hears of every batch it stores.
        let others_may_store = matches!(db, Database::Postgres(_));
        loop {
            let (acked, _) = db.acked(device.id).await?;
            self.stored(device.id, acked);
            if its_turn(acked, first) || tokio::time::Instant::now() >= deadline {
                return Ok(());
            }
            let until = if others_may_store {
                deadline.min(tokio::time::Instant::now() + RECHECK)
            } else {
                deadline
            };
            let woken = stored.wait_for(|&held| its_turn(held, first));
            if let Ok(Ok(_)) = tokio::time::timeout_at(until, woken).await {
                return Ok(());
            }
        }
    }

    /// The server now holds `device`'s records up to `acked`: its next batch may go.
    pub(crate) fn stored(&self, device: DeviceId, acked: u64) {
        self.of(device).stored.send_if_modified(|held| {
            let newer = acked > *held;
            *held = (*held).max(acked);
            newer
        });
    }
}
