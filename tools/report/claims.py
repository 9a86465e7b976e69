"""The blocks about the test set: the targets and the models that meet them, the frontier of parameters against
accuracy, each Session 7 step's seed-1 results, and each final model's section."""

from __future__ import annotations

import math

import model as model_lib
from tools import search_space
from tools.report import steps
from tools.report.figures import image
from tools.report.results import Report, requirement_lines
from utils import course
from utils.inspection import markdown_table, model_summary, receptive_field_markdown
from utils.notebook import seeds_table
from utils.runs import floor_stats as seed_floors
from utils.runs import holds
from utils.training import Evaluation, course_line, epoch_line

MIN_SEEDS = 5  # a claim that the bar holds "on every seed" needs at least this many
TEST_IMAGES = 10_000


def floor_stats(runs, bar: course.Bar) -> tuple[float, float, float]:
    """(mean, standard deviation, share of fresh draws expected to hold) of the floors of ``runs``. The share comes
    from a normal fit to the floors; accuracies move in steps of 0.01, so a floor of ``min_acc - 0.005`` or more
    rounds to the bar."""
    mean, std, _ = seed_floors(runs, bar)
    z = (mean - (bar.min_acc - 0.005)) / std if std else math.copysign(math.inf, mean - bar.min_acc + 0.005)
    return mean, std, 0.5 * (1 + math.erf(z / math.sqrt(2)))


def sampling_error(accuracy: float, images: int = TEST_IMAGES) -> float:
    """One standard deviation of a test-set accuracy (in points) from the finite sample of test images alone."""
    p = accuracy / 100
    return 100 * math.sqrt(p * (1 - p) / images)


def share(p: float) -> str:
    return "more than 99.9%" if p > 0.999 else "less than 0.1%" if p < 0.001 else f"{100 * p:.1f}%"


CLAIM_SEEDS = 10  # a target is met when every one of at least this many seeds holds it


def target_spec() -> tuple:
    """(label, model, bar) of the course's targets and ours."""
    return (
        ("Session 6 (course)", model_lib.S6_FINAL, course.S6),
        ("Session 6 (ours)", model_lib.S6_FINAL, course.S6_OURS),
        ("Session 7 (course)", model_lib.S7_FINAL, course.S7),
        ("Session 7 (ours)", model_lib.S7_SMALLEST, course.S7_SMALLEST),
        ("Session 7 (ours, every seed)", model_lib.S7_ROBUST, course.S7_ROBUST),
    )


TERMS = (
    "A seed's *floor* is the lowest test accuracy of its last 3 epochs; the seed *holds* a bar when its floor "
    "reaches it. *A fresh draw holds* is the chance that one more seed would hold, from a normal distribution "
    "fitted to the floors (their mean and standard deviation over the seeds). It counts a floor from half a test "
    "image (0.005 points) under the bar as holding, since accuracies move in whole images and round to the bar."
)


def targets(rep: Report) -> str:
    """The terms, the course's targets and ours with the model that answers each and how its seeds fare, and which
    targets are met."""
    rows = []
    for label, name, bar in target_spec():
        if name not in rep.runs:
            continue
        runs = rep.runs[name]
        mean, std, fresh = floor_stats(runs, bar)
        rows.append(
            {
                "target": label,
                "parameters": bar.params_text,
                "epochs": f"at most {bar.max_epochs}",
                f"each of the last {bar.last} epochs": f">= {bar.min_acc:.2f}%"
                + (f", the floors' mean >= {bar.mean_floor:.2f}%" if bar.mean_floor else ""),
                "model": f"`{name}` ({runs[0].params:,})",
                "seeds that hold": f"{sum(holds(r, bar) for r in runs)} of {len(runs)}",
                "floor over the seeds: mean, std": f"{mean:.2f}%, {std:.3f}",
                "a fresh draw holds": share(fresh),
            }
        )
    return f"{TERMS}\n\n{markdown_table(rows)}\n\n{verdicts(rep)}"


def verdict(runs, bar: course.Bar) -> tuple[bool, str]:
    """(met, how its seeds fare): met when every one of at least CLAIM_SEEDS seeds holds the bar, and the mean of
    their floors reaches the bar's mean floor."""
    held = sum(holds(r, bar) for r in runs)
    seeds = f"{held} of {len(runs)} seeds hold"
    if held == len(runs):
        if len(runs) < CLAIM_SEEDS:
            return False, f"{seeds}, fewer than {CLAIM_SEEDS}"
        mean = seed_floors(runs, bar)[0]
        if round(mean, 6) < bar.mean_floor:  # floors move in hundredths: their mean is no finer than 1e-6
            return False, f"{seeds}, but the mean of their floors, {mean:.3f}%, is under the {bar.mean_floor}% asked"
        return True, seeds
    low = min(bar.floor(r) for r in runs)
    images = round((bar.min_acc - low) * TEST_IMAGES / 100)
    short = f"{images} test image{'s' if images != 1 else ''}"
    return False, f"{seeds}, the lowest floor, {low:.2f}%, is {short} ({bar.min_acc - low:.2f} points) under the bar"


