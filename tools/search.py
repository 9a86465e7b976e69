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
import base64
import contextlib
import dataclasses
import functools
import multiprocessing
import os
import socket
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import optuna
import sqlalchemy
import torch
from filelock import FileLock
from sqlalchemy.engine import make_url

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
    augmentation,
)
from tools.search_training import SearchConfig
from utils.config import EpochRecord, Result, TrainConfig, run_name
from utils.course import SMOKE
from utils.inspection import last_feature_layer
from utils.paths import DEFAULT_RESULTS_DIR, REPO, say, write_atomic
from utils.recipe import config_for, held_within
from utils.runs import load_result, result_path, weights_path
from utils.training import train

DRY_RUN_EPOCHS = 2
DEFAULT_STORAGE = f"sqlite:///{REPO / 'build' / 'search.db'}"
HEARTBEAT_SECONDS, HEARTBEAT_GRACE = 20, 120
FINISHED = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)  # a run on record, pruned or not
RUN, RECORD, WEIGHTS = "run", "record", "weights"
WORKER = "worker"  # the host and process that runs a trial
PROBE_EPOCHS, FULL_EPOCHS = 5, 15


@dataclass(frozen=True)
class Settings:
    """What every stage and every worker of one search is told: where the study and the runs live, and whether
    each trial is a smoke run (``--dry-run``: at most DRY_RUN_EPOCHS epochs on a few images, into a temporary
    folder, so that a pruner still sees a trial report twice)."""

    storage: str = DEFAULT_STORAGE
    val_dir: Path = DEFAULT_RESULTS_DIR / "val"
    dry_run: bool = False
    workers: int = 1
    grace: float = HEARTBEAT_GRACE

    @property
    def teacher(self) -> Path:
        """Where the teacher stage writes distillation's teacher and the recipe stage looks for it."""
        return self.val_dir / TEACHER_FILE


def describe(layers: str) -> dict:
    """Parameters, and the receptive field and map size at the last convolution before GAP."""
    net = model_lib.build_layers(layers)
    last = last_feature_layer(net)
    return {"params": model_lib.count_parameters(net), "rf": last["rf"], "size": last["size"]}


def config(
    settings: Settings, name: str, layers: str, stage: str, epochs: int, seed: int = 1, **recipe
) -> SearchConfig:
    if settings.dry_run:
        recipe.update(train_limit=SMOKE["train_limit"], eval_limit=SMOKE["eval_limit"])
        epochs = min(epochs, DRY_RUN_EPOCHS)
        recipe["hold"] = held_within(recipe.get("hold", 0), epochs)
    return config_for(
        RECIPE_OF,
        SearchConfig,
        layers=layers,
        eval_split="val",
        epochs=epochs,
        seed=seed,
        tag=f"{stage}-{name}",
        **recipe,
    )


def objective_value(result: Result, epochs: int) -> float:
    """What a study maximizes: the bar's own measure (mean of the last 3 epochs) on the full schedule;
    the final epoch on a probe's short one, whose earlier epochs are still at a high rate."""
    return sum(result.last(3)) / 3 if epochs >= FULL_EPOCHS else result.accuracies()[-1]


def run_trial(settings: Settings, trial: optuna.Trial, cfg: TrainConfig, prune: bool) -> float:
    """Train one candidate; Optuna sees every epoch and may stop it."""

    def stop(record: EpochRecord) -> bool:
        trial.report(record.eval_acc, record.epoch)
        return prune and trial.should_prune()

    say(f"trial {trial.number}: {cfg.run_name}: {cfg.layers}")
    result = train(cfg, results_dir=settings.val_dir, progress=False, stop=stop)
    attach(trial, result_path(settings.val_dir, cfg.run_name))
    if len(result.history) < cfg.epochs:
        raise optuna.TrialPruned(f"stopped after epoch {len(result.history)}")
    return objective_value(result, cfg.epochs)


class WorkerFailed(Exception):
    """A worker process of this search stopped with an error (it said which)."""


class StorageError(Exception):
    """The study's storage cannot be reached or used: one line, never the URL's password."""


