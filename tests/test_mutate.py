"""tools/mutate.py's bookkeeping: which file a mutant belongs to, the equivalents list, the counts (mutmut itself is
slow: `python -m tools.mutate` runs it, outside the default test run)."""

import json

import pytest

from tools import mutate


def test_every_mutant_in_scope_is_counted_under_its_file_and_others_are_not():
    assert mutate.file_of("tools.check_notebook.x_check__mutmut_3") == "tools/check_notebook.py"
    assert mutate.file_of("tools.report.documents.x_check__mutmut_1") == "tools/report/documents.py"
    assert mutate.file_of("utils.runs.x_meets_bar__mutmut_12") == "utils/runs.py"
    assert mutate.file_of("utils.data.xǁ_NumpyOnlyUnpicklerǁfind_class__mutmut_2") == "utils/data.py"
    assert mutate.file_of("utils.plots.x_plot_curves__mutmut_1") is None  # plotting is out of scope
    assert mutate.file_of("tools.report.documents.x_checkout__mutmut_1") is None  # a name that merely starts the same


def test_counts_and_the_survivors_that_no_reason_explains():
    found = {
        "tools.report.documents.x_check__mutmut_1": "killed",
        "tools.report.documents.x_check__mutmut_2": "survived",
        "tools.report.documents.x_check__mutmut_3": "survived",
        "utils.runs.x_meets_bar__mutmut_1": "killed",
        "utils.runs.x_meets_bar__mutmut_2": "timeout",
        "utils.runs.x_meets_bar__mutmut_3": "not checked",
    }
    rows, unexplained = mutate.counts(found, {"tools.report.documents.x_check__mutmut_2": "same output"})
    by_file = {row["file"]: row for row in rows}
    assert (
        by_file["tools/report/documents.py"]["mutants tested"] == 3
        and by_file["tools/report/documents.py"]["killed"] == 1
    )
    assert by_file["utils/runs.py"]["mutants tested"] == 2 and by_file["utils/runs.py"]["not yet tested"] == 1
    assert (
        by_file["tools/report/documents.py"]["listed as equivalent"] == 1
        and by_file["tools/report/documents.py"]["killed %"] == "33.3"
    )
    assert by_file["tools/check_notebook.py"]["mutants tested"] == 0
    # a timeout is not a kill; a mutant not tested yet is not a survivor
    assert unexplained == ["tools.report.documents.x_check__mutmut_3", "utils.runs.x_meets_bar__mutmut_2"]


def test_a_resumed_run_names_only_the_untested_mutants_of_its_files():
    found = {
        "tools.check_notebook.x_check__mutmut_1": "killed",
        "tools.check_notebook.x_check__mutmut_2": "not checked",
        "tools.check_notebook.x_check__mutmut_3": "survived",
        "utils.data.x_read_idx__mutmut_1": "not checked",
        "utils.runs.x_meets_bar__mutmut_1": "not checked",
        "utils.plots.x_plot_curves__mutmut_1": "not checked",  # out of scope
    }
    files = ["tools/check_notebook.py", "utils/data.py"]
    expected = ["tools.check_notebook.x_check__mutmut_2", "utils.data.x_read_idx__mutmut_1"]
    assert mutate.untested(found, files) == expected


def test_an_equivalent_needs_its_reason(tmp_path):
    listed = tmp_path / "equivalents.txt"
    listed.write_text("# comment\ntools.report.documents.x_check__mutmut_2  the same figures in another order\n")
    assert mutate.equivalents(listed) == {
        "tools.report.documents.x_check__mutmut_2": "the same figures in another order"
    }
    listed.write_text("tools.report.documents.x_check__mutmut_2\n")
    with pytest.raises(ValueError, match="has no reason"):
        mutate.equivalents(listed)


def test_the_committed_equivalents_list_reads():
    assert all(mutate.file_of(name) for name in mutate.equivalents())


def test_the_readme_table_shows_every_file_and_what_was_left():
    found = {
        "tools.report.documents.x_check__mutmut_1": "killed",
        "tools.report.documents.x_check__mutmut_2": "survived",
        "utils.runs.x_meets_bar__mutmut_3": "not checked",
    }
    rows, unexplained = mutate.counts(found, {"tools.report.documents.x_check__mutmut_2": "same output"})
    rows = [{**row, "git_commit": "abcdef0123"} for row in rows]
    rec = {"mutmut": "3.8.1", "files": rows, "not explained": unexplained}
    table = mutate.markdown(
        json.loads(json.dumps(rec))
    )  # as the report reads it back from docs/generated/mutation.json
    assert "mutmut 3.8.1; each file's run began at the commit named" in table
    assert "| `tools/report/documents.py` | abcdef0 | 2 | 1 | 1 | 1 | 50.0 | 100.0 |" in table
    assert "| `tools/check_notebook.py` | abcdef0 | 0 | 0 | 0 | 0 | - | - |" in table
    assert "1 mutants in scope were not tested" in table and "neither killed" not in table
    rec["not explained"] = ["tools.report.documents.x_check__mutmut_9"]
    assert "Survivors neither killed nor listed as equivalent: 1." in mutate.markdown(rec)


def test_a_run_over_some_files_keeps_the_other_files_rows_of_the_previous_record(monkeypatch):
    monkeypatch.setattr(mutate, "run_commit", lambda: "new0000000")
    previous = {
        "mutmut": "3.8.1",
        "git_commit": "old0000000",  # a record made before the rows had their own commit
        "files": [
            {"file": "tools/check_notebook.py", "mutants tested": 4, "killed": 2, "not yet tested": 0},
            {"file": "tools/report/documents.py", "mutants tested": 1, "killed": 1, "not yet tested": 0},
        ],
        "not explained": ["tools.check_notebook.x_check__mutmut_1", "tools.check_notebook.x_check__mutmut_2"],
    }
    found = {
        "tools.report.documents.x_check__mutmut_1": "survived",
        "tools.check_notebook.x_check__mutmut_9": "not checked",
    }
    rows, unexplained = mutate.counts(found, {})
    listed = {"tools.check_notebook.x_check__mutmut_2": "listed since"}
    rec = mutate.record(rows, unexplained, previous, listed)
    by_file = {row["file"]: row for row in rec["files"]}
    assert by_file["tools/check_notebook.py"] == {**previous["files"][0], "git_commit": "old0000000"}  # not run here
    assert (
        by_file["tools/report/documents.py"]["mutants tested"] == 1
        and by_file["tools/report/documents.py"]["git_commit"] == "new0000000"
    )
    assert by_file["utils/runs.py"]["mutants tested"] == 0 and by_file["utils/runs.py"]["git_commit"] == "new0000000"
    assert rec["not explained"] == [
        "tools.check_notebook.x_check__mutmut_1",
        "tools.report.documents.x_check__mutmut_1",
    ]
    assert mutate.record(rows, unexplained)["files"][0]["mutants tested"] == 0  # nothing to keep: nothing tested
