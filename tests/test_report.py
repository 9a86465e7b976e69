"""The README and the figures are what results/ gives, and every figure is linked."""

import dataclasses
import re
import shutil
import subprocess

import pytest

import model as model_lib
from tools import report, search_space
from tools.report import claims, search_tables, steps
from tools.report.documents import DOCUMENTS
from tools.report.figures import FINGERPRINTS
from utils import course
from utils.paths import REPO


@pytest.fixture(scope="module")
def rep():
    """The committed results, indexed once: its figures are drawn once for every test of this file."""
    return report.Report()


def copy_documents(root):
    """The committed README and docs/ under ``root``, as the check reads them."""
    for doc in DOCUMENTS:
        (root / doc).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO / doc, root / doc)
    return root


def test_readme_and_figures_agree_with_results(rep):
    assert report.check(rep) == []


def test_every_results_file_is_a_real_run_of_a_registered_model():
    import model as model_lib
    import utils

    for r in utils.load_results():
        net = model_lib.get_model(r.model)
        assert r.params == model_lib.count_parameters(net), r.name
        assert r.environment["git_commit"], r.name
        assert len(r.history) == r.config["epochs"] <= 15
        assert r.eval_split == "test" and r.config["train_limit"] == 0 and r.config["eval_limit"] == 0


def test_a_fingerprint_changes_with_every_kind_of_data_a_figure_shows():
    """Bars, scattered points, lines, images, the tick labels a plot sets: move any one, and the fingerprint moves."""
    import matplotlib.pyplot as plt

    from utils.plots import new_figure

    def draw(bars=(1.0, 2.0), points=((0.5, 1.0),), line=(0.0, 1.0), image=((0.0, 1.0),), labels=("a", "b")):
        fig, axes = new_figure()
        ax = axes[0][0]
        ax.bar([0, 1], bars)
        ax.scatter(*zip(*points, strict=True))
        ax.plot([0, 1], line)
        ax.imshow(image)
        ax.set_yticks([0, 1])
        ax.set_yticklabels(labels)
        value = report.fingerprint(fig)
        plt.close(fig)
        return value

    base = draw()
    assert draw() == base
    changed = [
        draw(bars=(1.0, 2.5)),
        draw(points=((0.5, 1.5),)),
        draw(line=(0.0, 2.0)),
        draw(image=((0.0, 0.5),)),
        draw(labels=("a", "c")),
    ]
    assert all(value != base for value in changed) and len(set(changed)) == len(changed)


def test_generated_blocks_are_replaced_whole_and_only_when_known():
    text = "intro\n<!-- generated:a -->\nold a\n<!-- /generated:a -->\n"
    text += "middle\n<!-- generated:b -->\nold b\n<!-- /generated:b -->\n"
    out = report.render_readme(text, {"a": "new\na  \n\n"})
    assert out == "intro\n<!-- generated:a -->\nnew\na\n<!-- /generated:a -->\nmiddle\n" + text.split("middle\n")[1]
    assert report.render_readme(out, {"a": "new\na"}) == out  # rendering twice changes nothing


def test_figures_are_compared_by_what_they_draw_whatever_draws_them(rep, tmp_path):
    """Pixels are compared only with the matplotlib that drew the committed figures; what a figure shows, always.
    A figure that is missing, unlinked or without a recorded fingerprint is reported."""
    import json

    root, figures = copy_documents(tmp_path), tmp_path / "figures"
    shutil.copytree(report.FIGURES, figures)
    prints = figures / FINGERPRINTS
    record = json.loads(prints.read_text())
    victim = sorted(report.drawn_figures(rep))[0]
    (figures / victim).write_bytes((figures / victim).read_bytes()[:-100])
    record["matplotlib"] = "0.0"  # drawn by another version: the pixels may differ, the drawing may not
    prints.write_text(json.dumps(record))
    assert report.check(rep, root, figures) == []
    record["figures"][victim] = "0" * 64
    prints.write_text(json.dumps(record))
    assert report.check(rep, root, figures) == [f"docs/generated/figures/{victim} differs from what results/ gives"]
    prints.unlink()
    assert len(report.check(rep, root, figures)) == len(report.drawn_figures(rep))
    shutil.copy(report.FIGURES / FINGERPRINTS, prints)
    (figures / victim).unlink()
    assert report.check(rep, root, figures) == [f"docs/generated/figures/{victim} differs from what results/ gives"]
    shutil.copy(report.FIGURES / victim, figures / victim)
    for doc in DOCUMENTS:
        (root / doc).write_text((root / doc).read_text().replace(f"docs/generated/figures/{victim})", "elsewhere.png)"))
    assert f"no document links {victim}" in report.check(rep, root, figures)


