"""The README and the figures are what results/ gives, and every figure is linked."""

from tools import report
from tools.report import claims, search_tables
from tools.report.figures import FINGERPRINTS


def test_readme_and_figures_agree_with_results():
    assert report.check(report.Report()) == []


def test_every_results_file_is_a_real_run_of_a_registered_model():
    import model as model_lib
    import utils

    for r in utils.load_results():
        net = model_lib.get_model(r.model)
        assert r.params == model_lib.count_parameters(net), r.name
        assert r.environment["git_commit"], r.name
        assert len(r.history) == r.config["epochs"] <= 15
        assert r.eval_split == "test" and r.config["train_limit"] == 0 and r.config["eval_limit"] == 0


def test_generated_blocks_are_replaced_whole_and_only_when_known():
    text = "intro\n<!-- generated:a -->\nold a\n<!-- /generated:a -->\n"
    text += "middle\n<!-- generated:b -->\nold b\n<!-- /generated:b -->\n"
    out = report.render_readme(text, {"a": "new\na  \n\n"})
    assert out == "intro\n<!-- generated:a -->\nnew\na\n<!-- /generated:a -->\nmiddle\n" + text.split("middle\n")[1]
    assert report.render_readme(out, {"a": "new\na"}) == out  # rendering twice changes nothing


def test_figures_are_compared_by_what_they_draw_whatever_draws_them(tmp_path):
    """Pixels are compared only with the matplotlib that drew the committed figures; what a figure shows, always.
    A figure that is missing, unlinked or without a recorded fingerprint is reported."""
    import json
    import shutil

    rep = report.Report()
    readme, figures = tmp_path / "README.md", tmp_path / "figures"
    readme.write_text(report.render_readme(report.README.read_text(), report.blocks(rep)))
    shutil.copytree(report.FIGURES, figures)
    prints = figures / FINGERPRINTS
    record = json.loads(prints.read_text())
    victim = sorted(report.drawn_figures(rep))[0]
    (figures / victim).write_bytes((figures / victim).read_bytes()[:-100])
    record["matplotlib"] = "0.0"  # drawn by another version: the pixels may differ, the drawing may not
    prints.write_text(json.dumps(record))
    assert report.check(rep, readme, figures) == []
    record["figures"][victim] = "0" * 64
    prints.write_text(json.dumps(record))
    assert report.check(rep, readme, figures) == [f"results/figures/{victim} differs from what results/ gives"]
    prints.unlink()
    assert len(report.check(rep, readme, figures)) == len(report.drawn_figures(rep))
    shutil.copy(report.FIGURES / FINGERPRINTS, prints)
    (figures / victim).unlink()
    assert report.check(rep, readme, figures) == [f"results/figures/{victim} differs from what results/ gives"]
    shutil.copy(report.FIGURES / victim, figures / victim)
    readme.write_text(readme.read_text().replace(f"(results/figures/{victim})", "(elsewhere.png)"))
    assert f"README.md does not link {victim}" in report.check(rep, readme, figures)


def test_a_changed_number_is_caught(tmp_path, monkeypatch):
    text = report.README.read_text()
    blocks = report.blocks(report.Report())
    tampered = {k: v.replace("99.", "98.", 1) for k, v in blocks.items()}
    assert report.render_readme(text, tampered) != text


def test_stale_evidence_a_results_config_that_the_code_would_not_make_again_fails():
    """Every committed run's configuration is what TrainConfig.for_model gives now for its model, seed and tag;
    fields added since a run was made must be at their defaults (they did not exist, so they were off)."""
    import dataclasses

    import utils

    defaults = utils.TrainConfig()
    for r in utils.load_results():
        now = dataclasses.asdict(utils.TrainConfig.for_model(r.model, seed=r.config["seed"], tag=r.config["tag"]))
        for key, value in now.items():
            assert r.config.get(key, getattr(defaults, key)) == value, (r.name, key, r.config.get(key), value)


