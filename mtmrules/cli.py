"""The ``mtmrules`` command line (DESIGN §5.3).

Exit codes: 0 success; 1 problems at or above ``--fail-on`` (only when given), or failing rule tests;
2 bad input, with one line naming the file and field — never a traceback.
"""

from __future__ import annotations

import json
import sys
from datetime import date
from enum import Enum
from pathlib import Path
from typing import Optional

import typer

from mtmrules.errors import MtmRulesError
from mtmrules.wording import plural

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Find medication-related problems in patient profiles with declarative YAML rule packs.")


class Format(str, Enum):
    text = "text"
    json = "json"


class CheckFormat(str, Enum):
    text = "text"
    json = "json"
    fhir = "fhir"
    concise = "concise"
    jsonl = "jsonl"


class LintFormat(str, Enum):
    text = "text"
    github = "github"
    sarif = "sarif"
    json = "json"


class ExecutorName(str, Enum):
    fast = "fast"
    naive = "naive"
    durable = "durable"
    columnar = "columnar"


class SchemaName(str, Enum):
    pack = "pack"
    profile = "profile"
    report = "report"
    site = "site"


SEVERITY_RANK = {"minor": 0, "moderate": 1, "major": 2, "contraindicated": 3}


def _fail(error: Exception) -> None:
    typer.echo(f"error: {error}", err=True)
    raise typer.Exit(2)


_SITE: Path | None = None   # --site: the site policy every screening command applies


def _show_version(value: bool) -> None:
    if value:
        from mtmrules import __version__
        typer.echo(f"mtmrules {__version__}")
        raise typer.Exit(0)


@app.callback()
def global_options(
    site: Optional[Path] = typer.Option(
        None, "--site", envvar="MTMRULES_SITE",
        help="Site policy (YAML): rules switched off or re-tiered, minimum severity; see docs/site-policy.md."),
    version: bool = typer.Option(False, "--version", callback=_show_version, is_eager=True,
                                 help="Print the version and exit."),
) -> None:
    """Find medication-related problems with declarative rule packs."""
    global _SITE
    _SITE = site


def _prefixes(values: list[str] | None) -> list[str]:
    """``--select a,b --select c`` → [a, b, c]."""
    return [part.strip() for value in values or () for part in value.split(",") if part.strip()]


def _engine(packs: list[Path] | None, executor: str, only: bool = False, select: list[str] | None = None,
            ignore: list[str] | None = None):
    """The engine for a screening command: the packs (files or folders) plus the site policy (rule tests
    use neither); ``select`` / ``ignore``: rule-id prefixes."""
    from mtmrules.engine.engine import Engine, builtin_pack_paths
    if packs and only:
        return Engine(packs=list(packs), executor=executor)
    return Engine(packs=[*builtin_pack_paths(), *(packs or [])], executor=executor, site=_SITE,
                  select=_prefixes(select), ignore=_prefixes(ignore))


def _parse_date(text: str | None) -> date:
    if text is None:
        return date.today()
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise MtmRulesError(f"--as-of: expected a date as YYYY-MM-DD (got {text!r})") from None


