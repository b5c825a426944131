output "client_id" {
  description = "Client id the ServiceAccount annotation azure.workload.identity/client-id carries."
  value       = azurerm_user_assigned_identity.this.client_id
}

output "principal_id" {
  description = "Object id of the identity's service principal."
  value       = azurerm_user_assigned_identity.this.principal_id
}

output "subjects" {
  description = "Federated subjects (system:serviceaccount:<namespace>:<name>)."
  value       = [for c in azurerm_federated_identity_credential.this : c.subject]
}
