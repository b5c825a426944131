# MLflow tracking server and model registry: PostgreSQL flexible server as the backend store,
# the storage account's MLflow container as the artifact store (proxied: clients never need
# storage access of their own), workload identity for Blob access.

# Generated at apply, never stored: sent write-only to the server and to Key Vault.
ephemeral "random_password" "mlflow_db" {
  length           = 32
  special          = true
  override_special = "-_.~"
}

module "postgresql" {
  source                         = "../modules/postgresql"
  name                           = "psql-${var.name}-${local.base.environment}"
  location                       = local.base.location
  resource_group_name            = local.base.resource_group_name
  sku_name                       = var.postgresql.sku_name
  storage_mb                     = var.postgresql.storage_mb
  backup_retention_days          = var.postgresql.backup_retention_days
  geo_redundant_backup_enabled   = var.postgresql.geo_redundant_backup_enabled
  zone                           = var.postgresql.zone
  administrator_login            = "mlflow"
  administrator_password         = ephemeral.random_password.mlflow_db.result
  administrator_password_version = var.postgresql.password_version
  database_name                  = "mlflow"
  allowed_ip_ranges              = var.postgresql_allowed_ip_ranges
  key_vault_id                   = local.base.key_vault_id
  key_vault_secret_name          = "mlflow-database-password"
  secret_expiration_date         = var.secret_expiration_date
  tags                           = { project = "spam-platform", environment = local.base.environment, managed-by = "terraform" }
}

resource "helm_release" "mlflow" {
  name             = "mlflow"
  repository       = "https://community-charts.github.io/helm-charts"
  chart            = "mlflow"
  version          = var.chart_versions.mlflow
  namespace        = local.ns.mlflow
  create_namespace = true
  atomic           = true
  values = [yamlencode({
    serviceAccount = {
      name        = "mlflow"
      annotations = { "azure.workload.identity/client-id" = local.ids.mlflow }
    }
    podLabels = local.wi_label
    backendStore = {
      databaseMigration = true
      postgres = {
        enabled  = true
        host     = module.postgresql.fqdn
        port     = 5432
        database = module.postgresql.database_name
      }
      existingDatabaseSecret = {
        name        = local.secrets["mlflow-database"].name
        usernameKey = "username"
        passwordKey = "password"
      }
    }
    # --serve-artifacts with the container as destination: the server's workload identity
    # (DefaultAzureCredential) writes, so no storage key is configured anywhere.
    artifactRoot = {
      proxiedArtifactStorage      = true
      defaultArtifactsDestination = "wasbs://${local.containers.mlflow_artifacts}@${local.base.storage_account_name}.blob.core.windows.net/"
    }
  })]
  depends_on = [helm_release.platform_secrets]
}
