"""Validate an OpenLineage event with the openlineage-python client's own models (attrs
classes generated from the spec, with its validators), and the custom facet with the
JSON schema reprobuild ships for it."""

from __future__ import annotations

import json
from typing import Any

import attr
import jsonschema
from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState
from openlineage.client.facet_v2 import RunFacet, dataset_version_dataset
from openlineage.client.serde import Serde

from reprobuild.runs.lineage import FACET_SCHEMA_FILE, FACET_SCHEMA_URL


@attr.define
class ReprobuildRunFacet(RunFacet):
    imageReference: str
    imageDigest: str | None
    imageId: str
    pinnedBy: str
    lockfiles: list[dict[str, str]]
    seed: int
    configSha256: str
    gitCommit: str | None
    gitDirty: bool | None
    command: list[str]
    exitCode: int | None = None

    @staticmethod
    def _get_schema() -> str:
        return FACET_SCHEMA_URL


def _datasets(items: list[dict[str, Any]], kind: type[Any]) -> list[Any]:
    return [
        kind(
            namespace=item["namespace"], name=item["name"],
            facets={"version": dataset_version_dataset.DatasetVersionDatasetFacet(
                datasetVersion=item["facets"]["version"]["datasetVersion"],
                producer=item["facets"]["version"]["_producer"],
            )},
        )
        for item in items
    ]


def validate_event(event: dict[str, Any]) -> None:
    """Rebuild ``event`` from the client's models (their validators run) and check that
    the client serializes it back to the same JSON; validate the custom facet."""
    facet = dict(event["run"]["facets"]["reprobuild"])
    schema = json.loads(FACET_SCHEMA_FILE.read_text())
    jsonschema.validate(facet, schema)
    producer = facet.pop("_producer")
    assert facet.pop("_schemaURL") == FACET_SCHEMA_URL == schema["$id"]
    model = RunEvent(
        eventType=RunState[event["eventType"]],
        eventTime=event["eventTime"],
        producer=event["producer"],
        run=Run(runId=event["run"]["runId"],
                facets={"reprobuild": ReprobuildRunFacet(**facet, producer=producer)}),
        job=Job(namespace=event["job"]["namespace"], name=event["job"]["name"]),
        inputs=_datasets(event["inputs"], InputDataset),
        outputs=_datasets(event["outputs"], OutputDataset),
    )
    rebuilt = json.loads(Serde.to_json(model))
    assert rebuilt["schemaURL"] == event["schemaURL"]
    expected = json.loads(json.dumps(event))
    if "exitCode" not in event["run"]["facets"]["reprobuild"]:
        rebuilt["run"]["facets"]["reprobuild"].pop("exitCode", None)
    assert rebuilt == expected
