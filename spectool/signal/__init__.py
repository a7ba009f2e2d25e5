"""Preprocess and augment: pure array functions on (N, L) float32 batches.

- :mod:`~spectool.signal.ops`: the operation registry (``OPS``, ``make_op``, ``parse_step``,
  ``op_from_json``), parameter checks, per-row random streams.
- :mod:`~spectool.signal.preprocess`, :mod:`~spectool.signal.baseline`: deterministic steps;
  :mod:`~spectool.signal.recipe`: an ordered list of them, stored as JSON and replayed.
- :mod:`~spectool.signal.augment` (pattern level + ``augment_chunk``),
  :mod:`~spectool.signal.physics` (stick level), :mod:`~spectool.signal.render` (batched
  stick rendering), :mod:`~spectool.signal.augment_torch` (the device path).

Nothing here prints, reads argv or imports scipy, pybaselines or torch at import time.
"""