def verdicts(rep: Report) -> str:
    """Which targets are met on every one of 10 seeds and which are missed, by how much."""
    met, missed = [], []
    for label, name, bar in target_spec():
        if name in rep.runs:
            ok, how = verdict(rep.runs[name], bar)
            (met if ok else missed).append(f"{label}, {how}" if ok else f"{label}: {how}")
    parts = [f"**Met** on every seed: {'; '.join(met)}." if met else "No target is met on every seed yet."]
    parts += [f"**Missed**: {'; '.join(missed)}."] if missed else []
    return " ".join(parts)


def seed_groups(runs, describe) -> list[tuple[str, str]]:
    """(seeds as "1-5", what ``describe`` says of them), consecutive seeds that it describes alike together."""
    groups: list[tuple[str, list[int]]] = []
    for r in runs:
        said = describe(r)
        if groups and groups[-1][0] == said:
            groups[-1][1].append(r.config["seed"])
        else:
            groups.append((said, [r.config["seed"]]))
    return [(f"{s[0]}-{s[-1]}" if len(s) > 1 else f"{s[0]}", said) for said, s in groups]


def machines(runs) -> str:
    """Where the seeds ran, as "1-5 on X (2 threads), 6-10 on Y (1 thread)"."""

    def where(r) -> str:
        env = r.environment
        return f"{env.get('device', '?')} ({env.get('threads', '?')} thread{'' if env.get('threads') == 1 else 's'})"

    return ", ".join(f"{span} on {said}" for span, said in seed_groups(runs, where))


def torch_requirement() -> str:
    """requirements.txt's line for torch, e.g. "torch>=2.14.1"."""
    return requirement_lines("torch")[0]


def what_differed(run) -> str:
    """How a run's making differs from a reference run's (a clean, committed tree, torch within requirements.txt's
    bounds), or "" when it does not."""
    from packaging.requirements import Requirement
    from packaging.version import Version

    env, said = run.environment, []
    torch_version = Version(env.get("torch", "0")).base_version
    if not Requirement(torch_requirement()).specifier.contains(torch_version):
        said.append(
            f"torch {torch_version} on Python {env.get('python', '?')} (requirements.txt: {torch_requirement()})"
        )
    if env.get("git_dirty"):
        said.append(f"a tree with uncommitted changes on {env.get('git_commit', '?')[:7]}")
    return " and ".join(said)


def provenance(runs) -> str:
    """Which seeds were made otherwise than a reference run is, and how."""
    differed = [(span, said) for span, said in seed_groups(runs, what_differed) if said]
    if not differed:
        return "Every seed ran from a clean, committed tree with torch inside requirements.txt's bounds."
    return (
        "Made otherwise than a reference run is: "
        + "; ".join(f"seed{'s' * ('-' in span)} {span} with {said}" for span, said in differed)
        + "."
    )


def robustness(rep: Report, name: str, bar: course.Bar) -> str:
    """A claimed model's seeds: each one's floor, and what the floors say of a fresh draw."""
    runs = rep.runs[name]
    seeds = [r.config["seed"] for r in runs]
    table = "\n".join(
        [
            "| seed | " + " | ".join(map(str, seeds)) + " |",
            "|---" * (len(runs) + 1) + "|",
            "| floor (%) | " + " | ".join(f"{bar.floor(r):.2f}" for r in runs) + " |",
            "| holds | " + " | ".join("yes" if holds(r, bar) else "**no**" for r in runs) + " |",
        ]
    )
    mean, std, fresh = floor_stats(runs, bar)
    error = sampling_error(mean)
    held = sum(holds(r, bar) for r in runs)
    return (
        f"{table}\n\n`{name}` ({runs[0].params:,} parameters) at {bar.min_acc:.2f}%: {held} of {len(runs)} seeds "
        f"hold. Their floors have mean {mean:.2f}% and standard deviation {std:.3f}. A normal fit "
        f"to them puts a fresh draw at or above the bar with probability {share(fresh)}. The test set's own sampling "
        f"error at {mean:.2f}% is {error:.2f} points (one standard deviation, {error * TEST_IMAGES / 100:.0f} images): "
        f"the seeds vary the training, not the test images. Where the seeds ran: {machines(runs)}. {provenance(runs)}"
    )


