variable "subscription_id" {
  description = "Azure subscription the platform is created in."
  type        = string
  validation {
    condition     = can(regex("^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", var.subscription_id))
    error_message = "subscription_id must be a GUID."
  }
}

variable "name" {
  description = "Short platform name used in every resource name (lowercase letters and digits, 3-10 characters; storage and registry names allow nothing else)."
  type        = string
  default     = "spam"
  validation {
    condition     = can(regex("^[a-z][a-z0-9]{2,9}$", var.name))
    error_message = "name must be 3-10 lowercase letters or digits, starting with a letter."
  }
}

variable "environment" {
  description = "Environment of this installation: staging or production (drives names, tags and the values/<env>.yaml file)."
  type        = string
  validation {
    condition     = contains(["staging", "production"], var.environment)
    error_message = "environment must be staging or production."
  }
}

variable "location" {
  description = "Azure region of every resource (for example westeurope)."
  type        = string
}

variable "tags" {
  description = "Extra tags added to every resource."
  type        = map(string)
  default     = {}
}

variable "zones" {
  description = "Availability zones the node pools (and a Premium Redis) spread over; empty for regions without zones."
  type        = list(string)
  default     = ["1", "2", "3"]
  validation {
    condition     = alltrue([for z in var.zones : contains(["1", "2", "3"], z)])
    error_message = "zones may only contain \"1\", \"2\" and \"3\"."
  }
}

# ------------------------------------------------------------------ AKS

variable "kubernetes_version" {
  description = "AKS Kubernetes minor version (major.minor); patches follow the patch upgrade channel."
  type        = string
  default     = "1.31"
  validation {
    condition     = can(regex("^1\\.[0-9]{2}$", var.kubernetes_version))
    error_message = "kubernetes_version must be a minor version such as 1.31."
  }
}

variable "aks_sku_tier" {
  description = "AKS control-plane tier: Free (no SLA), Standard or Premium (uptime SLA)."
  type        = string
  default     = "Standard"
  validation {
    condition     = contains(["Free", "Standard", "Premium"], var.aks_sku_tier)
    error_message = "aks_sku_tier must be Free, Standard or Premium."
  }
}

variable "aks_admin_group_object_ids" {
  description = "Entra ID groups that get cluster-admin through Azure RBAC (local accounts are disabled)."
  type        = list(string)
  validation {
    condition     = length(var.aks_admin_group_object_ids) > 0
    error_message = "At least one admin group is needed: local accounts are disabled."
  }
}

variable "api_server_authorized_ip_ranges" {
  description = "CIDRs allowed to reach the API server (operators, CI runners' egress)."
  type        = list(string)
  validation {
    condition     = length(var.api_server_authorized_ip_ranges) > 0 && alltrue([for r in var.api_server_authorized_ip_ranges : can(cidrhost(r, 0))])
    error_message = "api_server_authorized_ip_ranges must be a non-empty list of CIDRs."
  }
}

variable "system_node_pool" {
  description = "System node pool (critical add-ons only): VM size and autoscaler bounds."
  type = object({
    vm_size   = string
    min_count = number
    max_count = number
  })
  default = { vm_size = "Standard_D4ds_v5", min_count = 2, max_count = 3 }
  validation {
    condition     = var.system_node_pool.min_count >= 1 && var.system_node_pool.min_count <= var.system_node_pool.max_count
    error_message = "system_node_pool needs 1 <= min_count <= max_count."
  }
}

variable "workload_node_pool" {
  description = "Workload node pool (gateway, transformer, Triton predictors, Ray): VM size and autoscaler bounds."
  type = object({
    vm_size   = string
    min_count = number
    max_count = number
  })
  default = { vm_size = "Standard_D8ds_v5", min_count = 2, max_count = 10 }
  validation {
    condition     = var.workload_node_pool.min_count >= 0 && var.workload_node_pool.min_count <= var.workload_node_pool.max_count
    error_message = "workload_node_pool needs 0 <= min_count <= max_count."
  }
}

variable "pod_cidr" {
  description = "Overlay pod CIDR of Azure CNI overlay (private, not routed outside the cluster)."
  type        = string
  default     = "10.244.0.0/16"
  validation {
    condition     = can(cidrhost(var.pod_cidr, 0))
    error_message = "pod_cidr must be a CIDR."
  }
}

variable "azure_policy_enabled" {
  description = "Install the Azure Policy add-on on the cluster."
  type        = bool
  default     = true
}

variable "defender_enabled" {
  description = "Enable Microsoft Defender for Containers on the cluster (billed per core)."
  type        = bool
  default     = false
}

variable "log_retention_days" {
  description = "Days Log Analytics keeps the cluster's logs (30-730)."
  type        = number
  default     = 30
}

# ------------------------------------------------------------------ ACR

variable "acr_zone_redundancy_enabled" {
  description = "Spread the registry over availability zones."
  type        = bool
  default     = true
}

variable "acr_untagged_retention_days" {
  description = "Days untagged manifests stay in the registry (0-365)."
  type        = number
  default     = 30
  validation {
    condition     = var.acr_untagged_retention_days >= 0 && var.acr_untagged_retention_days <= 365
    error_message = "acr_untagged_retention_days must be between 0 and 365."
  }
}

# ------------------------------------------------------------------ Storage

variable "storage_replication_type" {
  description = "Replication of the storage account: ZRS, GRS, GZRS or RAGZRS."
  type        = string
  default     = "ZRS"
  validation {
    condition     = contains(["ZRS", "GRS", "GZRS", "RAGZRS"], var.storage_replication_type)
    error_message = "storage_replication_type must be ZRS, GRS, GZRS or RAGZRS."
  }
}

