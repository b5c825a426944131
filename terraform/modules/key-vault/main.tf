# Key Vault with Azure RBAC: who may read which secret is a role assignment, like the storage
# containers. Purge protection keeps a deleted secret recoverable.
resource "azurerm_key_vault" "this" {
  #checkov:skip=CKV_AZURE_189:public network access stays on for External Secrets in a cluster without a private endpoint and for operators; network_acls deny by default and allow only listed CIDRs plus Azure services
  #checkov:skip=CKV2_AZURE_32:a private endpoint needs the cluster's VNet (not managed here); see CKV_AZURE_189
  name                          = var.name
  location                      = var.location
  resource_group_name           = var.resource_group_name
  tenant_id                     = var.tenant_id
  sku_name                      = "premium"
  rbac_authorization_enabled    = true
  purge_protection_enabled      = true
  soft_delete_retention_days    = 90
  public_network_access_enabled = true

  network_acls {
    default_action = "Deny"
    bypass         = "AzureServices"
    ip_rules       = var.allowed_ip_ranges
  }

  tags = var.tags
}

# The identity running Terraform writes the secrets (Redis key, MLflow database password).
resource "azurerm_role_assignment" "deployer_secrets_officer" {
  scope                = azurerm_key_vault.this.id
  role_definition_name = "Key Vault Secrets Officer"
  principal_id         = var.deployer_object_id
}
