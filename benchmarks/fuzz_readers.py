"""Fuzz every scan reader, the set loaders (HDF5, NPY, NPZ, NPY stream) and the checkpoint
loader with hypothesis: mutated real files and generated garbage, ``--examples`` cases each.

    python benchmarks/fuzz_readers.py [--examples 10000] [--only reader:xrdml ...] [--seed 0]
                                      [--case-limit 10] [--hang-dir fuzz-hangs]

Prints cases/s per target, the peak RSS of the process, and every failure (a non-spectool
exception, a case allocating more than the bound, or a case running past ``--case-limit``
seconds); exits 1 if any target failed. Progress (cases done, cases/s) goes to stderr every few
seconds. A case past the limit is interrupted by SIGALRM, reported as a failure and its input
saved in ``--hang-dir`` (bytes, for a regression test). A case stuck inside C code, where the
alarm cannot interrupt it, ends the run at 3x the limit with a traceback (faulthandler); its input
is then ``--hang-dir``/current-TARGET.bin, which every case is written to before it runs.
The targets and mutations are the ones the test suite runs a few hundred of
(``tests/io/fuzzing.py``).
"""

from __future__ import annotations

import argparse
import faulthandler
import resource
import signal
import sys
import time
import traceback
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

RSS_BOUND_MIB = 1024  # the whole run's peak resident set: inputs are ≤ ~100 kB each
PROGRESS_EVERY_S = 10.0


class CaseTimeout(BaseException):
    """Raised by SIGALRM in a case past its limit (a BaseException, so no ``except Exception`` eats it)."""


def _alarm(signum, frame):
    raise CaseTimeout


def fuzz(target, examples: int, seed: int, limit: float, hangs: Path) -> tuple[int, float, dict[str, str]]:
    """(cases run, seconds, failures) for one target; failures: where it broke → one message.

    Failures are collected rather than raised so one run shows every distinct crash. Each case
    may run ``limit`` seconds; one that runs longer is a failure and its input is saved in ``hangs``.
    """
    from hypothesis import HealthCheck, Phase, given, seed as hseed, settings

    from tests.io.fuzzing import Failure, run_case, strategy

    count, failures = [0], {}
    current = hangs / f"current-{_safe(target.name)}.bin"
    start = last = time.perf_counter()

    @hseed(seed)
    @settings(max_examples=examples, deadline=None, database=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(strategy(target))
    def check(case):
        nonlocal last
        count[0] += 1
        current.write_bytes(case[0])
        faulthandler.dump_traceback_later(3 * limit, exit=True)  # a hang inside C code
        signal.setitimer(signal.ITIMER_REAL, limit)
        try:
            run_case(target, *case)
        except (Failure, CaseTimeout) as exc:  # the alarm may also ring outside the spectool call
            if CaseTimeout in (type(exc), type(exc.__cause__)):
                saved = _save_hang(hangs, target.name, count[0], *case)
                failures[f"hang: case {count[0]}"] = f"ran over {limit:g} s on input {case[1]} " \
                                                     f"({len(case[0])} bytes), saved as {saved}"
            else:
                failures.setdefault(_where(exc), str(exc)[:300])
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            faulthandler.cancel_dump_traceback_later()
        now = time.perf_counter()
        if now - last >= PROGRESS_EVERY_S:
            last = now
            print(f"{target.name}: {count[0]} cases, {count[0] / (now - start):.0f} cases/s, "
                  f"{now - start:.0f} s", file=sys.stderr, flush=True)

    print(f"{target.name}: each input goes to {current} before it runs (a case stuck inside C ends the run "
          f"after {3 * limit:g} s with a traceback; that file is then its input)", file=sys.stderr, flush=True)
    previous = signal.signal(signal.SIGALRM, _alarm)
    try:
        check()
    finally:
        signal.signal(signal.SIGALRM, previous)
    current.unlink(missing_ok=True)
    return count[0], time.perf_counter() - start, failures


def _safe(name: str) -> str:
    return name.replace(":", "-").replace("/", "-")


def _save_hang(hangs: Path, target: str, case: int, data: bytes, name: str) -> Path:
    """Keep the input of a case that ran over its limit, named by target, case and seed file."""
    path = hangs / f"hang-{_safe(target)}-{case}-{_safe(name)}"
    path.write_bytes(data)
    return path


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
    parser.add_argument("--case-limit", type=float, default=10.0, help="seconds one case may run")
    parser.add_argument("--hang-dir", type=Path, default=Path("fuzz-hangs"),
                        help="where inputs that ran over the limit are saved")
    args = parser.parse_args()
    args.hang_dir.mkdir(parents=True, exist_ok=True)
    import torch

    torch.set_num_threads(1)
    warnings.simplefilter("ignore")
    from tests.io.fuzzing import TARGETS

    failed = 0
    for name in args.only or list(TARGETS):
        n, seconds, failures = fuzz(TARGETS[name], args.examples, args.seed, args.case_limit, args.hang_dir)
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
