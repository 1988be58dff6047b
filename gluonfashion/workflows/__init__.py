"""End-to-end flows that the CLI verbs call: one module per task family."""
