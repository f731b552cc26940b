#!/usr/bin/env bash
# `make demo`: reprobuild's main job on the bundled examples.
#   1. lint the examples (clean ones pass, the insecure one fails)
#   2. start a Docker engine + a mirror registry (scripts/services.sh up)
#   3. build the stand-in base image (python:3.11-slim-bookworm, pushed to the mirror)
#   4. reprobuild image examples/pip-requirements --push <mirror>/demo/pip-requirements:latest
#   5. print the build record and the digest
set -uo pipefail
cd "$(dirname "$0")/.."
bin=.venv/bin
echo "== reprobuild lint examples/{pip-requirements,uv-project,pylock,poetry-project}  (expected: clean, exit 0)"
"$bin/reprobuild" lint examples/pip-requirements examples/uv-project examples/pylock \
    examples/poetry-project
clean=$?
echo
echo "== reprobuild lint examples/insecure  (expected: findings, exit 1)"
"$bin/reprobuild" lint examples/insecure
bad=$?
echo
echo "exit codes: clean examples=$clean (want 0), insecure example=$bad (want 1)"
if [ "$clean" -ne 0 ] || [ "$bad" -ne 1 ]; then
    exit 1
fi

set -e
echo
echo "== scripts/services.sh up  (Docker engine + mirror registry on 127.0.0.1)"
bash scripts/services.sh up
# shellcheck disable=SC1091
source .services/env
export DOCKER_HOST
mirror="$REPROBUILD_TEST_MIRROR"

echo
echo "== scripts/services.sh base-images  (no Docker Hub here: a Debian bookworm stand-in"
echo "   for python:3.11-slim-bookworm, pushed to the mirror)"
bash scripts/services.sh base-images
base_digest="$(curl -fsSI \
    -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
    "http://$mirror/v2/library/python/manifests/3.11-slim-bookworm" |
    tr -d '\r' | awk -F': ' 'tolower($1) == "docker-content-digest" {print $2}')"
if [ -z "$base_digest" ]; then
    echo "demo: the mirror at $mirror has no library/python:3.11-slim-bookworm" >&2
    exit 1
fi

# The example pins the real Docker Hub digest; the stand-in has another one. Build a copy
# (inside the checkout, git-ignored, so the record still names the commit) whose pins file
# points at the stand-in: `FROM python:3.11-slim-bookworm@sha256:…` resolves via the mirror.
work=.services/demo
rm -rf "$work"
mkdir -p "$work"
cp -R examples/pip-requirements "$work/"
cat >"$work/pip-requirements/reprobuild.pins.json" <<PINS
{
  "images": {
    "python:3.11-slim-bookworm": {
      "digest": "$base_digest"
    }
  },
  "schema": "reprobuild.pins/1"
}
PINS
reference="$mirror/demo/pip-requirements:latest"

echo
echo "== reprobuild image examples/pip-requirements --push $reference"
"$bin/reprobuild" image "$work/pip-requirements" --push "$reference" \
    --record "$work/reprobuild-record.json" --digest-file "$work/digest"

echo
echo "== the build record ($work/reprobuild-record.json)"
cat "$work/reprobuild-record.json"
echo
echo "== digest: $(cat "$work/digest")"
echo "   pull it with: docker pull $reference@$(cat "$work/digest")"
