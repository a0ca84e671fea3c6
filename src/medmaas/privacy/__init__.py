"""Privacy: removing identifiers before data is stored or used (text de-identification)."""
