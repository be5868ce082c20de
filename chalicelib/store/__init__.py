"""Storage: one module per DynamoDB table, each a PynamoDB model plus the queries on it."""
