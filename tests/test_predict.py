"""predict.py on images the tests make from MNIST test digits, its errors, and class activation maps."""

import json

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


ORIENTATION = 0x0112  # the EXIF tag a phone writes instead of turning the pixels
# EXIF orientation -> how the upright picture is stored: exif_transpose must undo it
STORED_TURNED = {3: Image.Transpose.ROTATE_180, 6: Image.Transpose.ROTATE_90, 8: Image.Transpose.ROTATE_270}


def save_turned_jpeg(photo: np.ndarray, path, orientation: int) -> None:
    exif = Image.Exif()
    exif[ORIENTATION] = orientation
    Image.fromarray(photo).transpose(STORED_TURNED[orientation]).save(path, exif=exif, quality=95)


def save_transparent_dark_ink(photo: np.ndarray, path) -> None:
    """Black strokes on a transparent canvas whose hidden colour is black too: a drawing app's default export."""
    rgba = np.zeros((*photo.shape, 4), dtype=np.uint8)
    rgba[..., 3] = 255 - photo
    Image.fromarray(rgba, "RGBA").save(path)


def save_transparent_white_ink(photo: np.ndarray, path) -> None:
    """White strokes on a transparent canvas: the colours carry no ink, the opacity does."""
    rgba = np.full((*photo.shape, 4), 255, dtype=np.uint8)
    rgba[..., 3] = 255 - photo
    Image.fromarray(rgba, "RGBA").save(path)


def save_palette_transparent_paper(photo: np.ndarray, path) -> None:
    """16 gray levels in a palette; the paper's entry is transparent and its hidden colour black."""
    index = (photo // 16).astype(np.uint8)
    palette = [v for level in range(16) for v in (level * 17,) * 3]
    palette[15 * 3 : 16 * 3] = [0, 0, 0]
    img = Image.fromarray(index, "P")
    img.putpalette(palette)
    img.save(path, transparency=15)


def save_animated_gif(photo: np.ndarray, path) -> None:
    """The digit, then a blank second frame."""
    frames = [Image.fromarray(photo), Image.fromarray(np.full_like(photo, 255))]
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100, loop=0)


# variant -> (file suffix, writer of the photo-like digit: dark ink on light paper, 4x larger, off-centre)
VARIANTS = {
    "MNIST's own form (28x28, white on black)": (".png", None),
    "transparent PNG, dark ink": (".png", save_transparent_dark_ink),
    "transparent PNG, white ink": (".png", save_transparent_white_ink),
    "16-bit grayscale PNG": (".png", lambda photo, path: Image.fromarray(photo.astype(np.uint16) * 257).save(path)),
    "32-bit float TIFF": (".tif", lambda photo, path: Image.fromarray(photo.astype(np.float32) / 255).save(path)),
    "JPEG, EXIF orientation 3": (".jpg", lambda photo, path: save_turned_jpeg(photo, path, 3)),
    "JPEG, EXIF orientation 6": (".jpg", lambda photo, path: save_turned_jpeg(photo, path, 6)),
    "JPEG, EXIF orientation 8": (".jpg", lambda photo, path: save_turned_jpeg(photo, path, 8)),
    "CMYK JPEG": (".jpg", lambda photo, path: Image.fromarray(photo).convert("CMYK").save(path, quality=95)),
    "palette PNG, transparent paper": (".png", save_palette_transparent_paper),
    "animated GIF (first frame)": (".gif", save_animated_gif),
}


@pytest.fixture(scope="module")
def corpus_digits(mnist, net):
    """50 test digits the network classifies with confidence, with its prediction on the original 28x28."""
    x = utils.normalize(mnist.test_images[:500])
    with torch.no_grad():
        probs = net(x).exp()
    picked = (probs.max(1).values > 0.95).nonzero().flatten()[:50]
    assert len(picked) == 50
    return [(mnist.test_images[i].numpy(), int(probs[i].argmax())) for i in picked]


def write_variant(digit: np.ndarray, variant: str, path) -> None:
    _, writer = VARIANTS[variant]
    if writer is None:
        Image.fromarray(digit).save(path)
    else:
        writer(as_photo(digit), path)


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_every_kind_of_image_gets_the_prediction_of_the_original_digit(net, corpus_digits, tmp_path, variant):
    """At least 95% of 50 confidently classified test digits keep the network's prediction in each kind of file."""
    agree = 0
    for k, (digit, expected) in enumerate(corpus_digits):
        path = tmp_path / f"digit{k}{VARIANTS[variant][0]}"
        write_variant(digit, variant, path)
        prepared = predict.mnist_style(predict.read_gray(path), str(path))
        agree += predict.top3(net, predict.to_input(prepared))[0][0] == expected
    assert agree >= 48, f"{variant}: {agree} of 50"


def test_a_digit_in_mnists_form_goes_through_unchanged(corpus_digits, tmp_path):
    digit, _ = corpus_digits[0]
    Image.fromarray(digit).save(tmp_path / "d.png")
    assert np.array_equal(predict.mnist_style(predict.read_gray(tmp_path / "d.png")), digit / np.float32(255))


