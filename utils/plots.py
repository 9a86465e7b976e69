"""The figures of the notebooks and the README: curves, learning rate, misclassified digits, per-class accuracy,
confusion matrix, parameters against accuracy, class activation maps."""

from __future__ import annotations

import copy
import math
import sys
from collections.abc import Iterable, Sequence

import numpy as np
import torch
import torch.nn as nn

from utils.config import Result
from utils.course import S7, Bar
from utils.data import normalize
from utils.inspection import class_activation_maps, last_feature_layer
from utils.runs import holds


def new_figure(ncols: int = 1, nrows: int = 1, size: tuple[float, float] = (6, 4)):
    import matplotlib

    if "ipykernel" not in sys.modules:
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(nrows, ncols, figsize=(size[0] * ncols, size[1] * nrows), squeeze=False)
    return fig, axes


def run_colours(n: int) -> list:
    """``n`` colours that tell runs apart: matplotlib's ten, or evenly spaced ones of a colour map for more."""
    import matplotlib

    if n <= 10:
        return [matplotlib.colormaps["tab10"](i) for i in range(n)]
    return [matplotlib.colormaps["viridis"](i / (n - 1)) for i in range(n)]


def plot_curves(results: Iterable[Result], title: str = "", bar: Bar = S7):
    """Train and evaluation loss and accuracy per epoch, one line per run, against ``bar``'s accuracy."""
    results = list(results)
    fig, ax = new_figure(2, 2, (6, 3.6))
    colours = run_colours(len(results))
    for r, colour in zip(results, colours, strict=True):
        epochs = [h.epoch for h in r.history]
        ev = "test" if r.eval_split == "test" else "validation"
        for (i, j), key, label in (
            ((0, 0), "train_loss", "train loss"),
            ((0, 1), "eval_loss", f"{ev} loss"),
            ((1, 0), "train_acc", "train accuracy (%)"),
            ((1, 1), "eval_acc", f"{ev} accuracy (%)"),
        ):
            ax[i][j].plot(epochs, [getattr(h, key) for h in r.history], marker=".", label=r.name, color=colour)
            ax[i][j].set_title(label)
            ax[i][j].set_xlabel("epoch")
            ax[i][j].grid(alpha=0.3)
    bar_label = f"{bar.min_acc:g}%"
    ax[1][1].axhline(bar.min_acc, color="grey", ls="--", lw=1, label=bar_label)
    from matplotlib.ticker import MaxNLocator

    for a in ax[0]:
        a.set_yscale("log")  # the first epoch's loss would flatten the rest
    for a, floor in ((ax[1][0], 96.0), (ax[1][1], 97.0)):
        runs = [line.get_ydata() for line in a.get_lines() if line.get_label() != bar_label]
        if runs and min(min(y) for y in runs) < floor:
            a.set_ylim(floor, 100.05)
            a.set_title(a.get_title() + f", zoomed to >= {floor:g}%")
    for a in ax.flat:
        a.xaxis.set_major_locator(MaxNLocator(integer=True))
        a.legend(fontsize=7)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_lr(results: Iterable[Result], title: str = "Learning rate per step"):
    fig, ax = new_figure(size=(7, 3.2))
    for r in results:
        steps = len(r.lr_trace)
        epochs = len(r.history)
        ax[0][0].plot([i * epochs / steps for i in range(steps)], r.lr_trace, label=r.name)
    ax[0][0].set_xlabel("epoch")
    ax[0][0].set_ylabel("learning rate")
    ax[0][0].set_title(title)
    ax[0][0].grid(alpha=0.3)
    ax[0][0].legend(fontsize=7)
    fig.tight_layout()
    return fig


def plot_misclassified(result: Result, images: torch.Tensor, count: int = 24, cols: int = 8):
    """The first ``count`` misclassified evaluation images, titled with predicted and true labels."""
    wrong = result.misclassified[:count]
    rows = max(1, math.ceil(len(wrong) / cols))
    fig, ax = new_figure(cols, rows, (1.3, 1.55))
    for a in ax.flat:
        a.axis("off")
    for a, (index, true, pred) in zip(ax.flat, wrong, strict=False):  # fewer images than panels
        a.imshow(images[index].cpu().numpy(), cmap="gray_r")
        a.set_title(f"pred {pred}, true {true}", fontsize=8, color="firebrick")
    fig.suptitle(
        f"{result.name}: {len(result.misclassified)} misclassified "
        f"{'test' if result.eval_split == 'test' else 'validation'} images (first {len(wrong)})",
        fontsize=10,
    )
    fig.tight_layout()
    return fig


def plot_per_class(result: Result):
    fig, ax = new_figure(size=(6.5, 3.2))
    acc = result.per_class_accuracy
    bars = ax[0][0].bar(range(10), acc, color="steelblue")
    ax[0][0].bar_label(bars, labels=[f"{a:.1f}" for a in acc], fontsize=7)
    ax[0][0].set_xticks(range(10))
    ax[0][0].set_xlabel("digit")
    ax[0][0].set_ylabel("accuracy (%)")
    ax[0][0].set_ylim(min(acc) - 1, 100.4)
    ax[0][0].set_title(f"{result.name}: accuracy per class")
    fig.tight_layout()
    return fig


