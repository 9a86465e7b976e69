"""Search for small networks that hold the Session 7 bar, on the validation split only.

Every trial trains on 50k training images, is evaluated on the 10k held out of them, and writes
results/val/<run>.json (and its weights) whatever its outcome: pruned and failed candidates stay
on record, and the report turns the folder into the search's tables (docs/search.md). The Optuna
studies live in an SQLite file, so an interrupted stage resumes where it stopped. What is searched
(stacks, recipe changes, grid points) is in tools/search_space.py.

    python -m tools.search --list                  # the candidates, their parameters and receptive fields
    python -m tools.search probe                   # stage 1: every candidate, 5-epoch schedule, seed 1
    python -m tools.search full --top 6            # stage 2: the best probes, 15 epochs, pruned at 5 and 10
    python -m tools.search recipe --base sep5x16 --trials 12   # stage 3: TPE over the training recipe of one shape
    python -m tools.search grid                    # stage 4: stacks x named recipe changes, 15 epochs, unpruned
    python -m tools.search seeds --runs full-sep5x16 grid-m7+wd1e-4 --seeds 2 3   # stage 5: more seeds
    python -m tools.search teacher                 # S6_Model on the same 50k images: distillation's teacher
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import functools
import multiprocessing
import os
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

import optuna
import torch

import model as model_lib
from tools.search_space import (
    BASE_RECIPE,
    CANDIDATES,
    GRID,
    ONE_CHANGE,
    RECIPE_CHANGES,
    RECIPE_OF,
    STACKS,
    TEACHER_FILE,
)
from utils.config import EpochRecord, Result, TrainConfig, run_name
from utils.course import SMOKE
from utils.inspection import last_feature_layer
from utils.paths import DEFAULT_RESULTS_DIR, REPO, say
from utils.runs import load_result, result_path
from utils.training import train

# --dry-run: every trial a smoke run (of at most 2 epochs, so that a pruner sees a trial report twice), into a
# temporary folder (set for the workers too)
DRY_RUN = os.environ.get("TINY_MNIST_SEARCH_DRY_RUN", "")
DRY_RUN_EPOCHS = 2
VAL_DIR = Path(DRY_RUN) if DRY_RUN else DEFAULT_RESULTS_DIR / "val"
DEFAULT_STORAGE = f"sqlite:///{REPO / 'build' / 'search.db'}"
TEACHER = VAL_DIR / TEACHER_FILE  # where the teacher stage writes it and the recipe stage looks for it
PROBE_EPOCHS, FULL_EPOCHS = 5, 15


def describe(layers: str) -> dict:
    """Parameters, and the receptive field and map size at the last convolution before GAP."""
    net = model_lib.build_layers(layers)
    last = last_feature_layer(net)
    return {"params": model_lib.count_parameters(net), "rf": last["rf"], "size": last["size"]}


def config(name: str, layers: str, stage: str, epochs: int, seed: int = 1, **recipe) -> TrainConfig:
    if DRY_RUN:
        recipe.update(train_limit=SMOKE["train_limit"], eval_limit=SMOKE["eval_limit"])
        epochs = min(epochs, DRY_RUN_EPOCHS)
        if recipe.get("hold", 0) >= epochs:  # the held rate needs a cycle before it: the short schedule keeps one epoch
            recipe["hold"] = epochs - 1
    return TrainConfig.for_model(
        RECIPE_OF, layers=layers, eval_split="val", epochs=epochs, seed=seed, tag=f"{stage}-{name}", **recipe
    )


def objective_value(result: Result, epochs: int) -> float:
    """What a study maximizes: the bar's own measure (mean of the last 3 epochs) on the full schedule;
    the final epoch on a probe's short one, whose earlier epochs are still at a high rate."""
    return sum(result.last(3)) / 3 if epochs >= FULL_EPOCHS and not DRY_RUN else result.accuracies()[-1]


