output "fqdn" {
  description = "Host name MLflow connects to."
  value       = azurerm_postgresql_flexible_server.this.fqdn
}

output "database_name" {
  description = "Database of the MLflow backend store."
  value       = azurerm_postgresql_flexible_server_database.this.name
}

output "password_secret_name" {
  description = "Key Vault secret that holds the administrator password."
  value       = azurerm_key_vault_secret.password.name
}

output "username_secret_name" {
  description = "Key Vault secret that holds the administrator login."
  value       = azurerm_key_vault_secret.username.name
}
