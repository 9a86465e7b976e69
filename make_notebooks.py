"""Build S6.ipynb and S7.ipynb from model.py (their cells, not their outputs).

    python make_notebooks.py            # new, unexecuted notebooks: execute them with papermill
    python make_notebooks.py --update   # rewrite only the markdown cells of the executed notebooks
"""
import sys

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

import model

REPO = "tiny-mnist/tiny-mnist"  # the GitHub slug the Colab links and the set-up cell use

def colab_badge(nb):
    return f"[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/{REPO}/blob/main/{nb})"

PARAMS = '''# Parameters: papermill overrides these (the tests run a seconds-long smoke version).
SMOKE = False  # True: 1 epoch on 2,048 training images, evaluated on 1,000 test images
RESULTS_DIR = "results"
DATA_DIR = "data"'''

SETUP = f'''# In Colab: fetch the repository and install what Colab lacks. Elsewhere this does nothing.
import os, sys
if "google.colab" in sys.modules and not os.path.exists("model.py"):
    !git clone -q --depth 1 https://github.com/{REPO}.git repo
    %cd repo
    %pip install -q torchsummary'''

IMPORTS = '''import model
import utils

RUN = dict(epochs=1, train_limit=2048, eval_limit=1000) if SMOKE else {}
data = utils.load_mnist(DATA_DIR)
print(f"MNIST verified: {len(data.train_labels):,} training and {len(data.test_labels):,} test images, "
      f"training on {utils.default_device()}")
results = {}'''

def step_md(name):
    cls = model._REGISTRY[name]
    target = model.get_target(name)
    rest = (cls.__doc__ or "").strip().split("\n\n")[1:]
    rest = " ".join(" ".join(p.split()) for p in rest)
    analysis = " ".join(getattr(cls, "analysis", "").split()) or "_See the README._"
    return (f"## {name}\n\n**Target.** {target} {rest}\n\n"
            f"**Results.** Printed below by the run: the summary, the receptive field, the per-epoch log and the curves.\n\n"
            f"**Analysis.** {analysis}")

def step_code(name):
    return f'results["{name}"] = utils.run_step("{name}", results_dir=RESULTS_DIR, data_dir=DATA_DIR, **RUN)'

FINAL = '''final = "{final}"
print(f"Final model: {{final}}")
runs = utils.load_results(RESULTS_DIR, final)
print(utils.seeds_table(runs))
best = results[final]
utils.show(utils.plot_misclassified(best, data.test_images))
utils.show(utils.plot_per_class(best))
utils.show(utils.plot_confusion(best))
utils.show(utils.plot_lr([best]))'''

def build(which):
    if which == "S7":
        names = model.s7_models()
        title = ("# Session 7: 99.4% on MNIST with fewer than 8,000 parameters, step by step\n\n"
                 f"{colab_badge('S7.ipynb')}\n\n"
                 "Target: at least 99.4% test accuracy in **each of the last 3 of at most 15 epochs**, with fewer than "
                 "8,000 parameters. Every model is in `model.py` (`Model_1` ... `Model_8`), every step changes one thing, "
                 "and every number below is printed by the run itself and saved in `results/`. "
                 "Hyperparameters were chosen on 10,000 images held out of the training set; "
                 "the test set is only evaluated.")
        finals = ["Model_6", "Model_7"]
    else:
        names = ["S6_Model"]
        title = ("# Session 6: 99.5% on MNIST with fewer than 20,000 parameters\n\n"
                 f"{colab_badge('S6.ipynb')}\n\n"
                 "Target: at least 99.4% test accuracy with fewer than 20,000 parameters in at most 20 epochs, using "
                 "BatchNorm, Dropout and global average pooling. Our bar: **99.5% in each of the last 3 of 15 epochs**, "
                 "on every seed. Every number below is printed by the run itself and saved in `results/`.")
        finals = ["S6_Model"]
    cells = [new_markdown_cell(title), new_code_cell(PARAMS, metadata={"tags": ["parameters"]}),
             new_code_cell(SETUP), new_code_cell(IMPORTS)]
    for n in names:
        cells += [new_markdown_cell(step_md(n)), new_code_cell(step_code(n))]
    if which == "S7":
        cells += [new_markdown_cell("## From Model_1 to the smallest model\n\nParameters against the test accuracy of the last 3 epochs (this run's seed)."),
                  new_code_cell('utils.show(utils.plot_params_vs_accuracy({n: [r] for n, r in results.items()}, "Session 7 models: parameters against last-3-epoch accuracy"))')]
    for f in finals:
        cells += [new_markdown_cell(f"## {f}: every seed, misclassified images, per-class accuracy\n\n"
                                    "The table reads every results file of this model: seed 1 is the run above; "
                                    f"seeds 2 and 3 come from `python train.py --model {f} --seeds 2 3`."),
                  new_code_cell(FINAL.format(final=f))]
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    return nb

if __name__ == "__main__":
    for which in ("S6", "S7"):
        path = f"{which}.ipynb"
        new = build(which)
        if "--update" in sys.argv:
            old = nbformat.read(path, as_version=4)
            assert len(old.cells) == len(new.cells), "structure changed: rebuild and re-execute"
            for o, n in zip(old.cells, new.cells):
                if o.cell_type == "markdown":
                    o.source = n.source
            new = old
        nbformat.write(new, path)
        print("wrote", path)
