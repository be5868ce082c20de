"""Bearer tokens: issuing (dev and servers) and verifying (the authorizer)."""