def robust_points(rep: Report) -> list[tuple[str, list, str, list]]:
    """(grid point, validation runs, the model that ran it on the test set or "", its test runs) of each size of the
    robust frontier, fewest parameters first, then each lever toward the smallest model on every seed."""
    points = []
    for point in (*search_space.ROBUST_FRONTIER, *search_space.LEVERS):
        tag = f"grid-{point}"
        tested = [n for n in model_lib.s7_models() if n in rep.runs and steps.test_record(n).evidence == tag]
        name = tested[0] if tested else ""
        points.append((point, validation_runs(rep, tag), name, rep.runs[name] if name else []))
    return points


def validation_gap(rep: Report) -> float:
    """The smallest amount by which a frontier point's mean test floor exceeds its mean validation floor."""
    gaps = [
        floor_stats(test, course.S7)[0] - floor_stats(val, course.S7)[0]
        for _, val, _, test in robust_points(rep)
        if test and len(val) >= MIN_SEEDS
    ]
    return min(gaps)


def test_set_verdict(rep: Report, point: str, val: list, name: str, test: list, gap: float | None = None) -> str:
    """Where a point of the robust frontier stands with the test set, by the rule of tools.search_space (``gap``:
    validation_gap(rep), when the caller has it)."""
    if test:
        mean, std, _ = floor_stats(test, course.S7)
        return f"`{name}`: {sum(holds(r, course.S7) for r in test)} of {len(test)} hold, floor {mean:.2f}%, {std:.3f}"
    if len(val) < MIN_SEEDS:
        return f"not sent: {len(val)} of {MIN_SEEDS} validation seeds run"
    mean = floor_stats(val, course.S7)[0]
    incumbent = floor_stats(validation_runs(rep, f"grid-{search_space.ROBUST_FRONTIER[0]}"), course.S7)[0]
    target = course.S7_ROBUST
    needed = target.mean_floor - (validation_gap(rep) if gap is None else gap)
    params = model_lib.count_parameters(model_lib.build_layers(search_space.STACKS[point.split("+")[0]]))
    if mean <= incumbent:
        return f"not sent: not above the incumbent's {incumbent:.2f}%"
    if mean < needed - 0.005:
        return f"not sent: below the {needed:.2f}% that a test mean floor of {target.mean_floor}% needs"
    if not target.allows(params):
        return f"not sent: over the target's {target.max_params:,} parameters; the smallest go first"
    return "qualifies: " + search_space.WAITING.get(point, "next to go to the test set")


def robust_frontier(rep: Report) -> str:
    """One shape at six sizes on one recipe, and the levers tried at the smallest: each one's validation seeds and,
    where it went there, its test seeds; then every Session 7 model's test seeds against the bar."""
    rows, gap = [], validation_gap(rep)
    for point, val, name, test in robust_points(rep):
        stack, *changes = point.split("+")
        row = {
            "layers": f"`{search_space.STACKS[stack]}`",
            "recipe": ", ".join(changes),
            "parameters": f"{model_lib.count_parameters(model_lib.build_layers(search_space.STACKS[stack])):,}",
            "validation seeds": len(val),
            "their floor: mean, std": "{:.2f}%, {:.3f}".format(*floor_stats(val, course.S7)[:2]) if val else "-",
        }
        row["test set"] = test_set_verdict(rep, point, val, name, test, gap)
        rows.append(row)
    plots = (
        image("s7_robust_frontier.png", "One shape at six sizes: the floor of each validation and test seed")
        + " "
        + image("s7_params_vs_accuracy.png", "Every Session 7 model: the floor of each test seed")
    )
    return markdown_table(rows) + "\n\n" + plots


def step_results(rep: Report, name: str) -> str:
    """A step's results in a sentence or two: its seed-1 run, and its seeds against the bar when it has several."""
    runs = rep.runs[name]
    r = runs[0]
    accs = r.accuracies()
    best = max(range(len(accs)), key=accs.__getitem__)
    said = (
        f"Seed 1: last 3 epochs {', '.join(f'{a:.2f}' for a in r.last(3))}% (best {accs[best]:.2f}% at epoch "
        f"{best + 1}); training accuracy {r.history[-1].train_acc:.2f}% in the last epoch."
    )
    if len(runs) > 1:
        mean, std, _ = floor_stats(runs, course.S7)
        said += (
            f" Over {len(runs)} seeds, {sum(holds(x, course.S7) for x in runs)} hold the bar; their floors average "
            f"{mean:.2f}% (std {std:.3f})."
        )
    return said


def change(name: str) -> str:
    """What the step changes from the one it builds on, as a sentence after its Target (empty for the first)."""
    said = model_lib.step_change(name)
    return f" *Change from {model_lib.get_model(name).builds_on}:* {said}." if said else ""