@pytest.mark.parametrize("doc", DOCUMENTS)
def test_a_number_changed_in_a_generated_block_of_any_document_is_caught(rep, tmp_path, doc):
    root = copy_documents(tmp_path)
    text = (root / doc).read_text()
    start = text.index("<!-- generated:")
    number = next(m for m in re.finditer(r"\d+\.\d+", text) if m.start() > start)
    assert number.start() < text.index("<!-- /generated:", start), f"{doc}: its first block holds no number"
    (root / doc).write_text(text[: number.start()] + str(float(number.group()) + 1) + text[number.end() :])
    differs = f"{doc} differs from what results/ gives: run python -m tools.report"
    assert report.check(rep, root) == [differs]


def test_a_changed_number_is_caught(rep, tmp_path, monkeypatch):
    text = report.README.read_text()
    blocks = report.blocks(rep)
    tampered = {k: v.replace("99.", "98.", 1) for k, v in blocks.items()}
    assert report.render_readme(text, tampered) != text


def test_stale_evidence_a_results_config_that_the_code_would_not_make_again_fails():
    """Every committed run's configuration is what utils.config_for gives now for its model, seed and tag;
    fields added since a run was made must be at their defaults (they did not exist, so they were off)."""
    import dataclasses

    import utils

    defaults = utils.TrainConfig()
    for r in utils.load_results():
        now = dataclasses.asdict(utils.config_for(r.model, seed=r.config["seed"], tag=r.config["tag"]))
        for key, value in now.items():
            assert r.config.get(key, getattr(defaults, key)) == value, (r.name, key, r.config.get(key), value)


def test_check_reports_a_tampered_readme_and_a_tampered_figure(rep, tmp_path):
    root = copy_documents(tmp_path)
    readme = root / "README.md"
    figures = tmp_path / "figures"
    shutil.copytree(report.FIGURES, figures)
    assert report.check(rep, root, figures) == []
    text = readme.read_text()
    readme.write_text(text.replace("| 99.", "| 98.", 1))
    assert report.check(rep, root, figures) == [
        "README.md differs from what results/ gives: run python -m tools.report"
    ]
    readme.write_text(text)
    victim = sorted(figures.glob("*.png"))[0]
    original = victim.read_bytes()
    victim.write_bytes(original[:-100])
    # The bytes of a PNG are compared only with the matplotlib that drew the committed figures (another one draws
    # other pixels from the same data); with another, the figure's data is what check compares, and it is unchanged.
    import json

    import matplotlib

    same_drawing = json.loads((figures / FINGERPRINTS).read_text())["matplotlib"] == matplotlib.__version__
    differs = [f"docs/generated/figures/{victim.name} differs from what results/ gives"]
    assert report.check(rep, root, figures) == (differs if same_drawing else [])
    victim.unlink()
    assert report.check(rep, root, figures) == differs  # a missing figure, whatever draws them
    victim.write_bytes(original)
    (figures / "Model_0_curves.png").write_bytes(original)  # a figure that nothing makes any more
    assert report.check(rep, root, figures) == [
        "docs/generated/figures/Model_0_curves.png is no longer made by the report"
    ]


