# Remote state in an Azure Storage container, authenticated with Entra ID (no storage key):
#   terraform init -backend-config=backend.hcl        (see backend.hcl.example)
# Nothing secret is written here: the MLflow database password is ephemeral and write-only, and
# every Kubernetes Secret is synced from Key Vault by External Secrets inside the cluster.
terraform {
  backend "azurerm" {}
}
