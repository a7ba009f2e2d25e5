"""Explanations of trained spectrum models, on the input's own axis.

- :mod:`~spectool.explain.attention`: ViT attention of every layer and head, the attention rollout
  map (ARM, Chen et al. 2024) and full rollout (Abnar & Zuidema 2020), patches → input points.
- :mod:`~spectool.explain.cam`: exact CAM, Grad-CAM, occlusion (CrySTINet's masking test).
- :mod:`~spectool.explain.maps`: which methods a model supports; one batch → numpy maps.
- :mod:`~spectool.explain.plots`: pictures (matplotlib, Agg), imported only when asked.

Core code: tensors in, tensors out; it never prints and never edits the model (hooks from outside).
"""
