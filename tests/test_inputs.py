"""Bad input gets one clear line naming the file, the line and the field — never a traceback."""

import textwrap

import pytest

from mtmrules.engine.compiler import PackCompiler
from mtmrules.errors import InputError
from mtmrules.adapters.native import read_profiles

VALID_RULE = """\
pack: test-pack
version: 1.0.0
rules:
  - id: r1
    title: "{drug} test"
    kind: drug-drug-interaction
    severity: major
    when:
      med: {class: nsaid}
      as: drug
    message: "{drug} found"
    why: test
    interventions:
      - {action: stop, target: drug, text: "stop {drug}"}
    patient_text: "{drug}"
    references: [phansalkar-2012]
"""


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def compile_error(kb, tmp_path, text) -> InputError:
    with pytest.raises(InputError) as info:
        PackCompiler(kb).compile(write(tmp_path, "pack.yaml", text))
    return info.value


def test_valid_pack_compiles(kb, tmp_path):
    pack, rules = PackCompiler(kb).compile(write(tmp_path, "pack.yaml", VALID_RULE))
    assert pack.pack == "test-pack" and [r.id for r in rules] == ["test-pack/r1"]


def test_unknown_class_names_file_line_and_rule(kb, tmp_path):
    err = compile_error(kb, tmp_path, VALID_RULE.replace("class: nsaid", "class: nsiad"))
    assert str(err) == f"{tmp_path / 'pack.yaml'}:9: r1: unknown class 'nsiad'"


def test_unknown_key(kb, tmp_path):
    err = compile_error(kb, tmp_path, VALID_RULE.replace("    why: test\n", "    why: test\n    severty: major\n"))
    assert err.line == 13 and "unknown field" in str(err) and "r1" in str(err)


def test_wrong_type(kb, tmp_path):
    err = compile_error(kb, tmp_path, VALID_RULE.replace("severity: major", "severity: huge"))
    assert err.line == 7 and "severity" in str(err) and "'huge'" in str(err)


def test_yaml_syntax_error(kb, tmp_path):
    err = compile_error(kb, tmp_path, VALID_RULE.replace("title: \"{drug} test\"", "title: [unclosed"))
    assert "not valid YAML" in str(err) and err.line is not None


def test_unknown_placeholder(kb, tmp_path):
    err = compile_error(kb, tmp_path, VALID_RULE.replace('message: "{drug} found"', 'message: "{durg} found"'))
    assert "placeholder {durg}" in str(err) and err.line == 11


def test_unknown_reference(kb, tmp_path):
    err = compile_error(kb, tmp_path, VALID_RULE.replace("[phansalkar-2012]", "[no-such-source]"))
    assert "no-such-source" in str(err)


def test_duplicate_rule_ids(kb, tmp_path):
    rule = VALID_RULE.split("rules:\n")[1]
    err = compile_error(kb, tmp_path, VALID_RULE + rule)
    assert "duplicate rule id" in str(err)


def test_yaml_is_loaded_safely(kb, tmp_path):
    err = compile_error(kb, tmp_path, VALID_RULE.replace("title: \"{drug} test\"", "title: !!python/object/apply:os.system ['true']"))
    assert "not valid YAML" in str(err)


def test_profile_errors(tmp_path):
    path = write(tmp_path, "p.yaml", """\
        id: p1
        age: 70
        medications:
          - name: warfarin
            dose: 5 mg
            frequncy: daily
        """)
    with pytest.raises(InputError) as info:
        read_profiles(path)
    assert str(info.value).startswith(f"{path}:6: medications.0.frequncy: unknown field")


def test_profile_bad_date_and_missing_id(tmp_path):
    with pytest.raises(InputError) as info:
        read_profiles(write(tmp_path, "p.yaml", "id: p1\nbirth_date: 1948-13-45\n"))
    assert "birth_date" in str(info.value) and ":2:" in str(info.value)
    with pytest.raises(InputError) as info:
        read_profiles(write(tmp_path, "q.yaml", "age: 70\n"))
    assert "id: required field is missing" in str(info.value)


def test_profile_negative_days_supply(tmp_path):
    with pytest.raises(InputError) as info:
        read_profiles(write(tmp_path, "p.yaml", "id: p1\nmedications:\n  - name: metformin\n    fills: [{date: 2026-05-01, days_supply: -30}]\n"))
    assert "days_supply" in str(info.value)


def test_profile_json_and_lists(tmp_path):
    path = write(tmp_path, "p.json", '[{"id": "a", "medications": ["warfarin 5 mg daily"]}, {"id": "b"}]')
    profiles = read_profiles(path)
    assert [p.id for p in profiles] == ["a", "b"]
    assert profiles[0].medications[0].sig == "warfarin 5 mg daily"


def test_missing_file():
    with pytest.raises(InputError) as info:
        read_profiles("/no/such/file.yaml")
    assert "file not found" in str(info.value)


def test_json_profile_errors_carry_the_line(tmp_path):
    path = write(tmp_path, "p.json", '{\n  "id": "p1",\n  "medications": [\n    {"name": "warfarin", "frequncy": "daily"}\n  ]\n}\n')
    with pytest.raises(InputError) as info:
        read_profiles(path)
    assert str(info.value).startswith(f"{path}:4: medications.0.frequncy: unknown field")
