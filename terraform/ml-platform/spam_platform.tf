# The spam-platform release: values/<environment>.yaml plus what only base-infra knows (registry,
# storage account and containers, Redis, one workload identity per ServiceAccount) and the
# Secrets External Secrets keeps in sync. No secret value is a Helm value.
locals {
  platform_values = {
    global = {
      environment   = local.base.environment
      imageRegistry = local.base.acr_login_server
      imageTag      = var.platform_image_tag
      model = {
        tracks = {
          staging    = { version = var.model_versions.staging }
          production = { version = var.model_versions.production }
        }
      }
      storage = {
        accountName       = local.base.storage_account_name
        modelsContainer   = local.containers.models
        logsContainer     = local.containers.inference_logs
        datasetsContainer = local.containers.datasets
      }
      mlflow = { trackingUri = "http://mlflow.${local.ns.mlflow}.svc.cluster.local:5000" }
      redis = {
        host           = local.base.redis_host
        port           = local.base.redis_port
        tls            = true
        existingSecret = local.secrets.redis.name
        passwordKey    = "redis-password"
      }
      # Switches workload identity on; every ServiceAccount below names its own identity.
      azure   = { workloadIdentity = { clientId = local.ids.inference } }
      serving = { deploymentMode = var.serving_deployment_mode }
    }
    gateway = {
      apiKeys        = { existingSecret = local.secrets.api-keys.name }
      serviceAccount = { annotations = { "azure.workload.identity/client-id" = local.ids.gateway } }
      feedback = {
        materialize = {
          serviceAccount = { annotations = { "azure.workload.identity/client-id" = local.ids.materialize } }
        }
      }
    }
    transformer = {
      serviceAccount = { annotations = { "azure.workload.identity/client-id" = local.ids.transformer } }
    }
    inference = {
      serviceAccount = { annotations = { "azure.workload.identity/client-id" = local.ids.inference } }
    }
    batch = {
      serviceAccount = { annotations = { "azure.workload.identity/client-id" = local.ids.batch } }
    }
    drift = {
      serviceAccount = { annotations = { "azure.workload.identity/client-id" = local.ids.drift } }
    }
  }
}

resource "helm_release" "spam_platform" {
  name             = local.base.platform_release_name
  chart            = "${path.module}/../../charts/spam-platform"
  namespace        = local.base.platform_namespace
  create_namespace = true
  atomic           = true
  timeout          = 900
  values = [
    file("${path.module}/../../values/${local.base.environment}.yaml"),
    yamlencode(local.platform_values),
  ]

  # Terraform installs the release; afterwards the model-deploy and rollback workflows move the
  # model tracks with `helm upgrade --reuse-values`. Ignoring values keeps a later apply from
  # rolling a track back; infrastructure changes reach the release through the workflows, which
  # pass `terraform output -raw platform_values_yaml` as a values file.
  lifecycle {
    ignore_changes = [values]
  }

  depends_on = [
    helm_release.kserve,
    helm_release.kuberay,
    helm_release.kube_prometheus_stack,
    helm_release.platform_secrets,
    helm_release.mlflow,
  ]
}
