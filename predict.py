"""Classify your own handwritten digits with a trained model from results/.

    python predict.py my_digit.png [more.png ...]
    python predict.py digits/ photo.jpg              # a folder means the images in it
    python predict.py digits/ --json                 # one JSON object per image, for scripts
    python predict.py my_digit.jpg --model S6_Model --seed 2 --show seen.png

Any image that Pillow opens: PNG, JPEG, GIF (the first frame), TIFF, WebP, BMP, ... in any mode.
A phone's orientation tag is applied first; transparency is laid over white paper (or, when the colours
carry no ink, the opacity is the ink); 16- and 32-bit and float images are scaled by the range their
values use. Each image is then prepared the way MNIST's digits were made: grayscale, inverted when the
background is light (ink on paper), cropped to the ink, scaled to fit 20x20 keeping its aspect ratio,
centred by its centre of mass in 28x28, then normalized as in training. A 28x28 image of light ink on a
dark background is already in MNIST's form and is used as it is. Prints the top 3 classes per image; a
file that cannot be read gets a one-line error, the others still run, and the exit status is 1.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

import model as model_lib
from utils.data import normalize
from utils.runs import WeightsError, load_trained

INK_CONTRAST = 0.15  # the darkest and lightest pixels must differ by this much (of the full range)
ALPHA_MODES = ("RGBA", "LA", "PA", "RGBa", "La")  # modes that carry an opacity channel


class ImageError(ValueError):
    """An input that cannot be read as a digit."""


def image_files(paths: list[Path]) -> list[Path]:
    """The files named, with each folder replaced by the images in it (by their extension), sorted. A folder
    with none stays, for read_gray to report."""
    from PIL import Image

    readable = {ext for ext, fmt in Image.registered_extensions().items() if fmt in Image.OPEN}
    files = []
    for path in paths:
        inside = (
            sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in readable) if path.is_dir() else []
        )
        files += inside or [path]
    return files


def read_gray(path: Path) -> np.ndarray:
    """The image as floats in [0, 1], 1 = white, upright, with any transparency resolved."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    if path.is_dir():
        raise ImageError(f"{path}: a folder with no images in it")
    if not path.is_file():
        raise ImageError(f"{path}: no such file")
    try:
        with Image.open(path) as img:
            img.seek(0)  # an animated image: its first frame
            return gray_of(ImageOps.exif_transpose(img))
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as err:  # PIL's decoders raise all of these
        raise ImageError(f"{path}: not an image ({type(err).__name__})") from None


def gray_of(img) -> np.ndarray:
    """A Pillow image of any mode -> floats in [0, 1], 1 = white."""
    if img.mode in ALPHA_MODES or "transparency" in img.info:
        return over_white_paper(np.asarray(img.convert("RGBA")))
    if img.mode in ("I", "F") or img.mode.startswith("I;16"):
        return by_value_range(np.asarray(img, dtype=np.float64))
    if img.mode not in ("1", "L", "RGB"):  # CMYK, YCbCr, LAB, HSV, ...: through RGB, as a screen shows them
        img = img.convert("RGB")
    return np.asarray(img.convert("L"), dtype=np.float32) / 255.0


def over_white_paper(rgba: np.ndarray) -> np.ndarray:
    """Transparent pixels are paper. Where the colours carry no ink (white strokes on a transparent canvas, or one
    colour throughout), the opacity is the ink."""
    gray = luma(rgba[..., :3]).astype(np.float32) / 255.0
    alpha = rgba[..., 3].astype(np.float32) / 255.0
    composed = gray * alpha + (1.0 - alpha)
    if np.ptp(composed) < INK_CONTRAST <= np.ptp(alpha):
        return 1.0 - alpha
    return composed


