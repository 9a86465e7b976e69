"""The benchmark runs and writes its file (how fast it is lives in results/benchmark.json, not here)."""

import json
import subprocess
import sys

import pytest

import model as model_lib
import utils
from tools import benchmark


@pytest.mark.slow
def test_quick_benchmark_writes_its_file(tmp_path, mnist):
    out = tmp_path / "benchmark.json"
    proc = subprocess.run(
        [sys.executable, "-m", "tools.benchmark", "--quick", "--out", str(out)],
        cwd=utils.REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    bench = json.loads(out.read_text())
    assert set(bench["machine"]) >= {"cpu", "cores", "torch", "threads"}
    pipes = bench["pipelines"]["Model_6"]
    for pipe in ("classic", "ours"):
        assert pipes[pipe]["train_images_per_s"] > 0 and pipes[pipe]["eval_images_per_s"] > 0
        assert pipes[pipe]["peak_rss_mb"] > 0
    assert bench["batch_sizes"] and bench["epoch_seconds"]
    assert "| Model_6 | classic |" in benchmark.markdown(bench)


def test_classic_model_swaps_in_plain_dropout():
    import torch.nn as nn

    net = benchmark.with_plain_dropout(model_lib.get_model("Model_6"))
    kinds = {type(m) for m in net.modules()}
    assert nn.Dropout in kinds and nn.Dropout2d not in kinds
