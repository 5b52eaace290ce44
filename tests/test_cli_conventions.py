"""CLI and API manners users know from ruff, Semgrep and pytest: versions, flags, output formats,
rule look-up, every-error linting, test selection, pack folders and sources, the Python entry points."""

import json
from datetime import datetime

import pandas as pd
import pytest

from mtmrules import InputError
from mtmrules.population.screen import Screening

from conftest import AS_OF, SHARED
from test_cli import EXAMPLE, run

GOOD_RULE = """
  - id: {id}
    title: "Warfarin on the list"
    kind: drug-drug-interaction
    severity: {severity}
    when: {{med: {{{filter}}}}}
    message: "m"
    why: "w"
    interventions: [{{action: monitor, text: "t"}}]
    patient_text: "p"
    references: [{ref}]
"""


def pack_text(name="site-extra", rules=(), sources=True):
    head = f"pack: {name}\nversion: '1'\n"
    if sources:
        head += "sources:\n  site-protocol:\n    citation: 'Example Hospital. Anticoagulation protocol. 2026.'\n"
    return head + "rules:" + "".join(GOOD_RULE.format(**r) for r in rules)


def rule(id="warfarin-listed", severity="major", filter="ingredient: warfarin", ref="site-protocol"):
    return {"id": id, "severity": severity, "filter": filter, "ref": ref}


def test_version_flag():
    from mtmrules import __version__
    assert run("--version", check_rc=0).stdout.strip() == f"mtmrules {__version__}"


def test_color_is_a_flag_pair():
    plain = run("check", str(EXAMPLE), "--as-of", "2026-11-27", "--no-color", check_rc=0).stdout
    coloured = run("check", str(EXAMPLE), "--as-of", "2026-11-27", "--color", check_rc=0).stdout
    assert "\x1b[" not in plain and "\x1b[" in coloured


def test_concise_and_jsonl_give_one_line_per_problem():
    full = json.loads(run("check", str(EXAMPLE), "-f", "json", "--as-of", "2026-11-27", check_rc=0).stdout)
    concise = run("check", str(EXAMPLE), "--output-format", "concise", "--as-of", "2026-11-27", check_rc=0).stdout
    lines = concise.splitlines()
    assert len(lines) == len(full["problems"])
    first = full["problems"][0]
    assert lines[0] == f"example-mrs-jones: #1 {first['severity']} {first['rule']}: {first['title']} " \
                       f"[{', '.join(first['medications'])}]"
    jsonl = run("check", str(EXAMPLE), "-f", "jsonl", "--as-of", "2026-11-27", check_rc=0).stdout.splitlines()
    rows = [json.loads(line) for line in jsonl]
    assert [r["rule"] for r in rows] == [p["rule"] for p in full["problems"]]
    assert all(r["patient"] == "example-mrs-jones" and r["as_of"] == "2026-11-27" for r in rows)


def test_select_and_ignore_by_rule_prefix():
    def rules_of(*args):
        out = run("check", str(EXAMPLE), "-f", "jsonl", "--as-of", "2026-11-27", *args, check_rc=0).stdout
        return {json.loads(line)["rule"] for line in out.splitlines()}
    everything = rules_of()
    only = rules_of("--select", "interactions/")
    assert only and only == {r for r in everything if r.startswith("interactions/")}
    without = rules_of("--ignore", "interactions/,geriatric/")
    assert without and not any(r.startswith(("interactions/", "geriatric/")) for r in without)
    proc = run("check", str(EXAMPLE), "--select", "no-such-rule", check_rc=2)
    assert "--select no-such-rule" in proc.stderr and proc.stderr.count("\n") == 1


