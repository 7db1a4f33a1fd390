"""Map domain and database errors to clear JSON answers, never a traceback."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, IntegrityError

from ekita.core.errors import DomainError

log = logging.getLogger("ekita.api")


def install(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def _domain(_request: Request, exc: DomainError) -> JSONResponse:
        return JSONResponse({"error": exc.as_dict()}, status_code=exc.status)

    @app.exception_handler(IntegrityError)
    async def _integrity(_request: Request, exc: IntegrityError) -> JSONResponse:
        # The constraint name says which rule; the values stay out of the answer and the log.
        reason = str(exc.orig).splitlines()[0] if exc.orig else "constraint violated"
        log.info("integrity error: %s", type(exc.orig).__name__)
        return JSONResponse(
            {"error": {"message": f"the change breaks a database rule: {reason}",
                       "record": None, "field": None, "rule": "database constraint"}},
            status_code=409)

    @app.exception_handler(DataError)
    async def _data(_request: Request, exc: DataError) -> JSONResponse:
        # A value the schema let through but the column cannot hold: a 422, not a 500.
        log.info("data error: %s", type(exc.orig).__name__)
        return JSONResponse(
            {"error": {"message": "a value does not fit its database column", "record": None,
                       "field": None, "rule": "column type and size"}}, status_code=422)