def val_run(folder, tag, accuracies, seed=1, machine="cpu A", **changes):
    """A search run of Model_7's stack on the validation split, written to folder/val, with these accuracies."""
    import dataclasses

    import utils

    cfg = utils.config_for("Model_7", layers="6 12 M D t6 10 10 11", eval_split="val", tag=tag,
                                      seed=seed, **changes)  # fmt: skip
    history = [utils.EpochRecord(i + 1, 0.01, 0.1, 99.0, 0.02, a, 1.0) for i, a in enumerate(accuracies)]
    result = utils.Result(cfg.run_name, cfg.model, 3434, dataclasses.asdict(cfg), "val", history, [], [], [], [],
                          1.0, {"device": machine})  # fmt: skip
    utils.save_result(result, folder / "val")


def test_each_change_is_compared_with_the_run_that_lacks_only_it(tmp_path):
    """A run with two changes is compared, for each, with the run of the same stack and seed that has the other one."""
    val_run(tmp_path, "plain", [99.0] * 15)
    val_run(tmp_path, "held", [99.0] * 12 + [99.1, 99.2, 99.3], hold=2)
    val_run(tmp_path, "held-silu", [99.0] * 12 + [99.3, 99.3, 99.3], hold=2, activation="silu")
    val_run(tmp_path, "silu-seed2", [99.5] * 15, seed=2, activation="silu")  # no run of seed 2 to compare with
    rows = search_tables.learned(report.Report(tmp_path)).splitlines()[2:]
    assert rows == [
        "| 6 12 M D t6 10 10 11 | 1 | hold 2 | - | last 3 epochs (mean) | 99.20% | 99.00% | +0.20 | the same machine |",
        "| 6 12 M D t6 10 10 11 | 1 | activation silu | hold 2 | last 3 epochs (mean) | 99.30% | 99.20% | +0.10 | "
        "the same machine |",
    ]


def test_a_change_is_compared_with_a_base_made_on_its_own_machine_when_there_is_one(tmp_path):
    """The same recipe again on another machine is another draw: a change made there is compared with the base made
    there, and a change whose base ran only elsewhere says where."""
    val_run(tmp_path, "held", [99.0] * 12 + [99.2] * 3, hold=2)
    val_run(tmp_path, "rerun-held", [99.0] * 12 + [99.1] * 3, machine="gpu B", hold=2, dropout=0.05)
    val_run(tmp_path, "held-wd", [99.0] * 12 + [99.15] * 3, machine="gpu B", hold=2, weight_decay=1e-4)
    val_run(tmp_path, "held-silu", [99.0] * 12 + [99.3] * 3, machine="gpu B", hold=2, activation="silu")
    rows = search_tables.learned(report.Report(tmp_path)).splitlines()[2:]
    assert "| weight decay 0.0001 | hold 2 | last 3 epochs (mean) | 99.15% | 99.10% | +0.05 | the same machine |" in (
        "\n".join(rows)
    )
    assert any("| activation silu | hold 2 |" in row and row.endswith("| +0.20 | the same machine |") for row in rows)
    val_run(tmp_path, "held-silu-c", [99.0] * 12 + [99.3] * 3, machine="cpu C", hold=2, activation="silu")
    rows = search_tables.learned(report.Report(tmp_path)).splitlines()[2:]
    assert sum(row.endswith("| the same machine |") for row in rows) == 2
    elsewhere = [row for row in rows if not row.endswith("| the same machine |")]
    assert len(elsewhere) == 1 and elsewhere[0].endswith("| +0.10 | cpu A |")  # the first base by name
    # the held rate against the plain recipe: no plain run anywhere, so no row
    assert not any("| hold 2 | - |" in row for row in rows)