@app.command()
def check(
    profiles: list[Path] = typer.Argument(..., help="Native profiles (JSON/YAML), FHIR Bundles or resource lists "
                                                     "(JSON/NDJSON), or FHIR Bulk Data export folders."),
    format: CheckFormat = typer.Option(
        CheckFormat.text, "--format", "--output-format", "-f",
        help="text table; report JSON; a FHIR Bundle of DetectedIssues; concise (one line per problem); "
             "jsonl (one JSON object per problem)"),
    as_of: Optional[str] = typer.Option(None, "--as-of", help="Evaluation date YYYY-MM-DD (default: today)."),
    pack: list[Path] = typer.Option([], "--pack", help="Extra rule pack file or folder of packs (repeatable)."),
    select: list[str] = typer.Option([], "--select", help="Only rules whose id starts with one of these prefixes "
                                                         "(comma-separated or repeated), e.g. interactions/,renal/"),
    ignore: list[str] = typer.Option([], "--ignore", help="Leave out rules whose id starts with one of these prefixes."),
    engine: ExecutorName = typer.Option(ExecutorName.fast, "--engine"),
    fail_on: Optional[str] = typer.Option(None, "--fail-on", help="Exit 1 if a problem has this severity or worse."),
    color: bool = typer.Option(False, "--color/--no-color", help="Colour the text output."),
) -> None:
    """Screen patient profiles and print ranked problems."""
    from mtmrules.adapters.inputs import read_any
    from mtmrules.report.lines import concise_lines, jsonl_lines
    from mtmrules.report.text import render_text
    try:
        when = _parse_date(as_of)
        if fail_on is not None and fail_on not in SEVERITY_RANK:
            raise MtmRulesError(f"--fail-on: expected one of {', '.join(SEVERITY_RANK)} (got {fail_on!r})")
        eng = _engine(pack, engine.value, select=select, ignore=ignore)
        loaded = [p for path in profiles for p in read_any(path)]
        reports = [eng.check(p, as_of=when) for p in loaded]
    except MtmRulesError as exc:
        _fail(exc)
        return
    from mtmrules.report.json_text import dumps_indented
    if format in (CheckFormat.concise, CheckFormat.jsonl):
        lines = [line for r in reports for line in (concise_lines(r) if format is CheckFormat.concise else jsonl_lines(r))]
        if lines:
            typer.echo("\n".join(lines))
    elif format is CheckFormat.fhir:
        from mtmrules.report.fhir import detected_issue_bundle
        typer.echo(dumps_indented(detected_issue_bundle(reports)))
    elif format is CheckFormat.json:
        data = [r.to_dict() for r in reports]
        single = len(data) == 1 and len(profiles) == 1 and not profiles[0].is_dir()
        typer.echo(dumps_indented(data[0] if single else data))
    else:
        typer.echo("\n".join(render_text(r, color=color) for r in reports), nl=False, color=color or None)
    if fail_on is not None:
        threshold = SEVERITY_RANK[fail_on]
        if any(SEVERITY_RANK[p.severity] >= threshold for r in reports for p in r.problems):
            raise typer.Exit(1)


def _pack_paths(packs: list[Path]) -> list[Path]:
    from mtmrules.engine.engine import builtin_pack_paths
    return list(packs) if packs else builtin_pack_paths()


@app.command()
def lint(
    packs: list[Path] = typer.Argument(None, help="Pack files or folders (default: the built-in packs)."),
    output_format: LintFormat = typer.Option(LintFormat.text, "--output-format", "--format", "-f",
                                             help="text (file:line: rule: message), github (Actions annotations), "
                                                  "sarif (2.1.0) or json"),
) -> None:
    """Validate rule packs and report every error in every file, each as file:line: rule-id: message."""
    from mtmrules import __version__
    from mtmrules.engine.compiler import PackCompiler
    from mtmrules.engine.engine import expand_pack_paths
    from mtmrules.engine.lint_output import render
    from mtmrules.knowledge.base import KnowledgeBase
    try:
        compiler = PackCompiler(KnowledgeBase())
        paths = _pack_paths(expand_pack_paths(packs or []))
    except MtmRulesError as exc:
        _fail(exc)
        return
    errors, count = [], 0
    for path in paths:
        rules, found = compiler.lint(path)
        count += rules
        errors += found
    text = render(errors, output_format.value, __version__)
    if text or output_format in (LintFormat.json, LintFormat.sarif):
        typer.echo(text)
    typer.echo(f"{plural(count, 'rule')} checked in {plural(len(paths), 'file')}, {plural(len(errors), 'error')}",
               err=True)
    raise typer.Exit(2 if errors else 0)


@app.command()
def test(
    packs: list[Path] = typer.Argument(None, help="Pack files or folders (default: the built-in packs)."),
    engine: ExecutorName = typer.Option(ExecutorName.fast, "--engine"),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="List passing tests too."),
    keyword: Optional[str] = typer.Option(None, "-k", help="Only rules whose id contains this text."),
    todo: bool = typer.Option(False, "--todo", help="Only the todo_fires / todo_silent tests (known gaps), with "
                                                    "whether each gap is still open."),
) -> None:
    """Run every rule's embedded tests; print 'N passed, N failed'. A failure names the test's own
    file:line and shows what the engine found instead."""
    from mtmrules.engine.testing import run_rule_tests
    try:
        eng = _engine(packs, engine.value, only=True)
        results = run_rule_tests(eng, engine.value, keyword=keyword, todo_only=todo)
    except MtmRulesError as exc:
        _fail(exc)
        return
    for r in results:
        if todo:
            state = "gap open  " if r.passed else "gap closed"
            typer.echo(f"{r.location}: {state} {r.rule} test {r.index + 1} ({r.expectation}) {r.detail}".rstrip())
        elif not r.passed or verbose:
            status = "ok  " if r.passed else "FAIL"
            typer.echo(f"{r.location}: {status} {r.rule} test {r.index + 1} ({r.expectation}) {r.detail}".rstrip())
            for line in r.found if not r.passed else ():
                typer.echo(f"    found: {line}")
    passed = sum(r.passed for r in results)
    failed = len(results) - passed
    if not results:
        typer.echo("no tests matched" + (f" -k {keyword!r}" if keyword else ""), err=True)
    typer.echo(f"{passed} passed, {failed} failed")
    raise typer.Exit(1 if failed else 0)


