"""``ekita-hub users``: API keys — create, list, revoke, rotate (issue 12 item 13).

A new key's token goes to stdout once (for a pipe or a secret store), everything
else to stderr; only its hash is kept. Times are shown in Europe/Berlin.
"""

from __future__ import annotations

import getpass
import json
from datetime import datetime, timedelta
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy import Engine

from ekita.core.access import Principal
from ekita.core.db.base import as_utc, utcnow
from ekita.core.db.session import make_engine, unit_of_work
from ekita.core.models.enums import Role
from ekita.core.schemas.accounts import GRACE_MINUTES_MAX, ApiKeyOut
from ekita.core.services import accounts as svc
from ekita.core.tracking import BERLIN
from ekita.hub.cli.dates import parse_day
from ekita.hub.config import load_settings

app = typer.Typer(help="API keys (users).", no_args_is_help=True)
out = Console()
err = Console(stderr=True)


def _engine() -> Engine:
    return make_engine(load_settings().database_url)


def _actor() -> Principal:
    """The administrator at the terminal, by login name, so the change log says who."""
    try:
        login = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (containers)
        login = "unknown"
    return Principal.system("cli", f"cli:{login}")


def _expiry(expires: str | None, days: int | None) -> datetime | None:
    if expires is not None and days is not None:
        raise typer.BadParameter("give --expires or --days, not both")
    if expires is not None:
        return svc.end_of_day(parse_day(expires))
    if days is not None:
        return utcnow() + timedelta(days=days)
    return None


def _shown(token: str, what: str) -> None:
    err.print(f"{what}; store it now, it is not shown again:", markup=False)
    print(token)


def _local(moment: datetime | None) -> str:
    return "" if moment is None else as_utc(moment).astimezone(BERLIN).strftime("%Y-%m-%d %H:%M")


@app.command("create")
def users_create(
    role: Annotated[Role, typer.Option(help="role of the key")],
    name: Annotated[str, typer.Option(help="who or what holds the key")] = "api-user",
    facility: Annotated[int | None, typer.Option(help="facility id (facility_lead)")] = None,
    carrier: Annotated[int | None, typer.Option(help="carrier id (carrier)")] = None,
    expires: Annotated[str | None, typer.Option(
        help="last day the key works, YYYY-MM-DD (through midnight Europe/Berlin)")] = None,
    days: Annotated[int | None, typer.Option(min=1, max=3660,
                                             help="the key works this many days")] = None,
) -> None:
    """Create an API key; the key is printed once and only its hash is kept."""
    expires_at = _expiry(expires, days)
    with unit_of_work(_engine(), _actor()) as session:
        issued = svc.create_api_key(session, name=name, role=role, facility_id=facility,
                                    carrier_id=carrier, expires_at=expires_at)
        key_id = issued.key.id
    _shown(issued.token, f"created key {key_id} for {name} ({role.value})")


@app.command("list")
def users_list(as_json: Annotated[bool, typer.Option("--json", help="JSON for scripts")] = False
               ) -> None:
    """Every key with its role, scope, status and times; never a secret."""
    keys: list[ApiKeyOut] = []
    with unit_of_work(_engine(), _actor()) as session:
        while True:
            batch, total = svc.list_api_keys(session, limit=500, offset=len(keys))
            keys += [ApiKeyOut.model_validate(k) for k in batch]
            if not batch or len(keys) >= total:
                break
    if as_json:
        print(json.dumps([k.model_dump(mode="json") for k in keys], indent=2))
        return
    table = Table("id", "name", "role", "scope", "status", "created", "expires", "last used",
                  "revoked", "rotated from")
    for k in keys:
        scope = (f"facility {k.facility_id}" if k.facility_id else
                 f"carrier {k.carrier_id}" if k.carrier_id else "")
        table.add_row(str(k.id), k.name, k.role.value, scope, k.status, _local(k.created_at),
                      _local(k.expires_at), _local(k.last_used_at), _local(k.revoked_at),
                      str(k.rotated_from or ""))
    out.print(table)


@app.command("revoke")
def users_revoke(key_id: Annotated[int, typer.Argument(min=1, help="key id (see users list)")],
                 reason: Annotated[str | None, typer.Option(help="why, for the log")] = None
                 ) -> None:
    """Revoke a key for good; its holder gets 401 from now on. Again: no change."""
    with unit_of_work(_engine(), _actor()) as session:
        key = svc.revoke_api_key(session, key_id, reason=reason)
        when = _local(key.revoked_at)
    err.print(f"key {key_id} revoked ({when} Europe/Berlin)", markup=False)


@app.command("rotate")
def users_rotate(
    key_id: Annotated[int, typer.Argument(min=1, help="key id (see users list)")],
    grace_minutes: Annotated[int, typer.Option(
        min=0, max=GRACE_MINUTES_MAX, help="the old key keeps working this long")] = 0,
) -> None:
    """Replace a key by a new one with the same name, role and scope; print it once."""
    with unit_of_work(_engine(), _actor()) as session:
        issued = svc.rotate_api_key(session, key_id, grace=timedelta(minutes=grace_minutes))
        new_id = issued.key.id
    ends = f"in {grace_minutes} min" if grace_minutes else "now"
    _shown(issued.token, f"key {key_id} rotated to key {new_id} (the old key ends {ends})")
