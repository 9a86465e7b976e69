"""The digit page: the exported ONNX network against PyTorch, the page's preparation (demo/prepare.js) against
predict.py's, and the built page in a real headless Chromium, drawn on with the mouse along MNIST test digits."""

import base64
import functools
import http.server
import json
import os
import re
import shutil
import subprocess
import sys
import threading

import numpy as np
import pytest
import torch
from PIL import Image

import model as model_lib
import predict
import utils
from tools import export, fork, page

FINAL = model_lib.S7_FINAL
README = (utils.REPO / "README.md").read_text()
OUT = utils.REPO / "build" / "page-test"  # the browser test's figures and screenshot (not committed)


@pytest.fixture(scope="module")
def onnx_file(tmp_path_factory):
    return export.export_onnx(utils.load_trained(FINAL, 1), tmp_path_factory.mktemp("onnx") / "m.onnx", {})


def test_the_onnx_network_is_the_pytorch_network_on_every_test_image(onnx_file, mnist):
    import onnxruntime

    x = utils.normalize(mnist.test_images)
    with torch.no_grad():
        ours = utils.load_trained(FINAL, 1)(x).numpy()
    session = onnxruntime.InferenceSession(str(onnx_file), providers=["CPUExecutionProvider"])
    theirs = session.run(["log_probs"], {"image": x.numpy()})[0]
    assert theirs.shape == (10000, 10)
    assert np.array_equal(theirs.argmax(1), ours.argmax(1))
    assert np.abs(theirs - ours).max() < 1e-4


def test_the_onnx_graph_is_in_eval_mode_with_its_weights_inside(onnx_file):
    import onnx

    graph = onnx.load(str(onnx_file))
    onnx.checker.check_model(graph, full_check=True)
    assert not list(onnx_file.parent.glob("*.data")) and len(graph.graph.initializer) > 0
    ops = {node.op_type for node in graph.graph.node}
    assert "Dropout" not in ops
    for node in graph.graph.node:  # a BatchNorm left in the graph must use its running statistics
        training = [a.i for a in node.attribute if a.name == "training_mode"]
        assert node.op_type != "BatchNormalization" or training in ([], [0]), node
    weights = sum(int(np.prod(t.dims)) for t in graph.graph.initializer)
    assert weights <= model_lib.count_parameters(utils.load_trained(FINAL, 1))  # BatchNorm folded in, nothing more


def run_export(*args):
    return subprocess.run(
        [sys.executable, "-m", "tools.export", *args], cwd=utils.REPO, capture_output=True, text=True, timeout=300
    )


@pytest.mark.parametrize(
    "args,message",
    [
        (["--model", "Model_99"], "unknown model 'Model_99'"),
        (["--seed", "99"], f"no trained weights for {FINAL} seed 99"),
        (["--weights", "results/Model_14-seed1.safetensors"], f"does not fit {FINAL}"),
    ],
)
def test_export_refuses_bad_input_in_one_line(args, message, tmp_path):
    proc = run_export(*args, "--out", str(tmp_path / "m.onnx"))
    assert proc.returncode == 1 and proc.stdout == ""
    assert proc.stderr.startswith("tools.export: error: ") and message in proc.stderr
    assert proc.stderr.count("\n") == 1 and not (tmp_path / "m.onnx").exists()


def test_the_readme_gives_the_onnx_files_size_and_the_pages_address(onnx_file):
    size = re.search(r"a ([\d.]+) KB ONNX file", README)
    assert size, "the README names the ONNX file's size"
    assert abs(float(size.group(1)) - onnx_file.stat().st_size / 1000) < 1.0
    assert fork.pages_url(utils.repository_slug()) in README
    assert 'src="docs/page.png"' in README and (utils.REPO / "docs" / "page.png").stat().st_size > 0


# The page's preparation, run by Node on drawings of every kind that predict.py reads as RGBA


