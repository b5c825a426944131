# Kubeflow Pipelines (standalone) runs the compiled training pipeline (pipelines/compiled/).
# Kubeflow publishes no Helm chart: its kustomize manifests are applied with the kustomization
# provider, in the priority order the provider computes (namespaces and CRDs first). The
# pipeline pods' ServiceAccount carries the trainer identity's client id.
data "kustomization_overlay" "kfp" {
  resources = ["github.com/kubeflow/pipelines/manifests/kustomize/env/platform-agnostic?ref=${var.chart_versions.kubeflow_pipelines}"]

  patches {
    target {
      kind      = "ServiceAccount"
      name      = local.base.kubeflow_runner_service_account
      namespace = local.ns.kubeflow
    }
    patch = yamlencode([{
      op    = "add"
      path  = "/metadata/annotations"
      value = { "azure.workload.identity/client-id" = local.ids.trainer }
    }])
  }
}

resource "kustomization_resource" "kfp_p0" {
  for_each = data.kustomization_overlay.kfp.ids_prio[0]
  manifest = data.kustomization_overlay.kfp.manifests[each.value]
}

resource "kustomization_resource" "kfp_p1" {
  for_each   = data.kustomization_overlay.kfp.ids_prio[1]
  manifest   = data.kustomization_overlay.kfp.manifests[each.value]
  depends_on = [kustomization_resource.kfp_p0]
}

resource "kustomization_resource" "kfp_p2" {
  for_each   = data.kustomization_overlay.kfp.ids_prio[2]
  manifest   = data.kustomization_overlay.kfp.manifests[each.value]
  depends_on = [kustomization_resource.kfp_p1]
}
