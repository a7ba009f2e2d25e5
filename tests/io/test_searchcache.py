"""The search index's norms cached between runs (io.searchcache) and the Verifier's use of them."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from spectool.io.searchcache import SearchCache, cache_folder
from tests.fit.conftest import zoo_refs  # noqa: F401  (the fixture)


def test_norms_round_trip_and_a_damaged_file_reads_as_absent(tmp_path):
    cache = SearchCache(tmp_path / "c")
    assert cache.load("k") is None
    norms = np.arange(12, dtype=np.float32).reshape(3, 4)
    cache.save("k", norms)
    assert np.array_equal(cache.load("k"), norms)
    cache.path("k").write_bytes(b"not safetensors at all")
    assert cache.load("k") is None
    assert not [p for p in (tmp_path / "c").iterdir() if p.name != cache.path("k").name]  # no temporary left


def test_a_folder_that_cannot_be_written_is_left_alone(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    SearchCache(blocker / "sub").save("k", np.ones((2, 2), np.float32))  # no exception
    assert SearchCache(blocker / "sub").load("k") is None


def test_the_cache_folder_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("SPECTOOL_CACHE_DIR", str(tmp_path))
    assert cache_folder() == tmp_path
    monkeypatch.setenv("SPECTOOL_CACHE_DIR", "off")
    assert cache_folder() is None and SearchCache.default() is None
    monkeypatch.delenv("SPECTOOL_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_folder() == tmp_path / "xdg" / "spectool"


def test_a_second_verifier_takes_the_norms_from_the_cache_instead_of_rendering_them(zoo_refs, tmp_path, monkeypatch):
    from spectool.fit import search
    from spectool.learn.verification import Verifier

    x = np.arange(15.0, 75.0, 0.02)
    predictor = SimpleNamespace(axis=SimpleNamespace(values=x))
    library = {name: [ref] for name, (ref, _) in zoo_refs.items()}
    lines = ((1.5406, 1.5444), (2 / 3, 1 / 3))
    first = Verifier(predictor, library, index_store=SearchCache(tmp_path)).search_index(lines)
    assert len(list(tmp_path.glob("search-*.safetensors"))) == 1

    def rendered(self):
        raise AssertionError("the norms were rendered again")

    monkeypatch.setattr(search.SearchIndex, "_norms", rendered)
    second = Verifier(predictor, library, index_store=SearchCache(tmp_path)).search_index(lines)
    assert second.norm.numpy() == pytest.approx(first.norm.numpy())
    with pytest.raises(AssertionError, match="rendered again"):  # another radiation: another key, built anew
        Verifier(predictor, library, index_store=SearchCache(tmp_path)).search_index(((1.5406,), (1.0,)))
