"""The search's studies: where they live (SQLite on one machine, a PostgreSQL server for workers anywhere), how
workers take queued trials and beat while they run them, how a killed worker's trials are failed and queued again,
and how every finished run is kept in the study and gathered back into results/val/. tools/search.py's stages run
their trials through it, on Optuna's public API only."""

from __future__ import annotations

import base64
import contextlib
import functools
import multiprocessing
import os
import socket
import sys
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

from tools.search_space import TEACHER_FILE
from utils.paths import DEFAULT_RESULTS_DIR, REPO, say, write_atomic
from utils.runs import result_path, weights_path

DEFAULT_STORAGE = f"sqlite:///{REPO / 'build' / 'search.db'}"
HEARTBEAT_SECONDS, HEARTBEAT_GRACE = 20, 120
FINISHED = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)  # a run on record, pruned or not
RUN, RECORD, WEIGHTS = "run", "record", "weights"
WORKER = "worker"  # the host and process that runs a trial


@dataclass(frozen=True)
class Settings:
    """What every stage and every worker of one search is told: where the study and the runs live, and whether
    each trial is a smoke run (``--dry-run``: at most tools.search.DRY_RUN_EPOCHS epochs on a few images, into a
    temporary folder, so that a pruner still sees a trial report twice)."""

    storage: str = DEFAULT_STORAGE
    val_dir: Path = DEFAULT_RESULTS_DIR / "val"
    dry_run: bool = False
    workers: int = 1
    grace: float = HEARTBEAT_GRACE

    @property
    def teacher(self) -> Path:
        """Where the teacher stage writes distillation's teacher and the recipe stage looks for it."""
        return self.val_dir / TEACHER_FILE


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


BACKENDS = ("sqlite", "postgresql")  # those whose workers queue_lock keeps apart


def backend_of(url: str) -> str:
    """The storage's database, one of BACKENDS."""
    try:
        backend = make_url(url).get_backend_name()
    except sqlalchemy.exc.ArgumentError:
        raise StorageError(f"storage {shown(url)}: not a database URL") from None
    if backend not in BACKENDS:
        raise StorageError(f"storage {shown(url)}: not a database URL of {' or '.join(BACKENDS)}")
    return backend


@functools.cache
def rdb(url: str) -> optuna.storages.RDBStorage:
    """The storage of ``url``, once per process. A server (PostgreSQL) is pinged before each use of a pooled
    connection, so that workers go on after the server restarts; its password may come from the URL, PGPASSWORD
    or a pgpass file (libpq reads them)."""
    backend = backend_of(url)
    if url == DEFAULT_STORAGE:
        Path(REPO / "build").mkdir(exist_ok=True)
    engine = {} if backend == "sqlite" else {"pool_pre_ping": True}
    try:
        with queue_lock(url):  # workers that make the tables of a new database at once collide
            return optuna.storages.RDBStorage(url, engine_kwargs=engine)
    except (sqlalchemy.exc.ArgumentError, sqlalchemy.exc.NoSuchModuleError) as err:
        raise StorageError(f"storage {shown(url)}: not a database URL ({type(err).__name__})") from None
    except sqlalchemy.exc.OperationalError as err:
        raise StorageError(f"storage {shown(url)}: cannot connect: {driver_said(err)}") from None


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


# What a storage that went away mid-search raises: SQLAlchemy's error, or Optuna's wrapping of it
STORAGE_LOST = (sqlalchemy.exc.SQLAlchemyError, optuna.exceptions.StorageInternalError)


def lost(err: Exception, storage: str) -> str:
    """One line for a storage that failed while a search used it (a server restarted or gone)."""
    if isinstance(err, StorageError):
        return str(err)
    return f"lost the storage {shown(storage)}: {driver_said(err)}; what finished is kept, run the stage again to go on"


def driver_said(err: Exception) -> str:
    """The first line of what the database driver said, under SQLAlchemy's error and Optuna's wrapping of it."""
    cause = err.__cause__ if isinstance(err, optuna.exceptions.StorageInternalError) and err.__cause__ else err
    return (str(getattr(cause, "orig", None) or cause).strip().splitlines() or [type(cause).__name__])[0]


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
            with contextlib.suppress(*STORAGE_LOST):  # the server is away: the next beat tries again
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


# The advisory lock the search's workers take on a PostgreSQL server (any fixed number that no other user of the
# database takes)
SERVER_LOCK_KEY = 0x5EA2C4


@contextlib.contextmanager
def queue_lock(storage: str):
    """Held while a search changes the queue or takes from it. Two searches started at once would otherwise both
    see a name unrun and both queue it (the name then runs twice); a worker that counted one queued trial may
    see another take it before it asks, and Optuna would then sample a new trial instead. On SQLite (one
    machine) a lock file beside the database; on PostgreSQL an advisory lock of the server, held for one
    transaction, which the server lets go when a killed worker's connection drops."""
    if backend_of(storage) == "postgresql":
        with lock_engine(storage).begin() as connection:
            connection.execute(sqlalchemy.text("SELECT pg_advisory_xact_lock(:key)"), {"key": SERVER_LOCK_KEY})
            yield
        return
    database = make_url(storage).database
    in_memory = database in (None, "", ":memory:")  # a database of one process: no other to keep apart
    with contextlib.nullcontext() if in_memory else FileLock(database + ".lock"):
        yield


@functools.cache
def lock_engine(url: str) -> sqlalchemy.Engine:
    """A connection of its own per lock, so that a lock is never held on a connection that Optuna uses."""
    return sqlalchemy.create_engine(url, poolclass=sqlalchemy.pool.NullPool)


def run_trials(settings: Settings, st: optuna.Study, objective, n_trials: int, queued_only: bool = False) -> None:
    """``n_trials`` trials by Optuna's ask and tell, each with a heartbeat. ``queued_only``: stop when no queued
    trial is left (a worker beside this one took it) instead of asking the sampler for a new one, which
    Study.optimize would do."""
    for _ in range(n_trials):
        with queue_lock(settings.storage):
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
    except (StorageError, *STORAGE_LOST) as err:
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
    with queue_lock(settings.storage):
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


def status(settings: Settings) -> list[str]:
    """Each study's trials by state, and the running ones with their last heartbeat."""
    now, lines = time.time(), []
    for st in studies(settings.storage):
        trials = st.get_trials(deepcopy=False)
        by_state = Counter(t.state.name.lower() for t in trials)
        counts = ", ".join(f"{n} {k}" for k, n in sorted(by_state.items()))
        lines.append(f"{st.study_name}: {len(trials)} trials: {counts}")
        for t in trials:
            if t.state == optuna.trial.TrialState.RUNNING:
                age = now - last_heartbeat(t)
                late = "stale: failed by the next stage started" if age > settings.grace else "alive"
                lines.append(f"  trial {t.number} {point_of(t) or ''}: last heartbeat {age:.0f} s ago ({late})")
    return lines
