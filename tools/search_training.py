"""The search's training features, which no registered model's recipe uses: a ``SearchConfig`` is a ``TrainConfig``
with their fields, and its hooks plug them into utils.training's one loop. tools/search.py trains every trial with
one, so that its recorded runs (results/val/) load and run again with the fields they were made with.

    clean                the last CLEAN epochs train on the images as they are, without augmentation
    label_smoothing      label smoothing of the training loss
    ema                  evaluate (and save) an exponential moving average of the weights with this decay
    teacher, distill     distillation from a trained network's soft targets, weighted DISTILL, softened by
    distill_temperature  DISTILL_TEMPERATURE (Hinton et al., 2015)
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from utils.config import Hooks, TrainConfig
from utils.paths import REPO
from utils.runs import load_result, load_run


@dataclass(frozen=True)
class SearchConfig(TrainConfig):
    clean: int = 0
    label_smoothing: float = 0.0
    ema: float = 0.0
    teacher: str = ""  # a results file, relative to the repository; its weights lie beside it
    distill: float = 0.0
    distill_temperature: float = 4.0

    def validate(self) -> None:
        super().validate()
        if not 0 <= self.clean <= self.epochs:
            raise ValueError(f"clean must be in [0, epochs], got {self.clean}")
        if not 0 <= self.label_smoothing < 1:
            raise ValueError(f"label_smoothing must be in [0, 1), got {self.label_smoothing}")
        if not 0 <= self.ema < 1:
            raise ValueError(f"ema must be in [0, 1), got {self.ema}")
        if bool(self.teacher) != (self.distill > 0):
            raise ValueError("distillation needs both a teacher and a distill weight > 0")
        if not 0 <= self.distill <= 1 or self.distill_temperature <= 0:
            raise ValueError("distill must be in [0, 1] and distill_temperature > 0")

    def hooks(self, net: nn.Module, device: torch.device) -> Hooks:
        return SearchHooks(self, net, device)


class SearchHooks(Hooks):
    def __init__(self, cfg: SearchConfig, net: nn.Module, device: torch.device) -> None:
        super().__init__(net)
        self.cfg = cfg
        self.teacher = make_teacher(cfg, device)  # before the average: the order in which the recorded runs drew
        self.average = None
        if cfg.ema:
            from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

            self.average = AveragedModel(net, multi_avg_fn=get_ema_multi_avg_fn(cfg.ema), use_buffers=True)

    @property
    def evaluated(self) -> nn.Module:
        return self.net if self.average is None else self.average.module

    def augments(self, epoch: int) -> bool:
        # The last epochs may see the images as the evaluation does: BatchNorm's running statistics, and the
        # last steps of the weights, then fit undistorted digits.
        return epoch <= self.cfg.epochs - self.cfg.clean

    def loss(self, out: torch.Tensor, y: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        cfg = self.cfg
        if cfg.label_smoothing:  # the model gives log-probabilities: cross_entropy's log_softmax keeps them
            loss = F.cross_entropy(out, y, label_smoothing=cfg.label_smoothing)
        else:
            loss = super().loss(out, y, x)
        if self.teacher is not None:
            loss = (1 - cfg.distill) * loss + cfg.distill * distillation_loss(
                out, self.teacher, x, cfg.distill_temperature
            )
        return loss

    def after_step(self) -> None:
        if self.average is not None:
            self.average.update_parameters(self.net)


def make_teacher(cfg: TrainConfig, device: torch.device) -> nn.Module | None:
    """The trained network that distillation learns from; it must have seen the same training images only."""
    if not cfg.teacher:
        return None
    path = REPO / cfg.teacher
    if not path.exists():
        raise ValueError(f"teacher {cfg.teacher}: no such results file")
    taught = load_result(path).config
    if (taught["eval_split"], taught.get("val_size"), taught["train_limit"]) != (
        cfg.eval_split,
        cfg.val_size,
        cfg.train_limit,
    ):
        raise ValueError(
            f"teacher {cfg.teacher} was trained on other images (eval_split {taught['eval_split']}, "
            f"train_limit {taught['train_limit']}) than this run (eval_split {cfg.eval_split}, "
            f"train_limit {cfg.train_limit})"
        )
    return load_run(path, device).requires_grad_(False)


def distillation_loss(
    student_log_probs: torch.Tensor, teacher: nn.Module, x: torch.Tensor, temperature: float
) -> torch.Tensor:
    """Hinton's soft-target loss: KL between the softened distributions, scaled by T^2 to keep its gradient size."""
    with torch.no_grad():
        soft_targets = F.log_softmax(teacher(x) / temperature, dim=1)
    # log_softmax of log-probabilities / T is the softened student: the shift by log-sum-exp cancels.
    student = F.log_softmax(student_log_probs / temperature, dim=1)
    return F.kl_div(student, soft_targets, log_target=True, reduction="batchmean") * temperature**2
