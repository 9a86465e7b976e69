"""The search: its candidates, its stages end to end on a few images, and its errors."""

import multiprocessing
import subprocess
import sys

import optuna
import pytest

import model as model_lib
import utils
from tools import search, search_space, search_study
from utils import course
from utils.recipe import network

SETTINGS = search_study.Settings()


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
    cfg = search.config(SETTINGS, "sep5x16", search_space.CANDIDATES["sep5x16"], "full", 15)
    assert cfg.eval_split == "val" and cfg.tag == "full-sep5x16" and cfg.epochs == 15
    recipe = model_lib.get_recipe(search_space.RECIPE_OF)
    assert all(getattr(cfg, k) == v for k, v in recipe.items())
    assert model_lib.count_parameters(network(cfg)) == search.describe(search_space.CANDIDATES["sep5x16"])["params"]


def test_a_grid_point_is_its_stack_with_every_named_change():
    cfg = search.grid_config(SETTINGS, "m7-wide3+wd1e-4+aug0.5", "grid", 15)
    assert cfg.layers == search_space.CANDIDATES["m7-wide3"] and cfg.tag == "grid-m7-wide3+wd1e-4+aug0.5"
    assert cfg.weight_decay == 1e-4 and (cfg.rotate, cfg.scale, cfg.translate) == (5.0, 0.05, 1.0)
    plain = search.grid_config(SETTINGS, "m7", "grid", 15)
    assert plain == search.config(
        SETTINGS, "m7", search_space.CANDIDATES["m7"], "grid", 15
    )  # no change: the base recipe
    assert all(search.grid_config(SETTINGS, point, "grid", 15) for point in search_space.GRID)
    silu = search.grid_config(SETTINGS, "m7-linear-t+hold2+silu", "grid", 15)
    assert silu.activation == "silu" and " l6 " in silu.layers and silu.hold == 2
    assert {type(m) for m in network(silu).modules()} & {model_lib.nn.ReLU, model_lib.nn.SiLU} == {model_lib.nn.SiLU}
    model_8 = search.grid_config(
        SETTINGS, "Model_8+hold2", "grid", 15
    )  # a registered model's stack, as a reference point
    assert model_8.layers == " ".join(model_lib.get_model("Model_8").layers) and model_8.hold == 2


def test_frontier_stacks_lie_between_the_bar_and_model_6():
    high = model_lib.count_parameters(model_lib.get_model("Model_6"))
    for name, layers in search_space.FRONTIER.items():
        assert search_space.PARAM_RANGE[1] < search.describe(layers)["params"] < high, name
        assert search.grid_config(SETTINGS, f"{name}+hold2", "grid", 15).layers == layers


def test_budget_stacks_lie_between_model_6_and_the_course_limit():
    low = model_lib.count_parameters(model_lib.get_model("Model_6"))
    for name, layers in search_space.BUDGET.items():
        assert low < search.describe(layers)["params"] < course.S7.max_params, name
        assert search.grid_config(SETTINGS, f"{name}+hold2", "grid", 15).layers == layers


def test_a_dry_run_keeps_a_held_rate_inside_its_shortened_schedule(tmp_path):
    dry = search_study.Settings(val_dir=tmp_path, dry_run=True)
    held = search.grid_config(dry, "sep-all-23+hold2+bn300", "grid", 15)
    assert (held.epochs, held.hold, held.bn_batches) == (search.DRY_RUN_EPOCHS, search.DRY_RUN_EPOCHS - 1, 300)
    assert held.train_limit == course.SMOKE["train_limit"] and held.eval_limit == course.SMOKE["eval_limit"]
    assert search.grid_config(dry, "m7+hold1", "grid", 15).hold == 1  # a hold that fits stays as it is
    assert search.grid_config(SETTINGS, "sep-all-23+hold2+bn300", "grid", 15).epochs == 15  # not a dry run


@pytest.mark.parametrize("point", ["nope+wd1e-4", "m7+nope", "m7+"])
def test_an_unknown_grid_point_is_refused(point):
    with pytest.raises(ValueError, match="unknown"):
        search.grid_config(SETTINGS, point, "grid", 15)


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

    monkeypatch.setattr(search_study, "HEARTBEAT_SECONDS", 1)
    url = f"sqlite:///{tmp_path}/search.db"
    settings = search_study.Settings(storage=url, grace=3)
    st = search_study.study("grid", url)
    for point in ("killed", "running"):
        st.enqueue_trial({}, user_attrs={"point": point})
    # A search in another process takes the first trial; it is killed mid-trial, before it can tell the study.
    killed = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from tools import search_study; search_study.HEARTBEAT_SECONDS = 1; "
            "s = search_study.Settings(storage=sys.argv[1]); "
            "search_study.run_trials(s, search_study.study('grid', s.storage), lambda trial: time.sleep(60), 1)",
            url,
        ],
        cwd=utils.REPO,
    )
    while not st.get_trials(states=(optuna.trial.TrialState.RUNNING,)):
        time.sleep(0.2)
    time.sleep(1.5)
    killed.send_signal(signal.SIGKILL)
    killed.wait()
    release = threading.Event()  # a search beside this one runs the second trial
    work = lambda trial: release.wait(30) and 1.0
    beside = threading.Thread(target=search_study.run_trials, args=(settings, st, work, 1))
    beside.start()
    try:
        while len(st.get_trials(states=(optuna.trial.TrialState.RUNNING,))) < 2:
            time.sleep(0.2)
        assert search_study.running(st, ["killed", "running"], settings.grace)[0].startswith("killed (stale in ")
        time.sleep(4)  # past the grace period: only the live search kept writing heartbeats
        search_study.fail_stale(st, settings.grace)
        states = {t.user_attrs["point"]: t.state for t in st.trials}
        assert states == {"killed": optuna.trial.TrialState.FAIL, "running": optuna.trial.TrialState.RUNNING}
        assert search_study.unrun(st, ["killed", "running", "new"]) == ["killed", "new"]
        assert [r.split()[0] for r in search_study.running(st, ["killed", "running", "new"], 3)] == ["running"]
    finally:
        release.set()
        beside.join()
    assert {t.user_attrs["point"]: t.state for t in st.trials}["running"] == optuna.trial.TrialState.COMPLETE


