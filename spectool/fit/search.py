"""Search–match of a pattern against every reference of a library, all at once (torch).

The mixture search (:func:`spectool.fit.verify.identify`) proposes the next phase from the
residual of a partial fit; a network trained on single phases proposes poorly from a residual, so
the proposals also come from this search, as in a search–match program: the cosine between the
target t (L,) and each reference's broad-peak pattern p_r(f, z), best over an isotropic cell scale
f (± the length bound) and a zero shift z near a given one,

    score_r = max_{f, z} ⟨p_r(f, z), t⟩ / (‖p_r(f, z)‖ ‖t‖),   t = target − mean(target)

with p_r(f, z)(2θ) = Σ_m I_m Φ(2θ − 2θ_m(f) − z) over the reference's strongest reflections m and
every line of the radiation, I_m = factor × LP × line weight, Φ a Gaussian of FWHM ``width``
(cut at ±1.5 FWHM). ⟨p, t⟩ = Σ_m I_m (Φ ⋆ t)(2θ_m + z): the target is correlated with Φ once and read at
the stick positions (linear interpolation), so a search is one sparse (references × scales, grid)
matrix of interpolation weights times the (grid, shifts) matrix of Φ ⋆ t at each whole-step shift; the
norms ‖p_r(f)‖ are computed once per index (the positions do not depend on the target).
Pure: arrays in, scores out.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np

from spectool.fit.cell import LENGTH_BOUND, reciprocal_metric
from spectool.fit.reference import PhaseReference
from spectool.xrd.reflections import lorentz_polarization

_LN2 = math.log(2.0)


@dataclass(frozen=True)
class SearchOptions:
    """Grid of the search.

    Attributes:
        length_bound: largest relative change of the cell (isotropic) searched, e.g. 0.05 = ±5 %.
        scales: points of the cell-scale grid.
        shift: largest zero shift searched around the given one, degrees 2θ.
        step: grid step of the search, degrees 2θ (the scan is averaged over blocks to about it).
        width: FWHM of the broad peaks, degrees 2θ.
        reflections: strongest reflections per reference (factor / |g|², as LP weighs them at low angle).
    """

    length_bound: float = LENGTH_BOUND
    scales: int = 21
    shift: float = 0.06
    step: float = 0.06
    width: float = 0.3
    reflections: int = 40


class SearchIndex:
    """Every reference of ``library`` (label → references) laid out on the grid x (L,) degrees for
    the lines (wavelengths Å, weights); :meth:`match` scores a pattern on that grid against all."""

    def __init__(self, library: dict, x: np.ndarray, wavelengths=(1.5406,), weights=(1.0,),
                 options: SearchOptions = SearchOptions(), device: str = "cpu", norms: np.ndarray | None = None):
        """``norms``: the (R, F) norms an earlier index of the same :func:`index_key` computed (most of
        the cost of building one); recomputed when absent or of another shape."""
        import torch

        self.entries = [(label, ref) for label, refs in library.items() for ref in refs]
        self.options, self.device = options, device
        x = np.asarray(x, np.float64)
        self.k = max(1, int(round(options.step / ((x[-1] - x[0]) / max(x.size - 1, 1)))))
        self.n = (x.size // self.k) * self.k
        xc = x[:self.n].reshape(-1, self.k).mean(1)
        self.x0, self.dx, self.L = float(xc[0]), float(xc[1] - xc[0]) if xc.size > 1 else 1.0, xc.size
        half = int(math.ceil(1.5 * options.width / self.dx))
        off = torch.arange(-half, half + 1, dtype=torch.float64) * self.dx
        self.kernel = _gaussian(off, options.width, half * self.dx).to(device=device, dtype=torch.float32)
        self.half = half
        factors = 1 + np.linspace(-options.length_bound, options.length_bound, options.scales)
        pos, inten = _sticks(self.entries, factors, wavelengths, weights, options.reflections)
        self.pos = torch.as_tensor((pos - self.x0) / self.dx, dtype=torch.float32, device=device)  # (R, F, S)
        self.inten = torch.as_tensor(inten, dtype=torch.float32, device=device)
        F = options.scales
        fresh = norms is None or np.shape(norms) != (len(self.entries), F)
        self.norm = self._norms() if fresh else torch.as_tensor(np.asarray(norms, np.float32), device=device)  # (R, F)

    def _norms(self, chunk: int = 64):
        """‖p_r(f)‖ (R, F) of the rendered broad-peak patterns (rendered in chunks of references)."""
        import torch

        R, F, S = self.pos.shape
        out = torch.zeros(R, F, dtype=torch.float32, device=self.device)
        steps = torch.arange(-self.half - 1, self.half + 2, device=self.device)
        for lo in range(0, R, chunk):
            pos, inten = self.pos[lo:lo + chunk], self.inten[lo:lo + chunk]
            cells = pos.floor().long()[..., None] + steps  # (c, F, S, W)
            val = _gaussian((cells - pos[..., None]) * self.dx, self.options.width, self.half * self.dx) * inten[..., None]
            ok = (cells >= 0) & (cells < self.L)
            flat = cells.clamp(0, self.L - 1) + self.L * torch.arange(pos.shape[0] * F, device=self.device).reshape(
                pos.shape[0], F, 1, 1)
            rendered = torch.zeros(pos.shape[0] * F * self.L, dtype=torch.float32, device=self.device)
            rendered.scatter_add_(0, flat.flatten(), (val * ok).flatten())
            out[lo:lo + chunk] = rendered.reshape(pos.shape[0], F, self.L).norm(dim=2)
        return out

    def scores(self, y: np.ndarray, zero: float = 0.0) -> np.ndarray:
        """Cosine score (R,) of every reference (order of :attr:`entries`) with y (L,) on the index's
        grid, best over the cell scales and the shifts within ``shift`` of ``zero`` (degrees)."""
        import torch
        import torch.nn.functional as F

        t = np.clip(np.asarray(y, np.float64)[:self.n], 0, None).reshape(-1, self.k).mean(1)
        t = torch.as_tensor(t - t.mean(), dtype=torch.float32, device=self.device)
        tnorm = float(t.norm())
        if tnorm <= 0 or not self.entries:
            return np.zeros(len(self.entries))
        pad = self.half + 2
        tc = F.conv1d(F.pad(t, (pad + self.half, pad + self.half))[None, None], self.kernel[None, None])[0, 0]
        # tc[i + pad] = (Φ ⋆ t)(grid point i), i from −pad to L − 1 + pad
        # ⟨p_r(f, z + s·dx), t⟩ for every whole-step shift s at once: a sparse (R·F, grid) matrix of the sticks'
        # linear-interpolation weights (two per stick, × intensity) times the (grid, shifts) matrix of Φ⋆t
        # shifted by s; outside the grid Φ⋆t is zero (padded), so clamped indices change nothing
        R = int(round(self.options.shift / self.dx))
        n = tc.numel()
        padded = F.pad(tc, (R, R + 1))
        shifted = torch.stack([padded[R + s:R + s + n] for s in range(-R, R + 1)], 1)  # (n, 2R+1)
        p = self.pos + (zero / self.dx + pad)
        i0 = p.floor()
        fr = p - i0
        i0 = i0.to(torch.int32).clamp_(0, n - 2)
        refs, scales, sticks = self.pos.shape
        cols = torch.stack([i0, i0 + 1], -1).reshape(-1)
        vals = torch.stack([self.inten * (1 - fr), self.inten * fr], -1).reshape(-1)
        crow = torch.arange(0, refs * scales + 1, dtype=torch.int32, device=self.device) * (2 * sticks)
        with warnings.catch_warnings():  # "sparse CSR tensor support is in beta state"
            warnings.simplefilter("ignore", UserWarning)
            weights = torch.sparse_csr_tensor(crow, cols, vals, size=(refs * scales, n))
        best = (weights @ shifted).reshape(refs, scales, -1).max(2).values
        score = (best / self.norm.clamp(min=1e-12)).max(1).values / tnorm
        return score.cpu().numpy().astype(np.float64)

    def match(self, y: np.ndarray, zero: float = 0.0) -> list[tuple[str, PhaseReference, float]]:
        """(label, reference, score) of every reference, best first (see :meth:`scores`)."""
        s = self.scores(y, zero)
        return [(*self.entries[i], float(s[i])) for i in np.argsort(-s, kind="stable")]


def index_key(library: dict, x: np.ndarray, wavelengths=(1.5406,), weights=(1.0,),
               options: SearchOptions = SearchOptions()) -> str:
    """A hex digest of everything a :class:`SearchIndex` depends on (the references, in order, with
    their labels, cells and reflections; the grid; the lines; the options): equal keys, equal indexes."""
    import hashlib

    h = hashlib.blake2b(digest_size=20)
    h.update(f"search-index/1|{options!r}|{tuple(map(float, wavelengths))}|{tuple(map(float, weights))}".encode())
    h.update(np.ascontiguousarray(x, np.float64).tobytes())
    for label, refs in library.items():
        for ref in refs:
            h.update(f"|{label}|{ref.name}|{ref.system}".encode())
            for a in (np.asarray(ref.cell, np.float64), np.asarray(ref.hkl, np.int16), np.asarray(ref.factor, np.float32)):
                h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()


def _gaussian(dx, fwhm: float, cut: float):
    """Gaussian of FWHM ``fwhm`` at dx (tensor), zero beyond ±``cut`` as the kernel of :meth:`scores`."""
    import torch

    g = 2 * math.sqrt(_LN2 / math.pi) / fwhm * torch.exp(-4 * _LN2 * (dx / fwhm) ** 2)
    return g * (dx.abs() <= cut + 1e-6)


#: Bin width in |g| (1/Å) of a turbostratic reference's bands in the search (0.5° 2θ at 20° with Cu Kα).
SEARCH_BAND_BIN = 0.006


def broad_reflections(ref: PhaseReference) -> tuple[np.ndarray, np.ndarray]:
    """(hkl, factor) of ``ref`` as the search's broad peaks see it: a turbostratic stack's bands and 00l
    in bins of :data:`SEARCH_BAND_BIN` (:func:`~spectool.xrd.turbostratic.binned`), so its strongest
    reflections span its bands rather than the finely sampled slopes of its first basal peak."""
    if not ref.layer_samples:
        return ref.hkl, ref.factor
    from spectool.xrd.turbostratic import binned

    return binned(ref.hkl, ref.factor, ref.cell, SEARCH_BAND_BIN)


def _sticks(entries, factors: np.ndarray, wavelengths, weights, keep: int):
    """Stick positions (R, F, S) degrees 2θ and intensities (R, F, S) of every reference at every cell
    scale, S = ``keep`` × lines (zero-padded; a reflection beyond 2θ = 180° has intensity 0)."""
    R, F, J = len(entries), len(factors), len(wavelengths)
    pos, inten = np.zeros((R, F, keep * J)), np.zeros((R, F, keep * J))
    for r, (_, ref) in enumerate(entries):
        hkl, factor = broad_reflections(ref)
        h = hkl.astype(np.float64)
        q = np.einsum("mi,ij,mj->m", h, reciprocal_metric(ref.cell), h)
        order = np.argsort(-factor / np.maximum(q, 1e-6))[:keep]
        g, fac = np.sqrt(np.maximum(q[order], 1e-12)), factor[order].astype(np.float64)
        for j, (lam, w) in enumerate(zip(wavelengths, weights)):
            s = lam * g[None] / (2 * factors[:, None])  # (F, m): a cell f times larger, d f times larger
            ok = s < 0.999
            theta = np.arcsin(np.clip(s, 0, 0.999))
            lp = lorentz_polarization(theta)
            m = len(order)
            pos[r, :, j * keep:j * keep + m] = np.degrees(2 * theta)
            inten[r, :, j * keep:j * keep + m] = fac * lp * w * ok
    return pos, inten
