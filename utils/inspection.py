"""Looking inside a network: its receptive field layer by layer, torchsummary's table, class activation maps,
and markdown tables to show them in."""

from __future__ import annotations

import contextlib
import copy
import io
from collections.abc import Sequence

import torch
import torch.nn as nn


def _pool_geometry(m: nn.Module, in_size: int) -> tuple[int, int, int, int]:
    """(kernel, stride, padding, dilation) of a conv or pooling layer, as ints."""
    if isinstance(m, nn.AdaptiveAvgPool2d | nn.AdaptiveMaxPool2d):
        return in_size, in_size, 0, 1  # global pooling of an in_size map

    def along_width(v) -> int:  # the dimension whose size the table reports (a 3x1 kernel is 1 wide)
        return int(v[-1] if isinstance(v, tuple) else v)

    stride = along_width(m.stride) if m.stride is not None else along_width(m.kernel_size)
    return along_width(m.kernel_size), stride, along_width(m.padding), along_width(getattr(m, "dilation", 1))


RF_LAYERS = (nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d, nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d)


def receptive_field_table(net: nn.Module, input_size: int = 28) -> list[dict]:
    """One row per spatial layer, in the order the forward pass runs them: kernel, stride, padding,
    jump (input pixels between neighbouring outputs), receptive field and output size.
    Computed from the model's own layers by tracing one forward pass."""
    names = {m: n for n, m in net.named_modules()}
    seen: list[tuple[nn.Module, int, int]] = []
    hooks = [
        m.register_forward_hook(lambda m, i, o: seen.append((m, i[0].shape[-1], o.shape[-1])))
        for m in net.modules()
        if isinstance(m, RF_LAYERS)
    ]
    was_training = net.training
    try:
        net.eval()
        with torch.no_grad():
            device = next(net.parameters()).device
            net(torch.zeros(1, 1, input_size, input_size, device=device))
    finally:
        net.train(was_training)
        for h in hooks:
            h.remove()
    rows = [
        dict(layer="input", type="", kernel=None, stride=None, padding=None, jump=1, rf=1, size=input_size, start=0.0)
    ]
    rf, jump, start = 1, 1, 0.0
    for m, n_in, n_out in seen:
        k, s, p, d = _pool_geometry(m, n_in)
        rf += d * (k - 1) * jump
        start += (d * (k - 1) / 2 - p) * jump  # the input pixel at the centre of the first output
        jump *= s
        rows.append(
            dict(
                layer=names[m],
                type=type(m).__name__,
                kernel=k,
                stride=s,
                padding=p,
                jump=jump,
                rf=rf,
                size=n_out,
                start=start,
            )
        )
    return rows


def last_feature_layer(net: nn.Module) -> dict:
    """The receptive-field row of the last layer before global average pooling."""
    rows = receptive_field_table(net)
    return rows[[r["type"] for r in rows].index("AdaptiveAvgPool2d") - 1]


def markdown_table(rows: Sequence[dict], columns: Sequence[str] | None = None) -> str:
    columns = list(columns or rows[0].keys())

    def cell(v) -> str:
        return "" if v is None else str(v)

    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(r[c]) for c in columns) + " |" for r in rows]
    return "\n".join(lines)


def receptive_field_markdown(net: nn.Module, input_size: int = 28) -> str:
    return markdown_table(
        receptive_field_table(net, input_size), ["layer", "type", "kernel", "stride", "padding", "jump", "rf", "size"]
    )


def model_summary(net: nn.Module, input_size: tuple[int, int, int] = (1, 28, 28)) -> str:
    """torchsummary's table, captured as text; run on a CPU copy so the model's BN statistics stay as they are."""
    from torchsummary import summary

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        summary(copy.deepcopy(net).cpu(), input_size, device="cpu")
    return buf.getvalue()


@torch.no_grad()
def class_activation_maps(net: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """(N, 10, H, W) class activation maps (Zhou et al., 2016) of a TinyNet.

    The network ends in global average pooling and a 1x1 convolution, both linear: applying the
    1x1 convolution at every position first gives a map per class whose mean is that class's logit.
    """
    net.eval()
    return net.head(net.features(x))
