"""Every registered model, tested the same way; the final models against their budgets."""

import re
import subprocess
import sys

import pytest
import torch
import torch.nn as nn

import model as model_lib
import utils
from utils import course

ALL = model_lib.list_models()
S7 = model_lib.s7_models()
# each final model within its bar's parameters
FINALS = {
    model_lib.S7_FINAL: course.S7,
    model_lib.S7_SMALLEST: course.S7_SMALLEST,
    model_lib.S7_ROBUST: course.S7_ROBUST,
    model_lib.S6_FINAL: course.S6,
}


def test_registry_lists_the_session_7_steps_in_order():
    assert [f"Model_{i}" for i in range(1, len(S7) + 1)] == S7
    assert len(S7) >= 6
    assert "S6_Model" in ALL


def test_unknown_model_error_lists_known_models():
    with pytest.raises(ValueError, match="known models: Model_1"):
        model_lib.get_model("Model_99")


@pytest.mark.parametrize("name", ALL)
def test_forward_gives_log_probabilities(name):
    net = model_lib.get_model(name).eval()
    out = net(torch.randn(4, 1, 28, 28))
    assert out.shape == (4, 10)
    assert torch.allclose(out.exp().sum(1), torch.ones(4), atol=1e-5)


@pytest.mark.parametrize("name", ALL)
def test_parameter_count_agrees_with_torchsummary(name):
    net = model_lib.get_model(name)
    printed = re.search(r"Total params: ([\d,]+)", utils.model_summary(net)).group(1)
    assert int(printed.replace(",", "")) == model_lib.count_parameters(net)


@pytest.mark.parametrize("name", ALL)
def test_every_model_states_its_target_and_recipe(name):
    assert len(model_lib.get_target(name)) > 20
    cfg = utils.config_for(name)
    assert cfg.epochs <= 15


@pytest.mark.parametrize("name", ALL)
def test_every_model_states_its_whole_spec_where_it_is_declared(name):
    """Layers, BatchNorm, dropout, activation and recipe are the class's own, and it inherits from TinyNet alone."""
    cls = type(model_lib.get_model(name))
    assert cls.__bases__ == (model_lib.TinyNet,), cls.__bases__
    assert {"layers", "bn", "dropout", "act", "recipe"} <= set(vars(cls)), name
    assert not cls.builds_on or cls.builds_on in model_lib.list_models()


def test_the_step_story_is_read_off_the_specs():
    assert model_lib.step_change("Model_1") == ""  # the first step builds on none
    assert model_lib.step_change("Model_3") == "BatchNorm off -> on"
    assert model_lib.step_change("Model_9") == "hold 0 -> 2"
    assert model_lib.step_change("Model_13") == "dropout 0.05 -> 0.02"
    assert model_lib.step_change("Model_12") == "layers 6 12 M D t6 10 10 11 -> 8 s16 M D t8 s23 s23 s23 s23"
    # Model_6 changes the schedule as a whole: every key that differs, in the recipe's order
    assert model_lib.step_change("Model_6") == "lr 0.02 -> 0.1, nesterov off -> on, schedule constant -> onecycle"


@pytest.mark.parametrize("name", ALL)
def test_receptive_field_covers_the_digit(name):
    rows = utils.receptive_field_table(model_lib.get_model(name))
    assert rows[-1]["size"] == 1 and rows[-1]["rf"] >= 28


@pytest.mark.parametrize("name,bar", FINALS.items())
def test_final_models_have_bn_dropout_gap_within_budget(name, bar):
    net = model_lib.get_model(name)
    kinds = {type(m) for m in net.modules()}
    assert nn.BatchNorm2d in kinds
    assert kinds & {nn.Dropout, nn.Dropout2d}
    assert nn.AdaptiveAvgPool2d in kinds
    assert bar.allows(model_lib.count_parameters(net))


def test_receptive_field_table_by_hand():
    net = nn.Sequential(
        nn.Conv2d(1, 2, 3),
        nn.Conv2d(2, 2, 3, padding=1),
        nn.MaxPool2d(2),
        nn.Conv2d(2, 2, 3, dilation=2),
        nn.AdaptiveAvgPool2d(1),
    )
    rows = utils.receptive_field_table(net, 28)
    assert [(r["rf"], r["jump"], r["size"]) for r in rows] == [
        (1, 1, 28),
        (3, 1, 26),
        (5, 1, 26),
        (6, 2, 13),
        (14, 2, 9),
        (30, 18, 1),
    ]
    assert rows[3]["type"] == "MaxPool2d" and rows[3]["kernel"] == 2 and rows[3]["stride"] == 2
    # the input pixel each layer's first output is centred on: the global pool ends at the image's centre
    assert [r["start"] for r in rows] == [0, 1, 1, 1.5, 5.5, 13.5]


def test_the_course_tokens_build_their_layers():
    net = model_lib.build_layers("6 s12 M D t6 10", 0.05)
    kinds = [type(m) for m in net.features]
    assert kinds == [nn.Sequential, nn.Sequential, nn.MaxPool2d, nn.Dropout2d, nn.Sequential, nn.Sequential]
    assert [m.kernel_size for m in net.features[1] if isinstance(m, nn.Conv2d)] == [(3, 3), (1, 1)]  # separable
    assert net.features[1][0].groups == 6 and net.features[4][0].kernel_size == (1, 1)
    assert net.features[3].p == 0.05


@pytest.mark.parametrize("token", ["s", "st6", "t0", "x6", "M2", "6M"])
def test_malformed_layer_tokens_are_refused(token):
    with pytest.raises(ValueError, match="bad layer token"):
        model_lib.build_layers(f"6 {token} 10")


def test_model_py_alone_knows_the_course_tokens_and_the_search_adds_its_own():
    """The search's tokens live in tools/search_blocks.py: without it, model.py refuses them in one line."""
    code = (
        "import model\n"
        "print(sorted(model.TOKENS))\n"
        "try:\n    model.build_layers('6 M t10 10 R')\nexcept ValueError as e:\n    print(e)\n"
        "import tools\n"
        "print(model.count_parameters(model.build_layers('6 M t10 10 R')))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=utils.REPO, capture_output=True, text=True, check=True)
    tokens, refused, built = out.stdout.splitlines()
    assert tokens == "['', 'D', 'M', 's', 't']"
    assert refused.startswith("bad layer token 'R': use <channels> / t<channels> / s<channels> / M / D")
    assert int(built) > 0


def test_an_unknown_activation_is_refused():
    with pytest.raises(ValueError, match="unknown activation 'tanh'; known: relu"):
        model_lib.build_layers("6 12 M 10", act="tanh")
