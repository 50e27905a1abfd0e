"""Storage: plain SQL through asyncpg, one module per table family. No ORM."""