def shown(url: str) -> str:
    """A storage URL as it may be printed: its password masked (one that is no URL is not shown)."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except sqlalchemy.exc.ArgumentError:
        return "given"


@functools.cache
def rdb(url: str) -> optuna.storages.RDBStorage:
    """The storage of ``url``, once per process. A server (PostgreSQL) is pinged before each use of a pooled
    connection, so that workers go on after the server restarts; its password may come from the URL, PGPASSWORD
    or a pgpass file (libpq reads them)."""
    if url == DEFAULT_STORAGE:
        Path(REPO / "build").mkdir(exist_ok=True)
    engine = {} if url.startswith("sqlite") else {"pool_pre_ping": True}
    try:
        return optuna.storages.RDBStorage(url, engine_kwargs=engine)
    except (sqlalchemy.exc.ArgumentError, sqlalchemy.exc.NoSuchModuleError) as err:
        raise StorageError(f"storage {shown(url)}: not a database URL ({type(err).__name__})") from None
    except sqlalchemy.exc.OperationalError as err:
        reason = str(err.orig).strip().splitlines()[0] if err.orig else type(err).__name__
        raise StorageError(f"storage {shown(url)}: cannot connect: {reason}") from None


def attach(trial: optuna.Trial, results_file: Path) -> None:
    """A finished run's results file and weights, kept in the study's database beside its trial (user attributes),
    so that ``gather`` writes them on the study's side whichever machine ran the trial. A trial's files are
    attached only once the run has written both whole: a killed run leaves nothing to gather."""
    trial.set_user_attr(RUN, results_file.stem)
    trial.set_user_attr(RECORD, results_file.read_text())
    trial.set_user_attr(WEIGHTS, base64.b64encode(weights_path(results_file).read_bytes()).decode("ascii"))


def gather(settings: Settings) -> list[Path]:
    """Every attached run of every study in the storage, written into ``settings.val_dir`` where it is not there
    already (a run on record is never rewritten): the results files the report reads, from any machine."""
    written = []
    for st in studies(settings.storage):
        for t in st.get_trials(
            deepcopy=False, states=(optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
        ):
            if RECORD not in t.user_attrs:
                continue
            path = result_path(settings.val_dir, t.user_attrs[RUN])
            if path.exists():
                continue
            path.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(weights_path(path), base64.b64decode(t.user_attrs[WEIGHTS]))
            write_atomic(path, t.user_attrs[RECORD].encode())
            written.append(path)
    return written


def lost(err: Exception, storage: str) -> str:
    """One line for a storage that failed while a search used it (a server restarted or gone)."""
    if isinstance(err, StorageError):
        return str(err)
    reason = str(getattr(err, "orig", None) or type(err).__name__).strip().splitlines()[0]
    return f"lost the storage {shown(storage)}: {reason}; what finished is kept, run the stage again to go on"


def study(name: str, storage: str, sampler=None, pruner=None) -> optuna.Study:
    return optuna.create_study(
        study_name=name,
        storage=rdb(storage),
        load_if_exists=True,
        direction="maximize",
        sampler=sampler or optuna.samplers.TPESampler(seed=0),
        pruner=pruner or optuna.pruners.NopPruner(),
    )


# A running trial's process writes a heartbeat (a user attribute: the time) this often; a trial without one for
# the grace period (--grace) belongs to a killed search and is failed, then queued again. A search started beside
# a running one leaves that one's trials alone.
HEARTBEAT = "heartbeat"


@contextlib.contextmanager
def heartbeat(trial: optuna.Trial, seconds: float):
    """Write the trial's heartbeat every ``seconds`` while the block runs (Optuna's own heartbeats run only
    inside Study.optimize, which asks the sampler for a trial when the queue is empty: see run_trials)."""
    done = threading.Event()

    def beat() -> None:
        while not done.wait(seconds):
            with contextlib.suppress(sqlalchemy.exc.SQLAlchemyError):  # the server is away: the next beat tries
                trial.set_user_attr(HEARTBEAT, time.time())

    trial.set_user_attr(HEARTBEAT, time.time())
    thread = threading.Thread(target=beat, daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()


def last_heartbeat(t: optuna.trial.FrozenTrial) -> float:
    start = t.datetime_start.timestamp() if t.datetime_start else 0.0
    return max(t.user_attrs.get(HEARTBEAT, 0.0), start)


def fail_stale(st: optuna.Study, grace: float) -> None:
    """Fail the running trials whose process wrote no heartbeat for ``grace`` seconds (an interrupted search)."""
    now = time.time()
    for t in st.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
        if now - last_heartbeat(t) > grace:
            st.tell(t.number, state=optuna.trial.TrialState.FAIL, skip_if_finished=True)
            say(f"trial {t.number} ({point_of(t)}): no heartbeat for {now - last_heartbeat(t):.0f} s, failed")


def point_of(t: optuna.trial.FrozenTrial) -> str | None:
    """The name a queued trial runs: a grid point, a seeds run, or a candidate (its parameter)."""
    return t.user_attrs.get("point") or t.params.get("candidate")


def unrun(st: optuna.Study, names: list[str]) -> list[str]:
    """The names that no trial has run, is running or waits to run; a failed (interrupted) one is run again."""
    states = optuna.trial.TrialState
    kept = (states.COMPLETE, states.PRUNED, states.RUNNING, states.WAITING)
    seen = {point_of(t) for t in st.get_trials(deepcopy=False, states=kept)}
    return [name for name in names if name not in seen]


def running(st: optuna.Study, names: list[str], grace: float) -> list[str]:
    """The names that a trial is running, with when each goes stale: a search beside this one, or a stopped one
    not yet failed."""
    now, found = time.time(), {}
    for t in st.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
        found[point_of(t)] = grace - (now - last_heartbeat(t))
    return [f"{name} (stale in {max(found[name], 0):.0f} s unless it beats)" for name in names if name in found]


def queued(st: optuna.Study) -> int:
    return len(st.get_trials(deepcopy=False, states=(optuna.trial.TrialState.WAITING,)))


def asking(storage: str):
    """Held while a worker takes a queued trial. On PostgreSQL (and other servers) Optuna takes it under a row lock,
    so two workers never take the same; SQLite has no such lock, so on one machine a lock file beside the
    database keeps the askers apart, whichever process started them."""
    if storage.startswith("sqlite:///"):
        return FileLock(storage.removeprefix("sqlite:///") + ".ask.lock")
    return contextlib.nullcontext()


def run_trials(settings: Settings, st: optuna.Study, objective, n_trials: int, queued_only: bool = False) -> None:
    """``n_trials`` trials by Optuna's ask and tell, each with a heartbeat. ``queued_only``: stop when no queued
    trial is left (a worker beside this one took it) instead of asking the sampler for a new one, which
    Study.optimize would do."""
    for _ in range(n_trials):
        with asking(settings.storage):
            if queued_only and not queued(st):
                return
            trial = st.ask()
        trial.set_user_attr(WORKER, f"{socket.gethostname()}:{os.getpid()}")
        try:
            with heartbeat(trial, HEARTBEAT_SECONDS):
                value = objective(trial)
        except optuna.TrialPruned:
            st.tell(trial, state=optuna.trial.TrialState.PRUNED, skip_if_finished=True)
        except BaseException:
            st.tell(trial, state=optuna.trial.TrialState.FAIL, skip_if_finished=True)
            raise
        else:
            st.tell(trial, value, skip_if_finished=True)
            say(f"trial {trial.number} finished: {value:.4f}, {trial.params or trial.user_attrs.get('point')}")


def _worker(settings: Settings, study_name: str, make_objective, options: dict, n_trials: int, queued_only) -> None:
    torch.set_num_threads(1)  # one core each: several OpenMP threads per process on shared cores stall
    try:
        st = study(study_name, settings.storage, **options)
        run_trials(settings, st, make_objective(settings), n_trials, queued_only)
    except (StorageError, sqlalchemy.exc.OperationalError) as err:
        print(f"tools.search: worker {os.getpid()}: error: {lost(err, settings.storage)}", file=sys.stderr)
        sys.exit(1)


def optimize(
    settings: Settings, study_name: str, make_objective, n_trials: int, queued_only: bool = False, **options
) -> None:
    """``n_trials`` trials of the study, in ``settings.workers`` processes that share its storage: the one way
    the search runs trials at once. ``make_objective(settings)`` gives each process its objective."""
    if settings.workers == 1 or n_trials <= 1:
        st = study(study_name, settings.storage, **options)
        run_trials(settings, st, make_objective(settings), n_trials, queued_only)
        return
    ctx = multiprocessing.get_context("spawn")
    shares = [n_trials // settings.workers + (i < n_trials % settings.workers) for i in range(settings.workers)]
    procs = [
        ctx.Process(target=_worker, args=(settings, study_name, make_objective, options, n, queued_only))
        for n in shares
        if n
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    if any(p.exitcode for p in procs):
        raise WorkerFailed(f"a search worker failed: exit codes {[p.exitcode for p in procs]}")


def run_queue(settings: Settings, stage: str, names: list[str], make_objective, **options) -> None:
    """Each name once in the stage's study: those not run, running or queued are queued, then every queued trial
    runs (here, and in any search beside this one on the same storage)."""
    st = study(stage, settings.storage, **options)
    fail_stale(st, settings.grace)
    for name in unrun(st, names):
        st.enqueue_trial(queued_params(stage, name), user_attrs={"point": name})
    elsewhere = running(st, names, settings.grace)
    if elsewhere:
        say(f"running in another search, or in one stopped and not yet failed: {', '.join(elsewhere)}")
    optimize(settings, stage, make_objective, queued(st), queued_only=True, **options)


def queued_params(stage: str, name: str) -> dict:
    """A candidate stage's trial fixes its one categorical parameter; the others' points are user attributes only
    (the list of grid points grows between runs)."""
    return {"candidate": name} if stage in ("probe", "full") else {}


def stage_probe(args, settings: Settings) -> None:
    """Every candidate once, on a 5-epoch one-cycle schedule: a cheap ranking of the shapes."""
    names = args.candidates or list(CANDIDATES)
    run_queue(settings, "probe", names, functools.partial(candidate_objective, "probe", PROBE_EPOCHS, False))


def ranked(stage: str, storage: str) -> list[str]:
    """Candidates of a finished stage, best first."""
    st = load(stage, storage)
    done = st.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    return [t.params["candidate"] for t in sorted(done, key=lambda t: -t.value)]


def load(name: str, storage: str) -> optuna.Study:
    """A study the storage must hold already."""
    if name not in optuna.get_all_study_names(rdb(storage)):
        raise StorageError(f"storage {shown(storage)} holds no study {name!r} of this search")
    return optuna.load_study(study_name=name, storage=rdb(storage))


def studies(storage: str) -> list[optuna.Study]:
    """Every study in the storage; none is an error (a wrong database, or one where no search ran)."""
    names = optuna.get_all_study_names(rdb(storage))
    if not names:
        raise StorageError(f"storage {shown(storage)} holds no study of this search")
    return [load(name, storage) for name in names]


def stage_full(args, settings: Settings) -> None:
    """The best probes on the full 15-epoch schedule; successive halving stops the laggards at 5 and 10."""
    names = args.candidates or ranked("probe", settings.storage)[: args.top]
    pruner = optuna.pruners.SuccessiveHalvingPruner(min_resource=5, reduction_factor=2, min_early_stopping_rate=0)
    objective = functools.partial(candidate_objective, "full", FULL_EPOCHS, True)
    run_queue(settings, "full", names, objective, pruner=pruner)


def candidate_objective(stage: str, epochs: int, prune: bool, settings: Settings):
    def objective(trial):
        name = trial.suggest_categorical("candidate", list(CANDIDATES))
        return run_trial(settings, trial, config(settings, name, CANDIDATES[name], stage, epochs), prune=prune)

    return objective


def stage_recipe(args, settings: Settings) -> None:
    """The base recipe changed one idea at a time, then TPE over combinations; 15 epochs, median pruner."""
    options = recipe_options()
    name = f"recipe-{args.base}"
    st = study(name, settings.storage, **options)
    fail_stale(st, settings.grace)
    if not st.trials:
        for change in ONE_CHANGE:
            if change.get("distill") and not settings.teacher.exists():
                continue
            st.enqueue_trial({**BASE_RECIPE, **change})
    optimize(settings, name, functools.partial(recipe_objective, args.base), args.trials, **options)


def recipe_options() -> dict:
    return dict(
        sampler=optuna.samplers.TPESampler(seed=0, n_startup_trials=len(ONE_CHANGE), constant_liar=True),
        pruner=optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=5),
    )


def recipe_objective(base: str, settings: Settings):
    teacher = settings.teacher

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
            distill=trial.suggest_categorical("distill", [0.0, 0.5]) if teacher.exists() else 0.0,
            **augmentation(aug),
        )
        if recipe["distill"]:  # a path relative to the repository, as every recorded run names it
            recipe["teacher"] = teacher.relative_to(REPO).as_posix() if teacher.is_relative_to(REPO) else str(teacher)
        cfg = config(settings, f"{base}-t{trial.number:02d}", CANDIDATES[base], "recipe", FULL_EPOCHS, **recipe)
        return run_trial(settings, trial, cfg, prune=True)

    return objective


def grid_stack(name: str) -> str:
    """A candidate's or frontier stack, or a registered Session 7 model's own (larger models, as reference points)."""
    if name in STACKS:
        return STACKS[name]
    if name in model_lib.s7_models():
        return " ".join(model_lib.get_model(name).layers)
    raise ValueError(f"unknown candidate {name!r}; see --list, or name a frontier stack or a Session 7 model")


def grid_config(settings: Settings, name: str, stage: str, epochs: int, seed: int = 1) -> SearchConfig:
    """The configuration of a grid point ``<candidate or model>+<change>...``; a ValueError names an unknown part."""
    stack, *changes = name.split("+")
    layers = grid_stack(stack)
    recipe: dict = {}
    for change in changes:
        if change not in RECIPE_CHANGES:
            raise ValueError(f"unknown recipe change {change!r} in {name!r}; known: {', '.join(RECIPE_CHANGES)}")
        recipe.update(RECIPE_CHANGES[change])
    return config(settings, name, layers, stage, epochs, seed, **recipe)


def stage_grid(args, settings: Settings) -> None:
    """Stacks with named recipe changes, each once on the full schedule, seed 1, never pruned."""
    names = args.candidates or GRID
    for name in names:
        grid_config(settings, name, "grid", FULL_EPOCHS)  # every name is checked before anything trains
    run_queue(settings, "grid", names, grid_objective)


def grid_objective(settings: Settings):
    def objective(trial):
        cfg = grid_config(settings, trial.user_attrs["point"], "grid", FULL_EPOCHS)
        return run_trial(settings, trial, cfg, prune=False)

    return objective


def stage_seeds(args, settings: Settings) -> None:
    """Runs already made on seed 1, again on other seeds, full length, never pruned: each a trial of the study
    "seeds", named by the run it makes."""
    names = []
    for run in args.runs:
        path = result_path(settings.val_dir, run_name(RECIPE_OF, 1, run))
        if not path.exists():
            raise ValueError(f"no run {run!r}: {path} does not exist")
        for seed in args.seeds:
            cfg = seed_config(settings, run_name(RECIPE_OF, seed, run))
            if result_path(settings.val_dir, cfg.run_name).exists():
                say(f"{cfg.run_name}: already on record")
                continue
            names.append(cfg.run_name)
    run_queue(settings, "seeds", names, seeds_objective)


def seed_config(settings: Settings, name: str) -> SearchConfig:
    """The configuration of the run ``name`` (``Model_7-grid-m7+hold2-seed3``): its seed-1 run's, on its seed."""
    stem, _, seed = name.rpartition("-seed")
    base = load_result(result_path(settings.val_dir, f"{stem}-seed1")).config
    epochs = DRY_RUN_EPOCHS if settings.dry_run else FULL_EPOCHS
    return dataclasses.replace(SearchConfig(**base), seed=int(seed), epochs=epochs)


