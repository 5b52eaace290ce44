"""docs/tutorial.md is executed as written: files it shows are written, commands run, output checked."""

import os
import re
import shutil
import subprocess
import sys

from conftest import ROOT

TUTORIAL = ROOT / "docs" / "tutorial.md"
BLOCK = re.compile(r"```(\w+)\n(.*?)```", re.S)


def steps() -> list[tuple[str, str]]:
    return [(lang, body) for lang, body in BLOCK.findall(TUTORIAL.read_text(encoding="utf-8"))]


def test_the_tutorial_runs_as_written(tmp_path):
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    last = ""
    ran = 0
    for lang, body in steps():
        if lang == "yaml" and body.startswith("# file: "):
            name = body.splitlines()[0].removeprefix("# file: ").strip()
            (tmp_path / name).write_text(body, encoding="utf-8")
        elif lang == "bash":
            last = ""
            for line in body.strip().splitlines():
                if not line.startswith("mtmrules "):
                    continue        # install lines: the suite already runs inside an install
                proc = subprocess.run([sys.executable, "-m", "mtmrules.cli", *line.split()[1:]], cwd=tmp_path,
                                      capture_output=True, text=True, env=env)
                assert proc.returncode == 0, f"{line}\n{proc.stdout}{proc.stderr}"
                last += proc.stdout
                ran += 1
        elif lang == "output":
            for expected in body.strip().splitlines():
                assert expected in last, f"tutorial expects {expected!r} in the output of the command above"
        elif lang == "python":
            proc = subprocess.run([sys.executable, "-c", body], cwd=tmp_path, capture_output=True, text=True, env=env)
            assert proc.returncode == 0, proc.stderr
            ran += 1
    assert ran >= 8


def test_docs_build_strict(tmp_path):
    """The docs site, with the API reference generated from docstrings, builds with warnings as errors."""
    mkdocs = shutil.which("mkdocs", path=os.path.dirname(sys.executable)) or shutil.which("mkdocs")
    if mkdocs is None:
        import pytest
        pytest.skip("mkdocs is in the 'docs' extra (installed by .ci/run)")
    proc = subprocess.run([mkdocs, "build", "--strict", "--site-dir", str(tmp_path / "site")], cwd=ROOT,
                          capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "check_many" in (tmp_path / "site" / "api" / "index.html").read_text(encoding="utf-8")