def test_the_seed_spread_groups_the_seeds_of_one_stack_and_recipe(tmp_path):
    val_run(tmp_path, "held", [99.0] * 12 + [99.1, 99.2, 99.3], hold=2)
    val_run(tmp_path, "held", [99.0] * 12 + [99.0, 99.0, 99.0], seed=3, hold=2)
    val_run(tmp_path, "held", [99.0] * 10, seed=2, epochs=10, hold=2)  # another schedule: not a seed of the 15
    val_run(tmp_path, "plain", [99.45] * 15)  # one seed only
    val_run(tmp_path, "held-silu", [99.3] * 15, seed=2, hold=2, activation="silu")  # another recipe
    val_run(tmp_path, "held-again", [99.5] * 15, seed=1, machine="gpu B", hold=2, dropout=0.05)  # run again elsewhere
    val_run(tmp_path, "held-again", [99.2] * 15, seed=2, machine="gpu B", hold=2, dropout=0.05)
    rows = search_tables.seed_spread(report.Report(tmp_path)).splitlines()[2:]
    assert rows == [
        "| 6 12 M D t6 10 10 11 | hold 2 | 3,434 | 1 2 | 99.50, 99.20 | 99.35 | 0.30 | gpu B |",
        "| 6 12 M D t6 10 10 11 | hold 2 | 3,434 | 1 3 | 99.20, 99.00 | 99.10 | 0.20 | cpu A |",
    ]


def test_a_final_models_block_names_the_seeds_it_shows(rep):
    import model as model_lib
    import utils

    seeds = sorted(r.config["seed"] for r in utils.load_results(model=model_lib.S7_FINAL))
    block = claims.final(rep, model_lib.S7_FINAL, course.S7, "Session 7")
    assert f"--seeds {' '.join(map(str, seeds))} --out results`" in block


def test_one_model_that_meets_both_session_7_bars_has_its_section_once(rep, monkeypatch):
    import model as model_lib

    monkeypatch.setattr(model_lib, "S7_FINAL", model_lib.S7_SMALLEST)
    blocks = report.blocks(rep)
    assert blocks["s7-final"] == claims.final_summary(rep, model_lib.S7_SMALLEST, course.S7)
    for key in ("s7-smallest", "s7-smallest-details"):
        assert "| seed |" not in blocks[key] and "Every seed" not in blocks[key]
        assert f"`{model_lib.S7_SMALLEST}`" in blocks[key]


def fake_run(seed: int, last: tuple, machine: str = "cpu A", threads: int = 2):
    from utils.config import EpochRecord, Result

    history = [EpochRecord(i + 1, 0.01, 0.1, 99.0, 0.02, a, 1.0) for i, a in enumerate((98.0,) * 12 + last)]
    env = {"device": machine, "threads": threads, "git_commit": "abc"}
    return Result(f"M-seed{seed}", "M", 1000, {"seed": seed}, "test", history, [], [], [], [], 1.0, env)


def test_floor_statistics_and_the_share_of_fresh_draws_that_hold():
    bar = course.S7
    runs = [fake_run(1, (99.5, 99.45, 99.5)), fake_run(2, (99.41, 99.5, 99.5)), fake_run(3, (99.35, 99.6, 99.6))]
    assert [bar.floor(r) for r in runs] == [99.45, 99.41, 99.35]
    mean, std, fresh = claims.floor_stats(runs, bar)
    assert mean == pytest.approx(99.40333, abs=1e-4) and std == pytest.approx(0.05033, abs=1e-4)
    # a normal fit with that mean and std: P(floor >= 99.395), with the continuity correction of 0.005
    assert fresh == pytest.approx(0.5659, abs=1e-3)
    assert claims.share(fresh) == "56.6%" and claims.share(0.9999) == "more than 99.9%"
    assert claims.share(0.0001) == "less than 0.1%"
    assert claims.sampling_error(99.45) == pytest.approx(0.0740, abs=1e-3)  # 7 images of 10,000
    assert claims.floor_stats(runs[:1], bar)[2] == 1.0  # one seed above the bar: no spread to fit


def test_the_seed_table_names_every_seed_and_where_it_ran():
    runs = [fake_run(1, (99.5,) * 3), fake_run(2, (99.3,) * 3), fake_run(3, (99.5,) * 3, "cpu B", 1)]
    rep = report.Report.__new__(report.Report)
    rep.runs = {"M": runs}
    text = claims.robustness(rep, "M", course.S7)
    assert "| floor (%) | 99.50 | 99.30 | 99.50 |" in text and "| holds | yes | **no** | yes |" in text
    assert "2 of 3 seeds hold" in text
    assert "Where the seeds ran: 1-2 on cpu A (2 threads), 3 on cpu B (1 thread)." in text


