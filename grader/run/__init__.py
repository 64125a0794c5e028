"""The untrusted phase: the sandbox, the step runner, the per-task steps, and their orchestration."""
