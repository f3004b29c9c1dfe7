"""What a cluster run spends besides the model's time: the LocalCluster that `agents run --cluster local:N`
starts shares the machine's cores with the coordinator and the steps, so its processes do not poll for a
dashboard it does not have; a long-lived worker makes its SDK client once, not at each run."""

from __future__ import annotations

import pytest
from conftest import KEY

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


def test_a_workers_model_steps_share_one_sdk_client_from_run_to_run() -> None:
    """Each run's model steps on a worker get that run's executor (its shared rate limits), but the SDK
    client, whose making loads the machine's TLS certificates, is made once per endpoint and credentials
    in the worker process, whatever the run; another key or endpoint gets its own."""
    from agentfiles.core.models import ApiSettings
    from agentfiles.runner.cluster import WorkOrder, _executor

    settings = ApiSettings(base_url="http://127.0.0.1:9")

    def executor(run: str, environ: dict[str, str], on: ApiSettings = settings):  # type: ignore[no-untyped-def]
        return _executor(WorkOrder(None, {}, "agent", on, environ, run))  # type: ignore[arg-type]

    first = executor("agents-run-one", {"ANTHROPIC_API_KEY": KEY})
    second = executor("agents-run-two", {"ANTHROPIC_API_KEY": KEY})
    assert first is not second and first.governor is not second.governor
    assert first.client is second.client
    assert executor("agents-run-three", {"ANTHROPIC_API_KEY": KEY + "x"}).client is not first.client
    elsewhere = ApiSettings(base_url="http://127.0.0.1:10")
    assert executor("agents-run-four", {"ANTHROPIC_API_KEY": KEY}, elsewhere).client is not first.client
