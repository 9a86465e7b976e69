"""Build S6.ipynb and S7.ipynb from model.py (their cells, not their outputs).

python -m tools.make_notebooks            # new, unexecuted notebooks: then `python -m tools.run_notebooks --out .`
python -m tools.make_notebooks --update   # rewrite the cells whose outputs cannot change (markdown, and code
                                          # cells without outputs such as the Colab set-up) of executed notebooks
"""

import argparse
import sys

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

import model
from tools.report import claims, extras, steps
from tools.report.results import Report, requirement_lines
from utils.course import S6, S6_OURS, S7, S7_ROBUST, S7_SMALLEST, SMOKE
from utils.paths import REPO, repository_slug

NOTEBOOKS = ("S6", "S7")

SMOKE_RUN = f"{SMOKE['epochs']} epoch on {SMOKE['train_limit']:,} training images, {SMOKE['eval_limit']:,} test images"
PARAMS = f"""# Parameters: papermill overrides these (tools/run_notebooks.py; the tests run a short smoke version).
SMOKE = False  # True: {SMOKE_RUN}
RESULTS_DIR = "runs"  # your runs; the committed reference runs are in results/
DATA_DIR = "data"
PROGRESS = True  # a live progress bar per epoch"""


def colab_badge(notebook: str) -> str:
    return (
        "[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]"
        f"(https://colab.research.google.com/github/{repository_slug()}/blob/main/{notebook})"
    )


# What requirements.txt names that a Colab runtime lacks (it has torch, numpy, matplotlib, ...): the set-up cell
# installs these, at the versions requirements.txt asks for.
COLAB_LACKS = ("torchsummary", "safetensors")


def colab_requirements() -> list[str]:
    """requirements.txt's lines for the packages Colab lacks."""
    return requirement_lines(*COLAB_LACKS)


def setup_cell() -> str:
    installs = " ".join(f'"{r}"' for r in colab_requirements())
    return f"""# In Colab: fetch the repository and install what Colab lacks. Elsewhere this does nothing.
import os, sys
if "google.colab" in sys.modules and not os.path.exists("model.py"):
    !git clone -q --depth 1 https://github.com/{repository_slug()}.git repo
    %cd repo
    %pip install -q {installs}
    import torch
    print(f"torch {{torch.__version__}}, training on {{'the GPU' if torch.cuda.is_available() else 'the CPU'}}")"""


IMPORTS = """import model
import utils

RUN = dict(utils.course.SMOKE) if SMOKE else {}
data = utils.load_mnist(DATA_DIR)
print(f"MNIST verified: {len(data.train_labels):,} training and {len(data.test_labels):,} test images, "
      f"training on {utils.default_device()}")
results = {}"""


def step_md(name: str, rep: Report) -> str:
    details = steps.details(name, rep)
    change = model.step_change(name)
    changed = f"**Change from {model.get_model(name).builds_on}.** {change}.\n\n" if change else ""
    return (
        f"## {name}\n\n**Target.** {model.get_target(name)}{' ' + details if details else ''}\n\n"
        f"{changed}"
        "**Results.** Printed below by the run: the summary, the receptive field, the per-epoch log "
        "and the curves.\n\n"
        f"**Analysis** (of the reference runs in `results/`). {steps.analysis(name, rep)}"
    )


def step_code(name: str) -> str:
    return (
        f'results["{name}"] = utils.run_step("{name}", results_dir=RESULTS_DIR, data_dir=DATA_DIR, '
        "progress=PROGRESS, **RUN)"
    )


# A final model's closing cell; the notebook checker reads its "<label>: <name>" line ("Final model: ...")
FINAL = """final = "{final}"
print(f"{label}: {{final}}")
utils.final_model(final, results[final], data, RESULTS_DIR, {bars})"""

RUNTIME = """**Runtime.** A CPU runtime is enough (Colab: Runtime > Change runtime type); a GPU is used when there is
one. {timing} A GPU run was not timed here.

**What to expect.** This notebook trains {trains} once each (seed 1) and prints every log, table and figure
itself. The reference runs, every seed of the final models, are in `results/`: the seed tables read them. A run on
another machine, or on a GPU, is a new draw: its last digits will differ from the reference runs."""

S7_TITLE = """# Session 7: {s7.min_acc:g}% on MNIST with {s7.params_text} parameters, step by step

{badge}

Target: at least {s7.min_acc:g}% test accuracy in **each of the last {s7.last} of at most {s7.max_epochs} epochs**, with
{s7.params_text} parameters. Every model is in `model.py` (`{first}` ... `{last}`); each step's Target says what it
changes. The notebook ends with the course's model, `{final}`. The reference runs in `results/`: {verdicts}

{runtime}"""

S6_TITLE = """# Session 6: {s6.min_acc:g}% on MNIST with {s6.params_text} parameters

{badge}

Target: at least {s6.min_acc:g}% test accuracy with {s6.params_text} parameters in at most {s6.max_epochs} epochs,
using BatchNorm, Dropout and global average pooling. Our bar: **{ours.min_acc:g}% in each of the last {ours.last} of
{ours.max_epochs} epochs**, on every one of 10 seeds. The reference runs of `{final}` in `results/`: {verdicts}

{runtime}"""


