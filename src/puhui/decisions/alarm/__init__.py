"""贷后预警 · post-loan early warning, the pure part: the signal library (YAML), monitoring and
veto indicators, levels red/orange/yellow/blue, dedup, escalation and learning from defaults."""
