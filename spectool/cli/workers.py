"""The process pool every ``--workers`` command shares, and how Ctrl-C stops it.

Workers ignore SIGINT: a terminal sends Ctrl-C to the whole process group, and only the main
process decides what it means. When the block a pool serves ends in an exception (Ctrl-C
included), work not yet started is cancelled and the workers are terminated, not waited for;
after a Ctrl-C a second one cannot interrupt the clean-up (temporary outputs are still removed).
"""

from __future__ import annotations

import signal
from contextlib import contextmanager
from typing import Callable, Iterator


@contextmanager
def worker_pool(workers: int) -> Iterator[object | None]:
    """A forkserver process pool of ``workers`` processes; None for one worker (work in-process)."""
    if workers <= 1:
        yield None
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("forkserver"),
                               initializer=_ignore_sigint)
    try:
        yield pool
    except BaseException as exc:
        if isinstance(exc, KeyboardInterrupt):
            _ignore_sigint()  # stopping already: a second Ctrl-C would only cut the clean-up short
        _terminate(pool)
        raise
    pool.shutdown()


def pool_map(pool, fn: Callable, *iterables, chunksize: int = 1) -> Iterator:
    """``map(fn, *iterables)`` in order: in ``pool`` when there is one, else here."""
    if pool is None:
        return map(fn, *iterables)
    return pool.map(fn, *iterables, chunksize=chunksize)


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _terminate(pool) -> None:
    """Cancel pending work and stop the workers now (what Python 3.14's ``terminate_workers`` does)."""
    if hasattr(pool, "terminate_workers"):
        pool.terminate_workers()
        return
    processes = list((pool._processes or {}).values())  # shutdown() forgets them
    results = getattr(pool, "_result_queue", None)  # and this
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        process.terminate()
    for process in processes:
        process.join(1)
        if process.is_alive():
            process.kill()
    _close_result_pipe(results)


def _close_result_pipe(results) -> None:
    """Close this process's end of the pipe the workers wrote results into.

    A worker terminated halfway through sending a large result leaves half a message in the pipe; the
    pool's manager thread then waits for the rest, and the interpreter waits for that thread at exit
    (for ever: this process holds a write end, so the pipe never reports end of file). With it closed
    the read fails at once, the thread ends and the process exits.
    """
    writer = getattr(results, "_writer", None)
    if writer is not None:
        writer.close()
