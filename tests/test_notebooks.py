"""Both notebooks run top to bottom headless through tools/run_notebooks.py (the CI job's script), and the committed
ones are executed, clean, current with tools/make_notebooks.py and meet the real bars."""

import dataclasses
import json

import nbformat
import pytest

import utils
from tools import check_notebook, make_notebooks, run_notebooks

NOTEBOOKS = run_notebooks.NOTEBOOKS


@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_committed_notebook_meets_the_bars_it_was_executed_for(notebook):
    """The course's bars; a fork's notebooks executed as a smoke run meet the smoke bar (the README's notebook
    table says "smoke run" for them)."""
    bar = run_notebooks.bar_of(utils.REPO / notebook, smoke=run_notebooks.executed_as_smoke(utils.REPO / notebook))
    checks = check_notebook.check(utils.REPO / notebook, bar)
    assert all(c.ok for c in checks), [c.line() for c in checks]
    assert len(checks) == 7


@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_committed_notebook_has_no_progress_bar_fragments_or_widgets(notebook):
    nb = nbformat.read(utils.REPO / notebook, as_version=4)
    assert "widgets" not in nb.metadata
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            assert not (out.output_type == "stream" and out.name == "stderr"), out.text[:200]
            assert "application/vnd.jupyter.widget-view+json" not in out.get("data", {})


@pytest.mark.parametrize("which", make_notebooks.NOTEBOOKS)
def test_committed_notebook_cells_are_what_make_notebooks_builds(which):
    committed = nbformat.read(utils.REPO / f"{which}.ipynb", as_version=4)
    built = make_notebooks.build(which)
    assert [(c.cell_type, c.source) for c in committed.cells] == [(c.cell_type, c.source) for c in built.cells]


@pytest.mark.slow
def test_run_notebooks_smoke_on_a_fresh_folder(tmp_path, mnist, capsys):
    out = tmp_path / "executed" / "nested"  # nothing creates it beforehand
    code = run_notebooks.main(["--smoke", "--out", str(out), "--badges", str(tmp_path / "badges")])
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert printed.count("PASS") == 14 and "FAIL" not in printed
    assert "PASS parameters match model.py" in printed
    for notebook in NOTEBOOKS:
        assert (out / notebook).exists()
    written = sorted(p.name for p in (out / "runs").glob("*.json"))
    assert written and all(name.endswith("-seed1.json") for name in written)
    badges = sorted(p.name for p in (tmp_path / "badges").iterdir())
    assert badges == sorted(
        f"{nb}-{key}.json" for nb in ("S6", "S7") for key in ("parameters", "batchnorm", "dropout", "gap", "accuracy")
    )
    badge = json.loads((tmp_path / "badges" / "S7-parameters.json").read_text())
    assert badge["color"] == "brightgreen" and badge["message"].startswith("pass (")
    executed = nbformat.read(out / "S7.ipynb", as_version=4)
    outputs = [o for c in executed.cells for o in c.get("outputs", [])]
    assert not any(o.output_type == "stream" and o.name == "stderr" for o in outputs)


@pytest.mark.slow
def test_run_notebooks_fails_when_a_requirement_fails(tmp_path, mnist, capsys, monkeypatch):
    monkeypatch.setitem(run_notebooks.BARS, "S6", dataclasses.replace(run_notebooks.BARS["S6"], max_params=1000))
    code = run_notebooks.main(
        ["--smoke", "--out", str(tmp_path), "--notebooks", "S6.ipynb", "--badges", str(tmp_path / "badges")]
    )
    assert code == 1
    assert "FAIL parameters" in capsys.readouterr().out
    assert json.loads((tmp_path / "badges" / "S6-parameters.json").read_text())["color"] == "red"


@pytest.mark.parametrize(
    "args,message",
    [
        (["--out", "results"], "would mix executed notebooks into the reference runs"),
        (["--out", "x", "--notebooks", "S8.ipynb"], "invalid choice: 'S8.ipynb'"),
    ],
)
def test_run_notebooks_refuses_bad_input_in_one_line(args, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        run_notebooks.parse_args(args)
    errors = [line for line in capsys.readouterr().err.splitlines() if "error" in line]
    assert exit_info.value.code == 2 and len(errors) == 1 and message in errors[0]


@pytest.mark.parametrize("args, status", [(["--help"], 0), (["--no-such-option"], 2)])
def test_make_notebooks_writes_nothing_for_help_or_an_unknown_option(args, status, monkeypatch, capsys):
    written = []
    monkeypatch.setattr(make_notebooks.nbformat, "write", lambda nb, path: written.append(path))
    with pytest.raises(SystemExit) as exit_info:
        make_notebooks.main(args)
    assert exit_info.value.code == status
    assert written == []