def test_a_seven_drawn_transparent_in_16_bits_or_turned_by_a_phone_is_a_seven(mnist, tmp_path, capsys):
    seven = mnist.test_images[0].numpy()  # the test set's first digit is a 7
    assert int(mnist.test_labels[0]) == 7
    photo = as_photo(seven)
    save_transparent_dark_ink(photo, tmp_path / "drawn.png")
    Image.fromarray(photo.astype(np.uint16) * 257).save(tmp_path / "deep.png")
    save_turned_jpeg(photo, tmp_path / "phone.jpg", 6)
    assert predict.main([str(tmp_path / n) for n in ("drawn.png", "deep.png", "phone.jpg")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3 and all(line.split(": ", 1)[1].startswith("7 (") for line in lines), lines


@pytest.fixture
def folder_with_a_broken_file(digits, tmp_path):
    folder = tmp_path / "digits"
    folder.mkdir()
    for k in range(3):
        Image.fromarray(as_photo(digits[k][0])).save(folder / f"d{k}.png")
    (folder / "broken.png").write_bytes(b"\x89PNG not really")
    (folder / "notes.txt").write_text("not an image, and not named like one: left out")
    return folder


def test_a_folder_gives_a_line_per_image_and_a_broken_file_fails_alone(folder_with_a_broken_file, digits, capsys):
    assert predict.main([str(folder_with_a_broken_file)]) == 1
    out, err = capsys.readouterr()
    assert [line.split(":")[0].rsplit("/", 1)[1] for line in out.splitlines()] == ["d0.png", "d1.png", "d2.png"]
    for (_, expected), line in zip(digits, out.splitlines(), strict=False):
        assert line.split(": ", 1)[1].startswith(f"{expected} ("), line
    assert err.count("\n") == 1 and err.startswith("predict.py: error: ") and "broken.png: not an image" in err


def test_json_gives_one_object_per_image(folder_with_a_broken_file, digits, capsys):
    assert predict.main([str(folder_with_a_broken_file), "--json"]) == 1
    out, err = capsys.readouterr()
    objects = [json.loads(line) for line in out.splitlines()]
    names = [o["file"].rsplit("/", 1)[1] for o in objects]
    assert err == "" and names == ["broken.png", "d0.png", "d1.png", "d2.png"]  # a folder's files in sorted order
    assert "not an image" in objects[0]["error"] and "top3" not in objects[0]
    for (_, expected), o in zip(digits, objects[1:], strict=False):
        assert o["top3"][0]["class"] == expected and len(o["top3"]) == 3
        assert len(o["probabilities"]) == 10 and abs(sum(o["probabilities"]) - 1) < 1e-4
        assert o["top3"][0]["probability"] == max(o["probabilities"])


def test_an_empty_folder_is_an_error(tmp_path, capsys):
    assert predict.main([str(tmp_path)]) == 1
    assert "a folder with no images in it" in capsys.readouterr().err


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

    from tools import report

    def shown(network):
        fig = utils.plot_class_activation_maps(network, mnist.test_images, mnist.test_labels, "maps")
        return report.fingerprint(fig)

    other_kernels = copy.deepcopy(net).to(memory_format=torch.channels_last)
    assert shown(other_kernels) == shown(net)


@pytest.mark.slow
def test_committed_weights_reproduce_their_recorded_test_accuracy(mnist):
    """Every weights file in results/ gives exactly the correct count its results file recorded."""
    files = sorted(utils.DEFAULT_RESULTS_DIR.glob("*.safetensors"))
    assert files
    x, y = utils.normalize(mnist.test_images), mnist.test_labels
    for weights in files:
        result = utils.load_result(weights.with_suffix(".json"))
        correct = sum(result.confusion_matrix[i][i] for i in range(10))
        assert utils.evaluate(utils.load_run(weights.with_suffix(".json")), x, y).correct == correct, weights.name


@pytest.mark.parametrize("side", [5, 20, 21, 57, 113, 280])
def test_the_lanczos_resize_is_pillows_where_pillow_runs_the_horizontal_pass_first(side):
    """predict.resize_lanczos writes out Pillow's LANCZOS on 8-bit images (so that demo/prepare.js can follow it):
    on a square image every Pillow version runs the horizontal pass first, and the two agree to the byte."""
    image = np.random.default_rng(side).integers(0, 256, (side, side), dtype=np.uint8)
    for width, height in ((20, 20), (7, 13)):
        ours = predict.resize_lanczos(image, width, height)
        theirs = np.asarray(Image.fromarray(image).resize((width, height), Image.Resampling.LANCZOS))
        assert np.array_equal(ours, theirs), (side, width, height)


def test_the_moments_are_exact_so_a_symmetric_digit_rounds_half_to_even():
    """Two equal strokes 7 rows apart have their centre at row 3.5 exactly: round(14 - 3.5) is 10 (half to even, as
    the page's copy rounds too), not 11."""
    digit = np.zeros((8, 4), dtype=np.uint8)
    digit[0], digit[7] = 200, 200
    out = predict.centre_by_mass(digit)
    assert out[10].max() == np.float32(200 / 255) and out[17].max() == np.float32(200 / 255)
    assert out.sum() == pytest.approx(8 * 200 / 255, rel=1e-6)
