"""The search's own layers (tools/search_blocks.py): each token builds its block, and the blocks do what they say."""

import pytest
import torch
import torch.nn as nn

import model as model_lib
import utils
from tools import search_blocks as blocks


def test_layer_tokens_build_their_blocks_and_a_linear_transition_has_no_activation():
    net = model_lib.build_layers("6 12 M D l6 t6 10", 0.05, act="silu")
    blocks = [m for m in net.features if isinstance(m, nn.Sequential)]
    kinds = [[type(m) for m in block] for block in blocks]
    assert kinds[0] == kinds[1] == [nn.Conv2d, nn.BatchNorm2d, nn.SiLU]
    assert kinds[2] == [nn.Conv2d, nn.BatchNorm2d]  # l6: linear
    assert kinds[3] == [nn.Conv2d, nn.BatchNorm2d, nn.SiLU]  # t6: the same 1x1 with its activation
    assert [blocks[i][0].kernel_size for i in (2, 3, 4)] == [(1, 1), (1, 1), (3, 3)]
    same = model_lib.build_layers("6 12 M D t6 t6 10", 0.05, act="silu")
    assert model_lib.count_parameters(net) == model_lib.count_parameters(same)  # linearity costs nothing
    relu = model_lib.build_layers("6 12 M D l6 t6 10", 0.05)
    assert {type(m) for m in relu.modules()} & {nn.ReLU, nn.SiLU} == {nn.ReLU}


@pytest.mark.parametrize("token", ["l", "pl6", "lt6", "l0", "x6"])
def test_malformed_search_tokens_are_refused(token):
    with pytest.raises(ValueError, match="bad layer token"):
        model_lib.build_layers(f"6 {token} 10")


def test_an_unknown_activation_is_refused_and_the_search_adds_silu():
    with pytest.raises(ValueError, match="unknown activation 'tanh'; known: relu, silu"):
        model_lib.build_layers("6 12 M 10", act="tanh")


def test_coordinate_channels_are_two_more_inputs_without_parameters():
    x = torch.randn(2, 3, 4, 5)
    out = blocks.AddCoords()(x)
    assert out.shape == (2, 5, 4, 5) and torch.equal(out[:, :3], x)
    assert torch.equal(out[1, 3, 2], torch.linspace(-1, 1, 5))  # columns
    assert torch.equal(out[1, 4, :, 0], torch.linspace(-1, 1, 4))  # rows
    with_coords, without = model_lib.build_layers("6 M C t6 10"), model_lib.build_layers("6 M t6 10")
    assert model_lib.count_parameters(with_coords) - model_lib.count_parameters(without) == 2 * 6  # t6 sees 8 channels
    assert with_coords(torch.zeros(1, 1, 28, 28)).shape == (1, 10)


def test_a_factorized_convolution_is_3x1_then_1x3_and_costs_a_third_less():
    net = model_lib.build_layers("6 M f12 f12")
    blocks = [m for m in net.features if isinstance(m, nn.Sequential)]
    convs = [m for m in blocks[2] if isinstance(m, nn.Conv2d)]
    assert [c.kernel_size for c in convs] == [(3, 1), (1, 3)]
    assert sum(c.weight.numel() for c in convs) == 3 * 12 * 12 + 3 * 12 * 12  # a 3x3 of 12 -> 12 has 9 * 12 * 12
    assert sum(isinstance(m, nn.ReLU) for m in blocks[2]) == 2
    full = model_lib.build_layers("6 M 12 12")
    assert net(torch.zeros(1, 1, 28, 28)).shape == (1, 10)
    assert utils.last_feature_layer(net) == {**utils.last_feature_layer(full), "layer": "features.3.3"}


def test_a_repeated_convolution_shares_its_weights_and_has_its_own_batchnorm():
    net = model_lib.build_layers("6 M t10 10 R R")
    once = model_lib.build_layers("6 M t10 10")
    conv = net.features[3][0]
    repeats = [m for m in net.features if isinstance(m, blocks.SharedConv)]
    assert len(repeats) == 2 and all(r.shared[0] is conv for r in repeats)
    # counted and saved once: only the two BatchNorms (2 x 10 weights and biases) are new
    assert model_lib.count_parameters(net) - model_lib.count_parameters(once) == 2 * 2 * 10
    assert sum(k.endswith(".weight") and v.dim() == 4 for k, v in net.state_dict().items()) == 4
    assert utils.last_feature_layer(net)["size"] == 7  # 13 -> 11 -> 9 -> 7: each repeat is a convolution
    x = torch.randn(2, 1, 28, 28)
    before = net.eval()(x)
    with torch.no_grad():
        conv.weight.mul_(2)
    assert not torch.allclose(net(x), before)  # one tensor drives all three passes
    assert net(x).shape == (2, 10)


