"""``ekita-hub billing``: debit run, corrections, fee preview, statute versions and the
collective notices of a fee switch (fees.md §11, §14; Lastenheft 3.10.9, 3.10.14)."""

from __future__ import annotations

import json
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from pydantic import BaseModel, ValidationError
from rich.console import Console
from rich.table import Table

from ekita.core.access import Principal
from ekita.core.db.session import make_engine, unit_of_work
from ekita.core.errors import RuleViolation
from ekita.core.schemas.fees import StatuteChange, StatuteIn
from ekita.core.services.documents.family_file import store_for
from ekita.core.services.fees import notices, statutes
from ekita.core.services.fees.assessment import MonthAssessor
from ekita.core.services.fees.corrections import by_period, run_corrections
from ekita.core.services.fees.debit_run import RunResult, run_debit
from ekita.core.services.fees.explain import explained_corrections
from ekita.core.services.fees.lost_fees import lost_fees
from ekita.core.services.fees.rules import month_start
from ekita.hub.cli.dates import parse_day
from ekita.hub.config import load_settings
from ekita.hub.inputs import cap_for, read_text_capped
from ekita.hub.plugins import load_plugins

app = typer.Typer(help="Parental fees: debit runs, corrections, statutes.", no_args_is_help=True)
statutes_app = typer.Typer(help="Statute versions (fee tables with validity).",
                           no_args_is_help=True)
app.add_typer(statutes_app, name="statutes")
BILLING = Principal.system("cli", "billing")
M = TypeVar("M", bound=BaseModel)


def _engine() -> Any:
    settings = load_settings()
    load_plugins(settings)  # registers sap_fi as a recipient with its declared fields
    return make_engine(settings.database_url)


def _summary(result: RunResult) -> dict[str, Any]:
    return {"period": result.period, "kind": str(result.kind), "run_id": result.run_id,
            "record_count": result.record_count, "control_sum_cents": result.control_sum_cents,
            "quarantined": result.quarantined, "created": result.created,
            "dry_run": result.dry_run}




@app.command("run")
def run(month: Annotated[str, typer.Option("--month", help="period YYYY-MM")],
        dry_run: Annotated[bool, typer.Option("--dry-run", help="compute, write nothing")]
        = False) -> None:
    """The debit run of a month: one line per contract and PKN; a rerun adds nothing."""
    with unit_of_work(_engine(), BILLING) as session:
        result = run_debit(session, month, dry_run=dry_run)
        if dry_run:
            session.rollback()
    print(json.dumps(_summary(result)))


def _euro(cents: int) -> str:
    return f"{Decimal(cents).scaleb(-2):.2f}"


def _cause(c: dict[str, Any]) -> str:
    return (f"{c['entity']} #{c['entity_id']} {c['field']}: {c['before']} → {c['after']}, "
            f"valid from {c['valid_from']}, by {c['actor']} ({c['recorded_at'][:19]})")


def _print_explained(rows: list[dict[str, Any]]) -> None:
    """One table row per payer's month; its causes one per line."""
    table = Table(title="Pending corrections, explained")
    for name in ("Month", "Contract", "PKN", "Booked €", "New €", "Difference €", "Causes"):
        table.add_column(name, justify="right" if name.endswith("€") else "left")
    for r in rows:
        table.add_row(r["period"], str(r["contract_id"]), r["pkn"], _euro(r["booked_cents"]),
                      _euro(r["new_cents"]), _euro(r["difference_cents"]),
                      "\n".join(_cause(c) for c in r["causes"]) or "-")
    Console(width=220).print(table if rows else "No pending corrections.")


@app.command("corrections")
def corrections(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="list, write nothing")] = False,
    on: Annotated[str | None, typer.Option("--date", help="booking date YYYY-MM-DD")] = None,
    explain: Annotated[bool, typer.Option(
        "--explain", help="write nothing; per payer and month: booked, new, difference and "
        "the changes behind it (issue 13 item 8)")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="with --explain: JSON")] = False,
) -> None:
    """Credits and back-charges for every debited month whose fee changed since."""
    if explain:
        with unit_of_work(_engine(), BILLING) as session:
            rows = [e.as_dict() for e in explained_corrections(session, on=parse_day(on))]
            session.rollback()
        if as_json:
            print(json.dumps(rows))
        else:
            _print_explained(rows)
        return
    with unit_of_work(_engine(), BILLING) as session:
        result = run_corrections(session, on=parse_day(on), dry_run=dry_run)
        if dry_run:
            session.rollback()
    print(json.dumps({**_summary(result), "by_period": by_period(result.lines)}))


@app.command("preview")
def preview(contract: Annotated[int, typer.Option("--contract", help="contract id")],
            month: Annotated[str, typer.Option("--month", help="period YYYY-MM")]) -> None:
    """The fee of one contract for a month, every step shown."""
    with unit_of_work(_engine(), BILLING) as session:
        a = MonthAssessor(session, month_start(month), contract_ids=[contract]) \
            .for_contract(contract)
    if a is None:
        raise RuleViolation(f"contract {contract} is not in force in {month}",
                            record="care_contract", field="contract",
                            rule="fees.md §7.1: a fee needs a contract in force")
    print(json.dumps({"contract_id": a.contract_id, "group": a.group, "hours": str(a.hours),
                      "rank": a.rank, "single_parent": a.single_parent,
                      "computed_cents": a.computed_cents, "amount_cents": a.amount_cents,
                      "extra_cents": {str(k): v for k, v in a.extra_cents.items()},
                      "notes": a.notes}))


