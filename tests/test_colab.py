"""Each notebook's set-up cell run as Colab runs it: the google.colab module loaded, no model.py in the working
folder, the repository cloned from its GitHub address (answered here by this clone, through git's insteadOf), the
missing packages really installed; then the notebook's next cells import model and utils and load MNIST."""

import json
import os
import subprocess

import nbformat
import pytest
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell

import utils
from tools import make_notebooks

NOTEBOOKS = [f"{name}.ipynb" for name in make_notebooks.NOTEBOOKS]


@pytest.fixture(scope="module")
def colab(tmp_path_factory):
    """A Colab-like environment for a kernel: the google.colab module on its path, and git answering the
    repository's GitHub address with this repository."""
    root = tmp_path_factory.mktemp("colab")
    (root / "site" / "google" / "colab").mkdir(parents=True)  # a namespace package beside google.protobuf
    (root / "site" / "google" / "colab" / "__init__.py").write_text(
        '"""Colab\'s module, as far as a notebook asks."""\n'
    )
    gitconfig = root / "gitconfig"
    github = f"https://github.com/{utils.repository_slug()}.git"
    subprocess.run(
        ["git", "config", "--file", str(gitconfig), f"url.{utils.REPO.as_uri()}.insteadOf", github], check=True
    )
    return {"PYTHONPATH": str(root / "site"), "GIT_CONFIG_GLOBAL": str(gitconfig)}


@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_the_set_up_cell_fetches_the_repository_and_the_next_cells_load_mnist(notebook, colab, tmp_path, monkeypatch):
    for key, value in colab.items():
        monkeypatch.setenv(key, value)
    cells = nbformat.read(utils.REPO / notebook, as_version=4).cells
    parameters, setup, imports = cells[1], cells[2], cells[3]
    assert "parameters" in parameters.metadata.get("tags", []) and "google.colab" in setup.source
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        new_code_cell("import google.colab  # Colab's kernel has it loaded"),
        new_code_cell(parameters.source),
        new_code_cell(f"DATA_DIR = {str(utils.DEFAULT_DATA_DIR)!r}  # MNIST as fetched here (a download on Colab)"),
        new_code_cell(setup.source),
        new_code_cell(imports.source),
        new_code_cell("import json; print(json.dumps({'cwd': os.getcwd(), 'model': model.__file__}))"),
    ]
    work = tmp_path / "content"  # Colab's working folder: no model.py in it
    work.mkdir()
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(work)}}).execute()
    printed = ["".join(o.get("text", "") for o in c.outputs if o.output_type == "stream") for c in nb.cells]
    import torch

    device = "the GPU" if torch.cuda.is_available() else "the CPU"
    assert f"torch {torch.__version__}, training on {device}" in printed[3]
    assert "MNIST verified: 60,000 training and 10,000 test images" in printed[4]
    where = json.loads(printed[5])
    assert where["cwd"] == str(work / "repo") and where["model"] == str(work / "repo" / "model.py")
    assert (work / "repo" / ".git").exists() and not (work / "model.py").exists()


def test_the_set_up_cell_installs_requirements_txt_s_versions_of_what_colab_lacks():
    setup = make_notebooks.setup_cell()
    for line in make_notebooks.colab_requirements():
        assert f'"{line}"' in setup
        assert line in (utils.REPO / "requirements.txt").read_text().splitlines()
    assert len(make_notebooks.colab_requirements()) == len(make_notebooks.COLAB_LACKS)


def test_outside_colab_the_set_up_cell_does_nothing(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [new_code_cell(make_notebooks.setup_cell()), new_code_cell("print(sorted(os.listdir('.')))")]
    NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    assert nb.cells[0].outputs == [] and nb.cells[1].outputs[0]["text"].strip() == "[]"
    assert os.listdir(tmp_path) == []