def seeds_objective(settings: Settings):
    def objective(trial):
        cfg = seed_config(settings, trial.user_attrs["point"])
        say(f"trial {trial.number}: {cfg.run_name}")
        result = train(cfg, results_dir=settings.val_dir, progress=False)
        attach(trial, result_path(settings.val_dir, cfg.run_name))
        return objective_value(result, cfg.epochs)

    return objective


def stage_teacher(args, settings: Settings) -> None:
    """The Session 6 model trained on the search's 50k training images: a teacher for distillation trials."""
    if settings.teacher.exists():
        say(f"{settings.teacher.name}: already on record")
        return
    cfg = config_for(model_lib.S6_FINAL, eval_split="val", tag="teacher")
    train(cfg, results_dir=settings.val_dir, progress=False)


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


def command_gather(args, settings: Settings) -> None:
    """Every finished trial's results file and weights, from the study's database into results/val/."""
    written = gather(settings)
    say(f"{len(written)} run(s) written to {settings.val_dir}" + "".join(f"\n  {p.name}" for p in written))


def command_status(args, settings: Settings) -> None:
    """Each study's trials by state, and the running ones with their last heartbeat."""
    now = time.time()
    for st in studies(settings.storage):
        trials = st.get_trials(deepcopy=False)
        by_state = Counter(t.state.name.lower() for t in trials)
        print(f"{st.study_name}: {len(trials)} trials: " + ", ".join(f"{n} {k}" for k, n in sorted(by_state.items())))
        for t in trials:
            if t.state == optuna.trial.TrialState.RUNNING:
                age = now - last_heartbeat(t)
                late = "stale: failed by the next stage started" if age > settings.grace else "alive"
                print(f"  trial {t.number} {point_of(t) or ''}: last heartbeat {age:.0f} s ago ({late})")


