"""Tiny convolutional networks for MNIST, and the registry that names them.

Every network is registered under its class name, with the training recipe it was
designed for: ``get_model("Model_6")`` builds one, ``get_recipe("Model_6")`` gives
the hyperparameters it is trained with, ``list_models()`` names them all.

Session 7 is told as a sequence ``Model_1``, ``Model_2``, ...: each step states its whole network and recipe,
names the step it changes (``builds_on``; ``step_change`` says what changed), and its docstring states the Target.
Its details, Analysis and test-set record are in docs/steps.toml, their numbers filled from ``results/``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

_REGISTRY: dict[str, type[nn.Module]] = {}


def register_model(cls: type[nn.Module]) -> type[nn.Module]:
    """Class decorator: make ``cls`` buildable by name."""
    if cls.__name__ in _REGISTRY:
        raise ValueError(f"model {cls.__name__} is registered twice")
    _REGISTRY[cls.__name__] = cls
    return cls


def list_models(prefix: str = "") -> list[str]:
    """Registered model names, in order of definition."""
    return [name for name in _REGISTRY if name.startswith(prefix)]


def get_model(name: str) -> nn.Module:
    """Build a registered model; unknown names raise a ValueError that lists the known ones."""
    if name not in _REGISTRY:
        raise ValueError(f"unknown model {name!r}; known models: {', '.join(list_models())}")
    return _REGISTRY[name]()


def get_recipe(name: str) -> dict:
    """The training hyperparameters the model was designed with (TrainConfig overrides)."""
    get_model(name)  # same error for an unknown name
    return dict(_REGISTRY[name].recipe)


def get_target(name: str) -> str:
    """The first paragraph of the model's docstring: what this step set out to do."""
    get_model(name)
    doc = (_REGISTRY[name].__doc__ or "").strip()
    return " ".join(doc.split("\n\n")[0].split())


def step_change(name: str) -> str:
    """What a step changes from the step it builds on (``builds_on``), read off the two specs: e.g.
    ``"layers 6 12 M D t6 10 10 11 -> 8 s16 M D t8 s23 s23 s23 s23"``; empty for a step that builds on none."""
    get_model(name)
    cls = _REGISTRY[name]
    if not cls.builds_on:
        return ""
    base = _REGISTRY[cls.builds_on]
    changes = []
    if base.layers != cls.layers:
        changes.append(f"layers {' '.join(base.layers)} -> {' '.join(cls.layers)}")
    for field, label in (("bn", "BatchNorm"), ("dropout", "dropout"), ("act", "activation")):
        if getattr(base, field) != getattr(cls, field):
            changes.append(f"{label} {_said(getattr(base, field))} -> {_said(getattr(cls, field))}")
    for key in dict.fromkeys([*base.recipe, *cls.recipe]):
        old, new = base.recipe.get(key), cls.recipe.get(key)
        if old != new:
            changes.append(f"{key} {_said(old)} -> {_said(new)}")
    return ", ".join(changes)


def _said(value) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    return f"{value:g}" if isinstance(value, float) else str(value)


