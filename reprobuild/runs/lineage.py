"""OpenLineage run events for a run: START, then COMPLETE or FAIL (spec 2-0-2).

Events are built here as JSON (the spec is a JSON document; the openlineage-python
client is a test-only dependency that validates them). Inputs and outputs are file
datasets (namespace ``file``, name = absolute path) carrying the standard ``version``
facet with their tree hash; the custom run facet ``reprobuild`` carries the image
digest, lockfile hashes, seed and commit (its JSON schema ships beside this module).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reprobuild import __version__
from reprobuild.errors import ReprobuildError
from reprobuild.redaction import redact
from reprobuild.runs.record import RunRecord

__all__ = ["FACET_SCHEMA_URL", "LineageError", "LineageTarget", "emit", "run_event"]

SPEC = "https://openlineage.io/spec/2-0-2/OpenLineage.json"
PRODUCER = f"https://pypi.org/project/reprobuild/{__version__}"
# Shipped as reprobuild/runs/reprobuild_run_facet.json; a URN: the project publishes no URL.
FACET_SCHEMA_URL = "urn:reprobuild:schema:ReprobuildRunFacet:1-0-0"
FACET_SCHEMA_FILE = Path(__file__).with_name("reprobuild_run_facet.json")
VERSION_FACET = ("https://openlineage.io/spec/facets/1-0-1/DatasetVersionDatasetFacet.json"
                 "#/$defs/DatasetVersionDatasetFacet")
MARQUEZ_ENDPOINT = "/api/v1/lineage"


class LineageError(ReprobuildError):
    """An event could not be delivered (the run itself is not affected)."""


@dataclass(frozen=True, slots=True)
class LineageTarget:
    namespace: str
    file: Path | None = None
    url: str | None = None


def _dataset(root: Path, path: str, sha256: str, side: str) -> dict[str, Any]:
    return {
        side: {},  # inputFacets / outputFacets: none (as the reference client writes them)
        "namespace": "file",
        "name": (root / path).as_posix(),
        "facets": {
            "version": {"_producer": PRODUCER, "_schemaURL": VERSION_FACET,
                        "datasetVersion": sha256},
        },
    }


def run_event(record: RunRecord, event_type: str, namespace: str, root: Path) -> str:
    """One event as a JSON line. START carries no outputs (they do not exist yet)."""
    facet: dict[str, Any] = {
        "_producer": PRODUCER,
        "_schemaURL": FACET_SCHEMA_URL,
        "imageReference": record.image.reference,
        "imageDigest": record.image.digest,
        "imageId": record.image.image_id,
        "pinnedBy": record.image.pinned_by,
        "lockfiles": [{"path": lock.path, "format": lock.format, "sha256": lock.sha256}
                      for lock in record.image.locks],
        "seed": record.seed,
        "configSha256": record.config_sha256,
        "gitCommit": record.git.commit if record.git else None,
        "gitDirty": record.git.dirty if record.git else None,
        "command": list(record.command),
    }
    if event_type != "START":
        facet["exitCode"] = record.exit_code
    event: dict[str, Any] = {
        "eventType": event_type,
        "eventTime": record.started if event_type == "START" else record.ended,
        "producer": PRODUCER,
        "schemaURL": f"{SPEC}#/$defs/RunEvent",
        "run": {"runId": record.run_id, "facets": {"reprobuild": facet}},
        "job": {"namespace": namespace, "name": record.job, "facets": {}},
        "inputs": [_dataset(root, i.path, i.sha256, "inputFacets") for i in record.inputs],
        "outputs": [] if event_type == "START"
        else [_dataset(root, o.path, o.sha256, "outputFacets") for o in record.outputs],
    }
    return redact(json.dumps(event, sort_keys=True))


def emit(event: str, target: LineageTarget) -> None:
    """Append to the JSON-lines file and/or POST to the endpoint (Marquez's
    ``/api/v1/lineage`` when the URL has no path)."""
    if target.file is not None:
        try:
            target.file.parent.mkdir(parents=True, exist_ok=True)
            with target.file.open("a", encoding="utf-8") as handle:
                handle.write(event + "\n")
        except OSError as exc:
            raise LineageError(f"{target.file}: cannot write the event: {exc.strerror}") from None
    if target.url is not None:
        _post(event, target.url)


def _post(event: str, url: str) -> None:
    import httpx

    parts = httpx.URL(url)
    endpoint = parts.copy_with(path=MARQUEZ_ENDPOINT) if parts.path in ("", "/") else parts
    shown = redact(str(endpoint))
    try:
        response = httpx.post(
            endpoint, content=event.encode(), headers={"Content-Type": "application/json"},
            timeout=httpx.Timeout(10.0),
        )
    except httpx.HTTPError as exc:
        raise LineageError(f"{shown}: cannot send the event: {type(exc).__name__}") from None
    if response.status_code >= 300:
        raise LineageError(f"{shown}: the endpoint answered HTTP {response.status_code}")
