"""CLI subcommands: each module parses options, calls the library, and prints."""
