locals {
  suffix = "${var.name}${var.environment}"
  tags   = merge(var.tags, { project = "spam-platform", environment = var.environment, managed-by = "terraform" })

  # The chart names every ServiceAccount "<release>-<component>" (spam-common.names.fullname);
  # tests/terraform checks these names against the chart's render. materialize: the gateway
  # subchart's hourly Feast materialization CronJob (user feedback), a ServiceAccount of its own.
  platform_service_accounts = {
    gateway     = "${var.platform_release_name}-gateway"
    transformer = "${var.platform_release_name}-transformer"
    inference   = "${var.platform_release_name}-inference"
    batch       = "${var.platform_release_name}-batch"
    drift       = "${var.platform_release_name}-drift"
    materialize = "${var.platform_release_name}-gateway-materialize"
  }

  c = module.storage.container_ids

  # workload -> the ServiceAccounts that federate with its identity and the roles it holds, each
  # on one container (least privilege: the gateway writes inference logs and reads batch job
  # status, it never reads models; only the trainer publishes models).
  workloads = {
    gateway = {
      service_accounts = [{ namespace = var.platform_namespace, name = local.platform_service_accounts.gateway }]
      roles = {
        write-inference-logs = { scope = local.c.inference_logs, role = "Storage Blob Data Contributor" }
        read-batch-status    = { scope = local.c.datasets, role = "Storage Blob Data Reader" }
      }
    }
    transformer = {
      service_accounts = [{ namespace = var.platform_namespace, name = local.platform_service_accounts.transformer }]
      roles = {
        read-model-features   = { scope = local.c.models, role = "Storage Blob Data Reader" }
        read-feature-registry = { scope = local.c.datasets, role = "Storage Blob Data Reader" }
      }
    }
    inference = {
      service_accounts = [{ namespace = var.platform_namespace, name = local.platform_service_accounts.inference }]
      roles = {
        read-models = { scope = local.c.models, role = "Storage Blob Data Reader" }
      }
    }
    batch = {
      service_accounts = [{ namespace = var.platform_namespace, name = local.platform_service_accounts.batch }]
      roles = {
        read-write-datasets = { scope = local.c.datasets, role = "Storage Blob Data Contributor" }
      }
    }
    drift = {
      service_accounts = [{ namespace = var.platform_namespace, name = local.platform_service_accounts.drift }]
      roles = {
        read-inference-logs = { scope = local.c.inference_logs, role = "Storage Blob Data Reader" }
        read-baselines      = { scope = local.c.baselines, role = "Storage Blob Data Reader" }
        write-drift-reports = { scope = local.c.drift_reports, role = "Storage Blob Data Contributor" }
      }
    }
    materialize = {
      service_accounts = [{ namespace = var.platform_namespace, name = local.platform_service_accounts.materialize }]
      roles = {
        read-feature-registry = { scope = local.c.datasets, role = "Storage Blob Data Reader" }
        read-feedback-log     = { scope = local.c.inference_logs, role = "Storage Blob Data Reader" }
      }
    }
    trainer = {
      service_accounts = [{ namespace = var.kubeflow_namespace, name = var.kubeflow_runner_service_account }]
      roles = {
        read-write-datasets = { scope = local.c.datasets, role = "Storage Blob Data Contributor" }
        publish-models      = { scope = local.c.models, role = "Storage Blob Data Contributor" }
        write-baselines     = { scope = local.c.baselines, role = "Storage Blob Data Contributor" }
      }
    }
    mlflow = {
      service_accounts = [{ namespace = var.mlflow_namespace, name = "mlflow" }]
      roles = {
        read-write-artifacts = { scope = local.c.mlflow_artifacts, role = "Storage Blob Data Contributor" }
      }
    }
    external-secrets = {
      service_accounts = [{ namespace = var.external_secrets_namespace, name = "external-secrets" }]
      roles = {
        read-secrets = { scope = module.key_vault.id, role = "Key Vault Secrets User" }
      }
    }
  }
}

resource "azurerm_resource_group" "this" {
  name     = "rg-${var.name}-${var.environment}"
  location = var.location
  tags     = local.tags
}

module "log_analytics" {
  source              = "../modules/log-analytics"
  name                = "log-${var.name}-${var.environment}"
  location            = azurerm_resource_group.this.location
  resource_group_name = azurerm_resource_group.this.name
  retention_in_days   = var.log_retention_days
  tags                = local.tags
}

module "acr" {
  source                  = "../modules/acr"
  name                    = "cr${local.suffix}"
  location                = azurerm_resource_group.this.location
  resource_group_name     = azurerm_resource_group.this.name
  zone_redundancy_enabled = var.acr_zone_redundancy_enabled
  untagged_retention_days = var.acr_untagged_retention_days
  tags                    = local.tags
}

module "aks" {
  source                          = "../modules/aks"
  name                            = "aks-${var.name}-${var.environment}"
  location                        = azurerm_resource_group.this.location
  resource_group_name             = azurerm_resource_group.this.name
  kubernetes_version              = var.kubernetes_version
  sku_tier                        = var.aks_sku_tier
  tenant_id                       = data.azurerm_client_config.current.tenant_id
  admin_group_object_ids          = var.aks_admin_group_object_ids
  api_server_authorized_ip_ranges = var.api_server_authorized_ip_ranges
  system_pool                     = var.system_node_pool
  workload_pool                   = var.workload_node_pool
  zones                           = var.zones
  pod_cidr                        = var.pod_cidr
  azure_policy_enabled            = var.azure_policy_enabled
  defender_enabled                = var.defender_enabled
  log_analytics_workspace_id      = module.log_analytics.id
  acr_id                          = module.acr.id
  tags                            = local.tags
}

module "storage" {
  source                     = "../modules/storage"
  name                       = "st${local.suffix}"
  location                   = azurerm_resource_group.this.location
  resource_group_name        = azurerm_resource_group.this.name
  replication_type           = var.storage_replication_type
  soft_delete_days           = var.storage_soft_delete_days
  containers                 = var.storage_containers
  log_analytics_workspace_id = module.log_analytics.id
  tags                       = local.tags
}

module "key_vault" {
  source              = "../modules/key-vault"
  name                = "kv-${var.name}-${var.environment}"
  location            = azurerm_resource_group.this.location
  resource_group_name = azurerm_resource_group.this.name
  tenant_id           = data.azurerm_client_config.current.tenant_id
  allowed_ip_ranges   = var.key_vault_allowed_ip_ranges
  deployer_object_id  = data.azurerm_client_config.current.object_id
  tags                = local.tags
}

module "redis" {
  source                        = "../modules/redis"
  name                          = "redis-${var.name}-${var.environment}"
  location                      = azurerm_resource_group.this.location
  resource_group_name           = azurerm_resource_group.this.name
  sku_name                      = var.redis_sku_name
  capacity                      = var.redis_capacity
  zones                         = var.zones
  public_network_access_enabled = var.redis_public_network_access_enabled
  key_vault_id                  = module.key_vault.id
  key_vault_secret_name         = "redis-password"
  secret_expiration_date        = var.secret_expiration_date
  tags                          = local.tags

  depends_on = [module.key_vault]
}

module "identity" {
  source   = "../modules/workload-identity"
  for_each = local.workloads

  name                = "id-${var.name}-${var.environment}-${each.key}"
  location            = azurerm_resource_group.this.location
  resource_group_name = azurerm_resource_group.this.name
  oidc_issuer_url     = module.aks.oidc_issuer_url
  service_accounts    = each.value.service_accounts
  role_assignments    = each.value.roles
  tags                = local.tags
}
