"""`aos`, the operator's command: drift report, dead-letter redrive, local runner."""
