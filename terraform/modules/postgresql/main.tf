# Azure Database for PostgreSQL flexible server: MLflow's backend store. The administrator
# password is write-only (never in plan or state): the caller generates it ephemerally, it is
# sent to the server and to Key Vault, and MLflow reads it from a Secret External Secrets syncs.
resource "azurerm_postgresql_flexible_server" "this" {
  #checkov:skip=CKV_AZURE_136:geo-redundant backup is a variable (var.geo_redundant_backup_enabled); checkov reads only literal values
  #checkov:skip=CKV2_AZURE_57:a private endpoint needs the cluster's VNet (not managed here); public access is limited by the firewall rules below and TLS is enforced
  name                              = var.name
  location                          = var.location
  resource_group_name               = var.resource_group_name
  version                           = "16"
  sku_name                          = var.sku_name
  storage_mb                        = var.storage_mb
  backup_retention_days             = var.backup_retention_days
  geo_redundant_backup_enabled      = var.geo_redundant_backup_enabled
  public_network_access_enabled     = true
  administrator_login               = var.administrator_login
  administrator_password_wo         = var.administrator_password
  administrator_password_wo_version = var.administrator_password_version
  zone                              = var.zone

  authentication {
    password_auth_enabled         = true
    active_directory_auth_enabled = false
  }

  lifecycle {
    ignore_changes = [zone]
  }

  tags = var.tags
}

resource "azurerm_postgresql_flexible_server_configuration" "require_tls" {
  name      = "require_secure_transport"
  server_id = azurerm_postgresql_flexible_server.this.id
  value     = "on"
}

resource "azurerm_postgresql_flexible_server_database" "this" {
  name      = var.database_name
  server_id = azurerm_postgresql_flexible_server.this.id
  charset   = "UTF8"
  collation = "en_US.utf8"
}

resource "azurerm_postgresql_flexible_server_firewall_rule" "this" {
  for_each         = var.allowed_ip_ranges
  name             = each.key
  server_id        = azurerm_postgresql_flexible_server.this.id
  start_ip_address = each.value.start
  end_ip_address   = each.value.end
}

resource "azurerm_key_vault_secret" "password" {
  name             = var.key_vault_secret_name
  key_vault_id     = var.key_vault_id
  value_wo         = var.administrator_password
  value_wo_version = var.administrator_password_version
  content_type     = "text/plain"
  expiration_date  = var.secret_expiration_date
}

# The login is not secret; it sits next to the password so one ExternalSecret carries both.
resource "azurerm_key_vault_secret" "username" {
  name            = "${var.key_vault_secret_name}-username"
  key_vault_id    = var.key_vault_id
  value           = var.administrator_login
  content_type    = "text/plain"
  expiration_date = var.secret_expiration_date
}
