"""What the fit needs of a phase: its cell, crystal system, reflections and their |F|² factors.

A :class:`PhaseReference` is independent of wavelength and of the cell's refinement: each
reflection is an hkl with its intensity factor Σ 2|F|² over the reflections that stay on
the same d for every cell of the system (symmetry-equivalent ones, and accidental
coincidences the metric enforces, such as cubic (300)/(221)); the fit puts them at 2θ and
multiplies by Lorentz–polarisation itself.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from spectool.fit.cell import TIES, cell_parameters, cell_volume, reciprocal_metric, system_name
from spectool.xrd.crystal import Crystal
from spectool.xrd.turbostratic import BAND_BIN, ROD_SAMPLES, STACK_LAYERS, SWELLING_SPACINGS, binned, rod_reflections

#: Reflections weaker than this fraction of the strongest |F|² factor are dropped.
MIN_RELATIVE = 1e-4
#: At most this many reflections per phase are kept (the strongest).
MAX_REFLECTIONS = 768
#: |g| limit (1/Å) of stored reflections: 2θ ≈ 100° at Cu Kα, 42° at Mo Kα, with the cell 5 % smaller.
G_MAX = 1.05
#: Atomic masses (g/mol) are taken from pymatgen at build time; this fallback is the mass per electron.
_AMU_PER_ELECTRON = 2.0


@dataclass(frozen=True)
class PhaseReference:
    """One phase as the fit sees it.

    Attributes:
        name: label (class name or structure name).
        system: crystal system (:data:`spectool.fit.cell.SYSTEMS`).
        cell: (6,) a, b, c in Å, α, β, γ in degrees (conventional standard setting).
        hkl: (M,) × 3 int Miller indices in that setting.
        factor: (M,) float intensity factor Σ 2|F|² (electrons²) per reflection group.
        mass: mass of the cell's content in g/mol (Z·M of Hill–Howard).
        formula: reduced formula, for display and chemistry filters.
        texture: reciprocal-lattice direction (h, k, l) of a preferred orientation the fit refines
            (March–Dollase, :mod:`spectool.fit.texture`), or None for a random powder.
        layer_samples: 0 for a crystal; s for a turbostratic stack (:func:`turbostratic_reference`),
            whose cell is the layer's a × b × s·d and its l the rods' continuous l times s.
    """

    name: str
    system: str
    cell: np.ndarray
    hkl: np.ndarray
    factor: np.ndarray
    mass: float
    formula: str = ""
    texture: tuple[int, int, int] | None = None
    layer_samples: int = 0

    @property
    def volume(self) -> float:
        """Cell volume in Å³."""
        return float(cell_volume(self.cell))

    def reported_cell(self, cell: np.ndarray) -> np.ndarray:
        """A refined ``cell`` (6,) of this reference as a user reads it: a turbostratic stack's basal
        spacing d rather than its cell's s·d."""
        if not self.layer_samples:
            return np.asarray(cell, np.float64)
        return np.r_[cell[:2], cell[2] / self.layer_samples, cell[3:]]

    def elements(self) -> set[str]:
        """Element symbols of the formula."""
        import re

        return set(re.findall(r"[A-Z][a-z]?", self.formula))


def reference_from_crystal(crystal: Crystal, system: str, name: str = "", mass: float | None = None,
                           formula: str = "", g_max: float = G_MAX) -> PhaseReference:
    """Reference of a crystal given in its conventional standard setting (``system`` as :mod:`cell`).

    ``mass`` (g/mol per cell) defaults to 2 g/mol per electron of the cell (an estimate;
    builders pass pymatgen's masses). Raises ``KeyError`` for an element without scattering factors.
    """
    from spectool.xrd.reflections import structure_factor_intensities

    system = system_name(system)
    cell = cell_parameters(crystal.lattice)
    hkl, g, f2 = structure_factor_intensities(crystal, 0.0, g_max)
    hkl, factor = merge_equivalent(hkl, 2.0 * f2, cell, system)
    keep = factor > MIN_RELATIVE * factor.max() if factor.size else factor > 0
    hkl, factor = hkl[keep], factor[keep]
    if factor.size > MAX_REFLECTIONS:
        q = np.einsum("mi,ij,mj->m", hkl.astype(float), reciprocal_metric(cell), hkl.astype(float))
        order = np.argsort(-factor / np.maximum(q, 1e-6))[:MAX_REFLECTIONS]  # weight like LP at low angle
        hkl, factor = hkl[np.sort(order)], factor[np.sort(order)]
    if mass is None:
        mass = estimated_mass(crystal)
    return PhaseReference(name, system, cell, hkl.astype(np.int16), factor.astype(np.float32), float(mass), formula)