def count_parameters(model: nn.Module) -> int:
    """Trainable parameters, counted the way torchsummary counts them."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


# ---------------------------------------------------------------------------- blocks


# The nonlinearity after each convolution (tools/search_blocks.py adds the search's others)
ACTIVATIONS: dict[str, type[nn.Module]] = {"relu": nn.ReLU}


def activation(name: str) -> nn.Module:
    if name not in ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}; known: {', '.join(ACTIVATIONS)}")
    return ACTIVATIONS[name]()


def conv_block(
    cin: int,
    cout: int,
    kernel: int | tuple[int, int] = 3,
    padding: int = 1,
    *,
    bn: bool = True,
    dropout: float = 0.0,
    act: str | None = "relu",
) -> nn.Sequential:
    """Conv -> BatchNorm -> activation -> Dropout2d, each part optional (``act=None``: linear).

    The convolution has no bias when BatchNorm follows: BN's shift makes it redundant.
    Dropout2d drops whole channels; it regularizes conv features as well as per-element
    dropout and costs a fraction of the CPU time.
    """
    layers: list[nn.Module] = [nn.Conv2d(cin, cout, kernel, padding=padding, bias=not bn)]
    if bn:
        layers.append(nn.BatchNorm2d(cout))
    if act:
        layers.append(activation(act))
    if dropout > 0:
        layers.append(nn.Dropout2d(dropout))
    return nn.Sequential(*layers)


def separable_block(cin: int, cout: int, padding: int = 0, *, bn: bool = True, act: str = "relu") -> nn.Sequential:
    """Depthwise 3x3 (one filter per input channel) then a 1x1 mix -> BatchNorm -> activation.

    It costs 9*cin + cin*cout weights instead of 9*cin*cout: the search's cheaper convolution.
    No nonlinearity between the two halves, as in Xception.
    """
    layers: list[nn.Module] = [
        nn.Conv2d(cin, cin, 3, padding=padding, groups=cin, bias=False),
        nn.Conv2d(cin, cout, 1, bias=not bn),
    ]
    if bn:
        layers.append(nn.BatchNorm2d(cout))
    layers.append(activation(act))
    return nn.Sequential(*layers)


# ---------------------------------------------------------------------------- layer tokens


@dataclass
class Stack:
    """What a layer token's builder is given: the layers built so far, the channels they give, and the network's
    BatchNorm, activation and dropout rate. A builder returns its layer and the channels that layer gives."""

    layers: list[nn.Module]
    channels: int
    bn: bool
    act: str
    dropout: float


Builder = Callable[[Stack, int], tuple[nn.Module, int]]
# prefix -> (builder, whether the token ends in a channel count). The course's models use these five; the search's
# other tokens are added by tools/search_blocks.py through register_token.
TOKENS: dict[str, tuple[Builder, bool]] = {}


def register_token(prefix: str, *, channels: bool = True) -> Callable[[Builder], Builder]:
    """Decorator: ``prefix`` followed by a channel count (or alone, ``channels=False``) builds a layer."""

    def add(builder: Builder) -> Builder:
        TOKENS[prefix] = (builder, channels)
        return builder

    return add


@register_token("")
def _conv3x3(stack: Stack, cout: int) -> tuple[nn.Module, int]:
    return conv_block(stack.channels, cout, 3, padding=0, bn=stack.bn, act=stack.act), cout


@register_token("t")
def _transition(stack: Stack, cout: int) -> tuple[nn.Module, int]:
    return conv_block(stack.channels, cout, 1, padding=0, bn=stack.bn, act=stack.act), cout


@register_token("s")
def _separable(stack: Stack, cout: int) -> tuple[nn.Module, int]:
    return separable_block(stack.channels, cout, padding=0, bn=stack.bn, act=stack.act), cout


@register_token("M", channels=False)
def _max_pool(stack: Stack, _: int) -> tuple[nn.Module, int]:
    return nn.MaxPool2d(2), stack.channels


@register_token("D", channels=False)
def _dropout(stack: Stack, _: int) -> tuple[nn.Module, int]:
    return nn.Dropout2d(stack.dropout), stack.channels


def parse_token(token: str) -> tuple[Builder, int]:
    """``"s16"`` -> (the separable block's builder, 16); raises ValueError for a malformed or unknown token."""
    prefix = token.rstrip("0123456789")
    digits = token[len(prefix) :]
    builder, has_channels = TOKENS.get(prefix, (None, False))
    if builder is None or has_channels != bool(digits) or (digits and int(digits) <= 0):
        known = " / ".join(f"{p}<channels>" if c else p for p, (_, c) in TOKENS.items())
        raise ValueError(f"bad layer token {token!r}: use {known}")
    return builder, int(digits or 0)


def build_layers(layers: str | Sequence[str], dropout: float = 0.0, act: str = "relu") -> nn.Module:
    """A TinyNet of any stack, e.g. ``build_layers("8 16 M D t8 s16 s16", 0.05)``."""
    tokens = layers.split() if isinstance(layers, str) else list(layers)
    if not tokens:
        raise ValueError("empty layer specification")
    net = TinyNet(tokens, dropout, act)
    try:
        with torch.no_grad():
            net.eval()(torch.zeros(1, 1, 28, 28))
    except RuntimeError:
        raise ValueError(f"layers {' '.join(tokens)!r} shrink the 28x28 image to nothing") from None
    return net.train()


class TinyNet(nn.Module):
    """A stack of unpadded convolutions, global average pooling, and a 1x1 convolution to 10 classes.

    ``layers`` spells the stack: ``"16"`` is an unpadded 3x3 convolution to 16 channels, ``"s16"`` a
    depthwise-separable 3x3 convolution (``separable_block``), ``"t8"`` a 1x1 convolution to 8 channels (a
    transition that mixes channels cheaply after a pool), ``"M"`` a 2x2 max-pool, ``"D"`` a channel dropout
    (Dropout2d) with probability ``dropout``; each convolution with BatchNorm (``bn``) and the activation ``act``.
    Subclasses fix the layers, BatchNorm, dropout and activation, and ``recipe`` holds their training
    hyperparameters; ``TinyNet(layers, dropout, act)`` builds any other stack (the search's candidates, whose other
    tokens tools/search_blocks.py adds).
    """

    layers: tuple[str, ...] = ()
    bn: bool = True
    dropout: float = 0.0
    act: str = "relu"
    recipe: dict = {}
    builds_on: str = ""  # a registered model: the step this one changes (step_change says what changed)

    def __init__(
        self, layers: Sequence[str] | None = None, dropout: float | None = None, act: str | None = None
    ) -> None:
        super().__init__()
        act = self.act if act is None else act
        activation(act)  # an unknown name fails here, before any layer is built
        stack = Stack([], 1, self.bn, act, self.dropout if dropout is None else dropout)
        for token in self.layers if layers is None else tuple(layers):
            builder, channels = parse_token(token)
            layer, stack.channels = builder(stack, channels)
            stack.layers.append(layer)
        self.features = nn.Sequential(*stack.layers)
        self.gap = nn.AdaptiveAvgPool2d(1)
        self.head = nn.Conv2d(stack.channels, 10, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.gap(self.features(x))
        return F.log_softmax(self.head(x).flatten(1), dim=1)


# Training recipes: TrainConfig fields, each a whole recipe (a field left out takes TrainConfig's default). Plain
# SGD at a constant rate is the course's starting point; the later steps add augmentation, then a one-cycle schedule.
CONSTANT_RATE = dict(
    optimizer="sgd",
    lr=0.02,
    momentum=0.9,
    nesterov=False,
    schedule="constant",
    hold=0,
    rotate=0.0,
    scale=0.0,
    translate=0.0,
    bn_batches=0,
)
AUGMENTED = dict(CONSTANT_RATE, rotate=10.0, scale=0.1, translate=2.0)
ONE_CYCLE = dict(AUGMENTED, schedule="onecycle", lr=0.1, nesterov=True)


# ---------------------------------------------------------------------- Session 7
# Each step states its whole network and recipe; ``builds_on`` names the step it changes, and the README and the
# notebooks print what changed (``step_change``). Each step's details, Analysis and test-set record are in
# docs/steps.toml.


@register_model
class Model_1(TinyNet):
    """Skeleton: a network of the final shape that learns, with no BatchNorm, no dropout,
    no augmentation and a constant learning rate."""

    layers = ("12", "24", "M", "t12", "24", "24", "24")
    bn, dropout, act = False, 0.0, "relu"
    recipe = CONSTANT_RATE


@register_model
class Model_2(TinyNet):
    """Lighter: the same shape with 8 to 16 channels, under the 8,000-parameter budget."""

    builds_on = "Model_1"
    layers = ("8", "16", "M", "t8", "16", "16", "16")
    bn, dropout, act = False, 0.0, "relu"
    recipe = CONSTANT_RATE


@register_model
class Model_3(TinyNet):
    """BatchNorm after every convolution, to train the light network faster and further."""

    builds_on = "Model_2"
    layers = ("8", "16", "M", "t8", "16", "16", "16")
    bn, dropout, act = True, 0.0, "relu"
    recipe = CONSTANT_RATE


@register_model
class Model_4(TinyNet):
    """Regularization: one channel dropout (Dropout2d, p=0.05) after the max-pool."""

    builds_on = "Model_3"
    layers = ("8", "16", "M", "D", "t8", "16", "16", "16")
    bn, dropout, act = True, 0.05, "relu"
    recipe = CONSTANT_RATE


@register_model
class Model_5(TinyNet):
    """Augmentation: random rotation (+-10 deg), scale (+-10%) and shift (+-2 px) of every
    training batch, to show the network the variations of handwriting it meets in the test set."""

    builds_on = "Model_4"
    layers = ("8", "16", "M", "D", "t8", "16", "16", "16")
    bn, dropout, act = True, 0.05, "relu"
    recipe = AUGMENTED


@register_model
class Model_6(TinyNet):
    """One-cycle learning rate: ramp up to a high rate, then anneal to nearly zero by the
    last epoch, so that the final epochs are stable and at their best."""

    builds_on = "Model_5"
    layers = ("8", "16", "M", "D", "t8", "16", "16", "16")
    bn, dropout, act = True, 0.05, "relu"
    recipe = ONE_CYCLE


@register_model
class Model_7(TinyNet):
    """At most 3,500 parameters: 6 to 12 channels and the same recipe, to find how far below
    the course's budget the 99.4% bar holds."""

    builds_on = "Model_6"
    layers = ("6", "12", "M", "D", "t6", "10", "10", "11")
    bn, dropout, act = True, 0.05, "relu"
    recipe = ONE_CYCLE


@register_model
class Model_8(TinyNet):
    """Between the two: 8 to 16 channels before the pool as in Model_6, 12 to 14 after it, the
    same recipe, to map where between 3,500 and 7,500 parameters the 99.4% bar stops holding."""

    builds_on = "Model_6"
    layers = ("8", "16", "M", "D", "t8", "12", "14", "14")
    bn, dropout, act = True, 0.05, "relu"
    recipe = ONE_CYCLE


@register_model
class Model_9(TinyNet):
    """Hold the floor: Model_7 with its one-cycle schedule run over the first 13 epochs and the final rate
    held for the last 2, so that each of the last 3 epochs evaluates a network whose rate has finished
    annealing."""

    builds_on = "Model_7"
    layers = ("6", "12", "M", "D", "t6", "10", "10", "11")
    bn, dropout, act = True, 0.05, "relu"
    recipe = dict(ONE_CYCLE, hold=2)


@register_model
class Model_10(TinyNet):
    """Every seed: Model_6 with Model_9's schedule (one-cycle over the first 13 epochs, the final rate held
    for the last 2), to find whether the course's 7,442-parameter network holds the bar on all 5 seeds."""

    builds_on = "Model_6"
    layers = ("8", "16", "M", "D", "t8", "16", "16", "16")
    bn, dropout, act = True, 0.05, "relu"
    recipe = dict(ONE_CYCLE, hold=2)


@register_model
class Model_11(TinyNet):
    """Fewer channels before the pool: Model_10 with Model_9's layers before it (6 and 12 channels, a 1x1
    transition to 6) and its own three 16-channel layers after it, to find whether the bar holds on every seed
    with 12% fewer parameters."""

    builds_on = "Model_10"
    layers = ("6", "12", "M", "D", "t6", "16", "16", "16")
    bn, dropout, act = True, 0.05, "relu"
    recipe = dict(ONE_CYCLE, hold=2)


@register_model
class Model_12(TinyNet):
    """Cheaper convolutions, more channels: Model_9's recipe on depthwise-separable 3x3 convolutions (a 3x3
    filter per channel, then a 1x1 mix) in every 3x3 layer but the first, 16 channels before the pool and four
    layers of 23 after it, where Model_9's full convolutions afford 10-12, in 3,352 parameters."""

    builds_on = "Model_9"
    layers = ("8", "s16", "M", "D", "t8", "s23", "s23", "s23", "s23")
    bn, dropout, act = True, 0.05, "relu"
    recipe = dict(ONE_CYCLE, hold=2)


@register_model
class Model_13(TinyNet):
    """Less dropout: Model_12 with channel dropout at 0.02 instead of 0.05, to find whether the 3,352-parameter
    stack holds the bar on every seed with less regularization."""

    builds_on = "Model_12"
    layers = ("8", "s16", "M", "D", "t8", "s23", "s23", "s23", "s23")
    bn, dropout, act = True, 0.02, "relu"
    recipe = dict(ONE_CYCLE, hold=2)


@register_model
class Model_14(TinyNet):
    """Steadier evaluation: Model_12 with BatchNorm's running statistics re-estimated before each evaluation, as the
    plain mean over 300 batches of un-augmented training images, to find whether the 3,352-parameter network holds
    the bar on every seed when its last epochs no longer move with the last training batches' statistics."""

    builds_on = "Model_12"
    layers = ("8", "s16", "M", "D", "t8", "s23", "s23", "s23", "s23")
    bn, dropout, act = True, 0.05, "relu"
    recipe = dict(ONE_CYCLE, hold=2, bn_batches=300)


@register_model
class Model_15(TinyNet):
    """Room to spare: Model_14's shape and recipe with the course's budget spent on width, 12 and 24 channels before
    the pool and four separable layers of 39 after it, in 7,792 parameters, to find a Session 7 model whose every seed
    clears the bar with a margin."""

    builds_on = "Model_14"
    layers = ("12", "s24", "M", "D", "t12", "s39", "s39", "s39", "s39")
    bn, dropout, act = True, 0.05, "relu"
    recipe = dict(ONE_CYCLE, hold=2, bn_batches=300)


@register_model
class Model_16(TinyNet):
    """The fewest parameters on every seed: Model_15's shape and recipe narrowed to 10 and 20 channels before the pool
    and four separable layers of 29 after it, in 4,878 parameters, to find whether a network of at most 5,000
    parameters holds the bar on every seed with the mean floor the robust target asks for."""

    builds_on = "Model_15"
    layers = ("10", "s20", "M", "D", "t10", "s29", "s29", "s29", "s29")
    bn, dropout, act = True, 0.05, "relu"
    recipe = dict(ONE_CYCLE, hold=2, bn_batches=300)


# ---------------------------------------------------------------------- Session 6


@register_model
class S6_Model(TinyNet):
    """Session 6: under 20,000 parameters with BatchNorm, Dropout and global average pooling,
    at 99.5% in each of the last 3 of 15 epochs."""

    builds_on = "Model_6"
    layers = ("12", "24", "M", "D", "t12", "24", "24", "24")
    bn, dropout, act = True, 0.05, "relu"
    recipe = ONE_CYCLE


# The models that the notebooks name as final, that CI checks and trains in full, and the README reports.
S7_FINAL = "Model_15"  # Session 7: fewer than 8,000 parameters
S7_SMALLEST = "Model_14"  # our bar: at most 3,500 parameters
S7_ROBUST = "Model_16"  # our bar on every seed (utils.course.S7_ROBUST): the fewest parameters, every seed holding
S6_FINAL = "S6_Model"  # Session 6: fewer than 20,000 parameters


def s7_models() -> list[str]:
    """The Session 7 steps, in order."""
    return list_models("Model_")
