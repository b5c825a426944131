output "id" {
  description = "Resource id of the storage account."
  value       = azurerm_storage_account.this.id
}

output "name" {
  description = "Name of the storage account (the chart's global.storage.accountName)."
  value       = azurerm_storage_account.this.name
}

output "container_ids" {
  description = "Purpose -> Resource Manager id of each container (the scope of the data-plane role assignments)."
  value       = { for k, c in azurerm_storage_container.this : k => c.id }
}

output "container_names" {
  description = "Purpose -> container name."
  value       = { for k, c in azurerm_storage_container.this : k => c.name }
}