def verdicts(rep: Report, *targets: tuple) -> str:
    """How the reference runs of each (model, bar, whose bar) fare, as the README's results say it."""
    runs = rep.runs
    said = []
    for name, bar, whose in targets:
        if name in runs:
            met, how = claims.verdict(runs[name], bar)
            said.append(f"at {whose}, `{name}` {'meets it' if met else 'misses it'}: {how}")
    return "; ".join(said) + "." if said else "none yet."


def timing(which: str) -> str:
    """How long the committed notebook took when it was last executed, from its own metadata."""
    done = extras.execution(f"{which}.ipynb") if (REPO / f"{which}.ipynb").exists() else {}
    if not done.get("seconds") or "backend" not in done:
        return "Its running time has not been measured yet."
    return (
        f"Executed top to bottom, it took {done['seconds'] / 60:.0f} minutes on {done['machine']} "
        f"({done['cores']} cores, {done['backend']})."
    )


def build(which: str) -> nbformat.NotebookNode:
    rep = Report()
    if which == "S7":
        names = model.s7_models()
        runtime = RUNTIME.format(timing=timing(which), trains=f"`{names[0]}` ... `{names[-1]}`")
        title = S7_TITLE.format(
            badge=colab_badge("S7.ipynb"),
            s7=S7,
            first=names[0],
            last=names[-1],
            final=model.S7_FINAL,
            runtime=runtime,
            verdicts=verdicts(
                rep,
                (model.S7_FINAL, S7, "the course's bar"),
                (model.S7_SMALLEST, S7_SMALLEST, f"ours ({S7_SMALLEST.params_text} parameters)"),
                (model.S7_ROBUST, S7_ROBUST, f"ours on every seed ({S7_ROBUST.params_text} parameters)"),
            ),
        )
        # the smallest model as a step of its own, then the course's model last: the checker reads "Final model"
        finals = (
            [(model.S7_SMALLEST, "Smallest model", ("S7_SMALLEST",))] if model.S7_SMALLEST != model.S7_FINAL else []
        ) + [(model.S7_FINAL, "Final model", ("S7",))]
    else:
        names = [model.S6_FINAL]
        runtime = RUNTIME.format(timing=timing(which), trains=f"`{model.S6_FINAL}`")
        title = S6_TITLE.format(
            badge=colab_badge("S6.ipynb"),
            s6=S6,
            ours=S6_OURS,
            final=model.S6_FINAL,
            runtime=runtime,
            verdicts=verdicts(rep, (model.S6_FINAL, S6, "the course's bar"), (model.S6_FINAL, S6_OURS, "ours")),
        )
        finals = [(model.S6_FINAL, "Final model", ("S6", "S6_OURS"))]
    cells = [
        new_markdown_cell(title),
        new_code_cell(PARAMS, metadata={"tags": ["parameters"]}),
        new_code_cell(setup_cell()),
        new_code_cell(IMPORTS),
    ]
    for n in names:
        cells += [new_markdown_cell(step_md(n, rep)), new_code_cell(step_code(n))]
    if which == "S7":
        cells += [
            new_markdown_cell(
                "## Every step against the bar\n\n"
                "Each step's lowest test accuracy in its last 3 epochs, this notebook's runs (seed 1), "
                "fewest parameters at the top."
            ),
            new_code_cell(
                "utils.show(utils.plot_params_vs_accuracy({n: [r] for n, r in results.items()}, "
                '"Session 7 models (parameters; seeds that hold): this notebook\'s runs"))'
            ),
        ]
    for f, label, bars in finals:
        cells += [
            new_markdown_cell(
                f"## {label}, {f}: every seed, misclassified images, per-class accuracy\n\n"
                "The table reads every reference run of this model in `results/`; the "
                "figures show this notebook's own run."
            ),
            new_code_cell(FINAL.format(final=f, label=label, bars=", ".join(f"utils.course.{b}" for b in bars))),
        ]
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    return nb


def update(old: nbformat.NotebookNode, new: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The executed notebook with the sources of ``new`` where no output could depend on them."""
    if [c.cell_type for c in old.cells] != [c.cell_type for c in new.cells]:
        raise ValueError("the cells changed: rebuild and re-execute (python -m tools.run_notebooks --out .)")
    for o, n in zip(old.cells, new.cells, strict=True):
        if o.source != n.source and o.cell_type == "code" and o.get("outputs"):
            raise ValueError(f"a code cell with outputs changed: re-execute\n{n.source[:200]}")
        o.source = n.source
    return old


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(
        prog="python -m tools.make_notebooks", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--update", action="store_true", help="keep the outputs: rewrite only cells no output depends on")
    args = p.parse_args(argv)  # --help, or an unknown option, exits here, before any notebook is written
    for which in NOTEBOOKS:
        path = REPO / f"{which}.ipynb"
        new = build(which)
        if args.update:
            try:
                new = update(nbformat.read(path, as_version=4), new)
            except ValueError as err:
                print(f"make_notebooks.py: {path.name}: {err}", file=sys.stderr)
                return 1
        nbformat.write(new, path)
        print("wrote", path.name)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
