"""Both notebooks run top to bottom headless (smoke mode), and the committed ones meet the real bars."""
import subprocess
import sys

import pytest

import utils

CHECKER = utils.REPO / "tests" / "check_notebook.py"
# notebook -> the checker's bars: (fewer parameters than, at most epochs, min accuracy, last N)
BARS = {"S6.ipynb": (20000, 20, 99.4, 3), "S7.ipynb": (8000, 15, 99.4, 3)}


def checker(path, max_params, max_epochs, min_acc, last, *extra):
    proc = subprocess.run([sys.executable, str(CHECKER), str(path), "--max-params", str(max_params),
                           "--max-epochs", str(max_epochs), "--min-acc", str(min_acc), "--last", str(last),
                           *extra], capture_output=True, text=True, timeout=300)
    return proc.returncode, proc.stdout + proc.stderr


@pytest.mark.parametrize("notebook", BARS)
def test_committed_notebook_meets_the_real_bars(notebook):
    code, out = checker(utils.REPO / notebook, *BARS[notebook])
    assert code == 0, out
    assert out.count("PASS") == 7


@pytest.mark.parametrize("notebook", BARS)
def test_notebook_runs_headless_in_smoke_mode(notebook, tmp_path, mnist):
    executed = tmp_path / notebook
    proc = subprocess.run(
        [sys.executable, "-m", "papermill", notebook, str(executed), "--cwd", str(utils.REPO),
         "-p", "SMOKE", "True", "-p", "RESULTS_DIR", str(tmp_path / "results"), "--execution-timeout", "600"],
        cwd=utils.REPO, capture_output=True, text=True, timeout=1200)
    assert proc.returncode == 0, proc.stderr[-3000:]
    max_params, max_epochs, _, _ = BARS[notebook]
    # Smoke mode trains 1 epoch on a subset: the accuracy bar is relaxed, every structural check is kept.
    code, out = checker(executed, max_params, max_epochs, 0, 1)
    assert code == 0, out
    assert "PASS parameters match model.py" in out
    written = sorted(p.name for p in (tmp_path / "results").iterdir())
    assert written and all(name.endswith("-seed1.json") for name in written)
