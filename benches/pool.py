"""Pools the rounds of several multi_thread.sh reports into one summary.

usage: python3 benches/pool.py REPORT.md [REPORT.md ...]

Each report lists every run ("## Every run"). A round pairs weft's runs with tokio's run of the
same round and report, so pooling keeps the pairing: the summary gives, per load and weft
layout, the median of all pooled per-round ratios with a 90% bootstrap interval
(benches/stats.py). One run of 21 rounds on the 2-core machine can sit 5% off the next one;
pooling runs made at different times tells a steady difference from the machine's drift.
"""

import statistics
import sys
from pathlib import Path

from stats import median_interval, span

LAYOUTS = {"weft": "a reuseport listener per worker", "weft-shared": "one shared listener"}


def every_run(path):
    """Yields (round, load, server, throughput, p99_us, cpu_us) from a report's run list."""
    try:
        lines = Path(path).read_text().splitlines()
    except OSError as e:
        sys.exit(f"pool.py: cannot read {path}: {e.strerror}")
    try:
        start = lines.index("## Every run")
    except ValueError:
        sys.exit(f"pool.py: {path} has no '## Every run' section (older reports lack it)")
    for line in lines[start + 1:]:
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 6 or not cells[0].isdigit():
            continue
        number = lambda text: float(text.split()[0].replace(",", ""))
        yield int(cells[0]), cells[1], cells[2], number(cells[3]), number(cells[4]), number(cells[5])


def main(paths):
    if not paths:
        sys.exit("usage: python3 benches/pool.py REPORT.md [REPORT.md ...]")
    runs = {}
    for path in paths:
        for rnd, load, server, *figures in every_run(path):
            runs[(path, rnd, load, server)] = figures
    print(f"Pooled from {len(paths)} report(s): " + ", ".join(f"`{p}`" for p in paths) + "\n")
    print("| load | weft layout | rounds | throughput vs tokio | 90% interval | p99 vs tokio "
          "| 90% interval | rounds with the lower p99 | CPU per request vs tokio | 90% interval |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for load in ("echo", "http"):
        for server, layout in LAYOUTS.items():
            pairs = [(figures, runs[(path, rnd, load, "tokio")])
                     for (path, rnd, l, s), figures in runs.items()
                     if l == load and s == server and (path, rnd, load, "tokio") in runs]
            if not pairs:
                continue
            ratios = [[w[i] / t[i] for w, t in pairs] for i in range(3)]
            cells = " | ".join(f"{statistics.median(r):.3f} | {span(median_interval(r))}"
                               for r in ratios[:2])
            lower = sum(w[1] < t[1] for w, t in pairs)
            print(f"| {load} | {layout} | {len(pairs)} | {cells} | {lower} of {len(pairs)} | "
                  f"{statistics.median(ratios[2]):.3f} | {span(median_interval(ratios[2]))} |")


if __name__ == "__main__":
    main(sys.argv[1:])
