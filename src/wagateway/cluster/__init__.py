"""Several nodes on one database (CONTRACT §9): which nodes are live, and the checks that keep
a misconfigured one from joining (a key that does not match the database's, a cloned data
dir)."""