def test_rules_shows_one_rule_and_filters():
    page = run("rules", "ddi-warfarin-nsaid", check_rc=0).stdout
    assert page.startswith("# interactions/ddi-warfarin-nsaid") and "## References" in page
    table = run("rules", "--kind", "renal-dose", "--pack", "renal", check_rc=0).stdout.splitlines()
    header, body, footer = table[0], table[1:-1], table[-1]
    assert header.split() == ["id", "kind", "severity", "tests"] and body
    assert all(line.split()[0].startswith("renal/") and line.split()[1] == "renal-dose" for line in body)
    assert len({line.index(line.split()[1], len(line.split()[0])) for line in body}) == 1   # aligned columns
    assert footer == f"{len(body)} rule" + ("" if len(body) == 1 else "s")
    assert "no such rule" in run("rules", "no-such-rule", check_rc=2).stderr
    assert "unknown kind" in run("rules", "--kind", "bogus", check_rc=2).stderr


def test_lint_reports_every_error_in_every_file(tmp_path):
    (tmp_path / "a.yaml").write_text(pack_text("pack-a", [rule("one", severity="huge"), rule("two", filter="class: nsiad"),
                                                          rule("three")]))
    (tmp_path / "b.yaml").write_text(pack_text("pack-b", [rule("four", ref="no-such-source")]))
    proc = run("lint", str(tmp_path), check_rc=2)
    lines = proc.stdout.splitlines()
    assert len(lines) == 3
    assert any(":" in l and "one" in l and "huge" in l for l in lines)
    assert any("two" in l and "unknown class 'nsiad'" in l for l in lines)
    assert any("b.yaml" in l and "four" in l and "no-such-source" in l for l in lines)
    assert "1 rule checked in 2 files, 3 errors" in proc.stderr


@pytest.mark.parametrize("fmt", ["github", "sarif", "json"])
def test_lint_output_formats(tmp_path, fmt):
    pack = tmp_path / "a.yaml"
    pack.write_text(pack_text("pack-a", [rule("two", filter="class: nsiad")]))
    out = run("lint", str(pack), "--output-format", fmt, check_rc=2).stdout
    if fmt == "github":
        assert out.startswith(f"::error file={pack},line=") and "unknown class 'nsiad'" in out
    elif fmt == "sarif":
        sarif = json.loads(out)
        result = sarif["runs"][0]["results"][0]
        assert sarif["version"] == "2.1.0" and result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == str(pack)
        assert result["locations"][0]["physicalLocation"]["region"]["startLine"] > 1
    else:
        record = json.loads(out)[0]
        assert record["file"] == str(pack) and record["rule"] == "two" and "nsiad" in record["message"]


def test_failing_test_points_at_the_test_line_and_shows_what_fired(tmp_path):
    pack = tmp_path / "p.yaml"
    text = pack_text("site-extra", [rule()]) + (
        "    tests:\n"
        "      - fires: {medications: ['warfarin 5 mg daily']}\n"
        "      - silent: {medications: ['warfarin 5 mg daily']}\n")
    pack.write_text(text)
    line = text.splitlines().index("      - silent: {medications: ['warfarin 5 mg daily']}") + 1
    proc = run("test", str(pack), check_rc=1)
    assert f"{pack}:{line}: FAIL site-extra/warfarin-listed test 2 (silent)" in proc.stdout
    assert "found: site-extra/warfarin-listed fired (major): warfarin 5 mg daily" in proc.stdout


def test_test_keyword_and_todo_selection(tmp_path):
    pack = tmp_path / "p.yaml"
    pack.write_text(pack_text("site-extra", [rule(), rule("nsaid-listed", filter="class: nsaid")])
                    .replace('references: [site-protocol]\n', 'references: [site-protocol]\n    tests:\n'
                             "      - fires: {medications: ['warfarin 5 mg daily']}\n"
                             "      - todo_silent: {medications: ['warfarin 5 mg daily']}\n", 1))
    proc = run("test", str(pack), "-k", "warfarin", check_rc=0)
    assert proc.stdout.strip().endswith("2 passed, 0 failed")
    todo = run("test", str(pack), "--todo", check_rc=0).stdout
    assert "gap open" in todo and "todo_silent" in todo and todo.strip().endswith("1 passed, 0 failed")
    assert "no tests matched" in run("test", str(pack), "-k", "zzz", check_rc=0).stderr