@app.command()
def schema(which: SchemaName = typer.Argument(..., help="pack, profile, report or site")) -> None:
    """Print the JSON Schema of rule packs, profiles or reports."""
    from mtmrules.schema import json_schema
    typer.echo(json.dumps(json_schema(which.value), indent=2))


@app.command()
def rules(
    rule: Optional[str] = typer.Argument(None, help="One rule id (or template id): show that rule in full, "
                                                    "like 'ruff rule E501'."),
    format: Format = typer.Option(Format.text, "--format", "-f"),
    pack: list[str] = typer.Option([], "--pack", help="A pack name to list (e.g. renal), or a pack file/folder to "
                                                      "load and list (repeatable)."),
    kind: list[str] = typer.Option([], "--kind", help="Only rules of this kind (e.g. renal-dose; repeatable)."),
) -> None:
    """List rules (a table-driven rule once per table row), or show one rule in full."""
    from mtmrules.docgen import rule_page
    paths = [Path(p) for p in pack if Path(p).exists()]
    names = [p for p in pack if not Path(p).exists()]
    try:
        eng = _engine(paths, "naive")
        if paths:
            from mtmrules.engine.compiler import PackCompiler
            from mtmrules.engine.engine import expand_pack_paths
            names += [PackCompiler(eng.kb).parse(p)[0].pack for p in expand_pack_paths(paths)]
        unknown = sorted(set(names) - set(eng.packs))
        if unknown:
            raise MtmRulesError(f"--pack: no pack named {', '.join(unknown)} (packs: {', '.join(sorted(eng.packs))})")
        from mtmrules.engine.pack import Kind
        from typing import get_args
        bad = sorted(set(kind) - set(get_args(Kind)))
        if bad:
            raise MtmRulesError(f"--kind: unknown kind {', '.join(bad)} (kinds: {', '.join(get_args(Kind))})")
        selected = [r for r in eng.rules if (not names or r.pack in names) and (not kind or r.kind in kind)]
        if rule is not None:
            wanted = rule.removesuffix("/")
            found = [r for r in selected if r.id == wanted or f"{r.pack}/{r.template_id}" == wanted
                     or r.template_id == wanted or r.id.split("/", 1)[1] == wanted]
            if not found:
                raise MtmRulesError(f"{rule}: no such rule (see 'mtmrules rules' for the ids)")
            if len(found) > 1 and len({f"{r.pack}/{r.template_id}" for r in found}) > 1:
                raise MtmRulesError(f"{rule}: ambiguous, give the pack too: "
                                    + ", ".join(sorted({f'{r.pack}/{r.template_id}' for r in found})))
    except MtmRulesError as exc:
        _fail(exc)
        return
    if rule is not None:
        if format is Format.json:
            typer.echo(json.dumps([_rule_row(r) | {"message": r.message, "why": r.why, "patient_text": r.patient_text,
                                                   "interventions": list(r.interventions),
                                                   "source": f"{r.source_file}:{r.source_line}"} for r in found], indent=2))
        else:
            typer.echo(rule_page(eng, found), nl=False)
        return
    rows = [_rule_row(r) for r in selected]
    if format is Format.json:
        typer.echo(json.dumps(rows, indent=2))
        return
    widths = {key: max([len(key), *(len(str(row[key])) for row in rows)]) for key in ("id", "kind", "severity")}
    typer.echo(f"{'id':<{widths['id']}}  {'kind':<{widths['kind']}}  {'severity':<{widths['severity']}}  tests")
    for row in rows:
        typer.echo(f"{row['id']:<{widths['id']}}  {row['kind']:<{widths['kind']}}  "
                   f"{row['severity']:<{widths['severity']}}  {row['tests']}")
    typer.echo(plural(len(rows), "rule"))


