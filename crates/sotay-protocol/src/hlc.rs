//! Hybrid logical clock. Orders changes across devices whose wall clocks disagree: a timestamp is
//! (wall-clock milliseconds, counter, device), never goes backwards on one device, and moves past
//! every timestamp the device has seen from others. Ties between devices break on the device ID, so
//! every peer picks the same winner.

use crate::DeviceId;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Hlc {
    pub millis: u64,
    pub counter: u32,
    pub device: DeviceId,
}

/// How far ahead of a trusted clock (the server's, or this device's own) a timestamp may be.
/// Laptops in villages do run with wrong clocks (a flat CMOS battery sets them to any year); a
/// timestamp further ahead than this is not believed: it neither wins by it nor drags others'
/// clocks along.
pub const MAX_CLOCK_AHEAD_MS: u64 = 60 * 60 * 1000;

/// Counters fit the text form's five digits; past that the clock moves on a millisecond instead
/// of wrapping, so text order stays clock order.
const MAX_COUNTER: u32 = 99_999;

impl Hlc {
    /// The first timestamp of a device.
    pub fn zero(device: DeviceId) -> Self {
        Self {
            millis: 0,
            counter: 0,
            device,
        }
    }

    fn normalised(self) -> Self {
        if self.counter > MAX_COUNTER {
            Self {
                millis: self.millis + 1,
                counter: 0,
                device: self.device,
            }
        } else {
            self
        }
    }

    /// The next local timestamp after `self`, given the current wall clock.
    pub fn tick(self, now_millis: u64) -> Self {
        if now_millis > self.millis {
            Self {
                millis: now_millis,
                counter: 0,
                device: self.device,
            }
        } else {
            Self {
                millis: self.millis,
                counter: self.counter.saturating_add(1),
                device: self.device,
            }
            .normalised()
        }
    }

    /// This timestamp, or `limit` where it is later: what a clock believes of a remote one.
    pub fn at_most(self, limit_millis: u64) -> Self {
        if self.millis > limit_millis {
            Self {
                millis: limit_millis,
                counter: 0,
                device: self.device,
            }
        } else {
            self
        }
    }

    /// The local clock after receiving `remote`: strictly after both, except that a remote
    /// timestamp more than [`MAX_CLOCK_AHEAD_MS`] ahead of this wall clock counts only as far
    /// as that.
    pub fn observe(self, remote: Hlc, now_millis: u64) -> Self {
        let remote = remote.at_most(now_millis.saturating_add(MAX_CLOCK_AHEAD_MS));
        let millis = now_millis.max(self.millis).max(remote.millis);
        let counter = if millis == self.millis && millis == remote.millis {
            self.counter.max(remote.counter).saturating_add(1)
        } else if millis == self.millis {
            self.counter.saturating_add(1)
        } else if millis == remote.millis {
            remote.counter.saturating_add(1)
        } else {
            0
        };
        Self {
            millis,
            counter,
            device: self.device,
        }
        .normalised()
    }
}

/// Fixed-width text form, so that SQL `ORDER BY` on the text equals the clock order:
/// `0001764300000000-00000-<device uuid>`.
impl fmt::Display for Hlc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016}-{:05}-{}", self.millis, self.counter, self.device)
    }
}

#[derive(Debug, thiserror::Error)]
#[error("not a hybrid logical clock timestamp: {0:?}")]
pub struct HlcParseError(String);

impl FromStr for Hlc {
    type Err = HlcParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || HlcParseError(s.to_owned());
        let mut parts = s.splitn(3, '-');
        let millis = parts.next().and_then(|p| p.parse().ok()).ok_or_else(bad)?;
        let counter = parts.next().and_then(|p| p.parse().ok()).ok_or_else(bad)?;
        let device = parts.next().and_then(|p| p.parse().ok()).ok_or_else(bad)?;
        Ok(Self {
            millis,
            counter,
            device,
        })
    }
}

impl Serialize for Hlc {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Hlc {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(HlcText)
    }
}

/// Reads a clock from its text where the text lies: a batch carries one a record, and copying
/// each into a `String` first was an allocation to free at once.
struct HlcText;

impl serde::de::Visitor<'_> for HlcText {
    type Value = Hlc;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a hybrid logical clock timestamp")
    }

    fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<Hlc, E> {
        text.parse().map_err(E::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tick_never_goes_backwards_when_the_wall_clock_does() {
        let d = DeviceId::new();
        let a = Hlc::zero(d).tick(1_000);
        let b = a.tick(500);
        assert!(b > a);
        assert_eq!(b.millis, 1_000);
        assert_eq!(b.counter, 1);
    }

    #[test]
    fn observe_moves_past_a_remote_clock_from_the_future() {
        let local = Hlc::zero(DeviceId::new()).tick(1_000);
        let remote = Hlc {
            millis: 9_000,
            counter: 7,
            device: DeviceId::new(),
        };
        let next = local.observe(remote, 2_000);
        assert!(next.millis == 9_000 && next.counter == 8);
        assert_eq!(next.device, local.device);
    }

    #[test]
    fn a_clock_years_ahead_does_not_drag_others_and_counters_never_wrap() {
        let now = 1_764_300_000_000;
        let year_2035 = Hlc {
            millis: now + 9 * 365 * 24 * 3_600_000,
            counter: 3,
            device: DeviceId::new(),
        };
        let local = Hlc::zero(DeviceId::new()).tick(now);
        let next = local.observe(year_2035, now);
        assert_eq!(next.millis, now + MAX_CLOCK_AHEAD_MS);
        let mut h = Hlc {
            millis: now,
            counter: MAX_COUNTER - 1,
            device: DeviceId::new(),
        };
        for _ in 0..3 {
            let after = h.tick(now - 5);
            assert!(after > h && after.to_string() > h.to_string());
            h = after;
        }
        assert_eq!((h.millis, h.counter), (now + 1, 1));
    }

    #[test]
    fn text_order_equals_clock_order() {
        let d = DeviceId::new();
        let a = Hlc {
            millis: 99,
            counter: 10,
            device: d,
        };
        let b = Hlc {
            millis: 100,
            counter: 0,
            device: d,
        };
        assert!(a < b);
        assert!(a.to_string() < b.to_string());
        assert_eq!(a, a.to_string().parse().unwrap());
    }
}
