"""Ctrl-C under --workers: exit 130 promptly, no traceback, workers gone, no temporary output left."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from spectool.env import Env
from spectool.io.sets import create_set
from tests.conftest import DATA, INTERRUPTED, ROOT, make_chunk, make_meta

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="finds the workers through /proc")


def _descendants(pid: int) -> set[int]:
    """Every live process below ``pid`` (pool workers are the forkserver's children, not ours)."""
    parents = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != "Z":
            parents.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = set(), [pid]
    while todo:
        children = parents.get(todo.pop(), [])
        found.update(children)
        todo += children
    return found


def _alive(pids: set[int]) -> set[int]:
    alive = set()
    for pid in pids:
        try:
            if Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z":
                alive.add(pid)
        except OSError:
            pass
    return alive


def _start(args: list[str], cwd: Path) -> subprocess.Popen:
    def child_setup():
        signal.signal(signal.SIGINT, signal.SIG_DFL)  # as tests/conftest.default_sigint
        os.setpgid(0, 0)  # its own process group, as a terminal's foreground job; killed whole if need be

    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-m", "spectool", *args], stderr=subprocess.PIPE, cwd=cwd, env=env,
                            preexec_fn=child_setup)


def _interrupt_when_writing(proc: subprocess.Popen, folder: Path, group: bool) -> set[int]:
    """SIGINT (to the process, or to its group as Ctrl-C does) once the temporary output exists and the
    workers run; returns the processes it had started."""
    before = len(list(folder.iterdir()))  # the child needs seconds to import what it needs: nothing new yet
    deadline = time.time() + 90
    workers: set[int] = set()
    while time.time() < deadline and proc.poll() is None:
        workers = _descendants(proc.pid)
        if len(list(folder.iterdir())) > before and len(workers) >= 3:  # forkserver + 2 workers
            break
        time.sleep(0.05)
    time.sleep(0.5)  # well inside the work
    workers |= _descendants(proc.pid)
    os.killpg(proc.pid, signal.SIGINT) if group else proc.send_signal(signal.SIGINT)
    return workers


def _check(proc: subprocess.Popen, started: set[int], folder: Path, kept: list[str]) -> None:
    try:
        stderr = proc.communicate(timeout=30)[1].decode()  # before the fix: minutes, waiting for the pool
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # never leave workers running behind a failed test
        except ProcessLookupError:
            pass
    assert proc.returncode in INTERRUPTED, stderr
    assert "Traceback" not in stderr and stderr.strip().splitlines()[-1] == "spectool: interrupted", stderr
    deadline = time.time() + 10
    while _alive(started) and time.time() < deadline:
        time.sleep(0.1)
    assert not _alive(started), f"left running: {_alive(started)}"
    assert sorted(p.name for p in folder.iterdir()) == sorted(kept)


def test_simulate_workers_stop_at_once(tmp_path):
    """A garnet at 0.1 Å up to 170° takes minutes: the pool must not wait for the patterns under way."""
    listing = tmp_path / "list.txt"
    listing.write_text("\n".join([str(DATA / "cifs" / "garnet_Ia-3d.cif")] * 20))
    args = ["simulate", "--from-list", str(listing), "--wavelength", "0.1", "--range", "5:170", "-j", "2"]
    proc = _start([*args, "-o", "sim.h5"], tmp_path)
    started = _interrupt_when_writing(proc, tmp_path, group=False)
    time.sleep(0.2)
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)  # an impatient second Ctrl-C: before the fix, a traceback
    _check(proc, started, tmp_path, ["list.txt"])


def test_augment_workers_stop_at_once_on_ctrl_c(tmp_path):
    source = tmp_path / "in.h5"
    with create_set(str(source), make_meta(500), Env()) as out:
        for seed in range(40):
            out.append(make_chunk(n=256, length=500, seed=seed, with_peaks=False))
    proc = _start(["augment", "in.h5", "-n", "50", "-j", "2", "-o", "aug.h5"], tmp_path)
    started = _interrupt_when_writing(proc, tmp_path, group=True)
    _check(proc, started, tmp_path, ["in.h5"])


def test_corpus_workers_stop_at_once_on_ctrl_c(tmp_path):
    pytest.importorskip("pymatgen")
    proc = _start(["corpus", "prototypes", "--per-type", "30", "-j", "2", "-o", "corpus"], tmp_path)
    started = _interrupt_when_writing(proc, tmp_path, group=True)
    _check(proc, started, tmp_path, [])


def _half(_: int) -> int:
    return 0


def test_a_stopped_pool_closes_its_end_of_the_result_pipe():
    """A worker killed halfway through sending a large result leaves half a message: the pool's manager
    thread reads on, and exit waits for it for ever unless this process's write end is closed too (seen
    as a 30 s hang of augment -j 2 under Ctrl-C on a loaded machine; 3 of 8 runs of a 400 MB result)."""
    from spectool.cli.workers import _terminate, worker_pool

    with worker_pool(2) as pool:
        assert list(pool.map(_half, range(2))) == [0, 0]
        results = pool._result_queue
        if hasattr(pool, "terminate_workers"):
            pytest.skip("Python's own terminate_workers stops this pool")
        _terminate(pool)
        assert results._writer.closed


def test_a_ctrl_c_that_python_swallows_stops_the_command_at_its_next_step():
    """A KeyboardInterrupt raised inside a weakref callback is printed as "Exception ignored" and lost (it
    once let `simulate` run on after Ctrl-C). The command's handler notes it; the next progress step raises."""
    import gc
    import weakref

    from spectool.cli.common import interrupts_noted

    class Thing:
        pass

    env = Env(quiet=True)
    with interrupts_noted():
        assert signal.getsignal(signal.SIGINT) is not signal.default_int_handler
        thing = Thing()
        weakref.finalize(thing, signal.raise_signal, signal.SIGINT)  # the handler runs inside the callback
        del thing
        gc.collect()  # the KeyboardInterrupt is swallowed here
        with pytest.raises(KeyboardInterrupt), env.progress("work", 3) as advance:
            advance()
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    with interrupts_noted(), env.progress("next command", 1) as advance:
        advance()  # a new command starts with nothing noted
