"""Full trainings of the final models for one seed: the bar holds, and the committed results are reproduced."""
import pytest

import utils

# model -> (parameters must be fewer than, test accuracy bar for each of the last 3 epochs)
FINALS = {"Model_6": (8000, 99.40), "S6_Model": (20000, 99.50)}


@pytest.mark.slow
@pytest.mark.parametrize("name", FINALS)
def test_full_training_meets_the_bar(name, mnist, tmp_path):
    max_params, bar = FINALS[name]
    cfg = utils.TrainConfig.for_model(name, seed=1)
    result = utils.train(cfg, results_dir=tmp_path, progress=False)
    assert result.params < max_params
    assert len(result.history) <= 15
    assert utils.meets_bar(result, bar, last=3, max_epochs=15), result.last(3)
    committed = utils.load_result(utils.result_path(utils.DEFAULT_RESULTS_DIR, cfg.run_name))
    same_machine = all(committed.environment[k] == result.environment[k] for k in ("torch", "device", "threads"))
    if same_machine:  # same seed, same machine: the same numbers as the committed run
        assert result.accuracies() == committed.accuracies()
