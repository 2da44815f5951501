"""CLI subcommands: each module parses options, calls the library, and prints; ``options`` declares the
options several commands share."""
