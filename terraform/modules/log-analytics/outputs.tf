output "id" {
  description = "Resource id of the workspace (AKS monitoring and Defender write to it)."
  value       = azurerm_log_analytics_workspace.this.id
}
