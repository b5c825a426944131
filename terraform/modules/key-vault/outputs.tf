output "id" {
  description = "Resource id of the vault."
  value       = azurerm_key_vault.this.id
}

output "vault_uri" {
  description = "https URI of the vault (External Secrets' ClusterSecretStore points at it)."
  value       = azurerm_key_vault.this.vault_uri
}

output "secrets_officer_assignment_id" {
  description = "Role assignment that lets Terraform write secrets (depend on it before writing one)."
  value       = azurerm_role_assignment.deployer_secrets_officer.id
}
