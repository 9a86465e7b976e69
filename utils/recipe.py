"""Where a run meets model.py's registry: a registered model's recipe as a ``TrainConfig`` (``config_for``) and the
network a configuration trains (``network``). ``utils.config`` below it knows no model."""

from __future__ import annotations

import torch.nn as nn

import model as model_lib
from utils.config import TrainConfig


def config_for(model: str, kind: type[TrainConfig] = TrainConfig, **overrides) -> TrainConfig:
    """The configuration of a run of ``model``: its recipe, then ``overrides`` (any field of ``kind``, which
    tools/search_training.py's SearchConfig extends). A bad value or a stack that cannot be built raises a
    ValueError here, before any data is read."""
    fields = kind.field_names()
    unknown = set(overrides) - fields
    if unknown:
        raise ValueError(f"unknown {kind.__name__} field(s): {', '.join(sorted(unknown))}")
    merged = {"model": model, **model_lib.get_recipe(model), **overrides}
    if "hold" not in overrides:  # a hold asked for is checked as it is
        merged["hold"] = held_within(merged.get("hold", 0), merged.get("epochs", kind.epochs))
    cfg = kind(**merged)
    cfg.validate()
    network(cfg)
    return cfg


def held_within(hold: int, epochs: int) -> int:
    """A recipe's held epochs in a run of ``epochs`` (a smoke or dry run may be shorter than the hold): the
    one-cycle schedule keeps at least one epoch before the held rate."""
    return min(hold, epochs - 1) if epochs > 0 else hold


def network(cfg: TrainConfig) -> nn.Module:
    """The network ``cfg`` trains: the registered model, or the stack in ``cfg.layers`` with the model's dropout
    and activation unless ``cfg`` names its own. An unknown model or a malformed stack raises a ValueError."""
    own = model_lib.get_model(cfg.model)
    if not cfg.layers:
        return own
    dropout = cfg.dropout if cfg.dropout >= 0 else own.dropout
    return model_lib.build_layers(cfg.layers, dropout, cfg.activation or own.act)