# Besides the stages: what reads a study without training.
COMMANDS = {**STAGES, "gather": command_gather, "status": command_status}


def list_candidates() -> None:
    for name, layers in STACKS.items():
        d = describe(layers)
        print(f"{name:24s} {d['params']:>6,} params  rf {d['rf']:>2} px on {d['size']}x{d['size']}  {layers}")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m tools.search", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("stage", nargs="?", choices=list(COMMANDS), help="a stage, or gather or status")
    p.add_argument("--list", action="store_true", help="list the candidates and exit")
    p.add_argument("--storage", default=None, help="Optuna storage URL (default: build/search.db)")
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
        help=f"every trial a smoke run of at most {DRY_RUN_EPOCHS} epochs, into a temporary folder "
        "(and a study there, unless --storage names one): for CI",
    )
    p.add_argument(
        "--out",
        type=Path,
        default=None,
        help="the folder the runs are written to, and gather writes to (default: results/val; a dry run: a "
        "temporary folder)",
    )
    p.add_argument(
        "--workers",
        type=int,
        default=1,
        help="trainings at a time, one CPU thread each (default: 1, with every thread)",
    )
    p.add_argument(
        "--grace",
        type=float,
        default=HEARTBEAT_GRACE,
        help=f"seconds without a heartbeat after which a running trial counts as killed, is failed and queued "
        f"again (default: {HEARTBEAT_GRACE:g}; it beats every {HEARTBEAT_SECONDS:g})",
    )
    return p.parse_args(argv)


def check(args) -> None:
    """One line for each way the command line can be wrong, before any study is opened."""
    if args.stage is None:
        raise ValueError(f"name a stage ({', '.join(STAGES)}), gather, status or --list")
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
    if args.grace <= HEARTBEAT_SECONDS:
        raise ValueError(f"--grace must be more than the heartbeat's {HEARTBEAT_SECONDS:g} s")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.list:
        list_candidates()
        return 0
    try:
        check(args)
        with tempfile.TemporaryDirectory() as tmp:
            settings = Settings(
                storage=args.storage or (f"sqlite:///{tmp}/search.db" if args.dry_run else DEFAULT_STORAGE),
                val_dir=args.out or (Path(tmp) if args.dry_run else Settings.val_dir),
                dry_run=args.dry_run,
                workers=args.workers,
                grace=args.grace,
            )
            COMMANDS[args.stage](args, settings)
    except (ValueError, KeyError, StorageError) as err:
        print(f"tools.search: error: {err}", file=sys.stderr)
        return 2
    except sqlalchemy.exc.OperationalError as err:
        print(f"tools.search: error: {lost(err, args.storage or DEFAULT_STORAGE)}", file=sys.stderr)
        return 1
    except WorkerFailed as err:
        print(f"tools.search: error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