@pytest.mark.parametrize(
    "layers, message",
    [
        ("R 6", "none comes before it"),
        ("6 M t6 R", "none comes before it"),
        ("6 s8 R", "none comes before it"),
        ("6 8 8 C R", "none comes before it"),
        ("6 8 R", "as many channels in as out, not 6 -> 8"),
    ],
)
def test_a_repeat_needs_a_square_full_convolution_before_it(layers, message):
    with pytest.raises(ValueError, match=message):
        model_lib.build_layers(layers)


def test_a_squeeze_excite_gate_scales_each_channel_by_a_sigmoid_of_the_channel_means():
    se = blocks.SqueezeExcite(8)
    assert model_lib.count_parameters(se) == 8 * 2 + 2 + 2 * 8 + 8  # through max(2, 8 // 4) = 2
    x = torch.randn(3, 8, 5, 5)
    with torch.no_grad():
        se.excite.weight.zero_()
        se.excite.bias.copy_(torch.linspace(-2, 2, 8))
    assert torch.allclose(se(x), x * torch.sigmoid(torch.linspace(-2, 2, 8)).view(1, 8, 1, 1))
    with torch.no_grad():
        se.squeeze.weight.fill_(1.0)
        se.squeeze.bias.fill_(10.0)  # hidden units above zero: the ReLU passes the sum of the channel means
        se.excite.weight.fill_(0.1)
    gates = se(x) / x
    assert not torch.allclose(gates[0], gates[1])  # the gate depends on the image
    net, plain = model_lib.build_layers("6 M t6 10 S"), model_lib.build_layers("6 M t6 10")
    assert model_lib.count_parameters(net) - model_lib.count_parameters(plain) == 10 * 2 + 2 + 2 * 10 + 10
    assert utils.last_feature_layer(net) == utils.last_feature_layer(plain)  # the gate is not a spatial layer


def test_a_grouped_convolution_costs_half_and_its_shuffle_interleaves_the_groups():
    net, full = model_lib.build_layers("6 M t8 g12 g12"), model_lib.build_layers("6 M t8 12 12")
    grouped = [m for m in net.modules() if isinstance(m, nn.Conv2d) and m.groups == 2]
    assert [c.weight.numel() for c in grouped] == [9 * 8 * 12 // 2, 9 * 12 * 12 // 2]
    assert utils.last_feature_layer(net)["size"] == utils.last_feature_layer(full)["size"]
    x = torch.arange(6.0).view(1, 6, 1, 1)
    assert blocks.ChannelShuffle(2)(x).flatten().tolist() == [0, 3, 1, 4, 2, 5]
    with pytest.raises(ValueError, match="divisible by 2, not 8 -> 11"):
        model_lib.build_layers("6 M t8 g11")


def test_a_5x5_convolution_costs_25_weights_per_pair_and_shrinks_the_map_by_4():
    net, pair = model_lib.build_layers("k12 M t6 10"), model_lib.build_layers("6 12 M t6 10")
    conv = net.features[0][0]
    assert conv.kernel_size == (5, 5) and conv.padding == (0, 0) and conv.weight.numel() == 25 * 12
    # one 5x5 sees what two 3x3 see: the same receptive field and map size at the last convolution
    assert utils.last_feature_layer(net) == {**utils.last_feature_layer(pair), "layer": "features.3.0"}
    with pytest.raises(ValueError, match="none comes before it"):
        model_lib.build_layers("6 k6 R")  # R repeats 3x3 convolutions only


def test_a_residual_block_adds_its_input_and_keeps_the_map():
    block = blocks.Residual(4)
    x = torch.randn(2, 4, 6, 6)
    with torch.no_grad():
        block.conv.weight.zero_()
        block.norm.bias.fill_(-0.5)
    assert torch.allclose(block.eval()(x), torch.relu(x - 0.5))  # the identity path, shifted by BatchNorm's bias
    net, plain = model_lib.build_layers("6 M t8 b8 b8 10"), model_lib.build_layers("6 M t8 10")
    assert model_lib.count_parameters(net) - model_lib.count_parameters(plain) == 2 * (9 * 8 * 8 + 2 * 8)
    last, without = utils.last_feature_layer(net), utils.last_feature_layer(plain)
    assert last["size"] == without["size"] and last["rf"] == without["rf"] + 2 * 2 * 2  # two 3x3 after the pool
    with pytest.raises(ValueError, match="b10 adds its input to its output, so it needs 10 channels in, not 8"):
        model_lib.build_layers("6 M t8 b10")
