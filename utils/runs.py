"""Results files and weights files: where a run's numbers and trained weights are written, how they are read
back, the machine and code a run recorded, and the statistics that every claim is made of."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import platform
import subprocess
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn

import model as model_lib
from utils.config import EpochRecord, Result, TrainConfig, run_name
from utils.data import default_device
from utils.paths import DEFAULT_RESULTS_DIR, REPO, write_atomic
from utils.recipe import network


def environment(device: torch.device | None = None) -> dict:
    """Where and with what a run happens: the machine and the code (call it when the run starts)."""

    def git(*args: str) -> str:
        try:
            return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, timeout=10).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return ""

    device = device or default_device()
    return {
        "torch": torch.__version__,
        "device": torch.cuda.get_device_name(0) if device.type == "cuda" else cpu_name(),
        # Two CPUs of one name can be other generations, whose kernels give other numbers (an "AMD EPYC" with
        # AVX2 did not reproduce the runs of another): their family, model and the instruction set torch uses.
        **({"cpu": cpu_model()} if device.type == "cpu" else {}),
        "threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "git_commit": git("rev-parse", "HEAD"),
        # uncommitted changes to the code that trains (notebooks and docs do not change the numbers)
        "git_dirty": bool(git("status", "--porcelain", "--untracked-files=no", "--", "*.py")),
    }


def cpuinfo() -> dict[str, str]:
    """The first value of each field of /proc/cpuinfo (empty where there is none)."""
    fields: dict[str, str] = {}
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            fields.setdefault(key.strip(), value.strip())
    return fields


def cpu_model() -> str:
    """E.g. "AuthenticAMD cpu family 25 model 1, AVX2"."""
    fields = cpuinfo()
    family = " ".join(f"{k} {fields[k]}" for k in ("cpu family", "model") if k in fields)
    vendor = fields.get("vendor_id", platform.machine())
    return f"{vendor} {family}".strip() + f", {torch.backends.cpu.get_cpu_capability()}"


def cpu_name() -> str:
    return cpuinfo().get("model name") or platform.processor() or "cpu"


def result_path(results_dir: Path | str, name: str) -> Path:
    return Path(results_dir) / f"{name}.json"


def save_result(result: Result, results_dir: Path | str = DEFAULT_RESULTS_DIR) -> Path:
    path = result_path(results_dir, result.name)
    write_atomic(path, (json.dumps(dataclasses.asdict(result), indent=1) + "\n").encode())
    return path


def weights_path(results_file: Path | str) -> Path:
    """The trained weights live beside the results file: results/Model_6-seed1.safetensors."""
    return Path(results_file).with_suffix(".safetensors")


def save_weights(net: nn.Module, path: Path) -> None:
    """The state dict (BatchNorm statistics included) as safetensors: loading it runs no code."""
    from safetensors.torch import save

    state = {k: v.detach().cpu().contiguous() for k, v in net.state_dict().items()}
    write_atomic(path, save(state))


class WeightsError(ValueError):
    """A weights file that is missing, corrupted or made for another network."""


def load_weights(net: nn.Module, path: Path | str) -> nn.Module:
    """Load a safetensors state dict into ``net``; every mismatch is named, none is ignored."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    path = Path(path)
    if not path.exists():
        raise WeightsError(f"{path}: no such weights file")
    try:
        state = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as err:
        raise WeightsError(f"{path}: not a readable safetensors file ({err})") from None
    own = net.state_dict()
    missing, extra = sorted(set(own) - set(state)), sorted(set(state) - set(own))
    wrong = [
        f"{k} {tuple(state[k].shape)} (the model has {tuple(own[k].shape)})"
        for k in sorted(set(own) & set(state))
        if state[k].shape != own[k].shape
    ]
    if missing or extra or wrong:
        parts = [
            f"{what} {', '.join(keys)}"
            for what, keys in (("missing", missing), ("unexpected", extra), ("shape of", wrong))
            if keys
        ]
        raise WeightsError(f"{path} does not fit {type(net).__name__}: " + "; ".join(parts))
    net.load_state_dict(state)
    return net.eval()


def load_run(results_file: Path | str, device: torch.device | None = None) -> nn.Module:
    """The trained network of a results file, rebuilt from its configuration, in eval mode."""
    result = load_result(results_file)
    known = TrainConfig.field_names()  # a search run's own fields (tools/search_training.py) only change training
    cfg = TrainConfig(**{k: v for k, v in result.config.items() if k in known})
    net = load_weights(network(cfg), weights_path(results_file))
    return net.to(device or torch.device("cpu"))


def load_trained(
    name: str, seed: int = 1, results_dir: Path | str = DEFAULT_RESULTS_DIR, device: torch.device | None = None
) -> nn.Module:
    """A registered model with the weights of its run ``results/<name>-seed<seed>``, in eval mode."""
    model_lib.get_model(name)  # an unknown name raises, listing the known ones
    path = result_path(results_dir, run_name(name, seed))
    if not weights_path(path).exists():
        raise WeightsError(f"no trained weights for {name} seed {seed}: {weights_path(path)} does not exist")
    return load_weights(model_lib.get_model(name), weights_path(path)).to(device or torch.device("cpu"))


def load_result(path: Path | str) -> Result:
    raw = json.loads(Path(path).read_text())
    raw["history"] = [EpochRecord(**r) for r in raw["history"]]
    return Result(**raw)


def load_results(results_dir: Path | str = DEFAULT_RESULTS_DIR, model: str | None = None) -> list[Result]:
    """Every results file in ``results_dir`` (not its subfolders), optionally of one model, by name."""
    results = [load_result(p) for p in sorted(Path(results_dir).glob("*.json"))]
    return [r for r in results if model is None or r.model == model]


def meets_bar(result: Result, min_acc: float, last: int = 3, max_epochs: int = 15) -> bool:
    """Each of the last ``last`` epochs at or above ``min_acc``, in at most ``max_epochs`` epochs."""
    return len(result.history) <= max_epochs and all(a >= min_acc for a in result.last(last))


def holds(result: Result, bar) -> bool:
    """Whether a run holds ``bar`` (a utils.course.Bar), by meets_bar: the question that the report, the notebooks,
    train.py and the figures ask of a run."""
    return meets_bar(result, bar.min_acc, bar.last, bar.max_epochs)


def floor_stats(results: Sequence[Result], bar) -> tuple[float, float, float]:
    """(mean, standard deviation, lowest) of the runs' floors at ``bar`` (a utils.course.Bar): the statistic over
    seeds that the README, the report and train.py give."""
    floors = np.array([bar.floor(r) for r in results])
    return float(floors.mean()), float(floors.std(ddof=1)) if len(floors) > 1 else 0.0, float(floors.min())
