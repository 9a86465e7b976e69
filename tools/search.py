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
import dataclasses
import functools
import sys
import tempfile
from pathlib import Path

import optuna

import model as model_lib
from tools import search_study
from tools.search_space import (
    BASE_RECIPE,
    CANDIDATES,
    GRID,
    ONE_CHANGE,
    RECIPE_CHANGES,
    RECIPE_OF,
    STACKS,
    augmentation,
)
from tools.search_study import (
    DEFAULT_STORAGE,
    HEARTBEAT_GRACE,
    STORAGE_LOST,
    Settings,
    StorageError,
    WorkerFailed,
    attach,
    fail_stale,
    gather,
    load,
    lost,
    optimize,
    run_queue,
    status,
    study,
)
from tools.search_training import SearchConfig
from utils.config import EpochRecord, Result, TrainConfig, run_name
from utils.course import SMOKE
from utils.inspection import last_feature_layer
from utils.paths import REPO, say
from utils.recipe import config_for, held_within
from utils.runs import load_result, result_path
from utils.training import train

DRY_RUN_EPOCHS = 2
PROBE_EPOCHS, FULL_EPOCHS = 5, 15


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


def stage_probe(args, settings: Settings) -> None:
    """Every candidate once, on a 5-epoch one-cycle schedule: a cheap ranking of the shapes."""
    names = args.candidates or list(CANDIDATES)
    run_queue(settings, "probe", names, functools.partial(candidate_objective, "probe", PROBE_EPOCHS, False))


def ranked(stage: str, storage: str) -> list[str]:
    """Candidates of a finished stage, best first."""
    st = load(stage, storage)
    done = st.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    return [t.params["candidate"] for t in sorted(done, key=lambda t: -t.value)]


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
    for line in status(settings):
        print(line)


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
        f"again (default: {HEARTBEAT_GRACE:g}; it beats every {search_study.HEARTBEAT_SECONDS:g})",
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
    if args.grace <= search_study.HEARTBEAT_SECONDS:  # read now: a test beats faster
        raise ValueError(f"--grace must be more than the heartbeat's {search_study.HEARTBEAT_SECONDS:g} s")


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
    except STORAGE_LOST as err:
        print(f"tools.search: error: {lost(err, args.storage or DEFAULT_STORAGE)}", file=sys.stderr)
        return 1
    except WorkerFailed as err:
        print(f"tools.search: error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