def test_pack_folder_and_pack_sources(tmp_path):
    (tmp_path / "one.yaml").write_text(pack_text("site-one", [rule()]))
    (tmp_path / "two.yaml").write_text(pack_text("site-two", [rule("nsaid-listed", filter="class: nsaid")], sources=False)
                                       .replace("[site-protocol]", "[hl7-pddi-cds]"))
    out = run("check", str(EXAMPLE), "--pack", str(tmp_path), "-f", "json", "--as-of", "2026-11-27",
              "--select", "site-", check_rc=0).stdout
    problems = json.loads(out)["problems"]
    assert {p["rule"] for p in problems} == {"site-one/warfarin-listed", "site-two/nsaid-listed"}
    cited = next(p for p in problems if p["rule"] == "site-one/warfarin-listed")["references"][0]
    assert cited == {"key": "site-protocol", "citation": "Example Hospital. Anticoagulation protocol. 2026.", "url": None}
    clash = tmp_path / "clash.yaml"
    clash.write_text(pack_text("site-three", [rule()]).replace("site-protocol:", "hl7-pddi-cds:")
                     .replace("[site-protocol]", "[hl7-pddi-cds]"))
    assert "already defined" in run("lint", str(clash), check_rc=2).stdout


def test_singular_and_plural():
    from mtmrules.wording import plural
    assert plural(1, "rule") == "1 rule" and plural(0, "error") == "0 errors" and plural(2, "patient") == "2 patients"


# --- Python API ----------------------------------------------------------------------------------

def test_check_accepts_every_input_shape(engine, tmp_path):
    bundle_path = SHARED / "fixtures" / "synthea-r4"
    bundle_file = sorted(bundle_path.glob("*.json"))[0]
    bundle = json.loads(bundle_file.read_text())
    from_dict = engine.check(bundle, as_of=AS_OF)
    from_path = engine.check(bundle_file, as_of=AS_OF)
    from_str = engine.check(str(bundle_file), as_of=AS_OF)
    resources = [e["resource"] for e in bundle["entry"]]
    from_list = engine.check(resources, as_of=AS_OF)
    assert from_dict.to_json() == from_path.to_json() == from_str.to_json() == from_list.to_json()
    profile = engine.profile(bundle)
    assert engine.check(profile, as_of=AS_OF).to_json() == from_dict.to_json()
    native = engine.check(EXAMPLE, as_of=AS_OF)
    assert native.patient.id == "example-mrs-jones"


def test_check_many_and_as_of_types(engine, tmp_path):
    reports = list(engine.check_many([EXAMPLE, {"id": "two", "medications": ["warfarin 5 mg daily"]}], as_of=AS_OF))
    assert [r.patient.id for r in reports] == ["example-mrs-jones", "two"]
    folder = list(engine.check_many(SHARED / "fixtures" / "synthea-r4", as_of=AS_OF))
    assert len(folder) == 40
    as_text = engine.check(EXAMPLE, as_of="2026-11-27").to_json()
    as_datetime = engine.check(EXAMPLE, as_of=datetime(2026, 11, 27, 15, 30)).to_json()
    assert as_text == as_datetime == engine.check(EXAMPLE, as_of=AS_OF).to_json()
    for bad in ("27/11/2026", 20261127, [2026, 11, 27]):
        with pytest.raises(InputError, match="as_of: expected a datetime.date"):
            engine.check(EXAMPLE, as_of=bad)
    with pytest.raises(InputError, match="expected one patient, found 40"):
        engine.check(SHARED / "fixtures" / "synthea-r4", as_of=AS_OF)


def test_report_to_frame(engine):
    report = engine.check(EXAMPLE, as_of=AS_OF)
    frame = report.to_frame()
    assert list(frame["rule"]) == [p.rule for p in report.problems]
    assert set(frame["patient_id"]) == {"example-mrs-jones"} and frame["rank"].tolist() == list(range(1, len(frame) + 1))
    empty = engine.check({"id": "none", "medications": []}, as_of=AS_OF).to_frame()
    assert empty.empty and "severity" in empty.columns


