"""Faust's Prometheus sensor without its per-message hooks.

faust's ``PrometheusMonitor`` does work for every message four times (message in, stream event
in and out, message out: counters, label lookups, a runtime deque), which measured about 6% of
the worker's time, about 100 us a message on this machine (py-spy, runtime benchmark). The
engine counts what it decides itself (``whistle_events_total``, ``whistle_batch_*``), so those
hooks are dropped here; everything else faust reports is kept: committed and end offsets per
partition (consumer lag), sends, rebalances, assignments, commits, web requests. The end offset
is set for every message fetched (the partition's high watermark, the same for a whole fetch);
here the labelled gauge is set only when it changes (a label lookup a message was ~0.7% of the
worker's time in runtime_bench).
"""

from __future__ import annotations

from time import monotonic
from typing import Any

from faust.sensors.prometheus import FaustMetrics, PrometheusMonitor
from prometheus_client import CollectorRegistry


class LeanPrometheusMonitor(PrometheusMonitor):
    def on_message_in(self, tp: Any, offset: int, message: Any) -> None:
        return None

    def on_stream_event_in(self, tp: Any, offset: int, stream: Any, event: Any) -> None:
        self.stream_inbound_time[tp] = monotonic()  # faust's stall detector reads it
        return None

    def on_stream_event_out(self, tp: Any, offset: int, stream: Any, event: Any,
                            state: Any = None) -> None:
        return None

    def on_message_out(self, tp: Any, offset: int, message: Any) -> None:
        return None

    def track_tp_end_offset(self, tp: Any, offset: int) -> None:
        ends = self.tp_end_offsets
        if ends.get(tp) != offset:
            ends[tp] = offset
            self._metrics.topic_partition_end_offset.labels(
                topic=tp.topic, partition=tp.partition).set(offset)


def install(app: Any, registry: CollectorRegistry, name_prefix: str = "faust") -> None:
    """What ``faust.sensors.prometheus.setup_prometheus_sensors`` does, with the lean monitor;
    the ``/metrics`` page is the engine's own (see ``app``)."""
    app.monitor = LeanPrometheusMonitor(metrics=FaustMetrics.create(registry, name_prefix))
