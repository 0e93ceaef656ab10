"""The analytics queries through the cluster layout (chDB ``Distributed`` tables).

chDB reads its config once per process and hosts one data directory, so the cluster-sim run
happens in a subprocess; its results must equal the embedded run in this process (which
test_analytics_queries.py checks against hand-computed answers).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from analytics_helpers import RANGE, battery, context, context_at, helpers_dir, load_dataset
from server_helpers import CLUSTER_SIM_CONFIG as CONFIG

from openpanel_server._analytics import (
    AnalyticsClient,
    EventNamesRequest,
    ProfileListRequest,
    SessionRequest,
    event_names,
    list_profiles,
    session_detail,
)
from openpanel_server._store import Store, open_store
from openpanel_server._store._readers import analytics_client

SCRIPT = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    from analytics_helpers import battery, context, load_dataset, RANGE
    from openpanel_server._analytics import Analytics, ExportRequest, OverviewRequest
    from openpanel_server._store import open_store

    store = open_store(None, Path(sys.argv[1]), cluster=True, chdb_config=Path(sys.argv[2]))
    load_dataset(store)
    analytics = Analytics(store)
    out = {"layout": store.layout}
    out["engines"] = {str(n): str(e) for n, e in store.client.query(
        "SELECT name, engine FROM system.tables WHERE database = currentDatabase()"
    ).result_rows}
    out["battery"] = battery(analytics.client)
    from test_analytics_cluster import lookups
    out["lookups"] = lookups(analytics.client)
    # An export on its own connection (opened with the cluster config) while the shared read
    # connection keeps answering.
    stream = analytics.export(ExportRequest.model_validate({**RANGE, "format": "csv"}), context())
    chunks = iter(stream)
    first = next(chunks)
    out["during_export"] = analytics.overview(
        OverviewRequest.model_validate(RANGE), context()
    ).metrics.events
    out["csv_lines"] = (first + b"".join(chunks)).count(b"\\n")
    store.close()
    print(json.dumps(out))
    """
)


def lookups(client: AnalyticsClient) -> dict[str, Any]:
    """The session, event-name and filtered profile-list queries (run in both layouts)."""
    ctx = context()
    later = context_at(dt.datetime(2028, 3, 1, tzinfo=dt.timezone.utc))
    filters = [{"name": "name", "operator": "is", "value": ["signup"]}]
    out: dict[str, Any] = {
        "session_s1": session_detail(client, SessionRequest(session_id="s1"), ctx),
        "session_s0_later": session_detail(client, SessionRequest(session_id="s0"), later),
        "names": event_names(client, EventNamesRequest(), ctx),
        "names_range": event_names(client, EventNamesRequest.model_validate(RANGE), ctx),
        "profiles_day": list_profiles(
            client,
            ProfileListRequest.model_validate(
                {"range": "custom", "startDate": "2026-03-03", "endDate": "2026-03-03"}
            ),
            ctx,
        ),
        "profiles_filtered": list_profiles(
            client, ProfileListRequest.model_validate({**RANGE, "filters": filters}), ctx
        ),
    }
    return {k: v.model_dump(mode="json", by_alias=True) for k, v in out.items()}


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    s = open_store(None, tmp_path_factory.mktemp("analytics-embedded"))
    try:
        load_dataset(s)
        yield s
    finally:
        s.close()


def _cluster_run(tmp_path: Path) -> dict[str, Any]:
    config = tmp_path / "chdb.xml"
    config.write_text(CONFIG)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(helpers_dir()), *filter(None, [env.get("PYTHONPATH")])]
    )
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path / "data"), str(config)],
        capture_output=True,
        text=True,
        timeout=110,
        check=False,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_cluster_layout_gives_the_same_answers(store: Store, tmp_path: Path) -> None:
    cluster = _cluster_run(tmp_path)
    assert cluster["layout"] == "cluster-sim"
    for table in ("events", "sessions", "profiles"):
        assert cluster["engines"][table] == "Distributed"
    embedded = json.loads(json.dumps(battery(analytics_client(store))))  # pyright: ignore[reportArgumentType]
    assert cluster["battery"].keys() == embedded.keys()
    for key, value in embedded.items():
        assert cluster["battery"][key] == value, key
    looked_up = lookups(analytics_client(store))  # pyright: ignore[reportArgumentType]
    assert cluster["lookups"] == looked_up
    # The hand-computed answers (test_analytics_queries.py checks them in full).
    assert [e["id"] for e in looked_up["session_s1"]["events"]] == [f"s1-0{i}" for i in range(7)]
    assert looked_up["session_s0_later"]["session"]["id"] == "s0"
    assert looked_up["names"]["names"][0] == {"name": "screen_view", "count": 14}
    assert looked_up["names_range"]["names"][0] == {"name": "screen_view", "count": 12}
    assert [p["id"] for p in looked_up["profiles_day"]["profiles"]] == ["u2"]
    assert looked_up["profiles_filtered"]["total"] == 2
    assert cluster["during_export"] == 27
    assert cluster["csv_lines"] == 28  # header and 27 events
