"""predict.py on images the tests make from MNIST test digits, its errors, and class activation maps."""

import numpy as np
import pytest
import torch
from PIL import Image

import model as model_lib
import predict
import utils

FINAL = model_lib.S7_FINAL


@pytest.fixture(scope="module")
def net():
    return utils.load_trained(FINAL, seed=1)


@pytest.fixture(scope="module")
def digits(mnist, net):
    """Test digits the network classifies with confidence, with its prediction on the original 28x28."""
    x = utils.normalize(mnist.test_images[:200])
    with torch.no_grad():
        probs = net(x).exp()
    picked = (probs.max(1).values > 0.95).nonzero().flatten()[:12]
    return [(mnist.test_images[i].numpy(), int(probs[i].argmax())) for i in picked]


def as_photo(digit: np.ndarray) -> np.ndarray:
    """Dark ink on light paper, 4x larger, off-centre on a wider sheet."""
    big = np.kron(255 - digit, np.ones((4, 4), dtype=np.uint8))
    sheet = np.full((160, 200), 255, dtype=np.uint8)
    sheet[10:122, 70:182] = big
    return sheet


def test_photos_of_test_digits_get_the_networks_prediction(digits, tmp_path, capsys):
    paths = []
    for k, (digit, _) in enumerate(digits):
        paths.append(tmp_path / f"digit{k}.png")
        Image.fromarray(as_photo(digit)).save(paths[-1])
    assert predict.main([str(p) for p in paths] + ["--show", str(tmp_path / "seen.png")]) == 0
    lines = capsys.readouterr().out.splitlines()
    for (_, expected), line in zip(digits, lines, strict=False):
        assert line.split(": ", 1)[1].startswith(f"{expected} ("), line
    assert (tmp_path / "seen.png").stat().st_size > 0


def test_preparation_recovers_an_mnist_digit(digits):
    digit, _ = digits[0]
    prepared = predict.mnist_style(as_photo(digit).astype(np.float32) / 255)
    original = digit.astype(np.float32) / 255
    assert np.abs(prepared - original).mean() < 0.05  # same place, same size, same strokes


@pytest.mark.parametrize(
    "make,message",
    [
        (lambda p: None, "no such file"),
        (lambda p: p.write_text("not an image"), "not an image"),
        (lambda p: Image.fromarray(np.full((50, 50), 255, np.uint8)).save(p, format="PNG"), "no ink found"),
        (lambda p: Image.fromarray(np.full((50, 50), 90, np.uint8)).save(p, format="PNG"), "no ink found"),
    ],
)
def test_bad_images_get_one_line(tmp_path, capsys, make, message):
    path = tmp_path / "input.png"
    make(path)
    assert predict.main([str(path)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("predict.py: error: ") and message in err and err.count("\n") == 1


@pytest.mark.parametrize(
    "args,message",
    [
        (["--model", "Model_99"], "unknown model 'Model_99'"),
        (["--model", FINAL, "--seed", "99"], f"no trained weights for {FINAL} seed 99"),
    ],
)
def test_bad_models_get_one_line(tmp_path, capsys, digits, args, message):
    path = tmp_path / "d.png"
    Image.fromarray(as_photo(digits[0][0])).save(path)
    assert predict.main([str(path), *args]) == 1
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_class_activation_maps_average_to_the_logits(net, mnist):
    x = utils.normalize(mnist.test_images[:16])
    maps = utils.class_activation_maps(net, x)
    logits = net.head(net.gap(net.features(x))).flatten(1)
    assert maps.shape[:2] == (16, 10)
    assert torch.allclose(maps.mean((2, 3)), logits, atol=1e-5)
    assert torch.equal(logits.log_softmax(1).argmax(1), net(x).argmax(1))


def test_the_class_activation_map_figure_shows_the_same_maps_whatever_kernels_compute_them(net, mnist):
    """A channels-last network runs other convolution kernels, whose float32 sums differ in the fifth decimal:
    what the figure shows (its fingerprint, which the README's check compares) must not move with them."""
    import copy

    import report

    def shown(network):
        fig = utils.plot_class_activation_maps(network, mnist.test_images, mnist.test_labels, "maps")
        return report.fingerprint(fig)

    other_kernels = copy.deepcopy(net).to(memory_format=torch.channels_last)
    assert shown(other_kernels) == shown(net)


def test_committed_weights_reproduce_their_recorded_test_accuracy(mnist):
    """Every weights file in results/ gives exactly the correct count its results file recorded."""
    files = sorted(utils.DEFAULT_RESULTS_DIR.glob("*.safetensors"))
    assert files
    x, y = utils.normalize(mnist.test_images), mnist.test_labels
    for weights in files:
        result = utils.load_result(weights.with_suffix(".json"))
        correct = sum(result.confusion_matrix[i][i] for i in range(10))
        assert utils.evaluate(utils.load_run(weights.with_suffix(".json")), x, y).correct == correct, weights.name