def seeds_in(spans: str) -> set[int]:
    """ "seeds 4-10 with ...; seeds 2 with ..." -> {2, 4, 5, ..., 10}"""
    found = set()
    for first, last in re.findall(r"seeds? (\d+)(?:-(\d+))?", spans):
        found |= set(range(int(first), int(last or first) + 1))
    return found


@pytest.mark.parametrize(
    "key,bar_of", [("s7-final", "S7_FINAL"), ("s7-smallest", "S7_SMALLEST"), ("s6-final", "S6_FINAL")]
)
def test_the_readme_lists_every_claimed_run_made_from_a_dirty_tree_or_another_torch(key, bar_of):
    """Read from the results files, not through the report: each such run's seed is named in its model's section."""
    import json

    from packaging.requirements import Requirement
    from packaging.version import Version

    name = getattr(model_lib, bar_of)
    torch_ok = Requirement(claims.torch_requirement()).specifier
    other = set()
    for path in (REPO / "results").glob(f"{name}-seed*.json"):
        raw = json.loads(path.read_text())
        env = raw["environment"]
        if env.get("git_dirty") or not torch_ok.contains(Version(env["torch"]).base_version):
            other.add(raw["config"]["seed"])
    readme = (REPO / "README.md").read_text()
    block = readme.split(f"<!-- generated:{key} -->", 1)[1].split(f"<!-- /generated:{key} -->", 1)[0]
    said = block.split("Made otherwise than a reference run is: ", 1)[1].split("\n", 1)[0] if other else ""
    assert other <= seeds_in(said), (name, sorted(other), said)
    assert other or "Every seed ran from a clean, committed tree" in block


def test_a_run_is_listed_with_what_differed_in_its_making():
    clean = fake_run(1, (99.5,) * 3)
    clean.environment.update(torch="2.14.1+cu130", python="3.11.7", git_dirty=False)
    dirty = fake_run(2, (99.5,) * 3)
    dirty.environment.update(torch="2.11.0", python="3.12.3", git_dirty=True, git_commit="9224acb50e")
    assert claims.what_differed(clean) == ""
    assert claims.what_differed(dirty) == (
        f"torch 2.11.0 on Python 3.12.3 (requirements.txt: {claims.torch_requirement()}) and a tree with uncommitted "
        "changes on 9224acb"
    )
    assert claims.provenance([clean, dirty]).startswith("Made otherwise than a reference run is: seed 2 with torch")


def added_at(path) -> int:
    """When git's history first added a file (a Unix time). A copy of the repository inside its clone (mutmut's
    mutants/) reads the clone's history of the same path."""
    git = lambda *args, cwd=REPO: subprocess.run(["git", *args], cwd=cwd, text=True, capture_output=True, check=True)
    top = git("rev-parse", "--show-toplevel").stdout.strip()
    relative = str(path.relative_to(REPO))
    return int(git("log", "--diff-filter=A", "--format=%ct", "--", relative, cwd=top).stdout.split()[-1])


def test_the_ledger_gives_the_validation_evidence_on_record_when_each_model_went_to_the_test_set():
    """Read from git's history: the validation seeds added no later than a model's first test run are the ones its
    record names (all of them when it names none)."""
    shallow = subprocess.run(["git", "rev-parse", "--is-shallow-repository"], cwd=REPO, capture_output=True, text=True)
    assert shallow.stdout.strip() == "false", "this test reads the whole history: clone without --depth"
    checked = 0
    for name in model_lib.list_models():
        record = steps.test_record(name)
        tests = sorted((REPO / "results").glob(f"{name}-seed*.json"))
        vals = {
            int(p.stem.rsplit("seed", 1)[1]): p
            for p in (REPO / "results" / "val").glob(f"*-{record.evidence}-seed*.json")
        }
        if not record.evidence or not tests:
            continue
        sent = min(added_at(p) for p in tests)
        before = {seed for seed, path in vals.items() if added_at(path) <= sent}
        assert before == set(record.evidence_seeds or vals), (name, sorted(before), record.evidence_seeds)
        checked += 1
    assert checked >= 5


