output "hostname" {
  description = "Host name of the cache (the chart's global.redis.host)."
  value       = azurerm_redis_cache.this.hostname
}

output "ssl_port" {
  description = "TLS port of the cache (the chart's global.redis.port)."
  value       = azurerm_redis_cache.this.ssl_port
}

output "password_secret_name" {
  description = "Key Vault secret that holds the access key."
  value       = azurerm_key_vault_secret.password.name
}
