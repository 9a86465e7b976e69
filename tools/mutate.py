"""Mutation testing of the code that stands between a wrong number and the README, with mutmut.

    python -m tools.mutate                 # mutate the functions in SCOPE, run their tests, print the counts
    python -m tools.mutate --counts        # the counts of the last run, without running anything
    python -m tools.mutate --files tools/check_notebook.py utils/runs.py   # some of the files in scope only
    python -m tools.mutate --max-children 2
    python -m tools.mutate --resume        # go on with a stopped run: only the mutants it left untested

mutmut changes one small thing at a time in the functions below (an operator, a constant, a condition)
and runs the tests that reach that function: a mutant that no test notices has *survived*. A survivor is
either a missing test, or a change that behaves exactly as the original (an *equivalent* mutant): those
are listed in tools/mutation-equivalents.txt, one per line, with the reason. The exit status is 1 when a
survivor is not listed there. The counts go to docs/generated/mutation.json, which the report shows
("mutation score" = killed / (tested - listed as equivalent)). The settings (files, tests) are in
pyproject.toml's [tool.mutmut].
It takes a while (minutes per file): it is not part of the default test run.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import subprocess
import sys
from collections import Counter
from importlib.metadata import version
from pathlib import Path

from tools.report.results import GENERATED

REPO = Path(__file__).resolve().parent.parent
EQUIVALENTS = Path(__file__).with_name("mutation-equivalents.txt")
RECORD = GENERATED / "mutation.json"  # the counts of the last run, for the README (tools/report)
NOT_RUN = "not checked"  # mutmut's state of a mutant that no run has tested yet (an interrupted run)


def functions(path: str, *names: str) -> list[str]:
    """mutmut's names of the mutants of these functions ("Class.method" for a method) of the file at ``path``."""
    module = path.removesuffix(".py").replace("/", ".")
    return [
        f"{module}.xǁ{name.replace('.', 'ǁ')}__mutmut_*" if "." in name else f"{module}.x_{name}__mutmut_*"
        for name in names
    ]


# file -> the mutmut names of its functions in scope (glob patterns)
SCOPE: dict[str, list[str]] = {
    # the notebook checker: all of it
    "tools/check_notebook.py": ["tools.check_notebook.*"],
    # the report's check path: blocks replaced in place, figures compared by what they draw
    "tools/report/documents.py": functions("tools/report/documents.py", "check", "render_readme"),
    "tools/report/figures.py": functions("tools/report/figures.py", "fingerprint"),
    # utils: data verification, the splits, seeding, the bar, results files and weights
    "utils/paths.py": functions("utils/paths.py", "write_atomic"),
    "utils/data.py": functions(
        "utils/data.py",
        "file_md5",
        "install_verified",
        "unverified_files",
        "idx_bytes",
        "raw_files_from_mnist_pickle",
        "ensure_mnist",
        "read_idx",
        "validation_split",
        "make_split",
        "_NumpyOnlyUnpickler.find_class",
    ),
    "utils/training.py": functions("utils/training.py", "seed_everything"),
    "utils/runs.py": functions(
        "utils/runs.py",
        "meets_bar",
        "result_path",
        "save_result",
        "load_result",
        "load_results",
        "weights_path",
        "save_weights",
        "load_weights",
    ),
}


def file_of(mutant: str) -> str | None:
    for path, patterns in SCOPE.items():
        if any(fnmatch.fnmatchcase(mutant, p) for p in patterns):
            return path
    return None


def mutmut(*args: str, capture: bool = False) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).with_name("mutmut")
    return subprocess.run([str(exe), *args], cwd=REPO, text=True, capture_output=capture)


def statuses() -> dict[str, str]:
    """Every mutant of the last run in scope -> mutmut's status (killed, survived, timeout, no tests, ...)."""
    out = mutmut("results", "--all", "true", capture=True)
    if out.returncode != 0:
        raise RuntimeError(f"mutmut results failed: {out.stderr.strip()[-500:]}")
    found = {}
    for line in out.stdout.splitlines():
        name, sep, status = line.strip().rpartition(": ")
        if sep and file_of(name):
            found[name] = status
    return found


def untested(found: dict[str, str], files: list[str]) -> list[str]:
    """The mutants of ``files`` that a stopped run left untested, or whose function changed since (mutmut made them
    again). mutmut tests a mutant it is given by name again even when it has a result, so a resumed run names
    only these."""
    return sorted(name for name, status in found.items() if status == NOT_RUN and file_of(name) in files)


def equivalents(path: Path = EQUIVALENTS) -> dict[str, str]:
    """mutation-equivalents.txt: '<mutant name>  <why it behaves as the original>' per line, '#' comments."""
    listed = {}
    if path.exists():
        for line in path.read_text().splitlines():
            line = line.strip()
            if line and not line.startswith("#"):
                name, _, reason = line.partition(" ")
                if not reason.strip():
                    raise ValueError(f"{path.name}: {name} has no reason")
                listed[name] = reason.strip()
    return listed


