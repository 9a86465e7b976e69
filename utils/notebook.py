"""What a notebook cell calls: describe a model, train it and show its curves, show a figure, tabulate seeds, close
with a final model."""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Sequence
from pathlib import Path

import model as model_lib
from utils.config import Result
from utils.course import S6, S7, Bar
from utils.data import MNIST
from utils.inspection import markdown_table, model_summary, receptive_field_markdown
from utils.paths import DEFAULT_DATA_DIR, DEFAULT_RESULTS_DIR
from utils.plots import (
    plot_class_activation_maps,
    plot_confusion,
    plot_curves,
    plot_lr,
    plot_misclassified,
    plot_per_class,
)
from utils.recipe import config_for
from utils.runs import floor_stats, holds, load_results, load_run, result_path
from utils.training import train


def show(fig) -> None:
    """Display a figure inside a notebook; close it either way so figures do not pile up."""
    import matplotlib.pyplot as plt

    if "ipykernel" in sys.modules:
        from IPython.display import display

        display(fig)
    plt.close(fig)


def describe_model(name: str) -> None:
    """What a notebook shows before training a model: its Target, torchsummary table and receptive fields."""
    net = model_lib.get_model(name)
    print(f"Model: {name}")
    print(f"Target: {model_lib.get_target(name)}")
    print(model_summary(net))
    print("Receptive field, computed from the layers (jump and rf in input pixels):")
    print(receptive_field_markdown(net))


def run_step(
    name: str,
    *,
    results_dir: Path | str | None,
    data_dir: Path | str = DEFAULT_DATA_DIR,
    progress: bool = True,
    **overrides,
) -> Result:
    """One notebook step: describe the model, train it with its recipe (plus ``overrides``), plot the curves."""
    describe_model(name)
    cfg = config_for(name, **overrides)
    print(f"Config: {dataclasses.asdict(cfg)}")
    result = train(cfg, data_dir=data_dir, results_dir=results_dir, progress=progress)
    show(plot_curves([result], title=f"{name}: {result.params:,} parameters", bar=course_bar(name)))
    return result


def course_bar(name: str) -> Bar:
    """The course's bar that a registered model is trained for: Session 6's for the Session 6 model, else Session
    7's."""
    return S6 if name == model_lib.S6_FINAL else S7


def seeds_table(results: Sequence[Result], *bars: Bar) -> str:
    """Markdown: one row per seed (its last epochs and floor, best, train accuracy), then for each of ``bars`` how
    many seeds hold it and the floor over the seeds (mean, standard deviation, lowest)."""
    if not bars:
        raise ValueError("seeds_table needs at least one bar")
    last = bars[0].last
    rows = []
    for r in sorted(results, key=lambda r: r.config["seed"]):
        rows.append(
            {
                "seed": r.config["seed"],
                "epochs": len(r.history),
                f"last {last} epochs (%)": ", ".join(f"{a:.2f}" for a in r.last(last)),
                "floor (%)": f"{bars[0].floor(r):.2f}",
                "best (%)": f"{max(r.accuracies()):.2f}",
                "final train acc (%)": f"{r.history[-1].train_acc:.2f}",
                "wall time (s)": f"{r.wall_time_s:.0f}",
            }
        )
    lines = [markdown_table(rows), ""]
    for bar in bars:
        mean, std, low = floor_stats(results, bar)
        lines.append(
            f"At {bar.min_acc:g}% in each of the last {bar.last} of at most {bar.max_epochs} epochs: "
            f"{sum(holds(r, bar) for r in results)} of {len(results)} seed(s) hold; their floors (the lowest of the "
            f"last {bar.last} epochs) have mean {mean:.2f}%, standard deviation {std:.3f}, lowest {low:.2f}%."
        )
    return "\n".join(lines)


def final_model(name: str, run: Result, data: MNIST, results_dir: Path | str, *bars: Bar) -> None:
    """A notebook's closing cell for a final model: every reference seed of it in results/ at each of ``bars``, then
    this notebook's own ``run`` (written to ``results_dir``): its misclassified test digits, the class activation
    maps of its weights (where the network looks), its per-class accuracy, confusion matrix and learning rate."""
    print(f"Reference runs of {name} in results/, every seed on record:")
    print(seeds_table(load_results(DEFAULT_RESULTS_DIR, name), *bars))
    show(plot_misclassified(run, data.test_images))
    net = load_run(result_path(results_dir, run.name))
    title = f"{name}: class activation maps of test digits"
    show(plot_class_activation_maps(net, data.test_images, data.test_labels, title))
    show(plot_per_class(run))
    show(plot_confusion(run))
    show(plot_lr([run]))
