"""贷后预警 · the daily scan service, warnings with evidence, tasks for account managers,
disposal, escalation of overdue tasks, notifications."""
