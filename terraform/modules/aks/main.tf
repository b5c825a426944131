# AKS with a system pool (critical add-ons only) and an autoscaled workload pool, Azure CNI in
# overlay mode, OIDC issuer + workload identity (the platform's pods get Azure tokens without
# secrets), Entra ID RBAC with local accounts off, and Azure Monitor / Policy / Defender.
resource "azurerm_kubernetes_cluster" "this" {
  #checkov:skip=CKV_AZURE_115:the API server stays public behind authorized_ip_ranges (CKV_AZURE_6) so GitHub-hosted runners and operators reach it; a private cluster needs a VNet-peered runner, see terraform/README.md
  #checkov:skip=CKV_AZURE_6:authorized_ip_ranges is set below from a required, validated non-empty variable; checkov cannot resolve variables without defaults
  #checkov:skip=CKV_AZURE_117:disk encryption with a customer-managed key is optional (platform-managed keys encrypt the OS disks; host encryption is on)
  name                      = var.name
  location                  = var.location
  resource_group_name       = var.resource_group_name
  dns_prefix                = var.name
  kubernetes_version        = var.kubernetes_version
  sku_tier                  = var.sku_tier
  automatic_upgrade_channel = "patch"
  node_os_upgrade_channel   = "NodeImage"

  oidc_issuer_enabled               = true
  workload_identity_enabled         = true
  local_account_disabled            = true
  role_based_access_control_enabled = true
  azure_policy_enabled              = var.azure_policy_enabled

  azure_active_directory_role_based_access_control {
    azure_rbac_enabled     = true
    tenant_id              = var.tenant_id
    admin_group_object_ids = var.admin_group_object_ids
  }

  api_server_access_profile {
    authorized_ip_ranges = var.api_server_authorized_ip_ranges
  }

  default_node_pool {
    name                         = "system"
    vm_size                      = var.system_pool.vm_size
    auto_scaling_enabled         = true
    min_count                    = var.system_pool.min_count
    max_count                    = var.system_pool.max_count
    max_pods                     = 110
    only_critical_addons_enabled = true
    os_disk_type                 = "Ephemeral"
    host_encryption_enabled      = true
    zones                        = var.zones
    temporary_name_for_rotation  = "systemtmp"
    upgrade_settings {
      max_surge = "33%"
    }
  }

  identity {
    type = "SystemAssigned"
  }

  network_profile {
    network_plugin      = "azure"
    network_plugin_mode = "overlay"
    network_policy      = "azure"
    pod_cidr            = var.pod_cidr
    load_balancer_sku   = "standard"
  }

  auto_scaler_profile {
    balance_similar_node_groups = true
    expander                    = "least-waste"
    scale_down_unneeded         = "10m"
  }

  oms_agent {
    log_analytics_workspace_id      = var.log_analytics_workspace_id
    msi_auth_for_monitoring_enabled = true
  }

  dynamic "microsoft_defender" {
    for_each = var.defender_enabled ? [1] : []
    content {
      log_analytics_workspace_id = var.log_analytics_workspace_id
    }
  }

  key_vault_secrets_provider {
    secret_rotation_enabled = true
  }

  tags = var.tags
}

# Workload pool: the platform's pods (gateway, transformer, predictors, Ray) land here; the
# cluster autoscaler grows it between min_count and max_count.
resource "azurerm_kubernetes_cluster_node_pool" "workload" {
  name                    = "workload"
  kubernetes_cluster_id   = azurerm_kubernetes_cluster.this.id
  vm_size                 = var.workload_pool.vm_size
  auto_scaling_enabled    = true
  min_count               = var.workload_pool.min_count
  max_count               = var.workload_pool.max_count
  max_pods                = 110
  os_disk_type            = "Ephemeral"
  host_encryption_enabled = true
  zones                   = var.zones
  mode                    = "User"
  node_labels             = { "spam-platform/pool" = "workload" }
  upgrade_settings {
    max_surge = "33%"
  }
  tags = var.tags
}

# The kubelet pulls the platform images from ACR with its own managed identity.
resource "azurerm_role_assignment" "kubelet_acr_pull" {
  scope                            = var.acr_id
  role_definition_name             = "AcrPull"
  principal_id                     = azurerm_kubernetes_cluster.this.kubelet_identity[0].object_id
  skip_service_principal_aad_check = true
}
