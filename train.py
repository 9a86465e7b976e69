"""Train a registered model on MNIST and write runs/<model>-seed<k>.json and its weights.

python train.py --model Model_15 --seeds 1 2 3                # the README's command: the Session 7 model, into runs/
python train.py --model Model_15 --seeds 1 2 3 4 5 6 7 8 9 10 --out results   # regenerate its reference runs
python train.py --model Model_8 --eval-split val --lr 0.1 --tag lr0.1 --out results/val
python train.py --list
python train.py --model S6_Model --dry-run      # a smoke run (seconds), nothing written
python train.py --model S6_Model --smoke        # a smoke run, written to runs/ as a full run is: for CI
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import torch

import model as model_lib
from utils.config import TrainConfig
from utils.course import SMOKE
from utils.data import DataError
from utils.notebook import course_bar
from utils.paths import DEFAULT_DATA_DIR, DEFAULT_RUNS_DIR
from utils.recipe import config_for
from utils.runs import floor_stats, holds
from utils.training import train


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument(
        "--model", default=model_lib.S7_FINAL, help=f"registered model name (see --list; default: {model_lib.S7_FINAL})"
    )
    p.add_argument("--seeds", type=int, nargs="+", default=[1], help="one run per seed (default: 1)")
    for name, (kind, help_text) in TrainConfig.options().items():
        p.add_argument(
            "--" + name.replace("_", "-"), type=kind, default=None, help=help_text + " (default: the model's recipe)"
        )
    p.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR, help="MNIST folder (default: data)")
    p.add_argument(
        "--out",
        type=Path,
        default=DEFAULT_RUNS_DIR,
        help="folder for the results and weights files (default: runs; the committed reference "
        "runs that the README reports are in results/: --out results replaces them)",
    )
    p.add_argument("--device", default=None, help="cpu or cuda (default: cuda when there is one)")
    smoke = f"{SMOKE['epochs']} epoch on {SMOKE['train_limit']:,} images, evaluated on {SMOKE['eval_limit']:,}"
    p.add_argument("--dry-run", action="store_true", help=f"a smoke run ({smoke}); writes nothing")
    p.add_argument("--smoke", action="store_true", help=f"a smoke run ({smoke}), written as a full run is")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--list", action="store_true", help="list the registered models and exit")
    return p.parse_args(argv)


def check_writable(folder: Path) -> None:
    """Fail before training, not after it, when the results cannot be written."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder):
            pass
    except OSError as err:
        raise ValueError(f"cannot write results to {folder}: {err.strerror or err}") from None


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.list:
        for name in model_lib.list_models():
            print(
                f"{name:10s} {model_lib.count_parameters(model_lib.get_model(name)):>7,} parameters  "
                f"{model_lib.get_target(name)}"
            )
        return 0
    overrides = {k: getattr(args, k) for k in TrainConfig.options() if getattr(args, k) is not None}
    if args.dry_run or args.smoke:
        overrides.update(SMOKE)
    try:
        configs = [config_for(args.model, seed=seed, **overrides) for seed in args.seeds]
        if not args.dry_run:
            check_writable(args.out)
        device = torch.device(args.device) if args.device else None
        if device is not None and device.type == "cuda" and not torch.cuda.is_available():
            raise ValueError("--device cuda: no GPU is available")
    except (ValueError, RuntimeError) as err:
        print(f"train.py: error: {err}", file=sys.stderr)
        return 2
    results = []
    for cfg in configs:
        try:
            results.append(
                train(
                    cfg,
                    data_dir=args.data_dir,
                    device=device,
                    results_dir=None if args.dry_run else args.out,
                    progress=not args.no_progress,
                )
            )
        except DataError as err:
            print(f"train.py: error: {err}", file=sys.stderr)
            return 1
        except ValueError as err:  # a configuration that only fails once the data size is known
            print(f"train.py: error: {err}", file=sys.stderr)
            return 2
    if len(results) > 1:  # the README's statistic: each seed's floor at the course's bar
        bar = course_bar(args.model)
        mean, std, low = floor_stats(results, bar)
        held = sum(holds(r, bar) for r in results)
        print(
            f"{args.model}: floor (lowest of the last {bar.last} epochs) over {len(results)} seeds: mean {mean:.2f}%, "
            f"std {std:.3f}, lowest {low:.2f}%; {held} of {len(results)} hold {bar.min_acc:.2f}%"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
