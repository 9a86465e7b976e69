"""The search: its candidates, its stages end to end on a few images, and its errors."""

import subprocess
import sys

import pytest

import model as model_lib
import search
import utils


def test_at_least_20_candidates_between_2000_and_3500_parameters_of_every_kind():
    described = {name: search.describe(layers) for name, layers in search.CANDIDATES.items()}
    assert len(described) >= 20
    low, high = search.PARAM_RANGE
    assert all(low <= d["params"] <= high for d in described.values()), described
    stacks = list(search.CANDIDATES.values())
    assert any(s.count("M") == 2 for s in stacks)  # two max-pools
    assert any(" p" in f" {s}" for s in stacks)  # padded convolutions
    assert any(" s" in f" {s}" or " ps" in f" {s}" for s in stacks)  # depthwise-separable
    assert any(d["rf"] >= 28 for d in described.values())  # the last convolution sees the whole digit
    assert any("t" not in s for s in stacks) and any(s.index("t") < s.index("M") for s in stacks if "t" in s)


def test_a_candidates_config_builds_its_stack_with_the_recipe_of_its_model():
    cfg = search.config("sep5x16", search.CANDIDATES["sep5x16"], "full", 15)
    assert cfg.eval_split == "val" and cfg.tag == "full-sep5x16" and cfg.epochs == 15
    recipe = model_lib.get_recipe(search.RECIPE_OF)
    assert all(getattr(cfg, k) == v for k, v in recipe.items())
    assert model_lib.count_parameters(cfg.build()) == search.describe(search.CANDIDATES["sep5x16"])["params"]


def run(*args):
    return subprocess.run(
        [sys.executable, "search.py", *args], cwd=utils.REPO, capture_output=True, text=True, timeout=600
    )


def test_every_stage_runs_end_to_end_in_dry_run_mode(mnist, tmp_path):
    storage = f"sqlite:///{tmp_path}/search.db"
    probe = run("probe", "--dry-run", "--workers", "2", "--candidates", "m7", "sep5x16", "--storage", storage)
    assert probe.returncode == 0, probe.stderr[-2000:]
    assert "finished" in probe.stdout and "m7" in probe.stdout and "sep5x16" in probe.stdout
    again = run("probe", "--dry-run", "--candidates", "m7", "sep5x16", "--storage", storage)
    assert again.returncode == 0 and "trial 2" not in again.stdout  # resumed: nothing left to run
    full = run("full", "--dry-run", "--top", "1", "--storage", storage)
    assert full.returncode == 0, full.stderr[-2000:]
    assert "Model_7-full-" in full.stdout  # the best probe, on the full schedule


@pytest.mark.parametrize(
    "args,message",
    [
        (["probe", "--candidates", "nope"], "unknown candidate(s) nope"),
        (["recipe"], "recipe needs --base CANDIDATE"),
        (["seeds"], "seeds needs --runs"),
        (["probe", "--workers", "0"], "--workers must be at least 1"),
        ([], "name a stage"),
    ],
)
def test_bad_input_gives_one_line(args, message):
    proc = run(*args)
    assert proc.returncode == 2 and message in proc.stderr and "Traceback" not in proc.stderr
