variable "name" {
  description = "Globally unique storage account name (3-24 lowercase letters and digits)."
  type        = string
}

variable "location" {
  description = "Azure region of the account."
  type        = string
}

variable "resource_group_name" {
  description = "Resource group that holds the account."
  type        = string
}

variable "replication_type" {
  description = "Replication of the account: ZRS, GRS, GZRS or RAGZRS."
  type        = string
}

variable "soft_delete_days" {
  description = "Days deleted blobs and containers can be restored."
  type        = number
}

variable "containers" {
  description = "Purpose -> container name of every container the platform uses."
  type        = map(string)
}

variable "log_analytics_workspace_id" {
  description = "Workspace that receives the Blob service's request logs."
  type        = string
}

variable "tags" {
  description = "Tags added to the account."
  type        = map(string)
}
