"""精准营销 · precision marketing, the pure part: themed lists, prospect and first-loan rules,
the admission pre-screen, expected value, allocation and the feedback metrics (no I/O)."""
