"""Operators' view of the hub: consumer lag and its Burrow-style status, Prometheus metrics.

``lag`` (offsets, caught-up checks), ``reader`` (any group on the cluster, with time lag),
``status`` (pure status rules over a sliding window), ``report`` (the JSON of ``dossierhub
lag``), ``monitor`` (the three together), ``metrics`` (metric names; stage and lag metrics),
``http`` (``/metrics`` and ``/healthz`` for processes without a web server).
"""

from .lag import PartitionLag
from .metrics import CONTENT_TYPE, LagMetrics, StageMetrics
from .monitor import LagMonitor, policy_from
from .reader import LagReader
from .report import LagReport, build_report
from .status import GroupStatus, LagWindow, PartitionStatus, StatusPolicy

__all__ = [
    "CONTENT_TYPE",
    "GroupStatus",
    "LagMetrics",
    "LagMonitor",
    "LagReader",
    "LagReport",
    "LagWindow",
    "PartitionLag",
    "PartitionStatus",
    "StageMetrics",
    "StatusPolicy",
    "build_report",
    "policy_from",
]
