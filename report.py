"""Turn results/*.json into the README's tables and the figures in results/figures/.

    python report.py           # rewrite the generated parts of README.md and the figures
    python report.py --check   # exit 1 if README.md or a figure differs from what results/ gives

Only the parts of README.md between <!-- generated:NAME --> and <!-- /generated:NAME --> are
written; everything else in it is left as it is.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import re
import sys
from pathlib import Path

import model as model_lib
import utils

README = utils.REPO / "README.md"
FIGURES = utils.DEFAULT_RESULTS_DIR / "figures"
S7_FINAL, S7_SMALLEST, S6_FINAL = model_lib.S7_FINAL, model_lib.S7_SMALLEST, model_lib.S6_FINAL
MIN_SEEDS = 5  # a claim that the bar holds "on every seed" needs at least this many
BOOKKEEPING = {"model", "seed", "tag", "layers", "eval_split", "epochs", "val_size", "train_limit", "eval_limit"}
BLOCK = re.compile(r"(<!-- generated:(\S+) -->\n)(.*?)(<!-- /generated:\2 -->)", re.S)


class Report:
    """Everything the README shows, computed from one results folder."""

    def __init__(self, results_dir: Path = utils.DEFAULT_RESULTS_DIR, figures: Path = FIGURES):
        self.results_dir = Path(results_dir)
        self.figures = Path(figures)
        self.runs = {}
        for r in utils.load_results(self.results_dir):
            self.runs.setdefault(r.model, []).append(r)
        for runs in self.runs.values():
            runs.sort(key=lambda r: r.config["seed"])
        self.selection = utils.load_results(self.results_dir / "val")
        self._drawn = None

    def seed1(self, name: str) -> utils.Result:
        return self.runs[name][0]

    # ------------------------------------------------------------------ figures
    def figure_files(self) -> dict[str, callable]:
        """File name -> function making the figure, for every figure the README links."""
        figs = {}
        steps = [n for n in model_lib.s7_models() if n in self.runs]
        if steps:
            figs["s7_steps_curves.png"] = lambda: utils.plot_curves(
                [self.seed1(n) for n in steps], "Session 7 steps (seed 1): loss and accuracy per epoch"
            )
            figs["s7_params_vs_accuracy.png"] = lambda: utils.plot_params_vs_accuracy(
                {n: self.runs[n] for n in steps},
                "Session 7: parameters against test accuracy\n(last 3 epochs, mean and std over seeds)",
            )
        for name in (S7_FINAL, S7_SMALLEST, S6_FINAL):
            if name not in self.runs:
                continue
            runs = self.runs[name]
            figs[f"{name}_curves.png"] = lambda runs=runs, name=name: utils.plot_curves(runs, f"{name}: every seed")
            figs[f"{name}_lr.png"] = lambda runs=runs: utils.plot_lr(runs[:1])
            figs[f"{name}_misclassified.png"] = lambda runs=runs: utils.plot_misclassified(runs[0], self.test_set()[0])
            figs[f"{name}_per_class.png"] = lambda runs=runs: utils.plot_per_class(runs[0])
            figs[f"{name}_confusion.png"] = lambda runs=runs: utils.plot_confusion(runs[0])
            if self.has_weights(name):
                figs[f"{name}_cam.png"] = lambda name=name: utils.plot_class_activation_maps(
                    utils.load_trained(name, 1, self.results_dir),
                    *self.test_set(),
                    f"{name} (seed 1): class activation maps of test digits; misclassified ones with the map "
                    "of the predicted and of the true class",
                )
        if self.has_weights(S7_FINAL):
            figs["example_digit.png"] = example_png
            figs["example_digit_seen.png"] = example_figure
        return figs

    def has_weights(self, name: str) -> bool:
        return utils.weights_path(utils.result_path(self.results_dir, f"{name}-seed1")).exists()

    def test_set(self) -> tuple:
        data = utils.load_mnist(log=lambda s: None)
        return data.test_images, data.test_labels

    def drawn_figures(self) -> dict[str, tuple[str, bytes]]:
        """File name -> (fingerprint, PNG bytes) of every figure; drawn once per Report, since a check compares
        them more than once and drawing them all takes seconds."""
        if self._drawn is None:
            import matplotlib.pyplot as plt

            self._drawn = {}
            for file_name, make in self.figure_files().items():
                made = make()
                if isinstance(made, bytes):  # an image file itself, not a plot
                    self._drawn[file_name] = (hashlib.sha256(made).hexdigest(), made)
                    continue
                buf = io.BytesIO()
                made.savefig(buf, format="png", dpi=100, metadata={"Software": None})
                plt.close(made)
                self._drawn[file_name] = (fingerprint(made), buf.getvalue())
        return self._drawn

    def write_figures(self, folder: Path) -> dict[str, str]:
        """Write every figure into ``folder`` with the fingerprints file; returns the fingerprints."""
        import matplotlib

        folder.mkdir(parents=True, exist_ok=True)
        prints = {}
        for file_name, (value, png) in self.drawn_figures().items():
            prints[file_name] = value
            utils.write_atomic(folder / file_name, png)
        record = {"matplotlib": matplotlib.__version__, "figures": prints}
        utils.write_atomic(folder / FINGERPRINTS, (json.dumps(record, indent=1, sort_keys=True) + "\n").encode())
        return prints

    def image(self, file_name: str, alt: str) -> str:
        return f"![{alt}]({FIGURES.relative_to(utils.REPO).as_posix()}/{file_name})"

    # ------------------------------------------------------------------- blocks
    def block_targets(self) -> str:
        rows = []
        spec = [
            ("Session 6 (course)", S6_FINAL, "fewer than 20,000", 20, 99.4),
            ("Session 6 (ours)", S6_FINAL, "fewer than 20,000", 15, 99.5),
            ("Session 7 (course)", S7_FINAL, "fewer than 8,000", 15, 99.4),
            ("Session 7 (ours)", S7_SMALLEST, "at most 3,500", 15, 99.4),
        ]
        holding = [
            n
            for n in model_lib.s7_models()
            if len(self.runs.get(n, [])) >= MIN_SEEDS and all(utils.meets_bar(r, 99.4) for r in self.runs[n])
        ]
        note = ""
        if holding:
            smallest = min(holding, key=lambda n: self.runs[n][0].params)
            label = f"Session 7, smallest model that holds the bar on every seed (at least {MIN_SEEDS})"
            spec.append((label, smallest, "fewest", 15, 99.4))
        else:
            tried = [n for n in model_lib.s7_models() if len(self.runs.get(n, [])) >= MIN_SEEDS]
            note = (
                f"\n\nNo Session 7 model holds the bar on every one of at least {MIN_SEEDS} seeds "
                f"(models with {MIN_SEEDS} or more seeds: {', '.join(f'`{n}`' for n in tried) or 'none'})."
            )
        for label, name, budget, max_epochs, bar in spec:
            if name not in self.runs:
                continue
            runs = self.runs[name]
            mean, _, low = utils.last_epochs_stats(runs)
            held = sum(utils.meets_bar(r, bar, 3, max_epochs) for r in runs)
            rows.append(
                {
                    "target": label,
                    "parameters": budget,
                    "epochs": f"at most {max_epochs}",
                    "each of the last 3 epochs": f">= {bar:.2f}%",
                    "model": f"`{name}`",
                    "its parameters": f"{runs[0].params:,}",
                    "its last 3 epochs, all seeds": f"mean {mean:.2f}%, min {low:.2f}%",
                    "seeds that meet the target": f"{held} of {len(runs)}",
                }
            )
        return utils.markdown_table(rows) + note

    def block_frontier(self) -> str:
        """Parameters against the last 3 epochs' test accuracy, over every seed of every Session 7 model."""
        rows = []
        for name in sorted((n for n in model_lib.s7_models() if n in self.runs), key=lambda n: self.runs[n][0].params):
            runs = self.runs[name]
            mean, std, low = utils.last_epochs_stats(runs)
            held = sum(utils.meets_bar(r, 99.4) for r in runs)
            rows.append(
                {
                    "model": f"`{name}`",
                    "parameters": f"{runs[0].params:,}",
                    "seeds": len(runs),
                    "last 3 epochs: mean": f"{mean:.2f}%",
                    "std": f"{std:.3f}",
                    "min": f"{low:.2f}%",
                    "seeds with each of the last 3 >= 99.40%": f"{held} of {len(runs)}",
                }
            )
        plot = self.image("s7_params_vs_accuracy.png", "Parameters against accuracy")
        return utils.markdown_table(rows) + "\n\n" + plot

    def step_results(self, name: str) -> str:
        r = self.seed1(name)
        accs = r.accuracies()
        best = max(range(len(accs)), key=accs.__getitem__)
        return utils.markdown_table(
            [
                {
                    "parameters": f"{r.params:,}",
                    "epochs": len(accs),
                    "best test accuracy": f"{accs[best]:.2f}% (epoch {best + 1})",
                    "last 3 epochs": ", ".join(f"{a:.2f}%" for a in r.last(3)),
                    "final train accuracy": f"{r.history[-1].train_acc:.2f}%",
                    "train - test, final epoch": f"{r.history[-1].train_acc - accs[-1]:+.2f}",
                }
            ]
        )

    def block_s7_steps(self) -> str:
        parts = []
        for name in model_lib.s7_models():
            if name not in self.runs:
                continue
            cls = model_lib._REGISTRY[name]
            doc = model_lib.get_details(name)
            parts.append(
                f"### {name}\n\n**Target.** {model_lib.get_target(name)} {doc}\n\n"
                f"**Results** (seed 1, `results/{name}-seed1.json`):\n\n{self.step_results(name)}\n\n"
                f"**Analysis.** {' '.join(getattr(cls, 'analysis', '').split())}\n"
            )
        parts.append(self.image("s7_steps_curves.png", "Session 7 steps: curves"))
        return "\n".join(parts)

    def block_final(self, name: str) -> str:
        runs = self.runs[name]
        net = model_lib.get_model(name)
        r = runs[0]
        n_eval = sum(map(sum, r.confusion_matrix))
        log = []
        for h in r.history:
            log.append(utils.epoch_line(h))
            correct = round(h.eval_acc * n_eval / 100)
            log.append(utils.course_line("Test", utils.Evaluation(h.eval_loss, correct, n_eval, None)))
        per_class = utils.markdown_table(
            [{"digit": d, "accuracy (%)": f"{a:.2f}"} for d, a in enumerate(r.per_class_accuracy)]
        )
        env = r.environment
        seeds = " ".join(str(s) for s in sorted(run.config["seed"] for run in runs))
        return "\n".join(
            [
                f"Every seed (`python train.py --model {name} --seeds {seeds} --out results`):\n",
                utils.seeds_table(runs),
                "",
                f"Trained on {env.get('device')}, torch {env.get('torch')}, {env.get('threads')} threads.\n",
                "<details><summary>torchsummary</summary>\n",
                "```",
                utils.model_summary(net).strip(),
                "```",
                "</details>\n",
                "Receptive field, computed from the layers by `utils.receptive_field_table`:\n",
                utils.receptive_field_markdown(net),
                "",
                "<details><summary>Training log, seed 1</summary>\n",
                "```",
                *log,
                "```",
                "</details>\n",
                self.image(f"{name}_curves.png", f"{name} curves"),
                self.image(f"{name}_lr.png", f"{name} learning rate"),
                self.image(f"{name}_misclassified.png", f"{name} misclassified"),
                self.image(f"{name}_per_class.png", f"{name} per-class accuracy"),
                self.image(f"{name}_confusion.png", f"{name} confusion matrix"),
                *([self.image(f"{name}_cam.png", f"{name} class activation maps")] if self.has_weights(name) else []),
                "",
                "<details><summary>Per-class test accuracy, seed 1</summary>\n",
                per_class,
                "</details>",
            ]
        )

    def block_selection(self) -> str:
        """Every validation run on record: the search's trials, pruned ones included, and earlier choices."""
        if not self.selection:
            return "_No validation runs in results/val._"
        rows = []
        for r in sorted(self.selection, key=search_order):
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
        return self.stage_summary() + "\n\n" + utils.markdown_table(rows)

    def block_calibration(self) -> str:
        """A registered model's own stack and recipe, run on the validation split by the search and on the
        test set as a reference run, with the same seed."""
        rows = []
        for r in self.selection:
            c = r.config
            if len(r.history) < c["epochs"] or recipe_changes(c):
                continue
            for name in model_lib.s7_models():
                test = [t for t in self.runs.get(name, []) if t.config["seed"] == c["seed"]]
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
        return utils.markdown_table(rows) if rows else "_No model has both a validation and a test run yet._"

    def block_learned(self) -> str:
        """What each idea bought on its own: search runs of one stack and seed that differ in one recipe setting from
        a full-schedule run of that stack and seed (the plain recipe, or the same other changes); a pruned run is
        compared at the epoch where it was stopped."""
        search_runs = [r for r in self.selection if r.config.get("layers")]
        full = {
            (r.config.get("layers"), r.config["seed"], frozenset(recipe_changes(r.config))): r
            for r in search_runs
            if len(r.history) == r.config["epochs"] == 15
        }
        rows = []
        for r in sorted(search_runs, key=lambda r: r.name):
            changes = recipe_changes(r.config)
            if r.config["epochs"] != 15:
                continue
            for change in changes:
                others = [c for c in changes if c != change]
                base = full.get((r.config.get("layers"), r.config["seed"], frozenset(others)))
                if base is not None:
                    rows.append(self.learned_row(r, base, change, others))
        rows.sort(
            key=lambda row: (row["compared on"] != "last 3 epochs (mean)", -float(row["difference"]), row["seed"])
        )
        return utils.markdown_table(rows) if rows else "_No one-change runs in results/val yet._"

    def block_seed_spread(self) -> str:
        """Every stack and recipe of the search run to the end on more than one seed: how far its seeds lie apart,
        which is how large a gap between two one-seed runs must be before it says something."""
        groups: dict[tuple, list[utils.Result]] = {}
        for r in self.selection:
            c = r.config
            if c.get("layers") and len(r.history) == c["epochs"] == 15:
                groups.setdefault((c["layers"], ", ".join(recipe_changes(c)) or "-"), []).append(r)
        rows = []
        for (layers, changes), runs in groups.items():
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
                }
            )
        rows.sort(key=lambda row: (-float(row["mean over seeds"]), row["stack"]))
        return utils.markdown_table(rows) if rows else "_No stack has run on more than one seed yet._"

    @staticmethod
    def learned_row(r: utils.Result, base: utils.Result, change: str, others: list[str]) -> dict:
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
        }

    def stage_summary(self) -> str:
        """How many runs each stage of the search took, and how many of them were pruned."""
        rows = []
        for i, stage in enumerate((*STAGES, "other")):
            runs = [r for r in self.selection if search_order(r)[0] == i]
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
        return utils.markdown_table(rows)

    def block_predict(self) -> str:
        if not self.has_weights(S7_FINAL):
            return "_No trained weights of the Session 7 model in results/._"
        import predict

        digit = predict.mnist_style(example_digit(), EXAMPLE)
        net = utils.load_trained(S7_FINAL, 1, self.results_dir)
        probs = predict.probabilities(net, predict.to_input(digit))
        text, as_json = (predict.report_line(Path(EXAMPLE), probs, None, form)[0] for form in (False, True))
        return "\n".join(
            [
                f"On [a digit drawn by `report.py`]({EXAMPLE}), with `{S7_FINAL}` (seed 1):",
                "",
                "```bash",
                f".venv/bin/python predict.py {EXAMPLE} --show seen.png",
                "```",
                "",
                f"{self.image('example_digit_seen.png', 'The example digit and what the network sees')}",
                "",
                "```",
                text,
                "```",
                "",
                "and with `--json`:",
                "",
                "```",
                as_json,
                "```",
            ]
        )

    def block_benchmark(self) -> str:
        path = self.results_dir / "benchmark.json"
        if not path.exists():
            return "_Run `python benchmark.py` to measure._"
        import benchmark

        return benchmark.markdown(json.loads(path.read_text()))

    def block_mutation(self) -> str:
        path = self.results_dir / "mutation.json"
        if not path.exists():
            return "_Run `python mutate.py` to measure._"
        import mutate

        return mutate.markdown(json.loads(path.read_text()))

    def blocks(self) -> dict[str, str]:
        out = {
            "targets": self.block_targets,
            "s7-steps": self.block_s7_steps,
            "s7-frontier": self.block_frontier,
            "selection": self.block_selection,
            "benchmark": self.block_benchmark,
            "mutation": self.block_mutation,
            "calibration": self.block_calibration,
            "learned": self.block_learned,
            "seed-spread": self.block_seed_spread,
            "predict": self.block_predict,
        }
        for name, key in ((S7_FINAL, "s7-final"), (S7_SMALLEST, "s7-smallest"), (S6_FINAL, "s6-final")):
            if name in self.runs:
                out[key] = lambda name=name: self.block_final(name)
        if S7_SMALLEST == S7_FINAL and S7_FINAL in self.runs:  # one model meets both bars: its section once
            out["s7-smallest"] = lambda: (
                f"`{S7_SMALLEST}`, the Session 7 model above, is also the smallest: its seeds, summary and figures "
                "are in that section."
            )
        return {k: f() for k, f in out.items()}


