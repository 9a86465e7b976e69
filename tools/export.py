"""Write a trained model to one ONNX file, its weights inside, in eval mode, for the digit page and other runtimes.

    python -m tools.export                                   # the course's model, reference seed 1
    python -m tools.export --model Model_14 --seed 3 --out m14.onnx
    python -m tools.export --model Model_15 --weights runs/Model_15-seed2.safetensors

The network is the registered model with a reference run's weights from results/ (or any safetensors file that fits
it), in eval mode: BatchNorm uses its running statistics (torch's exporter folds it into the convolutions) and
dropout is gone. Input: a batch of normalized 28x28 images, named ``image`` (N, 1, 28, 28); output: the ten
log-probabilities, ``log_probs`` (N, 10). torch's dynamo exporter (onnxscript) writes the graph; the weights are
kept in the same file rather than beside it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

import model as model_lib
from utils.paths import REPO
from utils.runs import WeightsError, load_trained, load_weights

DEFAULT_OUT = REPO / "build" / "model.onnx"
OPSET = 18  # what onnxruntime-web 1.30 and onnxruntime 1.32 both run


def trained_network(name: str, seed: int, weights: Path | None = None) -> torch.nn.Module:
    """The registered model ``name`` with a reference run's weights, or with ``weights``, in eval mode."""
    if weights is None:
        return load_trained(name, seed)
    return load_weights(model_lib.get_model(name), weights)


def export_onnx(net: torch.nn.Module, out: Path, about: dict[str, str]) -> Path:
    """``net`` (eval mode) as one ONNX file at ``out``, its batch size free, with ``about`` as its metadata."""
    import warnings

    import onnx

    out.parent.mkdir(parents=True, exist_ok=True)
    example = (torch.zeros(1, 1, 28, 28),)
    with warnings.catch_warnings():  # the exporter's notes on its own internals say nothing about this network
        warnings.simplefilter("ignore")
        torch.onnx.export(
            net.eval(),
            example,
            str(out),
            dynamo=True,
            external_data=False,
            opset_version=OPSET,
            input_names=["image"],
            output_names=["log_probs"],
            dynamic_shapes=({0: torch.export.Dim("batch")},),
            verbose=False,
        )
    graph = onnx.load(str(out))
    for node in graph.graph.node:  # the exporter's notes on where each node came from: half the file, no use here
        del node.metadata_props[:]
    onnx.helper.set_model_props(graph, about)
    onnx.save(graph, str(out))
    return out


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m tools.export", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--model", default=model_lib.S7_FINAL, help=f"registered model (default: {model_lib.S7_FINAL})")
    p.add_argument("--seed", type=int, default=1, help="which reference run's weights in results/ (default: 1)")
    p.add_argument("--weights", type=Path, help="a safetensors file of the model's weights instead (e.g. from runs/)")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help="the ONNX file (default: build/model.onnx)")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        net = trained_network(args.model, args.seed, args.weights)
    except (ValueError, WeightsError) as err:  # an unknown model, missing, broken or mismatched weights
        print(f"tools.export: error: {err}", file=sys.stderr)
        return 1
    about = {"model": args.model, "weights": str(args.weights or f"seed {args.seed}")}
    out = export_onnx(net, args.out, about)
    print(f"wrote {out} ({out.stat().st_size:,} bytes): {args.model}, {model_lib.count_parameters(net):,} parameters")
    return 0


if __name__ == "__main__":
    sys.exit(main())