def estimated_mass(crystal: Crystal) -> float:
    """Mass (g/mol) of the cell's content at :data:`_AMU_PER_ELECTRON` g/mol per electron, where no masses are given."""
    from spectool.xrd.scattering import ATOMIC_NUMBER

    return float(sum(ATOMIC_NUMBER[e] * o for e, o in zip(crystal.elements, crystal.occupancy))) * _AMU_PER_ELECTRON


def cell_mass(structure) -> float:
    """Mass (g/mol) of a pymatgen ``Structure``'s cell content, occupancies counted."""
    return float(sum(float(sp.atomic_mass) * occ for site in structure for sp, occ in site.species.items()))


def turbostratic_reference(crystal: Crystal, name: str = "", mass: float | None = None, formula: str = "",
                           g_max: float = G_MAX, layers: int = STACK_LAYERS, spacing: float | None = None
                           ) -> PhaseReference | None:
    """Reference of ``crystal``'s layers stacked at random (:mod:`spectool.xrd.turbostratic`), ``spacing`` Å
    apart (default: as in the crystal), or None where they have no rectangular layer cell.

    ``mass``: of ``crystal``'s cell (g/mol; default as :func:`reference_from_crystal`; interlayer water is
    not in it). Rod samples are gathered on a grid of :data:`~spectool.xrd.turbostratic.BAND_BIN` in |g|
    (:func:`~spectool.xrd.turbostratic.binned`): a band becomes a few hundred reflections. The reference
    refines a March–Dollase r along c* (``texture``): the 00l against the bands vary with hydration,
    orientation and the beam's footprint at low angle far more than a random powder's reflections do.
    The name gains " (turbostratic, d 12.5 Å)".
    """
    rods = rod_reflections(crystal, g_max, layers, ROD_SAMPLES, spacing)
    if rods is None:
        return None
    hkl, factor, cell, d = rods
    hkl, factor = merge_equivalent(hkl, factor, cell, "orthorhombic")
    hkl, factor = binned(hkl, factor, cell, BAND_BIN)
    keep = factor > MIN_RELATIVE * factor.max() if factor.size else factor > 0
    if mass is None:
        mass = estimated_mass(crystal)
    return PhaseReference(f"{name} (turbostratic, d {d:.1f} Å)", "orthorhombic", cell, hkl[keep].astype(np.int16),
                          factor[keep].astype(np.float32), float(mass) * ROD_SAMPLES, formula, texture=(0, 0, 1),
                          layer_samples=ROD_SAMPLES)


def merge_equivalent(hkl: np.ndarray, factor: np.ndarray, cell: np.ndarray, system: str):
    """Sum reflections (M,) that share d for every cell of ``system``: (hkl (G, 3), factor (G,)).

    Two reflections stay together under refinement when their 1/d² agree for the reference
    cell and for two cells moved along every free direction of the system.
    """
    if hkl.shape[0] == 0:
        return hkl.reshape(0, 3), factor
    h = hkl.astype(np.float64)
    keys = []
    for probe in _probe_cells(cell, system):
        q = np.einsum("mi,ij,mj->m", h, reciprocal_metric(probe), h)
        keys.append(np.rint(q / max(q.max(), 1e-12) * 1e9).astype(np.int64))
    order = np.lexsort(keys[::-1])
    stacked = np.stack(keys, 1)[order]
    starts = np.flatnonzero(np.r_[True, np.any(stacked[1:] != stacked[:-1], axis=1)])
    summed = np.add.reduceat(factor[order], starts)
    rep = hkl[order][starts]
    q0 = keys[0][order][starts]
    sort = np.argsort(q0, kind="stable")
    return rep[sort], summed[sort]


