variable "name" {
  description = "Name of the user-assigned identity."
  type        = string
}

variable "location" {
  description = "Azure region of the identity."
  type        = string
}

variable "resource_group_name" {
  description = "Resource group that holds the identity."
  type        = string
}

variable "oidc_issuer_url" {
  description = "OIDC issuer of the AKS cluster whose ServiceAccounts federate with the identity."
  type        = string
}

variable "service_accounts" {
  description = "Kubernetes ServiceAccounts (namespace, name) that may act as this identity."
  type = list(object({
    namespace = string
    name      = string
  }))
  validation {
    condition     = length(var.service_accounts) > 0
    error_message = "An identity without a federated ServiceAccount is unusable."
  }
}

variable "role_assignments" {
  description = "Key -> {scope, role}: the built-in roles the workload holds, each on the narrowest scope."
  type = map(object({
    scope = string
    role  = string
  }))
}

variable "tags" {
  description = "Tags added to the identity."
  type        = map(string)
}
