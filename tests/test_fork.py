"""A fork points at itself with one command."""

import shutil
import subprocess
import sys

import pytest

import utils

OLD = utils.repository_slug()


@pytest.fixture
def clone(tmp_path):
    """A clone of the committed tree whose origin is another GitHub repository."""
    dest = tmp_path / "fork"
    subprocess.run(["git", "clone", "-q", "--no-local", str(utils.REPO), str(dest)], check=True)
    subprocess.run(["git", "remote", "set-url", "origin", "git@github.com:student/my-mnist.git"], cwd=dest, check=True)
    return dest


def fork(clone, *args):
    return subprocess.run(
        [sys.executable, "-m", "tools.fork", *args], cwd=clone, capture_output=True, text=True, timeout=60
    )


def test_fork_rewrites_every_link_from_origin(clone):
    proc = fork(clone)
    assert proc.returncode == 0, proc.stderr
    assert "student/my-mnist" in proc.stdout
    for name in ("README.md", "S6.ipynb", "S7.ipynb", "pyproject.toml"):
        text = (clone / name).read_text()
        assert OLD not in text, name
        assert "student/my-mnist" in text, name
    readme = (clone / "README.md").read_text()
    assert "raw.githubusercontent.com/student/my-mnist/badges/S7-accuracy.json" in readme
    assert "colab.research.google.com/github/student/my-mnist/blob/main/S7.ipynb" in readme
    assert "https://student.github.io/my-mnist/" in readme  # the digit page
    setup = (clone / "S7.ipynb").read_text()
    assert "git clone -q --depth 1 https://github.com/student/my-mnist.git" in setup
    # the notebooks built from the code now agree with the rewritten ones
    built = subprocess.run(
        [sys.executable, "-c", "from tools import make_notebooks; print(make_notebooks.setup_cell())"],
        cwd=clone,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "https://github.com/student/my-mnist.git" in built.stdout
    assert fork(clone).stdout.strip().endswith("already")  # a second run changes nothing


@pytest.mark.parametrize(
    "args,message",
    [
        (["not a slug"], "is not a GitHub owner/name"),
        (["a/b", "c/d"], "usage: python -m tools.fork"),
    ],
)
def test_bad_slugs_are_refused(clone, args, message):
    proc = fork(clone, *args)
    assert proc.returncode == 2 and message in proc.stderr and "Traceback" not in proc.stderr


def test_a_clone_without_github_origin_is_told_what_to_do(clone):
    subprocess.run(["git", "remote", "remove", "origin"], cwd=clone, check=True)
    proc = fork(clone)
    assert proc.returncode == 2 and "no remote 'origin'" in proc.stderr
    shutil.rmtree(clone)
