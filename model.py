"""Tiny convolutional networks for MNIST, and the registry that names them.

Every network is registered under its class name, with the training recipe it was
designed for: ``get_model("Model_6")`` builds one, ``get_recipe("Model_6")`` gives
the hyperparameters it is trained with, ``list_models()`` names them all.

Session 7 is told as a sequence ``Model_1``, ``Model_2``, ...: each step changes one
thing (architecture or recipe), or says what it changes, and its docstring states the Target. The Results and
Analysis of each step are generated from ``results/`` into the README.
"""

from __future__ import annotations

from collections.abc import Sequence
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


def get_details(name: str) -> str:
    """The rest of the model's docstring after the Target, as one paragraph."""
    get_model(name)
    paragraphs = (_REGISTRY[name].__doc__ or "").strip().split("\n\n")[1:]
    return " ".join(" ".join(p.split()) for p in paragraphs)


def get_analysis(name: str) -> str:
    """What the step's results showed (its ``analysis``), as one paragraph."""
    get_model(name)
    return " ".join(getattr(_REGISTRY[name], "analysis", "").split())


@dataclass(frozen=True)
class TestRecord:
    evidence: str  # the validation runs that sent the model to the test set (a tag of results/val)
    beats: str  # the model whose validation floor it had to beat
    test_informed: str  # the test results that informed its choice
    evidence_seeds: tuple[int, ...] = ()  # the validation seeds on record when it went to the test set (all: ())


def get_test_record(name: str) -> TestRecord:
    """The model's own entry in the test-set record; a step does not inherit its parent's."""
    get_model(name)
    own = vars(_REGISTRY[name])
    return TestRecord(
        own.get("evidence", ""), own.get("beats", ""), own.get("test_informed", ""), own.get("evidence_seeds", ())
    )