def luma(rgb: np.ndarray) -> np.ndarray:
    """8-bit RGB -> 8-bit gray, in the integer arithmetic of Pillow's "L" (ITU-R 601-2 weights in 16-bit fixed
    point): exact, so that the page's copy of this preparation (demo/prepare.js) gives the same levels."""
    r, g, b = (rgb[..., c].astype(np.int64) for c in range(3))
    return (r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16


def by_value_range(values: np.ndarray) -> np.ndarray:
    """Integer and float images in [0, 1]: integers by the bit depth their values need (8, 16 or 32), floats by
    [0, 1] or [0, 255] when they lie in it, else by their own minimum and maximum."""
    low, high = float(values.min()), float(values.max())
    if low >= 0 and high <= 1 and values.dtype.kind == "f":
        return values.astype(np.float32)
    if low >= 0:
        top = next(2.0**bits - 1 for bits in (8, 16, 32) if high <= 2.0**bits - 1)
        return (values / top).astype(np.float32)
    return ((values - low) / max(high - low, 1e-12)).astype(np.float32)


def mnist_style(gray: np.ndarray, name: str = "image") -> np.ndarray:
    """A grayscale image in [0, 1] -> a 28x28 MNIST-style digit in [0, 1], white ink on black."""
    if gray.max() - gray.min() < INK_CONTRAST:
        raise ImageError(f"{name}: no ink found (the image is blank or uniform)")
    border = np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])
    background = float(np.median(border))
    if gray.shape == (28, 28) and background < 0.5:
        return gray.astype(np.float32)  # already MNIST's form: light ink on black, 28x28
    ink = gray if background < 0.5 else 1.0 - gray  # dark ink on light paper -> light ink on black
    background = min(background, 1.0 - background)
    ink = np.clip((ink - background) / max(ink.max() - background, 1e-6), 0.0, 1.0)
    rows, cols = np.nonzero(ink > 0.2)
    if len(rows) == 0:
        raise ImageError(f"{name}: no ink found (the image is blank or uniform)")
    crop = ink[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]
    return centre_by_mass(fit_20x20((crop * 255).astype(np.uint8)))


def fit_20x20(crop: np.ndarray) -> np.ndarray:
    """Scale 8-bit ink so that the longer side is 20 pixels, keeping the aspect ratio (Lanczos, antialiased)."""
    h, w = crop.shape
    scale = 20.0 / max(h, w)
    return resize_lanczos(crop, max(1, round(w * scale)), max(1, round(h * scale)))


def centre_by_mass(digit: np.ndarray) -> np.ndarray:
    """Paste 8-bit ink into 28x28 so that its centre of mass lands where MNIST's digits have theirs; floats in [0, 1].
    The moments are sums of integers, exact in any order."""
    h, w = digit.shape
    levels = digit.astype(np.int64)
    total = int(levels.sum())
    cy = int((levels.sum(1) * np.arange(h)).sum()) / total
    cx = int((levels.sum(0) * np.arange(w)).sum()) / total
    top, left = round(14 - cy), round(14 - cx)  # MNIST digits have their centre of mass near (14, 14)
    top, left = min(max(top, 0), 28 - h), min(max(left, 0), 28 - w)
    out = np.zeros((28, 28), dtype=np.float32)
    out[top : top + h, left : left + w] = digit.astype(np.float32) / 255.0
    return out


# Lanczos resampling as Pillow's libImaging/Resample.c does it on 8-bit images: a 3-lobed windowed sinc widened by
# the scale, weights in fixed point with 22 fractional bits, the horizontal pass first, each pass rounded to bytes.
# Written out rather than called, so that the result does not depend on the Pillow version (Pillow 13 may run the
# vertical pass first) and the page's copy in demo/prepare.js can follow it to the grey level.
LANCZOS_LOBES = 3.0
PRECISION_BITS = 22


