# Remote state in an Azure Storage container, authenticated with Entra ID (no storage key).
# The values differ per installation: pass them at init, e.g.
#   terraform init -backend-config=backend.hcl        (see backend.hcl.example)
# This state holds the Redis access key (an attribute of the cache resource): restrict the
# state container to the deployers.
terraform {
  backend "azurerm" {}
}
