"""AOS ingest sidecar: the AWS Lambda handler that repairs schema-drifted invoices."""