variable "storage_soft_delete_days" {
  description = "Days deleted blobs and containers can be restored (1-365)."
  type        = number
  default     = 14
  validation {
    condition     = var.storage_soft_delete_days >= 1 && var.storage_soft_delete_days <= 365
    error_message = "storage_soft_delete_days must be between 1 and 365."
  }
}

variable "storage_containers" {
  description = "Purpose -> container name. models, inference_logs and datasets must equal the chart's global.storage.{models,logs,datasets}Container; datasets also holds the training data and the Feast feature registry (feast/registry.db), as the chart reads them."
  type        = map(string)
  default = {
    models           = "models"
    inference_logs   = "logs"
    datasets         = "datasets"
    baselines        = "baselines"
    drift_reports    = "drift-reports"
    mlflow_artifacts = "mlflow"
  }
  validation {
    condition     = alltrue([for k in ["models", "inference_logs", "datasets", "baselines", "drift_reports", "mlflow_artifacts"] : contains(keys(var.storage_containers), k)])
    error_message = "storage_containers needs the keys models, inference_logs, datasets, baselines, drift_reports and mlflow_artifacts."
  }
  validation {
    condition     = alltrue([for n in values(var.storage_containers) : can(regex("^[a-z0-9](-?[a-z0-9]){2,62}$", n))])
    error_message = "Container names are 3-63 lowercase letters, digits and single dashes."
  }
}

# ------------------------------------------------------------------ Redis and Key Vault

variable "redis_sku_name" {
  description = "Azure Cache for Redis SKU: Basic, Standard or Premium."
  type        = string
  default     = "Standard"
  validation {
    condition     = contains(["Basic", "Standard", "Premium"], var.redis_sku_name)
    error_message = "redis_sku_name must be Basic, Standard or Premium."
  }
}

variable "redis_capacity" {
  description = "Cache size: 0-6 for Basic/Standard, 1-5 for Premium."
  type        = number
  default     = 1
  validation {
    condition     = var.redis_capacity >= 0 && var.redis_capacity <= 6
    error_message = "redis_capacity must be between 0 and 6."
  }
}

variable "redis_public_network_access_enabled" {
  description = "Allow the cache to be reached from public networks (false needs a private endpoint in the cluster's VNet)."
  type        = bool
  default     = true
}

variable "key_vault_allowed_ip_ranges" {
  description = "CIDRs allowed through the Key Vault firewall (operators, the cluster's egress IPs, CI runners)."
  type        = list(string)
  validation {
    condition     = alltrue([for r in var.key_vault_allowed_ip_ranges : can(cidrhost(r, 0))])
    error_message = "key_vault_allowed_ip_ranges must be CIDRs."
  }
}

variable "secret_expiration_date" {
  description = "RFC 3339 expiry of the Key Vault secrets Terraform writes (rotate the keys before it)."
  type        = string
  validation {
    condition     = can(formatdate("YYYY", var.secret_expiration_date))
    error_message = "secret_expiration_date must be an RFC 3339 timestamp such as 2027-12-31T00:00:00Z."
  }
}

# ------------------------------------------------------------------ Workloads in the cluster

variable "platform_namespace" {
  description = "Namespace of the spam-platform Helm release (its ServiceAccounts federate with the identities)."
  type        = string
  default     = "spam-platform"
  validation {
    condition     = can(regex("^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$", var.platform_namespace))
    error_message = "platform_namespace must be a DNS label."
  }
}

variable "platform_release_name" {
  description = "Helm release name of spam-platform; the chart names its ServiceAccounts <release>-<component>."
  type        = string
  default     = "spam-platform"
  validation {
    condition     = can(regex("^[a-z0-9]([-a-z0-9]{0,40}[a-z0-9])?$", var.platform_release_name))
    error_message = "platform_release_name must be a DNS label of at most 42 characters."
  }
}

variable "kubeflow_namespace" {
  description = "Namespace Kubeflow Pipelines runs the training pipeline's pods in."
  type        = string
  default     = "kubeflow"
  validation {
    condition     = can(regex("^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$", var.kubeflow_namespace))
    error_message = "kubeflow_namespace must be a DNS label (lowercase letters, digits, dashes)."
  }
}

variable "kubeflow_runner_service_account" {
  description = "ServiceAccount of the training pipeline's pods (Kubeflow Pipelines standalone: pipeline-runner)."
  type        = string
  default     = "pipeline-runner"
  validation {
    condition     = can(regex("^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$", var.kubeflow_runner_service_account))
    error_message = "kubeflow_runner_service_account must be a DNS label (lowercase letters, digits, dashes)."
  }
}

variable "mlflow_namespace" {
  description = "Namespace of the MLflow tracking server (its ServiceAccount is mlflow)."
  type        = string
  default     = "mlflow"
  validation {
    condition     = can(regex("^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$", var.mlflow_namespace))
    error_message = "mlflow_namespace must be a DNS label (lowercase letters, digits, dashes)."
  }
}

variable "external_secrets_namespace" {
  description = "Namespace of External Secrets Operator (its ServiceAccount external-secrets reads Key Vault)."
  type        = string
  default     = "external-secrets"
  validation {
    condition     = can(regex("^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$", var.external_secrets_namespace))
    error_message = "external_secrets_namespace must be a DNS label (lowercase letters, digits, dashes)."
  }
}
