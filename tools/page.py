"""Build the digit page: demo/ with the course's model as ONNX and ONNX Runtime Web's WebAssembly build beside it.

    python -m tools.page                          # -> build/page, the course's model, reference seed 1
    python -m tools.page --out site --model Model_14
    python -m http.server -d build/page           # then open http://localhost:8000

The folder is static: what GitHub Pages serves (the CI workflow's page job builds and deploys it on pushes to
main). The runtime comes from the npm package that demo/package-lock.json pins (``npm ci`` in demo/ when it is not
installed yet); nothing is fetched when the page runs.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

import model as model_lib
from tools.export import export_onnx, trained_network
from utils.data import MNIST_MEAN, MNIST_STD
from utils.paths import REPO, repository_slug
from utils.runs import WeightsError

DEMO = REPO / "demo"
PAGE_FILES = ("index.html", "style.css", "app.js", "prepare.js")
RUNTIME = Path("onnxruntime-web", "dist")  # inside node_modules
# The single-threaded WebAssembly build: its ES module, the loader it imports and the WebAssembly itself.
RUNTIME_FILES = ("ort.wasm.min.mjs", "ort-wasm-simd-threaded.mjs", "ort-wasm-simd-threaded.wasm")
DEFAULT_OUT = REPO / "build" / "page"


class PageError(RuntimeError):
    """The page cannot be built: the runtime is not installed and npm cannot install it."""


def npm_ci(folder: Path) -> Path:
    """``folder``/node_modules installed from its package-lock.json, unless it is there already."""
    if (folder / "node_modules" / ".package-lock.json").exists():
        return folder / "node_modules"
    npm = shutil.which("npm")
    if npm is None:
        raise PageError(f"npm is needed to install {folder.relative_to(REPO)}/package-lock.json: install Node.js")
    proc = subprocess.run(
        [npm, "ci", "--no-audit", "--no-fund", "--ignore-scripts"], cwd=folder, capture_output=True, text=True
    )
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise PageError(f"npm ci in {folder.relative_to(REPO)}/ failed: {last}")
    return folder / "node_modules"


def build(out: Path, name: str = model_lib.S7_FINAL, seed: int = 1) -> Path:
    """The page in ``out``: its files, model.onnx, model.json (what the page says and how it normalizes) and ort/."""
    net = trained_network(name, seed)
    runtime = npm_ci(DEMO) / RUNTIME
    out.mkdir(parents=True, exist_ok=True)
    for file in PAGE_FILES:
        shutil.copy2(DEMO / file, out / file)
    (out / "ort").mkdir(exist_ok=True)
    for file in RUNTIME_FILES:
        shutil.copy2(runtime / file, out / "ort" / file)
    export_onnx(net, out / "model.onnx", {"model": name, "weights": f"seed {seed}"})
    about = {
        "model": name,
        "seed": seed,
        "parameters": model_lib.count_parameters(net),
        "mean": MNIST_MEAN,
        "std": MNIST_STD,
        "repository": repository_slug(),
    }
    (out / "model.json").write_text(json.dumps(about, indent=1) + "\n")
    (out / ".nojekyll").write_text("")  # served as it is
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m tools.page", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help="the page's folder (default: build/page)")
    p.add_argument("--model", default=model_lib.S7_FINAL, help=f"registered model (default: {model_lib.S7_FINAL})")
    p.add_argument("--seed", type=int, default=1, help="which reference run's weights in results/ (default: 1)")
    args = p.parse_args(argv)
    try:
        out = build(args.out, args.model, args.seed)
    except (ValueError, WeightsError, PageError) as err:
        print(f"tools.page: error: {err}", file=sys.stderr)
        return 1
    size = sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
    print(f"wrote the page to {out} ({size / 1e6:.1f} MB; model.onnx {(out / 'model.onnx').stat().st_size:,} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
