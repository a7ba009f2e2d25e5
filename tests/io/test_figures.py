"""Figures are written as PNGs through the atomic writer: a failed drawing leaves the old file whole."""

from __future__ import annotations

import pytest

from spectool.io.figures import write_png, write_pngs


def _figure(title: str):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(2, 1), dpi=50)
    FigureCanvasAgg(fig)
    fig.subplots().set_title(title)
    return fig


class _Broken:
    def savefig(self, path, format):
        with open(path, "wb") as f:
            f.write(b"\x89PNG half")
        raise RuntimeError("renderer failed")


def test_a_png_is_written(tmp_path):
    import matplotlib.image

    target = write_png(tmp_path / "a.png", _figure("a"))
    assert matplotlib.image.imread(target).shape == (50, 100, 4)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.png"]


def test_a_failed_figure_leaves_the_existing_file_and_no_temporary(tmp_path):
    target = tmp_path / "a.png"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError):
        write_png(target, _Broken())
    assert target.read_bytes() == b"old" and sorted(p.name for p in tmp_path.iterdir()) == ["a.png"]


def test_named_figures_go_into_the_folder(tmp_path):
    paths = write_pngs(tmp_path, ((f"{i}.png", _figure(str(i))) for i in range(2)))
    assert paths == [tmp_path / "0.png", tmp_path / "1.png"] and all(p.read_bytes()[:4] == b"\x89PNG" for p in paths)
