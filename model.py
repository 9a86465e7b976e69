"""Tiny convolutional networks for MNIST, and the registry that names them.

Every network is registered under its class name, with the training recipe it was
designed for: ``get_model("Model_6")`` builds one, ``get_recipe("Model_6")`` gives
the hyperparameters it is trained with, ``list_models()`` names them all.

Session 7 is told as a sequence ``Model_1`` ... ``Model_8``: each step changes one
thing (architecture or recipe) and its docstring states the Target. The Results and
Analysis of each step are generated from ``results/`` into the README.
"""
from __future__ import annotations



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


def count_parameters(model: nn.Module) -> int:
    """Trainable parameters, counted the way torchsummary counts them."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


# ---------------------------------------------------------------------------- blocks

def conv_block(cin: int, cout: int, kernel: int = 3, padding: int = 1, *,
               bn: bool = True, dropout: float = 0.0, relu: bool = True) -> nn.Sequential:
    """Conv -> BatchNorm -> ReLU -> Dropout2d, each part optional.

    The convolution has no bias when BatchNorm follows: BN's shift makes it redundant.
    Dropout2d drops whole channels; it regularizes conv features as well as per-element
    dropout and costs a fraction of the CPU time.
    """
    layers: list[nn.Module] = [nn.Conv2d(cin, cout, kernel, padding=padding, bias=not bn)]
    if bn:
        layers.append(nn.BatchNorm2d(cout))
    if relu:
        layers.append(nn.ReLU())
    if dropout > 0:
        layers.append(nn.Dropout2d(dropout))
    return nn.Sequential(*layers)


class TinyNet(nn.Module):
    """Blocks of padded 3x3 convolutions, each block but the last ending in a 2x2 max-pool,
    then global average pooling and a 1x1 convolution to the 10 classes.

    ``widths`` holds one tuple of channel counts per block. Subclasses fix the widths,
    BatchNorm and dropout; the recipe class attribute holds their training hyperparameters.
    """

    widths: tuple[tuple[int, ...], ...] = ()
    bn: bool = True
    dropout: float = 0.0
    recipe: dict = {}

    def __init__(self) -> None:
        super().__init__()
        blocks: list[nn.Module] = []
        cin = 1
        for i, block in enumerate(self.widths):
            layers: list[nn.Module] = []
            for cout in block:
                layers.append(conv_block(cin, cout, bn=self.bn, dropout=self.dropout))
                cin = cout
            if i < len(self.widths) - 1:
                layers.append(nn.MaxPool2d(2))
            blocks.append(nn.Sequential(*layers))
        self.features = nn.Sequential(*blocks)
        self.gap = nn.AdaptiveAvgPool2d(1)
        self.head = nn.Conv2d(cin, 10, 1, bias=not self.bn)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.gap(self.features(x))
        return F.log_softmax(self.head(x).flatten(1), dim=1)


# Training recipes. Plain SGD with a constant rate is the course's starting point; the
# later steps add augmentation and a one-cycle schedule. Keys are TrainConfig fields.
_CONSTANT_LR = dict(optimizer="sgd", lr=0.02, momentum=0.9, schedule="constant",
                    rotate=0.0, scale=0.0, translate=0.0)
_AUGMENT = dict(rotate=10.0, scale=0.1, translate=2.0)
_ONE_CYCLE = dict(schedule="onecycle", lr=0.2, nesterov=True, weight_decay=5e-4)


# ---------------------------------------------------------------------- Session 7

@register_model
class Model_1(TinyNet):
    """Skeleton: a network of the final shape that learns, with no BatchNorm, no dropout,
    no augmentation and a constant learning rate.

    Three blocks of padded 3x3 convolutions (28 -> 14 -> 7 pixels), global average pooling
    and a 1x1 convolution to 10 classes. Channels are generous (16 to 24) so that capacity
    is not the question yet: does the shape reach 99% at all?
    """

    widths = ((16, 16), (24, 24), (24,))
    bn = False
    recipe = dict(_CONSTANT_LR)


@register_model
class Model_2(Model_1):
    """Lighter: the same shape with channels cut to 8-16, under the 8,000-parameter budget.

    The target is to see how much accuracy the cut costs before anything else is added.
    """

    widths = ((8, 12), (12, 16), (16,))


@register_model
class Model_3(Model_2):
    """BatchNorm after every convolution, to train the light network faster and further.

    Without BatchNorm the deep, thin stack trains slowly at a safe learning rate; with it
    the same learning rate gives a well-conditioned problem from the first epoch.
    """

    bn = True


@register_model
class Model_4(Model_3):
    """Regularization: channel dropout (Dropout2d, p=0.05) after every convolution.

    The BatchNorm model fits the training images better than the held-out ones; dropout
    should narrow that gap at little cost in capacity.
    """

    dropout = 0.05


@register_model
class Model_5(Model_4):
    """Augmentation: random rotation (+-10 deg), scale (+-10%) and shift (+-2 px) of every
    training batch, to show the network the variations of handwriting it meets in the test set.
    """

    recipe = dict(_CONSTANT_LR, **_AUGMENT)


@register_model
class Model_6(Model_5):
    """One-cycle learning rate: ramp up to a high rate, then anneal to nearly zero by the
    last epoch, so that the final epochs are stable and at their best.

    This is the Session 7 model: under 8,000 parameters, 99.4% in each of the last 3 of 15
    epochs, on every seed.
    """

    recipe = dict(_CONSTANT_LR, **_AUGMENT, **_ONE_CYCLE)


@register_model
class Model_7(Model_6):
    """Half the parameters: 4 to 12 channels, the same recipe, to find how far the budget can go.
    """

    widths = ((6, 8), (10, 12), (12,))


@register_model
class Model_8(Model_6):
    """Fewer than 3,500 parameters: 4 to 10 channels and the same recipe.
    """

    widths = ((6, 8), (8, 10), (12,))


# ---------------------------------------------------------------------- Session 6

@register_model
class S6_Model(TinyNet):
    """Session 6: under 20,000 parameters with BatchNorm, Dropout and global average pooling,
    at 99.5% in each of the last 3 of 15 epochs.

    The Session 7 recipe on a wider network (10 to 28 channels).
    """

    widths = ((12, 16), (20, 24), (28,))
    dropout = 0.05
    recipe = dict(_CONSTANT_LR, **_AUGMENT, **_ONE_CYCLE)


def s7_models() -> list[str]:
    """The Session 7 steps, in order."""
    return list_models("Model_")