def drawings(mnist, count: int):
    """MNIST test digits scaled and placed on sheets of other sizes: dark ink on white paper, dark ink on a
    transparent canvas, white ink on a transparent canvas."""
    rng = np.random.default_rng(0)
    for i in range(count):
        size = int(rng.integers(40, 300))
        width, height = size + int(rng.integers(0, 80)), size + int(rng.integers(0, 80))
        ink = np.zeros((height, width), dtype=np.uint8)
        top, left = int(rng.integers(0, height - size + 1)), int(rng.integers(0, width - size + 1))
        digit = Image.fromarray(mnist.test_images[i].numpy()).resize((size, size), Image.Resampling.BILINEAR)
        ink[top : top + size, left : left + size] = np.asarray(digit)
        colour = [np.full_like(ink, 255 - ink), np.zeros_like(ink), np.full_like(ink, 255)][i % 3]
        alpha = [np.full_like(ink, 255), ink, ink][i % 3]
        yield np.dstack([colour, colour, colour, alpha])


def prepared_in_node(images: list[np.ndarray]) -> list[dict]:
    """demo/prepare.js on RGBA images, under Node: each one's 28x28 grey levels or its error."""
    node = shutil.which("node")
    assert node, "the page's preparation is tested under Node.js: install it"
    listed = [
        {"width": a.shape[1], "height": a.shape[0], "rgba": base64.b64encode(a.tobytes()).decode()} for a in images
    ]
    script = utils.REPO / "tests" / "prepare_digits.mjs"
    proc = subprocess.run([node, str(script)], input=json.dumps(listed), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_the_pages_preparation_gives_predict_pys_grey_levels(mnist):
    images = list(drawings(mnist, 240))
    for rgba, theirs in zip(images, prepared_in_node(images), strict=True):
        ours = np.rint(predict.mnist_style(predict.gray_of(Image.fromarray(rgba, "RGBA"))) * 255)
        assert np.array_equal(np.array(theirs["levels"]).reshape(28, 28), ours)


def test_the_pages_preparation_finds_no_ink_where_predict_py_finds_none():
    blank = np.full((50, 60, 4), 255, dtype=np.uint8)
    assert prepared_in_node([blank]) == [{"error": "no ink found"}]
    with pytest.raises(predict.ImageError, match="no ink found"):
        predict.mnist_style(predict.gray_of(Image.fromarray(blank, "RGBA")))


# The built page in headless Chromium


def chromium() -> str:
    for candidate in (os.environ.get("CHROMIUM"), "chromium", "chromium-browser", "google-chrome"):
        if candidate and shutil.which(candidate):
            return shutil.which(candidate)
    pytest.fail("the page is tested in Chromium: install Debian's chromium package or set CHROMIUM to a Chrome binary")


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    return page.build(tmp_path_factory.mktemp("page"))


def serve(folder):
    """A local static server like GitHub Pages: no cross-origin isolation headers."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(QuietHandler, directory=folder))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium())
        yield launched
        launched.close()


def open_page(browser, folder):
    server = serve(folder)
    tab = browser.new_page(viewport={"width": 900, "height": 560})
    tab.goto(f"http://127.0.0.1:{server.server_port}/")
    tab.wait_for_function("window.demo && (window.demo.readyMs !== null || window.demo.error !== null)")
    return tab, server


def strokes(digit: np.ndarray) -> list[tuple[float, float, float]]:
    """Mouse strokes along the ink of a 28x28 digit, one per run of ink in each pair of rows (the page's pen is
    about two rows wide): (x from, x to, y) on the 280x280 pad."""
    ink = digit >= 100
    rows = []
    for y in range(0, 28, 2):
        xs = np.flatnonzero(ink[y] | ink[y + 1])
        for run in np.split(xs, np.flatnonzero(np.diff(xs) > 1) + 1) if len(xs) else []:
            rows.append((10.0 * run[0] + 5, 10.0 * run[-1] + 5, 10.0 * y + 10))
    return rows


def draw(tab, lines: list[list[tuple[float, float]]], steps: int = 1) -> dict:
    """Clear the pad, draw each polyline with the mouse as one stroke, wait for the page's answer to the last."""
    tab.click("#clear")
    box = tab.locator("#pad").bounding_box()
    done = tab.evaluate("window.demo.predictions")
    for line in lines:
        tab.mouse.move(box["x"] + line[0][0], box["y"] + line[0][1])
        tab.mouse.down()
        for x, y in line[1:]:
            tab.mouse.move(box["x"] + x, box["y"] + y, steps=steps)
        tab.mouse.up()
    tab.wait_for_function(f"window.demo.pending === 0 && window.demo.predictions > {done}")
    return tab.evaluate("window.demo.last")


def draw_digit(tab, digit: np.ndarray) -> dict:
    return draw(tab, [[(x0, y), (x1, y)] for x0, x1, y in strokes(digit)])


# A 3 as a hand draws it, in two strokes (for the README's screenshot)
THREE = [
    [(95, 60), (140, 40), (185, 60), (180, 110), (135, 135)],
    [(135, 135), (190, 165), (185, 220), (135, 240), (90, 220)],
]


def first_of_each_class(mnist, per_class: int) -> list[int]:
    labels = mnist.test_labels.numpy()
    return sorted(i for c in range(10) for i in np.flatnonzero(labels == c)[:per_class])


@pytest.mark.slow
def test_drawn_digits_get_predict_pys_answer(built, browser, mnist, tmp_path):
    tab, server = open_page(browser, built)
    assert tab.evaluate("window.demo.error") is None
    ready_ms = tab.evaluate("window.demo.readyMs")
    net = utils.load_trained(FINAL, 1)
    agree, right, level_gaps, prob_gaps = 0, 0, [], []
    picked = first_of_each_class(mnist, 10)
    for i in picked:
        shown = draw_digit(tab, mnist.test_images[i].numpy())
        drawing = tmp_path / f"digit{i}.png"
        drawing.write_bytes(
            base64.b64decode(tab.evaluate("document.getElementById('pad').toDataURL('image/png')").split(",", 1)[1])
        )
        prepared = predict.mnist_style(predict.read_gray(drawing), str(drawing))
        probs = np.array(predict.probabilities(net, predict.to_input(prepared)))
        agree += int(probs.argmax()) == shown["top3"][0][0]
        right += shown["top3"][0][0] == int(mnist.test_labels[i])
        level_gaps.append(np.abs(np.array(shown["input"]) - np.rint(prepared.ravel() * 255)).mean())
        prob_gaps.append(np.abs(np.array(shown["probabilities"]) - probs).max())
    latencies = tab.evaluate("window.demo.latencies")
    OUT.mkdir(parents=True, exist_ok=True)
    assert draw(tab, THREE, steps=6)["top3"][0][0] == 3
    tab.screenshot(path=str(OUT / "screenshot.png"))  # docs/page.png is a copy
    figures = {
        "digits": len(picked),
        "agree with predict.py": agree,
        "the page's class is the label": right,
        "mean grey-level difference of the 28x28 input": float(np.mean(level_gaps)),
        "largest probability difference": float(np.max(prob_gaps)),
        "ready after (ms)": ready_ms,
        "predictions": len(latencies),
        "stroke end to answer (ms), median": float(np.median(latencies)),
        "stroke end to answer (ms), 95th percentile": float(np.percentile(latencies, 95)),
        "stroke end to answer (ms), largest": float(np.max(latencies)),
    }
    (OUT / "figures.json").write_text(json.dumps(figures, indent=1) + "\n")
    print(json.dumps(figures, indent=1))
    server.shutdown()
    assert len(picked) >= 100 and {int(mnist.test_labels[i]) for i in picked} == set(range(10))
    assert agree >= 0.98 * len(picked)
    assert np.mean(level_gaps) <= 1.0


def test_an_empty_pad_asks_for_a_digit_and_predicts_nothing(built, browser):
    tab, server = open_page(browser, built)
    assert tab.inner_text("#status") == "Draw a digit."
    assert tab.locator("#top3 li").count() == 0 and tab.evaluate("window.demo.last") is None
    draw(tab, THREE)
    assert tab.locator("#top3 li").count() == 3
    tab.click("#clear")
    assert tab.inner_text("#status") == "Draw a digit." and tab.locator("#top3 li").count() == 0
    server.shutdown()


def test_a_model_that_fails_to_load_says_so_in_one_line(built, browser, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(built, broken)
    (broken / "model.onnx").write_bytes((built / "model.onnx").read_bytes()[:1000])
    tab, server = open_page(browser, broken)
    status = tab.inner_text("#status")
    assert status.startswith("Could not load the network: ") and "\n" not in status
    assert tab.evaluate("window.demo.readyMs") is None
    server.shutdown()