def run_trial(trial, cfg: TrainConfig, prune: bool) -> float:
    """Train one candidate; Optuna sees every epoch and may stop it."""

    def stop(record: EpochRecord) -> bool:
        trial.report(record.eval_acc, record.epoch)
        return prune and trial.should_prune()

    say(f"trial {trial.number}: {cfg.run_name}: {cfg.layers}")
    result = train(cfg, results_dir=VAL_DIR, progress=False, stop=stop)
    trial.set_user_attr("run", cfg.run_name)
    if len(result.history) < cfg.epochs:
        raise optuna.TrialPruned(f"stopped after epoch {len(result.history)}")
    return objective_value(result, cfg.epochs)


# A running trial's process writes a heartbeat to the study's storage this often; a trial without one for
# HEARTBEAT_GRACE seconds belongs to a killed search and is failed. A search started beside a running one
# leaves that one's trials alone.
HEARTBEAT_SECONDS, HEARTBEAT_GRACE = 20, 120


def study(name: str, storage: str, sampler=None, pruner=None):
    Path(REPO / "build").mkdir(exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)  # heartbeats: experimental since 2.9
        rdb = optuna.storages.RDBStorage(storage, heartbeat_interval=HEARTBEAT_SECONDS, grace_period=HEARTBEAT_GRACE)
    return optuna.create_study(
        study_name=name,
        storage=rdb,
        load_if_exists=True,
        direction="maximize",
        sampler=sampler or optuna.samplers.TPESampler(seed=0),
        pruner=pruner or optuna.pruners.NopPruner(),
    )


def fail_stale(st) -> None:
    """Fail the trials whose process stopped writing heartbeats (an interrupted search)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        optuna.storages.fail_stale_trials(st)


def pending(st, key: str, values: list[str]) -> list[str]:
    """The values of ``key`` that no trial of the study has finished, is running or is waiting to run.
    A trial left running by an interrupted search (failed by fail_stale) counts as not run: it is queued again."""
    states = optuna.trial.TrialState
    done = {t.params.get(key) for t in st.trials if t.state.is_finished() or t.state == states.RUNNING}
    queued = {t.system_attrs.get("fixed_params", {}).get(key) for t in st.trials if t.state == states.WAITING}
    return [v for v in values if v not in done | queued]


def queued(st) -> int:
    return sum(t.state == optuna.trial.TrialState.WAITING for t in st.trials)


def run_trials(st, objective, n_trials: int, lock=None, queued_only: bool = False) -> None:
    """``n_trials`` trials by Optuna's ask and tell; ``lock`` serializes the asking between worker processes
    (two workers asking at once can both pop the same queued trial). ``queued_only``: stop when no queued trial
    is left (a search beside this one ran it) instead of asking the sampler for a new one.

    Study.optimize would ask the sampler for a new trial once another worker took the last queued one, so this
    loop asks by itself. Around each trial it runs the heartbeat thread that Study.optimize runs, from Optuna's
    private _heartbeat module (with the trial's private id and the study's storage): Optuna has no public way to
    beat for a trial that was asked, and without heartbeats a killed search's trials would stay RUNNING forever."""
    from optuna.storages._heartbeat import get_heartbeat_thread

    for _ in range(n_trials):
        with lock or contextlib.nullcontext(), warnings.catch_warnings():
            # Optuna warns that heartbeats are meant for Study.optimize: this loop runs the same heartbeat thread
            warnings.filterwarnings("ignore", "Heartbeat of storage is supposed to be used with Study.optimize")
            if queued_only and not queued(st):
                return
            trial = st.ask()
        try:
            with get_heartbeat_thread(trial._trial_id, st._storage):
                value = objective(trial)
        except optuna.TrialPruned:
            st.tell(trial, state=optuna.trial.TrialState.PRUNED)
        except BaseException:
            st.tell(trial, state=optuna.trial.TrialState.FAIL)
            raise
        else:
            st.tell(trial, value)
            say(f"trial {trial.number} finished: {value:.4f}, {trial.params or trial.user_attrs}")


def _worker(storage: str, study_name: str, make_objective, options: dict, n_trials: int, lock, queued_only) -> None:
    torch.set_num_threads(1)  # one core each: several OpenMP threads per process on shared cores stall
    run_trials(study(study_name, storage, **options), make_objective(), n_trials, lock, queued_only)


