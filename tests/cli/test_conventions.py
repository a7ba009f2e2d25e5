"""CLI conventions every command shares (DESIGN.md §4), through real processes and pipes."""

from __future__ import annotations

import os
import pty
import subprocess
import sys

import pytest

from spectool.env import PlainProgress, format_seconds
from spectool.io.sets import create_set
from tests.conftest import ROOT, make_chunk, make_meta, run_cli


@pytest.fixture
def set_path(tmp_path, env):
    path = tmp_path / "set.h5"
    with create_set(str(path), make_meta(), env, record={"command": "test"}) as out:
        out.append(make_chunk(), labels=["a", "b", "c"] * 4)
    return path


def test_help_and_completion_do_not_import_heavy_modules():
    code = ("import sys\nfrom spectool.cli.main import run\n"
            "try:\n    run(['--help'])\nexcept SystemExit:\n    pass\n"
            "heavy = [m for m in ('torch', 'pymatgen', 'scipy', 'sklearn', 'matplotlib', 'pandas', 'h5py')"
            " if m in sys.modules]\nprint('HEAVY:' + ','.join(heavy))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(ROOT)}, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "HEAVY:"


def test_tab_completion_lists_commands_without_heavy_imports():
    env = {"_SPECTOOL_COMPLETE": "complete_bash", "COMP_WORDS": "spectool in", "COMP_CWORD": "1"}
    out = run_cli(env=env)
    assert out.returncode == 0
    assert "info" in out.stdout.decode()


def test_version():
    out = run_cli("--version")
    assert out.returncode == 0 and out.stdout.decode().startswith("spectool ")


def test_usage_error_is_one_line_and_exit_2():
    out = run_cli("info", "--no-such-option", "x")
    assert out.returncode == 2
    assert out.stderr.decode().startswith("spectool: error: No such option")
    assert b"Traceback" not in out.stderr


def test_stdin_pipe_into_info(set_path):
    out = run_cli("info", "-", stdin=set_path.read_bytes())
    assert out.returncode == 0, out.stderr
    header, row = out.stdout.decode().splitlines()
    assert header.split("\t")[:5] == ["path", "type", "format", "kind", "n"]
    assert row.split("\t")[4] == "12"


def test_real_pipe_between_processes(set_path):
    cat = subprocess.Popen(["cat", str(set_path)], stdout=subprocess.PIPE)
    out = subprocess.run([sys.executable, "-m", "spectool", "info", "--json", "-"], stdin=cat.stdout,
                         capture_output=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    cat.wait()
    assert out.returncode == 0, out.stderr
    assert b'"n": 12' in out.stdout


def test_closed_pipe_is_quiet(set_path):
    args = [sys.executable, "-m", "spectool", "info", "--json"] + [str(set_path)] * 400
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    first = proc.stdout.readline()
    proc.stdout.close()
    stderr = proc.stderr.read()
    assert proc.wait(60) == 141
    assert first.startswith(b"{") and b"Traceback" not in stderr


def test_batch_names_bad_inputs_and_processes_the_rest(set_path, tmp_path):
    bad = tmp_path / "bad.h5"
    bad.write_bytes(b"\x89HDF\r\n\x1a\ntruncated")
    out = run_cli("info", str(set_path), str(bad), str(tmp_path / "missing.h5"))
    assert out.returncode == 1
    err = out.stderr.decode().splitlines()
    assert any(line.startswith(f"spectool: error: {bad}:") for line in err)
    assert any("missing.h5: no such file" in line for line in err)
    assert out.stdout.decode().count("\n") == 2  # header + the good set


def test_nothing_usable_is_exit_2(tmp_path):
    out = run_cli("info", str(tmp_path / "missing.h5"))
    assert out.returncode == 2


def test_labels_and_history_views(set_path):
    labels = run_cli("info", "--labels", str(set_path)).stdout.decode().splitlines()
    assert labels[0] == "path\tlabel\tcount" and labels[1].endswith("\ta\t4")
    history = run_cli("info", "--history", str(set_path)).stdout.decode().splitlines()
    assert history[1].split("\t")[2] == "test"


def test_table_on_a_terminal(set_path):
    output = _run_in_pty([sys.executable, "-m", "spectool", "info", str(set_path)])
    assert "┃" in output or "│" in output or "|" in output
    assert "xrd" in output


def test_binary_output_to_terminal_is_refused():
    output = _run_in_pty([sys.executable, "-m", "spectool", "completion", "bash"])
    assert "_SPECTOOL_COMPLETE" in output  # text output is fine on a terminal
    from spectool.env import Env
    from spectool.errors import UsageError
    from spectool.io.stdio import refuse_binary_to_terminal

    with pytest.raises(UsageError, match="terminal"):
        refuse_binary_to_terminal("-", Env(stdout_isatty=True))


def _run_in_pty(args: list[str]) -> str:
    """Run with stdout on a pseudo-terminal and return what it printed."""
    leader, follower = pty.openpty()
    proc = subprocess.Popen(args, stdout=follower, stderr=subprocess.PIPE,
                            env={**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "200"})
    os.close(follower)
    chunks = []
    while True:
        try:
            data = os.read(leader, 4096)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    proc.wait(60)
    os.close(leader)
    return b"".join(chunks).decode(errors="replace")


def test_plain_progress_for_logs():
    import io

    clock = iter([0.0, 10.0, 31.0, 40.0]).__next__
    stream = io.StringIO()
    progress = PlainProgress(stream, "simulate", 100, every=30.0, clock=clock)
    progress(10)
    progress(20)
    progress(5)
    lines = stream.getvalue().splitlines()
    assert lines == ["simulate 30/100 30% 1.0/s eta 1m12s"]
    assert format_seconds(3725) == "1h02m" and format_seconds(float("inf")) == "?"


def test_info_on_a_checkpoint(tmp_path):
    import json

    import numpy as np

    from spectool.io.checkpoint import save_checkpoint
    from spectool.spectra import Axis, SetMeta
    from spectool.models.registry import create_model, tiny_kwargs

    model = create_model("cnn1d", **tiny_kwargs("cnn1d"))
    path = tmp_path / "m.safetensors"
    save_checkpoint(path, model, labels=[f"c{i}" for i in range(5)], input=SetMeta(axis=Axis(np.linspace(10, 59, 50))),
                    preprocess={"steps": [{"op": "normalize", "method": "max"}]}, train={"val": {"top1": 0.5}})
    record = json.loads(run_cli("info", "--json", str(path)).stdout)
    assert record["type"] == "model" and record["format"] == "cnn1d" and record["classes"] == 5
    assert record["start"] == 10 and record["stop"] == 59 and record["recipe"] == ["normalize"]
    assert record["val"] == {"top1": 0.5}
    assert record["params"] == sum(t.numel() for t in model.state_dict().values()) and record.get("n") is None
