"""Classify your own handwritten digits with a trained model from results/.

    python predict.py my_digit.png [more.png ...]
    python predict.py my_digit.jpg --model S6_Model --seed 2 --show seen.png

Each image is prepared the way MNIST's digits were made: grayscale, inverted when the background
is light (ink on paper), cropped to the ink, scaled to fit 20x20 keeping its aspect ratio, centred
by its centre of mass in 28x28, then normalized as in training. Prints the top 3 classes per image.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

import model as model_lib
import utils

INK_CONTRAST = 0.15  # the darkest and lightest pixels must differ by this much (of the full range)


class ImageError(ValueError):
    """An input that cannot be read as a digit."""


def read_gray(path: Path) -> np.ndarray:
    """The image as floats in [0, 1], 1 = white."""
    from PIL import Image, UnidentifiedImageError

    if not path.is_file():
        raise ImageError(f"{path}: no such file")
    try:
        with Image.open(path) as img:
            return np.asarray(img.convert("L"), dtype=np.float32) / 255.0
    except (UnidentifiedImageError, OSError) as err:
        raise ImageError(f"{path}: not an image ({type(err).__name__})") from None


def mnist_style(gray: np.ndarray, name: str = "image") -> np.ndarray:
    """A grayscale image in [0, 1] -> a 28x28 MNIST-style digit in [0, 1], white ink on black."""
    if gray.max() - gray.min() < INK_CONTRAST:
        raise ImageError(f"{name}: no ink found (the image is blank or uniform)")
    border = np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])
    background = float(np.median(border))
    ink = gray if background < 0.5 else 1.0 - gray  # dark ink on light paper -> light ink on black
    background = min(background, 1.0 - background)
    ink = np.clip((ink - background) / max(ink.max() - background, 1e-6), 0.0, 1.0)
    rows, cols = np.nonzero(ink > 0.2)
    if len(rows) == 0:
        raise ImageError(f"{name}: no ink found (the image is blank or uniform)")
    crop = ink[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]
    return centre_by_mass(fit_20x20(crop))


def fit_20x20(crop: np.ndarray) -> np.ndarray:
    """Scale so that the longer side is 20 pixels, keeping the aspect ratio (antialiased)."""
    from PIL import Image

    h, w = crop.shape
    scale = 20.0 / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    img = Image.fromarray((crop * 255).astype(np.uint8)).resize(size, Image.Resampling.LANCZOS)
    return np.asarray(img, dtype=np.float32) / 255.0


def centre_by_mass(digit: np.ndarray) -> np.ndarray:
    """Paste into 28x28 so that the centre of mass of the ink lands where MNIST's digits have theirs."""
    h, w = digit.shape
    total = digit.sum()
    cy = (digit.sum(1) * np.arange(h)).sum() / total
    cx = (digit.sum(0) * np.arange(w)).sum() / total
    top, left = round(14 - cy), round(14 - cx)  # MNIST digits have their centre of mass near (14, 14)
    top, left = min(max(int(top), 0), 28 - h), min(max(int(left), 0), 28 - w)
    out = np.zeros((28, 28), dtype=np.float32)
    out[top : top + h, left : left + w] = digit
    return out


def to_input(digit: np.ndarray) -> torch.Tensor:
    """28x28 in [0, 1] -> (1, 1, 28, 28), normalized as the training images are."""
    return utils.normalize(torch.from_numpy(np.rint(digit * 255).astype(np.uint8))[None])


@torch.no_grad()
def top3(net: torch.nn.Module, x: torch.Tensor) -> list[tuple[int, float]]:
    probs = net(x).exp()[0]
    values, classes = probs.topk(3)
    return [(int(c), float(v)) for c, v in zip(classes, values, strict=True)]


def show(originals: list[np.ndarray], digits: list[np.ndarray], names: list[str], out: Path | None) -> None:
    """Each image beside the 28x28 digit the network saw; written to ``out``, or shown on screen."""
    import matplotlib

    if out is not None:
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(len(digits), 2, figsize=(4, 2 * len(digits)), squeeze=False)
    for row, (orig, digit, name) in enumerate(zip(originals, digits, names, strict=True)):
        ax[row][0].imshow(orig, cmap="gray", vmin=0, vmax=1)
        ax[row][0].set_title(name, fontsize=8)
        ax[row][1].imshow(digit, cmap="gray", vmin=0, vmax=1)
        ax[row][1].set_title("what the network sees (28x28)", fontsize=8)
        for a in ax[row]:
            a.axis("off")
    fig.tight_layout()
    if out is None:
        plt.show()
    else:
        fig.savefig(out, dpi=100)
        print(f"wrote {out}")
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("images", nargs="+", type=Path, help="image files (PNG, JPEG, ...)")
    p.add_argument("--model", default=model_lib.S7_FINAL, help=f"registered model (default: {model_lib.S7_FINAL})")
    p.add_argument("--seed", type=int, default=1, help="which reference run's weights (default: 1)")
    p.add_argument(
        "--show",
        nargs="?",
        const="",
        default=None,
        metavar="PNG",
        help="write the prepared 28x28 images beside the originals to PNG (no value: show on screen)",
    )
    args = p.parse_args(argv)
    try:
        net = utils.load_trained(args.model, args.seed)
        originals, digits = [], []
        for path in args.images:
            gray = read_gray(path)
            digit = mnist_style(gray, str(path))
            ranked = top3(net, to_input(digit))
            print(f"{path}: " + ", ".join(f"{c} ({100 * p:.1f}%)" for c, p in ranked))
            originals.append(gray)
            digits.append(digit)
        if args.show is not None:
            show(originals, digits, [str(p) for p in args.images], Path(args.show) if args.show else None)
    except (ValueError, utils.WeightsError) as err:  # ImageError, WeightsError, an unknown model
        print(f"predict.py: error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
