//! Volume sizes: what a CreateVolume or ControllerExpandVolume capacity
//! range turns into, and when an existing volume satisfies a range (the
//! idempotency test of CreateVolume).
//!
//! Sizes are whole MiB where the range allows (a cloud disk is sized in
//! GiB; MiB keeps test volumes small and the arithmetic obvious), 4 KiB
//! (an ext4 block) where a tight limit does not allow a whole MiB, and
//! exactly the limit where not even that fits.

use crate::error::{Error, Result};

/// One mebibyte.
pub const MIB: u64 = 1 << 20;
/// One gibibyte.
pub const GIB: u64 = 1 << 30;
/// The size of a volume created without a capacity range, as a cloud
/// disk's default.
pub const DEFAULT_VOLUME_BYTES: u64 = GIB;
/// The smallest volume: mkfs.ext4 formats smaller images, but below this
/// the journal and metadata leave next to nothing for data.
pub const MIN_VOLUME_BYTES: u64 = 16 * MIB;
/// The first fallback granularity when a limit forbids rounding up to a MiB.
const BLOCK: u64 = 4096;

/// A validated `CapacityRange`: `required` 0 means "no minimum".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Range {
    /// `required_bytes`, 0 when unset.
    pub required: u64,
    /// `limit_bytes`, when set.
    pub limit: Option<u64>,
}

fn round_up(n: u64, to: u64) -> u64 {
    n.div_ceil(to).saturating_mul(to)
}

fn human(bytes: u64) -> String {
    if bytes.is_multiple_of(MIB) {
        format!("{} MiB", bytes / MIB)
    } else {
        format!("{bytes} bytes")
    }
}

impl Range {
    /// The range of a request; `None` (no `capacity_range`) is unbounded.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for negative numbers, [`Error::OutOfRange`]
    /// for a limit below the required size.
    pub fn from_request(required: i64, limit: i64) -> Result<Self> {
        let required = u64::try_from(required).map_err(|_| {
            Error::InvalidArgument(format!(
                "capacity_range.required_bytes is negative: {required}"
            ))
        })?;
        let limit = u64::try_from(limit).map_err(|_| {
            Error::InvalidArgument(format!("capacity_range.limit_bytes is negative: {limit}"))
        })?;
        let limit = (limit > 0).then_some(limit);
        if let Some(l) = limit.filter(|l| *l < required) {
            return Err(Error::OutOfRange(format!(
                "capacity_range.limit_bytes {l} is below required_bytes {required}"
            )));
        }
        Ok(Self { required, limit })
    }

    /// No range given.
    pub const UNBOUNDED: Self = Self {
        required: 0,
        limit: None,
    };

    /// Whether a volume of `size` bytes satisfies the range.
    pub fn accepts(&self, size: u64) -> bool {
        size >= self.required && self.limit.is_none_or(|l| size <= l)
    }

    /// The smallest allowed size at least `want`: `want` rounded up to a
    /// MiB, or to a 4 KiB block if the limit forbids the MiB.
    fn fit(&self, want: u64) -> Result<u64> {
        let mib = round_up(want, MIB);
        if self.limit.is_none_or(|l| mib <= l) {
            return Ok(mib);
        }
        let block = round_up(want, BLOCK);
        match self.limit {
            Some(l) if want > l => Err(Error::OutOfRange(format!(
                "capacity_range.limit_bytes {l} is below {}, the smallest volume this driver makes for this request",
                human(want)
            ))),
            // Exactly the limit when not even a whole block fits: the loop
            // device and ext4 ignore the tail, the volume reports its size.
            Some(l) if block > l => Ok(want),
            _ => Ok(block),
        }
    }

    /// The size of a new empty volume for this range.
    ///
    /// # Errors
    /// [`Error::OutOfRange`] when the limit is below [`MIN_VOLUME_BYTES`].
    pub fn new_volume_size(&self) -> Result<u64> {
        let want = if self.required > 0 {
            self.required
        } else {
            self.limit
                .map_or(DEFAULT_VOLUME_BYTES, |l| l.min(DEFAULT_VOLUME_BYTES))
        };
        self.fit(want.max(MIN_VOLUME_BYTES))
    }

    /// The size of a volume restored or cloned from a source of
    /// `source_size` bytes: at least the source (the data must fit), else
    /// the requested size.
    ///
    /// # Errors
    /// [`Error::OutOfRange`] when the limit is below the source's size: the
    /// spec names exactly this case ("a volume smaller than the source").
    pub fn size_from_source(&self, source_size: u64) -> Result<u64> {
        if let Some(l) = self.limit.filter(|l| *l < source_size) {
            return Err(Error::OutOfRange(format!(
                "capacity_range.limit_bytes {l} is below the source's size {}: a copy cannot be smaller than its source",
                human(source_size)
            )));
        }
        let size = self.fit(self.required.max(source_size).max(MIN_VOLUME_BYTES))?;
        Ok(size.max(source_size))
    }

