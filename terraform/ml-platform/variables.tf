variable "subscription_id" {
  description = "Azure subscription of the platform (the same as base-infra's)."
  type        = string
  validation {
    condition     = can(regex("^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", var.subscription_id))
    error_message = "subscription_id must be a GUID."
  }
}

variable "name" {
  description = "Short platform name used in resource names (the same as base-infra's name)."
  type        = string
  default     = "spam"
  validation {
    condition     = can(regex("^[a-z][a-z0-9]{2,9}$", var.name))
    error_message = "name must be 3-10 lowercase letters or digits, starting with a letter."
  }
}

variable "base_infra_state" {
  description = "Where base-infra keeps its state (the azurerm backend settings it was initialised with)."
  type = object({
    resource_group_name  = string
    storage_account_name = string
    container_name       = string
    key                  = string
    use_azuread_auth     = optional(bool, true)
  })
}

variable "kubelogin_mode" {
  description = "How kubelogin gets the API server token: azurecli (operators after az login) or workloadidentity (CI with OIDC)."
  type        = string
  default     = "azurecli"
  validation {
    condition     = contains(["azurecli", "workloadidentity", "msi"], var.kubelogin_mode)
    error_message = "kubelogin_mode must be azurecli, workloadidentity or msi."
  }
}

variable "chart_versions" {
  description = "Pinned versions of every chart (and the Kubeflow Pipelines manifests ref) this module installs."
  type = object({
    cert_manager          = string
    istio                 = string
    kserve                = string
    kuberay               = string
    kube_prometheus_stack = string
    external_secrets      = string
    arc                   = string
    mlflow                = string
    kubeflow_pipelines    = string
  })
  default = {
    cert_manager          = "v1.18.2"
    istio                 = "1.27.1"
    kserve                = "v0.16.0"
    kuberay               = "1.5.1"
    kube_prometheus_stack = "77.5.0"
    external_secrets      = "0.19.2"
    arc                   = "0.12.1"
    mlflow                = "1.11.4"
    kubeflow_pipelines    = "2.14.3"
  }
  validation {
    condition     = alltrue([for v in values(var.chart_versions) : can(regex("^v?[0-9]+\\.[0-9]+\\.[0-9]+$", v))])
    error_message = "Every chart version must be an exact version (x.y.z, optional leading v): no ranges."
  }
}

variable "serving_deployment_mode" {
  description = "KServe deployment mode of the predictors: Standard (plain Deployments + HPA; installed here) or Knative (canary traffic, scale to zero; needs Knative Serving, which this module does not install)."
  type        = string
  default     = "Standard"
  validation {
    condition     = contains(["Standard", "Knative"], var.serving_deployment_mode)
    error_message = "serving_deployment_mode must be Standard or Knative."
  }
}

variable "grafana_enabled" {
  description = "Install Grafana with kube-prometheus-stack."
  type        = bool
  default     = true
}

variable "key_vault_secret_names" {
  description = "Names of the Key Vault secrets operators put there themselves (never through Terraform): the gateway's hashed API-key file and the GitHub App of the runner scale set."
  type = object({
    gateway_api_keys           = string
    github_app_id              = string
    github_app_installation_id = string
    github_app_private_key     = string
  })
  default = {
    gateway_api_keys           = "gateway-api-keys"
    github_app_id              = "arc-github-app-id"
    github_app_installation_id = "arc-github-app-installation-id"
    github_app_private_key     = "arc-github-app-private-key"
  }
}

variable "github_config_url" {
  description = "GitHub repository or organisation URL the runner scale set registers with."
  type        = string
  validation {
    condition     = can(regex("^https://github\\.com/[^/]+(/[^/]+)?$", var.github_config_url))
    error_message = "github_config_url must be https://github.com/<org> or https://github.com/<org>/<repo>."
  }
}

variable "arc_runner_scale_set_name" {
  description = "Name of the runner scale set: the workflows' deploy jobs use it as runs-on."
  type        = string
  default     = "spam-platform-deploy"
  validation {
    condition     = can(regex("^[a-z0-9]([-a-z0-9]{0,43}[a-z0-9])?$", var.arc_runner_scale_set_name))
    error_message = "arc_runner_scale_set_name must be a DNS label of at most 45 characters."
  }
}

variable "arc_runners_namespace" {
  description = "Namespace of the runner pods."
  type        = string
  default     = "arc-runners"
  validation {
    condition     = can(regex("^[a-z0-9]([-a-z0-9]{0,43}[a-z0-9])?$", var.arc_runners_namespace))
    error_message = "arc_runners_namespace must be a DNS label of at most 45 characters."
  }
}

variable "arc_min_runners" {
  description = "Idle runners kept warm."
  type        = number
  default     = 0
  validation {
    condition     = var.arc_min_runners >= 0
    error_message = "arc_min_runners must be >= 0."
  }
}

variable "arc_max_runners" {
  description = "Most runners at once."
  type        = number
  default     = 4
  validation {
    condition     = var.arc_max_runners >= 1
    error_message = "arc_max_runners must be >= 1."
  }
}

variable "postgresql" {
  description = "MLflow's PostgreSQL flexible server: SKU, storage, backups, zone, and the password version (increment to rotate the generated password)."
  type = object({
    sku_name                     = string
    storage_mb                   = number
    backup_retention_days        = number
    geo_redundant_backup_enabled = bool
    zone                         = string
    password_version             = number
  })
  default = {
    sku_name                     = "GP_Standard_D2ds_v5"
    storage_mb                   = 32768
    backup_retention_days        = 14
    geo_redundant_backup_enabled = true
    zone                         = "1"
    password_version             = 1
  }
  validation {
    condition     = var.postgresql.backup_retention_days >= 7 && var.postgresql.backup_retention_days <= 35
    error_message = "postgresql.backup_retention_days must be between 7 and 35."
  }
  validation {
    condition     = var.postgresql.password_version >= 1
    error_message = "postgresql.password_version must be >= 1."
  }
}

variable "postgresql_allowed_ip_ranges" {
  description = "Firewall rule name -> {start, end}: the cluster's egress IPs allowed to reach PostgreSQL."
  type = map(object({
    start = string
    end   = string
  }))
  validation {
    condition     = alltrue([for r in values(var.postgresql_allowed_ip_ranges) : can(cidrhost("${r.start}/32", 0)) && can(cidrhost("${r.end}/32", 0))])
    error_message = "start and end must be IPv4 addresses."
  }
}

variable "secret_expiration_date" {
  description = "RFC 3339 expiry of the Key Vault secrets this module writes (the MLflow database login)."
  type        = string
  validation {
    condition     = can(formatdate("YYYY", var.secret_expiration_date))
    error_message = "secret_expiration_date must be an RFC 3339 timestamp such as 2027-12-31T00:00:00Z."
  }
}

variable "platform_image_tag" {
  description = "Tag of the platform images in ACR the first install uses (the model-serving workflow sets it afterwards)."
  type        = string
  validation {
    condition     = can(regex("^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$", var.platform_image_tag))
    error_message = "platform_image_tag must be a valid image tag."
  }
}

variable "model_versions" {
  description = "Model versions of the staging and production tracks at first install (the model-deploy and rollback workflows move them afterwards); each must already be published."
  type = object({
    staging    = string
    production = string
  })
  validation {
    condition     = can(regex("^[1-9][0-9]*$", var.model_versions.staging)) && can(regex("^[1-9][0-9]*$", var.model_versions.production))
    error_message = "model_versions.staging and .production must be positive integers (as strings)."
  }
}