def optimize(args, study_name: str, make_objective, n_trials: int, queued_only: bool = False, **options) -> None:
    """``n_trials`` trials of the study, in ``args.workers`` processes that share its storage."""
    if args.workers == 1 or n_trials <= 1:
        run_trials(study(study_name, args.storage, **options), make_objective(), n_trials, queued_only=queued_only)
        return
    ctx = multiprocessing.get_context("spawn")
    lock = ctx.Lock()
    shares = [n_trials // args.workers + (i < n_trials % args.workers) for i in range(args.workers)]
    procs = [
        ctx.Process(target=_worker, args=(args.storage, study_name, make_objective, options, n, lock, queued_only))
        for n in shares
        if n
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    if any(p.exitcode for p in procs):
        raise RuntimeError(f"a search worker failed: exit codes {[p.exitcode for p in procs]}")


def stage_probe(args) -> None:
    """Every candidate once, on a 5-epoch one-cycle schedule: a cheap ranking of the shapes."""
    run_candidates(args, "probe", args.candidates or list(CANDIDATES), PROBE_EPOCHS, prune=False)


def ranked(stage: str, storage: str) -> list[str]:
    """Candidates of a finished stage, best first."""
    st = optuna.load_study(study_name=stage, storage=storage)
    done = [t for t in st.trials if t.state == optuna.trial.TrialState.COMPLETE]
    return [t.params["candidate"] for t in sorted(done, key=lambda t: -t.value)]


def stage_full(args) -> None:
    """The best probes on the full 15-epoch schedule; successive halving stops the laggards at 5 and 10."""
    names = args.candidates or ranked("probe", args.storage)[: args.top]
    pruner = optuna.pruners.SuccessiveHalvingPruner(min_resource=5, reduction_factor=2, min_early_stopping_rate=0)
    run_candidates(args, "full", names, FULL_EPOCHS, prune=True, pruner=pruner)


def run_candidates(args, stage: str, names: list[str], epochs: int, prune: bool, **options) -> None:
    """Each named candidate once in the stage's study (those already run or queued are not queued again)."""
    st = study(stage, args.storage, **options)
    fail_stale(st)
    for name in pending(st, "candidate", names):
        st.enqueue_trial({"candidate": name})
    objective = functools.partial(candidate_objective, stage, epochs, prune)
    optimize(args, stage, objective, queued(st), queued_only=True, **options)


def candidate_objective(stage: str, epochs: int, prune: bool):
    def objective(trial):
        name = trial.suggest_categorical("candidate", list(CANDIDATES))
        return run_trial(trial, config(name, CANDIDATES[name], stage, epochs), prune=prune)

    return objective


def stage_recipe(args) -> None:
    """The base recipe changed one idea at a time, then TPE over combinations; 15 epochs, median pruner."""
    options = recipe_options()
    st = study(f"recipe-{args.base}", args.storage, **options)
    fail_stale(st)
    if not st.trials:
        for change in ONE_CHANGE:
            if change.get("distill") and not TEACHER.exists():
                continue
            st.enqueue_trial({**BASE_RECIPE, **change})
    optimize(args, f"recipe-{args.base}", functools.partial(recipe_objective, args.base), args.trials, **options)


def recipe_options() -> dict:
    return dict(
        sampler=optuna.samplers.TPESampler(seed=0, n_startup_trials=len(ONE_CHANGE), constant_liar=True),
        pruner=optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=5),
    )


def recipe_objective(base: str):
    def objective(trial):
        aug = trial.suggest_categorical("augmentation", [0.5, 1.0, 1.5])
        recipe = dict(
            lr=trial.suggest_float("lr", 0.05, 0.3, log=True),
            warmup=trial.suggest_float("warmup", 0.1, 0.4),
            weight_decay=trial.suggest_categorical("weight_decay", [0.0, 1e-4, 5e-4]),
            batch_size=trial.suggest_categorical("batch_size", [64, 128, 256]),
            dropout=trial.suggest_categorical("dropout", [0.0, 0.02, 0.05, 0.1]),
            label_smoothing=trial.suggest_categorical("label_smoothing", [0.0, 0.05, 0.1]),
            ema=trial.suggest_categorical("ema", [0.0, 0.99, 0.999]),
            distill=trial.suggest_categorical("distill", [0.0, 0.5]) if TEACHER.exists() else 0.0,
            rotate=10.0 * aug,
            scale=0.1 * aug,
            translate=2.0 * aug,
        )
        if recipe["distill"]:
            recipe["teacher"] = TEACHER.relative_to(REPO).as_posix()
        cfg = config(f"{base}-t{trial.number:02d}", CANDIDATES[base], "recipe", FULL_EPOCHS, **recipe)
        return run_trial(trial, cfg, prune=True)

    return objective


def grid_stack(name: str) -> str:
    """A candidate's or frontier stack, or a registered Session 7 model's own (larger models, as reference points)."""
    if name in STACKS:
        return STACKS[name]
    if name in model_lib.s7_models():
        return " ".join(model_lib.get_model(name).layers)
    raise ValueError(f"unknown candidate {name!r}; see --list, or name a frontier stack or a Session 7 model")


def grid_config(name: str, stage: str, epochs: int, seed: int = 1) -> TrainConfig:
    """The TrainConfig of a grid point ``<candidate or model>+<change>...``; a ValueError names an unknown part."""
    stack, *changes = name.split("+")
    layers = grid_stack(stack)
    recipe: dict = {}
    for change in changes:
        if change not in RECIPE_CHANGES:
            raise ValueError(f"unknown recipe change {change!r} in {name!r}; known: {', '.join(RECIPE_CHANGES)}")
        recipe.update(RECIPE_CHANGES[change])
    return config(name, layers, stage, epochs, seed, **recipe)


def stage_grid(args) -> None:
    """Stacks with named recipe changes, each once on the full schedule, seed 1, never pruned.
    A point is a trial's user attribute, not a categorical parameter: the list of points grows between runs."""
    names = args.candidates or GRID
    for name in names:
        grid_config(name, "grid", FULL_EPOCHS)  # every name is checked before anything trains
    st = study("grid", args.storage)
    fail_stale(st)
    for name in unrun_points(st, names):
        st.enqueue_trial({}, user_attrs={"point": name})
    running = running_points(st, names)
    if running:
        say(
            f"running in another search, or in one stopped less than {HEARTBEAT_GRACE} s ago (queued again once "
            f"that has passed): {', '.join(running)}"
        )
    optimize(args, "grid", grid_objective, queued(st), queued_only=True)


def unrun_points(st, names: list[str]) -> list[str]:
    """The grid points that no trial has run, is running or waits to run; a failed (interrupted) one is run again."""
    states = optuna.trial.TrialState
    kept = (states.COMPLETE, states.PRUNED, states.RUNNING, states.WAITING)
    seen = {t.user_attrs.get("point") for t in st.trials if t.state in kept}
    return [name for name in names if name not in seen]


def running_points(st, names: list[str]) -> list[str]:
    """The grid points that a trial is running: a search beside this one, or a stopped one not yet failed."""
    running = {t.user_attrs.get("point") for t in st.trials if t.state == optuna.trial.TrialState.RUNNING}
    return [name for name in names if name in running]


def grid_objective():
    def objective(trial):
        return run_trial(trial, grid_config(trial.user_attrs["point"], "grid", FULL_EPOCHS), prune=False)

    return objective


def stage_seeds(args) -> None:
    """Runs already made on seed 1, again on other seeds, full length, never pruned."""
    configs = []
    for run in args.runs:
        path = result_path(VAL_DIR, run_name(RECIPE_OF, 1, run))
        if not path.exists():
            raise ValueError(f"no run {run!r}: {path} does not exist")
        base = load_result(path).config
        for seed in args.seeds:
            cfg = dataclasses.replace(TrainConfig(**base), seed=seed, epochs=FULL_EPOCHS)
            if result_path(VAL_DIR, cfg.run_name).exists():
                say(f"{cfg.run_name}: already on record")
                continue
            configs.append(cfg)
    train_all(configs, args.workers)


def _train_one(cfg: TrainConfig) -> None:
    torch.set_num_threads(1)
    train(cfg, results_dir=VAL_DIR, progress=False)


def train_all(configs: list[TrainConfig], workers: int) -> None:
    """Full runs, never pruned, ``workers`` at a time (one core each)."""
    if workers == 1:
        for cfg in configs:
            train(cfg, results_dir=VAL_DIR, progress=False)
        return
    with multiprocessing.get_context("spawn").Pool(workers, maxtasksperchild=1) as pool:
        pool.map(_train_one, configs, chunksize=1)


def stage_teacher(args) -> None:
    """The Session 6 model trained on the search's 50k training images: a teacher for distillation trials."""
    if TEACHER.exists():
        say(f"{TEACHER.name}: already on record")
        return
    train(
        TrainConfig.for_model(model_lib.S6_FINAL, eval_split="val", tag="teacher"),
        results_dir=VAL_DIR,
        progress=False,
    )


# Stage name -> what it runs. A run's tag starts with its stage ("grid-<point>"); the seeds stage repeats such runs
# on other seeds under their own tags, and the teacher's tag is "teacher".
STAGES = {
    "probe": stage_probe,
    "full": stage_full,
    "recipe": stage_recipe,
    "grid": stage_grid,
    "seeds": stage_seeds,
    "teacher": stage_teacher,
}


def list_candidates() -> None:
    for name, layers in STACKS.items():
        d = describe(layers)
        print(f"{name:24s} {d['params']:>6,} params  rf {d['rf']:>2} px on {d['size']}x{d['size']}  {layers}")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m tools.search", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("stage", nargs="?", choices=list(STAGES))
    p.add_argument("--list", action="store_true", help="list the candidates and exit")
    p.add_argument("--storage", default=DEFAULT_STORAGE, help="Optuna storage URL (default: build/search.db)")
    p.add_argument("--top", type=int, default=6, help="full: how many of the best probes")
    p.add_argument(
        "--candidates",
        nargs="+",
        help="probe, full: these candidates only (full: instead of the best); grid: these points, e.g. m7+wd1e-4",
    )
    p.add_argument("--base", help="recipe: the candidate whose recipe is searched")
    p.add_argument("--trials", type=int, default=12, help="recipe: number of trials")
    p.add_argument("--runs", nargs="+", help="seeds: run names without model and seed, e.g. full-sep5x16")
    p.add_argument("--seeds", type=int, nargs="+", default=[2, 3], help="seeds: the seeds to add")
    p.add_argument(
        "--dry-run",
        action="store_true",
        help=f"every trial a smoke run of at most {DRY_RUN_EPOCHS} epochs, into a temporary folder: for CI",
    )
    p.add_argument(
        "--workers",
        type=int,
        default=1,
        help="trainings at a time, one CPU thread each (default: 1, with every thread)",
    )
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.list:
        list_candidates()
        return 0
    if args.dry_run and not DRY_RUN:  # again, with the folder set for this process and its workers
        with tempfile.TemporaryDirectory() as tmp:
            env = {**os.environ, "TINY_MNIST_SEARCH_DRY_RUN": tmp}
            argv = [a for a in (sys.argv[1:] if argv is None else argv) if a != "--dry-run"]
            argv += ["--storage", f"sqlite:///{tmp}/search.db"] if "--storage" not in argv else []
            return subprocess.run([sys.executable, "-m", "tools.search", *argv], env=env, cwd=REPO).returncode
    try:
        if args.stage is None:
            raise ValueError(f"name a stage ({', '.join(STAGES)}) or --list")
        named = [] if args.stage == "grid" else (args.candidates or [])  # grid points are checked by the stage
        unknown = [c for c in named + ([args.base] if args.base else []) if c not in CANDIDATES]
        if unknown:
            raise ValueError(f"unknown candidate(s) {', '.join(unknown)}; see --list")
        if args.stage == "recipe" and not args.base:
            raise ValueError("recipe needs --base CANDIDATE")
        if args.stage == "seeds" and not args.runs:
            raise ValueError("seeds needs --runs")
        if args.workers < 1:
            raise ValueError("--workers must be at least 1")
        STAGES[args.stage](args)
    except (ValueError, KeyError) as err:
        print(f"tools.search: error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