def lanczos_weights(in_size: int, out_size: int) -> np.ndarray:
    """(out_size, in_size) integer weights: row i mixes the input pixels that output pixel i covers."""
    scale = in_size / out_size
    filter_scale = max(scale, 1.0)
    support = LANCZOS_LOBES * filter_scale
    weights = np.zeros((out_size, in_size), dtype=np.int64)
    for i in range(out_size):
        centre = (i + 0.5) * scale
        first, stop = max(int(centre - support + 0.5), 0), min(int(centre + support + 0.5), in_size)
        x = (np.arange(first, stop) - centre + 0.5) * (1.0 / filter_scale)
        w = np.where((x >= -LANCZOS_LOBES) & (x < LANCZOS_LOBES), np.sinc(x) * np.sinc(x / LANCZOS_LOBES), 0.0)
        total = np.cumsum(w)[-1]  # summed in order, as the C loop does
        w = w / total if total != 0.0 else w
        weights[i, first:stop] = np.trunc(np.where(w < 0, -0.5, 0.5) + w * (1 << PRECISION_BITS))
    return weights


def resize_lanczos(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """An 8-bit (h, w) image resized to (height, width)."""
    h, w = image.shape
    out = image.astype(np.int64)
    half = 1 << (PRECISION_BITS - 1)
    if width != w:
        out = np.clip((out @ lanczos_weights(w, width).T + half) >> PRECISION_BITS, 0, 255)
    if height != h:
        out = np.clip((lanczos_weights(h, height) @ out + half) >> PRECISION_BITS, 0, 255)
    return out.astype(np.uint8)


def to_input(digit: np.ndarray) -> torch.Tensor:
    """28x28 in [0, 1] -> (1, 1, 28, 28), normalized as the training images are."""
    return normalize(torch.from_numpy(np.rint(digit * 255).astype(np.uint8))[None])


@torch.no_grad()
def probabilities(net: torch.nn.Module, x: torch.Tensor) -> list[float]:
    return net(x).exp()[0].tolist()


def top3(net: torch.nn.Module, x: torch.Tensor) -> list[tuple[int, float]]:
    return ranked(probabilities(net, x))[:3]


def ranked(probs: list[float]) -> list[tuple[int, float]]:
    return sorted(enumerate(probs), key=lambda cp: -cp[1])


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
        print(f"wrote {out}", file=sys.stderr)
    plt.close(fig)


def report_line(path: Path, probs: list[float] | None, error: str | None, as_json: bool) -> tuple[str, bool]:
    """(the line for one image, whether it goes to stderr): top 3 or the error, as text or as a JSON object."""
    if as_json:
        if error is not None:
            return json.dumps({"file": str(path), "error": error}), False
        top = [{"class": c, "probability": round(p, 6)} for c, p in ranked(probs)[:3]]
        return json.dumps({"file": str(path), "top3": top, "probabilities": [round(p, 6) for p in probs]}), False
    if error is not None:
        return f"predict.py: error: {error}", True
    return f"{path}: " + ", ".join(f"{c} ({100 * p:.1f}%)" for c, p in ranked(probs)[:3]), False


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("images", nargs="+", type=Path, help="image files or folders of images")
    p.add_argument("--model", default=model_lib.S7_FINAL, help=f"registered model (default: {model_lib.S7_FINAL})")
    p.add_argument("--seed", type=int, default=1, help="which reference run's weights (default: 1)")
    p.add_argument("--json", action="store_true", help="one JSON object per image: file, top3, probabilities or error")
    p.add_argument(
        "--show",
        nargs="?",
        const="",
        default=None,
        metavar="PNG",
        help="write the prepared 28x28 images beside the originals to PNG (no value: show on screen)",
    )
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        net = load_trained(args.model, args.seed)
    except (ValueError, WeightsError) as err:  # an unknown model, missing or broken weights
        print(f"predict.py: error: {err}", file=sys.stderr)
        return 1
    failed, shown = 0, []
    for path in image_files(args.images):
        probs, error = None, None
        try:
            gray = read_gray(path)
            digit = mnist_style(gray, str(path))
            probs = probabilities(net, to_input(digit))
            shown.append((gray, digit, str(path)))
        except ImageError as err:
            error, failed = str(err), failed + 1
        line, to_stderr = report_line(path, probs, error, args.json)
        print(line, file=sys.stderr if to_stderr else sys.stdout, flush=True)
    if args.show is not None and shown:
        show(*(list(col) for col in zip(*shown, strict=True)), Path(args.show) if args.show else None)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
