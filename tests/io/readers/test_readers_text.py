"""Column-text reader: separators, decimal commas, headers, units, errors with line numbers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spectool.errors import FormatError
from spectool.io.readers import read_scans
from spectool.io.readers.text import read_text

DATA = Path(__file__).resolve().parents[2] / "data" / "scans"


def one(name: str):
    scans = read_scans(DATA / name)
    assert len(scans) == 1
    return scans[0]


def test_decimal_comma_with_semicolons():
    scan = one("decimal_comma.csv")
    np.testing.assert_allclose(scan.x, [10.0, 10.5, 11.0, 11.5])
    np.testing.assert_allclose(scan.y, [100.5, 200.25, 150.0, 120.75])


def test_decimal_comma_with_tabs():
    np.testing.assert_allclose(one("tab_decimal.txt").x, [12.5, 13.0, 13.5, 14.0])


def test_descending_ftir_axis_is_reversed_and_recorded():
    scan = one("ftir_desc.dpt")
    np.testing.assert_allclose(scan.x, [1000, 2000, 3000, 4000])
    np.testing.assert_allclose(scan.y, [0.8, 0.5, 0.9, 0.95])
    assert scan.meta["descending"] and scan.quantity == "wavenumber" and scan.kind == "ftir"


def test_third_column_is_sigma():
    np.testing.assert_allclose(one("sigma.xye").sigma, [10, 11, 12, 13])


def test_fit2d_chi_header_is_skipped():
    scan = one("fit2d.chi")
    assert len(scan) == 4 and scan.quantity == "two_theta" and not scan.meta.get("axis_guessed")


def test_rruff_keys_and_raman_axis():
    scan = one("rruff_raman.txt")
    assert scan.meta["sample"] == "Quartz" and scan.meta["rruff_id"] == "R040031"
    assert (scan.quantity, scan.units, scan.kind) == ("raman_shift", "1/cm", "raman")
    assert scan.wavelength is None and scan.meta["laser_nm"] == 785


def test_header_wavelength_sample_and_signal():
    scan = one("simple.xy")
    assert scan.wavelength == 1.5406 and scan.meta["sample"] == "quartz standard"
    assert scan.meta["signal"] == "counts"


def test_blank_line_and_restart_start_a_new_block():
    scans = read_scans(DATA / "two_blocks.dat")
    assert [s.y.tolist() for s in scans] == [[1, 2, 3], [4, 5, 6]]
    assert all(s.quantity == "two_theta" for s in scans)


@pytest.mark.parametrize("file, line, words", [
    ("bad_line.xy", 4, "not a line of numbers"),
    ("nan_value.xy", 2, "not finite"),
    ("duplicate_axis.xy", 3, "repeated"),
    ("non_monotonic.xy", 3, "not monotonic"),
])
def test_bad_input_names_file_and_line(file, line, words):
    with pytest.raises(FormatError) as info:
        read_scans(DATA / file)
    assert info.value.path.endswith(file) and info.value.line == line
    assert words in info.value.message


@pytest.mark.parametrize("text", [b"", b"\n\n", b"# only a comment\n", b"hello world\n"])
def test_no_numeric_data(text):
    with pytest.raises(FormatError, match="no numeric data"):
        read_text(text, "x.xy")


@pytest.mark.parametrize("header, quantity, units, kind", [
    ("# 2theta intensity", "two_theta", "deg", "xrd"),
    ("# Wavenumber (cm-1), Absorbance", "wavenumber", "1/cm", "ftir"),
    ("# Raman shift (cm-1)", "raman_shift", "1/cm", "raman"),
    ("# Energy (eV) mu XANES", "energy", "eV", "xanes"),
])
def test_units_from_header(header, quantity, units, kind):
    body = "\n".join(f"{100 + i} {i + 1}" for i in range(5))
    scan = read_text(f"{header}\n{body}\n".encode(), "s.txt")[0]
    assert (scan.quantity, scan.units, scan.kind) == (quantity, units, kind)


def test_kev_axis_is_converted_to_ev():
    scan = read_text(b"# energy keV\n7.0 1\n7.1 2\n7.2 3\n", "e.dat")[0]
    np.testing.assert_allclose(scan.x, [7000, 7100, 7200])
    assert scan.units == "eV"


def test_comma_separated_with_dots_and_trailing_separator():
    scan = read_text(b"x,y,\n1.5,10,\n2.5,20,\n3.5,30,\n", "c.csv")[0]
    np.testing.assert_allclose(scan.y, [10, 20, 30])


def test_binary_is_refused():
    with pytest.raises(FormatError, match="binary"):
        read_text(b"\x00\x01\x02 1 2\n", "b.xy")


lines = st.one_of(
    st.text(alphabet="0123456789.,;:-+eE \t#!%abcnaif", max_size=30),
    st.builds(lambda a, b: f"{a} {b}", st.floats(allow_nan=True), st.floats(allow_nan=True)),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(lines, max_size=20), st.binary(max_size=40))
def test_fuzz_text_reader_returns_scans_or_format_error(body, tail):
    data = "\n".join(body).encode() + tail
    try:
        scans = read_text(data, "fuzz.xy")
    except FormatError as exc:
        assert exc.path == "fuzz.xy"
        return
    for scan in scans:
        assert np.all(np.isfinite(scan.x)) and np.all(np.diff(scan.x) > 0)
        assert scan.y.shape == scan.x.shape


def test_wavelength_is_the_number_after_the_keyword():
    text = b"# radiation: Cu Ka1/Ka2, wavelength 1.54056 A\n# 2theta counts\n10 1\n10.02 2\n10.04 3\n"
    scan = read_scans(text, "scan.xy")[0]
    assert scan.wavelength == pytest.approx(1.54056)


def test_a_stated_wavelength_does_not_make_the_axis_a_wavelength():
    scan = read_scans(b"# wavelength 1.54056\n10 1\n10.02 2\n10.04 3\n", "scan.xy")[0]
    assert (scan.quantity, scan.kind, scan.wavelength) == ("two_theta", "xrd", pytest.approx(1.54056))
    uv = read_scans(b"# wavelength (nm), absorbance\n400 0.1\n401 0.2\n402 0.3\n", "uv.txt")[0]
    assert uv.quantity == "wavelength"


def _outcome(read):
    try:
        return [(s.x.tolist(), s.y.tolist(), None if s.sigma is None else s.sigma.tolist(), s.quantity, s.units,
                 s.kind, s.wavelength, s.meta) for s in read()]
    except FormatError as exc:
        return ("error", exc.message, exc.line)


number = st.one_of(st.floats(-1e6, 1e6, allow_nan=False), st.sampled_from([float("nan"), float("inf"), 0.0]))
separators = st.sampled_from([" ", "  ", "\t", ",", ";", " , "])


@st.composite
def column_files(draw):
    """Column text that is mostly plain (one block after a header) with the odd irregular line."""
    sep, comma = draw(separators), draw(st.booleans())
    width = draw(st.integers(2, 4))
    x = np.cumsum(draw(st.lists(st.floats(0.001, 5), min_size=1, max_size=30)))
    x = x[::-1] if draw(st.booleans()) else x
    rows = [[float(v)] + [draw(number) for _ in range(width - 1)] for v in x]
    text = lambda v: (f"{v:.6g}".replace(".", ",") if comma and sep not in (",", " , ") else f"{v:.6g}")
    lines = [sep.join(text(v) for v in row) for row in rows]
    for _ in range(draw(st.integers(0, 2))):  # an irregular line somewhere
        at = draw(st.integers(0, len(lines)))
        lines.insert(at, draw(st.sampled_from(["", "# note", "abc def", "1", "1 2 3 4 5", "nan nan", "##END="])))
    header = draw(st.sampled_from(["", "# 2theta counts\n", "Sample: x\nwavelength 1.54\n", "##TITLE=a\n"]))
    return (header + "\n".join(lines) + draw(st.sampled_from(["", "\n", "\n\n"]))).encode()


@settings(max_examples=300, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(column_files(), st.sampled_from(["s.xy", "s.csv", "s.txt"]))
def test_c_parser_reads_exactly_what_the_line_reader_reads(data, name):
    from spectool.io.readers.text import read_lines

    fast = _outcome(lambda: read_text(data, name))
    slow = _outcome(lambda: read_lines(data.decode("utf-8").splitlines(), name))
    assert fast == slow


def test_a_plain_file_goes_through_the_c_parser(monkeypatch):
    from spectool.io.readers import text

    monkeypatch.setattr(text, "read_lines", lambda *a: pytest.fail("line-by-line reader used"))
    body = "\n".join(f"{10 + i * 0.01:.2f} {i % 7}" for i in range(500))
    scan = read_text(f"# 2theta counts\n# wavelength 1.5406\n{body}\n".encode(), "s.xy")[0]
    assert len(scan) == 500 and scan.wavelength == 1.5406 and scan.y[8] == 1


@pytest.mark.parametrize("anode", ["Cu", "Mo", "Cr", "Fe", "Co", "Ag"])
def test_an_anode_without_a_number_gets_simulates_kalpha1(anode):
    """One Kα1 table (xrd/radiation.py): a scan naming only its tube is at exactly the wavelength
    `simulate --radiation XKa1` uses, so predict sees no wavelength difference to tolerate."""
    from spectool.xrd.radiation import parse_radiation

    scan = read_scans(f"# {anode} K-alpha tube\n# 2theta counts\n10 1\n10.02 2\n10.04 3\n".encode(), "s.xy")[0]
    assert scan.wavelength == parse_radiation(f"{anode}Ka1").wavelength
    assert scan.radiation == f"{anode}Ka1"