def s7_steps(rep: Report) -> str:
    """Each Session 7 step's Target, Results and Analysis, in a few lines."""
    parts = []
    for name in model_lib.s7_models():
        if name not in rep.runs:
            continue
        parts.append(
            f"### {name} · {rep.runs[name][0].params:,} parameters\n"
            f"- **Target.** {model_lib.get_target(name)}{change(name)}\n"
            f"- **Results.** {step_results(rep, name)}\n"
            f"- **Analysis.** {steps.analysis(name, rep)}"
        )
    parts.append("\n" + image("s7_steps_curves.png", "Session 7 steps: test and training accuracy per epoch, seed 1"))
    return "\n".join(parts)


def final(rep: Report, name: str, bar: course.Bar, role: str) -> str:
    """A final model in full, for docs/models.md: its seeds, torchsummary, receptive field, seed 1's log."""
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
    seeds = " ".join(str(s) for s in sorted(run.config["seed"] for run in runs))
    return "\n".join(
        [
            f"## {name}\n\n{role}: {runs[0].params:,} parameters. {model_lib.get_target(name)}\n",
            f"Every seed (`python train.py --model {name} --seeds {seeds} --out results`):\n",
            seeds_table(runs, bar),
            "",
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
            "<details><summary>Per-class test accuracy, seed 1</summary>\n",
            per_class,
            "</details>",
        ]
    )


def final_summary(rep: Report, name: str, bar: course.Bar) -> str:
    """A final model in the README: every seed against the bar, and its figures folded."""
    figures = ["curves", "misclassified", "confusion", *(["cam"] if rep.has_weights(name) else [])]
    return "\n".join(
        [
            robustness(rep, name, bar),
            "",
            f"<details><summary>{name}'s figures: the curves of every seed; seed 1's misclassified digits, confusion "
            f"matrix and class activation maps. Its torchsummary, receptive field and training log are in "
            f'<a href="docs/models.md#{name.lower()}">docs/models.md</a>.</summary>\n',
            " ".join(image(f"{name}_{kind}.png", f"{name} {kind}") for kind in figures),
            "</details>",
        ]
    )


def validation_runs(rep: Report, tag: str) -> list:
    """The full-length validation runs of one configuration (a tag of results/val), by seed."""
    return rep.validation_runs(tag)


def validation_floor(rep: Report, name: str, when_sent: bool = False) -> tuple[float, list[int]] | None:
    """(mean floor, seeds) of the validation runs of the point that sent a model to the test set (``when_sent``: only
    those on record when it went there); None without any."""
    record = steps.test_record(name)
    runs = validation_runs(rep, record.evidence) if record.evidence else []
    if when_sent and record.evidence_seeds:
        runs = [r for r in runs if r.config["seed"] in record.evidence_seeds]
    if not runs:
        return None
    return sum(course.S7.floor(r) for r in runs) / len(runs), [r.config["seed"] for r in runs]


def ledger(rep: Report) -> str:
    """Every configuration evaluated on the test set, with the validation evidence that sent it there and the
    test results that informed its choice."""
    rows = []
    for name in [*model_lib.s7_models(), model_lib.S6_FINAL]:
        if name not in rep.runs:
            continue
        runs, record = rep.runs[name], steps.test_record(name)
        bar = course.S6 if name == model_lib.S6_FINAL else course.S7
        mean, _, _ = floor_stats(runs, bar)
        commits = sorted({r.environment.get("git_commit", "")[:7] for r in runs})
        evidence, now = validation_floor(rep, name, when_sent=True), validation_floor(rep, name)
        said = f"`{record.evidence}`: floor {evidence[0]:.2f}% over {len(evidence[1])} seeds" if evidence else "none"
        if evidence and now != evidence:
            said += f" when it went there ({now[0]:.2f}% over {len(now[1])}, the rest run later)"
        if record.beats and evidence and (incumbent := validation_floor(rep, record.beats)):
            said += f" (`{record.beats}`: {incumbent[0]:.2f}% over {len(incumbent[1])})"
        rows.append(
            {
                "model": f"`{name}`",
                "parameters": f"{runs[0].params:,}",
                "test seeds": len(runs),
                "hold": sum(holds(r, bar) for r in runs),
                "mean floor": f"{mean:.2f}%",
                "commits": ", ".join(commits),
                "validation evidence": said,
                "test results that informed it": steps.informed_by(name, rep) or "-",
            }
        )
    return f"{chosen_how(rep)}\n\n{markdown_table(rows)}"


def chosen_how(rep: Report) -> str:
    """Which configurations on the test set were chosen on the validation split, and which were not."""
    names = [n for n in [*model_lib.s7_models(), model_lib.S6_FINAL] if n in rep.runs]
    validated = [n for n in names if validation_floor(rep, n)]
    unvalidated = [n for n in names if n not in validated]
    listed = lambda ns: ", ".join(f"`{n}`" for n in ns)
    return (
        f"Chosen on the validation split (10,000 images held out of the training set): {listed(validated)}. Chosen "
        f"by the course's steps, with no validation run: {listed(unvalidated)}."
    )
