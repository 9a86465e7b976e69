"""The blocks that show what the tools measured: predict.py on an example digit, the speed benchmark, and the
mutation testing."""

from __future__ import annotations

import json
from pathlib import Path

import model as model_lib
import predict
from tools import benchmark, mutate
from tools.report.figures import EXAMPLE, example_digit, image
from tools.report.results import Report
from utils.runs import load_trained


def predict_demo(rep: Report) -> str:
    name = model_lib.S7_FINAL
    if not rep.has_weights(name):
        return "_No trained weights of the Session 7 model in results/._"
    digit = predict.mnist_style(example_digit(), EXAMPLE)
    net = load_trained(name, 1, rep.results_dir)
    probs = predict.probabilities(net, predict.to_input(digit))
    text, as_json = (predict.report_line(Path(EXAMPLE), probs, None, form)[0] for form in (False, True))
    return "\n".join(
        [
            f"On [a digit drawn by `tools/report`]({EXAMPLE}), with `{name}` (seed 1):",
            "",
            "```bash",
            f".venv/bin/python predict.py {EXAMPLE} --show seen.png",
            "```",
            "",
            f"{image('example_digit_seen.png', 'The example digit and what the network sees')}",
            "",
            "```",
            text,
            "```",
            "",
            "and with `--json`:",
            "",
            "```",
            as_json,
            "```",
        ]
    )


def speed(rep: Report) -> str:
    path = rep.results_dir / "benchmark.json"
    if not path.exists():
        return "_Run `python -m tools.benchmark` to measure._"
    return benchmark.markdown(json.loads(path.read_text()))


def mutation(rep: Report) -> str:
    path = rep.results_dir / "mutation.json"
    if not path.exists():
        return "_Run `python -m tools.mutate` to measure._"
    return mutate.markdown(json.loads(path.read_text()))