def test_a_failed_candidate_is_queued_again_in_every_stage(tmp_path):
    """A probe or full trial that failed (a killed search) counts as not run, as a grid point's does."""
    import optuna

    url = f"sqlite:///{tmp_path}/search.db"
    for stage in ("probe", "full", "grid", "seeds"):
        st = search_study.study(stage, url)
        for name, state in (("a", "FAIL"), ("b", "COMPLETE"), ("c", "PRUNED")):
            st.enqueue_trial(search_study.queued_params(stage, name), user_attrs={"point": name})
            trial = st.ask()
            if stage in ("probe", "full"):
                trial.suggest_categorical("candidate", ["a", "b", "c"])
            st.tell(trial, 1.0 if state == "COMPLETE" else None, state=getattr(optuna.trial.TrialState, state))
        assert search_study.unrun(st, ["a", "b", "c", "d"]) == ["a", "d"], stage


def test_a_search_stops_when_the_search_beside_it_took_its_queued_trials(tmp_path):
    settings = search_study.Settings(storage=f"sqlite:///{tmp_path}/search.db")
    st = search_study.study("grid", settings.storage)
    st.enqueue_trial({}, user_attrs={"point": "m7"})
    ran = []

    def objective(trial):
        ran.append(trial.user_attrs["point"])  # a trial the sampler made has no point: KeyError
        return 1.0

    # Both searches counted the one queued trial; the one beside this one ran it first.
    search_study.run_trials(settings, st, objective, 1, queued_only=True)
    search_study.run_trials(settings, st, objective, 1, queued_only=True)
    assert ran == ["m7"] and len(st.trials) == 1


def test_searches_started_at_once_run_each_name_once(tmp_path):
    """SQLite: the lock file beside the database keeps the searches apart."""
    each_name_runs_once(f"sqlite:///{tmp_path}/search.db")


NAMES = [f"p{i}" for i in range(20)]


def each_name_runs_once(storage, searches=4):
    """``searches`` processes queue the same names at the same moment and then run the queue: each name runs once,
    and no process runs a trial that the sampler made (it has no point: KeyError, and the process fails). The
    storage is new: they make its tables at once too."""
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(searches)
    procs = [ctx.Process(target=queue_at_once, args=(barrier, storage)) for _ in range(searches)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=300)
    assert [p.exitcode for p in procs] == [0] * searches
    trials = optuna.load_study(study_name="grid", storage=storage).trials
    assert sorted(t.value for t in trials) == list(range(len(NAMES))) and len(trials) == len(NAMES)


def test_a_search_in_memory_runs_its_queue():
    """sqlite:// is a database of one process: no lock file, and nothing to keep apart."""
    settings = search_study.Settings(storage="sqlite://")
    search_study.run_queue(settings, "grid", NAMES[:3], point_number_objective)
    assert sorted(t.value for t in search_study.study("grid", settings.storage).trials) == [0, 1, 2]


def queue_at_once(barrier, storage):
    barrier.wait()
    search_study.run_queue(search_study.Settings(storage=storage), "grid", NAMES, point_number_objective)


def point_number_objective(settings):
    return lambda trial: float(trial.user_attrs["point"][1:])


def test_the_seeds_stage_runs_a_recorded_point_again_on_other_seeds_once(mnist, tmp_path, capsys):
    import argparse

    settings = search_study.Settings(storage=f"sqlite:///{tmp_path}/search.db", val_dir=tmp_path, dry_run=True)
    search.stage_grid(argparse.Namespace(candidates=["m7+hold1"]), settings)
    search.stage_seeds(argparse.Namespace(runs=["grid-m7+hold1"], seeds=[2, 3]), settings)
    seed1, seed3 = (utils.load_result(tmp_path / f"Model_7-grid-m7+hold1-seed{s}.json") for s in (1, 3))
    assert {**seed1.config, "seed": 3} == seed3.config  # the recorded run's configuration, on another seed
    search.stage_seeds(argparse.Namespace(runs=["grid-m7+hold1"], seeds=[2, 4]), settings)
    out = capsys.readouterr().out
    assert "Model_7-grid-m7+hold1-seed2: already on record" in out and "trial 2: Model_7-grid-m7+hold1-seed4" in out
    assert len(search_study.study("seeds", settings.storage).trials) == 3