def test_a_model_sent_to_the_test_set_beat_its_incumbent_on_five_validation_seeds(rep):
    """The rule since Model_15: a configuration goes to the test set only once its mean floor on the validation
    split, over 5 seeds, is above the incumbent's."""
    ruled = [n for n in model_lib.list_models() if steps.test_record(n).beats and n in rep.runs]
    assert ruled, "no model on the test set names the incumbent it beat"
    for name in ruled:
        mine = claims.validation_floor(rep, name)
        theirs = claims.validation_floor(rep, steps.test_record(name).beats)
        assert mine and theirs and len(mine[1]) >= 5 and len(theirs[1]) >= 5, name
        assert mine[0] > theirs[0], (name, mine, theirs)


def test_a_frontier_point_goes_to_the_test_set_by_the_rule_written_in_the_search_space(rep):
    """Five validation seeds, above the incumbent's mean floor, and at the target less the smallest validation-to-test
    gap on record; a point over the target's parameters waits for the smaller ones."""
    from tests.test_train import fake_result

    def seeds(floor: float, n: int = 5) -> list:
        return [fake_result(f"v-seed{s}", "Model_7", (98.0,) * 12 + (floor,) * 3) for s in range(1, n + 1)]

    small, large = "sep-10-29+hold2+bn300", "sep-11-33+hold2+bn300"
    needed = course.S7_ROBUST.mean_floor - claims.validation_gap(rep)
    incumbent = claims.floor_stats(claims.validation_runs(rep, f"grid-{search_space.ROBUST_FRONTIER[0]}"), course.S7)
    tested = [name for _, _, name, test in claims.robust_points(rep) if test]
    assert {"Model_14", "Model_15"} <= set(tested)
    gaps = [claims.floor_stats(rep.runs[m], course.S7)[0] - claims.validation_floor(rep, m)[0] for m in tested]
    assert claims.validation_gap(rep) == pytest.approx(min(gaps)) and incumbent[0] < needed
    verdict = lambda point, val: claims.test_set_verdict(rep, point, val, "", [])
    assert verdict(small, seeds(needed + 0.01, n=4)) == "not sent: 4 of 5 validation seeds run"
    assert verdict(small, seeds(round(incumbent[0], 2))).startswith("not sent: not above the incumbent's")
    assert verdict(small, seeds(round(needed - 0.02, 2))).startswith(f"not sent: below the {needed:.2f}%")
    assert verdict(small, seeds(round(needed + 0.01, 2))).startswith("qualifies: ")
    assert verdict(large, seeds(round(needed + 0.01, 2))).startswith("not sent: over the target's 5,000 parameters")


def test_a_target_is_met_on_ten_seeds_that_all_hold_and_by_the_floors_mean_where_the_bar_asks_one():
    at = course.S7.min_acc
    nine = [fake_run(s, (at + 0.1,) * 3) for s in range(1, 10)]
    assert claims.verdict(nine, course.S7) == (False, "9 of 9 seeds hold, fewer than 10")
    ten = [*nine, fake_run(10, (at + 0.1, at - 0.02, at + 0.1))]
    met, how = claims.verdict(ten, course.S7)
    assert not met and how.startswith("9 of 10 seeds hold, the lowest floor, 99.38%, is 2 test images")
    ten[-1] = fake_run(10, (at,) * 3)
    assert claims.verdict(ten, course.S7) == (True, "10 of 10 seeds hold")
    # every seed holds S7_ROBUST's per-epoch bar, but the floors' mean (99.49) is under the mean it asks for ...
    low = dataclasses.replace(course.S7_ROBUST, mean_floor=99.5)
    assert claims.verdict(ten, low) == (
        False,
        "10 of 10 seeds hold, but the mean of their floors, 99.490%, is under the 99.5% asked",
    )
    # ... and at its own mean floor it is met
    assert claims.verdict(ten, dataclasses.replace(low, mean_floor=99.49)) == (True, "10 of 10 seeds hold")
