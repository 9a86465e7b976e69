"""The figures in docs/generated/figures: which ones the report draws, and from what; their fingerprints (what they
show, not their pixels), with which the check compares them."""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np

import model as model_lib
import predict
from tools import search_space
from tools.report.results import FIGURES, Report
from utils import plots
from utils.course import S7
from utils.notebook import course_bar
from utils.paths import REPO, write_atomic
from utils.runs import load_trained

EXAMPLE = "docs/generated/figures/example_digit.png"
FINGERPRINTS = "fingerprints.json"


def figure_files(rep: Report) -> dict[str, Callable]:
    """File name -> function making the figure, for every figure the README links."""
    figs = {}
    steps = [n for n in model_lib.s7_models() if n in rep.runs]
    if steps:
        figs["s7_steps_curves.png"] = lambda: plots.plot_steps(
            [rep.seed1(n) for n in steps],
            "Session 7 steps, seed 1: test accuracy (solid) and training accuracy (dashed) per epoch; bar dotted",
        )
        figs["s7_robust_frontier.png"] = lambda: plot_robust_frontier(rep)
        figs["s7_params_vs_accuracy.png"] = lambda: plots.plot_params_vs_accuracy(
            {n: rep.runs[n] for n in steps},
            "Session 7 models (parameters; seeds that hold): the floor of every test seed",
        )
    for name in (model_lib.S7_FINAL, model_lib.S7_SMALLEST, model_lib.S6_FINAL):
        if name not in rep.runs:
            continue
        runs = rep.runs[name]
        figs[f"{name}_curves.png"] = lambda runs=runs, name=name: plots.plot_curves(
            runs, f"{name}: every seed", course_bar(name)
        )
        figs[f"{name}_misclassified.png"] = lambda runs=runs: plots.plot_misclassified(runs[0], rep.test_set()[0])
        figs[f"{name}_confusion.png"] = lambda runs=runs: plots.plot_confusion(runs[0])
        if rep.has_weights(name):
            figs[f"{name}_cam.png"] = lambda name=name: plots.plot_class_activation_maps(
                load_trained(name, 1, rep.results_dir),
                *rep.test_set(),
                f"{name} (seed 1): class activation maps of test digits; misclassified ones with the map "
                "of the predicted and of the true class",
            )
    if rep.has_weights(model_lib.S7_FINAL):
        figs["example_digit.png"] = example_png
        figs["example_digit_seen.png"] = example_figure
    return figs


def plot_robust_frontier(rep: Report):
    """Parameters against floors for the robust frontier's sizes: each validation seed (hollow) and test seed
    (filled; red where it misses the bar), the mean of each as a bar, the test set's bar dashed."""
    from tools.report.claims import robust_points  # claims draws on this module for its images

    fig, ax = plots.new_figure(size=(7.5, 4))
    a = ax[0][0]
    for point, val, name, test in robust_points(rep):
        if point in search_space.LEVERS:
            continue  # the figure shows the sizes; the table, the levers too
        for runs, offset, label in ((val, -40, "validation"), (test, 40, "test")):
            if not runs:
                continue
            x = runs[0].params + offset
            floors = [S7.floor(r) for r in runs]
            if label == "validation":
                a.scatter([x] * len(floors), floors, s=20, facecolors="none", edgecolors="tab:grey")
            else:
                colours = ["tab:blue" if f >= S7.min_acc else "tab:red" for f in floors]
                a.scatter([x] * len(floors), floors, s=20, c=colours)
            a.scatter([x], [sum(floors) / len(floors)], marker="_", s=250, c="black", linewidths=1.5)
        if name:
            a.annotate(name, (test[0].params + 60, min(S7.floor(r) for r in test)), fontsize=7)
    a.axhline(S7.min_acc, color="grey", ls="--", lw=1)
    a.set_xlabel("parameters")
    a.set_ylabel(f"lowest of the last {S7.last} epochs (%)")
    a.set_title(
        "One shape at six sizes: validation seeds hollow, test seeds filled (red: under the bar), means as bars",
        fontsize=9,
    )
    a.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def drawn_figures(rep: Report) -> dict[str, tuple[str, bytes]]:
    """File name -> (fingerprint, PNG bytes) of every figure; drawn once per Report, since a check compares
    them more than once and drawing them all takes seconds."""
    if rep.drawn is None:
        import matplotlib.pyplot as plt

        rep.drawn = {}
        for file_name, make in figure_files(rep).items():
            made = make()
            if isinstance(made, bytes):  # an image file itself, not a plot
                rep.drawn[file_name] = (hashlib.sha256(made).hexdigest(), made)
                continue
            buf = io.BytesIO()
            made.savefig(buf, format="png", dpi=100, metadata={"Software": None})
            plt.close(made)
            rep.drawn[file_name] = (fingerprint(made), buf.getvalue())
    return rep.drawn


