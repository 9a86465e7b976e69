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
from utils.paths import REPO, repository_slug

NOTEBOOKS = ("S6", "S7")

PARAMS = """# Parameters: papermill overrides these (run_notebooks.py; the tests run a seconds-long smoke version).
SMOKE = False  # True: 1 epoch on 2,048 training images, evaluated on 1,000 test images
RESULTS_DIR = "runs"  # your runs; the committed reference runs are in results/
DATA_DIR = "data"
PROGRESS = True  # a live progress bar per epoch"""


def colab_badge(notebook: str) -> str:
    return (
        "[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]"
        f"(https://colab.research.google.com/github/{repository_slug()}/blob/main/{notebook})"
    )


def setup_cell() -> str:
    return f"""# In Colab: fetch the repository and install what Colab lacks. Elsewhere this does nothing.
import os, sys
if "google.colab" in sys.modules and not os.path.exists("model.py"):
    !git clone -q --depth 1 https://github.com/{repository_slug()}.git repo
    %cd repo
    %pip install -q torchsummary safetensors"""


IMPORTS = """import model
import utils

RUN = dict(epochs=1, train_limit=2048, eval_limit=1000) if SMOKE else {}
data = utils.load_mnist(DATA_DIR)
print(f"MNIST verified: {len(data.train_labels):,} training and {len(data.test_labels):,} test images, "
      f"training on {utils.default_device()}")
results = {}"""


def step_md(name: str) -> str:
    rest = model.get_details(name)
    analysis = model.get_analysis(name) or "_See the README._"
    return (
        f"## {name}\n\n**Target.** {model.get_target(name)} {rest}\n\n"
        "**Results.** Printed below by the run: the summary, the receptive field, the per-epoch log "
        "and the curves.\n\n"
        f"**Analysis** (of the reference run, `results/{name}-seed1.json`). {analysis}"
    )


def step_code(name: str) -> str:
    return (
        f'results["{name}"] = utils.run_step("{name}", results_dir=RESULTS_DIR, data_dir=DATA_DIR, '
        "progress=PROGRESS, **RUN)"
    )


FINAL = """final = "{final}"
print(f"Final model: {{final}}")
reference = utils.load_results(utils.DEFAULT_RESULTS_DIR, final)
print(f"Reference runs of {{final}} in results/, every seed on record:")
print(utils.seeds_table(reference))
best = results[final]  # this notebook's own run
utils.show(utils.plot_misclassified(best, data.test_images))
# Where the network looks: the class activation maps of its own weights (saved beside its results file)
net = utils.load_run(utils.result_path(RESULTS_DIR, best.name))
utils.show(utils.plot_class_activation_maps(net, data.test_images, data.test_labels,
                                            f"{{final}}: class activation maps of test digits"))
utils.show(utils.plot_per_class(best))
utils.show(utils.plot_confusion(best))
utils.show(utils.plot_lr([best]))"""

S7_TITLE = """# Session 7: 99.4% on MNIST with fewer than 8,000 parameters, step by step

{badge}

Target: at least 99.4% test accuracy in **each of the last 3 of at most 15 epochs**, with fewer than 8,000
parameters. Every model is in `model.py` (`{first}` ... `{last}`); each step's Target says what it changes.
The per-epoch logs, tables and figures of the steps are printed by this notebook's own runs; the seed tables
of the final models read the reference runs in `results/`, where `python train.py --model NAME --seeds ...
--out results` wrote them. Architectures and hyperparameters were chosen on 10,000 images held out of the
training set (`search.py`, `results/val/`); the test set is only evaluated."""

S6_TITLE = """# Session 6: 99.5% on MNIST with fewer than 20,000 parameters

{badge}

Target: at least 99.4% test accuracy with fewer than 20,000 parameters in at most 20 epochs, using BatchNorm,
Dropout and global average pooling. Our bar: **99.5% in each of the last 3 of 15 epochs**, on every seed.
The per-epoch log and figures are printed by this notebook's own run; the seed table reads the reference runs
in `results/`."""


def build(which: str) -> nbformat.NotebookNode:
    if which == "S7":
        names = model.s7_models()
        title = S7_TITLE.format(badge=colab_badge("S7.ipynb"), first=names[0], last=names[-1])
        finals = [model.S7_FINAL] + ([model.S7_SMALLEST] if model.S7_SMALLEST != model.S7_FINAL else [])
    else:
        names = [model.S6_FINAL]
        title = S6_TITLE.format(badge=colab_badge("S6.ipynb"))
        finals = [model.S6_FINAL]
    cells = [
        new_markdown_cell(title),
        new_code_cell(PARAMS, metadata={"tags": ["parameters"]}),
        new_code_cell(setup_cell()),
        new_code_cell(IMPORTS),
    ]
    for n in names:
        cells += [new_markdown_cell(step_md(n)), new_code_cell(step_code(n))]
    if which == "S7":
        cells += [
            new_markdown_cell(
                "## From the first model to the smallest\n\n"
                "Parameters against the test accuracy of the last 3 epochs "
                "(this notebook's runs)."
            ),
            new_code_cell(
                "utils.show(utils.plot_params_vs_accuracy({n: [r] for n, r in results.items()}, "
                '"Session 7 models: parameters against last-3-epoch accuracy"))'
            ),
        ]
    for f in finals:
        cells += [
            new_markdown_cell(
                f"## {f}: every seed, misclassified images, per-class accuracy\n\n"
                "The table reads every reference run of this model in `results/`; the "
                "figures show this notebook's own run."
            ),
            new_code_cell(FINAL.format(final=f)),
        ]
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    return nb


def update(old: nbformat.NotebookNode, new: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The executed notebook with the sources of ``new`` where no output could depend on them."""
    if [c.cell_type for c in old.cells] != [c.cell_type for c in new.cells]:
        raise ValueError("the cells changed: rebuild and re-execute (python run_notebooks.py --out .)")
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
