//! The pseudo-random value a decision is compared with: PCG32 (`rand_pcg::Lcg64Xsh32`) seeded
//! from a UUID, so every service that sees the same trace draws the same number.

const MULTIPLIER: u64 = 6364136223846793005;

/// PCG32 with 64-bit state and XSH-RR output, as `rand_pcg` implements it.
#[derive(Debug, Clone)]
pub struct Pcg32 {
    state: u64,
    increment: u64,
}

impl Pcg32 {
    pub fn new(state: u64, stream: u64) -> Self {
        let increment = (stream << 1) | 1;
        let mut pcg = Pcg32 { state: state.wrapping_add(increment), increment };
        pcg.step();
        pcg
    }

    /// Seeds from a 128-bit id: high half is the state, low half the stream.
    pub fn from_uuid(id: u128) -> Self {
        Self::new((id >> 64) as u64, id as u64)
    }

    fn step(&mut self) {
        self.state = self.state.wrapping_mul(MULTIPLIER).wrapping_add(self.increment);
    }

    pub fn next_u32(&mut self) -> u32 {
        let state = self.state;
        self.step();
        let rotate = (state >> 59) as u32;
        let xorshifted = (((state >> 18) ^ state) >> 27) as u32;
        xorshifted.rotate_right(rotate)
    }

    pub fn next_u64(&mut self) -> u64 {
        let low = u64::from(self.next_u32());
        let high = u64::from(self.next_u32());
        low | (high << 32)
    }

    /// A uniform float in [0, 1) with 53 bits of precision (rand 0.9's standard distribution).
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }
}

/// The random value Relay compares with the sample rate for this seed.
pub fn random_value(seed: u128) -> f64 {
    Pcg32::from_uuid(seed).next_f64()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generator_matches_reference_stream() {
        assert_eq!(Pcg32::new(42, 54).next_u32(), 0xa15c02b7);
    }

    #[test]
    fn reference_values_from_spec() {
        assert_eq!(random_value(0), 0.21723014649319783);
        assert_eq!(random_value(0x67e5504410b1426f9247bb680e5fe0c8), 0.8117029693018862);
        assert_eq!(random_value(0x52df9022835246eeb317dbd739ccd059), 0.48051802659815823);
        assert_eq!(random_value(0x89143b0763095bd9c9955e8175d1fb23), 0.04604551145508151);
    }
}

/// A fresh random 128-bit id, for an envelope that carries no event id at all (Relay gives such
/// an envelope a new random id when it parses it). Not seeded from anything the caller controls.
pub fn fresh_id() -> u128 {
    use std::hash::{BuildHasher, Hasher};
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let state = std::collections::hash_map::RandomState::new();
    let half = |salt: u64| {
        let mut h = state.build_hasher();
        h.write_u64(n);
        h.write_u64(salt);
        h.finish()
    };
    (u128::from(half(1)) << 64) | u128::from(half(2))
}
