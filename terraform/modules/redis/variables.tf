variable "name" {
  description = "Globally unique cache name."
  type        = string
}

variable "location" {
  description = "Azure region of the cache."
  type        = string
}

variable "resource_group_name" {
  description = "Resource group that holds the cache."
  type        = string
}

variable "sku_name" {
  description = "Basic, Standard or Premium (Premium adds zones and VNet injection)."
  type        = string
}

variable "capacity" {
  description = "Cache size: 0-6 for Basic/Standard (C family), 1-5 for Premium (P family)."
  type        = number
}

variable "zones" {
  description = "Availability zones of a Premium cache (ignored for other SKUs)."
  type        = list(string)
}

variable "public_network_access_enabled" {
  description = "Allow access from public networks (false needs a private endpoint)."
  type        = bool
}

variable "key_vault_id" {
  description = "Key Vault that receives the access key."
  type        = string
}

variable "key_vault_secret_name" {
  description = "Name of the Key Vault secret holding the access key."
  type        = string
}

variable "secret_expiration_date" {
  description = "RFC 3339 expiry of the Key Vault secret (rotate the key before it)."
  type        = string
}

variable "tags" {
  description = "Tags added to the cache."
  type        = map(string)
}
