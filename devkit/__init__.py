"""Development harness shared by tests/ and bench/ (never shipped): the central platform and a throwaway
PostgreSQL cluster as child processes, free loopback ports, key material made on the spot."""
