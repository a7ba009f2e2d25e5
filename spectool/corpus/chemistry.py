"""Chemically sensible element substitution for a prototype: who may replace whom.

Two regimes, chosen per prototype from pymatgen's oxidation-state guess
(``Composition.oxi_state_guesses``, from the installed pymatgen's data):

* **ionic** — integer states and every anion one of N, O, F, S, Cl, Se, Br, Te, I: each
  ion X^q may become an ion E^q' of the same sign and kind (metal cations for metal
  cations, non-metal for non-metal: C⁴⁺ → N⁵⁺, never Fe), |q' − q| ≤ 1, q' a common or
  ICSD oxidation state of E, a Shannon crystal radius within a factor 1.35 of X^q's
  (six-fold where tabulated), and a substitution probability P(E^q' | X^q) ≥ 0.002 in
  pymatgen's ICSD-derived table (Hautier et al., Inorg. Chem. 50, 656 (2011);
  ``SubstitutionProbability``, shipped data). A draw is kept only if the new formula is
  charge balanced (NaCl → KBr, CaCO3 → NaNO3, MgAl2O4 → ZnGa2O4 …).
* **metallic / covalent** — everything else (intermetallics, elements, pyrite, pnictides):
  E is of X's kind (metal, halogen, other non-metal or metalloid), within 10 of X on
  Pettifor's chemical scale (``Element.mendeleev_no``) and its empirical atomic radius is
  within a factor 1.25 of X's.

Where that leaves an element fewer than 3 substitutes (Po, B in BN, …) its metallic window is
widened (Pettifor ±15, radius factor 1.4). Ionic prototypes are never widened: silica
polymorphs give SiO2, GeO2 and SiS2 only, BN nothing but itself.

Candidates are weighted by size match (a Gaussian in ln(r'/r), σ = 0.12) times, for ions,
the substitution probability (the ion itself included), or, for metals, closeness on the
Pettifor scale (σ = 5; the element itself weighs 1). Substitutes come from a pool of stable
elements (Z ≤ 83 without noble gases, H, Tc, Pm; plus Th and U); an element may always stay
itself.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

ANIONS = frozenset({"N", "O", "F", "S", "Cl", "Se", "Br", "Te", "I"})
EXCLUDED = frozenset({"H", "He", "Ne", "Ar", "Kr", "Xe", "Tc", "Pm"})
RADIUS_FACTOR_IONIC = 1.35
RADIUS_FACTOR_METAL = 1.25
PETTIFOR_WINDOW = 10
WIDE = (15, 1.4)  # Pettifor window and radius factor where the normal ones leave too few
MIN_CANDIDATES = 3  # per element, itself included
SIZE_SIGMA = 0.12  # in ln(r'/r)
PETTIFOR_SIGMA = 5.0
MIN_PROBABILITY = 0.002  # P(E^q' | X^q) below this is not a substitution the ICSD knows


@dataclass(frozen=True)
class Candidate:
    """A substitute: element, oxidation state (0 for metallic), radius ratio to the original, weight."""

    element: str
    charge: int
    ratio: float
    weight: float


@dataclass(frozen=True)
class Plan:
    """Who may replace each element of a prototype (elements in the structure's order).

    ``counts`` are the atoms per formula unit; ``charges`` the prototype's oxidation states
    (all 0 in the metallic regime).
    """

    ionic: bool
    elements: tuple[str, ...]
    counts: tuple[float, ...]
    charges: tuple[int, ...]
    candidates: tuple[tuple[Candidate, ...], ...]
    radii: tuple[float, ...]  # Å, the prototype's radius of each element (the volume weights)


@lru_cache(maxsize=1)
def pool() -> tuple[str, ...]:
    """Elements a substitute may be (symbols, by Z)."""
    from pymatgen.core import Element

    out = [Element.from_Z(z).symbol for z in range(1, 84)] + ["Th", "U"]
    return tuple(s for s in out if s not in EXCLUDED)


@lru_cache(maxsize=None)
def crystal_radius(symbol: str, charge: int) -> float | None:
    """Shannon crystal radius of ``symbol``^``charge`` in Å: six-fold where tabulated (mean
    over spin states), else the median over coordinations; None without data or ≤ 0.1 Å."""
    from pymatgen.core import Element

    table = Element(symbol).data.get("Shannon radii", {}).get(str(charge))
    if not table:
        return None
    by_cn = {cn: np.mean([v["crystal_radius"] for v in spins.values()]) for cn, spins in table.items()}
    radius = float(by_cn["VI"]) if "VI" in by_cn else float(np.median(list(by_cn.values())))
    return radius if radius > 0.1 else None


@lru_cache(maxsize=None)
def atomic_radius(symbol: str) -> float | None:
    """Empirical atomic radius in Å (Slater), None where pymatgen has none."""
    from pymatgen.core import Element

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        value = Element(symbol).atomic_radius
    return None if value is None else float(value)


@lru_cache(maxsize=None)
def oxidation_states(symbol: str) -> tuple[int, ...]:
    """Common and ICSD oxidation states of an element (no 0)."""
    from pymatgen.core import Element

    element = Element(symbol)
    states = set(element.common_oxidation_states) | set(element.icsd_oxidation_states)
    return tuple(sorted(int(q) for q in states if q != 0))


@lru_cache(maxsize=1)
def _probabilities():
    from pymatgen.analysis.structure_prediction.substitution_probability import SubstitutionProbability

    return SubstitutionProbability()


@lru_cache(maxsize=None)
def probability(old: str, old_charge: int, new: str, new_charge: int) -> float:
    """P(new^q' | old^q) from pymatgen's substitution table; 0 for ions it does not know."""
    from pymatgen.core import Species

    try:
        return float(_probabilities().cond_prob(Species(old, old_charge), Species(new, new_charge)))
    except (ZeroDivisionError, KeyError, ValueError):
        return 0.0


@lru_cache(maxsize=None)
def kind(symbol: str) -> str:
    """``metal``, ``halogen`` or ``nonmetal`` (metalloids included); substitutes keep the kind."""
    from pymatgen.core import Element

    element = Element(symbol)
    return "metal" if element.is_metal else "halogen" if element.is_halogen else "nonmetal"


@lru_cache(maxsize=None)
def pettifor(symbol: str) -> float:
    """Position on Pettifor's chemical scale (pymatgen's ``mendeleev_no``)."""
    from pymatgen.core import Element

    return float(Element(symbol).mendeleev_no)


def ionic_charges(composition) -> dict[str, int] | None:
    """Integer oxidation states of a composition whose anions are all in ``ANIONS``; else None."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        guesses = composition.oxi_state_guesses(max_sites=-1)
    if not guesses:
        return None
    states = guesses[0]
    if any(abs(q - round(q)) > 1e-6 or round(q) == 0 for q in states.values()):
        return None
    if any(q < 0 and el not in ANIONS for el, q in states.items()):
        return None
    return {el: int(round(q)) for el, q in states.items()}


def ionic_candidates(symbol: str, charge: int) -> tuple[Candidate, ...]:
    """Ions that may take the place of ``symbol``^``charge`` (itself first)."""
    own = crystal_radius(symbol, charge)
    out = [Candidate(symbol, charge, 1.0, probability(symbol, charge, symbol, charge) or 1.0)]
    if own is None:
        return tuple(out)
    for element in pool():
        if element == symbol or kind(element) != kind(symbol):
            continue
        for q in oxidation_states(element):
            radius = crystal_radius(element, q)
            if q * charge <= 0 or abs(q - charge) > 1 or radius is None:
                continue
            ratio, prob = radius / own, probability(symbol, charge, element, q)
            if 1 / RADIUS_FACTOR_IONIC <= ratio <= RADIUS_FACTOR_IONIC and prob >= MIN_PROBABILITY:
                out.append(Candidate(element, q, ratio, _size_weight(ratio) * prob))
    return tuple(out)


def metallic_candidates(symbol: str) -> tuple[Candidate, ...]:
    """Elements that may take the place of ``symbol`` in a metal or covalent solid (itself first);
    a wider window where the normal one gives fewer than ``MIN_CANDIDATES``."""
    out = _metallic_candidates(symbol, PETTIFOR_WINDOW, RADIUS_FACTOR_METAL)
    return out if len(out) >= MIN_CANDIDATES else _metallic_candidates(symbol, *WIDE)


@lru_cache(maxsize=None)
def _metallic_candidates(symbol: str, window: float, factor: float) -> tuple[Candidate, ...]:
    own = atomic_radius(symbol)
    out = [Candidate(symbol, 0, 1.0, 1.0)]
    if own is None:
        return tuple(out)
    for element in pool():
        radius = atomic_radius(element)
        distance = abs(pettifor(element) - pettifor(symbol))
        if element == symbol or radius is None or distance > window or kind(element) != kind(symbol):
            continue
        ratio = radius / own
        if 1 / factor <= ratio <= factor:
            weight = _size_weight(ratio) * math.exp(-0.5 * (distance / PETTIFOR_SIGMA) ** 2)
            out.append(Candidate(element, 0, ratio, weight))
    return tuple(out)


def _size_weight(ratio: float) -> float:
    return math.exp(-0.5 * (math.log(ratio) / SIZE_SIGMA) ** 2)


def make_plan(structure) -> Plan:
    """The substitution plan of a prototype structure (pymatgen ``Structure``)."""
    composition = structure.composition.reduced_composition
    elements = tuple(el.symbol for el in composition)
    counts = tuple(float(composition[el]) for el in elements)
    charges = ionic_charges(composition)
    if charges is not None:
        candidates = tuple(ionic_candidates(el, charges[el]) for el in elements)
        radii = tuple(crystal_radius(el, charges[el]) or atomic_radius(el) or 1.0 for el in elements)
        return Plan(True, elements, counts, tuple(charges[el] for el in elements), candidates, radii)
    candidates = tuple(metallic_candidates(el) for el in elements)
    radii = tuple(atomic_radius(el) or 1.0 for el in elements)
    return Plan(False, elements, counts, (0,) * len(elements), candidates, radii)


def draw(plan: Plan, rng: np.random.Generator) -> tuple[Candidate, ...] | None:
    """One substitute per element, or None when the draw is not a new, valid compound:
    the identity, two elements made one (that could raise the symmetry), or (ionic) a
    formula that is not charge balanced."""
    chosen = []
    for options in plan.candidates:
        weights = np.array([c.weight for c in options])
        chosen.append(options[int(rng.choice(len(options), p=weights / weights.sum()))])
    symbols = [c.element for c in chosen]
    if symbols == list(plan.elements) or len(set(symbols)) < len(symbols):
        return None
    if plan.ionic and abs(sum(n * c.charge for n, c in zip(plan.counts, chosen))) > 1e-6:
        return None
    return tuple(chosen)


def linear_scale(plan: Plan, chosen: tuple[Candidate, ...]) -> float:
    """Lattice scale factor for a substitution: the mean radius ratio weighted by the atoms'
    share of the prototype's radii, Σ nᵢ rᵢ ρᵢ / Σ nᵢ rᵢ (NaCl → KCl: 1.13; measured 1.11)."""
    total = sum(n * r for n, r in zip(plan.counts, plan.radii))
    return sum(n * r * c.ratio for n, r, c in zip(plan.counts, plan.radii, chosen)) / total
