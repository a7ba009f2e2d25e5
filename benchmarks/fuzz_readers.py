"""Fuzz every scan reader, the set loaders (HDF5, NPY, NPZ, NPY stream) and the checkpoint
loader with hypothesis: mutated real files and generated garbage, ``--examples`` cases each.

    python benchmarks/fuzz_readers.py [--examples 10000] [--only reader:xrdml ...] [--seed 0]

Prints cases/s per target, the peak RSS of the process, and every failure (a non-spectool
exception or a case allocating more than the bound); exits 1 if any target failed.
The targets and mutations are the ones the test suite runs a few hundred of
(``tests/io/fuzzing.py``).
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
import traceback
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

RSS_BOUND_MIB = 1024  # the whole run's peak resident set: inputs are ≤ ~100 kB each


def fuzz(target, examples: int, seed: int) -> tuple[int, float, dict[str, str]]:
    """(cases run, seconds, failures) for one target; failures: where it broke → one message.

    Failures are collected rather than raised so one run shows every distinct crash.
    """
    from hypothesis import HealthCheck, Phase, given, seed as hseed, settings

    from tests.io.fuzzing import Failure, run_case, strategy

    count, failures = [0], {}

    @hseed(seed)
    @settings(max_examples=examples, deadline=None, database=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(strategy(target))
    def check(case):
        count[0] += 1
        try:
            run_case(target, *case)
        except Failure as exc:
            failures.setdefault(_where(exc), str(exc)[:300])

    start = time.perf_counter()
    check()
    return count[0], time.perf_counter() - start, failures


def _where(exc: BaseException) -> str:
    """The exception behind a failure, where it was raised and the last spectool line that led there."""
    cause = exc.__cause__ or exc
    tb = traceback.extract_tb(cause.__traceback__)
    ours = [f for f in tb if "/spectool/" in f.filename]
    where = [f"{f.filename}:{f.lineno}" for f in (ours[-1:] + tb[-1:])]
    return f"{type(cause).__name__} at " + " via ".join(dict.fromkeys(where)) if tb else type(cause).__name__


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: kB


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=10_000)
    parser.add_argument("--only", nargs="*", help="target names (default: all)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    import torch

    torch.set_num_threads(1)
    warnings.simplefilter("ignore")
    from tests.io.fuzzing import TARGETS

    failed = 0
    for name in args.only or list(TARGETS):
        n, seconds, failures = fuzz(TARGETS[name], args.examples, args.seed)
        print(f"{name:22s} {n:7d} cases in {seconds:7.1f} s = {n / seconds:7.0f} cases/s  "
              f"peak RSS {peak_rss_mib():6.0f} MiB  {f'{len(failures)} FAILURES' if failures else 'ok'}",
              flush=True)
        for where, message in failures.items():
            print(f"    {where}\n      {message}")
        failed += bool(failures)
    rss = peak_rss_mib()
    print(f"peak RSS {rss:.0f} MiB (bound {RSS_BOUND_MIB} MiB): {'ok' if rss <= RSS_BOUND_MIB else 'EXCEEDED'}")
    return 1 if failed or rss > RSS_BOUND_MIB else 0


if __name__ == "__main__":
    sys.exit(main())
