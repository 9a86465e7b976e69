"""docs/steps.toml: each step's prose, whose measured numbers are fields filled from results/."""

import copy
import re

import pytest

import model as model_lib
from tools.report import steps
from tools.report.results import Report

NAMES = model_lib.list_models()
# What only a measurement can say: a decimal or a percentage, a count with a thousands separator, a count of seeds
# or test images, "N of M". Seed and epoch numbers, channels and kernel sizes are names, not measurements.
MEASURED = re.compile(
    r"(?<![\w.])\d+\.\d+|\d+%|\d{1,3}(,\d{3})+"
    r"|(?<!epoch )\b\d+ (of|seeds?|test images?|hold|points?)\b|\bof \d+ (seeds?|runs?)\b"
)


@pytest.fixture(scope="module")
def rep():
    return Report()


def prose(name: str) -> dict[str, str]:
    entry = steps.entry(name)
    return {
        "details": entry.get("details", ""),
        "analysis": entry.get("analysis", ""),
        "informed_by": entry.get("test_set", {}).get("informed_by", ""),
    }


def test_every_entry_names_a_registered_model_and_known_keys():
    table = steps._table()
    assert set(table) <= set(NAMES), set(table) - set(NAMES)
    for name, entry in table.items():
        assert set(entry) <= {"details", "analysis", "test_set"}, name
        assert set(entry.get("test_set", {})) <= {"evidence", "evidence_seeds", "beats", "informed_by"}, name


@pytest.mark.parametrize("name", NAMES)
def test_every_step_has_an_analysis_that_fills_from_results(name, rep):
    text = steps.analysis(name, rep)
    assert len(text.split()) > 10, f"{name} has no Analysis"
    assert "{" not in text and "}" not in text
    steps.details(name, rep), steps.informed_by(name, rep)  # every field fills


@pytest.mark.parametrize("name", NAMES)
def test_no_measured_number_is_typed(name):
    for key, text in prose(name).items():
        typed = [m.group(0) for m in MEASURED.finditer(steps.FIELD.sub("", text))]
        assert not typed, f"{name} {key}: measured numbers typed as text: {typed}"


def test_the_rule_catches_typed_measurements():
    for typed in ("floors of 99.48% to 99.61%", "7 of 10", "over 10 seeds", "3 test images", "7,792 parameters"):
        assert MEASURED.search(typed), typed
    for named in ("seed 4, epoch 13 of 15", "seeds 6-10", "3x3 convolutions", "the last 3 epochs", "hold2+drop0.02"):
        assert not MEASURED.search(named), named


def test_a_number_follows_the_runs_it_comes_from(rep):
    """Change a run's record and the Analysis says so: the number is read, not typed."""
    before = steps.analysis("Model_15", rep)
    changed = copy.copy(rep)
    changed.runs = dict(rep.runs)
    lowest = min(rep.runs["Model_15"], key=lambda r: min(r.last(3)))
    worse = copy.deepcopy(lowest)
    for h in worse.history[-3:]:
        h.eval_acc = 99.01
    changed.runs["Model_15"] = [worse if r is lowest else r for r in rep.runs["Model_15"]]
    after = steps.analysis("Model_15", changed)
    assert "99.01%" in after and "99.01%" not in before
    assert after.startswith("Width buys the margin that Model_14 lacked. 9 of 10 seeds hold")


def test_a_field_that_names_no_run_is_an_error(rep):
    with pytest.raises(KeyError, match="Model_99"):
        steps.render("{test[Model_99].held}", rep)
    with pytest.raises(KeyError, match="no full-length validation runs"):
        steps.render("{val[grid-nothing].floor.mean:.2f}", rep)
    assert steps.render("{test[Model_14 seeds 6-10].count} of {test[Model_14].count}", rep) == "5 of 10"


def test_the_test_set_record_is_read_from_the_file():
    assert steps.test_record("Model_15").beats == "Model_14"
    assert steps.test_record("Model_9").evidence_seeds == (1, 2)
    assert steps.test_record("Model_1") == steps.TestRecord("", "", "")
