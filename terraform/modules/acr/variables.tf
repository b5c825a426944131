variable "name" {
  description = "Globally unique registry name (5-50 letters and digits)."
  type        = string
}

variable "location" {
  description = "Azure region of the registry."
  type        = string
}

variable "resource_group_name" {
  description = "Resource group that holds the registry."
  type        = string
}

variable "zone_redundancy_enabled" {
  description = "Spread the registry over availability zones (regions with zones only)."
  type        = bool
}

variable "untagged_retention_days" {
  description = "Days untagged manifests are kept before deletion."
  type        = number
}

variable "tags" {
  description = "Tags added to the registry."
  type        = map(string)
}
