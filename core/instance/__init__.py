"""The running orch as one instance: the lease that makes it the only one on a database."""
