"""The GitHub Actions workflow is valid and does what the README says."""
import subprocess
import sys

import yaml

import utils

WORKFLOWS = sorted((utils.REPO / ".github" / "workflows").glob("*.yml"))


def test_workflows_validate_against_the_github_schema():
    assert WORKFLOWS
    proc = subprocess.run([sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.github-workflows",
                           *map(str, WORKFLOWS)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_workflow_runs_notebooks_checker_tests_and_uploads():
    flow = yaml.safe_load((utils.REPO / ".github" / "workflows" / "ci.yml").read_text())
    triggers = flow.get(True, flow.get("on"))  # YAML 1.1 reads the key `on` as True
    assert "push" in triggers and "pull_request" in triggers
    text = (utils.REPO / ".github" / "workflows" / "ci.yml").read_text()
    for needle in ("download.pytorch.org/whl/cpu", "cache: pip", "papermill S6.ipynb", "papermill S7.ipynb",
                   "--execution-timeout", "tests/check_notebook.py", "actions/upload-artifact@v4", "pytest"):
        assert needle in text, needle
    assert set(flow["jobs"]) >= {"tests", "notebooks"}


def test_readme_shows_the_badges():
    readme = (utils.REPO / "README.md").read_text()
    assert "actions/workflows/ci.yml/badge.svg" in readme
    for key in ("parameters", "batchnorm", "dropout", "gap", "accuracy"):
        assert f"S7-{key}.json" in readme and f"S6-{key}.json" in readme
    assert readme.count("colab-badge.svg") >= 2
