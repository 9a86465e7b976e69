"""The search: its candidates, its stages end to end on a few images, and its errors."""

import subprocess
import sys

import pytest

import model as model_lib
import utils
from tools import search, search_space
from utils import course


def test_at_least_20_candidates_between_2000_and_3500_parameters_of_every_kind():
    described = {name: search.describe(layers) for name, layers in search_space.CANDIDATES.items()}
    assert len(described) >= 20
    low, high = search_space.PARAM_RANGE
    assert all(low <= d["params"] <= high for d in described.values()), described
    stacks = list(search_space.CANDIDATES.values())
    assert any(s.count("M") == 2 for s in stacks)  # two max-pools
    assert any(" p" in f" {s}" for s in stacks)  # padded convolutions
    assert any(" s" in f" {s}" or " ps" in f" {s}" for s in stacks)  # depthwise-separable
    assert any(d["rf"] >= 28 for d in described.values())  # the last convolution sees the whole digit
    assert any("t" not in s for s in stacks) and any(s.index("t") < s.index("M") for s in stacks if "t" in s)


def test_a_candidates_config_builds_its_stack_with_the_recipe_of_its_model():
    cfg = search.config("sep5x16", search_space.CANDIDATES["sep5x16"], "full", 15)
    assert cfg.eval_split == "val" and cfg.tag == "full-sep5x16" and cfg.epochs == 15
    recipe = model_lib.get_recipe(search_space.RECIPE_OF)
    assert all(getattr(cfg, k) == v for k, v in recipe.items())
    assert model_lib.count_parameters(cfg.build()) == search.describe(search_space.CANDIDATES["sep5x16"])["params"]


def test_a_grid_point_is_its_stack_with_every_named_change():
    cfg = search.grid_config("m7-wide3+wd1e-4+aug0.5", "grid", 15)
    assert cfg.layers == search_space.CANDIDATES["m7-wide3"] and cfg.tag == "grid-m7-wide3+wd1e-4+aug0.5"
    assert cfg.weight_decay == 1e-4 and (cfg.rotate, cfg.scale, cfg.translate) == (5.0, 0.05, 1.0)
    plain = search.grid_config("m7", "grid", 15)
    assert plain == search.config("m7", search_space.CANDIDATES["m7"], "grid", 15)  # no change: the base recipe
    assert all(search.grid_config(point, "grid", 15) for point in search_space.GRID)
    silu = search.grid_config("m7-linear-t+hold2+silu", "grid", 15)
    assert silu.activation == "silu" and " l6 " in silu.layers and silu.hold == 2
    assert {type(m) for m in silu.build().modules()} & {model_lib.nn.ReLU, model_lib.nn.SiLU} == {model_lib.nn.SiLU}
    model_8 = search.grid_config("Model_8+hold2", "grid", 15)  # a registered model's stack, as a reference point
    assert model_8.layers == " ".join(model_lib.get_model("Model_8").layers) and model_8.hold == 2


def test_frontier_stacks_lie_between_the_bar_and_model_6():
    high = model_lib.count_parameters(model_lib.get_model("Model_6"))
    for name, layers in search_space.FRONTIER.items():
        assert search_space.PARAM_RANGE[1] < search.describe(layers)["params"] < high, name
        assert search.grid_config(f"{name}+hold2", "grid", 15).layers == layers


def test_budget_stacks_lie_between_model_6_and_the_course_limit():
    low = model_lib.count_parameters(model_lib.get_model("Model_6"))
    for name, layers in search_space.BUDGET.items():
        assert low < search.describe(layers)["params"] < course.S7.max_params, name
        assert search.grid_config(f"{name}+hold2", "grid", 15).layers == layers


def test_a_dry_run_keeps_a_held_rate_inside_its_shortened_schedule(monkeypatch, tmp_path):
    monkeypatch.setattr(search, "DRY_RUN", str(tmp_path))
    held = search.grid_config("sep-all-23+hold2+bn300", "grid", 15)
    assert (held.epochs, held.hold, held.bn_batches) == (search.DRY_RUN_EPOCHS, search.DRY_RUN_EPOCHS - 1, 300)
    assert search.grid_config("m7+hold1", "grid", 15).hold == 1  # a hold that fits stays as it is


