"""Training and evaluation speed of the final models: the classic course pipeline against ours, and where the
seconds of one epoch of their recipe go (training, the BatchNorm re-estimate, evaluation).

    python -m tools.benchmark             # writes docs/generated/benchmark.json and prints the table
    python -m tools.benchmark --quick     # seconds-long, for the tests
    python -m tools.benchmark --profile   # the top operators of each pipeline (torch.profiler)

Classic: torchvision transforms on PIL images one at a time (RandomRotation, ToTensor,
Normalize), a DataLoader with 2 worker processes, nn.Dropout. Ours: the whole data set as
tensors in memory, one affine grid per batch for the augmentation, Dropout2d: the code path of
utils.training.train. Each measurement runs in its own process, so its peak memory is its own.
Run it on an idle machine: another process on the same cores slows every figure down.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

import model as model_lib
from tools.report.results import GENERATED
from utils.data import MNIST_MEAN, MNIST_STD, default_device, ensure_mnist, load_mnist, make_split
from utils.paths import DEFAULT_DATA_DIR, REPO, write_atomic
from utils.recipe import config_for
from utils.runs import cpu_name
from utils.training import evaluate, make_optimizer, recompute_batchnorm, train_epoch

MODELS = tuple(dict.fromkeys([model_lib.S7_FINAL, model_lib.S7_SMALLEST, model_lib.S6_FINAL]))


def peak_rss_mb() -> float:
    """Peak resident memory of this process plus its largest child (the DataLoader workers), in MB."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    child = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return round((own + child) / 1024, 1)


def with_plain_dropout(net: nn.Module) -> nn.Module:
    """The classic model: per-element nn.Dropout where ours has Dropout2d, same p."""
    for name, child in net.named_children():
        if isinstance(child, nn.Dropout2d):
            setattr(net, name, nn.Dropout(child.p))
        else:
            with_plain_dropout(child)
    return net