    /// The size after an expansion of a volume of `current` bytes: never
    /// smaller than now (volumes do not shrink).
    ///
    /// # Errors
    /// [`Error::OutOfRange`] when the limit is below the current size.
    pub fn expanded_size(&self, current: u64) -> Result<u64> {
        if let Some(l) = self.limit.filter(|l| *l < current) {
            return Err(Error::OutOfRange(format!(
                "capacity_range.limit_bytes {l} is below the volume's size {}: volumes never shrink",
                human(current)
            )));
        }
        if self.required <= current {
            return Ok(current);
        }
        self.fit(self.required)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(required: i64, limit: i64) -> Range {
        Range::from_request(required, limit).expect("valid range")
    }

    #[test]
    fn no_range_gives_the_default_size() {
        assert_eq!(Range::UNBOUNDED.new_volume_size().ok(), Some(GIB));
        assert_eq!(range(0, 0).new_volume_size().ok(), Some(GIB));
    }

    #[test]
    fn sizes_round_up_to_a_mib_and_to_the_minimum() {
        assert_eq!(range(1, 0).new_volume_size().ok(), Some(MIN_VOLUME_BYTES));
        assert_eq!(
            range(64 * MIB as i64 + 1, 0).new_volume_size().ok(),
            Some(65 * MIB)
        );
        assert_eq!(
            range(64 * MIB as i64, 0).new_volume_size().ok(),
            Some(64 * MIB)
        );
        // A limit alone picks the smaller of it and the default.
        assert_eq!(
            range(0, 100 * MIB as i64).new_volume_size().ok(),
            Some(100 * MIB)
        );
        assert_eq!(range(0, 5 * GIB as i64).new_volume_size().ok(), Some(GIB));
    }

    #[test]
    fn a_tight_limit_falls_back_to_whole_blocks() {
        let odd = 20_000_000;
        assert_eq!(
            range(odd, odd + 1000).new_volume_size().ok(),
            Some(20_000_768)
        );
        assert_eq!(
            range(odd, odd).new_volume_size().ok(),
            Some(odd as u64),
            "exactly the limit"
        );
    }

    #[test]
    fn a_limit_below_the_minimum_is_out_of_range() {
        let e = range(0, 10 * MIB as i64).new_volume_size();
        assert!(matches!(e, Err(Error::OutOfRange(_))), "{e:?}");
    }

    #[test]
    fn invalid_ranges_are_rejected_with_the_spec_codes() {
        assert!(matches!(
            Range::from_request(-1, 0),
            Err(Error::InvalidArgument(_))
        ));
        assert!(matches!(
            Range::from_request(0, -1),
            Err(Error::InvalidArgument(_))
        ));
        assert!(matches!(
            Range::from_request(10, 5),
            Err(Error::OutOfRange(_))
        ));
    }

    #[test]
    fn accepts_is_the_create_idempotency_rule() {
        let size = 64 * MIB;
        assert!(range(64 * MIB as i64, 0).accepts(size));
        assert!(range(0, 0).accepts(size));
        assert!(range(64 * MIB as i64, 64 * MIB as i64).accepts(size));
        assert!(!range(128 * MIB as i64, 128 * MIB as i64).accepts(size));
        assert!(!range(0, 32 * MIB as i64).accepts(size));
    }

    #[test]
    fn copies_are_at_least_their_source() {
        assert_eq!(
            Range::UNBOUNDED.size_from_source(64 * MIB).ok(),
            Some(64 * MIB)
        );
        assert_eq!(
            range(128 * MIB as i64, 0).size_from_source(64 * MIB).ok(),
            Some(128 * MIB)
        );
        assert_eq!(
            range(32 * MIB as i64, 0).size_from_source(64 * MIB).ok(),
            Some(64 * MIB)
        );
        assert!(matches!(
            range(32 * MIB as i64, 32 * MIB as i64).size_from_source(64 * MIB),
            Err(Error::OutOfRange(_))
        ));
    }

    #[test]
    fn expansion_never_shrinks() {
        let now = 64 * MIB;
        assert_eq!(
            range(128 * MIB as i64, 0).expanded_size(now).ok(),
            Some(128 * MIB)
        );
        assert_eq!(range(32 * MIB as i64, 0).expanded_size(now).ok(), Some(now));
        assert_eq!(
            range(100 * MIB as i64 + 5, 0).expanded_size(now).ok(),
            Some(101 * MIB)
        );
        assert!(matches!(
            range(0, 32 * MIB as i64).expanded_size(now),
            Err(Error::OutOfRange(_))
        ));
    }
}
