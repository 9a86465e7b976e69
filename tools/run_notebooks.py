"""Execute S6.ipynb and S7.ipynb, check what they printed against the assignment, write the badges.

    python -m tools.run_notebooks --out executed --badges badges   # what the CI workflow runs
    python -m tools.run_notebooks --smoke --out /tmp/nb             # seconds-long runs, relaxed accuracy bar
    python -m tools.run_notebooks --out .                           # re-execute the committed notebooks in place
    python -m tools.run_notebooks --out . --runs results            # ... as the reference runs (maintainers only)

Each notebook runs headless with papermill (no progress bar, so the executed notebook holds only
what the runs printed), then tools/check_notebook.py checks its final model against the course's
bar (utils/course.py) and writes one shields.io badge file per requirement. The exit status is 1
when a notebook fails to execute or a requirement fails; the badges are written either way.

The runs the notebooks make go to <out>/runs (runs/ for --out .), never to the reference runs in results/
unless --runs names it. Executed in place, the notebooks' times and machine go into their own first cell and the
README's notebook table (a generated block), so that the executed notebooks and the README say the same.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from pathlib import Path

from tools import check_notebook
from utils.course import BARS, SMOKE, Bar
from utils.data import default_device
from utils.paths import DEFAULT_RESULTS_DIR, REPO
from utils.runs import cpu_name

NOTEBOOKS = [f"{name}.ipynb" for name in BARS]


def bar_of(notebook: Path, smoke: bool) -> Bar:
    """The course's bar for a notebook; a smoke run's 1 epoch on a subset drops the accuracy bar and keeps every
    structural check."""
    bar = BARS[notebook.stem]
    return dataclasses.replace(bar, min_acc=0.0, last=SMOKE["epochs"]) if smoke else bar


def executed_as_smoke(notebook: Path) -> bool:
    """Whether the notebook's last execution was a smoke run (papermill keeps the parameters it ran with)."""
    import nbformat

    return was_smoke(nbformat.read(str(notebook), as_version=4).metadata)


def was_smoke(metadata: dict) -> bool:
    """Whether a notebook's metadata records a smoke run."""
    return bool(metadata.get("papermill", {}).get("parameters", {}).get("SMOKE", False))


def execute(notebook: str, out: Path, runs: Path, smoke: bool, timeout: int) -> None:
    """papermill, with the notebook's runs written to ``runs``."""
    import papermill

    runs = runs.resolve()
    if runs.is_relative_to(REPO):
        runs = runs.relative_to(REPO)  # the notebook runs in the repository
    params = {"RESULTS_DIR": str(runs), "PROGRESS": False, "SMOKE": smoke}
    papermill.execute_notebook(
        str(REPO / notebook),
        str(out / notebook),
        parameters=params,
        cwd=str(REPO),
        execution_timeout=timeout,
        progress_bar=False,
        log_output=False,
    )
    finish(out / notebook)


def finish(path: Path) -> None:
    """Drop the cell papermill injects: run again in Jupyter, the notebook must use its own parameters
    (a user's runs go to runs/), not the ones it was executed with (papermill's metadata keeps those).
    Record the machine it ran on beside papermill's duration: the README's Colab section reports both."""
    import nbformat

    nb = nbformat.read(str(path), as_version=4)
    nb.cells = [c for c in nb.cells if "injected-parameters" not in c.metadata.get("tags", [])]
    nb.metadata["execution"] = {"machine": cpu_name(), "cores": os.cpu_count(), "backend": str(default_device())}
    nbformat.write(nb, str(path))


def check(notebook: Path, badges: Path | None, smoke: bool) -> bool:
    print(f"{notebook.name}:")
    try:
        bar = bar_of(notebook, smoke)
        checks = check_notebook.check(notebook, bar)
    except check_notebook.NotebookError as err:
        print(f"  FAIL notebook: {err}")
        return False
    for c in checks:
        print("  " + c.line())
    if badges is not None:
        check_notebook.write_badges(checks, badges, notebook.stem)
    return all(c.ok for c in checks)


def refresh_in_place(notebooks: list[str]) -> None:
    """After executing in place: the notebooks' markdown that tells their own minutes and machine, and the README's
    notebook table, from what the notebooks just recorded."""
    import nbformat

    from tools import make_notebooks
    from tools.report import documents, extras
    from tools.report.results import Report

    for notebook in notebooks:
        path = REPO / notebook
        if path.exists():
            built = make_notebooks.build(Path(notebook).stem)
            nbformat.write(make_notebooks.update(nbformat.read(path, as_version=4), built), path)
    readme = documents.README
    readme.write_text(documents.render_readme(readme.read_text(), {"notebooks": extras.notebooks(Report())}))


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m tools.run_notebooks", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--out", type=Path, required=True, help="folder for the executed notebooks (. : in place)")
    p.add_argument("--badges", type=Path, default=None, help="write the badge files here")
    p.add_argument("--smoke", action="store_true", help="a smoke run of each model; accuracy bar dropped")
    p.add_argument("--notebooks", nargs="+", default=NOTEBOOKS, choices=NOTEBOOKS)
    p.add_argument("--timeout", type=int, default=3600, help="seconds a cell may run")
    p.add_argument(
        "--runs",
        type=Path,
        default=None,
        help="where the notebooks' runs go (default: OUT/runs); results regenerates the reference runs",
    )
    args = p.parse_args(argv)
    if args.out.resolve() == DEFAULT_RESULTS_DIR.resolve():
        p.error("--out results/ would mix executed notebooks into the reference runs: choose another folder")
    args.runs = args.runs if args.runs is not None else args.out / "runs"
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    ok = True
    for notebook in args.notebooks:
        try:
            execute(notebook, args.out, args.runs, args.smoke, args.timeout)
        except Exception as err:  # papermill's execution errors: report, check what was written, go on
            print(f"{notebook}: execution failed: {type(err).__name__}: {str(err).strip().splitlines()[-1:]}")
            ok = False
        if (args.out / notebook).exists():
            ok = check(args.out / notebook, args.badges, args.smoke) and ok
    if args.out.resolve() == REPO:
        refresh_in_place(args.notebooks)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