def test_engine_screen_returns_problems_and_summary(engine):
    result = engine.screen(SHARED / "fixtures" / "bulk-fhir-10", as_of=AS_OF)
    assert isinstance(result, Screening)
    assert isinstance(result.problems, pd.DataFrame) and isinstance(result.summary, pd.DataFrame)
    assert len(result.summary) == result.totals.screened > 0
    per_patient = result.problems.groupby("patient_id").size()
    summary = result.summary.set_index("patient_id")["problems"]
    assert all(summary[pid] == n for pid, n in per_patient.items())


def test_screen_progress_knows_the_total():
    from mtmrules.population.screen import estimate_patients
    bulk = SHARED / "fixtures" / "bulk-fhir-10"
    with open(bulk / "Patient.000.ndjson", "rb") as handle:
        assert estimate_patients(bulk) == sum(1 for line in handle if line.strip())
    assert estimate_patients(SHARED / "fixtures" / "synthea-r4") == 40
    assert estimate_patients(pd.DataFrame({"patient_id": ["a", "a", "b"]})) == 2


def test_session_entry_points_from_python(engine):
    """The documented Python path to intake, review, plan and letters gives what the CLI gives."""
    from mtmrules.session import prepare, read_session
    from mtmrules.session.plan import Contact, render_html
    session = prepare(engine, EXAMPLE, "2026-11-27", read_session(EXAMPLE.parent / "mrs-jones-session.yaml"))
    assert session.report.patient.id == "example-mrs-jones"
    questions = prepare(engine, EXAMPLE, AS_OF).intake()
    cli_intake = json.loads(run("intake", str(EXAMPLE), "--as-of", "2026-11-27", "-f", "json", check_rc=0).stdout)
    assert [q.to_dict() for q in questions] == cli_intake
    rows = session.review()
    assert {r.medication for r in rows} and len(rows) == len(session.profile.medications)
    html = render_html(session.plan(Contact(pharmacist="A. Patel, PharmD", phone="555-0100")))
    assert "A. Patel, PharmD" in html and "555-0100" in html
    letters = session.letters()
    assert letters and all(letter.prescriber and letter.prescriber.lower() != "self" for letter in letters)


def test_every_format_that_help_lists_works(tmp_path):
    """Each --format / --output-format choice of every command runs (exit 0, some output)."""
    import shutil

    import click
    import typer.main

    from mtmrules.cli import app
    as_of = ("--as-of", "2026-11-27")
    args = {"check": (str(EXAMPLE), *as_of), "intake": (str(EXAMPLE), *as_of), "review": (str(EXAMPLE), *as_of),
            "plan": (str(EXAMPLE), *as_of), "letter": (str(EXAMPLE), *as_of), "rules": (), "coverage": (),
            "diff": (str(EXAMPLE), str(EXAMPLE), *as_of), "lint": (), "sig": ("1 tab po bid",)}
    command = typer.main.get_command(app)
    listed = {}
    for name, sub in command.commands.items():
        for param in sub.params:
            if isinstance(param, click.Option) and {"--format", "--output-format"} & set(param.opts) \
                    and isinstance(param.type, click.Choice):
                listed[name] = list(param.type.choices)
    assert set(listed) <= set(args), f"add arguments for {set(listed) - set(args)} to this test"
    for name, choices in listed.items():
        for choice in choices:
            extra = ()
            if name == "plan" and choice == "pdf":
                if shutil.which("chromium") is None:
                    continue
                extra = ("--output", str(tmp_path / "plan.pdf"))
            proc = run(name, *args[name], "--format", choice, *extra)
            assert proc.returncode == 0, f"mtmrules {name} --format {choice}: {proc.stderr}"
            assert proc.stdout.strip() or extra, f"mtmrules {name} --format {choice} printed nothing"
