"""Wires the scoring service from settings."""

from crm_runtime.service import Service, ServiceSpec

from crm_scoring import adapters
from crm_scoring.entrypoints import router
from crm_scoring.handlers import EVENT_HANDLERS
from crm_scoring.settings import ScoringSettings
from crm_scoring.snapshots import SnapshotWriter


def bootstrap(settings: ScoringSettings | None = None) -> Service:
    settings = settings or ScoringSettings()
    snapshots = adapters.Snapshots()

    def snapshot_writer(service: Service) -> SnapshotWriter:
        # Every instance runs one; a lease lets one of them write.
        return SnapshotWriter(service.store, snapshots, settings)

    spec = ServiceSpec(
        title="CRM scoring service",
        routers=[router],
        subscribes_to=settings.topics,
        handlers=EVENT_HANDLERS,
        dependencies={"model_version": settings.model_version, "snapshots": snapshots},
        create_indexes=adapters.create_indexes,
        workers=[snapshot_writer],
    )
    return Service(spec, settings)
