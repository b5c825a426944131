variable "name" {
  description = "Globally unique server name."
  type        = string
}

variable "location" {
  description = "Azure region of the server."
  type        = string
}

variable "resource_group_name" {
  description = "Resource group that holds the server."
  type        = string
}

variable "sku_name" {
  description = "Compute SKU (for example B_Standard_B1ms, GP_Standard_D2ds_v5)."
  type        = string
}

variable "storage_mb" {
  description = "Storage size in MB."
  type        = number
}

variable "backup_retention_days" {
  description = "Days of point-in-time backups (7 to 35)."
  type        = number
}

variable "geo_redundant_backup_enabled" {
  description = "Keep backups in the paired region."
  type        = bool
}

variable "zone" {
  description = "Availability zone of the server."
  type        = string
}

variable "administrator_login" {
  description = "Administrator login (MLflow connects as this user)."
  type        = string
}

variable "administrator_password" {
  description = "Administrator password; ephemeral: sent write-only to the server and Key Vault, never stored in state."
  type        = string
  ephemeral   = true
  sensitive   = true
}

variable "administrator_password_version" {
  description = "Increment to push a new administrator_password (write-only values are not compared)."
  type        = number
}

variable "database_name" {
  description = "Database MLflow's tracking server uses."
  type        = string
}

variable "allowed_ip_ranges" {
  description = "Firewall rule name -> {start, end} public IPs allowed to connect (the cluster's egress IPs)."
  type = map(object({
    start = string
    end   = string
  }))
}

variable "key_vault_id" {
  description = "Key Vault that receives the administrator password."
  type        = string
}

variable "key_vault_secret_name" {
  description = "Name of the Key Vault secret holding the password."
  type        = string
}

variable "secret_expiration_date" {
  description = "RFC 3339 expiry of the Key Vault secret (rotate before it)."
  type        = string
}

variable "tags" {
  description = "Tags added to the server."
  type        = map(string)
}