EXAMPLE = "results/figures/example_digit.png"
FINGERPRINTS = "fingerprints.json"


def fingerprint(fig) -> str:
    """A hash of what a figure shows (titles, labels, texts, line data, images, bars), not of its pixels:
    the same for any matplotlib or font version that draws the same data."""
    import numpy as np

    def arr(values) -> list:
        return np.round(np.asarray(values, dtype=float), 5).tolist()

    parts = [fig._suptitle.get_text() if fig._suptitle else ""]
    for ax in fig.axes:
        parts += [
            ax.get_title(),
            ax.get_xlabel(),
            ax.get_ylabel(),
            [t.get_text() for t in ax.texts],
            [(line.get_label(), arr(line.get_xdata()), arr(line.get_ydata())) for line in ax.get_lines()],
            [arr(im.get_array()) for im in ax.get_images()],
            [arr([p.get_x(), p.get_y(), p.get_width(), p.get_height()]) for p in ax.patches if hasattr(p, "get_width")],
        ]
    # Every part is a str or a list of floats: anything else is a TypeError here, not a repr with an address in it.
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()


def example_digit():
    """A 7 drawn in dark ink on light paper, off-centre, with a crossbar: the README's example input."""
    import numpy as np
    from PIL import Image, ImageDraw

    img = Image.new("L", (120, 150), 235)
    pen = ImageDraw.Draw(img)
    pen.line([(30, 30), (95, 28), (80, 60), (62, 100), (52, 130)], fill=25, width=9, joint="curve")
    pen.line([(50, 78), (88, 76)], fill=25, width=7)
    return np.asarray(img, dtype=np.float32) / 255.0