def classic_worker(name: str, batch_size: int, warmup: int, batches: int, profile: bool) -> dict:
    from torch.utils.data import DataLoader
    from torchvision import datasets, transforms

    root = DEFAULT_DATA_DIR
    ensure_mnist(root, log=lambda s: None)
    normalize = transforms.Normalize((MNIST_MEAN,), (MNIST_STD,))
    train_tf = transforms.Compose([transforms.RandomRotation((-7.0, 7.0), fill=(0,)), transforms.ToTensor(), normalize])
    train_set = datasets.MNIST(root, train=True, download=False, transform=train_tf)
    test_set = datasets.MNIST(
        root, train=False, download=False, transform=transforms.Compose([transforms.ToTensor(), normalize])
    )
    kwargs = dict(batch_size=batch_size, num_workers=2, persistent_workers=False)
    torch.manual_seed(0)
    net = with_plain_dropout(model_lib.get_model(name)).train()
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)

    def step(x, y):
        loss = F.nll_loss(net(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()

    loader = iter(DataLoader(train_set, shuffle=True, **kwargs))
    for _ in range(warmup):
        step(*next(loader))
    prof = start_profiler(profile)
    t0 = time.perf_counter()
    for _ in range(batches):
        step(*next(loader))
    train_s = time.perf_counter() - t0
    top = stop_profiler(prof)
    net.eval()
    t0 = time.perf_counter()
    n_eval = 0
    with torch.no_grad():
        for x, y in DataLoader(test_set, shuffle=False, **kwargs):
            net(x)
            n_eval += len(y)
    eval_s = time.perf_counter() - t0
    return {
        "train_images_per_s": batches * batch_size / train_s,
        "eval_images_per_s": n_eval / eval_s,
        "peak_rss_mb": peak_rss_mb(),
        "top_ops": top,
    }


def ours_worker(name: str, batch_size: int, warmup: int, batches: int, profile: bool) -> dict:
    data = load_mnist(log=lambda s: None)
    device = default_device()
    cfg = config_for(name, batch_size=batch_size)
    torch.manual_seed(0)
    net = model_lib.get_model(name).to(device)
    opt, sched = make_optimizer(net, cfg, warmup + batches)
    gen = torch.Generator().manual_seed(0)

    def epoch_on(n_images: int) -> float:
        split = make_split(data, device, "test", train_limit=n_images, eval_limit=1)
        t0 = time.perf_counter()
        train_epoch(net, split, cfg, opt, sched, gen, 1, [], progress=False)
        return time.perf_counter() - t0

    epoch_on(warmup * batch_size)
    prof = start_profiler(profile)
    train_s = epoch_on(batches * batch_size)
    top = stop_profiler(prof)
    test = make_split(data, device, "test")
    evaluate(net, test.eval_x[:1000], test.eval_y[:1000])
    t0 = time.perf_counter()
    evaluate(net, test.eval_x, test.eval_y)
    eval_s = time.perf_counter() - t0
    return {
        "train_images_per_s": batches * batch_size / train_s,
        "eval_images_per_s": len(test.eval_y) / eval_s,
        "peak_rss_mb": peak_rss_mb(),
        "top_ops": top,
    }


def epoch_parts_worker(name: str) -> dict:
    """Seconds of one epoch of the model's own recipe on all 60,000 training images, in its three parts: training,
    re-estimating BatchNorm's statistics (when the recipe does), and evaluating the 10,000 test images."""
    data = load_mnist(log=lambda s: None)
    device = default_device()
    cfg = config_for(name)
    net = model_lib.get_model(name).to(device)
    opt, sched = make_optimizer(net, cfg, 10**6)
    gen = torch.Generator().manual_seed(0)
    split = make_split(data, device, **cfg.images)
    t0 = time.perf_counter()
    train_epoch(net, split, cfg, opt, sched, gen, 1, [], progress=False)
    t1 = time.perf_counter()
    if cfg.bn_batches:
        recompute_batchnorm(net, split.train_x, cfg.bn_batches, cfg.batch_size)
    t2 = time.perf_counter()
    evaluate(net, split.eval_x, split.eval_y)
    t3 = time.perf_counter()
    return {
        "bn_batches": cfg.bn_batches,
        "train_s": round(t1 - t0, 2),
        "bn_s": round(t2 - t1, 2),
        "eval_s": round(t3 - t2, 2),
    }


def start_profiler(enabled: bool):
    if not enabled:
        return None
    prof = torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU])
    prof.__enter__()
    return prof


def stop_profiler(prof) -> list[list]:
    """The top 3 operators by self CPU time: [name, share of the profiled time]."""
    if prof is None:
        return []
    prof.__exit__(None, None, None)
    events = sorted(prof.key_averages(), key=lambda e: e.self_cpu_time_total, reverse=True)
    total = sum(e.self_cpu_time_total for e in events) or 1
    return [[e.key, round(e.self_cpu_time_total / total, 3)] for e in events[:3]]


WORKERS = {"classic": classic_worker, "ours": ours_worker}


