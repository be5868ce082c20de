"""The local runtime: embedded DynamoDB, the stream poller and `chalice local`, in one process."""