def _probe_cells(cell: np.ndarray, system: str) -> list[np.ndarray]:
    tie = np.array(TIES[system])
    out = [cell]
    for seed in (1, 2):
        wiggle = np.sin(np.arange(6) * (1.7 + seed) + seed) * 0.03  # fixed, generic directions
        moved = cell.copy()
        free = tie >= 0
        moved[:3] = np.where(free[:3], cell[:3] * (1 + wiggle[tie[:3].clip(0)]), cell[:3])
        moved[3:] = np.where(free[3:], cell[3:] + 40 * wiggle[tie[3:].clip(0)], cell[3:])
        out.append(moved)
    return out


def conventional(structure) -> tuple[Crystal, str, float, str]:
    """pymatgen ``Structure`` → (conventional standard :class:`Crystal`, crystal system, mass g/mol, formula).

    spglib (through pymatgen, symprec 0.01 Å) finds the setting; if it fails the structure is
    taken as it is, triclinic.
    """
    from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

    from spectool.xrd.structures import crystal_from_structure

    try:
        sga = SpacegroupAnalyzer(structure, symprec=0.01)
        conv, system = sga.get_conventional_standard_structure(), sga.get_crystal_system()
    except Exception:  # spglib failing on an odd structure: fall back to P1
        conv, system = structure, "triclinic"
    return crystal_from_structure(conv), system_name(system), cell_mass(conv), conv.composition.reduced_formula


def references_from_loaded(item, name_of=None, turbostratic: bool = False) -> list[PhaseReference]:
    """References of one :class:`~spectool.xrd.structures.LoadedStructure`: the crystal in its conventional
    setting; with ``turbostratic``, instead, its layers stacked at random (:func:`turbostratic_reference`,
    in the file's own setting, whose layers a smectite's CIF puts in a cell plane) at each of
    :data:`~spectool.xrd.turbostratic.SWELLING_SPACINGS`, where they have a rectangular layer cell."""
    from pathlib import Path

    name = name_of(item.path, item.name) if name_of else Path(item.path).stem
    if turbostratic:
        structure = structure_of(item.crystal)
        refs = [turbostratic_reference(item.crystal, name, cell_mass(structure), structure.composition.reduced_formula,
                                       spacing=d)
                for d in SWELLING_SPACINGS]
        if all(r is not None for r in refs):
            return refs
    crystal, system, mass, formula = conventional(structure_of(item.crystal))
    return [reference_from_crystal(crystal, system, name, mass, formula)]


def structure_of(crystal: Crystal):
    """pymatgen ``Structure`` of a :class:`Crystal` (partial occupancies kept)."""
    from pymatgen.core import Lattice, Structure

    sites: dict[int, tuple[dict[str, float], np.ndarray]] = {}
    for i, (site, el, occ) in enumerate(zip(crystal.site, crystal.elements, crystal.occupancy)):
        occupancies = sites.setdefault(int(site), ({}, crystal.frac_coords[i]))[0]
        occupancies[el] = occupancies.get(el, 0.0) + float(occ)
    ordered = [sites[k] for k in sorted(sites)]
    return Structure(Lattice(crystal.lattice), [s for s, _ in ordered], [x for _, x in ordered])


def hill_howard(scales: np.ndarray, masses: np.ndarray, volumes: np.ndarray) -> np.ndarray:
    """Weight fractions (P,) from Rietveld scales S, cell masses Z·M (g/mol) and volumes V (Å³), P phases.

    Hill & Howard (1987): W_p = S_p (ZMV)_p / Σ S (ZMV), with S the factor on |F|² of the cell
    (the fit's ``scale``).
    """
    w = np.maximum(np.asarray(scales, float), 0) * np.asarray(masses, float) * np.asarray(volumes, float)
    total = w.sum()
    return w / total if total > 0 else np.zeros_like(w)
