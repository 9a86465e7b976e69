"""The benchmark runs and writes its file (how fast it is lives in docs/generated/benchmark.json, not here)."""

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
    pipes = bench["pipelines"][benchmark.MODELS[0]]
    for pipe in ("classic", "ours"):
        assert pipes[pipe]["train_images_per_s"] > 0 and pipes[pipe]["eval_images_per_s"] > 0
        assert pipes[pipe]["peak_rss_mb"] > 0
    assert bench["batch_sizes"]
    assert f"| {benchmark.MODELS[0]} | classic |" in benchmark.markdown(bench)


def test_the_epoch_table_gives_the_share_of_the_batchnorm_re_estimate():
    bench = {
        "machine": {"cpu": "cpu", "cores": 2, "threads": 2, "torch": "2", "backend": "cpu"},
        "batch_size": 128,
        "warmup_batches": 1,
        "timed_batches": 1,
        "pipelines": {"A": {"classic": {k: 1.0 for k in ("train_images_per_s", "eval_images_per_s", "peak_rss_mb")}}},
        "batch_sizes": {"128": 5},
        "epoch_parts": {
            "A": {"bn_batches": 300, "train_s": 12.0, "bn_s": 2.0, "eval_s": 6.0},
            "B": {"bn_batches": 0, "train_s": 9.0, "bn_s": 0.0, "eval_s": 1.0},
        },
    }
    table = benchmark.markdown(bench)
    assert "| A | 12.0 | 2.0 (300 batches) | 6.0 | 10% |" in table
    assert "| B | 9.0 | - | 1.0 | 0% |" in table


def test_classic_model_swaps_in_plain_dropout():
    import torch.nn as nn

    net = benchmark.with_plain_dropout(model_lib.get_model("Model_6"))
    kinds = {type(m) for m in net.modules()}
    assert nn.Dropout in kinds and nn.Dropout2d not in kinds
