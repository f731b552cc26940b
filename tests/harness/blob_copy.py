"""Copy one image manifest and its blobs between two unauthenticated loopback registries.

The harness uses this to put the base image into ``registry_open`` without a second
``docker push`` (the daemon would gzip the ~250 MB rootfs layer again; copying the already
compressed blobs over loopback takes a second). Not the project's registry client.
"""

from __future__ import annotations

import hashlib
import json

import httpx

from tests.harness.types import RegistryInfo

SCHEMA2 = "application/vnd.docker.distribution.manifest.v2+json"


class CopyError(RuntimeError):
    pass


def copy_manifest(
    src: RegistryInfo, dst: RegistryInfo, repository: str, digest: str, tag: str
) -> None:
    """Copy ``repository@digest`` (a single-platform schema2/OCI manifest) and tag it."""
    with httpx.Client(timeout=300) as client:
        response = client.get(f"{src.url}/v2/{repository}/manifests/{digest}")
        response.raise_for_status()
        body = response.content
        if "sha256:" + hashlib.sha256(body).hexdigest() != digest:
            raise CopyError(f"{src.host}/{repository}@{digest}: manifest digest mismatch")
        media_type = response.headers.get("Content-Type", SCHEMA2)
        manifest = json.loads(body)
        for blob in [manifest["config"], *manifest["layers"]]:
            _copy_blob(client, src, dst, repository, blob["digest"])
        for reference in (digest, tag):
            put = client.put(
                f"{dst.url}/v2/{repository}/manifests/{reference}",
                content=body,
                headers={"Content-Type": media_type},
            )
            if put.status_code != 201:
                raise CopyError(
                    f"PUT manifest {reference} to {dst.host}: {put.status_code} {put.text}"
                )


def _copy_blob(
    client: httpx.Client, src: RegistryInfo, dst: RegistryInfo, repository: str, digest: str
) -> None:
    if client.head(f"{dst.url}/v2/{repository}/blobs/{digest}").status_code == 200:
        return
    data = client.get(f"{src.url}/v2/{repository}/blobs/{digest}").raise_for_status().content
    start = client.post(f"{dst.url}/v2/{repository}/blobs/uploads/")
    if start.status_code != 202:
        raise CopyError(f"start upload on {dst.host}: {start.status_code} {start.text}")
    location = httpx.URL(dst.url).join(start.headers["Location"])
    put = client.put(
        location.copy_merge_params({"digest": digest}),
        content=data,
        headers={"Content-Type": "application/octet-stream"},
    )
    if put.status_code != 201:
        raise CopyError(f"upload {digest} to {dst.host}: {put.status_code} {put.text}")
