"""Prometheus metrics read from the database at scrape time.

Workers run in other processes, so in-process counters would see nothing; the outbox
and the attempt log are the source of truth and are summarised here per scrape.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from sqlalchemy import Engine, case, func, select

from ekita.core.access import Principal
from ekita.core.db.session import unit_of_work
from ekita.core.models.exchange import (
    AttemptOutcome,
    DeliveryAttempt,
    MessageStatus,
    OutboxMessage,
)

LATENCY_BUCKETS_MS = (50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 3600000)


class OutboxCollector(Collector):
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def collect(self) -> Iterator[Metric]:
        with unit_of_work(self.engine, Principal.system("metrics")) as s:
            by_status = s.execute(select(OutboxMessage.adapter, OutboxMessage.status, func.count())
                                  .group_by(OutboxMessage.adapter, OutboxMessage.status)).all()
            retries = s.execute(
                select(OutboxMessage.adapter, func.count())
                .select_from(DeliveryAttempt)
                .join(OutboxMessage, OutboxMessage.id == DeliveryAttempt.message_id)
                .where(DeliveryAttempt.outcome == AttemptOutcome.TRANSIENT)
                .group_by(OutboxMessage.adapter)).all()
            buckets = [func.sum(case((OutboxMessage.latency_ms <= b, 1), else_=0))
                       for b in LATENCY_BUCKETS_MS]
            latency = s.execute(
                select(OutboxMessage.adapter, func.count(), func.sum(OutboxMessage.latency_ms),
                       *buckets)
                .where(OutboxMessage.status == MessageStatus.DELIVERED,
                       OutboxMessage.latency_ms.is_not(None))
                .group_by(OutboxMessage.adapter)).all()
        messages = GaugeMetricFamily("ekita_outbox_messages", "Outbox messages by status",
                                     labels=["adapter", "status"])
        dead = GaugeMetricFamily("ekita_dead_letters", "Messages in the dead-letter queue",
                                 labels=["adapter"])
        for adapter, status, n in by_status:
            messages.add_metric([adapter, str(status)], n)
            if status == MessageStatus.DEAD:
                dead.add_metric([adapter], n)
        retried = CounterMetricFamily("ekita_delivery_retries", "Failed attempts retried later",
                                      labels=["adapter"])
        for adapter, n in retries:
            retried.add_metric([adapter], n)
        hist = HistogramMetricFamily("ekita_delivery_latency_seconds",
                                     "From enqueue to confirmed delivery", labels=["adapter"])
        for adapter, count, total_ms, *cumulative in latency:
            pairs = [(str(b / 1000), int(c or 0)) for b, c in zip(LATENCY_BUCKETS_MS, cumulative,
                                                                  strict=True)]
            hist.add_metric([adapter], [*pairs, ("+Inf", count)], sum_value=(total_ms or 0) / 1000)
        yield from (messages, dead, retried, hist)


def render(engine: Engine) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(OutboxCollector(engine))
    return generate_latest(registry)
