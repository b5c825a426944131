output "platform_values_yaml" {
  description = "The values Terraform wires into the spam-platform release (no secret): the workflows pass it to helm upgrade as a values file after values/<environment>.yaml."
  value       = yamlencode(local.platform_values)
}

output "mlflow_tracking_uri" {
  description = "In-cluster MLflow tracking URI."
  value       = local.platform_values.global.mlflow.trackingUri
}

output "postgresql_fqdn" {
  description = "Host of MLflow's PostgreSQL server."
  value       = module.postgresql.fqdn
}

output "arc_runner_scale_set_name" {
  description = "runs-on label of the in-cluster runners."
  value       = helm_release.arc_runner_set.name
}
