"""Each step's prose, kept in docs/steps.toml and filled from results/: its details, its Analysis and its entry in
the test-set record. A number measured by a run is never typed in that file; it is a field that names where it
comes from, in Python's format syntax:

    {test[Model_15].held} of {test[Model_15].count} seeds hold, floors {test[Model_15].floor.min:.2f}% to ...
    {test[Model_14 seeds 6-10].floor.max:.2f}          a subset of the seeds
    {val[grid-sep-all-23+hold2].floor.mean:.2f}        the validation runs of a tag of results/val
    {test[Model_6].seed[4].epoch[13].eval_acc:.2f}     one epoch of one seed
    {vs[Model_13 Model_12].below}                      seeds on which the first's floor is below the second's
    {net[Model_9].params:,}                            a network's own count, from model.py
    {course.S7_SMALLEST.max_params:,}                  a bar, from utils/course.py

``tests/test_steps.py`` fails on a measured number typed as text instead."""

from __future__ import annotations

import math
import re
import string
import tomllib
from dataclasses import dataclass, replace
from functools import cache

import model as model_lib
from tools.report.results import Report
from utils import course
from utils.paths import REPO
from utils.runs import holds

STEPS_FILE = REPO / "docs" / "steps.toml"
BAR = course.S7  # "the bar" of the prose: 99.4% in each of the last 3 of at most 15 epochs
IMAGES = 10_000  # test or validation images: a point is 100 of them


@cache
def _table() -> dict:
    return tomllib.loads(STEPS_FILE.read_text())


def entry(name: str) -> dict:
    """A registered model's entry in docs/steps.toml (empty where it has none)."""
    model_lib.get_model(name)  # the registry's error for an unknown name
    return _table().get(name, {})


@dataclass(frozen=True)
class TestRecord:
    evidence: str  # the validation runs that sent the model to the test set (a tag of results/val)
    beats: str  # the model whose validation floor it had to beat
    test_informed: str  # the test results that informed its choice
    evidence_seeds: tuple[int, ...] = ()  # the validation seeds on record when it went to the test set (all: ())


def test_record(name: str) -> TestRecord:
    record = entry(name).get("test_set", {})
    return TestRecord(
        record.get("evidence", ""),
        record.get("beats", ""),
        " ".join(record.get("informed_by", "").split()),
        tuple(record.get("evidence_seeds", ())),
    )


class Stats:
    """Numbers over seeds or epochs: their mean, standard deviation, lowest and highest."""

    def __init__(self, values: list[float]):
        if not values:
            raise ValueError("no values")
        self.values = values
        self.mean = sum(values) / len(values)
        n = len(values)
        self.std = math.sqrt(sum((v - self.mean) ** 2 for v in values) / (n - 1)) if n > 1 else 0.0
        self.min, self.max = min(values), max(values)
        self.spread = self.max - self.min


class Run:
    """One seed's run: ``epoch[e]`` is its record of epoch e (eval_acc, train_acc, ...), counted from 1."""

    def __init__(self, result):
        self.result = result
        accs = result.accuracies()
        self.epoch = {h.epoch: h for h in result.history}
        self.floor = BAR.floor(result)
        self.last3 = Stats(result.last(BAR.last))
        self.best = max(accs)
        self.best_epoch = accs.index(self.best) + 1
        self.holds = holds(result, BAR)


class Seeds:
    """The runs of one configuration: how many hold the bar, and statistics of their floors (the lowest of each
    seed's last 3 epochs) and of their last epoch's training accuracy."""

    def __init__(self, runs: list):
        if not runs:
            raise KeyError("no runs")
        self.runs = runs
        self.params = runs[0].params
        self.count = len(runs)
        self.seed = {r.config["seed"]: Run(r) for r in runs}
        self.held = sum(run.holds for run in self.seed.values())
        self.missed = self.count - self.held
        self.held_at = _HeldAt(runs)
        self.floor = Stats([run.floor for run in self.seed.values()])
        self.train = Stats([r.history[-1].train_acc for r in runs])
        # how far each floor is above the bar, in test images
        self.margin = Stats([(run.floor - BAR.min_acc) * IMAGES / 100 for run in self.seed.values()])


class _HeldAt:
    def __init__(self, runs):
        self.runs = runs

    def __getitem__(self, acc: str) -> int:
        return sum(holds(r, replace(BAR, min_acc=float(acc))) for r in self.runs)


def _subset(key: str, runs: list) -> tuple[str, list]:
    """``"Model_14 seeds 6-10"`` -> ("Model_14", seeds 6 to 10 of ``runs``)."""
    name, _, seeds = key.partition(" seeds ")
    if not seeds:
        return key, runs
    low, _, high = seeds.partition("-")
    wanted = range(int(low), int(high or low) + 1)
    return name, [r for r in runs if r.config["seed"] in wanted]


class _Test:
    def __init__(self, rep: Report):
        self.rep = rep

    def __getitem__(self, key: str) -> Seeds:
        name, _ = _subset(key, [])
        if name not in self.rep.runs:
            raise KeyError(f"no test runs of {name}")
        return Seeds(_subset(key, self.rep.runs[name])[1])


class _Val:
    def __init__(self, rep: Report):
        self.rep = rep

    def __getitem__(self, key: str) -> Seeds:
        tag, _ = _subset(key, [])
        runs = self.rep.validation_runs(tag)
        if not runs:
            raise KeyError(f"no full-length validation runs tagged {tag}")
        return Seeds(_subset(key, runs)[1])


class Versus:
    """Seed by seed, the first configuration's floor against the second's, on the seeds both have."""

    def __init__(self, a: Seeds, b: Seeds):
        pairs = [(a.seed[s].floor, b.seed[s].floor) for s in a.seed if s in b.seed]
        if not pairs:
            raise KeyError("no seed in common")
        self.above = sum(round(x - y, 2) > 0 for x, y in pairs)
        self.level = sum(round(x - y, 2) == 0 for x, y in pairs)
        self.below = sum(round(x - y, 2) < 0 for x, y in pairs)


class _Vs:
    def __init__(self, namespace: dict):
        self.namespace = namespace

    def __getitem__(self, key: str) -> Versus:
        first, second = key.split()
        return Versus(self._seeds(first), self._seeds(second))

    def _seeds(self, name: str) -> Seeds:
        return self.namespace["test" if name in model_lib.list_models() else "val"][name]


class _Net:
    def __getitem__(self, name: str):
        net = model_lib.get_model(name)
        net.params = model_lib.count_parameters(net)
        return net


FIELD = re.compile(r"\{[^{}]*\}")


def render(text: str, rep: Report) -> str:
    """``text`` (one paragraph of docs/steps.toml) with every field filled from ``rep``; a field that names no run
    raises a KeyError that says which."""
    namespace: dict = {"test": _Test(rep), "val": _Val(rep), "net": _Net(), "course": course}
    namespace["vs"] = _Vs(namespace)
    try:
        return string.Formatter().vformat(" ".join(text.split()), (), namespace)
    except (KeyError, AttributeError, IndexError, ValueError) as e:
        raise KeyError(f"docs/steps.toml: cannot fill {text[:60]!r}...: {e}") from None


def details(name: str, rep: Report) -> str:
    return render(entry(name).get("details", ""), rep)


def analysis(name: str, rep: Report) -> str:
    return render(entry(name).get("analysis", ""), rep)


def informed_by(name: str, rep: Report) -> str:
    return render(test_record(name).test_informed, rep)
