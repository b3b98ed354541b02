"""Project-wide rules: runtime never imports training; the CI script runs the README's test command."""

import ast

from tests.conftest import REPO

RUNTIME = ("agent", "audio_io", "models")


def imported_modules(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module


def test_runtime_never_imports_training():
    offenders = []
    for pkg in RUNTIME:
        for path in (REPO / pkg).rglob("*.py"):
            for mod in imported_modules(path):
                if mod == "training" or mod.startswith("training."):
                    offenders.append(f"{path.relative_to(REPO)} imports {mod}")
    assert not offenders, offenders


def test_ci_runs_the_readme_test_command():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    ci = (REPO / ".ci" / "run").read_text()
    assert "bash scripts/test.sh" in readme and "bash scripts/test.sh" in ci
    assert "bash scripts/setup.sh && .venv/bin/python -m agent" in readme


def test_torch_is_pinned_by_constraints():
    assert "torch==2.13.0" in (REPO / "constraints.txt").read_text()
    assert "torchaudio" not in (REPO / "pyproject.toml").read_text()
