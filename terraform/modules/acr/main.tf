# Premium registry: the tier that allows disabling public access, geo-replication, retention of
# untagged manifests and content trust. No admin user: pushes use OIDC (workflows) and pulls use
# the kubelet identity (AcrPull, granted by the aks module).
resource "azurerm_container_registry" "this" {
  #checkov:skip=CKV_AZURE_139:public network access stays on for GitHub-hosted runners that push the images; restrict with network_rule_set or a private endpoint where runners are self-hosted
  #checkov:skip=CKV_AZURE_166:image quarantine is a preview feature that needs a scanner to release images; Defender for Containers scans the registry instead
  #checkov:skip=CKV_AZURE_233:zone redundancy is optional (var.zone_redundancy_enabled); a registry outage stops deploys, not serving
  #checkov:skip=CKV_AZURE_237:dedicated data endpoints matter only with firewall rules (public access is on, see CKV_AZURE_139)
  #checkov:skip=CKV_AZURE_165:geo-replication is optional for a single-region platform; images are rebuilt by the workflows
  name                          = var.name
  location                      = var.location
  resource_group_name           = var.resource_group_name
  sku                           = "Premium"
  admin_enabled                 = false
  public_network_access_enabled = true
  zone_redundancy_enabled       = var.zone_redundancy_enabled
  trust_policy_enabled          = true
  retention_policy_in_days      = var.untagged_retention_days
  tags                          = var.tags
}
