//! Tokens: what the kernel hands back with each event.
//!
//! A token packs the registration's slab index (low 32 bits) with a generation (high 32 bits)
//! taken from a counter that advances on every registration. When a source closes and a new one
//! reuses its slot, a late event still carrying the old token names the old generation and is
//! dropped instead of waking the newcomer.

/// The token reserved for the reactor's own wake-up eventfd.
pub(crate) const WAKE: u64 = u64::MAX;

pub(crate) fn pack(index: usize, generation: u32) -> u64 {
    debug_assert!(index < u32::MAX as usize, "registration slab overflow");
    (u64::from(generation) << 32) | index as u64
}

pub(crate) fn unpack(token: u64) -> (usize, u32) {
    ((token & 0xffff_ffff) as usize, (token >> 32) as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        assert_eq!(unpack(pack(7, 3)), (7, 3));
        assert_eq!(unpack(pack(0, u32::MAX)), (0, u32::MAX));
        assert_ne!(pack(u32::MAX as usize - 1, u32::MAX), WAKE);
    }
}
