"""berth: a self-hostable container registry that speaks the Amazon ECR Public API."""
