output "id" {
  description = "Resource id of the registry (scope of AcrPull/AcrPush)."
  value       = azurerm_container_registry.this.id
}

output "login_server" {
  description = "Registry host the chart's global.imageRegistry points at."
  value       = azurerm_container_registry.this.login_server
}
