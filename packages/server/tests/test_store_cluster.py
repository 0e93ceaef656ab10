"""The cluster query path in chDB: Distributed tables over a 1-shard localhost cluster.

chDB hosts one data directory per process and reads its config file once, so this runs in a
subprocess with its own data directory and a config declaring ``remote_servers`` + macros.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

from server_helpers import CLUSTER_SIM_CONFIG as CONFIG

SCRIPT = textwrap.dedent(
    """
    import json, sys
    from datetime import datetime, timedelta, timezone
    from pathlib import Path
    from openpanel_server._store import EventRow, ProfileRow, SessionRow, open_store

    data_dir, config = Path(sys.argv[1]), Path(sys.argv[2])
    base = datetime(2026, 3, 1, tzinfo=timezone.utc)
    out = {}
    store = open_store(None, data_dir, cluster=True, chdb_config=config)
    out["layout"] = store.layout
    out["second_migrate"] = store.migrate()
    q = store.client.query
    out["engines"] = {str(n): str(e) for n, e in q(
        "SELECT name, engine FROM system.tables WHERE database = currentDatabase()"
    ).result_rows}
    out["ledger"] = q("SELECT count() FROM schema_migrations").result_rows[0][0]
    out["replay_ddl"] = str(store.client.command("SHOW CREATE TABLE session_replay_chunks_replicated"))
    store.insert_events([
        EventRow(id=f"e{i}", project_id="p", name="click" if i % 2 else "view",
                 created_at=base + timedelta(hours=i), device_id="d", profile_id="u",
                 properties={"i": str(i)})
        for i in range(30)
    ])
    out["count_local"] = q("SELECT count() FROM events_replicated").result_rows[0][0]
    out["count"] = store.count_events("p")
    events, total = store.list_events("p", limit=2, event_names=["click"], profile_id="u",
                                      include_properties=True)
    out["list"] = [events, total]
    out["known"] = sorted(store.known_event_ids("p", ["e1", "e2", "zz"], base))
    store.insert_profiles([
        ProfileRow(id="u", project_id="p", created_at=base, last_seen_at=base, email="a@x"),
        ProfileRow(id="u", project_id="p", created_at=base,
                   last_seen_at=base + timedelta(days=1), email="b@x"),
    ])
    out["profile_email"] = (store.get_profile("p", "u") or {}).get("email")
    s1 = SessionRow(id="s", project_id="p", created_at=base, ended_at=base, version=1)
    store.insert_sessions([s1])
    store.insert_sessions([
        SessionRow(id="s", project_id="p", created_at=base, ended_at=base, version=1, sign=-1),
        SessionRow(id="s", project_id="p", created_at=base, ended_at=base, version=2,
                   event_count=2),
    ])
    out["session_events"] = (store.get_session("p", "s") or {}).get("eventCount")
    store.insert_json("events", [
        json.dumps({"id": f"j{i}", "project_id": "pj", "name": "json", "properties": {"i": str(i)},
                    "created_at": "2026-03-01T00:00:00.250+00:00"}).encode()
        for i in range(5)
    ])
    out["json_local"] = q(
        "SELECT count(), min(created_at) FROM events_replicated WHERE project_id = 'pj'"
    ).result_rows[0][0]
    out["json_count"] = store.count_events("pj")
    store.close()
    print(json.dumps(out))
    """
)


def test_cluster_sim_query_path(tmp_path: Path) -> None:
    config = tmp_path / "chdb.xml"
    config.write_text(CONFIG)
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path / "data"), str(config)],
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["layout"] == "cluster-sim"
    assert out["second_migrate"] == []
    assert out["ledger"] == 3  # one row per migration
    assert "TTL toDateTime(started_at) + toIntervalDay(30)" in out["replay_ddl"]
    engines = out["engines"]
    for name in ("events", "sessions", "profiles", "groups", "events_bots"):
        assert engines[name] == "Distributed"
    assert engines["events_replicated"] == "MergeTree"
    assert engines["sessions_replicated"] == "VersionedCollapsingMergeTree"
    assert engines["profiles_replicated"] == "ReplacingMergeTree"
    assert engines["groups_replicated"] == "ReplacingMergeTree"
    assert out["count_local"] == 30
    assert out["count"] == 30
    events, total = out["list"]
    assert total == 15
    assert [e["id"] for e in events] == ["e29", "e27"]
    assert events[0]["properties"] == {"i": "29"}
    assert out["known"] == ["e1", "e2"]
    assert out["profile_email"] == "b@x"
    assert out["session_events"] == 2
    assert out["json_local"] == 5  # JSON rows go through the Distributed table too
    assert out["json_count"] == 5
