"""One training loop for the notebooks, the command line, the tests and CI: ``train(cfg)`` gives a ``Result`` and
writes it, with the trained weights, to a results folder."""

from __future__ import annotations

import dataclasses
import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

import model as model_lib
from utils.augment import random_affine
from utils.config import EpochRecord, Hooks, Result, TrainConfig
from utils.data import Split, default_device, load_mnist, make_split
from utils.paths import DEFAULT_DATA_DIR, DEFAULT_RUNS_DIR, say
from utils.recipe import network
from utils.runs import environment, save_result, save_weights, weights_path


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


def epoch_line(r: EpochRecord) -> str:
    """The training half of an epoch's log; course_line is the evaluation half."""
    return (
        f"Epoch {r.epoch}: lr {r.lr:.5f}, train loss {r.train_loss:.4f}, "
        f"train accuracy {r.train_acc:.2f}%, {r.seconds:.1f}s"
    )


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
    network(cfg)  # an unknown model or a malformed stack fails here, before any data is read
    device = device or default_device()
    # The code as it is when the run starts: a commit or an edit made while it trains is not what ran
    env = environment(device)
    if device.type == "cpu":
        torch.use_deterministic_algorithms(True)
    split = make_split(load_mnist(data_dir, log), device, **cfg.images)
    seed_everything(cfg.seed)
    net = network(cfg).to(device)
    params = model_lib.count_parameters(net)
    hooks = cfg.hooks(net, device)
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
        train_loss, train_acc = train_epoch(net, split, cfg, opt, sched, gen, epoch, lr_trace, progress, hooks)
        if cfg.bn_batches:
            recompute_batchnorm(hooks.evaluated, split.train_x, cfg.bn_batches, cfg.batch_size)
        ev = evaluate(hooks.evaluated, split.eval_x, split.eval_y)
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
        save_weights(hooks.evaluated, weights_path(path))
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
    hooks: Hooks | None = None,
) -> tuple[float, float]:
    """One pass over the shuffled training set; returns (mean loss, accuracy %) on the augmented batches."""
    from tqdm import tqdm

    hooks = hooks or Hooks(net)
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
    augment = hooks.augments(epoch)
    for i in bar:
        idx = order[i : i + cfg.batch_size]
        x = split.train_x[idx]
        if augment:
            x = random_affine(x, cfg.rotate, cfg.scale, cfg.translate, gen)
        y = split.train_y[idx]
        out = net(x)
        loss = hooks.loss(out, y, x)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        hooks.after_step()
        lr_trace.append(opt.param_groups[0]["lr"])
        sched.step()
        total_loss += loss.item() * len(y)
        correct += int((out.argmax(1) == y).sum())
        seen += len(y)
        bar.set_postfix_str(f"loss={loss.item():.4f} acc={100 * correct / seen:.2f}%", refresh=False)
    bar.close()
    return total_loss / seen, 100.0 * correct / seen


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
