"""The validator's metrics in Prometheus's text format, for ``GET /metrics`` (validator.http).

Read from the validator at each scrape, nothing kept twice: its scans by reason since it
started, the journal's backlog (scans not yet in Redis), when its sync last pushed and
pulled, its clock's offset from the network's time, when the denylist it holds was issued,
and the lists' sizes. Times are Unix seconds: an alert takes ``time() - metric``.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from shared import reasons
from validator.device import STORAGE_OK, Validator
from validator.sync import Syncer


class ValidatorCollector(Collector):
    def __init__(self, validator: Validator, syncer: Syncer | None):
        self.validator = validator
        self.syncer = syncer

    def collect(self):
        v = self.validator
        scans = CounterMetricFamily("vexe_validator_scans", "Scans decided, by reason "
                                    "(ok: accepted).", labels=["decision", "reason"])
        for reason, count in sorted(v.scans_by_reason.items()):
            scans.add_metric(["accept" if reason == reasons.OK else "refuse", reason], count)
        yield scans
        yield _gauge("vexe_validator_info", "This validator, its vehicle and route (always 1).",
                     1, validator=v.validator_id, vehicle=v.vehicle, route=v.route)
        yield _gauge("vexe_validator_storage_ok", "1 while the journal takes scans.",
                     1 if v.storage == STORAGE_OK else 0)
        backlog = v.backlog()
        if backlog is not None:  # None: the journal is too damaged to tell
            yield _gauge("vexe_validator_journal_backlog", "Scans not yet pushed to Redis.",
                         backlog)
        if self.syncer is not None:
            sync = self.syncer.status()
            for name, key, help_text in (
                    ("vexe_validator_last_push_timestamp_seconds", "last_push_at",
                     "When the sync last pushed the journal to Redis."),
                    ("vexe_validator_last_pull_timestamp_seconds", "last_pull_at",
                     "When the sync last pulled the trust list and the denylist.")):
                yield _gauge(name, help_text, sync[key] or 0)
        clock = v.clock.status()
        if clock["clock_offset"] is not None:
            yield _gauge("vexe_validator_clock_offset_seconds", "The network's time minus this "
                         "validator's clock, as last measured.", clock["clock_offset"])
        yield _gauge("vexe_validator_clock_offset_applied_seconds",
                     "The correction applied to this validator's clock.",
                     clock["clock_offset_applied"])
        yield _gauge("vexe_validator_denylist_issued_timestamp_seconds",
                     "When the issuer published the denylist this validator holds (0: none).",
                     v.lists.denylist.issued_at)
        yield _gauge("vexe_validator_denylist_entries", "Passes on the denylist held.",
                     len(v.lists.denylist))
        yield _gauge("vexe_validator_trust_list_keys", "Signing keys in the trust list held.",
                     len(v.lists.trust))


def _gauge(name: str, help_text: str, value: float, **labels: str) -> GaugeMetricFamily:
    gauge = GaugeMetricFamily(name, help_text, labels=list(labels))
    gauge.add_metric(list(labels.values()), value)
    return gauge


def registry(validator: Validator, syncer: Syncer | None) -> CollectorRegistry:
    """A registry of this validator's own (several run in one test process)."""
    out = CollectorRegistry(auto_describe=False)
    out.register(ValidatorCollector(validator, syncer))
    return out