def counts(found: dict[str, str], listed: dict[str, str]) -> tuple[list[dict], list[str]]:
    """Rows per file (tested, killed, not killed and of those listed as equivalent, every state) and the survivors
    no reason explains. Mutants not tested yet are counted apart: they are neither killed nor survivors."""
    rows, unexplained = [], []
    for path in SCOPE:
        mine = {n: s for n, s in found.items() if file_of(n) == path}
        by_status = Counter(mine.values())
        tested = {n: s for n, s in mine.items() if s != NOT_RUN}
        survivors = [n for n, s in tested.items() if s != "killed"]
        unexplained += [n for n in survivors if n not in listed]
        total = len(tested)
        equivalent = sum(n in listed for n in survivors)
        rows.append(
            {
                "file": path,
                "mutants tested": total,
                "not yet tested": by_status[NOT_RUN],
                "killed": by_status["killed"],
                "not killed": len(survivors),
                "listed as equivalent": equivalent,
                "killed %": percent(by_status["killed"], total),
                "mutation score %": percent(by_status["killed"], total - equivalent),
                "states": ", ".join(f"{s} {k}" for s, k in sorted(by_status.items())),
            }
        )
    return rows, sorted(unexplained)


def percent(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}" if whole else "-"


def run_commit() -> str:
    """The commit mutmut made the mutants of its last run from."""
    stats = REPO / "mutants" / "mutmut-stats.json"
    return json.loads(stats.read_text()).get("git_commit", "") if stats.exists() else ""


def record(rows: list[dict], unexplained: list[str], previous: dict | None = None, listed: dict | None = None) -> dict:
    """What docs/generated/mutation.json keeps: the tool, and per file the counts and the commit its mutants were made
    from. A file of which nothing was tested here (a run over other files, in a fresh checkout) keeps its row and
    its survivors from the previous record: that run's mutants, of that commit, were tested."""
    commit = run_commit()
    kept = {row["file"]: row for row in (previous or {}).get("files", [])}
    files, explained_before = [], []  # the kept rows' survivors that no reason explains yet
    for row in rows:
        old = kept.get(row["file"])
        if row["mutants tested"] == 0 and old and old["mutants tested"]:
            files.append({**old, "git_commit": old.get("git_commit") or previous.get("git_commit", "")})
            left = [n for n in previous.get("not explained", []) if file_of(n) == row["file"]]
            explained_before += [n for n in left if n not in (listed or {})]
        else:
            files.append({**row, "git_commit": commit})
    return {"mutmut": version("mutmut"), "files": files, "not explained": sorted(unexplained + explained_before)}


COLUMNS = ("mutants tested", "killed", "not killed", "listed as equivalent", "killed %", "mutation score %")


def markdown(rec: dict) -> str:
    lines = [
        f"`python -m tools.mutate` with mutmut {rec['mutmut']}; each file's run began at the commit named (a function"
        " changed since was mutated and tested again as it is now).\n",
        "| file | commit | " + " | ".join(COLUMNS) + " |",
        "|---" * (len(COLUMNS) + 2) + "|",
    ]
    lines += [
        f"| `{row['file']}` | {(row.get('git_commit') or rec.get('git_commit', ''))[:7] or '?'} | "
        + " | ".join(str(row[c]) for c in COLUMNS)
        + " |"
        for row in rec["files"]  # a record older than the rows' own commits names one for the whole run
    ]
    untested = sum(row["not yet tested"] for row in rec["files"])
    if untested:
        lines.append(f"\n{untested} mutants in scope were not tested: the run was stopped before them.")
    if rec["not explained"]:
        lines.append(f"\nSurvivors neither killed nor listed as equivalent: {len(rec['not explained'])}.")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m tools.mutate", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--counts", action="store_true", help="only print the counts of the last run")
    p.add_argument("--max-children", type=int, default=2, help="mutants tested at a time (default: 2)")
    p.add_argument("--files", nargs="+", choices=list(SCOPE), default=list(SCOPE), help="these files in scope only")
    p.add_argument("--resume", action="store_true", help="test only the mutants that the last run left untested")
    args = p.parse_args(argv)
    try:
        listed = equivalents()
    except ValueError as err:
        print(f"tools.mutate: error: {err}", file=sys.stderr)
        return 2
    if args.resume and not (REPO / "mutants").is_dir():
        print("tools.mutate: error: no run to resume: mutants/ is not here", file=sys.stderr)
        return 2
    if not args.counts:
        in_scope = [pattern for path in args.files for pattern in SCOPE[path]]
        names = untested(statuses(), args.files) if args.resume else in_scope
        run = mutmut("run", "--max-children", str(args.max_children), *names) if names else None
        if run and run.returncode != 0:
            print(f"tools.mutate: error: mutmut run exited {run.returncode}", file=sys.stderr)
            return 1
    found = statuses()
    if not found:
        print("tools.mutate: error: no mutants on record: run python -m tools.mutate first", file=sys.stderr)
        return 2
    rows, unexplained = counts(found, listed)
    previous = json.loads(RECORD.read_text()) if RECORD.exists() else None
    rec = record(rows, unexplained, previous, listed)
    RECORD.write_text(json.dumps(rec, indent=1) + "\n")
    unexplained = rec["not explained"]
    for row in rec["files"]:
        print("  ".join(f"{k}: {v}" for k, v in row.items()))
    for name in unexplained:
        print(f"not killed and not listed as equivalent: {name}  (mutmut show {name})")
    return 1 if unexplained else 0


if __name__ == "__main__":
    sys.exit(main())
