"""Which generated blocks the README holds, how they are written in place, and the check that compares the
committed README and figures with what results/ gives."""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import model as model_lib
from tools.report import claims, extras, search_tables
from tools.report.figures import FINGERPRINTS, drawn_figures, stale_figures, write_figures
from tools.report.results import FIGURES, Report
from utils.paths import REPO

README = REPO / "README.md"
BLOCK = re.compile(r"(<!-- generated:(\S+) -->\n)(.*?)(<!-- /generated:\2 -->)", re.S)


def blocks(rep: Report) -> dict[str, str]:
    """Block name -> its text, for every block the README may hold."""
    out = {
        "targets": claims.targets,
        "s7-steps": claims.s7_steps,
        "s7-frontier": claims.frontier,
        "selection": search_tables.selection,
        "benchmark": extras.speed,
        "mutation": extras.mutation,
        "calibration": search_tables.calibration,
        "learned": search_tables.learned,
        "seed-spread": search_tables.seed_spread,
        "predict": extras.predict_demo,
    }
    finals = (
        (model_lib.S7_FINAL, "s7-final"),
        (model_lib.S7_SMALLEST, "s7-smallest"),
        (model_lib.S6_FINAL, "s6-final"),
    )
    for name, key in finals:
        if name in rep.runs:
            out[key] = lambda rep, name=name: claims.final(rep, name)
    if model_lib.S7_SMALLEST == model_lib.S7_FINAL and model_lib.S7_FINAL in rep.runs:  # its section once
        out["s7-smallest"] = lambda rep: (
            f"`{model_lib.S7_SMALLEST}`, the Session 7 model above, is also the smallest: its seeds, summary and "
            "figures are in that section."
        )
    return {k: f(rep) for k, f in out.items()}


def render_readme(text: str, blocks: dict[str, str]) -> str:
    def replace(m: re.Match) -> str:
        body = blocks.get(m.group(2))
        if body is None:
            return m.group(0)
        return m.group(1) + body.rstrip() + "\n" + m.group(4)

    return BLOCK.sub(replace, text)


def check(report: Report, readme: Path = README, figures: Path | None = None) -> list[str]:
    """What differs between a README and figures folder (the committed ones by default) and what results/ gives."""
    figures = report.figures if figures is None else Path(figures)
    problems = []
    text = Path(readme).read_text()
    if render_readme(text, blocks(report)) != text:
        problems.append("README.md differs from what results/ gives: run python -m tools.report")
    link = FIGURES.relative_to(REPO).as_posix()
    recorded = json.loads((figures / FINGERPRINTS).read_text()) if (figures / FINGERPRINTS).exists() else {}
    import matplotlib

    # Pixels are compared only with the matplotlib that drew the committed figures; what they show, always.
    same_drawing = recorded.get("matplotlib") == matplotlib.__version__
    fresh = drawn_figures(report)
    for name, (value, png) in fresh.items():
        committed = figures / name
        if (
            not committed.exists()
            or recorded.get("figures", {}).get(name) != value
            or (same_drawing and committed.read_bytes() != png)
        ):
            problems.append(f"{link}/{name} differs from what results/ gives")
        if f"]({link}/{name})" not in text:
            problems.append(f"README.md does not link {name}")
    problems += [f"{link}/{name} is no longer made by the report" for name in stale_figures(figures, fresh)]
    return problems


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m tools.report",
        description=sys.modules["tools.report"].__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--check", action="store_true", help="compare instead of writing")
    args = p.parse_args(argv)
    report = Report()
    if not report.runs:
        print("tools.report: error: no results files in results/", file=sys.stderr)
        return 1
    if args.check:
        problems = check(report)
        for line in problems:
            print(line)
        print("README.md and figures agree with results/" if not problems else f"{len(problems)} difference(s)")
        return 1 if problems else 0
    written = write_figures(report, report.figures)
    for name in stale_figures(report.figures, written):
        (report.figures / name).unlink()
        print(f"removed {name}: no longer made")
    README.write_text(render_readme(README.read_text(), blocks(report)))
    print(f"wrote README.md and {len(written)} figures in {report.figures.relative_to(REPO)}")
    return 0
