"""A Gitea emulator: Gitea's REST shapes and status codes over real bare git repositories."""
