#!/usr/bin/env bash
# Build and push every platform image (each images/<name>/Dockerfile, built from the repository
# root like the chart CI does) as <registry>/spam-platform/<name>:<tag> — the repositories the
# chart's values name (gateway, transformer, batch) plus the trainer.
#
#   ci/scripts/build-images.sh crspamprod.azurecr.io 3f2c1ab
#   DRY_RUN=1 ci/scripts/build-images.sh crspamprod.azurecr.io 3f2c1ab   # print the commands
#
# The caller is logged in to the registry (`az acr login`; OIDC in the workflows).
set -euo pipefail
cd "$(dirname "$0")/../.."

registry=${1:-}
tag=${2:-}
if [[ ! $registry =~ ^[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:[0-9]+)?$ ]]; then
  echo "build-images: registry host required (e.g. crspamprod.azurecr.io), got '$registry'" >&2
  exit 2
fi
if [[ ! $tag =~ ^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$ ]]; then
  echo "build-images: invalid image tag '$tag'" >&2
  exit 2
fi

run() {
  printf '%q' "$1"
  printf ' %q' "${@:2}"
  echo
  if [[ ${DRY_RUN:-0} != 1 ]]; then "$@"; fi
}

shopt -s nullglob
dockerfiles=(images/*/Dockerfile)
if ((${#dockerfiles[@]} == 0)); then
  echo "build-images: no images/*/Dockerfile" >&2
  exit 1
fi
for dockerfile in "${dockerfiles[@]}"; do
  name=$(basename "$(dirname "$dockerfile")")
  ref="$registry/spam-platform/$name:$tag"
  run docker build --file "$dockerfile" --tag "$ref" --label "org.opencontainers.image.revision=${GITHUB_SHA:-local}" .
  run docker push "$ref"
done
