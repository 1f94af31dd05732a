"""Every write goes through here: check (validate and ask the policy), then do (write and audit)."""
