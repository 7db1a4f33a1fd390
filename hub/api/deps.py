"""Request dependencies: bearer-key authentication and one unit of work per request."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import date
from typing import Annotated

from fastapi import Depends, HTTPException, Path, Query, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from ekita.core.access import Principal
from ekita.core.db.session import unit_of_work
from ekita.core.schemas.common import MAX_ID
from ekita.core.services.accounts import identify, record_use, use_is_stale

log = logging.getLogger("ekita.auth")
_bearer = HTTPBearer(auto_error=False, description="API key created with `ekita-hub users create`")


def principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    unauthorised = HTTPException(
        status.HTTP_401_UNAUTHORIZED, "a valid API key is required",
        headers={"WWW-Authenticate": "Bearer"})
    if credentials is None:
        raise unauthorised
    engine = request.app.state.engine
    with unit_of_work(engine, Principal.system("api", "auth")) as session:
        found = identify(session, credentials.credentials)
    if found is None:  # unknown, forged, revoked and expired keys all read the same
        raise unauthorised
    if use_is_stale(found.last_used_at):
        # Its own short write, at most once a minute per key (issue 12 item 13): reads
        # stay reads, and SQLite's single writer is not taken on every request.
        try:
            with unit_of_work(engine, Principal.system("api", "auth")) as session:
                record_use(session, found.key_id)
        except OperationalError:  # bookkeeping only: a busy database does not refuse the call
            log.info("last use of api key %s not recorded: database busy", found.key_id)
    return found.principal


def db(request: Request, who: Annotated[Principal, Depends(principal)]) -> Iterator[Session]:
    """A session scoped to the caller. Write routes commit explicitly before answering."""
    with unit_of_work(request.app.state.engine, who) as session:
        yield session


DB = Annotated[Session, Depends(db)]


def write_db(
    session: DB,
    valid_from: Annotated[date | None, Query(
        description="business date from which the change is valid (Lastenheft 3.14.3); "
                    "default: today in Europe/Berlin")] = None,
) -> Session:
    """The caller's session for a change, dated by ``valid_from`` in the change log."""
    if valid_from is not None:
        session.info["valid_from"] = valid_from
    return session


WriteDB = Annotated[Session, Depends(write_db)]
Who = Annotated[Principal, Depends(principal)]


# Record ids in paths and filters: bounded, so no request can overflow a database integer.
PathId = Annotated[int, Path(ge=1, le=MAX_ID)]
QueryId = Annotated[int | None, Query(ge=1, le=MAX_ID)]


class Paging:
    def __init__(self, limit: Annotated[int, Query(ge=1, le=500)] = 50,
                 offset: Annotated[int, Query(ge=0, le=10**9)] = 0) -> None:
        self.limit = limit
        self.offset = offset


Pages = Annotated[Paging, Depends()]
