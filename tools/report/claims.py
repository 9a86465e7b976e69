"""The blocks about the test set: the targets and the models that meet them, the frontier of parameters against
accuracy, each Session 7 step's seed-1 results, and each final model's section."""

from __future__ import annotations

import model as model_lib
from tools.report.figures import image
from tools.report.results import Report
from utils import course
from utils.inspection import markdown_table, model_summary, receptive_field_markdown
from utils.notebook import seeds_table
from utils.runs import last_epochs_stats, meets_bar
from utils.training import Evaluation, course_line, epoch_line

MIN_SEEDS = 5  # a claim that the bar holds "on every seed" needs at least this many


def meets(result, bar: course.Bar) -> bool:
    return meets_bar(result, bar.min_acc, bar.last, bar.max_epochs)


def targets(rep: Report) -> str:
    rows = []
    spec = [
        ("Session 6 (course)", model_lib.S6_FINAL, course.S6),
        ("Session 6 (ours)", model_lib.S6_FINAL, course.S6_OURS),
        ("Session 7 (course)", model_lib.S7_FINAL, course.S7),
        ("Session 7 (ours)", model_lib.S7_SMALLEST, course.S7_SMALLEST),
    ]
    holding = [
        n
        for n in model_lib.s7_models()
        if len(rep.runs.get(n, [])) >= MIN_SEEDS and all(meets(r, course.S7) for r in rep.runs[n])
    ]
    note = ""
    fewest = []
    if holding:
        smallest = min(holding, key=lambda n: rep.runs[n][0].params)
        label = f"Session 7, smallest model that holds the bar on every seed (at least {MIN_SEEDS})"
        fewest.append((label, smallest, course.S7))
    else:
        tried = [n for n in model_lib.s7_models() if len(rep.runs.get(n, [])) >= MIN_SEEDS]
        note = (
            f"\n\nNo Session 7 model holds the bar on every one of at least {MIN_SEEDS} seeds "
            f"(models with {MIN_SEEDS} or more seeds: {', '.join(f'`{n}`' for n in tried) or 'none'})."
        )
    for label, name, bar in spec + fewest:
        if name not in rep.runs:
            continue
        runs = rep.runs[name]
        mean, _, low = last_epochs_stats(runs)
        held = sum(meets(r, bar) for r in runs)
        rows.append(
            {
                "target": label,
                "parameters": "fewest" if (label, name, bar) in fewest else bar.params_text,
                "epochs": f"at most {bar.max_epochs}",
                f"each of the last {bar.last} epochs": f">= {bar.min_acc:.2f}%",
                "model": f"`{name}`",
                "its parameters": f"{runs[0].params:,}",
                f"its last {bar.last} epochs, all seeds": f"mean {mean:.2f}%, min {low:.2f}%",
                "seeds that meet the target": f"{held} of {len(runs)}",
            }
        )
    return markdown_table(rows) + note


def frontier(rep: Report) -> str:
    """Parameters against the last 3 epochs' test accuracy, over every seed of every Session 7 model."""
    rows = []
    for name in sorted((n for n in model_lib.s7_models() if n in rep.runs), key=lambda n: rep.runs[n][0].params):
        runs = rep.runs[name]
        mean, std, low = last_epochs_stats(runs)
        held = sum(meets(r, course.S7) for r in runs)
        rows.append(
            {
                "model": f"`{name}`",
                "parameters": f"{runs[0].params:,}",
                "seeds": len(runs),
                "last 3 epochs: mean": f"{mean:.2f}%",
                "std": f"{std:.3f}",
                "min": f"{low:.2f}%",
                f"seeds with each of the last 3 >= {course.S7.min_acc:.2f}%": f"{held} of {len(runs)}",
            }
        )
    plot = image("s7_params_vs_accuracy.png", "Parameters against accuracy")
    return markdown_table(rows) + "\n\n" + plot


def step_results(rep: Report, name: str) -> str:
    r = rep.seed1(name)
    accs = r.accuracies()
    best = max(range(len(accs)), key=accs.__getitem__)
    return markdown_table(
        [
            {
                "parameters": f"{r.params:,}",
                "epochs": len(accs),
                "best test accuracy": f"{accs[best]:.2f}% (epoch {best + 1})",
                "last 3 epochs": ", ".join(f"{a:.2f}%" for a in r.last(3)),
                "final train accuracy": f"{r.history[-1].train_acc:.2f}%",
                "train - test, final epoch": f"{r.history[-1].train_acc - accs[-1]:+.2f}",
            }
        ]
    )


def s7_steps(rep: Report) -> str:
    parts = []
    for name in model_lib.s7_models():
        if name not in rep.runs:
            continue
        parts.append(
            f"### {name}\n\n**Target.** {model_lib.get_target(name)} {model_lib.get_details(name)}\n\n"
            f"**Results** (seed 1, `results/{name}-seed1.json`):\n\n{step_results(rep, name)}\n\n"
            f"**Analysis.** {model_lib.get_analysis(name)}\n"
        )
    parts.append(image("s7_steps_curves.png", "Session 7 steps: curves"))
    return "\n".join(parts)


def final(rep: Report, name: str) -> str:
    runs = rep.runs[name]
    net = model_lib.get_model(name)
    r = runs[0]
    n_eval = sum(map(sum, r.confusion_matrix))
    log = []
    for h in r.history:
        log.append(epoch_line(h))
        correct = round(h.eval_acc * n_eval / 100)
        log.append(course_line("Test", Evaluation(h.eval_loss, correct, n_eval, None)))
    per_class = markdown_table([{"digit": d, "accuracy (%)": f"{a:.2f}"} for d, a in enumerate(r.per_class_accuracy)])
    env = r.environment
    seeds = " ".join(str(s) for s in sorted(run.config["seed"] for run in runs))
    return "\n".join(
        [
            f"Every seed (`python train.py --model {name} --seeds {seeds} --out results`):\n",
            seeds_table(runs),
            "",
            f"Trained on {env.get('device')}, torch {env.get('torch')}, {env.get('threads')} threads.\n",
            "<details><summary>torchsummary</summary>\n",
            "```",
            model_summary(net).strip(),
            "```",
            "</details>\n",
            "Receptive field, computed from the layers by `utils.receptive_field_table`:\n",
            receptive_field_markdown(net),
            "",
            "<details><summary>Training log, seed 1</summary>\n",
            "```",
            *log,
            "```",
            "</details>\n",
            image(f"{name}_curves.png", f"{name} curves"),
            image(f"{name}_lr.png", f"{name} learning rate"),
            image(f"{name}_misclassified.png", f"{name} misclassified"),
            image(f"{name}_per_class.png", f"{name} per-class accuracy"),
            image(f"{name}_confusion.png", f"{name} confusion matrix"),
            *([image(f"{name}_cam.png", f"{name} class activation maps")] if rep.has_weights(name) else []),
            "",
            "<details><summary>Per-class test accuracy, seed 1</summary>\n",
            per_class,
            "</details>",
        ]
    )
