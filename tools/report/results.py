"""The results a report is made from: every reference run in a results folder by model, seed first, and every
validation run in its ``val`` subfolder."""

from __future__ import annotations

import re
from pathlib import Path

from utils.config import run_name
from utils.data import load_mnist
from utils.paths import DEFAULT_RESULTS_DIR, REPO
from utils.runs import load_results, result_path, weights_path

# What the tools measure and draw, kept apart from the runs in results/: the figures, the benchmark's and the
# mutation test's records
GENERATED = REPO / "docs" / "generated"
FIGURES = GENERATED / "figures"


def requirement_lines(*names: str) -> list[str]:
    """requirements.txt's lines for these packages (e.g. "torch>=2.14.1"), in the order of the file."""
    lines = (REPO / "requirements.txt").read_text().splitlines()
    found = [line.split("#")[0].strip() for line in lines if re.split(r"[<>=!~ ]", line.strip())[0] in names]
    if len(found) != len(names):
        raise ValueError(f"requirements.txt must name each of {', '.join(names)}")
    return found


class Report:
    """Everything the README and the documents show is computed from one of these."""

    def __init__(self, results_dir: Path = DEFAULT_RESULTS_DIR, figures: Path = FIGURES, measured: Path = GENERATED):
        self.results_dir = Path(results_dir)
        self.figures = Path(figures)
        self.measured = Path(measured)  # benchmark.json, mutation.json
        self.runs = {}
        for r in load_results(self.results_dir):
            self.runs.setdefault(r.model, []).append(r)
        for runs in self.runs.values():
            runs.sort(key=lambda r: r.config["seed"])
        self.selection = load_results(self.results_dir / "val")
        self.drawn = None  # the figures, drawn once (figures.drawn_figures)

    def validation_runs(self, tag: str) -> list:
        """The full-length validation runs of one configuration (a tag of results/val), by seed."""
        runs = [r for r in self.selection if r.config.get("tag") == tag and len(r.history) == r.config["epochs"] == 15]
        return sorted(runs, key=lambda r: r.config["seed"])

    def seed1(self, name: str):
        return self.runs[name][0]

    def has_weights(self, name: str) -> bool:
        return weights_path(result_path(self.results_dir, run_name(name, 1))).exists()

    def test_set(self) -> tuple:
        data = load_mnist(log=lambda s: None)
        return data.test_images, data.test_labels
