output "resource_group_name" {
  description = "Resource group of the platform."
  value       = azurerm_resource_group.this.name
}

output "location" {
  description = "Azure region of the platform."
  value       = azurerm_resource_group.this.location
}

output "environment" {
  description = "Environment of this installation (staging or production)."
  value       = var.environment
}

output "aks_name" {
  description = "Name of the AKS cluster (az aks get-credentials)."
  value       = module.aks.name
}

output "aks_host" {
  description = "API server URL (ml-platform's Helm provider)."
  value       = module.aks.host
}

output "aks_cluster_ca_certificate" {
  description = "Base64 CA certificate of the API server."
  value       = module.aks.cluster_ca_certificate
  sensitive   = true
}

output "oidc_issuer_url" {
  description = "OIDC issuer of the cluster."
  value       = module.aks.oidc_issuer_url
}

output "acr_login_server" {
  description = "Registry host (the chart's global.imageRegistry)."
  value       = module.acr.login_server
}

output "storage_account_name" {
  description = "Storage account (the chart's global.storage.accountName)."
  value       = module.storage.name
}

output "storage_containers" {
  description = "Purpose -> container name."
  value       = module.storage.container_names
}

output "redis_host" {
  description = "Redis host (the chart's global.redis.host)."
  value       = module.redis.hostname
}

output "redis_port" {
  description = "Redis TLS port (the chart's global.redis.port)."
  value       = module.redis.ssl_port
}

output "key_vault_id" {
  description = "Resource id of the Key Vault (ml-platform writes the MLflow database password into it)."
  value       = module.key_vault.id
}

output "key_vault_uri" {
  description = "Key Vault URI (External Secrets' ClusterSecretStore)."
  value       = module.key_vault.vault_uri
}

output "redis_password_secret_name" {
  description = "Key Vault secret holding the Redis access key."
  value       = module.redis.password_secret_name
}

output "workload_client_ids" {
  description = "Workload -> client id of its managed identity (ServiceAccount annotation azure.workload.identity/client-id)."
  value       = { for k, m in module.identity : k => m.client_id }
}

output "workload_subjects" {
  description = "Workload -> federated subjects (system:serviceaccount:<namespace>:<name>)."
  value       = { for k, m in module.identity : k => m.subjects }
}

output "platform_namespace" {
  description = "Namespace of the spam-platform release."
  value       = var.platform_namespace
}

output "platform_release_name" {
  description = "Release name of spam-platform the identities were federated for."
  value       = var.platform_release_name
}

output "namespaces" {
  description = "Namespaces of the platform's dependencies whose ServiceAccounts federate with identities."
  value = {
    kubeflow         = var.kubeflow_namespace
    mlflow           = var.mlflow_namespace
    external_secrets = var.external_secrets_namespace
  }
}

output "kubeflow_runner_service_account" {
  description = "ServiceAccount of the training pipeline's pods (federated with the trainer identity)."
  value       = var.kubeflow_runner_service_account
}
