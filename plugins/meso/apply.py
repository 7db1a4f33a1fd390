"""What the hub does with a MESO answer, in one transaction (3.2.4, 3.3.2, 3.4.4, C4).

| purpose | code | effect on the application | notice |
|---|---|---|---|
| intake | 01 | ``address_in_registry`` ("MESO-conform") | – |
| intake | 02, 03, 04, 06 | ``address_mismatch`` (deviation; accepted anyway, ZVS review) | – |
| recheck | 01 | ``address_in_registry`` | "placement starts" |
| recheck | 02 | ``moved_within_dresden`` flag only | none (C4) |
| recheck | 03 | inactive, reason ``moved_away`` | "placement cannot take place" |
| recheck | 04, 06 | ``address_mismatch`` for the ZVS | – |
| pool | 03 | ``address_in_registry = False``: noted for the ZVS, who inactivates | – |
| any | 05 | nothing (information block: no address disclosed) | – |

Every answer leaves a ``registry_check`` row and a ``RegistryChecked`` domain event (the
notice, when there is one, is its ``notice``: the notification channel picks it up); flag
changes are audited by the ``Tracked`` mixin. The inbox entry keyed by the request's
idempotency key makes a re-delivered answer take effect once.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ekita.core.models import Application, Child, Guardian, RegistryCheck
from ekita.core.models.placement import ACTIVE_STATES, ApplicationState, InactiveReason
from ekita.core.outbox import accept_inbound, enqueue
from ekita.core.services.placement import applications
from ekita.core.services.placement.events import event_row, write
from ekita.plugins.meso.client import CheckResult
from ekita.plugins.meso.codes import Purpose, ResultCode

NAME = "meso"


class MesoKind(StrEnum):
    """The plugin's own domain-event kind (the core's ``Kind`` lists the procedure's)."""

    CHECKED = "RegistryChecked"


PLACEMENT_STARTS = "placement_starts"
PLACEMENT_IMPOSSIBLE = "placement_impossible"
DEVIATIONS = frozenset({ResultCode.MOVED_WITHIN_DRESDEN, ResultCode.MOVED_AWAY,
                        ResultCode.NOT_FOUND, ResultCode.AMBIGUOUS})


def fields_of(session: Session, app: Application) -> dict[str, Any] | None:
    """The first child's name, birth date and address (its own, else a guardian's).

    Exactly the declared request fields (C5); ``None`` when no address is known.
    """
    return fields_of_child(session, app.children[0].child_id) if app.children else None


def fields_of_child(session: Session, child_id: int) -> dict[str, Any] | None:
    """The request fields for one child (its address, else its family's first guardian's)."""
    child = session.get(Child, child_id)
    if child is None:
        return None
    holder: Any = child
    if not child.street:
        holder = session.scalars(select(Guardian).where(
            Guardian.family_id == child.family_id, Guardian.street.is_not(None))
            .order_by(Guardian.id)).first()
    if holder is None or not holder.street:
        return None
    return {"family_name": child.family_name, "first_name": child.first_name,
            "birth_date": child.birth_date.isoformat(), "street": holder.street,
            "house_no": holder.house_no or "", "postcode": holder.postcode or "",
            "town": holder.town or "Dresden"}


def key_of(purpose: Purpose, app_id: int, on: date) -> str:
    return f"{NAME}:{purpose.value.lower()}:{app_id}:{on.isoformat()}"


def queue_checks(session: Session, app_ids: list[int], on: date, purpose: Purpose) -> int:
    """One outbox message per application, in the caller's transaction; returns the count."""
    queued = 0
    for app in session.scalars(select(Application).where(Application.id.in_(app_ids))
                               .order_by(Application.id)):
        fields = fields_of(session, app)
        if fields is None:
            record(session, app, purpose, "no_address", None, "none", on)
            continue
        enqueue(session, adapter=NAME, operation=purpose.value.lower(),
                business_key=f"{app.id}:{on.isoformat()}",
                idempotency_key=key_of(purpose, app.id, on),
                payload={"application_id": app.id, "purpose": purpose.value,
                         "on": on.isoformat(), **fields})
        queued += 1
    return queued


def record(session: Session, app: Application, purpose: Purpose, outcome: str,
           result: CheckResult | None, effect: str, on: date, notice: str | None = None,
           message_id: int | None = None) -> None:
    """The history row and the ``RegistryChecked`` event (with the notice, if any)."""
    session.add(RegistryCheck(
        application_id=app.id, purpose=purpose.value.lower(), outcome=outcome,
        code=result.code.value if result else None,
        moved_on=result.moved_on if result else None, effect=effect, message_id=message_id))
    session.flush()
    row = event_row(session, MesoKind.CHECKED,  # type: ignore[arg-type]
                    on, app.id, purpose=purpose.value.lower(),
                    outcome=outcome, effect=effect, notice=notice,
                    notification_channel=app.notification_channel if notice else None)
    write(session, [row])


def apply_result(session: Session, app_id: int, purpose: Purpose, result: CheckResult,
                 on: date, key: str, source: str, message_id: int | None = None) -> str:
    """Apply one answer once (inbox by key); returns the effect taken."""
    if accept_inbound(session, adapter=NAME, kind="check_result", content=key.encode(),
                      source=source) is None:
        return "duplicate"
    app = session.get(Application, app_id)
    if app is None:
        return "gone"
    return apply_to(session, app, purpose, result, on, message_id)


def apply_to(session: Session, app: Application, purpose: Purpose, result: CheckResult,
             on: date, message_id: int | None = None) -> str:
    code, notice = result.code, None
    app.address_checked_on = on
    if code is ResultCode.INFORMATION_BLOCKED:
        effect = "none"
    elif purpose is not Purpose.INTAKE and app.state not in ACTIVE_STATES:
        effect = "ignored_inactive"
    elif purpose is Purpose.INTAKE:
        app.address_in_registry = code in (ResultCode.REGISTERED, ResultCode.MOVED_WITHIN_DRESDEN)
        app.address_mismatch = code in DEVIATIONS
        effect = "deviation_flagged" if app.address_mismatch else "meso_conform"
    elif code is ResultCode.REGISTERED:
        app.address_in_registry = True
        effect = "confirmed"
        notice = PLACEMENT_STARTS if purpose is Purpose.RECHECK else None
    elif code is ResultCode.MOVED_WITHIN_DRESDEN:
        app.address_in_registry, app.moved_within_dresden = True, True
        effect = "moved_within_flagged"  # parents not informed (C4)
    elif code is ResultCode.MOVED_AWAY and purpose is Purpose.RECHECK:
        app.address_in_registry = False
        session.flush()
        applications.inactivate(session, app.id, InactiveReason.MOVED_AWAY, on)
        effect, notice = "inactivated_moved_away", PLACEMENT_IMPOSSIBLE
    elif code is ResultCode.MOVED_AWAY:  # pool check: a note, the ZVS inactivates (3.4.4)
        app.address_in_registry = False
        effect = "moved_away_noted"
    else:
        app.address_in_registry, app.address_mismatch = False, True
        effect = "mismatch_flagged"
    session.flush()
    record(session, app, purpose, code.name.lower(), result, effect, on, notice, message_id)
    return effect


def pool_ids(session: Session) -> list[int]:
    """Applications in the central pool (3.4.4)."""
    return list(session.scalars(select(Application.id).where(
        Application.state == ApplicationState.POOL).order_by(Application.id)))
