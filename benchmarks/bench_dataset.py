"""Cold build and warm load of the collection, in a fresh temporary cache.

    SCALINGLAW_SOURCES=../shared/sources python benchmarks/bench_dataset.py [--loads 7]

Prints one summary line: cold build seconds (upstream files -> validated table -> Parquet) and the median
of several warm loads in fresh processes' worth of state (Parquet read; the in-process memo is cleared).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loads", type=int, default=7, help="number of warm loads (median reported)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as cache:
        os.environ["SCALINGLAW_CACHE"] = cache
        import scalinglaw as sl
        from scalinglaw.data import table

        t0 = time.perf_counter()
        df = sl.load_dataset()
        cold = time.perf_counter() - t0
        warm = []
        for _ in range(args.loads):
            table._MEMORY.clear()
            t0 = time.perf_counter()
            sl.load_dataset()
            warm.append(time.perf_counter() - t0)
    print(
        f"collection: {len(df):,} rows, {df['model'].nunique():,} models | cold build {cold:.2f} s | "
        f"cached load median {statistics.median(warm):.3f} s (min {min(warm):.3f}, n={args.loads})"
    )


if __name__ == "__main__":
    main()
