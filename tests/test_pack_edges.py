"""Packs read only knowledge, and a bound must be a number: lint catches both with file:line."""

import os
import shutil
import subprocess
import sys

import pytest

from mtmrules.errors import InputError
from mtmrules.knowledge.base import KnowledgeBase

from conftest import ROOT

PACK = """pack: edge
version: 1.0.0
rules:
  - id: burden
    title: Burden
    kind: drug-drug-interaction
    severity: moderate
    when:
      total: {med: {class: nsaid}, measure: MEASURE, gte: BOUND}
    message: "x"
    why: "y"
    patient_text: "z"
    interventions: [{action: monitor, to: prescriber, text: "t"}]
    references: [kiesel-2018-gabs]
    tests:
      - fires: {medications: ["ibuprofen 400 mg three times daily"]}
      - silent: {medications: ["acetaminophen 500 mg daily"]}
"""


def lint(tmp_path, measure, bound):
    path = tmp_path / "edge.yaml"
    path.write_text(PACK.replace("MEASURE", measure).replace("BOUND", bound))
    proc = subprocess.run([sys.executable, "-m", "mtmrules.cli", "lint", str(path)], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, cwd=ROOT)
    assert "Traceback" not in proc.stderr
    return proc, str(path)


@pytest.mark.parametrize("measure", ['"../../../etc/passwd"', "/etc/passwd", '"anticholinergic_burden/../drugs"'])
def test_measure_must_name_a_knowledge_table(tmp_path, measure):
    proc, path = lint(tmp_path, measure, "3")
    assert proc.returncode == 2 and f"{path}:9: burden: measure:" in proc.stdout + proc.stderr


@pytest.mark.parametrize("bound", [".nan", ".inf", "-.inf"])
def test_non_finite_bound_fails_lint_with_its_line(tmp_path, bound):
    proc, path = lint(tmp_path, "daily_dose", bound)
    assert proc.returncode == 2 and f"{path}:9" in proc.stdout + proc.stderr


def test_a_real_measure_and_bound_pass_those_checks(tmp_path):
    proc, path = lint(tmp_path, "anticholinergic_burden", "3")
    assert f"{path}:9" not in proc.stdout + proc.stderr and "measure" not in proc.stdout + proc.stderr


def test_symlink_out_of_the_knowledge_folder_is_refused(tmp_path):
    knowledge = tmp_path / "knowledge"
    shutil.copytree(ROOT / "knowledge", knowledge)
    outside = tmp_path / "outside.csv"
    outside.write_text("ingredient,score,source\nibuprofen,1,beers-2023\n")
    (knowledge / "escape.csv").symlink_to(outside)
    kb = KnowledgeBase(knowledge)
    with pytest.raises(InputError, match="outside the knowledge folder"):
        kb.table("escape")
    assert kb.table("anticholinergic_burden")
