"""``train --compile`` wraps the training step in torch.compile and leaves the model itself alone."""

from __future__ import annotations

import numpy as np
import torch

from spectool.learn.train import TrainConfig, Trainer
from spectool.models.registry import create_model, tiny_kwargs


def test_compile_wraps_the_step_not_the_model():
    model = create_model("cnn1d", **tiny_kwargs("cnn1d"))
    lut = np.arange(6)
    trainer = Trainer(model, TrainConfig(compile=True), torch.device("cpu"), lut)
    assert isinstance(trainer.net, torch._dynamo.eval_frame.OptimizedModule)
    assert trainer.model is model and not any(k.startswith("_orig_mod") for k in model.state_dict())
    assert not isinstance(Trainer(model, TrainConfig(), torch.device("cpu"), lut).net,
                          torch._dynamo.eval_frame.OptimizedModule)
