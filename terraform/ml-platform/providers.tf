provider "azurerm" {
  subscription_id = var.subscription_id
  features {}
}

locals {
  # Entra ID token for the API server (local accounts are disabled on the cluster): kubelogin,
  # logged in the way the caller is (azurecli for operators, workloadidentity in CI).
  kube_exec = {
    api_version = "client.authentication.k8s.io/v1beta1"
    command     = "kubelogin"
    args        = ["get-token", "--login", var.kubelogin_mode, "--server-id", "6dae42f8-4368-4678-94ff-3960e28e3630"]
  }
}

provider "helm" {
  kubernetes = {
    host                   = local.base.aks_host
    cluster_ca_certificate = base64decode(local.base.aks_cluster_ca_certificate)
    exec                   = local.kube_exec
  }
}

provider "kustomization" {
  kubeconfig_raw = yamlencode({
    apiVersion      = "v1"
    kind            = "Config"
    current-context = "aks"
    clusters        = [{ name = "aks", cluster = { server = local.base.aks_host, certificate-authority-data = local.base.aks_cluster_ca_certificate } }]
    users           = [{ name = "aks", user = { exec = { apiVersion = local.kube_exec.api_version, command = local.kube_exec.command, args = local.kube_exec.args } } }]
    contexts        = [{ name = "aks", context = { cluster = "aks", user = "aks" } }]
  })
}
