"""X-ray tube radiation: characteristic wavelengths and Kα1/Kα2 doublets.

Wavelengths in Å, the same values as pymatgen's ``WAVELENGTHS`` table (itself from the
International Tables), so that patterns agree with the oracle to the last digit.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Characteristic lines in Å (pymatgen ``xrd.WAVELENGTHS``).
WAVELENGTHS: dict[str, float] = {
    "CuKa": 1.54184, "CuKa2": 1.54439, "CuKa1": 1.54056, "CuKb1": 1.39222,
    "MoKa": 0.71073, "MoKa2": 0.71359, "MoKa1": 0.70930, "MoKb1": 0.63229,
    "CrKa": 2.29100, "CrKa2": 2.29361, "CrKa1": 2.28970, "CrKb1": 2.08487,
    "FeKa": 1.93735, "FeKa2": 1.93998, "FeKa1": 1.93604, "FeKb1": 1.75661,
    "CoKa": 1.79026, "CoKa2": 1.79285, "CoKa1": 1.78896, "CoKb1": 1.63079,
    "AgKa": 0.560885, "AgKa2": 0.563813, "AgKa1": 0.559421, "AgKb1": 0.497082,
}  # fmt: skip

#: Cu Kα1 (Å): the wavelength assumed wherever an X-ray one must be and none is given.
CU_KALPHA1 = WAVELENGTHS["CuKa1"]

#: Intensity of Kα2 relative to Kα1 in a ``XKa12`` doublet.
KA2_RATIO = 0.5

ANODES = ("Cu", "Mo", "Cr", "Fe", "Co", "Ag")

#: Kα1 (Å) of anodes that scan files may name but pymatgen's table (and so simulate) does not offer.
OTHER_KALPHA1: dict[str, float] = {"Ni": 1.657910, "W": 0.208990}


@dataclass(frozen=True)
class Radiation:
    """One or more lines that illuminate the sample together.

    ``wavelengths[0]`` (Å) is the primary line: reflections are computed with it, and the
    other lines are copies of each reflection moved by Bragg's law at the same d and
    scaled by their ``weights`` entry (``weights[0]`` is 1).
    """

    name: str
    wavelengths: tuple[float, ...]
    weights: tuple[float, ...]

    @property
    def wavelength(self) -> float:
        """Primary wavelength in Å."""
        return self.wavelengths[0]


def parse_radiation(value: str | float) -> Radiation:
    """Radiation from a name (``CuKa``, ``CuKa1``, ``CuKa12`` …) or a wavelength in Å.

    ``XKa12`` is the Kα1 + Kα2 doublet of anode X with intensity ratio 0.5. A number (or a
    string that parses as one) is a single line of that wavelength. Raises ``ValueError``
    for an unknown name or a wavelength that is not positive and finite.
    """
    if isinstance(value, str):
        name = value.strip()
        try:
            value = float(name)
        except ValueError:
            return _named(name)
    wavelength = float(value)
    if not (0 < wavelength < float("inf")):
        raise ValueError(f"wavelength must be a positive number of Å, not {value!r}")
    return Radiation(f"{wavelength:g}A", (wavelength,), (1.0,))


def _named(name: str) -> Radiation:
    """Look a radiation name up, case-insensitively (``cuka12`` = ``CuKa12``)."""
    canon = {k.lower(): k for k in WAVELENGTHS}
    key = name.lower()
    if key.endswith("ka12") and key[:-2] + "1" in canon:
        k1, k2 = canon[key[:-2] + "1"], canon[key[:-2] + "2"]
        return Radiation(k1[:-1] + "12", (WAVELENGTHS[k1], WAVELENGTHS[k2]), (1.0, KA2_RATIO))
    if key in canon:
        k = canon[key]
        return Radiation(k, (WAVELENGTHS[k],), (1.0,))
    names = ", ".join(list(WAVELENGTHS) + [a + "Ka12" for a in ANODES])
    raise ValueError(f"unknown radiation {name!r}; known: {names}, or a wavelength in Å")


def anode_wavelength(anode: str | None) -> float | None:
    """Kα1 (Å) of an anode name such as ``"Cu"`` or ``"CU"`` (what a scan file says when it gives no
    number): ``WAVELENGTHS``' ``XKa1``, else :data:`OTHER_KALPHA1`; None if unknown."""
    if not anode:
        return None
    name = anode.strip()[:2].capitalize()
    return WAVELENGTHS.get(f"{name}Ka1", OTHER_KALPHA1.get(name))
