"""Built-in plugin: hand new domain events to the plugins, once each, in order.

Placement writes its events in the transaction of each change (``domain_event``), so
the events table is itself an outbox. The ``events.relay`` job reads the events after
its cursor, calls every plugin's ``domain_events`` hook, and moves the cursor, all in
one transaction: the messages the plugins enqueue commit together with the cursor, so
an event is handed on exactly once, even across crashes.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from ekita.core.models.events import DomainEvent
from ekita.core.models.exchange import Cursor
from ekita.hub.config import Settings
from ekita.hub.hookspecs import hookimpl
from ekita.hub.registrations import JobContext, JobRegistration

CURSOR = "events.relay"
BATCH = 5000


def relay(session: Session, hooks: object, batch: int = BATCH) -> int:
    """Hand the next events after the cursor to the plugins; the number handed on."""
    cursor = session.scalars(select(Cursor).where(Cursor.name == CURSOR)
                             .with_for_update()).first()
    if cursor is None:
        cursor = Cursor(name=CURSOR, position=0)
        session.add(cursor)
    events = list(session.scalars(select(DomainEvent).where(DomainEvent.id > cursor.position)
                                  .order_by(DomainEvent.id).limit(batch)))
    if events:
        hooks.domain_events(session=session, events=events)  # type: ignore[attr-defined]
        cursor.position = events[-1].id
    session.flush()
    return len(events)


def _run(ctx: JobContext) -> None:
    ctx.run.records_in = relay(ctx.session, ctx.hooks)


@hookimpl
def register_jobs(settings: Settings) -> list[JobRegistration]:
    return [JobRegistration(name="events.relay", run=_run, default_schedule="* * * * *",
                            summary="hand new domain events to the plugins' domain_events hook")]
