"""The blocks about the search on the validation split: every run on record by stage, the calibration of
validation against test, what each recipe change bought on its own, and how far seeds lie apart."""

from __future__ import annotations

import model as model_lib
from tools.report.results import Report
from tools.search import STAGES, objective_value
from tools.search_training import SearchConfig
from utils.config import Result
from utils.inspection import markdown_table
from utils.recipe import config_for

BOOKKEEPING = {"model", "seed", "tag", "layers", "eval_split", "epochs", "val_size", "train_limit", "eval_limit"}


def selection(rep: Report) -> str:
    """Every validation run on record: the search's trials, pruned ones included, and earlier choices."""
    if not rep.selection:
        return "_No validation runs in results/val._"
    rows = []
    for r in sorted(rep.selection, key=search_order):
        c = r.config
        changed = recipe_changes(c)
        epochs = f"{len(r.history)} of {c['epochs']}" + (" (pruned)" if len(r.history) < c["epochs"] else "")
        last = r.last(3)
        rows.append(
            {
                "run": r.name,
                "layers": c.get("layers") or f"`{c['model']}` as of {r.environment.get('git_commit', '')[:7]}",
                "parameters": f"{r.params:,}",
                "seed": c["seed"],
                "epochs": epochs,
                "recipe: changes from its model's": ", ".join(changed) or "-",
                "validation, last 3 epochs (%)": ", ".join(f"{a:.2f}" for a in last),
                "mean": f"{sum(last) / len(last):.2f}",
                "min": f"{min(last):.2f}",
                "seconds": f"{r.wall_time_s:.0f}",
            }
        )
    return stage_summary(rep) + "\n\n" + markdown_table(rows)


def calibration(rep: Report) -> str:
    """A registered model's own stack and recipe, run on the validation split by the search and on the
    test set as a reference run, with the same seed."""
    rows = []
    for r in rep.selection:
        c = r.config
        if len(r.history) < c["epochs"] or recipe_changes(c):
            continue
        for name in model_lib.s7_models():
            test = [t for t in rep.runs.get(name, []) if t.config["seed"] == c["seed"]]
            net = model_lib.get_model(name)
            if not test or c["model"] != name or c.get("layers") != " ".join(net.layers):
                continue
            if c["epochs"] != len(test[0].history):  # a probe's short schedule is not the same run
                continue
            v, t = r.last(3), test[0].last(3)
            rows.append(
                {
                    "model": f"`{name}`",
                    "seed": c["seed"],
                    "validation, last 3 epochs (%)": ", ".join(f"{a:.2f}" for a in v),
                    "test, last 3 epochs (%)": ", ".join(f"{a:.2f}" for a in t),
                    "test - validation (mean)": f"{(sum(t) - sum(v)) / 3:+.2f}",
                }
            )
    return markdown_table(rows) if rows else "_No model has both a validation and a test run yet._"


def machine(r: Result) -> str:
    return r.environment.get("device", "?")


def learned(rep: Report) -> str:
    """What each idea bought on its own: search runs of one stack and seed that differ in one recipe setting from
    a full-schedule run of that stack and seed (the plain recipe, or the same other changes); a pruned run is
    compared at the epoch where it was stopped. Another machine's run is another draw: a base made on the run's own
    machine is preferred, and the table says when the base ran elsewhere."""
    search_runs = [r for r in rep.selection if r.config.get("layers")]

    def key(r: Result, changes: list[str]) -> tuple:
        return r.config.get("layers"), r.config["seed"], frozenset(changes)

    full: dict[tuple, list[Result]] = {}
    for r in search_runs:
        if len(r.history) == r.config["epochs"] == 15:
            full.setdefault(key(r, recipe_changes(r.config)), []).append(r)
    rows = []
    for r in sorted(search_runs, key=lambda r: r.name):
        changes = recipe_changes(r.config)
        if r.config["epochs"] != 15:
            continue
        for change in changes:
            others = [c for c in changes if c != change]
            bases = full.get(key(r, others), [])
            if bases:
                same = [b for b in bases if machine(b) == machine(r)]
                rows.append(learned_row(r, min(same or bases, key=lambda b: b.name), change, others))
    rows.sort(key=lambda row: (row["compared on"] != "last 3 epochs (mean)", -float(row["difference"]), row["seed"]))
    return markdown_table(rows) if rows else "_No one-change runs in results/val yet._"


