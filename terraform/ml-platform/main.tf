# Everything the spam-platform chart needs on the cluster, then the platform release itself,
# wired from base-infra's outputs.
data "terraform_remote_state" "base" {
  backend = "azurerm"
  config  = var.base_infra_state
}

locals {
  base       = data.terraform_remote_state.base.outputs
  ids        = local.base.workload_client_ids
  containers = local.base.storage_containers
  ns         = local.base.namespaces
  wi_label   = { "azure.workload.identity/use" = "true" }

  # Kubernetes Secrets External Secrets creates from Key Vault (name -> namespace, keys).
  secrets = {
    redis = {
      name      = "${local.base.platform_release_name}-redis"
      namespace = local.base.platform_namespace
      data      = { "redis-password" = local.base.redis_password_secret_name }
    }
    api-keys = {
      name      = "${local.base.platform_release_name}-api-keys"
      namespace = local.base.platform_namespace
      data      = { "api-keys.json" = var.key_vault_secret_names.gateway_api_keys }
    }
    mlflow-database = {
      name      = "mlflow-database"
      namespace = local.ns.mlflow
      data      = { username = module.postgresql.username_secret_name, password = module.postgresql.password_secret_name }
    }
    arc-github-app = {
      name      = "arc-github-app"
      namespace = var.arc_runners_namespace
      data = {
        github_app_id              = var.key_vault_secret_names.github_app_id
        github_app_installation_id = var.key_vault_secret_names.github_app_installation_id
        github_app_private_key     = var.key_vault_secret_names.github_app_private_key
      }
    }
  }
}
