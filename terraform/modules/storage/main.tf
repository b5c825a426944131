# Data Lake Gen2 account (hierarchical namespace) holding every container the platform reads or
# writes. Shared keys are off: every reader and writer authenticates with Entra ID (workload
# identity in the cluster, OIDC in the workflows), so no storage key exists to leak.
resource "azurerm_storage_account" "this" {
  #checkov:skip=CKV_AZURE_33:queue logging applies to the Queue service, which the platform does not use
  #checkov:skip=CKV_AZURE_59:public network access stays on for the workflows and the AKS nodes without a private endpoint; anonymous access is off and shared keys are disabled, every request needs an Entra ID token
  #checkov:skip=CKV2_AZURE_33:a private endpoint needs the cluster's VNet (not managed here); see CKV_AZURE_59
  #checkov:skip=CKV2_AZURE_1:customer-managed keys are optional; Microsoft-managed keys encrypt at rest
  #checkov:skip=CKV_AZURE_206:replication is a variable (ZRS by default, GRS/GZRS allowed); checkov reads only literal values
  #checkov:skip=CKV2_AZURE_41:no SAS tokens are issued (shared keys disabled), so there is no SAS expiration policy to set
  name                              = var.name
  location                          = var.location
  resource_group_name               = var.resource_group_name
  account_kind                      = "StorageV2"
  account_tier                      = "Standard"
  account_replication_type          = var.replication_type
  is_hns_enabled                    = true
  min_tls_version                   = "TLS1_2"
  https_traffic_only_enabled        = true
  shared_access_key_enabled         = false
  default_to_oauth_authentication   = true
  allow_nested_items_to_be_public   = false
  local_user_enabled                = false
  infrastructure_encryption_enabled = true

  blob_properties {
    delete_retention_policy {
      days = var.soft_delete_days
    }
    container_delete_retention_policy {
      days = var.soft_delete_days
    }
  }

  sas_policy {
    expiration_period = "00.01:00:00"
  }

  tags = var.tags
}

resource "azurerm_storage_container" "this" {
  #checkov:skip=CKV2_AZURE_21:blob read/write/delete logs go to Log Analytics through azurerm_monitor_diagnostic_setting.blob below; the storage insights resource this check looks for needs a storage key, and shared keys are disabled
  for_each              = var.containers
  name                  = each.value
  storage_account_id    = azurerm_storage_account.this.id
  container_access_type = "private"
}

# Read, write and delete requests of the Blob service, to Log Analytics (who read which model,
# who wrote which inference log).
resource "azurerm_monitor_diagnostic_setting" "blob" {
  name                       = "blob-requests"
  target_resource_id         = "${azurerm_storage_account.this.id}/blobServices/default"
  log_analytics_workspace_id = var.log_analytics_workspace_id

  enabled_log {
    category = "StorageRead"
  }
  enabled_log {
    category = "StorageWrite"
  }
  enabled_log {
    category = "StorageDelete"
  }
}
