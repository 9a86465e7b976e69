"""What a notebook cell calls: describe a model, train it and show its curves, show a figure, tabulate seeds."""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Sequence
from pathlib import Path

import model as model_lib
from utils.config import Result, TrainConfig
from utils.inspection import markdown_table, model_summary, receptive_field_markdown
from utils.paths import DEFAULT_DATA_DIR
from utils.plots import plot_curves
from utils.runs import last_epochs_stats
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
    cfg = TrainConfig.for_model(name, **overrides)
    print(f"Config: {dataclasses.asdict(cfg)}")
    result = train(cfg, data_dir=data_dir, results_dir=results_dir, progress=progress)
    show(plot_curves([result], title=f"{name}: {result.params:,} parameters"))
    return result


def seeds_table(results: Sequence[Result], last: int = 3) -> str:
    """Markdown: one row per seed (last epochs, best, train accuracy), then mean, std and min over seeds."""
    rows = []
    for r in sorted(results, key=lambda r: r.config["seed"]):
        rows.append(
            {
                "seed": r.config["seed"],
                "epochs": len(r.history),
                f"last {last} epochs (%)": ", ".join(f"{a:.2f}" for a in r.last(last)),
                "best (%)": f"{max(r.accuracies()):.2f}",
                "final train acc (%)": f"{r.history[-1].train_acc:.2f}",
                "wall time (s)": f"{r.wall_time_s:.0f}",
            }
        )
    mean, std, low = last_epochs_stats(results, last)
    table = markdown_table(rows)
    return (
        table + f"\n\nLast {last} epochs over {len(results)} seed(s): mean {mean:.2f}%, "
        f"standard deviation {std:.3f}, minimum {low:.2f}%."
    )
