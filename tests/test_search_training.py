"""The search's training features (tools/search_training.py): each changes the one loop through its hook, bad values
are refused, and the recorded search runs that used them load and train again."""

import dataclasses

import pytest
import torch.nn as nn

import model as model_lib
import utils
from tools.search_training import SearchConfig

SMALL = dict(epochs=2, train_limit=2048, eval_limit=1000)


def quiet_train(cfg, **kwargs):
    return utils.train(cfg, progress=False, log=lambda line: None, **kwargs)


def test_the_course_configuration_has_none_of_the_search_features():
    with pytest.raises(ValueError, match=r"unknown TrainConfig field\(s\): ema"):
        utils.config_for("Model_6", ema=0.99)
    assert SearchConfig.field_names() - utils.TrainConfig.field_names() == {
        "clean",
        "label_smoothing",
        "ema",
        "teacher",
        "distill",
        "distill_temperature",
    }


@pytest.mark.parametrize(
    "bad, message",
    [
        (dict(clean=-1), "clean must be in"),
        (dict(epochs=5, clean=6), "clean must be in"),
        (dict(ema=1.0), "ema must be in"),
        (dict(label_smoothing=1.0), "label_smoothing must be in"),
        (dict(distill=0.5), "distillation needs both"),
        (dict(teacher="results/val/x.json"), "distillation needs both"),
        (dict(teacher="results/val/x.json", distill=1.5), "distill must be in"),
        (dict(epochs=3, hold=3), "hold must be in"),  # the course's own checks still run
    ],
)
def test_bad_search_values_are_refused(bad, message):
    with pytest.raises(ValueError, match=message):
        utils.config_for("Model_7", SearchConfig, **bad)


@pytest.mark.parametrize("clean, augmented_epochs", [(0, 3), (1, 2), (3, 0)])
def test_the_last_clean_epochs_train_without_augmentation(mnist, monkeypatch, clean, augmented_epochs):
    calls = []
    affine = utils.random_affine
    monkeypatch.setattr(utils.training, "random_affine", lambda x, *args: calls.append(len(x)) or affine(x, *args))
    cfg = utils.config_for("Model_7", SearchConfig, epochs=3, clean=clean, train_limit=256, eval_limit=100)
    quiet_train(cfg, results_dir=None)
    assert calls == [128] * 2 * augmented_epochs  # two batches an epoch, distorted in the first epochs only


@pytest.fixture(scope="module")
def teacher(mnist, tmp_path_factory):
    out = tmp_path_factory.mktemp("teacher")
    quiet_train(utils.config_for("Model_6", **SMALL), results_dir=out)
    return out


def test_ema_label_smoothing_and_distillation_change_the_run(teacher, tmp_path, monkeypatch):
    monkeypatch.setattr("tools.search_training.REPO", teacher)  # the teacher path is relative to the repository
    plain = utils.config_for("Model_7", SearchConfig, layers="8 s12 M D t8 ps16 s16 s16", dropout=0.1, **SMALL)
    base = quiet_train(plain, results_dir=None)
    for change in (dict(ema=0.9), dict(label_smoothing=0.1), dict(teacher="Model_6-seed1.json", distill=0.5)):
        cfg = dataclasses.replace(plain, **change, tag="x")
        result = quiet_train(cfg, results_dir=tmp_path)
        assert result.params == model_lib.count_parameters(model_lib.build_layers(cfg.layers))
        assert result.history[0].train_loss != base.history[0].train_loss or change.get("ema"), change
        assert result.history[-1].eval_loss != base.history[-1].eval_loss, change
        assert result.config == {**dataclasses.asdict(plain), **change, "tag": "x"}  # the record names the feature
    net = utils.load_run(tmp_path / f"{cfg.run_name}.json")  # rebuilt from a search run's record by utils alone
    assert [m.p for m in net.modules() if isinstance(m, nn.Dropout2d)] == [0.1]


def test_ema_evaluates_and_saves_the_averaged_weights(mnist, tmp_path):
    cfg = utils.config_for("Model_7", SearchConfig, ema=0.5, **SMALL)
    result = quiet_train(cfg, results_dir=tmp_path)
    averaged = utils.load_run(tmp_path / f"{cfg.run_name}.json")
    data = utils.load_mnist()
    split = utils.make_split(data, utils.default_device(), **cfg.images)
    assert utils.evaluate(averaged, split.eval_x, split.eval_y).accuracy == result.history[-1].eval_acc


def test_a_teacher_trained_on_other_images_is_refused(teacher, monkeypatch):
    monkeypatch.setattr("tools.search_training.REPO", teacher)
    cfg = utils.config_for(
        "Model_7", SearchConfig, teacher="Model_6-seed1.json", distill=0.5, **{**SMALL, "eval_split": "val"}
    )
    with pytest.raises(ValueError, match="was trained on other images"):
        quiet_train(cfg, results_dir=None)
    with pytest.raises(ValueError, match="no such results file"):
        quiet_train(utils.config_for("Model_7", SearchConfig, teacher="none.json", distill=0.5), results_dir=None)


@pytest.mark.parametrize(
    "run",
    [
        "Model_7-grid-sep-all-23+hold2+ema0.99-seed1",
        "Model_7-grid-m7+hold2+clean3-seed1",
        "Model_7-grid-m7+hold2+kd0.9-seed1",
        "Model_7-recipe-m7-t08-seed1",  # label smoothing and EMA, from the recipe stage
    ],
)
def test_recorded_search_runs_load_and_train_again(mnist, run):
    recorded = utils.load_result(utils.DEFAULT_RESULTS_DIR / "val" / f"{run}.json")
    cfg = SearchConfig(**recorded.config)
    assert utils.load_run(utils.DEFAULT_RESULTS_DIR / "val" / f"{run}.json").training is False
    again = quiet_train(cfg, results_dir=None, stop=lambda record: True)  # the first epoch of its own schedule
    assert again.history[0].lr == pytest.approx(recorded.history[0].lr)
    assert {k: again.config[k] for k in recorded.config} == recorded.config  # newer fields at their defaults
