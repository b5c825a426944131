#!/usr/bin/env bash
# kubectl/helm context for the AKS cluster, after `az login` (OIDC in the workflows): local
# accounts are disabled, so the kubeconfig gets an Entra ID token through kubelogin.
#
#   ci/scripts/kube-context.sh <resource-group> <cluster>
set -euo pipefail
resource_group=${1:?resource group}
cluster=${2:?cluster name}
if ! command -v kubelogin >/dev/null 2>&1; then
  sudo az aks install-cli --only-show-errors >/dev/null
fi
az aks get-credentials --resource-group "$resource_group" --name "$cluster" --overwrite-existing --only-show-errors
kubelogin convert-kubeconfig --login azurecli
