variable "name" {
  description = "Name of the AKS cluster (also its DNS prefix)."
  type        = string
}

variable "location" {
  description = "Azure region of the cluster."
  type        = string
}

variable "resource_group_name" {
  description = "Resource group that holds the cluster."
  type        = string
}

variable "kubernetes_version" {
  description = "Kubernetes minor version (for example 1.31); patch upgrades follow the patch channel."
  type        = string
}

variable "sku_tier" {
  description = "AKS control-plane tier: Free (no SLA) or Standard/Premium (uptime SLA)."
  type        = string
}

variable "tenant_id" {
  description = "Entra ID tenant of the cluster's RBAC."
  type        = string
}

variable "admin_group_object_ids" {
  description = "Entra ID groups that get cluster-admin through Azure RBAC."
  type        = list(string)
}

variable "api_server_authorized_ip_ranges" {
  description = "CIDRs allowed to reach the public API server."
  type        = list(string)
}

variable "system_pool" {
  description = "System node pool (critical add-ons only): VM size and autoscaler bounds."
  type = object({
    vm_size   = string
    min_count = number
    max_count = number
  })
}

variable "workload_pool" {
  description = "Workload node pool (the platform's pods): VM size and autoscaler bounds."
  type = object({
    vm_size   = string
    min_count = number
    max_count = number
  })
}

variable "zones" {
  description = "Availability zones the node pools spread over."
  type        = list(string)
}

variable "pod_cidr" {
  description = "Overlay pod CIDR (private range, not routed outside the cluster)."
  type        = string
}

variable "azure_policy_enabled" {
  description = "Install the Azure Policy add-on."
  type        = bool
}

variable "defender_enabled" {
  description = "Enable Microsoft Defender for Containers on the cluster."
  type        = bool
}

variable "log_analytics_workspace_id" {
  description = "Workspace that Container Insights and Defender write to."
  type        = string
}

variable "acr_id" {
  description = "Container registry the kubelet identity gets AcrPull on."
  type        = string
}

variable "tags" {
  description = "Tags added to the cluster and node pools."
  type        = map(string)
}
