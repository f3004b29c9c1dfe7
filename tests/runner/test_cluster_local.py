"""The LocalCluster that `agents run --cluster local:N` starts: it shares the machine's cores with the
coordinator and the steps, so its processes do not poll for a dashboard it does not have."""

from __future__ import annotations

import pytest

pytest.importorskip("distributed")


def test_a_local_clusters_processes_poll_at_most_once_a_second() -> None:
    """Dask's defaults sample a worker's stack every 10 ms for a dashboard's profiles, check each loop's
    lag every 20 ms and the memory every 100 ms: idle, 4 workers and their scheduler so took a fifth of
    2 cores. In the cluster `local:2` starts, no worker profiles, and the workers', nannies' and
    scheduler's own polling is at most once a second (the scheduler's Dask-internal timeouts aside)."""
    from agentfiles.core.models import ApiSettings
    from agentfiles.runner.cluster import Cluster

    cluster = Cluster("local:2", ApiSettings(), {})
    try:
        def callbacks(server) -> dict[str, float]:  # type: ignore[no-untyped-def]
            return {name: pc.callback_time for name, pc in server.periodic_callbacks.items()}

        workers = cluster.client.run(lambda dask_worker: callbacks(dask_worker))
        nannies = [callbacks(nanny) for nanny in cluster.local.workers.values()]
        scheduler = cluster.client.run_on_scheduler(lambda dask_scheduler: callbacks(dask_scheduler))
    finally:
        cluster.close()
    assert len(workers) == 2 and len(nannies) == 2
    for every in [*workers.values(), *nannies]:
        assert "profile" not in every
        assert min(every.values()) >= 1000, every
    polling = {name: ms for name, ms in scheduler.items() if name in ("tick", "monitor")}
    assert polling and min(polling.values()) >= 1000, scheduler