def example_png() -> bytes:
    """The example as the PNG file that predict.py reads."""
    import numpy as np
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.rint(example_digit() * 255).astype(np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


def example_figure():
    import predict

    gray = example_digit()
    fig, ax = utils._figure(2, 1, (2.4, 2.6))
    ax[0][0].imshow(gray, cmap="gray", vmin=0, vmax=1)
    ax[0][0].set_title("drawn example", fontsize=8)
    ax[0][1].imshow(predict.mnist_style(gray), cmap="gray", vmin=0, vmax=1)
    ax[0][1].set_title("what the network sees (28x28)", fontsize=8)
    for a in ax[0]:
        a.axis("off")
    fig.tight_layout()
    return fig


STAGES = ("probe", "full", "recipe", "grid")


def recipe_changes(config: dict) -> list[str]:
    """How a run's recipe differs from its model's own (a dropout of -1 is the model's own rate). A run of a
    model that is no longer registered shows its recorded recipe."""
    if config["model"] not in model_lib.list_models():
        keys = ("lr", "schedule", "weight_decay", "rotate", "scale", "translate")
        return ["as recorded: " + ", ".join(f"{k.replace('_', ' ')} {config[k]}" for k in keys if k in config)]
    base = utils.TrainConfig.for_model(config["model"])
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


def search_order(r: utils.Result) -> tuple:
    """Search runs by stage (probe, full, recipe, grid), best first; other validation runs after them."""
    tag = r.config.get("tag", "")
    stage = next((i for i, s in enumerate(STAGES) if tag.startswith(s + "-")), len(STAGES))
    import search

    done = len(r.history) == r.config["epochs"]
    return stage, -len(r.history), -(search.objective_value(r, r.config["epochs"]) if done else 0.0), r.name


def render_readme(text: str, blocks: dict[str, str]) -> str:
    def replace(m: re.Match) -> str:
        body = blocks.get(m.group(2))
        if body is None:
            return m.group(0)
        return m.group(1) + body.rstrip() + "\n" + m.group(4)

    return BLOCK.sub(replace, text)


def check(report: Report, readme: Path = README, figures: Path | None = None) -> list[str]:
    """What differs between a README and figures folder (the committed ones by default) and what results/ gives."""
    figures = report.figures if figures is None else Path(figures)
    problems = []
    text = Path(readme).read_text()
    if render_readme(text, report.blocks()) != text:
        problems.append("README.md differs from what results/ gives: run python report.py")
    link = FIGURES.relative_to(utils.REPO).as_posix()
    recorded = json.loads((figures / FINGERPRINTS).read_text()) if (figures / FINGERPRINTS).exists() else {}
    import matplotlib

    # Pixels are compared only with the matplotlib that drew the committed figures; what they show, always.
    same_drawing = recorded.get("matplotlib") == matplotlib.__version__
    fresh = report.drawn_figures()
    for name, (value, png) in fresh.items():
        committed = figures / name
        if (
            not committed.exists()
            or recorded.get("figures", {}).get(name) != value
            or (same_drawing and committed.read_bytes() != png)
        ):
            problems.append(f"{link}/{name} differs from what results/ gives")
        if f"]({link}/{name})" not in text:
            problems.append(f"README.md does not link {name}")
    problems += [f"{link}/{name} is no longer made by report.py" for name in stale_figures(figures, fresh)]
    return problems


def stale_figures(folder: Path, made: dict[str, str]) -> list[str]:
    """Images in the figures folder that report.py does not make (any more)."""
    return sorted(p.name for p in Path(folder).glob("*.png") if p.name not in made)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--check", action="store_true", help="compare instead of writing")
    args = p.parse_args(argv)
    report = Report()
    if not report.runs:
        print("report.py: error: no results files in results/", file=sys.stderr)
        return 1
    if args.check:
        problems = check(report)
        for line in problems:
            print(line)
        print("README.md and figures agree with results/" if not problems else f"{len(problems)} difference(s)")
        return 1 if problems else 0
    written = report.write_figures(report.figures)
    for name in stale_figures(report.figures, written):
        (report.figures / name).unlink()
        print(f"removed {name}: no longer made")
    README.write_text(render_readme(README.read_text(), report.blocks()))
    print(f"wrote README.md and {len(written)} figures in {report.figures.relative_to(utils.REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
