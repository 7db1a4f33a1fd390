"""Helpers for the carrier-exchange and Octoware tests: a worker for one file adapter."""

from __future__ import annotations

from sqlalchemy import Engine

from ekita.hub.config import AdapterSection, Settings, WorkerSettings
from ekita.hub.delivery.worker import Worker
from ekita.hub.plugins import load_plugins
from tests.delivery_kit import FAST, deliver_all, url_of


def file_worker(engine: Engine, adapter: str, settings: dict) -> Worker:
    """The real worker with only ``adapter`` loaded (plus its configuration)."""
    config = Settings(database_url=url_of(engine), load_plugins=[adapter],
                      adapters={adapter: AdapterSection(settings=settings, retry=FAST)},
                      worker=WorkerSettings(batch_size=10, lease_margin_s=1.0, poll_s=0.05))
    return Worker(engine, load_plugins(config), config, "w-test")


__all__ = ["deliver_all", "file_worker"]
