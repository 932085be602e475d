"""Dashboard operators: accounts, sessions, project membership and login throttling."""
