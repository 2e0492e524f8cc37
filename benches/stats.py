"""Statistics shared by the benchmark reports (foundation.sh, multi_thread.sh)."""

import random
import statistics


def median_interval(values, level=0.90, draws=4000):
    """Bootstrap interval of the median of `values` (None entries skipped).

    Resamples the values with replacement `draws` times (fixed seed, so a report is
    reproducible from its rounds) and returns the central `level` share of the medians, or
    None with fewer than 3 values. On this noisy machine (+-10% a round) it says whether a bar
    is met (the interval lies above it), missed (below) or not yet told apart (it straddles it).
    """
    values = [v for v in values if v is not None]
    if len(values) < 3:
        return None
    rng = random.Random(1)
    medians = sorted(statistics.median(rng.choices(values, k=len(values))) for _ in range(draws))
    tail = (1 - level) / 2
    return medians[int(tail * draws)], medians[int((1 - tail) * draws) - 1]


def span(bounds):
    """`median_interval`'s result as text."""
    return "n/a" if bounds is None else f"{bounds[0]:.3f}-{bounds[1]:.3f}"