def count_parameters(model: nn.Module) -> int:
    """Trainable parameters, counted the way torchsummary counts them."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


# ---------------------------------------------------------------------------- blocks


# The nonlinearity after each convolution: ReLU, or SiLU (smooth, no dead channels in layers of a few channels).
ACTIVATIONS: dict[str, type[nn.Module]] = {"relu": nn.ReLU, "silu": nn.SiLU}


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


class ChannelShuffle(nn.Module):
    """Interleave the channels of ``groups`` groups (ShuffleNet, Zhang et al., 2018), so that the next grouped
    convolution mixes what the two halves of this one computed. No parameters."""

    def __init__(self, groups: int) -> None:
        super().__init__()
        self.groups = groups

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        return x.view(n, self.groups, c // self.groups, h, w).transpose(1, 2).reshape(n, c, h, w)


def grouped_block(cin: int, cout: int, *, bn: bool = True, act: str = "relu", groups: int = 2) -> nn.Sequential:
    """A 3x3 convolution in ``groups`` groups -> BatchNorm -> activation -> channel shuffle.

    Each output channel sees a 1/groups share of the inputs: 9*cin*cout/groups weights, half a full
    convolution's at two groups, with every channel still mixed across the stack by the shuffle; between the
    full convolution and the depthwise-separable one.
    """
    if cin % groups or cout % groups:
        raise ValueError(f"a grouped convolution needs channels divisible by {groups}, not {cin} -> {cout}")
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, groups=groups, bias=not bn),
        *([nn.BatchNorm2d(cout)] if bn else []),
        activation(act),
        ChannelShuffle(groups),
    )


def factorized_block(cin: int, cout: int, *, bn: bool = True, act: str = "relu") -> nn.Sequential:
    """A 3x3 convolution in two: 3x1 then 1x3, each with BatchNorm and activation (Inception-v3's factorization).

    It costs 3*cin*cout + 3*cout*cout weights instead of 9*cin*cout (a third less between equal widths) and
    keeps the mixing of channels in both halves, which the depthwise half of a separable block gives up.
    """
    return nn.Sequential(
        *conv_block(cin, cout, (3, 1), padding=0, bn=bn, act=act),
        *conv_block(cout, cout, (1, 3), padding=0, bn=bn, act=act),
    )


class Residual(nn.Module):
    """A padded 3x3 convolution whose output is added to its input, then the activation (He et al., 2016).

    The map keeps its size and its channels, so the block adds depth (the receptive field of one more 3x3
    convolution) without shrinking the map that global average pooling sees, and the identity path carries the
    gradient past it.
    The receptive-field table follows the convolution: the widest path through the block.
    """

    def __init__(self, channels: int, *, bn: bool = True, act: str = "relu") -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1, bias=not bn)
        self.norm = nn.BatchNorm2d(channels) if bn else nn.Identity()
        self.act = activation(act)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(x + self.norm(self.conv(x)))


class SharedConv(nn.Module):
    """An earlier 3x3 convolution applied again, with its own BatchNorm and activation: depth without weights.

    The small stacks here underfit their augmented training batches (train accuracy below validation), so
    another pass of the same filters buys computation, not parameters. The convolution is held outside the
    module tree: its weights are counted, saved and moved once, with the layer that owns them.
    """

    def __init__(self, conv: nn.Conv2d, *, bn: bool = True, act: str = "relu") -> None:
        super().__init__()
        if conv.in_channels != conv.out_channels:
            raise ValueError(
                f"R repeats a convolution of as many channels in as out, not {conv.in_channels} -> {conv.out_channels}"
            )
        self.shared = (conv,)  # a tuple: not a submodule, so its weights are not registered twice
        self.norm = nn.BatchNorm2d(conv.out_channels) if bn else nn.Identity()
        self.act = activation(act)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.norm(self.shared[0](x)))


class SqueezeExcite(nn.Module):
    """Channel attention (Hu et al., 2018): each channel scaled by a gate computed from the averages of all.

    A few dozen parameters (two small linear layers through ``max(2, channels // 4)``) let a layer turn its
    channels up or down per image, which its fixed weights cannot. Linear layers on the channel means, not 1x1
    convolutions: the gate is not a spatial layer, and the receptive-field table leaves it out.
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        hidden = max(2, channels // 4)
        self.squeeze = nn.Linear(channels, hidden)
        self.excite = nn.Linear(hidden, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gate = torch.sigmoid(self.excite(F.relu(self.squeeze(x.mean((2, 3))))))
        return x * gate[:, :, None, None]


class AddCoords(nn.Module):
    """Two channels more: each pixel's column and row, from -1 to 1 (CoordConv, Liu et al., 2018). No parameters.

    Global average pooling forgets where a feature was; MNIST's digits are centred, so where a stroke lies in the
    image says where it lies in the digit. With the coordinates as inputs, a layer can make features that depend on it.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, _, h, w = x.shape
        rows = torch.linspace(-1, 1, h, device=x.device, dtype=x.dtype).view(1, 1, h, 1).expand(n, 1, h, w)
        cols = torch.linspace(-1, 1, w, device=x.device, dtype=x.dtype).view(1, 1, 1, w).expand(n, 1, h, w)
        return torch.cat([x, cols, rows], 1)


@dataclass(frozen=True)
class ConvKind:
    padded: bool
    separable: bool
    transition: bool
    linear: bool = False  # no activation after the BatchNorm
    factorized: bool = False  # 3x1 then 1x3
    grouped: bool = False  # two groups, then a channel shuffle
    kernel: int = 3  # 5: a 5x5 convolution ("k")
    residual: bool = False  # padded 3x3 plus its input ("b")


def parse_conv_token(token: str) -> tuple[ConvKind, int]:
    """``"ps16"`` -> (padded separable 3x3, 16 channels); raises ValueError for a malformed token."""
    prefix = token.rstrip("0123456789")
    digits = token[len(prefix) :]
    if not digits or int(digits) <= 0 or prefix not in ("", "p", "s", "ps", "t", "l", "f", "g", "k", "b"):
        raise ValueError(
            f"bad layer token {token!r}: use M, D, C, R, S, "
            "or [p][s]<channels> / t<channels> / l<channels> / f<channels> / g<channels> / k<channels> / b<channels>"
        )
    kind = ConvKind(
        padded="p" in prefix,
        separable="s" in prefix,
        transition=prefix in ("t", "l"),
        linear=prefix == "l",
        factorized=prefix == "f",
        grouped=prefix == "g",
        kernel=5 if prefix == "k" else 3,
        residual=prefix == "b",  # padded by its own definition
    )
    return kind, int(digits)


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

    ``layers`` spells the stack: ``"16"`` is an unpadded 3x3 convolution to 16 channels, ``"p16"``
    the same padded (the map keeps its size), ``"s16"`` a depthwise-separable 3x3 convolution
    (``"ps16"`` padded), ``"t8"`` a 1x1 convolution to 8 channels (a transition that mixes
    channels cheaply after a pool), ``"l8"`` the same without activation (a linear bottleneck, as in
    MobileNetV2: a nonlinearity on so few channels discards information), ``"f16"`` an unpadded 3x3
    convolution factorized into 3x1 and 1x3 (``factorized_block``), ``"g16"`` an unpadded 3x3
    convolution in two groups with a channel shuffle (``grouped_block``), ``"k16"`` an unpadded 5x5
    convolution, ``"b16"`` a padded 3x3 convolution added to its input (``Residual``), ``"R"`` the previous full 3x3
    convolution again with the same weights (``SharedConv``), ``"S"`` a squeeze-and-excitation gate on the
    channels (``SqueezeExcite``), ``"C"`` two coordinate channels
    (``AddCoords``) for the next layer, ``"M"`` a 2x2 max-pool,
    ``"D"`` a channel dropout (Dropout2d) with probability ``dropout``. ``act`` names the activation
    of the other layers. Subclasses fix the layers, BatchNorm, dropout and activation, and
    ``recipe`` holds their training hyperparameters; ``TinyNet(layers, dropout, act)`` builds any
    other stack (the search's candidates).
    """

    layers: tuple[str, ...] = ()
    bn: bool = True
    dropout: float = 0.0
    act: str = "relu"
    recipe: dict = {}
    analysis: str = ""  # what the step's results showed, for the README and the notebook
    # The test-set record (the README's ledger): the validation runs that sent the model to the test set (a tag of
    # results/val, "grid-<point>"), the model whose validation floor it had to beat, and, said plainly, the test
    # results that informed its choice.
    evidence: str = ""
    beats: str = ""
    test_informed: str = ""
    evidence_seeds: tuple[int, ...] = ()

    def __init__(
        self, layers: Sequence[str] | None = None, dropout: float | None = None, act: str | None = None
    ) -> None:
        super().__init__()
        layers = self.layers if layers is None else tuple(layers)
        dropout = self.dropout if dropout is None else dropout
        act = self.act if act is None else act
        stack: list[nn.Module] = []
        cin = 1
        last_square: nn.Conv2d | None = None  # the convolution that an "R" repeats
        for token in layers:
            if token == "M":
                stack.append(nn.MaxPool2d(2))
                continue
            if token == "D":
                stack.append(nn.Dropout2d(dropout))
                continue
            if token == "C":
                stack.append(AddCoords())
                cin += 2
                last_square = None  # its input is two channels wider than the convolution before it took
                continue
            if token == "S":
                stack.append(SqueezeExcite(cin))
                continue
            if token == "R":
                if last_square is None:
                    raise ValueError("bad layer token 'R': it repeats a full 3x3 convolution, and none comes before it")
                stack.append(SharedConv(last_square, bn=self.bn, act=act))
                continue
            kind, cout = parse_conv_token(token)
            if kind.separable:
                stack.append(separable_block(cin, cout, padding=int(kind.padded), bn=self.bn, act=act))
            elif kind.factorized:
                stack.append(factorized_block(cin, cout, bn=self.bn, act=act))
            elif kind.grouped:
                stack.append(grouped_block(cin, cout, bn=self.bn, act=act))
            elif kind.residual:
                if cin != cout:
                    raise ValueError(f"b{cout} adds its input to its output, so it needs {cout} channels in, not {cin}")
                stack.append(Residual(cout, bn=self.bn, act=act))
            else:
                kernel = 1 if kind.transition else kind.kernel
                layer_act = None if kind.linear else act
                stack.append(conv_block(cin, cout, kernel, padding=int(kind.padded), bn=self.bn, act=layer_act))
            plain = not (kind.separable or kind.factorized or kind.grouped or kind.transition or kind.residual)
            full_3x3 = plain and kind.kernel == 3
            last_square = stack[-1][0] if full_3x3 else None
            cin = cout
        self.features = nn.Sequential(*stack)
        self.gap = nn.AdaptiveAvgPool2d(1)
        self.head = nn.Conv2d(cin, 10, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.gap(self.features(x))
        return F.log_softmax(self.head(x).flatten(1), dim=1)


# Training recipes. Plain SGD with a constant rate is the course's starting point; the
# later steps add augmentation and a one-cycle schedule. Keys are TrainConfig fields.
_CONSTANT_LR = dict(optimizer="sgd", lr=0.02, momentum=0.9, schedule="constant", rotate=0.0, scale=0.0, translate=0.0)
_AUGMENT = dict(rotate=10.0, scale=0.1, translate=2.0)
_ONE_CYCLE = dict(schedule="onecycle", lr=0.1, nesterov=True, weight_decay=0.0)


# ---------------------------------------------------------------------- Session 7


@register_model
class Model_1(TinyNet):
    """Skeleton: a network of the final shape that learns, with no BatchNorm, no dropout,
    no augmentation and a constant learning rate.

    Two 3x3 convolutions at full resolution (28 -> 24 pixels), a max-pool at a receptive field
    of 6 pixels, where MNIST's strokes and edges are visible, a 1x1 transition, three more 3x3
    convolutions (12 -> 6 pixels, receptive field 18), global average pooling and a 1x1
    convolution to 10 classes. Channels are generous (12 to 24): does the shape learn at all?
    """

    layers = ("12", "24", "M", "t12", "24", "24", "24")
    bn = False
    recipe = dict(_CONSTANT_LR)
    analysis = (
        "The shape learns, slowly: the running training accuracy of the first epoch is 23%, and the test "
        "accuracy climbs for eight epochs (80.5% to 98.7%), then wobbles between 98.5% and 98.9% at the "
        "constant rate. The final training accuracy is 0.2 points above the test accuracy, so the network "
        "is hardly overfitting: it learns slowly. Next: cut it to the budget first, to see what the cut "
        "costs, then make it train faster."
    )


@register_model
class Model_2(Model_1):
    """Lighter: the same shape with 8 to 16 channels, under the 8,000-parameter budget.

    How much accuracy does the cut cost before anything else is added?
    """

    layers = ("8", "16", "M", "t8", "16", "16", "16")
    analysis = (
        "Less than half the parameters cost a few tenths of a percent and an even slower start; train "
        "and test accuracy still move together. A light network, trained badly: the next step is "
        "BatchNorm, not more channels."
    )


@register_model
class Model_3(Model_2):
    """BatchNorm after every convolution, to train the light network faster and further.

    Without BatchNorm the thin stack trains slowly at a safe learning rate; with it the same
    rate gives a well-conditioned problem from the first epoch.
    """

    bn = True
    analysis = (
        "The largest single step of the sequence: the first epoch ends near 98% on the test set, and by "
        "the third the test accuracy passes the best Model_2 reached in fifteen. Train accuracy now runs "
        "ahead of test accuracy in the later epochs, "
        "and at the constant rate the test accuracy swings from epoch to epoch. Next: regularize."
    )


@register_model
class Model_4(Model_3):
    """Regularization: one channel dropout (Dropout2d, p=0.05) after the max-pool.

    The BatchNorm model fits the training images better than the test images; dropout should
    narrow that gap. One layer, where the features are pooled, keeps the regularization light
    for so thin a network.
    """

    layers = ("8", "16", "M", "D", "t8", "16", "16", "16")
    dropout = 0.05
    analysis = (
        "One channel dropout narrows the train-test gap a little and leaves the accuracy about where it "
        "was: a network this small has little to overfit. What it lacks is variety in its inputs and a "
        "rate that settles. Next: augmentation."
    )


@register_model
class Model_5(Model_4):
    """Augmentation: random rotation (+-10 deg), scale (+-10%) and shift (+-2 px) of every
    training batch, to show the network the variations of handwriting it meets in the test set.
    """

    recipe = dict(_CONSTANT_LR, **_AUGMENT)
    analysis = (
        "With augmentation the training accuracy (on augmented batches, dropout on) falls below the test "
        "accuracy: training got harder, testing did not. At a constant rate the test accuracy still swings "
        "by more than a tenth of a percent from epoch to epoch (best 99.33%, at epoch 13 of 15), short of "
        "the bar. Next: a schedule that anneals the "
        "rate, so that the last epochs are the steadiest."
    )


@register_model
class Model_6(Model_5):
    """One-cycle learning rate: ramp up to a high rate, then anneal to nearly zero by the
    last epoch, so that the final epochs are stable and at their best.

    This step changes the schedule as a whole, three settings at once: constant rate -> one-cycle,
    the rate 0.02 -> a peak of 0.1, and Nesterov momentum; the architecture is Model_5's.
    """

    recipe = dict(_CONSTANT_LR, **_AUGMENT, **_ONE_CYCLE)
    analysis = (
        "The one-cycle schedule makes the last epochs the best and the steadiest. On seed 1 each of the last 3 "
        "epochs is at 99.44% or more, and training accuracy stays below test accuracy, so the margin is not bought "
        "by overfitting. Over 5 seeds the bar holds on 4: seed 4 dips to 99.34% at epoch 13, with the rate still "
        "annealing. The next steps ask how many of its parameters the bar needs, and Model_10 whether a schedule "
        "that has finished annealing holds it on every seed."
    )


@register_model
class Model_7(Model_6):
    """At most 3,500 parameters: 6 to 12 channels and the same recipe, to find how far below
    the course's budget the 99.4% bar holds.
    """

    layers = ("6", "12", "M", "D", "t6", "10", "10", "11")
    test_informed = (
        "Its size was set by hand at our bar of 3,500 parameters, not by a validation run; the search then took it as "
        "its calibration point."
    )
    analysis = (
        "Below 3,500 parameters the same recipe falls short of the bar on every seed, by 0.08 to 0.18 points at the "
        "lowest of the last 3 epochs. The search on the validation split (tools/search.py) then tried the other "
        "stacks of its list, of 2,082 to 3,498 parameters, and the recipe's ideas one at a time on this stack. Of "
        "the runs that went the full 15 epochs, only those that hold the final rate for the last 2 epochs ended "
        "above this stack with this recipe. That is the next step."
    )


@register_model
class Model_8(Model_6):
    """Between the two: 8 to 16 channels before the pool as in Model_6, 12 to 14 after it, the
    same recipe, to map where between 3,500 and 7,500 parameters the 99.4% bar stops holding.
    """

    layers = ("8", "16", "M", "D", "t8", "12", "14", "14")
    analysis = (
        "At 5,786 parameters the bar holds on two seeds of three; on the third one of the last 3 "
        "epochs dips below 99.4%."
    )


@register_model
class Model_9(Model_7):
    """Hold the floor: Model_7 with its one-cycle schedule run over the first 13 epochs and the final rate
    held for the last 2, so that each of the last 3 epochs evaluates a network whose rate has finished
    annealing.

    On the test set the epochs that missed the bar so far were the 13th of 15, with the rate still
    annealing (Model_6 seed 4, Model_8 seed 3). One change, the schedule: on the validation split it
    raised Model_7's stack on both seeds tried (tools/search.py grid and seeds; "What was learned").
    """

    recipe = dict(Model_7.recipe, hold=2)
    evidence = "grid-m7+hold2"
    evidence_seeds = (1, 2)  # seeds 3-5 of the grid point were run a week after its test runs
    test_informed = (
        "The held rate answered test-set misses: the epochs below the bar so far were the 13th of 15, with the rate "
        "still annealing (Model_6 seed 4, Model_8 seed 3)."
    )
    analysis = (
        "Holding the final rate lifts the smallest stack on the test set as well. Over 5 seeds the mean of the last "
        "3 epochs is 0.04 points above Model_7's, and 2 of the 5 seeds hold each of their last 3 epochs at 99.4% or "
        "more, where Model_7 held none. The other 3 seeds stay up to 0.14 points short. Even at the held rate, seed "
        "5 moves by a tenth from one epoch to the next: at 3,434 parameters the bar depends on the seed, not on the "
        "model."
    )


@register_model
class Model_10(Model_6):
    """Every seed: Model_6 with Model_9's schedule (one-cycle over the first 13 epochs, the final rate held
    for the last 2), to find whether the course's 7,442-parameter network holds the bar on all 5 seeds.

    Model_6 held it on 4 seeds of 5; the one miss was epoch 13 of seed 4, with the rate still annealing.
    One change, the schedule: on the validation split it raised Model_6's stack on both seeds tried
    (tools/search.py grid, Model_6+hold2 against Model_6).
    """

    recipe = dict(Model_6.recipe, hold=2)
    evidence = "grid-Model_6+hold2"
    test_informed = (
        "The held rate answered a test-set miss: Model_6, the same network, fell below the bar at epoch 13 of seed 4."
    )
    analysis = (
        "The held rate makes the bar hold on all 5 seeds: each of the last 3 epochs of every seed is at "
        "99.46% or more, where Model_6, the same network, had one epoch at 99.34% (seed 4, epoch 13). Over "
        "the 15 epochs of 5 seeds the mean of the last 3 moves up by a few hundredths, within the "
        "seed-to-seed spread; what changed is the lowest epoch. Up to this step it is the smallest "
        "network here that holds the bar on every seed: 7,442 parameters."
    )


@register_model
class Model_11(Model_10):
    """Fewer channels before the pool: Model_10 with Model_9's layers before it (6 and 12 channels, a 1x1
    transition to 6) and its own three 16-channel layers after it, to find whether the bar holds on every seed
    with 12% fewer parameters.

    One change, the layers before the pool (three widths at once: 8 -> 6, 16 -> 12, the transition 8 -> 6);
    the recipe is Model_10's. Chosen on the validation split (tools/search.py, grid point m9-16+hold2, seeds 1-3),
    where this stack came closest to Model_6's of the stacks between 3,500 and 7,442 parameters.
    """

    layers = ("6", "12", "M", "D", "t6", "16", "16", "16")
    evidence = "grid-m9-16+hold2"
    analysis = (
        "Narrower layers before the pool cost the bar on 3 seeds of 5. Seeds 1 and 2 hold each of their last 3 "
        "epochs at 99.43% or more. Seeds 3 and 4 each have one epoch at 99.39%, and seed 5 two (99.37% and 99.39%): "
        "one to three test images short. Over 5 seeds the mean of the last 3 epochs is a tenth of a point below "
        "Model_10's. At 6,560 parameters the bar depends on the seed again; Model_10 stays the smallest network so "
        "far that holds it on every seed."
    )


@register_model
class Model_12(Model_9):
    """Cheaper convolutions, more channels: Model_9's recipe on depthwise-separable 3x3 convolutions (a 3x3
    filter per channel, then a 1x1 mix) in every 3x3 layer but the first, 16 channels before the pool and four
    layers of 23 after it, where Model_9's full convolutions afford 10-12, in 3,352 parameters.

    One change, the layers; the recipe is Model_9's. Chosen on the validation split (tools/search.py, grid point
    sep-all-23+hold2, seeds 1-5): 99.18% over the five seeds against 99.07% for Model_9's stack, above it on
    4 seeds and level with it on the fifth, the highest mean of any stack under 3,500 parameters run on more
    than one seed.
    """

    layers = ("8", "s16", "M", "D", "t8", "s23", "s23", "s23", "s23")
    evidence = "grid-sep-all-23+hold2"
    analysis = (
        "Wider separable layers lift the smallest stack on the test set as they did on the validation split. Over 5 "
        "seeds the mean of the last 3 epochs is a tenth of a point above Model_9's, with 82 fewer parameters, and "
        "above Model_11's with half its parameters. 4 of the 5 seeds hold each of their last 3 epochs at 99.43% or "
        "more; seed 2 ends its last epoch at 99.39%, one test image short. Up to this step it is the best model at "
        "3,500 parameters or fewer, and Model_10 the smallest that holds the bar on every seed."
    )


@register_model
class Model_13(Model_12):
    """Less dropout: Model_12 with channel dropout at 0.02 instead of 0.05, to find whether the 3,352-parameter
    stack holds the bar on every seed with less regularization.

    One change, the dropout rate; the layers and the recipe are Model_12's. Chosen on the validation split
    (tools/search.py, grid point sep-all-23+hold2+drop0.02, seeds 1-5): 99.21% over the five seeds against 99.18% for
    Model_12, with the two lowest seeds of Model_12 rising most (+0.08 and +0.06) and the spread of the five
    seeds 0.13 against 0.24.
    """

    dropout = 0.02
    evidence = "grid-sep-all-23+hold2+drop0.02"
    analysis = (
        "Less dropout does not carry over to the test set. Each of the 5 seeds ends below the same seed of "
        "Model_12, by 0.02 to 0.10 in the mean of its last 3 epochs: 99.42% against 99.47% over the 5. 3 of the 5 "
        "seeds hold the bar; seeds 1 and 2 end their last epoch at 99.36% and 99.38%. The training accuracy on "
        "augmented batches rises by about a tenth while the test accuracy falls. The validation gain of three "
        "hundredths over five seeds was within seed noise."
    )


@register_model
class Model_14(Model_12):
    """Steadier evaluation: Model_12 with BatchNorm's running statistics re-estimated before each evaluation, as the
    plain mean over 300 batches of un-augmented training images, to find whether the 3,352-parameter network holds
    the bar on every seed when its last epochs no longer move with the last training batches' statistics.

    One change, the statistics the network is evaluated with; the layers and the training are Model_12's, and so are
    the trained weights. Chosen on the validation split (tools/search.py, grid point sep-all-23+hold2+bn300, seeds 1-5),
    where each run trains as Model_12's stack does on the same seed, step for step: the lowest of the last 3 epochs
    rose on 3 seeds (by 0.02 to 0.08), stayed on one and fell by 0.03 on the other, and the spread within the last 3
    epochs halved, while the mean over the five seeds stayed where it was.
    """

    recipe = dict(Model_12.recipe, bn_batches=300)
    evidence = "grid-sep-all-23+hold2+bn300"
    test_informed = (
        "The re-estimate went onto Model_12 after Model_13, the validation leader (dropout 0.02), fell below Model_12 "
        "on the test set; Model_14's trained weights are Model_12's, whose test results were known."
    )
    analysis = (
        "The same training as Model_12's, step for step (the same training loss in every epoch of seeds 1-5), "
        "evaluated with re-estimated statistics. On seeds 1-5, made when it was chosen, every seed holds the bar, "
        "the last 3 epochs of each within 0.02 of each other. Seeds 6-10, made later on another CPU, hold on 2 of "
        "5, with floors of 99.37% to 99.46%. Over 10 seeds 7 hold and the mean floor is 99.43%, three test images "
        "above the bar. It stays the smallest model here, but its claim rests on a margin smaller than the test "
        "set's own sampling error."
    )


@register_model
class Model_15(Model_14):
    """Room to spare: Model_14's shape and recipe with the course's budget spent on width, 12 and 24 channels before
    the pool and four separable layers of 39 after it, in 7,792 parameters, to find a Session 7 model whose every seed
    clears the bar with a margin.

    One change, the widths of the layers; the recipe is Model_14's (the held rate, BatchNorm's statistics re-estimated
    before each evaluation). Chosen on the validation split (tools/search.py, grid point sep-24-39+hold2+bn300) among
    four ways to spend the budget on Model_14's shape, and Model_10's stack on the same recipe. Over five validation
    seeds its mean floor is 99.33% against Model_14's 99.18%, above it on every seed.
    """

    layers = ("12", "s24", "M", "D", "t12", "s39", "s39", "s39", "s39")
    evidence = "grid-sep-24-39+hold2+bn300"
    beats = "Model_14"
    analysis = (
        "Width buys the margin that Model_14 lacked. All 10 seeds hold, with floors of 99.48% to 99.61% (mean 99.53%, "
        "standard deviation 0.04): 8 to 21 test images above the bar, where Model_14's floors sit 3 above it on "
        "average. Seeds 6-10 ran on a GPU, other draws than the CPUs' of seeds 1-5, and their floors, 99.50% to "
        "99.57%, lie inside the spread of the first five. The last 3 epochs of each seed lie within 0.02 of each "
        "other. The mean floor is above our 99.50% target for a claim with room to spare. It is the Session 7 "
        "model; Model_14 stays the smallest."
    )


# ---------------------------------------------------------------------- Session 6


@register_model
class S6_Model(TinyNet):
    """Session 6: under 20,000 parameters with BatchNorm, Dropout and global average pooling,
    at 99.5% in each of the last 3 of 15 epochs.

    Model_6's layers at 1.5 times their channels (12 to 24) with Model_6's recipe: augmentation, the one-cycle
    schedule and dropout 0.05, but neither the held final rate nor the BatchNorm re-estimate of later steps.
    """

    layers = ("12", "24", "M", "D", "t12", "24", "24", "24")
    dropout = 0.05
    test_informed = "Its recipe is Model_6's, chosen in Session 7's steps, each of which was evaluated on the test set."
    analysis = (
        "1.5 times the channels of Model_6 and the same recipe. Over 10 seeds the floors run from 99.49% to 99.61% "
        "(mean 99.56%, standard deviation 0.04): every seed clears the course's 99.4%, and 9 of 10 clear our 99.5%, "
        "seed 10 one test image short of it. The training accuracy on augmented batches, 99.46% to 99.53% in the "
        "last epoch, stays at or below the test accuracy."
    )
    recipe = dict(_CONSTANT_LR, **_AUGMENT, **_ONE_CYCLE)


# The models that the notebooks name as final, that CI checks and trains in full, and the README reports.
S7_FINAL = "Model_15"  # Session 7: fewer than 8,000 parameters
S7_SMALLEST = "Model_14"  # our bar: at most 3,500 parameters
S6_FINAL = "S6_Model"  # Session 6: fewer than 20,000 parameters


def s7_models() -> list[str]:
    """The Session 7 steps, in order."""
    return list_models("Model_")
