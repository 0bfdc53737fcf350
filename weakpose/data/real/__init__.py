"""Converters of the real datasets into the canonical format: the `prepare` CLI, `h36m` (+ `h36m_cameras`),
`mpi3dhp`, `mpii`, `mqc` (data-formats.md)."""
