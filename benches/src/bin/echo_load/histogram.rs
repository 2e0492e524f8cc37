//! The latency histogram of the load generator.

/// Log-linear latency histogram in nanoseconds: exact below 32 ns, then 16 buckets per power of
/// two, so a bucket's midpoint is within about 3% of any value in it.
pub struct Histogram {
    counts: Vec<u64>,
}

const SUB_BITS: u32 = 5;
const SUB: u64 = 1 << SUB_BITS;

impl Histogram {
    pub fn new() -> Self {
        Histogram {
            counts: vec![0; (64 * SUB) as usize],
        }
    }

    fn index(v: u64) -> usize {
        let msb = 63 - (v | 1).leading_zeros();
        if msb < SUB_BITS {
            return v as usize;
        }
        let shift = msb - (SUB_BITS - 1);
        (u64::from(shift) * (SUB / 2) + (v >> shift)) as usize
    }

    /// Midpoint of bucket `index`, in nanoseconds.
    fn value(index: usize) -> f64 {
        let index = index as u64;
        if index < SUB {
            return index as f64;
        }
        let shift = index / (SUB / 2) - 1;
        let low = (index - shift * (SUB / 2)) << shift;
        low as f64 + ((1u64 << shift) as f64 - 1.0) / 2.0
    }

    pub fn record(&mut self, nanos: u64) {
        self.counts[Self::index(nanos)] += 1;
    }

    /// The `q`-quantile (0..=1) in microseconds, or 0 when empty.
    pub fn quantile_us(&self, q: f64) -> f64 {
        let total: u64 = self.counts.iter().sum();
        if total == 0 {
            return 0.0;
        }
        let rank = ((q * total as f64).ceil() as u64).clamp(1, total);
        let mut seen = 0;
        for (index, &count) in self.counts.iter().enumerate() {
            seen += count;
            if seen >= rank {
                return Self::value(index) / 1000.0;
            }
        }
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::Histogram;

    #[test]
    fn buckets_are_contiguous_and_tight() {
        let mut last = 0;
        for v in (1..1_000_000u64).chain([u64::MAX / 3, u64::MAX]) {
            let index = Histogram::index(v);
            assert!(
                index == last || index == last + 1 || v > 1_000_000,
                "gap at {v}"
            );
            last = index;
            let mid = Histogram::value(index);
            assert!(
                (mid - v as f64).abs() <= v as f64 / 32.0 + 0.5,
                "{v} -> {mid}"
            );
        }
    }

    #[test]
    fn quantiles() {
        let mut h = Histogram::new();
        for v in 1..=1000u64 {
            h.record(v * 1000);
        }
        assert!((h.quantile_us(0.5) - 500.0).abs() < 16.0);
        assert!((h.quantile_us(0.99) - 990.0).abs() < 31.0);
        assert!((h.quantile_us(0.999) - 999.0).abs() < 32.0);
        assert_eq!(Histogram::new().quantile_us(0.5), 0.0);
    }
}
