"""The README and the figures are what results/ gives, and every figure is linked."""
import report


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


def test_a_changed_number_is_caught(tmp_path, monkeypatch):
    text = report.README.read_text()
    blocks = report.Report().blocks()
    tampered = {k: v.replace("99.", "98.", 1) for k, v in blocks.items()}
    assert report.render_readme(text, tampered) != text
