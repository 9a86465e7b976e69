"""Which generated blocks the documents (the README and docs/) hold, how they are written in place, and the check
that compares the committed documents and figures with what results/ gives."""

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
from utils import course
from utils.paths import REPO

README = REPO / "README.md"
# The documents the report writes: the README and the long write-ups, each with its generated blocks.
DOCUMENTS = ("README.md", "docs/models.md", "docs/search.md", "docs/findings.md", "docs/testing.md", "docs/speed.md")
BLOCK = re.compile(r"(<!-- generated:(\S+) -->\n)(.*?)(<!-- /generated:\2 -->)", re.S)


def claimed() -> tuple:
    """(block key, model, the bar its claim is about, its role) of each claimed model."""
    return (
        ("s7-final", model_lib.S7_FINAL, course.S7, "Session 7, the course's model"),
        ("s7-smallest", model_lib.S7_SMALLEST, course.S7_SMALLEST, "Session 7, the smallest model"),
        ("s6-final", model_lib.S6_FINAL, course.S6_OURS, "Session 6"),
    )


def blocks(rep: Report) -> dict[str, str]:
    """Block name -> its text, for every block a document may hold."""
    out = {
        "targets": claims.targets,
        "notebooks": extras.notebooks,
        "submission": extras.submission,
        "s7-steps": claims.s7_steps,
        "s7-robust-frontier": claims.robust_frontier,
        "ledger": claims.ledger,
        "predict": extras.predict_demo,
        "selection": search_tables.selection,
        "calibration": search_tables.calibration,
        "learned": search_tables.learned,
        "seed-spread": search_tables.seed_spread,
        "benchmark": extras.speed,
        "mutation": extras.mutation,
    }
    for key, name, bar, role in claimed():
        if name in rep.runs:
            out[key] = lambda rep, name=name, bar=bar: claims.final_summary(rep, name, bar)
            out[f"{key}-details"] = lambda rep, name=name, bar=bar, role=role: claims.final(rep, name, bar, role)
    if model_lib.S7_SMALLEST == model_lib.S7_FINAL:  # one model answers both: its section once
        out["s7-smallest"] = out["s7-smallest-details"] = lambda rep: (
            f"`{model_lib.S7_SMALLEST}`, the course's model above, is also the smallest."
        )
    return {k: f(rep) for k, f in out.items()}


def render_readme(text: str, blocks: dict[str, str]) -> str:
    def replace(m: re.Match) -> str:
        body = blocks.get(m.group(2))
        if body is None:
            return m.group(0)
        return m.group(1) + body.rstrip() + "\n" + m.group(4)

    return BLOCK.sub(replace, text)


def check(report: Report, root: Path = REPO, figures: Path | None = None) -> list[str]:
    """What differs between the documents and figures folder under ``root`` (the committed ones by default) and
    what results/ gives."""
    figures = report.figures if figures is None else Path(figures)
    problems = []
    made = blocks(report)
    texts = {doc: (Path(root) / doc).read_text() for doc in DOCUMENTS}
    for doc, text in texts.items():
        if render_readme(text, made) != text:
            problems.append(f"{doc} differs from what results/ gives: run python -m tools.report")
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
        if not any(f"{link}/{name})" in text for text in texts.values()):
            problems.append(f"no document links {name}")
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
        print("the documents and figures agree with results/" if not problems else f"{len(problems)} difference(s)")
        return 1 if problems else 0
    written = write_figures(report, report.figures)
    for name in stale_figures(report.figures, written):
        (report.figures / name).unlink()
        print(f"removed {name}: no longer made")
    made = blocks(report)
    for doc in DOCUMENTS:
        (REPO / doc).write_text(render_readme((REPO / doc).read_text(), made))
    print(f"wrote {', '.join(DOCUMENTS)} and {len(written)} figures in {report.figures.relative_to(REPO)}")
    return 0