def test_check_reports_a_tampered_readme_and_a_tampered_figure(tmp_path):
    import shutil

    rep = report.Report()
    readme = tmp_path / "README.md"
    figures = tmp_path / "figures"
    shutil.copy(report.README, readme)
    shutil.copytree(report.FIGURES, figures)
    assert report.check(rep, readme, figures) == []
    text = readme.read_text()
    readme.write_text(text.replace("| 99.", "| 98.", 1))
    assert report.check(rep, readme, figures) == [
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
    differs = [f"results/figures/{victim.name} differs from what results/ gives"]
    assert report.check(rep, readme, figures) == (differs if same_drawing else [])
    victim.unlink()
    assert report.check(rep, readme, figures) == differs  # a missing figure, whatever draws them
    victim.write_bytes(original)
    (figures / "Model_0_curves.png").write_bytes(original)  # a figure that nothing makes any more
    assert report.check(rep, readme, figures) == ["results/figures/Model_0_curves.png is no longer made by the report"]


def val_run(folder, tag, accuracies, seed=1, **changes):
    """A search run of Model_7's stack on the validation split, written to folder/val, with these accuracies."""
    import dataclasses

    import utils

    cfg = utils.TrainConfig.for_model("Model_7", layers="6 12 M D t6 10 10 11", eval_split="val", tag=tag,
                                      seed=seed, **changes)  # fmt: skip
    history = [utils.EpochRecord(i + 1, 0.01, 0.1, 99.0, 0.02, a, 1.0) for i, a in enumerate(accuracies)]
    result = utils.Result(cfg.run_name, cfg.model, 3434, dataclasses.asdict(cfg), "val", history, [], [], [], [],
                          1.0)  # fmt: skip
    utils.save_result(result, folder / "val")


def test_each_change_is_compared_with_the_run_that_lacks_only_it(tmp_path):
    """A run with two changes is compared, for each, with the run of the same stack and seed that has the other one."""
    val_run(tmp_path, "plain", [99.0] * 15)
    val_run(tmp_path, "held", [99.0] * 12 + [99.1, 99.2, 99.3], hold=2)
    val_run(tmp_path, "held-silu", [99.0] * 12 + [99.3, 99.3, 99.3], hold=2, activation="silu")
    val_run(tmp_path, "silu-seed2", [99.5] * 15, seed=2, activation="silu")  # no run of seed 2 to compare with
    rows = search_tables.learned(report.Report(tmp_path)).splitlines()[2:]
    assert rows == [
        "| 6 12 M D t6 10 10 11 | 1 | hold 2 | - | last 3 epochs (mean) | 99.20% | 99.00% | +0.20 |",
        "| 6 12 M D t6 10 10 11 | 1 | activation silu | hold 2 | last 3 epochs (mean) | 99.30% | 99.20% | +0.10 |",
    ]


def test_the_seed_spread_groups_the_seeds_of_one_stack_and_recipe(tmp_path):
    val_run(tmp_path, "held", [99.0] * 12 + [99.1, 99.2, 99.3], hold=2)
    val_run(tmp_path, "held", [99.0] * 12 + [99.0, 99.0, 99.0], seed=3, hold=2)
    val_run(tmp_path, "held", [99.0] * 10, seed=2, epochs=10, hold=2)  # another schedule: not a seed of the 15
    val_run(tmp_path, "plain", [99.45] * 15)  # one seed only
    val_run(tmp_path, "held-silu", [99.3] * 15, seed=2, hold=2, activation="silu")  # another recipe
    rows = search_tables.seed_spread(report.Report(tmp_path)).splitlines()[2:]
    assert rows == ["| 6 12 M D t6 10 10 11 | hold 2 | 3,434 | 1 3 | 99.20, 99.00 | 99.10 | 0.20 |"]


def test_a_final_models_block_names_the_seeds_it_shows():
    import model as model_lib
    import utils

    seeds = sorted(r.config["seed"] for r in utils.load_results(model=model_lib.S7_FINAL))
    block = claims.final(report.Report(), model_lib.S7_FINAL)
    assert f"--seeds {' '.join(map(str, seeds))} --out results`" in block


def test_one_model_that_meets_both_session_7_bars_has_its_section_once(monkeypatch):
    import model as model_lib

    rep = report.Report()
    monkeypatch.setattr(model_lib, "S7_FINAL", model_lib.S7_SMALLEST)
    blocks = report.blocks(rep)
    assert blocks["s7-final"] == claims.final(rep, model_lib.S7_SMALLEST)
    assert "Every seed" not in blocks["s7-smallest"] and f"`{model_lib.S7_SMALLEST}`" in blocks["s7-smallest"]
