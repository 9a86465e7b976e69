"""Check an executed notebook's *outputs* against the assignment's requirements.

    python -m tools.check_notebook S7.ipynb              # Session 7's bar: the notebook's name says which
    python -m tools.check_notebook my_copy.ipynb --bar S6

It reads what the notebook printed for its final model (the section that starts with the line
"Model: <name>"; the name comes from --model or the notebook's "Final model: <name>" line):
the torchsummary table and the course's per-epoch "Test set: ..." lines. One line per
requirement, PASS or FAIL with the value found; the exit status is 1 on any FAIL.
The parameter count printed must also equal that of the same model built from model.py now,
so outputs left over from older code are caught. The course's bars are utils.course's ``Bar``s (BARS names them),
and a Bar says what holding it means: the checker asks it.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from utils.course import BARS, Bar

SUMMARY_ROW = re.compile(r"^\s*(\w+)-\d+\s+\[([-\d, ]+)\]\s+[\d,]+\s*$")
TOTAL_PARAMS = re.compile(r"^Total params: ([\d,]+)\s*$", re.M)
TEST_LINE = re.compile(r"Test set: Average loss: [\d.]+, Accuracy: (\d+)/(\d+) \([\d.]+%\)")
MODEL_HEADER = re.compile(r"^Model: (\S+)\s*$", re.M)
FINAL_MODEL = re.compile(r"^Final model: (\S+)\s*$", re.M)


class NotebookError(Exception):
    """The notebook cannot be checked at all (no outputs, an error, missing lines)."""


@dataclass
class Check:
    requirement: str
    ok: bool
    found: str

    def line(self) -> str:
        return f"{'PASS' if self.ok else 'FAIL'} {self.requirement}: {self.found}"


def output_text(path: Path) -> str:
    """All text the notebook's code cells printed, in order. Raises NotebookError on an error output
    or when there are no outputs."""
    import nbformat

    try:
        nb = nbformat.read(str(path), as_version=4)
    except Exception as err:
        raise NotebookError(f"{path}: not a readable notebook ({type(err).__name__}: {err})") from None
    chunks, any_output = [], False
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        for out in cell.get("outputs", []):
            any_output = True
            if out.output_type == "error":
                raise NotebookError(f"cell {index} raised {out.ename}: {out.evalue}")
            if out.output_type == "stream" and out.name == "stdout":
                chunks.append(out.text)
            elif out.output_type in ("execute_result", "display_data"):
                chunks.append(out.get("data", {}).get("text/plain", ""))
    if not any_output:
        raise NotebookError(f"{path} has no outputs: execute it first")
    return "\n".join(chunks)


def model_section(text: str, name: str | None) -> tuple[str, str]:
    """(model name, the text printed from its "Model: <name>" line to the next model's)."""
    if name is None:
        final = FINAL_MODEL.search(text)
        if not final:
            raise NotebookError("no 'Final model: <name>' line in the outputs; pass --model")
        name = final.group(1)
    headers = list(MODEL_HEADER.finditer(text))
    for i, h in enumerate(headers):
        if h.group(1) == name:
            end = headers[i + 1].start() if i + 1 < len(headers) else len(text)
            return name, text[h.start() : end]
    raise NotebookError(f"no 'Model: {name}' section in the outputs")


def built_parameters(name: str) -> int | None:
    """Parameters of ``name`` built from model.py now; None when model.py has no such model."""
    import model as model_lib

    try:
        return model_lib.count_parameters(model_lib.get_model(name))
    except ValueError:
        return None


def is_gap(layer: str, shape: str) -> bool:
    """AdaptiveAvgPool2d, or an AvgPool2d whose output map is 1x1."""
    dims = [d.strip() for d in shape.split(",")]
    return layer == "AdaptiveAvgPool2d" or (layer == "AvgPool2d" and dims[-2:] == ["1", "1"])


def check(path: Path, bar: Bar, model: str | None = None) -> list[Check]:
    text = output_text(path)
    name, section = model_section(text, model)
    layers = [(m.group(1), m.group(2)) for m in map(SUMMARY_ROW.match, section.splitlines()) if m]
    total = TOTAL_PARAMS.search(section)
    if not layers or not total:
        raise NotebookError(f"{name}: no torchsummary table ('Total params: ...') in its section")
    accs = [100.0 * int(c) / int(t) for c, t in TEST_LINE.findall(section)]
    if not accs:
        raise NotebookError(f"{name}: no 'Test set: Average loss: ..., Accuracy: ...' lines in its section")

    params = int(total.group(1).replace(",", ""))
    built = built_parameters(name)
    types = [t for t, _ in layers]
    last = bar.last
    tail = accs[-last:]
    checks = [
        Check("parameters", bar.allows(params), f"{params:,} (limit: {bar.params_text})"),
        Check(
            "parameters match model.py",
            built == params,
            f"notebook printed {params:,}, model.py builds "
            + (f"{built:,}" if built is not None else f"no model named {name}"),
        ),
        Check(
            "BatchNorm",
            any(t.startswith("BatchNorm") for t in types),
            ", ".join(sorted({t for t in types if t.startswith("BatchNorm")})) or "no BatchNorm layer",
        ),
        Check(
            "Dropout",
            any("Dropout" in t for t in types),
            ", ".join(sorted({t for t in types if "Dropout" in t})) or "no Dropout layer",
        ),
        Check(
            "global average pooling",
            any(is_gap(t, s) for t, s in layers),
            next((f"{t} -> [{s}]" for t, s in layers if is_gap(t, s)), "no layer pools to 1x1"),
        ),
        Check("epochs", len(accs) <= bar.max_epochs, f"{len(accs)} (limit: {bar.max_epochs})"),
        Check(
            f"accuracy, each of the last {last} epochs",
            len(accs) >= last and min(tail) >= bar.min_acc,
            ", ".join(f"{a:.2f}%" for a in tail)
            + f" (bar: {bar.min_acc}%"
            + (f"; only {len(accs)} epoch(s) logged" if len(accs) < last else "")
            + ")",
        ),
    ]
    return checks


BADGES = {
    "parameters": "parameters",
    "BatchNorm": "BatchNorm",
    "Dropout": "Dropout",
    "global average pooling": "GAP",
    "accuracy": "accuracy",
}


def write_badges(checks: list[Check], folder: Path, prefix: str) -> None:
    """shields.io endpoint files, one per requirement, from this run's outcome."""
    folder.mkdir(parents=True, exist_ok=True)
    for c in checks:
        key = next((v for k, v in BADGES.items() if c.requirement.startswith(k)), None)
        if key is None or c.requirement == "parameters match model.py":
            continue
        badge = {
            "schemaVersion": 1,
            "label": f"{prefix} {key}",
            "message": ("pass" if c.ok else "fail")
            + (f" ({c.found.split(' (')[0]})" if key in ("parameters", "accuracy") else ""),
            "color": "brightgreen" if c.ok else "red",
        }
        (folder / f"{prefix}-{key.lower()}.json").write_text(json.dumps(badge) + "\n")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("notebook", type=Path)
    p.add_argument(
        "--bar",
        choices=list(BARS),
        default=None,
        help="the course's bar to check (default: the notebook's own, S6.ipynb -> S6, S7.ipynb -> S7)",
    )
    p.add_argument("--model", default=None, help="model to check (default: the notebook's 'Final model:' line)")
    p.add_argument("--badges", type=Path, default=None, help="write shields.io badge files here")
    args = p.parse_args(argv)
    if not args.notebook.is_file():
        print(f"FAIL notebook: {args.notebook} does not exist", file=sys.stderr)
        return 1
    bar = args.bar or (args.notebook.stem if args.notebook.stem in BARS else None)
    if bar is None:
        print(f"FAIL notebook: which bar? {args.notebook.name} is not one of {', '.join(BARS)}: pass --bar")
        return 1
    try:
        checks = check(args.notebook, BARS[bar], args.model)
    except NotebookError as err:
        print(f"FAIL notebook: {err}")
        return 1
    for c in checks:
        print(c.line())
    if args.badges:
        write_badges(checks, args.badges, args.notebook.stem)
    return 0 if all(c.ok for c in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
