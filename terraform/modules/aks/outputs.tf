output "id" {
  description = "Resource id of the cluster."
  value       = azurerm_kubernetes_cluster.this.id
}

output "name" {
  description = "Name of the cluster."
  value       = azurerm_kubernetes_cluster.this.name
}

output "oidc_issuer_url" {
  description = "OIDC issuer the federated identity credentials trust."
  value       = azurerm_kubernetes_cluster.this.oidc_issuer_url
}

output "host" {
  description = "API server URL."
  value       = "https://${azurerm_kubernetes_cluster.this.fqdn}:443"
}

output "cluster_ca_certificate" {
  description = "Base64 CA certificate of the API server. Public data, but the provider marks the whole kube_config sensitive; with local accounts disabled it holds no credential."
  value       = azurerm_kubernetes_cluster.this.kube_config[0].cluster_ca_certificate
  sensitive   = true
}

output "kubelet_object_id" {
  description = "Object id of the kubelet identity (holds AcrPull)."
  value       = azurerm_kubernetes_cluster.this.kubelet_identity[0].object_id
}
