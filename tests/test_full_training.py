"""Full trainings of the final models for one seed: the bar holds, and the committed results are reproduced (the
smallest model's too)."""

import pytest

import model as model_lib
import utils
from utils import course

# model -> the bar its full training must meet (Session 6: ours, 99.5% within 15 epochs)
FINALS = {model_lib.S7_FINAL: course.S7, model_lib.S6_FINAL: course.S6_OURS}
SAME_MACHINE = ("torch", "device", "cpu", "threads")  # a run made before "cpu" was recorded: never the same


# A smallest model that is not the final one holds the bar on some seeds only: its seed-1 run is checked for
# reproduction, not for the bar. Once it holds the bar it is the Session 7 final model too, and is trained once.
REPRODUCED = list(dict.fromkeys([*FINALS, model_lib.S7_SMALLEST]))


@pytest.fixture(scope="module")
def full_run(request, mnist, tmp_path_factory):
    cfg = utils.TrainConfig.for_model(request.param, seed=1)
    return cfg, utils.train(cfg, results_dir=tmp_path_factory.mktemp("full"), progress=False)


@pytest.mark.slow
@pytest.mark.parametrize("full_run", list(FINALS), indirect=True)
def test_full_training_meets_the_bar(full_run):
    cfg, result = full_run
    bar = FINALS[cfg.model]
    assert bar.allows(result.params)
    assert len(result.history) <= bar.max_epochs
    assert utils.meets_bar(result, bar.min_acc, last=bar.last, max_epochs=bar.max_epochs), result.last(bar.last)


@pytest.mark.slow
@pytest.mark.parametrize("full_run", REPRODUCED, indirect=True)
def test_full_training_reproduces_the_committed_run(full_run):
    cfg, result = full_run
    committed = utils.load_result(utils.result_path(utils.DEFAULT_RESULTS_DIR, cfg.run_name))
    differ = {
        k: (committed.environment.get(k), result.environment.get(k))
        for k in SAME_MACHINE
        if committed.environment.get(k) != result.environment.get(k)
    }
    if differ:
        pytest.skip(f"same numbers are expected only on the machine that made {cfg.run_name}; here {differ}")
    assert result.accuracies() == committed.accuracies()
