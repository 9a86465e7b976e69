"""The blocks that show what the tools measured: how long the notebooks and the reference runs take, predict.py on
an example digit, the speed benchmark, and the mutation testing."""

from __future__ import annotations

import json
from pathlib import Path

import model as model_lib
import predict
from tools import benchmark, mutate, run_notebooks
from tools.report.figures import EXAMPLE, example_digit, image
from tools.report.results import Report
from utils.inspection import markdown_table
from utils.paths import REPO
from utils.runs import load_trained

NOTEBOOKS = ("S7.ipynb", "S6.ipynb")


def execution(notebook: str) -> dict:
    """What papermill and tools/run_notebooks.py recorded of a notebook's last execution."""
    import nbformat

    meta = nbformat.read(REPO / notebook, as_version=4).metadata
    smoke = run_notebooks.was_smoke(meta)
    return {"seconds": meta.get("papermill", {}).get("duration"), "smoke": smoke, **meta.get("execution", {})}


def notebooks(rep: Report) -> str:
    """How long each notebook took when it was executed for this commit, and where."""
    rows = []
    for notebook in NOTEBOOKS:
        done = execution(notebook)
        trains = model_lib.s7_models() if notebook == "S7.ipynb" else [model_lib.S6_FINAL]
        rows.append(
            {
                "notebook": f"`{notebook}`",
                "trains (seed 1, 15 epochs each)": f"`{trains[0]}`"
                + (f" ... `{trains[-1]}`" if len(trains) > 1 else ""),
                "minutes": (f"{done['seconds'] / 60:.0f}" if done["seconds"] else "not recorded")
                + (" (smoke run)" if done["smoke"] else ""),
                "executed on": f"{done['machine']}, {done['cores']} cores, {done['backend']}"
                if "backend" in done
                else "not recorded",
            }
        )
    return markdown_table(rows)


def hours(runs) -> str:
    return f"{sum(r.wall_time_s for r in runs) / 3600:.1f}"


def submission(rep: Report) -> str:
    """What regenerating the reference runs costs: the training time on record, by claimed model."""
    rows, seed1 = [], []
    for name in dict.fromkeys([model_lib.S7_FINAL, model_lib.S7_SMALLEST, model_lib.S6_FINAL]):
        runs = rep.runs.get(name, [])
        if not runs:
            continue
        seeds = [r.config["seed"] for r in runs]
        seed1 += runs[:1]
        rows.append(
            {
                "reference runs": f"`{name}`, seeds {seeds[0]}-{seeds[-1]}",
                "command": f"`python train.py --model {name} --seeds {' '.join(map(str, seeds))} --out results`",
                "hours of training on record": hours(runs),
            }
        )
    return (
        markdown_table(rows)
        + f"\n\nSeed 1 of each took {hours(seed1)} hours. The hours are the runs' own wall times on the machines "
        "that made them, alone or beside other runs (`results/*.json`, and the seed tables below say where)."
    )


def predict_demo(rep: Report) -> str:
    name = model_lib.S7_FINAL
    if not rep.has_weights(name):
        return "_No trained weights of the Session 7 model in results/._"
    digit = predict.mnist_style(example_digit(), EXAMPLE)
    net = load_trained(name, 1, rep.results_dir)
    probs = predict.probabilities(net, predict.to_input(digit))
    text = predict.report_line(Path(EXAMPLE), probs, None, as_json=False)[0]
    return "\n".join(
        [
            f"On [a digit drawn by `tools/report`]({EXAMPLE}), with `{name}` (seed 1):",
            "",
            f"{image('example_digit_seen.png', 'The example digit and what the network sees')}",
            "",
            "```",
            f"$ .venv/bin/python predict.py {EXAMPLE} --show seen.png",
            text,
            "```",
        ]
    )


def speed(rep: Report) -> str:
    path = rep.measured / "benchmark.json"
    if not path.exists():
        return "_Run `python -m tools.benchmark` to measure._"
    return benchmark.markdown(json.loads(path.read_text()))


def mutation(rep: Report) -> str:
    path = rep.measured / "mutation.json"
    if not path.exists():
        return "_Run `python -m tools.mutate` to measure._"
    return mutate.markdown(json.loads(path.read_text()))
