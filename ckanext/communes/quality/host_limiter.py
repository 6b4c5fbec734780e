"""The link checker's politeness towards a commune's server: the shared base's per-host limiter
(net/host_limiter.py) with the link checker's options (``per_host_concurrency``, ``per_host_interval``) and its
own Redis key."""

from __future__ import annotations

from ckanext.communes.net import host_limiter as _base
from ckanext.communes.net.host_limiter import interleaved
from ckanext.communes.quality import options

__all__ = ["REDIS_KEY", "HostLimiter", "interleaved"]

REDIS_KEY = _base.REDIS_KEY


class HostLimiter(_base.HostLimiter):
    """Per host: at most ``concurrency`` link checks in flight from this process, starts ``interval`` apart
    across processes; both default to the link checker's options."""

    def __init__(self, concurrency: int | None = None, interval: float | None = None) -> None:
        super().__init__(
            concurrency if concurrency is not None else options.linkcheck_option("per_host_concurrency"),
            interval if interval is not None else options.linkcheck_option("per_host_interval"),
            redis_key=REDIS_KEY,
        )