@pytest.mark.parametrize("point", ["nope+wd1e-4", "m7+nope", "m7+"])
def test_an_unknown_grid_point_is_refused(point):
    with pytest.raises(ValueError, match="unknown"):
        search.grid_config(point, "grid", 15)


def run(*args):
    return subprocess.run(
        [sys.executable, "-m", "tools.search", *args], cwd=utils.REPO, capture_output=True, text=True, timeout=600
    )


@pytest.mark.slow
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
    grid = run("grid", "--dry-run", "--workers", "2", "--candidates", "m7+wd1e-4", "m7-wide3", "--storage", storage)
    assert grid.returncode == 0, grid.stderr[-2000:]
    assert "Model_7-grid-m7+wd1e-4-seed1" in grid.stdout and "Model_7-grid-m7-wide3-seed1" in grid.stdout
    again = run("grid", "--dry-run", "--candidates", "m7+wd1e-4", "m7-wide3", "m7+aug0.5", "--storage", storage)
    assert again.returncode == 0 and again.stdout.count("finished") == 1  # only the new point runs


@pytest.mark.parametrize(
    "args,message",
    [
        (["probe", "--candidates", "nope"], "unknown candidate(s) nope"),
        (["recipe"], "recipe needs --base CANDIDATE"),
        (["seeds"], "seeds needs --runs"),
        (["grid", "--candidates", "m7+nope"], "unknown recipe change 'nope'"),
        (["probe", "--workers", "0"], "--workers must be at least 1"),
        ([], "name a stage"),
    ],
)
def test_bad_input_gives_one_line(args, message):
    proc = run(*args)
    assert proc.returncode == 2 and message in proc.stderr and "Traceback" not in proc.stderr


def test_starting_a_stage_fails_the_trials_of_a_killed_search_and_leaves_a_running_ones(tmp_path, monkeypatch):
    import signal
    import threading
    import time

    import optuna

    monkeypatch.setattr(search, "HEARTBEAT_SECONDS", 1)
    monkeypatch.setattr(search, "HEARTBEAT_GRACE", 3)
    url = f"sqlite:///{tmp_path}/search.db"
    st = search.study("grid", url)
    for point in ("killed", "running"):
        st.enqueue_trial({}, user_attrs={"point": point})
    # A search in another process takes the first trial; it is killed mid-trial, before it can tell the study.
    killed = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from tools import search; search.HEARTBEAT_SECONDS = 1; "
            "search.run_trials(search.study('grid', sys.argv[1]), lambda trial: time.sleep(60), 1)",
            url,
        ],
        cwd=utils.REPO,
    )
    while not any(t.state == optuna.trial.TrialState.RUNNING for t in st.trials):
        time.sleep(0.2)
    time.sleep(1.5)
    killed.send_signal(signal.SIGKILL)
    killed.wait()
    release = threading.Event()  # a search beside this one runs the second trial
    running = threading.Thread(target=search.run_trials, args=(st, lambda trial: release.wait(30) and 1.0, 1))
    running.start()
    try:
        time.sleep(4)  # past the grace period: only the live search kept writing heartbeats
        search.fail_stale(st)
        states = {t.user_attrs["point"]: t.state for t in st.trials}
        assert states == {"killed": optuna.trial.TrialState.FAIL, "running": optuna.trial.TrialState.RUNNING}
        assert search.unrun_points(st, ["killed", "running", "new"]) == ["killed", "new"]
        assert search.running_points(st, ["killed", "running", "new"]) == ["running"]
    finally:
        release.set()
        running.join()
    assert {t.user_attrs["point"]: t.state for t in st.trials}["running"] == optuna.trial.TrialState.COMPLETE


def test_a_search_stops_when_the_search_beside_it_took_its_queued_trials(tmp_path):
    st = search.study("grid", f"sqlite:///{tmp_path}/search.db")
    st.enqueue_trial({}, user_attrs={"point": "m7"})
    ran = []

    def objective(trial):
        ran.append(trial.user_attrs["point"])  # a trial the sampler made has no point: KeyError
        return 1.0

    # Both searches counted the one queued trial; the one beside this one ran it first.
    search.run_trials(st, objective, 1, queued_only=True)
    search.run_trials(st, objective, 1, queued_only=True)
    assert ran == ["m7"] and len(st.trials) == 1
