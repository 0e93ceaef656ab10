"""One object that runs every analytics query against a store."""

from __future__ import annotations

from typing import cast

from openpanel_server._analytics._cohort_model import CohortDefinition
from openpanel_server._analytics._cohorts import (
    CohortActivityRequest,
    CohortActivityResult,
    CohortMembers,
    cohort_activity,
    cohort_members,
    cohort_size,
)
from openpanel_server._analytics._context import QueryContext
from openpanel_server._analytics._event_names import (
    EventNamesRequest,
    EventNamesResult,
    event_names,
)
from openpanel_server._analytics._export import ExportRequest, ExportStream, open_export
from openpanel_server._analytics._funnel import FunnelRequest, FunnelResult, funnel
from openpanel_server._analytics._overview import (
    OverviewRequest,
    OverviewResult,
    TopRequest,
    TopResult,
    overview,
    top_values,
)
from openpanel_server._analytics._paths import (
    PathsRequest,
    PathsResult,
    SankeyRequest,
    SankeyResult,
    paths,
    sankey,
)
from openpanel_server._analytics._profiles import (
    ProfileDetail,
    ProfileListRequest,
    ProfileListResult,
    list_profiles,
    profile_detail,
)
from openpanel_server._analytics._realtime import RealtimeRequest, RealtimeResult, realtime
from openpanel_server._analytics._retention import RetentionRequest, RetentionResult, retention
from openpanel_server._analytics._run import AnalyticsClient
from openpanel_server._analytics._session_detail import (
    SessionDetail,
    SessionRequest,
    session_detail,
)
from openpanel_server._analytics._sessions import (
    SessionListRequest,
    SessionListResult,
    SessionStats,
    list_sessions,
    session_stats,
)
from openpanel_server._analytics._timeseries import (
    TimeSeriesRequest,
    TimeSeriesResult,
    time_series,
)
from openpanel_server._store import Store
from openpanel_server._store._readers import analytics_client, stream_client

__all__ = ["Analytics"]


class Analytics:
    """The analytics queries of one store (its read connection; exports get their own).

    Every method takes a validated request model and the :class:`QueryContext` (project,
    timezone, clock, saved cohorts) and returns a response model; dump it with
    ``model_dump(by_alias=True)``. Bad input raises ``pydantic.ValidationError``.
    """

    def __init__(self, store: Store) -> None:
        """Bind to ``store`` (which must stay open while this is used)."""
        self._store = store

    @property
    def client(self) -> AnalyticsClient:
        """The read client the queries run on."""
        return cast("AnalyticsClient", analytics_client(self._store))

    def overview(self, request: OverviewRequest, ctx: QueryContext) -> OverviewResult:
        """Headline metrics (see :func:`overview`)."""
        return overview(self.client, request, ctx)

    def top(self, request: TopRequest, ctx: QueryContext) -> TopResult:
        """A top list (see :func:`top_values`)."""
        return top_values(self.client, request, ctx)

    def time_series(self, request: TimeSeriesRequest, ctx: QueryContext) -> TimeSeriesResult:
        """A chart (see :func:`time_series`)."""
        return time_series(self.client, request, ctx)

    def funnel(self, request: FunnelRequest, ctx: QueryContext) -> FunnelResult:
        """A funnel (see :func:`funnel`)."""
        return funnel(self.client, request, ctx)

    def retention(self, request: RetentionRequest, ctx: QueryContext) -> RetentionResult:
        """A retention table (see :func:`retention`)."""
        return retention(self.client, request, ctx)

    def cohort_size(self, cohort: CohortDefinition, ctx: QueryContext) -> int:
        """A cohort's size (see :func:`cohort_size`)."""
        return cohort_size(self.client, cohort, ctx)

    def cohort_members(
        self, cohort: CohortDefinition, ctx: QueryContext, *, limit: int = 100, offset: int = 0
    ) -> CohortMembers:
        """A page of a cohort's members (see :func:`cohort_members`)."""
        return cohort_members(self.client, cohort, ctx, limit=limit, offset=offset)

    def cohort_activity(
        self, request: CohortActivityRequest, ctx: QueryContext
    ) -> CohortActivityResult:
        """A cohort's activity over time (see :func:`cohort_activity`)."""
        return cohort_activity(self.client, request, ctx)

    def paths(self, request: PathsRequest, ctx: QueryContext) -> PathsResult:
        """Top page sequences (see :func:`paths`)."""
        return paths(self.client, request, ctx)

    def sankey(self, request: SankeyRequest, ctx: QueryContext) -> SankeyResult:
        """Page transitions (see :func:`sankey`)."""
        return sankey(self.client, request, ctx)

    def sessions(self, request: SessionListRequest, ctx: QueryContext) -> SessionListResult:
        """A page of sessions (see :func:`list_sessions`)."""
        return list_sessions(self.client, request, ctx)

    def session_stats(self, request: SessionListRequest, ctx: QueryContext) -> SessionStats:
        """Session aggregates (see :func:`session_stats`)."""
        return session_stats(self.client, request, ctx)

    def session(self, request: SessionRequest, ctx: QueryContext) -> SessionDetail:
        """One session and its events (see :func:`session_detail`)."""
        return session_detail(self.client, request, ctx)

    def event_names(self, request: EventNamesRequest, ctx: QueryContext) -> EventNamesResult:
        """The event names with counts (see :func:`event_names`)."""
        return event_names(self.client, request, ctx)

    def profiles(self, request: ProfileListRequest, ctx: QueryContext) -> ProfileListResult:
        """A page of profiles (see :func:`list_profiles`)."""
        return list_profiles(self.client, request, ctx)

    def profile(
        self, profile_id: str, ctx: QueryContext, *, events_limit: int = 50
    ) -> ProfileDetail:
        """One profile with metrics and events (see :func:`profile_detail`)."""
        return profile_detail(self.client, ctx, profile_id, events_limit=events_limit)

    def realtime(self, request: RealtimeRequest, ctx: QueryContext) -> RealtimeResult:
        """The live view (see :func:`realtime`)."""
        return realtime(self.client, request, ctx)

    def export(
        self, request: ExportRequest, ctx: QueryContext, *, chunk_size: int = 1 << 16
    ) -> ExportStream:
        """Open a streaming export on a connection of its own (see :func:`open_export`)."""
        client, release = stream_client(self._store)
        return open_export(
            cast("AnalyticsClient", client), request, ctx, chunk_size=chunk_size, on_close=release
        )
