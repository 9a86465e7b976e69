"""The search's own layers, beyond the five tokens the course's models use: tools/search.py's candidates and grid
points spell them (``python -m tools.search --list``), and importing this module adds them to model.TinyNet's tokens
(``tools`` imports it, so every tool reads and re-runs the recorded search runs).

    p16  an unpadded 3x3 convolution padded (the map keeps its size); ps16 the separable one padded
    l8   a 1x1 transition without activation (a linear bottleneck, as in MobileNetV2)
    f16  a 3x3 convolution factorized into 3x1 and 1x3 (factorized_block)
    g16  a 3x3 convolution in two groups with a channel shuffle (grouped_block)
    k16  an unpadded 5x5 convolution
    b16  a padded 3x3 convolution added to its input (Residual)
    R    the previous full 3x3 convolution again, with the same weights (SharedConv)
    S    a squeeze-and-excitation gate on the channels (SqueezeExcite)
    C    two coordinate channels for the next layer (AddCoords)

and the SiLU activation beside ReLU.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

import model as model_lib
from model import Stack, register_token

model_lib.ACTIVATIONS["silu"] = nn.SiLU  # smooth, no dead channels in layers of a few channels


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
        model_lib.activation(act),
        ChannelShuffle(groups),
    )


def factorized_block(cin: int, cout: int, *, bn: bool = True, act: str = "relu") -> nn.Sequential:
    """A 3x3 convolution in two: 3x1 then 1x3, each with BatchNorm and activation (Inception-v3's factorization).

    It costs 3*cin*cout + 3*cout*cout weights instead of 9*cin*cout (a third less between equal widths) and
    keeps the mixing of channels in both halves, which the depthwise half of a separable block gives up.
    """
    return nn.Sequential(
        *model_lib.conv_block(cin, cout, (3, 1), padding=0, bn=bn, act=act),
        *model_lib.conv_block(cout, cout, (1, 3), padding=0, bn=bn, act=act),
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
        self.act = model_lib.activation(act)

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
        self.act = model_lib.activation(act)

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


@register_token("p")
def _padded(stack: Stack, cout: int) -> tuple[nn.Module, int]:
    return model_lib.conv_block(stack.channels, cout, 3, padding=1, bn=stack.bn, act=stack.act), cout


@register_token("ps")
def _padded_separable(stack: Stack, cout: int) -> tuple[nn.Module, int]:
    return model_lib.separable_block(stack.channels, cout, padding=1, bn=stack.bn, act=stack.act), cout


@register_token("l")
def _linear_transition(stack: Stack, cout: int) -> tuple[nn.Module, int]:
    return model_lib.conv_block(stack.channels, cout, 1, padding=0, bn=stack.bn, act=None), cout


@register_token("f")
def _factorized(stack: Stack, cout: int) -> tuple[nn.Module, int]:
    return factorized_block(stack.channels, cout, bn=stack.bn, act=stack.act), cout


@register_token("g")
def _grouped(stack: Stack, cout: int) -> tuple[nn.Module, int]:
    return grouped_block(stack.channels, cout, bn=stack.bn, act=stack.act), cout


@register_token("k")
def _conv5x5(stack: Stack, cout: int) -> tuple[nn.Module, int]:
    return model_lib.conv_block(stack.channels, cout, 5, padding=0, bn=stack.bn, act=stack.act), cout


@register_token("b")
def _residual(stack: Stack, cout: int) -> tuple[nn.Module, int]:
    if stack.channels != cout:
        raise ValueError(f"b{cout} adds its input to its output, so it needs {cout} channels in, not {stack.channels}")
    return Residual(cout, bn=stack.bn, act=stack.act), cout


def repeatable(layers: list[nn.Module]) -> nn.Conv2d | None:
    """The full 3x3 convolution that an "R" repeats: the last one built, past pools, dropout, gates and repeats; none
    once another kind of convolution or coordinate channels came after it."""
    for layer in reversed(layers):
        if isinstance(layer, nn.MaxPool2d | nn.Dropout2d | SqueezeExcite):
            continue
        if isinstance(layer, SharedConv):
            return layer.shared[0]
        full = isinstance(layer, nn.Sequential) and isinstance(layer[0], nn.Conv2d)
        if full and layer[0].kernel_size == (3, 3) and layer[0].groups == 1 and not isinstance(layer[1], nn.Conv2d):
            return layer[0]
        return None
    return None


@register_token("R", channels=False)
def _shared(stack: Stack, _: int) -> tuple[nn.Module, int]:
    conv = repeatable(stack.layers)
    if conv is None:
        raise ValueError("bad layer token 'R': it repeats a full 3x3 convolution, and none comes before it")
    return SharedConv(conv, bn=stack.bn, act=stack.act), stack.channels


@register_token("S", channels=False)
def _squeeze_excite(stack: Stack, _: int) -> tuple[nn.Module, int]:
    return SqueezeExcite(stack.channels), stack.channels


@register_token("C", channels=False)
def _coords(stack: Stack, _: int) -> tuple[nn.Module, int]:
    return AddCoords(), stack.channels + 2
