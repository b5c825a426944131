provider "azurerm" {
  subscription_id = var.subscription_id
  # Shared keys are disabled on the platform's storage account: data-plane calls use Entra ID.
  storage_use_azuread = true
  features {
    key_vault {
      purge_soft_delete_on_destroy = false
    }
    resource_group {
      prevent_deletion_if_contains_resources = true
    }
  }
}

data "azurerm_client_config" "current" {}