@app.command("lost-fees")
def lost_fee_report(month: Annotated[str, typer.Option("--month", help="period YYYY-MM")]
                    ) -> None:
    """Entgangene Elternbeiträge of a month by cause (fees.md §15.1), as JSON."""
    with unit_of_work(_engine(), BILLING) as session:
        print(json.dumps(lost_fees(session, month).as_dict()))


@statutes_app.command("list")
def statutes_list() -> None:
    """Every statute version with its validity."""
    with unit_of_work(_engine(), BILLING) as session:
        rows = [{"id": s.id, "name": s.name, "valid_from": s.valid_from.isoformat(),
                 "valid_to": s.valid_to.isoformat() if s.valid_to else None}
                for s in statutes.list_statutes(session)]
    print(json.dumps(rows))


@statutes_app.command("cells")
def statutes_cells(statute_id: Annotated[int, typer.Argument(help="version id")]) -> None:
    """A version's fee table as JSON: group → hours → [1st, 2nd, 1st and 2nd single
    parent], every cell with its origin: published, derived or overridden (decision D10)."""
    with unit_of_work(_engine(), BILLING) as session:
        cells = statutes.describe(statutes.get_statute(session, statute_id))["cells"]
    print(json.dumps(cells, default=str))


@statutes_app.command("load-default")
def statutes_load_default() -> None:
    """Seed the 2011 statute (Anlage B/C) unless a version exists."""
    with unit_of_work(_engine(), BILLING) as session:
        created = statutes.load_default(session)
    print("loaded the 2011 statute" if created else "a statute version exists; nothing loaded")


def _statute_file(model: type[M], file: Path) -> M:
    """A statute JSON file read into ``model``; the first problem named, no traceback."""
    try:
        text = read_text_capped(file, cap=cap_for("cli_text", load_settings()))
        return model.model_validate_json(text)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise RuleViolation(f"{file}: {first['msg']}", record="fee_statute",
                            field=".".join(str(p) for p in first["loc"]),
                            rule="fees.md §3: statute format") from None


@statutes_app.command("add")
def statutes_add(file: Annotated[Path, typer.Argument(help="JSON: name, valid_from, params")]
                 ) -> None:
    """Add a version from a JSON file; its published table is checked against D1–D5."""
    data = _statute_file(StatuteIn, file)
    with unit_of_work(_engine(), BILLING) as session:
        statute = statutes.create_statute(session, data)
        print(json.dumps({"id": statute.id, "valid_from": statute.valid_from.isoformat()}))


@app.command("notices")
def collective_notices(
    effective: Annotated[str, typer.Option("--effective", help="fee switch, a 1st: YYYY-MM-DD")],
    issued_on: Annotated[str | None, typer.Option("--issued-on", help="letter date YYYY-MM-DD")]
    = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="count, render nothing")] = False,
    chunk: Annotated[int, typer.Option("--chunk", min=1, help="notices per transaction")] = 250,
) -> None:
    """Collective fee notices at a fee switch (3.10.14.2): one per payer, filed once.

    Each chunk is its own transaction, so an interrupted run keeps what it filed and a
    rerun files only the rest.
    """
    settings = load_settings()
    load_plugins(settings)
    engine = make_engine(settings.database_url)
    switch, letter_date = parse_day(effective), parse_day(issued_on)
    target = store_for(settings.document_store, "city")
    with unit_of_work(engine, BILLING) as session:
        planned = notices.plan(session, switch)
    by_type = Counter(str(n.doc_type) for n in planned)
    filed = 0
    if not dry_run:
        for start in range(0, len(planned), chunk):
            with unit_of_work(engine, BILLING) as session:
                filed += sum(notices.issue(session, n, switch, issued_on=letter_date,
                                           letterhead=settings.letterhead, target=target)[1]
                             for n in planned[start:start + chunk])
    print(json.dumps({"effective": switch.isoformat(), "notices": len(planned),
                      "filed": filed, "already_filed": 0 if dry_run else len(planned) - filed,
                      "by_type": dict(sorted(by_type.items())), "store": target,
                      "dry_run": dry_run}))


@statutes_app.command("update")
def statutes_update(statute_id: Annotated[int, typer.Argument(help="version id")],
                    file: Annotated[Path, typer.Argument(help="JSON: name and/or params")]
                    ) -> None:
    """Correct a version before anything is debited or noticed under it."""
    change = _statute_file(StatuteChange, file)
    with unit_of_work(_engine(), BILLING) as session:
        statute = statutes.update_statute(session, statute_id, change)
        print(json.dumps({"id": statute.id, "name": statute.name}))


@statutes_app.command("withdraw")
def statutes_withdraw(statute_id: Annotated[int, typer.Argument(help="version id")]) -> None:
    """Withdraw the latest version before it is used; the previous one runs on."""
    with unit_of_work(_engine(), BILLING) as session:
        statutes.delete_statute(session, statute_id)
    print(f"statute version {statute_id} withdrawn")
