"""mutate.py's bookkeeping: which file a mutant belongs to, the equivalents list, the counts (mutmut itself is slow:
`python mutate.py` runs it, outside the default test run)."""

import json

import pytest

import mutate


def test_every_mutant_in_scope_is_counted_under_its_file_and_others_are_not():
    assert mutate.file_of("tests.check_notebook.x_check__mutmut_3") == "tests/check_notebook.py"
    assert mutate.file_of("report.x_check__mutmut_1") == "report.py"
    assert mutate.file_of("utils.x_meets_bar__mutmut_12") == "utils.py"
    assert mutate.file_of("utils.xǁ_NumpyOnlyUnpicklerǁfind_class__mutmut_2") == "utils.py"
    assert mutate.file_of("utils.x_plot_curves__mutmut_1") is None  # plotting is out of scope
    assert mutate.file_of("report.x_checkout__mutmut_1") is None  # a name that merely starts the same


def test_counts_and_the_survivors_that_no_reason_explains():
    found = {
        "report.x_check__mutmut_1": "killed",
        "report.x_check__mutmut_2": "survived",
        "report.x_check__mutmut_3": "survived",
        "utils.x_meets_bar__mutmut_1": "killed",
        "utils.x_meets_bar__mutmut_2": "timeout",
        "utils.x_meets_bar__mutmut_3": "not checked",
    }
    rows, unexplained = mutate.counts(found, {"report.x_check__mutmut_2": "same output"})
    by_file = {row["file"]: row for row in rows}
    assert by_file["report.py"]["mutants tested"] == 3 and by_file["report.py"]["killed"] == 1
    assert by_file["utils.py"]["mutants tested"] == 2 and by_file["utils.py"]["not yet tested"] == 1
    assert by_file["report.py"]["listed as equivalent"] == 1 and by_file["report.py"]["killed %"] == "33.3"
    assert by_file["tests/check_notebook.py"]["mutants tested"] == 0
    # a timeout is not a kill; a mutant not tested yet is not a survivor
    assert unexplained == ["report.x_check__mutmut_3", "utils.x_meets_bar__mutmut_2"]


def test_an_equivalent_needs_its_reason(tmp_path):
    listed = tmp_path / "equivalents.txt"
    listed.write_text("# comment\nreport.x_check__mutmut_2  the same figures in another order\n")
    assert mutate.equivalents(listed) == {"report.x_check__mutmut_2": "the same figures in another order"}
    listed.write_text("report.x_check__mutmut_2\n")
    with pytest.raises(ValueError, match="has no reason"):
        mutate.equivalents(listed)


def test_the_committed_equivalents_list_reads():
    assert all(mutate.file_of(name) for name in mutate.equivalents())


def test_the_readme_table_shows_every_file_and_what_was_left():
    found = {
        "report.x_check__mutmut_1": "killed",
        "report.x_check__mutmut_2": "survived",
        "utils.x_meets_bar__mutmut_3": "not checked",
    }
    rows, unexplained = mutate.counts(found, {"report.x_check__mutmut_2": "same output"})
    rows = [{**row, "git_commit": "abcdef0123"} for row in rows]
    rec = {"mutmut": "3.8.1", "files": rows, "not explained": unexplained}
    table = mutate.markdown(json.loads(json.dumps(rec)))  # as report.py reads it back from results/mutation.json
    assert "mutmut 3.8.1; each file's run began at the commit named" in table
    assert "| `report.py` | abcdef0 | 2 | 1 | 1 | 1 | 50.0 | 100.0 |" in table
    assert "| `tests/check_notebook.py` | abcdef0 | 0 | 0 | 0 | 0 | - | - |" in table
    assert "1 mutants in scope were not tested" in table and "neither killed" not in table
    rec["not explained"] = ["report.x_check__mutmut_9"]
    assert "Survivors neither killed nor listed as equivalent: 1." in mutate.markdown(rec)


def test_a_run_over_some_files_keeps_the_other_files_rows_of_the_previous_record(monkeypatch):
    monkeypatch.setattr(mutate, "run_commit", lambda: "new0000000")
    previous = {
        "mutmut": "3.8.1",
        "git_commit": "old0000000",  # a record made before the rows had their own commit
        "files": [
            {"file": "tests/check_notebook.py", "mutants tested": 4, "killed": 2, "not yet tested": 0},
            {"file": "report.py", "mutants tested": 1, "killed": 1, "not yet tested": 0},
        ],
        "not explained": ["tests.check_notebook.x_check__mutmut_1", "tests.check_notebook.x_check__mutmut_2"],
    }
    found = {"report.x_check__mutmut_1": "survived", "tests.check_notebook.x_check__mutmut_9": "not checked"}
    rows, unexplained = mutate.counts(found, {})
    listed = {"tests.check_notebook.x_check__mutmut_2": "listed since"}
    rec = mutate.record(rows, unexplained, previous, listed)
    by_file = {row["file"]: row for row in rec["files"]}
    assert by_file["tests/check_notebook.py"] == {**previous["files"][0], "git_commit": "old0000000"}  # not run here
    assert by_file["report.py"]["mutants tested"] == 1 and by_file["report.py"]["git_commit"] == "new0000000"
    assert by_file["utils.py"]["mutants tested"] == 0 and by_file["utils.py"]["git_commit"] == "new0000000"
    assert rec["not explained"] == ["report.x_check__mutmut_1", "tests.check_notebook.x_check__mutmut_1"]
    assert mutate.record(rows, unexplained)["files"][0]["mutants tested"] == 0  # nothing to keep: nothing tested
