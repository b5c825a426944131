# The operators and services the spam-platform chart builds on, in dependency order. Every
# chart is pinned (var.chart_versions); values hold no secret.

resource "helm_release" "cert_manager" {
  name             = "cert-manager"
  repository       = "https://charts.jetstack.io"
  chart            = "cert-manager"
  version          = var.chart_versions.cert_manager
  namespace        = "cert-manager"
  create_namespace = true
  atomic           = true
  values           = [yamlencode({ crds = { enabled = true } })]
}

resource "helm_release" "istio_base" {
  name             = "istio-base"
  repository       = "https://istio-release.storage.googleapis.com/charts"
  chart            = "base"
  version          = var.chart_versions.istio
  namespace        = "istio-system"
  create_namespace = true
  atomic           = true
}

resource "helm_release" "istiod" {
  name       = "istiod"
  repository = "https://istio-release.storage.googleapis.com/charts"
  chart      = "istiod"
  version    = var.chart_versions.istio
  namespace  = "istio-system"
  atomic     = true
  depends_on = [helm_release.istio_base]
}

# Ingress gateway in front of the platform (the chart's Istio ingress option).
resource "helm_release" "istio_ingress" {
  name             = "istio-ingressgateway"
  repository       = "https://istio-release.storage.googleapis.com/charts"
  chart            = "gateway"
  version          = var.chart_versions.istio
  namespace        = "istio-ingress"
  create_namespace = true
  atomic           = true
  depends_on       = [helm_release.istiod]
}

resource "helm_release" "kserve_crd" {
  name             = "kserve-crd"
  repository       = "oci://ghcr.io/kserve/charts"
  chart            = "kserve-crd"
  version          = var.chart_versions.kserve
  namespace        = "kserve"
  create_namespace = true
  atomic           = true
}

resource "helm_release" "kserve" {
  name       = "kserve"
  repository = "oci://ghcr.io/kserve/charts"
  chart      = "kserve"
  version    = var.chart_versions.kserve
  namespace  = "kserve"
  atomic     = true
  values = [yamlencode({
    kserve = { controller = { deploymentMode = var.serving_deployment_mode } }
  })]
  depends_on = [helm_release.cert_manager, helm_release.kserve_crd, helm_release.istiod]
}

resource "helm_release" "kuberay" {
  name             = "kuberay-operator"
  repository       = "https://ray-project.github.io/kuberay-helm/"
  chart            = "kuberay-operator"
  version          = var.chart_versions.kuberay
  namespace        = "kuberay-system"
  create_namespace = true
  atomic           = true
}

resource "helm_release" "kube_prometheus_stack" {
  name             = "kube-prometheus-stack"
  repository       = "https://prometheus-community.github.io/helm-charts"
  chart            = "kube-prometheus-stack"
  version          = var.chart_versions.kube_prometheus_stack
  namespace        = "monitoring"
  create_namespace = true
  atomic           = true
  timeout          = 900
  values = [yamlencode({
    # pick up the ServiceMonitors of every release (the chart's gateway metrics included)
    prometheus = { prometheusSpec = { serviceMonitorSelectorNilUsesHelmValues = false } }
    grafana    = { enabled = var.grafana_enabled }
  })]
}

resource "helm_release" "external_secrets" {
  name             = "external-secrets"
  repository       = "https://charts.external-secrets.io"
  chart            = "external-secrets"
  version          = var.chart_versions.external_secrets
  namespace        = local.ns.external_secrets
  create_namespace = true
  atomic           = true
  values = [yamlencode({
    installCRDs = true
    serviceAccount = {
      name        = "external-secrets"
      annotations = { "azure.workload.identity/client-id" = local.ids["external-secrets"] }
    }
    podLabels = local.wi_label
  })]
}

resource "helm_release" "platform_secrets" {
  name      = "platform-secrets"
  chart     = "${path.module}/charts/platform-secrets"
  namespace = local.ns.external_secrets
  atomic    = true
  values = [yamlencode({
    vaultUrl       = local.base.key_vault_uri
    serviceAccount = { name = "external-secrets", namespace = local.ns.external_secrets }
    secrets        = local.secrets
  })]
  depends_on = [helm_release.external_secrets]
}

# Actions Runner Controller and one runner scale set: the workflows' deploy jobs run inside the
# cluster's network (runs-on: <arc_runner_scale_set_name>). The GitHub App credentials come from
# Key Vault (Secret arc-github-app, see local.secrets).
resource "helm_release" "arc_controller" {
  name             = "arc"
  repository       = "oci://ghcr.io/actions/actions-runner-controller-charts"
  chart            = "gha-runner-scale-set-controller"
  version          = var.chart_versions.arc
  namespace        = "arc-systems"
  create_namespace = true
  atomic           = true
}

resource "helm_release" "arc_runner_set" {
  name       = var.arc_runner_scale_set_name
  repository = "oci://ghcr.io/actions/actions-runner-controller-charts"
  chart      = "gha-runner-scale-set"
  version    = var.chart_versions.arc
  namespace  = var.arc_runners_namespace
  atomic     = true
  values = [yamlencode({
    githubConfigUrl    = var.github_config_url
    githubConfigSecret = local.secrets["arc-github-app"].name
    minRunners         = var.arc_min_runners
    maxRunners         = var.arc_max_runners
  })]
  depends_on = [helm_release.arc_controller, helm_release.platform_secrets]
}
