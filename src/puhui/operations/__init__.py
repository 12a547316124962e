"""Running puhui inside a bank (运维): scheduled jobs, retention and erasure, backup and
restore of the operational store, key rotation, and the exit codes outside schedulers read."""
