variable "name" {
  description = "Globally unique vault name (3-24 letters, digits and dashes)."
  type        = string
}

variable "location" {
  description = "Azure region of the vault."
  type        = string
}

variable "resource_group_name" {
  description = "Resource group that holds the vault."
  type        = string
}

variable "tenant_id" {
  description = "Entra ID tenant of the vault."
  type        = string
}

variable "allowed_ip_ranges" {
  description = "CIDRs allowed through the vault firewall (operators, the cluster's egress IPs, runners)."
  type        = list(string)
}

variable "deployer_object_id" {
  description = "Object id of the principal running Terraform (gets Key Vault Secrets Officer)."
  type        = string
}

variable "tags" {
  description = "Tags added to the vault."
  type        = map(string)
}