def _rule_row(r) -> dict:
    return {"id": r.id, "pack": r.pack, "kind": r.kind, "category": r.category, "severity": r.severity,
            "title": r.title, "references": list(r.references), "tests": len(r.tests)}


@app.command()
def explain(
    profile: Path = typer.Argument(..., help="One patient profile (native or FHIR)."),
    rule: str = typer.Argument(..., help="Rule id, as 'mtmrules rules' lists it."),
    as_of: Optional[str] = typer.Option(None, "--as-of"),
    pack: list[Path] = typer.Option([], "--pack", help="Extra rule pack(s)."),
) -> None:
    """Why RULE fires, stays silent or is not evaluated for this patient: its condition tree, each
    node true (✔), false (✘) or unknown (?), with the evidence found or the data missing."""
    from mtmrules.engine.explain import explain as explain_rule
    from mtmrules.adapters.inputs import read_any
    try:
        eng = _engine(pack, "naive")
        profiles = list(read_any(profile))
        if len(profiles) != 1:
            raise MtmRulesError(f"{profile}: expected one patient, found {len(profiles)}")
        typer.echo(explain_rule(eng.rules, eng.facts.build(profiles[0], _parse_date(as_of)), rule), nl=False)
    except MtmRulesError as exc:
        _fail(exc)


@app.command()
def sig(
    text: str = typer.Argument(..., help="The sig as written, e.g. '1-2 po q4-6h prn pain mdd 6'."),
    product: Optional[str] = typer.Option(None, "--product", help="The product it is for, e.g. "
                                                                  "'tramadol 50 mg tablet' (for daily mg)."),
    format: Format = typer.Option(Format.text, "--format", "-f"),
) -> None:
    """How a sig is read: amount, administrations per day, PRN, written maximum, phases, timing anchors,
    the daily amount of each ingredient of --product, and the reading's trace."""
    from mtmrules.knowledge.base import KnowledgeBase, default_knowledge_dir
    from mtmrules.knowledge.resolve import Resolver
    from mtmrules.knowledge.sig import daily_dose, read_sig
    from mtmrules.knowledge.sig.render import to_dict, to_text
    reading = read_sig(text)
    ingredients, dose = None, None
    if product is not None:
        try:
            res = Resolver(KnowledgeBase(default_knowledge_dir())).drug(product)
        except MtmRulesError as exc:
            _fail(exc)
            return
        ingredients = list(res.ingredients)
        dose = daily_dose(reading, res.ingredients, res.strengths, res.form)
    if format is Format.json:
        typer.echo(json.dumps(to_dict(reading, product, ingredients, dose), indent=2, ensure_ascii=False))
    else:
        typer.echo(to_text(reading, product, ingredients, dose), nl=False)


@app.command()
def coverage(
    inputs: list[Path] = typer.Argument(None, help="Profiles, FHIR files or Bulk folders to measure drug resolution on."),
    format: Format = typer.Option(Format.text, "--format", "-f"),
) -> None:
    """Count rules per kind and knowledge breadth; with inputs, the drug-resolution rate."""
    from mtmrules.coverage import resolution_rate, rule_counts
    from mtmrules.engine.engine import Engine
    try:
        eng = Engine(executor="naive")
        result = rule_counts(eng)
        if inputs:
            result["resolution"] = resolution_rate(eng, list(inputs))
    except MtmRulesError as exc:
        _fail(exc)
        return
    if format is Format.json:
        typer.echo(json.dumps(result, indent=2))
        return
    typer.echo(plural(result['rules'], "rule"))
    for kind, n in result["by_kind"].items():
        typer.echo(f"  {kind:<24} {n}")
    for key in ("ingredients", "products", "classes", "condition_groups", "sources", "max_daily_dose_ingredients",
                "renal_threshold_drugs"):
        typer.echo(f"{key.replace('_', ' ')}: {result[key]}")
    for area, n in result["areas"].items():
        typer.echo(f"area {area}: {n['rules']} rules ({n['templates']} written), {n['rows']} knowledge rows")
    if "resolution" in result:
        res = result["resolution"]
        typer.echo(f"drug resolution: {res['resolution_rate']:.1%} of {res['active_medications']} active medications "
                   f"({plural(res['patients'], 'patient')}): {res['by_status']}")
        for name, n in res["unresolved"].items():
            typer.echo(f"  unresolved ×{n}: {name}")


