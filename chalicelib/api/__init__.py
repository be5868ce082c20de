"""HTTP surfaces: the native API and the seed dialects, each a translator over the domain."""