def write_figures(rep: Report, folder: Path) -> dict[str, str]:
    """Write every figure into ``folder`` with the fingerprints file; returns the fingerprints."""
    import matplotlib

    folder.mkdir(parents=True, exist_ok=True)
    prints = {}
    for file_name, (value, png) in drawn_figures(rep).items():
        prints[file_name] = value
        write_atomic(folder / file_name, png)
    record = {"matplotlib": matplotlib.__version__, "figures": prints}
    write_atomic(folder / FINGERPRINTS, (json.dumps(record, indent=1, sort_keys=True) + "\n").encode())
    return prints


def stale_figures(folder: Path, made: dict[str, str]) -> list[str]:
    """Images in the figures folder that the report does not make (any more)."""
    return sorted(p.name for p in Path(folder).glob("*.png") if p.name not in made)


def image(file_name: str, alt: str) -> str:
    """A markdown image of a figure, linked from the repository's top folder."""
    return f"![{alt}]({FIGURES.relative_to(REPO).as_posix()}/{file_name})"


def fingerprint(fig) -> str:
    """A hash of what a figure shows (titles, labels, texts, tick labels set by hand, line data, images, bars,
    scattered points), not of its pixels: the same for any matplotlib or font version that draws the same data."""
    from matplotlib.ticker import FixedLocator

    def arr(values) -> list:
        return np.round(np.asarray(values, dtype=float), 5).tolist()

    def fixed_labels(axis) -> list:  # the labels of ticks a plot places itself; automatic ones vary with the version
        if not isinstance(axis.get_major_locator(), FixedLocator):
            return []
        return [t.get_text() for t in axis.get_majorticklabels()]

    parts = [fig.get_suptitle()]
    for ax in fig.axes:
        parts += [
            ax.get_title(),
            ax.get_xlabel(),
            ax.get_ylabel(),
            [t.get_text() for t in ax.texts],
            fixed_labels(ax.xaxis) + fixed_labels(ax.yaxis),
            [(line.get_label(), arr(line.get_xdata()), arr(line.get_ydata())) for line in ax.get_lines()],
            [arr(im.get_array()) for im in ax.get_images()],
            [arr([p.get_x(), p.get_y(), p.get_width(), p.get_height()]) for p in ax.patches if hasattr(p, "get_width")],
            [arr(c.get_offsets()) for c in ax.collections],
        ]
    # Every part is a str or a list of floats: anything else is a TypeError here, not a repr with an address in it.
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()


def example_digit():
    """A 7 drawn in dark ink on light paper, off-centre, with a crossbar: the README's example input."""
    from PIL import Image, ImageDraw

    img = Image.new("L", (120, 150), 235)
    pen = ImageDraw.Draw(img)
    pen.line([(30, 30), (95, 28), (80, 60), (62, 100), (52, 130)], fill=25, width=9, joint="curve")
    pen.line([(50, 78), (88, 76)], fill=25, width=7)
    return np.asarray(img, dtype=np.float32) / 255.0


def example_png() -> bytes:
    """The example as the PNG file that predict.py reads."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.rint(example_digit() * 255).astype(np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


def example_figure():
    gray = example_digit()
    fig, ax = plots.new_figure(2, 1, (2.4, 2.6))
    ax[0][0].imshow(gray, cmap="gray", vmin=0, vmax=1)
    ax[0][0].set_title("drawn example", fontsize=8)
    ax[0][1].imshow(predict.mnist_style(gray), cmap="gray", vmin=0, vmax=1)
    ax[0][1].set_title("what the network sees (28x28)", fontsize=8)
    for a in ax[0]:
        a.axis("off")
    fig.tight_layout()
    return fig