def seed_spread(rep: Report) -> str:
    """Every stack and recipe of the search run to the end on more than one seed: how far its seeds lie apart,
    which is how large a gap between two one-seed runs must be before it says something. A grid point that trains
    as another one does, under its own name, was run again elsewhere: its seeds make a row of their own."""
    groups: dict[tuple, list[Result]] = {}
    for r in rep.selection:
        c = r.config
        if c.get("layers") and len(r.history) == c["epochs"] == 15:
            groups.setdefault((c["layers"], ", ".join(recipe_changes(c)) or "-", c["tag"]), []).append(r)
    rows = []
    for (layers, changes, _), runs in groups.items():
        if len({r.config["seed"] for r in runs}) < 2:
            continue
        runs.sort(key=lambda r: r.config["seed"])
        means = [sum(r.last(3)) / 3 for r in runs]
        rows.append(
            {
                "stack": layers,
                "recipe: changes from its model's": changes,
                "parameters": f"{runs[0].params:,}",
                "seeds": " ".join(str(r.config["seed"]) for r in runs),
                "validation, mean of the last 3 epochs, per seed (%)": ", ".join(f"{m:.2f}" for m in means),
                "mean over seeds": f"{sum(means) / len(means):.2f}",
                "spread (max - min)": f"{max(means) - min(means):.2f}",
                "ran on": ", ".join(sorted({machine(r) for r in runs})),
            }
        )
    rows.sort(key=lambda row: (-float(row["mean over seeds"]), row["stack"]))
    return markdown_table(rows) if rows else "_No stack has run on more than one seed yet._"


def learned_row(r: Result, base: Result, change: str, others: list[str]) -> dict:
    n = len(r.history)
    mine, theirs = (r.last(3), base.last(3)) if n == 15 else ([r.accuracies()[-1]], [base.accuracies()[n - 1]])
    mean, base_mean = sum(mine) / len(mine), sum(theirs) / len(theirs)
    return {
        "stack": r.config["layers"],
        "seed": r.config["seed"],
        "change": change,
        "on top of": ", ".join(others) or "-",
        "compared on": "last 3 epochs (mean)" if n == 15 else f"epoch {n} (pruned there)",
        "validation": f"{mean:.2f}%",
        "without the change": f"{base_mean:.2f}%",
        "difference": f"{mean - base_mean:+.2f}",
        "base made on": "the same machine" if machine(base) == machine(r) else machine(base),
    }


def stage_summary(rep: Report) -> str:
    """How many runs each stage of the search took, and how many of them were pruned."""
    rows = []
    for i, stage in enumerate((*STAGES, "other")):
        runs = [r for r in rep.selection if search_order(r)[0] == i]
        if not runs:
            continue
        pruned = sum(len(r.history) < r.config["epochs"] for r in runs)
        rows.append(
            {
                "stage": stage,
                "runs": len(runs),
                "pruned": pruned,
                "candidates": len({r.config.get("layers") or r.config["model"] for r in runs}),
                "epochs trained": sum(len(r.history) for r in runs),
                "hours of training": f"{sum(r.wall_time_s for r in runs) / 3600:.1f}",
            }
        )
    return markdown_table(rows)


def recipe_changes(config: dict) -> list[str]:
    """How a run's recipe differs from its model's own (a dropout of -1 is the model's own rate). A run of a
    model that is no longer registered shows its recorded recipe."""
    if config["model"] not in model_lib.list_models():
        keys = ("lr", "schedule", "weight_decay", "rotate", "scale", "translate")
        return ["as recorded: " + ", ".join(f"{k.replace('_', ' ')} {config[k]}" for k in keys if k in config)]
    base = config_for(config["model"], SearchConfig)
    own_dropout = model_lib.get_model(config["model"]).dropout
    changed = []
    augmentation = ("rotate", "scale", "translate")
    factors = {round(config[k] / getattr(base, k), 6) for k in augmentation if getattr(base, k)}
    if len(factors) == 1 and factors != {1.0}:  # the three scaled together: one change
        changed.append(f"augmentation x{factors.pop():g}")
        config = {k: v for k, v in config.items() if k not in augmentation}
    for k, v in config.items():
        if k in BOOKKEEPING or k == "teacher" or k not in base.__dataclass_fields__:
            continue
        if k == "dropout" and v in (-1, own_dropout):
            continue
        if v != getattr(base, k):
            changed.append(f"{k.replace('_', ' ')} {v:g}" if isinstance(v, float) else f"{k.replace('_', ' ')} {v}")
    return changed


def search_order(r: Result) -> tuple:
    """Search runs by stage (probe, full, recipe, grid), best first; other validation runs after them."""
    tag = r.config.get("tag", "")
    stage = next((i for i, s in enumerate(STAGES) if tag.startswith(s + "-")), len(STAGES))
    done = len(r.history) == r.config["epochs"]
    return stage, -len(r.history), -(objective_value(r, r.config["epochs"]) if done else 0.0), r.name
