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
    rec = {"mutmut": "3.8.1", "git_commit": "abcdef0123", "files": rows, "not explained": unexplained}
    table = mutate.markdown(json.loads(json.dumps(rec)))  # as report.py reads it back from results/mutation.json
    assert "mutmut 3.8.1, mutants made from commit abcdef0." in table
    assert "| `report.py` | 2 | 1 | 1 | 1 | 50.0 | 100.0 |" in table
    assert "| `tests/check_notebook.py` | 0 | 0 | 0 | 0 | - | - |" in table
    assert "1 mutants in scope were not tested" in table and "neither killed" not in table
    rec["not explained"] = ["report.x_check__mutmut_9"]
    assert "Survivors neither killed nor listed as equivalent: 1." in mutate.markdown(rec)