def plot_confusion(result: Result):
    """Confusion matrix with the diagonal left out, so that the errors are visible."""
    cm = np.array(result.confusion_matrix)
    off = cm.copy()
    np.fill_diagonal(off, 0)
    fig, ax = new_figure(size=(5.2, 4.6))
    im = ax[0][0].imshow(off, cmap="Reds")
    for i in range(10):
        for j in range(10):
            dark = i != j and off[i, j] > off.max() / 2
            ax[0][0].text(
                j,
                i,
                str(cm[i, j]),
                ha="center",
                va="center",
                fontsize=7,
                color="grey" if i == j else "white" if dark else "black",
            )
    ax[0][0].set_xticks(range(10))
    ax[0][0].set_yticks(range(10))
    ax[0][0].set_xlabel("predicted")
    ax[0][0].set_ylabel("true")
    ax[0][0].set_title(f"{result.name}: confusion matrix (errors shaded)")
    fig.colorbar(im, ax=ax[0][0], fraction=0.046)
    fig.tight_layout()
    return fig


def plot_params_vs_accuracy(groups: dict[str, Sequence[Result]], title: str, bar: Bar = S7):
    """Which models hold ``bar``, on how many seeds, with how many parameters: one row per model, fewest parameters
    at the top; a dot per seed at its floor (the lowest of the last epochs the bar looks at: the seed holds when
    the dot is right of the dashed line), a vertical mark at their mean."""
    names = sorted(groups, key=lambda n: (groups[n][0].params, n))
    fig, ax = new_figure(size=(7.5, 0.9 + 0.36 * len(names)))
    a = ax[0][0]
    for row, name in enumerate(names):
        floors = [bar.floor(r) for r in groups[name]]
        held = [holds(r, bar) for r in groups[name]]
        a.scatter(floors, [row] * len(floors), s=18, c=["tab:blue" if h else "tab:red" for h in held], alpha=0.8)
        a.scatter([sum(floors) / len(floors)], [row], marker="|", s=250, c="black", linewidths=1.5)
    a.axvline(bar.min_acc, color="grey", ls="--", lw=1)
    a.set_yticks(range(len(names)))
    a.set_yticklabels(
        [f"{n} ({groups[n][0].params:,}; {sum(holds(r, bar) for r in groups[n])}/{len(groups[n])})" for n in names],
        fontsize=8,
    )
    a.invert_yaxis()
    a.set_xlabel(f"lowest of the last {bar.last} epochs, per seed (%); bar {bar.min_acc:g}% dashed")
    a.set_title(title, fontsize=10)
    a.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    return fig


def plot_steps(results: Sequence[Result], title: str, floor: float = 97.0, bar: Bar = S7):
    """One panel per step, in order: its test accuracy (solid) and its training accuracy on augmented batches
    (dashed) per epoch, against the bar; the axis starts at ``floor``."""
    cols = 5
    rows = math.ceil(len(results) / cols)
    fig, ax = new_figure(cols, rows, (2.2, 1.9))
    for a in ax.flat[len(results) :]:
        a.axis("off")
    for a, r in zip(ax.flat, results, strict=False):
        epochs = [h.epoch for h in r.history]
        a.plot(epochs, [h.eval_acc for h in r.history], color="tab:blue", lw=1.5)
        a.plot(epochs, [h.train_acc for h in r.history], color="tab:orange", ls="--", lw=1)
        a.axhline(bar.min_acc, color="grey", ls=":", lw=1)
        a.set_ylim(floor, 100)
        a.set_title(f"{r.model} ({r.params:,})", fontsize=8)
        a.tick_params(labelsize=7)
        a.grid(alpha=0.3)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def plot_class_activation_maps(net: nn.Module, images: torch.Tensor, labels: torch.Tensor, title: str, count: int = 8):
    """Test digits with the map of the predicted class overlaid; for misclassified digits the map of the
    true class too. ``images`` are uint8 (N, 28, 28); the first 1,000 are looked at."""
    images, labels = images[:1000], labels[:1000]
    # In double precision: the maps reach tens of units, where float32 sums taken in another order (another
    # CPU's kernels) differ in the fifth decimal, to which the figure's fingerprint rounds them.
    maps = class_activation_maps(copy.deepcopy(net).double(), normalize(images).double())
    pred = maps.mean((2, 3)).argmax(1)
    right = (pred == labels).nonzero().flatten()[:count].tolist()
    wrong = (pred != labels).nonzero().flatten()[: count // 2].tolist()
    panels = [(i, int(pred[i]), "predicted") for i in right]
    for i in wrong:
        panels += [(i, int(pred[i]), "predicted"), (i, int(labels[i]), "true")]
    cols = 8
    fig, ax = new_figure(cols, math.ceil(len(panels) / cols), (1.5, 1.75))
    for a in ax.flat:
        a.axis("off")
    # Each map cell sits on the input pixels its receptive field is centred on (unpadded layers shrink the map).
    last = last_feature_layer(net)
    low = last["start"] - last["jump"] / 2
    high = last["start"] + (last["size"] - 0.5) * last["jump"]
    for a, (i, cls, kind) in zip(ax.flat, panels, strict=False):
        a.imshow(images[i].cpu().numpy(), cmap="gray_r", extent=(-0.5, 27.5, 27.5, -0.5))
        a.imshow(
            maps[i, cls].cpu().numpy(),
            cmap="jet",
            alpha=0.45,
            interpolation="bilinear",
            extent=(low, high, high, low),
        )
        a.set_xlim(-0.5, 27.5)
        a.set_ylim(27.5, -0.5)
        ok = int(pred[i]) == int(labels[i])
        a.set_title(
            f"{kind} {cls}" + ("" if ok else f" (true {int(labels[i])})" if kind == "predicted" else ""),
            fontsize=7,
            color="black" if ok else "firebrick",
        )
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig
