"""Identity adapters: password hashing (argon2id) and access tokens (JWT)."""