@app.command()
def docs(out: Path = typer.Option(Path("docs/rules"), "--out", help="Folder for the generated pages.")) -> None:
    """Generate one reference page per rule (plus an index) from the packs."""
    from mtmrules.docgen import write_rule_docs
    try:
        from mtmrules.engine.engine import Engine
        count = write_rule_docs(Engine(executor="naive"), out)
    except MtmRulesError as exc:
        _fail(exc)
        return
    typer.echo(f"wrote {count} rule pages to {out}")


@app.command()
def hook(
    request: Path = typer.Argument(..., help="A CDS Hooks request (JSON) with hook, context and prefetch."),
    service: Optional[str] = typer.Option(None, "--service", help="Service id (default: from the request's hook)."),
    as_of: Optional[str] = typer.Option(None, "--as-of", help="Evaluation date YYYY-MM-DD (default: today)."),
    db: Optional[Path] = typer.Option(None, "--db", help="SQLite suppression store (default: none)."),
) -> None:
    """Run one CDS Hooks request offline and print the response (the server's code path)."""
    from mtmrules.service.cdshooks import SERVICES, CdsHooksService, HookError
    from mtmrules.service.store import SuppressionStore
    try:
        when = _parse_date(as_of) if as_of else None
        try:
            body = json.loads(request.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise MtmRulesError(f"{request}: file not found") from None
        except json.JSONDecodeError as exc:
            raise MtmRulesError(f"{request}:{exc.lineno}: not valid JSON: {exc.msg}") from None
        sid = service or next((k for k, v in SERVICES.items() if isinstance(body, dict) and v[0] == body.get("hook")), None)
        if sid is None:
            raise MtmRulesError(f"{request}: hook: expected one of {', '.join(v[0] for v in SERVICES.values())}")
        svc = CdsHooksService(_engine(None, "fast"), SuppressionStore(db) if db else None, when,
                              card_key=b"mtmrules offline replay")   # same request, same card uuids
        typer.echo(json.dumps(svc.call(sid, body), indent=2, ensure_ascii=False))
    except HookError as exc:
        typer.echo(json.dumps(exc.outcome), err=False)
        typer.echo(f"error: HTTP {exc.status}: {exc}", err=True)
        raise typer.Exit(2)
    except MtmRulesError as exc:
        _fail(exc)


@app.command()
def serve(
    config: Optional[Path] = typer.Option(None, "--config", help="Service configuration (YAML): audience, trusted "
                                          "issuers with their JWKS and FHIR servers, CORS origins, limits."),
    host: str = typer.Option("127.0.0.1", "--host"),
    port: int = typer.Option(8080, "--port"),
    insecure_no_auth: bool = typer.Option(False, "--insecure-no-auth", help="Local development only: no "
                                          "authentication; refuses non-loopback addresses; warns on every request."),
    workers: int = typer.Option(1, "--workers", min=1, help="Server processes (one per core); they share the SQLite "
                                "file, so a token id used in one is refused in all."),
) -> None:
    """Serve CDS Hooks 2.0 (discovery, patient-view, order-select, order-sign, feedback), authenticated."""
    import logging

    try:
        import uvicorn
    except ImportError:
        _fail(MtmRulesError("the server needs the optional extra: pip install -e '.[serve]' (from a checkout)"))
        return
    from mtmrules.service.app import create_app
    from mtmrules.service.cdshooks import CdsHooksService
    from mtmrules.service.config import ServiceConfig, is_loopback, load_config
    from mtmrules.service.store import SuppressionStore
    try:
        if insecure_no_auth and not is_loopback(host):
            raise MtmRulesError(f"--insecure-no-auth only binds a loopback address (127.0.0.1, ::1), not {host!r}")
        if config is None and not insecure_no_auth:
            raise MtmRulesError("serve needs --config service.yaml (trusted issuers); see docs/deployment.md. "
                                "For local development only: --insecure-no-auth")
        if workers > 1 and config is None:
            raise MtmRulesError("--workers needs --config")
        settings = load_config(config) if config else ServiceConfig(audience=f"http://{host}:{port}")
        store = SuppressionStore(settings.db, days=settings.suppress_days, card_memory_s=settings.card_memory_s)
        app_ = create_app(CdsHooksService(_engine(None, "fast"), store), settings, insecure_no_auth=insecure_no_auth)
    except MtmRulesError as exc:
        _fail(exc)
        return
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    if workers > 1:   # each process builds its own app from the same file (checked above)
        import os

        from mtmrules.service.app import CONFIG_ENV
        os.environ[CONFIG_ENV] = str(config.resolve())
        if _SITE:
            os.environ["MTMRULES_SITE"] = str(_SITE.resolve())
        store.close()
        uvicorn.run("mtmrules.service.app:app_from_environment", factory=True, workers=workers, host=host, port=port,
                    log_level="warning", server_header=False)
        return
    uvicorn.run(app_, host=host, port=port, log_level="warning", server_header=False)


@app.command()
def screen(
    source: Path = typer.Argument(..., help="Bulk NDJSON folder, folder of profiles/bundles, or claims CSV/Parquet."),
    out: Path = typer.Option(..., "--out", help="Problems table (.csv or .parquet); .summary and .errors files beside it."),
    as_of: Optional[str] = typer.Option(None, "--as-of"),
    engine: ExecutorName = typer.Option(ExecutorName.columnar, "--engine"),
    workers: int = typer.Option(1, "--workers", min=1, help="Worker processes."),
    chunk: Optional[int] = typer.Option(None, "--chunk", min=1, help="Patients per chunk (default 500; 1000 with --engine columnar)."),
    diagnoses: Optional[Path] = typer.Option(None, "--diagnoses", help="Claims input: diagnosis table."),
    patients: Optional[Path] = typer.Option(None, "--patients", help="Claims input: patient table."),
    mtm_diseases: int = typer.Option(3, "--mtm-diseases", help="MTM targeting: the plan's minimum number of CMS core chronic diseases (1-3)."),
    mtm_drugs: int = typer.Option(8, "--mtm-drugs", help="MTM targeting: the plan's minimum number of drugs (1-8)."),
) -> None:
    """Screen a whole population: one row per problem and a per-patient summary with a CMR priority
    score and the Part D MTM disease and drug-count criteria."""
    from mtmrules.population.screen import screen as run_screen
    try:
        if engine.value == "durable" and workers > 1:
            raise MtmRulesError("--engine durable runs in one process only (durable_rules is not fork/thread safe)")
        summary = run_screen(source, out, _parse_date(as_of), engine.value, workers, chunk,
                             diagnoses=str(diagnoses) if diagnoses else None, patients=str(patients) if patients else None,
                             mtm=(mtm_diseases, mtm_drugs), engine=_engine(None, engine.value))
    except MtmRulesError as exc:
        _fail(exc)
        return
    typer.echo(f"read {plural(summary.read, 'patient')} · screened {summary.screened} · rejected {summary.rejected} · "
               f"{plural(summary.records_rejected, 'input record')} skipped · {plural(summary.problems, 'problem')} · "
               f"{summary.mtm_eligible} meet the MTM disease and drug criteria", err=True)
    if summary.top_priority:
        typer.echo("highest CMR priority: " + ", ".join(f"{pid} ({score:g})" for score, pid in summary.top_priority[:5]),
                   err=True)
    for key, path in summary.outputs.items():
        typer.echo(f"{key}: {path}", err=True)


class ReviewFormat(str, Enum):
    text = "text"
    json = "json"
    html = "html"


def _prepared(profile: Path, as_of: Optional[str], session: Optional[Path]):
    """Engine + the one profile in PROFILE + decisions from --session."""
    from mtmrules.adapters.inputs import read_any
    from mtmrules.session.decisions import read_session
    from mtmrules.session.runner import prepare
    when = _parse_date(as_of)
    profiles = list(read_any(profile))
    if len(profiles) != 1:
        raise MtmRulesError(f"{profile}: expected one patient, found {len(profiles)}")
    engine = _engine(None, "fast")
    return engine, prepare(engine, profiles[0], when, read_session(session) if session else None)


@app.command()
def intake(
    profile: Path = typer.Argument(...), as_of: Optional[str] = typer.Option(None, "--as-of"),
    format: Format = typer.Option(Format.text, "--format", "-f"),
) -> None:
    """Before the session: what is missing or stale, as questions to ask or look up."""
    from mtmrules.session.intake import intake_questions
    try:
        engine, prep = _prepared(profile, as_of, None)
        questions = intake_questions(engine.kb, prep.profile, prep.facts, prep.report)
    except MtmRulesError as exc:
        _fail(exc)
        return
    if format is Format.json:
        typer.echo(json.dumps([q.to_dict() for q in questions], indent=2))
        return
    for i, q in enumerate(questions, 1):
        typer.echo(f"{i}. [{q.topic}] {q.question}\n   why: {q.why}")
    if not questions:
        typer.echo("Nothing missing: the profile is complete enough for a review.")


@app.command()
def review(
    profile: Path = typer.Argument(...), as_of: Optional[str] = typer.Option(None, "--as-of"),
    format: ReviewFormat = typer.Option(ReviewFormat.text, "--format", "-f"),
    session: Optional[Path] = typer.Option(None, "--session", help="Pharmacist decisions (YAML/JSON)."),
) -> None:
    """The per-medication review: indication, effectiveness, safety, adherence."""
    try:
        engine, prep = _prepared(profile, as_of, session)
        rows = prep.review(engine)
    except MtmRulesError as exc:
        _fail(exc)
        return
    if format is ReviewFormat.json:
        typer.echo(json.dumps([r.to_dict() for r in rows], indent=2, ensure_ascii=False))
    elif format is ReviewFormat.html:
        from jinja2 import Environment, PackageLoader, select_autoescape
        env = Environment(loader=PackageLoader("mtmrules.session", "templates"), autoescape=select_autoescape(["html"]))
        typer.echo(env.get_template("review.html.j2").render(rows=rows, patient=prep.report.patient.id,
                                                             as_of=prep.report.as_of.isoformat()))
    else:
        for r in rows:
            typer.echo(f"{r.medication}\n  how taken:     {r.how_taken}\n  indication:    {r.indication}\n"
                       f"  effectiveness: {r.effectiveness}\n  safety:        {'; '.join(r.safety) or 'no problems found'}\n"
                       f"  adherence:     {r.adherence}")


class PlanFormat(str, Enum):
    html = "html"
    pdf = "pdf"
    md = "md"
    json = "json"


class LetterFormat(str, Enum):
    text = "text"
    md = "md"
    html = "html"
    fhir = "fhir"


def _contact(pharmacist: Optional[str], pharmacy: Optional[str], phone: Optional[str], hours: Optional[str],
             plan_name: Optional[str], session_pharmacist: Optional[str]):
    """Contact details: the site policy's ``contact`` block, then the session file, then command-line options."""
    from mtmrules.engine.site import SitePolicy
    from mtmrules.session.plan import Contact
    site = SitePolicy.load(_SITE).contact if _SITE else None
    base = site.model_dump() if site else {}
    given = {"pharmacist": pharmacist or session_pharmacist, "pharmacy": pharmacy, "phone": phone, "hours": hours,
             "plan_name": plan_name}
    return Contact(**{k: given[k] or base.get(k) for k in given})


_PROBLEMS_HELP = "Only these problems in the action plan: problem ids or rule ids (a prefix ending in '*'), comma-separated."


@app.command()
def plan(
    profile: Path = typer.Argument(...), as_of: Optional[str] = typer.Option(None, "--as-of"),
    format: PlanFormat = typer.Option(PlanFormat.html, "--format", "-f",
                                      help="html (print-ready), pdf (needs --output and Chromium), md or json"),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Write to this file instead of standard output."),
    session: Optional[Path] = typer.Option(None, "--session", help="Pharmacist decisions (YAML/JSON)."),
    problems: Optional[str] = typer.Option(None, "--problems", help=_PROBLEMS_HELP),
    pharmacist: Optional[str] = typer.Option(None, "--pharmacist", help="Pharmacist's name and title for the documents."),
    pharmacy: Optional[str] = typer.Option(None, "--pharmacy", help="Pharmacy or MTM provider name."),
    phone: Optional[str] = typer.Option(None, "--phone", help="Phone number the patient can call."),
    hours: Optional[str] = typer.Option(None, "--hours", help="When to call, e.g. 'Monday to Friday, 9 am to 5 pm'."),
    plan_name: Optional[str] = typer.Option(None, "--plan-name", help="The Part D plan's name (cover letter)."),
    pcp: Optional[str] = typer.Option(None, "--pcp", help="The primary care prescriber, as written on the medications."),
) -> None:
    """The take-home documents in the CMS Standardized Format: cover letter, Medication Action Plan,
    Personal Medication List, and a daily schedule."""
    from mtmrules.session.plan import PlanBuilder, render_html, render_markdown, render_pdf
    try:
        if format is PlanFormat.pdf and output is None:
            raise MtmRulesError("--format pdf: give --output FILE.pdf")
        engine, prep = _prepared(profile, as_of, session)
        contact = _contact(pharmacist, pharmacy, phone, hours, plan_name,
                           prep.session.pharmacist if prep.session else None)
        only = {p.strip() for p in problems.split(",") if p.strip()} if problems else None
        the_plan = PlanBuilder(engine).build(prep.profile, prep.facts, prep.report, contact, only, pcp)
        if format is PlanFormat.json:
            text = json.dumps(the_plan.to_dict(), indent=2, ensure_ascii=False) + "\n"
        elif format is PlanFormat.md:
            text = render_markdown(the_plan)
        else:
            text = render_html(the_plan)
        if format is PlanFormat.pdf:
            assert output is not None
            output.write_bytes(render_pdf(text))
            return
    except MtmRulesError as exc:
        _fail(exc)
        return
    if output is not None:
        output.write_text(text, encoding="utf-8")
    else:
        typer.echo(text, nl=False)


@app.command()
def letter(
    profile: Path = typer.Argument(...), as_of: Optional[str] = typer.Option(None, "--as-of"),
    format: LetterFormat = typer.Option(LetterFormat.text, "--format", "-f",
                                        help="text, md, html (one letter per page) or fhir (a CarePlan Bundle)"),
    session: Optional[Path] = typer.Option(None, "--session", help="Pharmacist decisions (YAML/JSON)."),
    pharmacist: Optional[str] = typer.Option(None, "--pharmacist", help="Pharmacist's name and title for the letters."),
    pharmacy: Optional[str] = typer.Option(None, "--pharmacy", help="Pharmacy or MTM provider name."),
    phone: Optional[str] = typer.Option(None, "--phone", help="Phone number the prescriber can call."),
    pcp: Optional[str] = typer.Option(None, "--pcp", help="The primary care prescriber, as written on the medications; "
                                                         "receives over-the-counter and unattributed items."),
) -> None:
    """SBAR letters, one per prescriber, with the recommendations that prescriber can act on."""
    from mtmrules.session import letter as letters
    try:
        _, prep = _prepared(profile, as_of, session)
        contact = _contact(pharmacist, pharmacy, phone, None, None, prep.session.pharmacist if prep.session else None)
        if format is LetterFormat.fhir:
            text = json.dumps(letters.care_plan_bundle(prep.profile, prep.facts, prep.report, pcp), indent=2,
                              ensure_ascii=False) + "\n"
        else:
            text = letters.render(prep.profile, prep.facts, prep.report, format.value, contact, pcp)
    except MtmRulesError as exc:
        _fail(exc)
        return
    typer.echo(text, nl=False)


@app.command()
def diff(
    old: Path = typer.Argument(..., help="Earlier report JSON (or profile)."),
    new: Path = typer.Argument(..., help="Later report JSON (or profile)."),
    as_of: Optional[str] = typer.Option(None, "--as-of", help="For profiles: evaluation date of NEW."),
    format: Format = typer.Option(Format.text, "--format", "-f"),
) -> None:
    """Resolved, persisting and new problems between two reports (or profiles), and a follow-up date."""
    from mtmrules.session.followup import compare, render_text

    def load(path: Path) -> dict:
        from mtmrules.yamlsource import load_file
        data = load_file(path).data
        if isinstance(data, dict) and "problems" in data and "as_of" in data:
            return data
        _, prep = _prepared(path, as_of, None)
        return prep.report.to_dict()
    try:
        comparison = compare(load(old), load(new))
    except MtmRulesError as exc:
        _fail(exc)
        return
    if format is Format.json:
        typer.echo(json.dumps(comparison.to_dict(), indent=2))
    else:
        typer.echo(render_text(comparison), nl=False)


def main() -> None:
    """Console-script entry point; turns any unexpected error into one line, exit 2."""
    try:
        app()
    except MtmRulesError as exc:  # pragma: no cover - commands catch their own
        typer.echo(f"error: {exc}", err=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
