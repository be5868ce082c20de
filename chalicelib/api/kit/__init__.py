"""The kit every surface (the native API and each dialect) is built from: route groups, query parsers,
times, shared models, dialect error codes, plain text and directory look-ups. It imports no surface."""
