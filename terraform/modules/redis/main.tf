# Azure Cache for Redis, the Feast online store: TLS only (port 6380, TLS 1.2+), the non-TLS port
# closed. The chart reads the password from a Kubernetes Secret that External Secrets syncs from
# Key Vault; the key vault secret below is the only copy Terraform writes.
resource "azurerm_redis_cache" "this" {
  #checkov:skip=CKV_AZURE_89:public access stays on where the cluster has no private endpoint into the cache's VNet; TLS and the access key guard it and the chart's NetworkPolicy narrows egress (global.networkPolicy.redisCIDRs)
  name                          = var.name
  location                      = var.location
  resource_group_name           = var.resource_group_name
  sku_name                      = var.sku_name
  family                        = var.sku_name == "Premium" ? "P" : "C"
  capacity                      = var.capacity
  non_ssl_port_enabled          = false
  minimum_tls_version           = "1.2"
  redis_version                 = "6"
  public_network_access_enabled = var.public_network_access_enabled
  zones                         = var.sku_name == "Premium" ? var.zones : null

  redis_configuration {
    maxmemory_policy = "allkeys-lru"
  }

  tags = var.tags
}

# Feast's Redis client authenticates with the access key: it goes to Key Vault, never to a
# Helm value. (The key is also an attribute of the cache resource, so this root module's state
# is sensitive; ml-platform's state holds no secret.)
resource "azurerm_key_vault_secret" "password" {
  name            = var.key_vault_secret_name
  key_vault_id    = var.key_vault_id
  value           = azurerm_redis_cache.this.primary_access_key
  content_type    = "text/plain"
  expiration_date = var.secret_expiration_date
}
