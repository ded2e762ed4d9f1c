"""The lean faust monitor: what it keeps reporting stays true."""

from __future__ import annotations

from faust.sensors.prometheus import FaustMetrics
from faust.types import TP
from prometheus_client import CollectorRegistry

from engine.agents.sensors import LeanPrometheusMonitor


def end_offset(registry: CollectorRegistry, topic: str, partition: int) -> float | None:
    return registry.get_sample_value("faust_topic_partition_end_offset",
                                     {"topic": topic, "partition": str(partition)})


def test_the_end_offset_gauge_follows_every_change_per_partition() -> None:
    registry = CollectorRegistry()
    monitor = LeanPrometheusMonitor(metrics=FaustMetrics.create(registry, "faust"))
    a, b = TP("issues.events", 0), TP("issues.events", 3)
    for offset in (10, 10, 10, 25):  # one fetch: the same high watermark for each message
        monitor.track_tp_end_offset(a, offset)
    monitor.track_tp_end_offset(b, 7)
    assert end_offset(registry, "issues.events", 0) == 25
    assert end_offset(registry, "issues.events", 3) == 7
    assert monitor.tp_end_offsets == {a: 25, b: 7}  # what faust's own lag figures read
    monitor.track_tp_end_offset(a, 3)  # a lower one (a recreated topic) is set as well
    assert end_offset(registry, "issues.events", 0) == 3
