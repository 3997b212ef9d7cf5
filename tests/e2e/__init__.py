"""End-to-end tests: HTTP against a real `payledger serve` process."""
