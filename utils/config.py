"""What defines a run and what a run produced: ``TrainConfig``, ``EpochRecord`` and ``Result``. The training loop,
the results files and the report all speak in these, so they sit below every other module of ``utils``."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import torch
import torch.nn as nn
import torch.nn.functional as F


def option(default, help: str):
    """A TrainConfig field that overrides a model's recipe, offered by train.py as ``--<name>`` with this help."""
    return field(default=default, metadata={"help": help})


@dataclass(frozen=True)
class TrainConfig:
    """Everything that defines a run. ``utils.config_for(name)`` starts from the model's recipe; the fields made
    with ``option`` are train.py's options, their help text written here only."""

    model: str = "Model_6"
    epochs: int = option(15, "number of epochs")
    batch_size: int = option(128, "training batch size")
    optimizer: str = option("sgd", "the optimizer, sgd or adam")
    lr: float = option(0.02, "learning rate (the constant rate, or the peak rate of the one-cycle schedule)")
    momentum: float = option(0.9, "SGD momentum")
    nesterov: bool = False
    weight_decay: float = option(0.0, "L2 weight decay")
    schedule: str = option("constant", "the learning-rate schedule, constant or onecycle")
    warmup: float = option(0.25, "one-cycle: fraction of the steps spent ramping up")
    hold: int = option(0, "one-cycle: the last HOLD epochs stay at the final rate; the cycle spans the epochs before")
    rotate: float = option(0.0, "augmentation: maximum rotation in degrees")
    scale: float = option(0.0, "augmentation: maximum scale change, as a fraction")
    translate: float = option(0.0, "augmentation: maximum shift in pixels")
    seed: int = 1
    eval_split: str = option(
        "test",
        "test: train on all 60k images and evaluate the test set; "
        "val: train on 50k and evaluate 10k held out of the training images",
    )
    val_size: int = 10000
    train_limit: int = option(0, "train on this many images only (0: all)")
    eval_limit: int = option(0, "evaluate this many images only (0: all)")
    tag: str = option("", "suffix of the results file name, for runs with other hyperparameters")
    layers: str = option(
        "", 'train this stack instead of the model\'s own, e.g. "8 12 M D t8 s16 s16 s16" (tokens: see model.TinyNet)'
    )
    dropout: float = option(-1.0, "with --layers: the Dropout2d rate of its D tokens (-1: the model's own)")
    activation: str = option("", "with --layers: the activation of its convolutions (relu; tools.search adds silu)")
    bn_batches: int = option(
        0,
        "before each evaluation, BatchNorm's running statistics from this many batches of un-augmented training "
        "images (0: off)",
    )

    @classmethod
    def field_names(cls) -> set[str]:
        return {f.name for f in dataclasses.fields(cls)}

    def validate(self) -> None:
        for name in ("epochs", "batch_size"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        if self.lr <= 0:
            raise ValueError(f"lr must be positive, got {self.lr}")
        if self.optimizer not in ("sgd", "adam"):
            raise ValueError(f"optimizer must be sgd or adam, got {self.optimizer!r}")
        if self.schedule not in ("constant", "onecycle"):
            raise ValueError(f"schedule must be constant or onecycle, got {self.schedule!r}")
        if not 0 <= self.hold < self.epochs or (self.hold and self.schedule != "onecycle"):
            raise ValueError(f"hold must be in [0, epochs) and needs the one-cycle schedule, got {self.hold}")
        if self.eval_split not in ("test", "val"):
            raise ValueError(f"eval_split must be test or val, got {self.eval_split!r}")
        if self.train_limit < 0 or self.eval_limit < 0:
            raise ValueError("train_limit and eval_limit must be >= 0")
        if self.bn_batches < 0:
            raise ValueError(f"bn_batches must be >= 0, got {self.bn_batches}")
        if self.activation and not self.layers:
            raise ValueError("activation changes a stack given in layers; a registered model has its own")

    def hooks(self, net: nn.Module, device: torch.device) -> Hooks:
        """The training loop's hooks for a run of ``net``: these change nothing (tools/search_training.py's
        SearchConfig returns its own)."""
        return Hooks(net)

    @property
    def images(self) -> dict:
        """The fields that choose the images a run trains on and is evaluated on: utils.data.make_split's."""
        return {k: getattr(self, k) for k in ("eval_split", "val_size", "train_limit", "eval_limit")}

    @property
    def run_name(self) -> str:
        return run_name(self.model, self.seed, self.tag)

    @classmethod
    def options(cls) -> dict[str, tuple[type, str]]:
        """name -> (type, help) of the fields that train.py offers as options."""
        kinds = {"int": int, "float": float, "str": str}
        return {f.name: (kinds[f.type], f.metadata["help"]) for f in dataclasses.fields(cls) if "help" in f.metadata}


class Hooks:
    """The points where a configuration may change the one training loop, as these leave it: the search's
    features that no registered model uses (EMA, distillation, label smoothing, clean last epochs) live in
    tools/search_training.py and plug in here."""

    def __init__(self, net: nn.Module) -> None:
        self.net = net

    @property
    def evaluated(self) -> nn.Module:
        """The network evaluated after each epoch and saved at the end: the one trained."""
        return self.net

    def augments(self, epoch: int) -> bool:
        """Whether the batches of this epoch are distorted (when the recipe distorts any)."""
        return True

    def loss(self, out: torch.Tensor, y: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """The training loss of a batch ``x`` with labels ``y``; the model gives log-probabilities ``out``."""
        return F.nll_loss(out, y)

    def after_step(self) -> None:
        """Called after each optimizer step."""


def run_name(model: str, seed: int, tag: str = "") -> str:
    """The name of a run, and of its files: ``Model_7-grid-m7+hold2-seed3`` (.json, .safetensors)."""
    return f"{model}{'-' + tag if tag else ''}-seed{seed}"


@dataclass
class EpochRecord:
    epoch: int
    lr: float  # at the end of the epoch
    train_loss: float
    train_acc: float
    eval_loss: float
    eval_acc: float
    seconds: float


@dataclass
class Result:
    """What a run produced; saved as JSON and read back by the report."""

    name: str
    model: str
    params: int
    config: dict
    eval_split: str
    history: list[EpochRecord]
    per_class_accuracy: list[float]
    confusion_matrix: list[list[int]]
    misclassified: list[list[int]]  # [index in the evaluated set, true label, predicted label]
    lr_trace: list[float]  # per step, for the schedule plot
    wall_time_s: float
    environment: dict = field(default_factory=dict)

    def accuracies(self) -> list[float]:
        return [r.eval_acc for r in self.history]

    def last(self, n: int = 3) -> list[float]:
        return self.accuracies()[-n:]
