"""Structures as graphs for structure → spectrum models: atoms, neighbours, electron configurations.

Pure numpy: :mod:`atoms` (the :class:`~spectool.graph.atoms.Atoms` record, .xyz parsing), :mod:`features`
(node features from the electron configuration), :mod:`neighbours` (k nearest within a cutoff, periodic
images for crystals), :mod:`star` (absorber-centred graphs for ``gat``), :mod:`line` (whole-structure
graphs with bond-angle triplets for ``alignn``).
"""
