"""Moved to :mod:`dossierhub.monitoring.lag` (the ops commands and the exporter read lag too);
kept as an alias so the worker's ``from .lag import …`` keeps working."""

from dossierhub.monitoring.lag import IdleWatch, PartitionLag, all_caught_up, group_lag

__all__ = ["IdleWatch", "PartitionLag", "all_caught_up", "group_lag"]