def run_worker(*args: str) -> dict:
    """One measurement in a fresh process; its last stdout line is the JSON answer."""
    proc = subprocess.run(
        [sys.executable, "-m", "tools.benchmark", "--worker", *args], capture_output=True, text=True, cwd=REPO
    )
    if proc.returncode != 0:
        raise RuntimeError(f"benchmark worker {args} failed:\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def machine() -> dict:
    return {
        "cpu": cpu_name(),
        "cores": os.cpu_count(),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "backend": str(default_device()),  # cpu or cuda (a run's "device" names the CPU or GPU model)
    }


def run_benchmark(quick: bool, profile: bool) -> dict:
    warmup, batches = (2, 4) if quick else (20, 120)
    bench = {
        "machine": machine(),
        "batch_size": 128,
        "warmup_batches": warmup,
        "timed_batches": batches,
        "pipelines": {},
        "batch_sizes": {},
        "epoch_parts": {},
    }
    models = MODELS[:1] if quick else MODELS
    for name in models:
        bench["pipelines"][name] = {
            pipe: run_worker(pipe, name, "128", str(warmup), str(batches), str(int(profile))) for pipe in WORKERS
        }
        print(
            f"{name}: "
            + ", ".join(f"{p} {v['train_images_per_s']:.0f} img/s" for p, v in bench["pipelines"][name].items()),
            flush=True,
        )
    for bs in (128,) if quick else (64, 128, 256, 512):
        r = run_worker("ours", MODELS[0], str(bs), str(warmup), str(max(4, batches * 128 // bs)), "0")
        bench["batch_sizes"][str(bs)] = round(r["train_images_per_s"])
    if not quick:  # a whole epoch of each recipe: minutes
        bench["epoch_parts"] = {name: run_worker("epoch", name) for name in models}
    return bench


def markdown(bench: dict) -> str:
    m = bench["machine"]
    first = next(iter(bench["pipelines"]))
    lines = [
        f"Measured on {m['cpu']} ({m['cores']} cores, {m['threads']} torch threads, torch {m['torch']}, "
        f"{m['backend']}); batch size {bench['batch_size']}, {bench['timed_batches']} timed batches after "
        f"{bench['warmup_batches']} warm-up batches.\n",
        "| model | pipeline | train images/s | eval images/s | peak memory (MB) | train speed-up |",
        "|---|---|---|---|---|---|",
    ]
    for name, pipes in bench["pipelines"].items():
        base = pipes["classic"]["train_images_per_s"]
        for pipe, v in pipes.items():
            lines.append(
                f"| {name} | {pipe} | {v['train_images_per_s']:,.0f} | {v['eval_images_per_s']:,.0f} | "
                f"{v['peak_rss_mb']:,.0f} | {v['train_images_per_s'] / base:.1f}x |"
            )
    lines += [
        "",
        "| batch size | " + " | ".join(bench["batch_sizes"]) + " |",
        "|---" * (len(bench["batch_sizes"]) + 1) + "|",
        f"| train images/s ({first}, ours) | " + " | ".join(f"{v:,}" for v in bench["batch_sizes"].values()) + " |",
    ]
    if bench.get("epoch_parts"):
        lines += [
            "",
            "One epoch of each model's own recipe (60,000 training images, the 10,000 test images evaluated):\n",
            "| model | training (s) | BatchNorm re-estimate (s) | evaluation (s) | the re-estimate's share |",
            "|---|---|---|---|---|",
        ]
        for name, e in bench["epoch_parts"].items():
            total = e["train_s"] + e["bn_s"] + e["eval_s"]
            bn = f"{e['bn_s']:.1f} ({e['bn_batches']} batches)" if e["bn_batches"] else "-"
            lines.append(f"| {name} | {e['train_s']:.1f} | {bn} | {e['eval_s']:.1f} | {100 * e['bn_s'] / total:.0f}% |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m tools.benchmark", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--quick", action="store_true", help="a few batches only: checks that it works")
    p.add_argument("--profile", action="store_true", help="record the top operators of each pipeline")
    p.add_argument("--out", type=Path, default=GENERATED / "benchmark.json")
    p.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        kind, name, *rest = args.worker
        if kind == "epoch":
            print(json.dumps(epoch_parts_worker(name)))
        else:
            bs, warmup, batches, profile = map(int, rest)
            print(json.dumps(WORKERS[kind](name, bs, warmup, batches, bool(profile))))
        return 0
    bench = run_benchmark(args.quick, args.profile)
    write_atomic(args.out, (json.dumps(bench, indent=1) + "\n").encode())
    print(markdown(bench))
    for name, pipes in bench["pipelines"].items():
        for pipe, v in pipes.items():
            if v["top_ops"]:
                print(f"top operators, {name}, {pipe}: " + ", ".join(f"{op} {share:.0%}" for op, share in v["top_ops"]))
    print(f"written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
