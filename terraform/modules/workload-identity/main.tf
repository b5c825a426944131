# One user-assigned identity for one workload: federated credentials let the workload's
# Kubernetes ServiceAccounts exchange their projected token for an Entra ID token (no secret),
# and the role assignments are exactly what the workload needs.
resource "azurerm_user_assigned_identity" "this" {
  name                = var.name
  location            = var.location
  resource_group_name = var.resource_group_name
  tags                = var.tags
}

resource "azurerm_federated_identity_credential" "this" {
  for_each            = { for sa in var.service_accounts : "${sa.namespace}-${sa.name}" => sa }
  name                = each.key
  resource_group_name = var.resource_group_name
  parent_id           = azurerm_user_assigned_identity.this.id
  issuer              = var.oidc_issuer_url
  subject             = "system:serviceaccount:${each.value.namespace}:${each.value.name}"
  audience            = ["api://AzureADTokenExchange"]
}

resource "azurerm_role_assignment" "this" {
  for_each             = var.role_assignments
  scope                = each.value.scope
  role_definition_name = each.value.role
  principal_id         = azurerm_user_assigned_identity.this.principal_id
  principal_type       = "ServicePrincipal"
}
