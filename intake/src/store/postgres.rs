//! PostgreSQL (written next).
